//! SPEC.md "Agents work from their mail client", items 4 and 5 of issue 16, end to end
//! through Postfix and Dovecot: an agent's requests to the support address (the desk's
//! lists, one case) and the commands in an agent's reply (take, assign, release, waiting,
//! merge), with the owner first in notifications.

use crate::support::*;

/// Our receiving server's authserv-id in these tests: an agent's new mail carries its pass.
const SECURITY: &str = "[security]\nauthserv_id = \"mx.soporte.test\"\n";

/// A running desk with Carla, a customer, and the agent, whose new mails our server
/// authenticates.
struct Started {
    desk: Desk,
    carla: String,
    support: String,
    agent: String,
}

async fn started(test: &str, db: Db, agents_extra: &str) -> Started {
    let options = DeskOptions {
        db,
        extra: SECURITY.into(),
        agents_extra: agents_extra.into(),
        ..Default::default()
    };
    let mut desk = Desk::with(test, options).await;
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

/// A new mail from `from` with our server's DMARC pass for example.test (or none).
fn new_mail(from: &str, to: &str, subject: &str, id: &str, authenticated: bool) -> Vec<u8> {
    let mut raw = plain_mail(from, to, subject, id, "Gracias");
    if authenticated {
        let ar =
            b"Authentication-Results: mx.soporte.test; dmarc=pass header.from=example.test\r\n";
        raw.splice(0..0, ar.iter().copied());
    }
    raw
}

/// The mails of `user` whose subject contains `words`, once there are `count` of them.
async fn mails_about(user: &str, words: &str, count: usize) -> Vec<Vec<u8>> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let found: Vec<Vec<u8>> = mailbox(user)
            .await
            .into_iter()
            .filter(|m| parsed(m).subject.contains(words))
            .collect();
        if found.len() >= count {
            return found;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{user}: {} of {count} mails '{words}'",
            found.len()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// No mail a customer got names an agent's address.
fn assert_private(customer_mails: &[Vec<u8>], agents: &[&str]) {
    for mail in customer_mails {
        let text = String::from_utf8_lossy(mail);
        for agent in agents {
            assert!(!text.contains(agent), "{agent} reached a customer: {text}");
        }
    }
}

#[tokio::test]
async fn open_cases_most_urgent_first_for_agents_only() {
    let Started {
        mut desk,
        carla,
        support,
        agent,
    } = started("agcmdlist", Db::Sqlite, "").await;
    desk.write(
        &carla,
        "Informe lento",
        "l1@cliente.test",
        "Severidad: 3\nLento.",
    )
    .await;
    desk.write(
        &carla,
        "Producción caída en EU",
        "l2@cliente.test",
        "Todo parado.",
    )
    .await;
    desk.write(
        &carla,
        "Error al exportar",
        "l3@cliente.test",
        "Severidad: 2\nFalla.",
    )
    .await;
    wait_for_mail(&agent, 3).await;
    let ask = new_mail(&agent, &support, "casos abiertos", "q1@example.test", true);
    send_mail(&agent, &[&support], &ask).await;
    let list = parsed(&mails_about(&agent, "Casos abiertos", 1).await[0]);
    assert_eq!(list.subject, "Casos abiertos: 3");
    let order: Vec<usize> = ["#2 ", "#3 ", "#1 "]
        .iter()
        .map(|n| {
            list.text
                .find(n)
                .unwrap_or_else(|| panic!("{n}: {}", list.text))
        })
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{}", list.text);
    assert!(list.text.contains("dueño: sin asignar"), "{}", list.text);
    assert!(list.text.contains("SLA: —"), "{}", list.text);

    // A customer asking the same gets what customers get (a new case), never the list.
    desk.write(&carla, "casos abiertos", "q2@cliente.test", "Gracias")
        .await;
    let carla_mails = wait_for_mail(&carla, 4).await;
    let answer = parsed(carla_mails.last().unwrap());
    assert!(
        answer.subject.starts_with("[Caso #4]"),
        "{}",
        answer.subject
    );
    assert!(
        !answer.text.contains("Producción caída en EU"),
        "{}",
        answer.text
    );

    // A forged From: with the agent's address and no proof: held, nothing answered.
    let mallory = desk.names.addr("mallory");
    let forged = String::from_utf8(new_mail(
        &agent,
        &support,
        "sin asignar",
        "f1@x.test",
        false,
    ))
    .unwrap()
    .replacen("\r\n\r\n", &format!("\r\nReply-To: {mallory}\r\n\r\n"), 1);
    send_mail(&mallory, &[&support], forged.as_bytes()).await;
    mails_about(&agent, "retenido", 1).await;
    assert!(
        mails_about(&agent, "sin asignar", 0).await.is_empty(),
        "the forged request was answered"
    );
    // An admin who knows better vouches for it: answered then, to the agent's own address.
    let failed = String::from_utf8(desk.cli(&["failed"]).stdout).unwrap();
    let id = failed
        .lines()
        .find(|l| l.contains("no proof that this request"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or_else(|| panic!("{failed}"))
        .to_string();
    assert!(desk.cli(&["retry", &id]).status.success());
    mails_about(&agent, "Casos sin asignar: 4", 1).await;
    desk.stop().await;
    assert!(mailbox(&mallory).await.is_empty(), "the forger got mail");
    assert_private(&carla_mails, &[&agent]);
}

#[tokio::test]
async fn take_assign_release_and_waiting_from_a_reply() {
    let Started {
        mut desk,
        carla,
        support,
        agent,
    } = started("agcmdown", Db::Sqlite, "notify_owner_only = true").await;
    let luis = desk.names.addr("luis");
    desk.store()
        .add_agent(&luis, Some("Luis Pardo"))
        .await
        .unwrap();
    desk.write(&carla, "No sincroniza", "o1@cliente.test", "No sincroniza.")
        .await;
    wait_for_mail(&luis, 1).await;
    desk.agent_answers("o2@example.test", "Lo miro yo hoy.\nTomar")
        .await;
    let relayed = parsed(&wait_for_mail(&carla, 2).await[1]);
    assert!(relayed.text.contains("Lo miro yo hoy."), "{}", relayed.text);
    assert!(!relayed.text.contains("Tomar"), "{}", relayed.text);
    let card = parsed(&mails_about(&agent, "ha tomado el caso", 1).await[0]);
    assert!(
        card.text.contains(&format!("Dueño:      {agent}")),
        "{}",
        card.text
    );
    let taken = mails_about(&agent, "ha tomado el caso", 1).await.remove(0);
    let wrong = reply_to(
        &taken,
        &agent,
        &support,
        "o2b@example.test",
        "Asignar: nadie@otro.test",
    );
    send_mail(&agent, &[&support], &wrong).await;
    let refused = parsed(&mails_about(&agent, "Orden no aplicada", 1).await[0]);
    assert!(
        refused.text.contains("\"nadie@otro.test\" no es un agente"),
        "{}",
        refused.text
    );

    // Owned: the customer's comment goes to the owner alone (notify_owner_only).
    let ack = wait_for_mail(&carla, 1).await.remove(0);
    let comment = reply_to(
        &ack,
        &carla,
        &support,
        "o3@cliente.test",
        "Adjunto más datos.",
    );
    send_mail(&carla, &[&support], &comment).await;
    let note = parsed(&mails_about(&agent, "Comentario de", 1).await[0]);
    assert!(
        note.text.contains(&format!("Dueño del caso: {agent}")),
        "{}",
        note.text
    );
    let to_luis = mailbox(&luis).await;
    assert!(
        to_luis
            .iter()
            .all(|m| !parsed(m).subject.contains("Comentario de")),
        "notify_owner_only"
    );

    let mine = new_mail(&agent, &support, "mis casos", "o4@example.test", true);
    send_mail(&agent, &[&support], &mine).await;
    let listed = parsed(&mails_about(&agent, "Mis casos", 1).await[0]);
    assert!(
        listed.subject.ends_with(": 1") && listed.text.contains("#1 "),
        "{}",
        listed.text
    );

    let notice = mails_about(&agent, "ha tomado el caso", 1).await.remove(0);
    let handover = reply_to(
        &notice,
        &agent,
        &support,
        "o5@example.test",
        &format!("Asignar: Luis <{luis}>\nEsperando cliente"),
    );
    send_mail(&agent, &[&support], &handover).await;
    let assigned = parsed(&mails_about(&luis, "ha asignado el caso", 1).await[0]);
    assert!(assigned.text.contains("Luis Pardo"), "{}", assigned.text);
    eventually("waiting and owned by Luis", || async {
        let case = desk.store().case_by_number(1).await.unwrap().unwrap();
        case.owner.as_deref() == Some(luis.as_str()) && case.waiting_since.is_some()
    })
    .await;
    let release = reply_to(&notice, &agent, &support, "o6@example.test", "Soltar");
    send_mail(&agent, &[&support], &release).await;
    mails_about(&agent, "ha soltado el caso", 1).await;
    desk.stop().await;
    let shown = String::from_utf8(desk.cli(&["case", "1"]).stdout).unwrap();
    assert!(
        shown.contains("owner:      -") && shown.contains("waiting:    on the customer since"),
        "{shown}"
    );
    // Neither the commands nor their notices reached the customer: the answer alone did.
    let carla_mails = mailbox(&carla).await;
    assert_eq!(carla_mails.len(), 2, "ack and the relayed answer");
    assert_private(&carla_mails, &[&agent, &luis]);
}

async fn merge_on(db: Db, test: &str) {
    let Started {
        mut desk,
        carla,
        support,
        agent,
    } = started(test, db, "").await;
    desk.write(
        &carla,
        "No arranca el conector",
        "m1@cliente.test",
        "No arranca.",
    )
    .await;
    wait_for_mail(&agent, 1).await;
    let report = with_attachment(
        &plain_mail(
            &carla,
            &support,
            "El conector otra vez",
            "m2@cliente.test",
            "Va el registro.",
        ),
        "registro.txt",
        b"linea 1\nlinea 2\n",
    );
    send_mail(&carla, &[&support], &report).await;
    let second = mails_about(&agent, "[Caso #2]", 1).await.remove(0);
    let merge = reply_to(&second, &agent, &support, "m3@example.test", "Fusionar: #1");
    send_mail(&agent, &[&support], &merge).await;
    let told = parsed(&mails_about(&carla, "Unido al Caso #1", 1).await[0]);
    assert!(
        told.subject.starts_with("[Caso #2] Unido al Caso #1"),
        "{}",
        told.subject
    );
    assert!(told.text.contains("llegará al Caso #1"), "{}", told.text);

    // Later mail to #2 lands on #1.
    let acks = mails_about(&carla, "[Caso #2]", 1).await;
    let later = reply_to(
        &acks[0],
        &carla,
        &support,
        "m4@cliente.test",
        "¿Alguna novedad?",
    );
    send_mail(&carla, &[&support], &later).await;
    let landed = parsed(&mails_about(&agent, "Comentario de", 1).await[0]);
    assert!(
        landed.subject.starts_with("[Caso #1]"),
        "{}",
        landed.subject
    );

    // `caso #1` shows #2's history and file, with the command that fetches it.
    let ask = new_mail(&agent, &support, "caso #1", "m5@example.test", true);
    send_mail(&agent, &[&support], &ask).await;
    let view = parsed(&mails_about(&agent, "] Ficha del caso:", 1).await[0]);
    assert!(view.text.contains("Unidos:     Caso #2"), "{}", view.text);
    assert!(view.text.contains("Caso #2  caso nuevo"), "{}", view.text);
    assert!(
        view.text
            .contains("registro.txt (16 bytes), Caso #2: buzon email"),
        "{}",
        view.text
    );
    desk.stop().await;

    let two = desk.store().case_by_number(2).await.unwrap().unwrap();
    let one = desk.store().case_by_number(1).await.unwrap().unwrap();
    assert_eq!(two.status, buzon::domain::CaseStatus::Closed);
    assert_eq!(two.merged_into, Some(one.id));
    let shown = String::from_utf8(desk.cli(&["case", "2"]).stdout).unwrap();
    assert!(shown.contains("merged:     into case #1"), "{shown}");
    let merged_notices = mails_about(&carla, "Unido al Caso", 1).await;
    assert_eq!(merged_notices.len(), 1, "the customer is told once");
    assert_private(&mailbox(&carla).await, &[&agent]);
}

#[tokio::test]
async fn merge_moves_later_mail_and_keeps_history_reachable_sqlite() {
    merge_on(Db::Sqlite, "agmergesq").await;
}

#[tokio::test]
async fn merge_moves_later_mail_and_keeps_history_reachable_postgres() {
    merge_on(Db::Postgres, "agmergepg").await;
}
