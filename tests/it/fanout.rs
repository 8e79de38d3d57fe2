//! Issue 12 "Safe on the open internet", fan-out: a message to many recipients meets the
//! server's recipient limit (Postfix's `smtpd_recipient_limit`, answered with `452 4.5.3
//! Error: too many recipients`) and must still reach everyone; a message that cannot be
//! delivered is given up after `smtp.max_age_hours` and shown by `buzon failed`.

use std::time::Duration;

use sqlx::Connection;

use crate::support::*;

/// The Postfix log's `nrcpt=` of every message buzon's support address handed over.
fn transactions(server: &MailServer, support: &str) -> Vec<usize> {
    let log = std::fs::read_to_string(server.dir.join("log/postfix.log")).unwrap_or_default();
    let mut counts: Vec<usize> = log
        .lines()
        .filter(|l| l.contains(&format!("from=<{support}>")))
        .filter_map(|l| l.split("nrcpt=").nth(1)?.split(' ').next()?.parse().ok())
        .collect();
    counts.sort_unstable();
    counts
}

/// 12 agents besides the configured one: the new-case notice has 13 recipients, which the
/// server (`limit`) or buzon (`max_recipients`) cuts into transactions of `expected` sizes.
async fn notice_to_thirteen(test: &str, limit: &str, smtp_extra: &str, expected: &[usize]) {
    let server = PrivateServer::start_with(&[("MAILTEST_RECIPIENT_LIMIT", limit)]);
    let mut desk = Desk::with(
        test,
        DeskOptions {
            server: Some(server.0.clone()),
            smtp_extra: smtp_extra.into(),
            ..DeskOptions::default()
        },
    )
    .await;
    let mut agents = vec![desk.names.addr("agente")];
    for n in 0..12 {
        let agent = desk.names.addr(&format!("agente{n}"));
        desk.store().add_agent(&agent, None).await.unwrap();
        agents.push(agent);
    }
    let customer = desk.names.addr("ana");
    desk.customer(&customer, None).await;
    let support = desk.names.support();
    let mail = plain_mail(
        &customer,
        &support,
        "Muchos",
        &format!("{test}@cliente.test"),
        "x",
    );
    append_on(&server.0, &support, &mail).await;
    desk.start();
    for agent in &agents {
        let got = wait_for_mail_on(&server.0, agent, 1, Duration::from_secs(30)).await;
        assert_eq!(got.len(), 1, "{agent} got the notice once");
    }
    wait_for_mail_on(&server.0, &customer, 1, Duration::from_secs(30)).await;
    server.0.postfix_delivered(Duration::from_secs(30)).await;
    desk.stop().await;
    let outbox = desk.store().outbox_counts().await.unwrap();
    assert_eq!(
        outbox,
        vec![("sent".to_string(), 2)],
        "notice and acknowledgement sent"
    );
    // The acknowledgement (one recipient) and the notice's transactions.
    let mut want = expected.to_vec();
    want.push(1);
    want.sort_unstable();
    assert_eq!(transactions(&server.0, &support), want);
}

/// Postfix takes 5 recipients per transaction and answers 452 to the sixth: buzon sends
/// to the five, then the rest in further transactions (RFC 5321 4.5.3.1.10).
#[tokio::test(flavor = "multi_thread")]
async fn a_452_too_many_recipients_is_sent_in_further_transactions() {
    notice_to_thirteen("fanout-452", "5", "", &[3, 5, 5]).await;
}

/// `smtp.max_recipients = 4`: buzon itself never puts more than 4 in one transaction.
#[tokio::test(flavor = "multi_thread")]
async fn max_recipients_splits_a_message_into_transactions() {
    notice_to_thirteen("fanout-max", "1000", "max_recipients = 4\n", &[1, 4, 4, 4]).await;
}

/// SMTP is down for longer than `smtp.max_age_hours`: the messages stop being retried and
/// `buzon failed` lists them, with the reason.
#[tokio::test(flavor = "multi_thread")]
async fn a_message_undelivered_past_max_age_is_given_up_and_listed() {
    let server = PrivateServer::start();
    let mut desk = Desk::with(
        "max-age",
        DeskOptions {
            server: Some(server.0.clone()),
            smtp_extra: "max_age_hours = 1\n".into(),
            ..DeskOptions::default()
        },
    )
    .await;
    let customer = desk.names.addr("ana");
    desk.customer(&customer, None).await;
    let support = desk.names.support();
    server.control("stop-smtp");
    let mail = plain_mail(
        &customer,
        &support,
        "Sin salida",
        "max-age@cliente.test",
        "x",
    );
    append_on(&server.0, &support, &mail).await;
    desk.start();
    eventually("both mails deferred once", || async {
        let pending = desk.store().outbox_by_state("pending").await.unwrap();
        pending.len() == 2 && pending.iter().all(|j| j.last_error.is_some())
    })
    .await;
    // Queued two hours ago, as far as buzon can tell.
    let mut db = sqlx::SqliteConnection::connect(&desk.config().database_url)
        .await
        .unwrap();
    sqlx::query("UPDATE outbox SET created_at = created_at - 7200000")
        .execute(&mut db)
        .await
        .unwrap();
    eventually("both given up", || async {
        desk.store().outbox_by_state("failed").await.unwrap().len() == 2
    })
    .await;
    desk.stop().await;
    let failed = desk.cli(&["failed"]);
    let listed = String::from_utf8_lossy(&failed.stdout);
    assert_eq!(
        listed.matches("gave up after 1 hours").count(),
        2,
        "{listed}"
    );
    assert!(listed.contains(&customer), "{listed}");
}

/// A customer of a provisioned organisation Cc's 30 colleagues: the first 20 become
/// participants (`limits.max_participants_per_mail`), the other 10 are named on the case's
/// history; the agent's answer then goes to the requester and all 20, and to no one else.
#[tokio::test(flavor = "multi_thread")]
async fn cc_to_thirty_colleagues_adds_twenty_and_names_the_rest() {
    let server = PrivateServer::start_with(&[("MAILTEST_DOMAINS", "example.test cliente.test")]);
    let mut desk = Desk::with(
        "fanout-cc",
        DeskOptions {
            server: Some(server.0.clone()),
            ..DeskOptions::default()
        },
    )
    .await;
    desk.store().add_org("cliente.test", None).await.unwrap();
    let tag = desk.names.tag.clone();
    let requester = format!("ana-{tag}@cliente.test");
    let colleagues: Vec<String> = (0..30)
        .map(|n| format!("c{n}-{tag}@cliente.test"))
        .collect();
    let support = desk.names.support();
    let mail = String::from_utf8(plain_mail(
        &requester,
        &support,
        "Todos",
        "cc@cliente.test",
        "x",
    ))
    .unwrap()
    .replacen(
        "Subject:",
        &format!("Cc: {}\r\nSubject:", colleagues.join(", ")),
        1,
    );
    append_on(&server.0, &support, mail.as_bytes()).await;
    desk.start();
    wait_for_mail_on(&server.0, &requester, 1, Duration::from_secs(30)).await;

    let case = &desk.store().cases(&Default::default()).await.unwrap()[0];
    let people = desk.store().case_participants(case.id).await.unwrap();
    assert_eq!(people.len(), 21, "the requester and 20 colleagues");
    let history = desk.store().case_emails(case.id).await.unwrap();
    let noted = history
        .iter()
        .find(|e| e.kind == "participants_limited")
        .and_then(|e| e.body_text.clone())
        .expect("the history names who was left out");
    for (n, colleague) in colleagues.iter().enumerate() {
        assert_eq!(
            noted.contains(colleague.as_str()),
            n >= 20,
            "{colleague}: {noted}"
        );
    }

    let agent = desk.names.addr("agente");
    let notice = wait_for_mail_on(&server.0, &agent, 1, Duration::from_secs(30)).await;
    let answer = reply_to(
        &notice[0],
        &agent,
        &support,
        "cc-answer@example.test",
        "Hecho.",
    );
    send_mail_via(&server.0, &agent, &[&support], &answer).await;
    for colleague in &colleagues[..20] {
        wait_for_mail_on(&server.0, colleague, 1, Duration::from_secs(30)).await;
    }
    server.0.postfix_delivered(Duration::from_secs(30)).await;
    desk.stop().await;
    for colleague in &colleagues[20..] {
        assert!(
            mailbox_on(&server.0, colleague).await.is_empty(),
            "{colleague}"
        );
    }
}

/// 30 answers from "the agent" on one case in a minute (a forged sender, or a loop): the
/// first 5 (`limits.relays_per_case_per_hour = 5`) reach the customer, the other 25 are
/// held — on the case's history, listed by `buzon failed` — and `buzon retry --outbox`
/// sends one of them.
#[tokio::test(flavor = "multi_thread")]
async fn agent_relays_past_the_hourly_limit_are_held_and_listed() {
    let mut desk = Desk::with_extra("relays", "[limits]\nrelays_per_case_per_hour = 5\n").await;
    let customer = desk.names.addr("ana");
    desk.customer(&customer, None).await;
    desk.write(
        &customer,
        "Respuestas",
        &format!("relays-{}@cliente.test", desk.names.tag),
        "x",
    )
    .await;
    desk.start();
    wait_for_mail(&customer, 1).await;
    let (agent, support) = (desk.names.addr("agente"), desk.names.support());
    let notice = wait_for_mail(&agent, 1).await.remove(0);
    for i in 0..30 {
        let id = format!("relay{i}-{}@example.test", desk.names.tag);
        let answer = reply_to(&notice, &agent, &support, &id, &format!("Respuesta {i}"));
        send_mail(&agent, &[&support], &answer).await;
    }
    let case = desk.store().cases(&Default::default()).await.unwrap()[0].id;
    eventually("30 answers recorded", || async {
        let history = desk.store().case_emails(case).await.unwrap();
        let out = |e: &&buzon::store::EmailRow| e.direction == "out" && e.kind == "agent_reply";
        history.iter().filter(out).count() == 30
    })
    .await;
    let held = desk.store().outbox_by_state("held").await.unwrap();
    assert_eq!(held.len(), 25, "past the limit, held");
    let listed = String::from_utf8_lossy(&desk.cli(&["failed"]).stdout).to_string();
    assert_eq!(
        listed.matches("held back by a limit").count(),
        25,
        "{listed}"
    );
    mail_server()
        .postfix_delivered(Duration::from_secs(30))
        .await;
    assert_eq!(
        mailbox(&customer).await.len(),
        6,
        "acknowledgement and 5 answers"
    );

    let retried = desk.cli(&["retry", &held[0].id.to_string(), "--outbox"]);
    assert!(retried.status.success(), "{retried:?}");
    // The running sender finds it at its next look at the outbox (within 30 s).
    wait_for_mail_on(mail_server(), &customer, 7, Duration::from_secs(45)).await;
    desk.stop().await;
}
