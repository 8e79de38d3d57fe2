//! SPEC.md "Agents work from their mail client", end to end through Postfix and Dovecot:
//! one thread per case in the agent's mailbox, and the customer's files attached as sent.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use crate::support::*;

/// The agents' mails of one case, read from the agent's mailbox: (Message-ID, In-Reply-To,
/// References) each.
type Thread = Vec<(String, String, Vec<String>)>;

fn threads_by_case(mails: &[Vec<u8>]) -> HashMap<String, Thread> {
    let mut by_case: HashMap<String, Thread> = HashMap::new();
    for raw in mails {
        let case = header(raw, "X-Buzon-Case").expect("agents' mail names its case");
        let m = parsed(raw);
        assert_eq!(m.in_reply_to.len(), 1, "one parent: {:?}", m.in_reply_to);
        by_case.entry(case).or_default().push((
            m.message_id.clone().expect("Message-ID"),
            m.in_reply_to[0].clone(),
            m.references.clone(),
        ));
    }
    by_case
}

/// All of a case's mails name the same root first, and answer one another in a single
/// chain that starts at the root: the agent's client shows one conversation.
fn assert_one_chain(case: &str, thread: &Thread) -> String {
    let root = thread[0].2[0].clone();
    let mut parent_of: HashMap<&str, &str> = HashMap::new();
    for (id, parent, refs) in thread {
        assert_eq!(
            refs[0], root,
            "case {case}: every mail names the root first"
        );
        assert_eq!(
            refs.last(),
            Some(parent),
            "case {case}: parent last in References"
        );
        parent_of.insert(parent.as_str(), id.as_str());
    }
    assert_eq!(
        parent_of.len(),
        thread.len(),
        "case {case}: no two mails share a parent"
    );
    let (mut at, mut walked) = (root.as_str(), 0);
    while let Some(child) = parent_of.get(at) {
        (at, walked) = (child, walked + 1);
    }
    assert_eq!(walked, thread.len(), "case {case}: one chain from the root");
    root
}

fn ack_of<'a>(acks: &'a [Vec<u8>], subject: &str) -> &'a [u8] {
    acks.iter()
        .find(|a| parsed(a).subject.ends_with(subject))
        .expect("acknowledgement")
}

/// A running desk with one provisioned customer, Carla, and the addresses the tests use.
struct Started {
    desk: Desk,
    carla: String,
    support: String,
    agent: String,
}

async fn started(mut desk: Desk) -> Started {
    let (carla, support, agent) = (
        desk.names.addr("carla"),
        desk.names.support(),
        desk.names.addr("agente"),
    );
    desk.customer(&carla, None).await;
    desk.start();
    Started {
        desk,
        carla,
        support,
        agent,
    }
}

#[tokio::test]
async fn each_case_is_one_thread_in_the_agents_mailbox() {
    let Started {
        mut desk,
        carla,
        support,
        agent,
    } = started(Desk::new("agthread").await).await;
    desk.write(&carla, "Uno", "uno@cliente.test", "Falla uno.")
        .await;
    wait_for_mail(&agent, 1).await;
    desk.write(&carla, "Dos", "dos@cliente.test", "Falla dos.")
        .await;
    let acks = wait_for_mail(&carla, 2).await;
    wait_for_mail(&agent, 2).await;
    let replies = [
        ("Uno", "r1@cliente.test"),
        ("Dos", "r2@cliente.test"),
        ("Uno", "r3@cliente.test"),
    ];
    for (n, (subject, id)) in replies.iter().enumerate() {
        let text = if n == 2 {
            "Severidad: 1\nMás datos."
        } else {
            "Más datos."
        };
        let reply = reply_to(ack_of(&acks, subject), &carla, &support, id, text);
        send_mail(&carla, &[&support], &reply).await;
        wait_for_mail(&agent, 3 + n).await;
    }
    desk.stop().await;

    let mails = wait_for_mail(&agent, 5).await;
    let threads = threads_by_case(&mails);
    assert_eq!(threads["1"].len(), 3, "new case and two comments");
    assert_eq!(threads["2"].len(), 2, "new case and one comment");
    let one = assert_one_chain("1", &threads["1"]);
    let two = assert_one_chain("2", &threads["2"]);
    assert_ne!(one, two, "cases do not mix");
    assert!(one.starts_with("buzon.1.thread.") && two.starts_with("buzon.2.thread."));

    let raised = parsed(mails.last().unwrap());
    assert!(
        raised
            .text
            .contains("Cambios que ha hecho el cliente:\n  - severidad: 3 (menor) → 1 (crítica)"),
        "a change is told in Spanish: {}",
        raised.text
    );

    let index = mutt_thread_view(&mails);
    // One line a mail, numbered; mutt leaves out a subject its parent already shows.
    let lines: Vec<&str> = index
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .next()
                .is_some_and(|n| n.parse::<u32>().is_ok())
        })
        .collect();
    let roots: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| !l.contains("->"))
        .collect();
    assert_eq!(lines.len(), 5, "{index}");
    assert_eq!(roots.len(), 2, "one thread per case in mutt:\n{index}");
    assert!(
        roots[0].contains("[Caso #1]") && roots[1].contains("[Caso #2]"),
        "{index}"
    );
    assert!(
        lines[1..3].iter().all(|l| l.contains("->")),
        "case 1's mails under it:\n{index}"
    );
}

/// The agent's mails in a maildir, opened by a real mutt in tmux in thread view: its index
/// as the agent sees it (one line a mail, `` `-> `` for a mail under another).
fn mutt_thread_view(mails: &[Vec<u8>]) -> String {
    use std::process::Command;
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("agente");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    for (i, raw) in mails.iter().enumerate() {
        std::fs::write(maildir.join("cur").join(format!("{i}.eml:2,S")), raw).unwrap();
    }
    let rc = dir.path().join("muttrc");
    let settings = format!(
        "set folder={}\nset sort=threads\nset sort_aux=date-sent\nset ascii_chars=yes\nset index_format=\"%4C %s\"\n",
        dir.path().display()
    );
    std::fs::write(&rc, settings).unwrap();
    let session = format!("buzon-mutt-{}", std::process::id());
    let mutt = format!(
        "env TERM=xterm LANG=C.UTF-8 mutt -n -F {} -f {}",
        rc.display(),
        maildir.display()
    );
    let tmux = |args: &[&str]| {
        Command::new("tmux")
            .args(args)
            .output()
            .expect("tmux (scripts/install-deps.sh)")
    };
    assert!(tmux(&[
        "new-session",
        "-d",
        "-s",
        &session,
        "-x",
        "120",
        "-y",
        "20",
        &mutt
    ])
    .status
    .success());
    let mut screen = String::new();
    for _ in 0..50 {
        std::thread::sleep(std::time::Duration::from_millis(100));
        screen =
            String::from_utf8_lossy(&tmux(&["capture-pane", "-p", "-t", &session]).stdout).into();
        if screen.contains("Msgs:5") {
            break;
        }
    }
    tmux(&["kill-session", "-t", &session]);
    assert!(
        screen.contains("Msgs:5"),
        "mutt did not open the mailbox:\n{screen}"
    );
    screen
}

/// A customer's mail with a PDF and a PNG, as a mail client builds it.
fn mail_with_files(from: &str, to: &str, files: &[(&str, &str, &[u8])]) -> Vec<u8> {
    use base64::Engine;
    let mut raw = format!(
        "From: {from}\r\nTo: {to}\r\nSubject: Con adjuntos\r\nMessage-ID: <files@cliente.test>\r\nDate: Sat, 28 Nov 2026 12:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"ZZ\"\r\n\r\n--ZZ\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nVan el informe y la captura.\r\n"
    );
    for (name, content_type, bytes) in files {
        let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
        raw.push_str(&format!(
            "--ZZ\r\nContent-Type: {content_type}; name=\"{name}\"\r\nContent-Disposition: attachment; filename=\"{name}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{encoded}\r\n"
        ));
    }
    raw.push_str("--ZZ--\r\n");
    raw.into_bytes()
}

fn digest(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The agent's notification of the new case opened by a PDF and a PNG, under `budget`.
async fn notification_of_files(test: &str, budget: Option<u64>) -> (Vec<u8>, [Vec<u8>; 2]) {
    let options = DeskOptions {
        agents_extra: budget.map_or(String::new(), |b| format!("attach_max_bytes = {b}")),
        ..Default::default()
    };
    let Started {
        mut desk,
        carla,
        support,
        ..
    } = started(Desk::with(test, options).await).await;
    let pdf: Vec<u8> = b"%PDF-1.4\n"
        .iter()
        .copied()
        .chain((0..6000).map(|i| (i * 7 % 251) as u8))
        .collect();
    let png: Vec<u8> = b"\x89PNG\r\n\x1a\n"
        .iter()
        .copied()
        .chain((0..1500).map(|i| (i % 256) as u8))
        .collect();
    let files = [
        ("informe.pdf", "application/pdf", &pdf[..]),
        ("captura.png", "image/png", &png[..]),
    ];
    send_mail(
        &carla,
        &[&support],
        &mail_with_files(&carla, &support, &files),
    )
    .await;
    let note = wait_for_mail(&desk.names.addr("agente"), 1).await.remove(0);
    desk.stop().await;
    (note, [pdf, png])
}

#[tokio::test]
async fn the_customers_files_travel_with_the_notification() {
    let (note, [pdf, png]) = notification_of_files("agfiles", None).await;
    let m = parsed(&note);
    let got: Vec<(&str, &str, String)> = m
        .attachments
        .iter()
        .map(|a| {
            (
                a.filename.as_str(),
                a.content_type.as_str(),
                digest(&a.bytes),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("informe.pdf", "application/pdf", digest(&pdf)),
            ("captura.png", "image/png", digest(&png)),
        ]
    );
    assert!(!m.text.contains("agents.attach_max_bytes"), "{}", m.text);
}

#[tokio::test]
async fn files_past_the_budget_are_listed_with_the_command_that_fetches_them() {
    let (note, [_, png]) = notification_of_files("agbudget", Some(4000)).await;
    let m = parsed(&note);
    let names: Vec<&str> = m.attachments.iter().map(|a| a.filename.as_str()).collect();
    assert_eq!(names, ["captura.png"], "the PNG fits, the PDF does not");
    assert_eq!(digest(&m.attachments[0].bytes), digest(&png));
    assert!(
        m.text.contains("informe.pdf (6009 bytes)") && m.text.contains("\"buzon case 1\""),
        "{}",
        m.text
    );
}

/// The agents read what happened, in Spanish only: a customer's `cerrar` is a close by the
/// customer, not "Comentario de Carla" with an English status; a new case written on the
/// closed one names it; and no mail the customer gets carries the agent's own address.
#[tokio::test]
async fn closing_and_reopening_are_announced_as_such_and_the_agent_stays_private() {
    let Started {
        mut desk,
        carla,
        support,
        agent,
    } = started(Desk::new("agclose").await).await;
    desk.write(
        &carla,
        "No arranca",
        "c1@cliente.test",
        "Severidad: 1\nNo arranca.",
    )
    .await;
    let ack = wait_for_mail(&carla, 1).await.remove(0);
    desk.agent_answers("a1@example.test", "Pruebe a reiniciar el conector.")
        .await;
    wait_for_mail(&carla, 2).await;
    let close = reply_to(
        &ack,
        &carla,
        &support,
        "c2@cliente.test",
        "Ya funciona.\ncerrar",
    );
    send_mail(&carla, &[&support], &close).await;
    wait_for_mail(&agent, 2).await;
    wait_for_mail(&carla, 3).await;
    let again = reply_to(
        &ack,
        &carla,
        &support,
        "c3@cliente.test",
        "Ahora falla la exportación.",
    );
    send_mail(&carla, &[&support], &again).await;
    let notes = wait_for_mail(&agent, 3).await;
    let customers = wait_for_mail(&carla, 4).await;
    desk.stop().await;

    let closed = parsed(&notes[1]);
    assert!(
        closed
            .subject
            .starts_with("[Caso #1] Cerrado por el cliente"),
        "{}",
        closed.subject
    );
    assert!(
        closed
            .text
            .contains("ha cerrado el Caso #1 (severidad 1, crítica)"),
        "{}",
        closed.text
    );
    for english in ["closed", "open", "critical", "severity"] {
        assert!(!closed.text.contains(english), "{english}: {}", closed.text);
    }
    let follow_up = parsed(&notes[2]);
    assert!(
        follow_up
            .subject
            .starts_with("[Caso #2] Nuevo caso (relacionado con el Caso #1)"),
        "{}",
        follow_up.subject
    );
    assert!(
        follow_up.references[0].starts_with("buzon.2.thread."),
        "the new case is a thread of its own: {:?}",
        follow_up.references
    );
    for mail in &customers {
        let text = String::from_utf8_lossy(mail);
        assert!(
            !text.contains(&agent),
            "agent's address reached the customer: {text}"
        );
    }
}
