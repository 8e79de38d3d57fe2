//! SPEC.md "Several mailboxes, several machines", mailboxes as queues, end to end through
//! the real Dovecot and Postfix: soporte@ (Spanish) and ventas@ (English) on one desk. A
//! case belongs to the mailbox it came in by and its mail goes out from there, in its
//! language, to its agents; a reply reaching the other mailbox still finds its case; a mail
//! to both makes one case that lists both addresses.

use crate::support::*;

/// soporte (Spanish, told to `agente`) and ventas (English, told to `ventas-agente`).
fn two_queues() -> Vec<Queue> {
    vec![
        Queue {
            name: "soporte",
            display_name: "Soporte Test",
            language: "es",
            products: &["Harmony", "API Manager"],
            agents: Some(&["agente"]),
        },
        Queue {
            name: "ventas",
            display_name: "Ventas",
            language: "en",
            products: &["Licencias"],
            agents: Some(&["ventas-agente"]),
        },
    ]
}

async fn two_mailbox_desk(test: &str, db: Db) -> Desk {
    Desk::with(
        test,
        DeskOptions {
            db,
            mailboxes: two_queues(),
            ..Default::default()
        },
    )
    .await
}

/// `buzon <args> --json`, parsed.
fn cli_json(desk: &Desk, args: &[&str]) -> serde_json::Value {
    let out = desk.cli(args);
    assert!(out.status.success(), "{args:?}: {out:?}");
    serde_json::from_slice(&out.stdout).expect("JSON")
}

async fn each_mailbox_is_a_queue(db: Db) {
    let mut desk = two_mailbox_desk("queues", db).await;
    let (soporte, ventas) = (desk.names.support(), desk.names.addr("ventas"));
    let customer = desk.names.addr("carla");
    desk.customer(&customer, None).await;
    desk.start();

    // One case in each mailbox: each acknowledged from its own address, in its language.
    let mail = plain_mail(&customer, &soporte, "No arranca", "q1@cliente.test", "Hola");
    send_mail(&customer, &[&soporte], &mail).await;
    let acks = wait_for_mail(&customer, 1).await;
    let mail = plain_mail(&customer, &ventas, "Licencias", "q2@cliente.test", "Hello");
    send_mail(&customer, &[&ventas], &mail).await;
    let acks = wait_for_mail(&customer, acks.len() + 1).await;
    let (es, en) = (&acks[0], &acks[1]);
    assert_eq!(parsed(es).subject, "[Caso #1] No arranca");
    assert_eq!(
        header(es, "From"),
        Some(format!("\"Soporte Test\" <{soporte}>"))
    );
    assert!(
        parsed(es).text.contains("Harmony, API Manager"),
        "{}",
        parsed(es).text
    );
    assert_eq!(parsed(en).subject, "[Case #2] Licencias");
    assert_eq!(header(en, "From"), Some(format!("\"Ventas\" <{ventas}>")));
    assert!(
        parsed(en).text.contains("Products: Licencias."),
        "{}",
        parsed(en).text
    );
    let ventas_domain_id = parsed(en).message_id.unwrap();
    assert!(
        ventas_domain_id.starts_with("buzon.2."),
        "{ventas_domain_id}"
    );

    // Each mailbox's agents hear of its cases, and only of those.
    let (agente, ventas_agente) = (desk.names.addr("agente"), desk.names.addr("ventas-agente"));
    let to_soporte = wait_for_mail(&agente, 1).await;
    let to_ventas = wait_for_mail(&ventas_agente, 1).await;
    assert!(parsed(&to_soporte[0]).subject.contains("[Caso #1]"));
    assert!(parsed(&to_ventas[0]).subject.contains("[Case #2] New case"));

    // The ventas agent answers from their client: relayed from ventas@, as "Ventas".
    let answer = reply_to(
        &to_ventas[0],
        &ventas_agente,
        &ventas,
        "va1@example.test",
        "Sí, se puede.",
    );
    send_mail(&ventas_agente, &[&ventas], &answer).await;
    let got = wait_for_mail(&customer, 3).await;
    let relayed = &got[2];
    assert_eq!(parsed(relayed).subject, "[Case #2] Licencias");
    assert!(header(relayed, "From")
        .unwrap()
        .ends_with(&format!("<{ventas}>")));

    // The customer answers ventas' acknowledgement, but to soporte@: still case #2, and
    // ventas' agent is told.
    let reply = reply_to(
        en,
        &customer,
        &soporte,
        "q2-re@cliente.test",
        "Y otra pregunta.",
    );
    send_mail(&customer, &[&soporte], &reply).await;
    let notices = wait_for_mail(&ventas_agente, 2).await;
    assert!(
        parsed(&notices[1]).subject.contains("[Case #2]"),
        "{}",
        parsed(&notices[1]).subject
    );
    let case = desk.store().case_by_number(2).await.unwrap().unwrap();
    assert_eq!(case.mailbox, "ventas");
    let history = desk.store().case_emails(case.id).await.unwrap();
    assert!(history
        .iter()
        .any(|e| e.message_id.as_deref() == Some("q2-re@cliente.test")));
    assert_eq!(
        wait_for_mail(&agente, 1).await.len(),
        1,
        "soporte's agent heard only of #1"
    );

    // `buzon cases --mailbox` and `buzon case N`.
    let listed = cli_json(&desk, &["cases", "--mailbox", "ventas", "--json"]);
    let numbers: Vec<i64> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["number"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, [2]);
    let shown = desk.cli(&["case", "2"]);
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(text.contains("  mailbox:    ventas"), "{text}");
    // Health has a line for each mailbox.
    let status = cli_json(&desk, &["status", "--json"]);
    let synced: Vec<&str> = status["mailboxes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["mailbox"].as_str().unwrap())
        .collect();
    assert_eq!(
        synced,
        [format!("{soporte}/INBOX"), format!("{ventas}/INBOX")]
    );
    desk.stop().await;
}

async fn a_mail_to_two_mailboxes_is_one_case_listing_both(db: Db) {
    let mut desk = two_mailbox_desk("both", db).await;
    let (soporte, ventas) = (desk.names.support(), desk.names.addr("ventas"));
    let customer = desk.names.addr("luis");
    desk.customer(&customer, None).await;
    desk.start();
    let mail = format!(
        "From: {customer}\r\nTo: {soporte}\r\nCc: {ventas}\r\nSubject: Presupuesto y fallo\r\nMessage-ID: <both@cliente.test>\r\nDate: Sat, 28 Nov 2026 12:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHola a los dos.\r\n"
    );
    send_mail(&customer, &[&soporte, &ventas], mail.as_bytes()).await;
    // Both copies fetched and applied: the second is a duplicate of the first.
    let counts = all_processed(&desk, 2).await;
    let counts: Vec<(&str, i64)> = counts.iter().map(|(s, n)| (s.as_str(), *n)).collect();
    assert_eq!(counts, [("done", 1), ("duplicate", 1)]);
    let acks = wait_for_mail(&customer, 1).await;
    desk.stop().await;
    assert_eq!(
        mailbox(&customer).await.len(),
        1,
        "one acknowledgement: {acks:?}"
    );
    let cases = desk.store().cases(&Default::default()).await.unwrap();
    assert_eq!(cases.len(), 1, "one case");
    let case = &cases[0];
    assert!(
        ["soporte", "ventas"].contains(&case.mailbox.as_str()),
        "{}",
        case.mailbox
    );
    let mut both = vec![soporte.clone(), ventas.clone()];
    both.sort();
    assert_eq!(desk.store().case_addresses(case.id).await.unwrap(), both);
    let shown = cli_json(&desk, &["case", "1", "--json"]);
    assert_eq!(shown["addresses"], serde_json::json!(both));
    // The acknowledgement comes from the mailbox that took the mail first.
    let from = header(&acks[0], "From").unwrap();
    let winner = desk.names.addr(&case.mailbox);
    assert!(from.ends_with(&format!("<{winner}>")), "{from}");
}

/// The configuration every desk had before mailboxes: one `[imap]` section is the mailbox
/// `default`, and its cases are listed under that name.
async fn an_imap_section_is_the_default_mailbox(db: Db) {
    let mut desk = Desk::with(
        "default",
        DeskOptions {
            db,
            ..Default::default()
        },
    )
    .await;
    let text = std::fs::read_to_string(&desk.config_path).unwrap();
    assert!(text.contains("[imap]") && !text.contains("[[mailboxes]]"));
    let customer = desk.names.addr("ana");
    desk.customer(&customer, None).await;
    desk.start();
    desk.write(&customer, "Sin buzones", "default@cliente.test", "Hola")
        .await;
    let acks = wait_for_mail(&customer, 1).await;
    desk.stop().await;
    assert_eq!(
        header(&acks[0], "From"),
        Some(format!("\"Soporte Test\" <{}>", desk.names.support()))
    );
    let listed = cli_json(&desk, &["cases", "--mailbox", "default", "--json"]);
    assert_eq!(listed[0]["mailbox"], "default");
    assert_eq!(listed.as_array().unwrap().len(), 1);
}

macro_rules! both {
    ($name:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name(super::Db::Sqlite).await;
            }
            #[tokio::test]
            async fn postgres() {
                super::$name(super::Db::Postgres).await;
            }
        }
    };
}

both!(each_mailbox_is_a_queue);
both!(a_mail_to_two_mailboxes_is_one_case_listing_both);
both!(an_imap_section_is_the_default_mailbox);
