//! SPEC.md "People", "Mail in → 6" and "Mail out" on a public address: strangers, forged
//! and automatic mail, loops, bounces and limits, end to end.

use crate::support::*;

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

#[tokio::test]
async fn strangers_get_one_refusal_a_day_and_can_be_replayed() {
    let mut desk = Desk::new("stranger").await;
    let stranger = desk.names.addr("nuevo");
    for i in 0..3 {
        let raw = plain_mail(
            &stranger,
            &desk.names.support(),
            &format!("Ayuda {i}"),
            &format!("st{i}@otro.test"),
            "¿Hola?",
        );
        send_mail(&stranger, &[&desk.names.support()], &raw).await;
    }
    desk.start();
    wait_for_mail(&stranger, 1).await;
    eventually("all three processed", || async {
        desk.store()
            .inbound_counts()
            .await
            .unwrap()
            .iter()
            .any(|(s, n)| s == "done" && *n == 3)
    })
    .await;
    desk.stop().await;
    assert_eq!(mailbox(&stranger).await.len(), 1, "one access_denied a day");
    let denied = desk.cli(&["denied"]);
    let listed = stdout(&denied);
    assert_eq!(listed.lines().count(), 3, "{listed}");
    assert!(listed.contains(&stranger));

    // The admin provisions them and replays the first mail: it becomes a case.
    let first_id = listed
        .lines()
        .last()
        .unwrap()
        .split('\t')
        .next()
        .unwrap()
        .trim_start_matches("mail ")
        .to_string();
    assert!(desk.cli(&["customer", "add", &stranger]).status.success());
    let retry = desk.cli(&["retry", &first_id]);
    assert!(
        retry.status.success(),
        "{}",
        String::from_utf8_lossy(&retry.stderr)
    );
    desk.start();
    let mails = wait_for_mail(&stranger, 2).await;
    assert!(
        parsed(&mails[1]).subject.starts_with("[Caso #1] Ayuda"),
        "{}",
        parsed(&mails[1]).subject
    );
    desk.stop().await;
}

#[tokio::test]
async fn automatic_mail_is_never_answered() {
    let mut desk = Desk::new("auto").await;
    let stranger = desk.names.addr("robot");
    let raw = format!(
        "From: {stranger}\r\nTo: {s}\r\nSubject: Out of office\r\nMessage-ID: <oof@otro.test>\r\nAuto-Submitted: auto-replied\r\n\r\nI am away.\r\n",
        s = desk.names.support()
    );
    send_mail(&stranger, &[&desk.names.support()], raw.as_bytes()).await;
    let bulk = format!(
        "From: {stranger}\r\nTo: {s}\r\nSubject: Newsletter\r\nMessage-ID: <news@otro.test>\r\nPrecedence: bulk\r\nList-Id: <news.otro.test>\r\n\r\nNews.\r\n",
        s = desk.names.support()
    );
    send_mail(&stranger, &[&desk.names.support()], bulk.as_bytes()).await;
    desk.start();
    eventually("both processed", || async {
        desk.store()
            .inbound_counts()
            .await
            .unwrap()
            .iter()
            .any(|(s, n)| s == "done" && *n == 2)
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    desk.stop().await;
    assert!(mailbox(&stranger).await.is_empty(), "no answer to machines");
    let kept = desk.store().emails_without_case(10).await.unwrap();
    assert!(
        kept.iter().all(|e| e.kind == "ignored_automatic"),
        "{kept:?}"
    );
    assert_eq!(kept.len(), 2);
}

/// SPEC.md "Mail in → 7": a flood of new cases is stopped at the door (quarantined, kept,
/// the agents told); every case that is opened gets its acknowledgement.
#[tokio::test]
async fn a_flood_of_new_cases_is_stopped_at_the_door() {
    let mut desk = Desk::with_extra(
        "cap",
        "[limits]\nauto_replies_per_hour = 2\nnew_cases_per_hour = 3\n",
    )
    .await;
    let customer = desk.names.addr("prolifico");
    desk.customer(&customer, None).await;
    for i in 0..5 {
        let raw = plain_mail(
            &customer,
            &desk.names.support(),
            &format!("Problema {i}"),
            &format!("cap{i}@cliente.test"),
            "x",
        );
        send_mail(&customer, &[&desk.names.support()], &raw).await;
    }
    desk.start();
    eventually("three cases and two mails held at the door", || async {
        desk.store().failed_inbound().await.unwrap().len() == 2
    })
    .await;
    // Three new-case notices and one notice of the flood (once an hour per sender).
    let notes = wait_for_mail(&desk.names.addr("agente"), 4).await;
    desk.stop().await;
    assert!(desk.store().case_by_number(4).await.unwrap().is_none());
    assert_eq!(
        mailbox(&customer).await.len(),
        3,
        "every opened case is acknowledged, past auto_replies_per_hour too"
    );
    assert!(notes
        .iter()
        .any(|n| parsed(n).text.contains("limits.new_cases_per_hour")));

    // Held, not dropped: an admin's retry opens the case (not "duplicate": the key the
    // held mail had claimed goes with the retry), and it is acknowledged.
    let held = desk.store().failed_inbound().await.unwrap();
    assert!(desk.store().retry_inbound(held[0].id).await.unwrap());
    desk.start();
    eventually("the retried mail opens case #4", || async {
        desk.store().case_by_number(4).await.unwrap().is_some()
    })
    .await;
    wait_for_mail(&customer, 4).await;
    desk.stop().await;
    assert_eq!(desk.store().failed_inbound().await.unwrap().len(), 1);
}

/// Issue 13's customer in mutt: past `limits.auto_replies_per_hour` an answer is held, never
/// dropped: on the history, in `buzon failed`, the agents told once, and
/// `buzon retry --outbox` sends it.
#[tokio::test]
async fn answers_past_the_cap_are_held_and_sent_on_retry() {
    let mut desk = Desk::with_extra("held", "[limits]\nauto_replies_per_hour = 4\n").await;
    let carla = desk.names.addr("carla");
    let agent = desk.names.addr("agente");
    desk.customer(&carla, None).await;
    desk.start();
    desk.write(&carla, "No sincroniza", "h1@x.test", "Falla.")
        .await;
    desk.write(&carla, "Factura duplicada", "h2@x.test", "Dos veces.")
        .await;
    let acks = wait_for_mail(&carla, 2).await;
    for i in 0..3 {
        desk.write(&carla, "mis casos", &format!("l{i}@x.test"), "")
            .await;
    }
    wait_for_mail(&carla, 4).await;
    // Her next `cerrar`, in reply to an acknowledgement: closed, and its notice held.
    let ack = acks
        .iter()
        .find(|a| parsed(a).subject.contains("No sincroniza"))
        .unwrap();
    let support = desk.names.support();
    send_mail(
        &carla,
        &[&support],
        &reply_to(ack, &carla, &support, "c1@x.test", "cerrar"),
    )
    .await;
    // Her next new case: acknowledged all the same.
    desk.write(&carla, "Tercer problema", "h3@x.test", "Otro.")
        .await;
    let mails = wait_for_mail(&carla, 5).await;
    assert!(parsed(&mails[4]).subject.starts_with("[Caso #3]"));
    let held = wait_for_mail(&agent, 5).await;
    let failed = String::from_utf8_lossy(&desk.cli(&["failed"]).stdout).to_string();
    let held_lines: Vec<&str> = failed.lines().filter(|l| l.contains("held back")).collect();
    assert_eq!(
        held_lines.len(),
        2,
        "the 5th list and the close notice: {failed}"
    );
    desk.stop().await;
    // The two first mails may become #1 and #2 in either order.
    let cases = desk.store().cases(&Default::default()).await.unwrap();
    let case = cases.iter().find(|c| c.subject == "No sincroniza").unwrap();
    assert_eq!(case.status, "closed");
    let history = desk.store().case_emails(case.id).await.unwrap();
    assert!(
        history
            .iter()
            .any(|e| e.kind == "case_closed" && e.delivery.as_deref() == Some("held")),
        "the held notice is on the case's history"
    );
    let told: Vec<_> = held
        .iter()
        .map(|m| parsed(m))
        .filter(|m| m.subject.starts_with("Correo retenido para"))
        .collect();
    assert_eq!(
        told.len(),
        1,
        "the agents are told once an hour per address"
    );
    assert!(
        told[0].text.contains("(lista de casos)") && !told[0].text.contains("case_list"),
        "the held mail is named in the support language: {}",
        told[0].text
    );
    // The admin sends what was held.
    desk.start();
    for line in held_lines {
        let id = line
            .split('\t')
            .next()
            .unwrap()
            .trim_start_matches("outbox ");
        assert!(desk.cli(&["retry", "--outbox", id]).status.success());
    }
    let mails = wait_for_mail(&carla, 7).await;
    assert!(mails
        .iter()
        .any(|m| parsed(m).subject.contains("Caso cerrado")));
    desk.stop().await;
}

#[tokio::test]
async fn two_desks_do_not_talk_forever() {
    let mut a = Desk::new("desk-a").await;
    let mut b = Desk::new("desk-b").await;
    a.customer(&b.names.support(), None).await;
    b.customer(&a.names.support(), None).await;
    // Someone at desk A's address writes to desk B by hand (no automatic headers).
    let raw = plain_mail(
        &a.names.support(),
        &b.names.support(),
        "Hola desde A",
        "ping@a.test",
        "¿Me oyes?",
    );
    send_mail(&a.names.support(), &[&b.names.support()], &raw).await;
    a.start();
    b.start();
    eventually("B opened a case", || async {
        b.store().case_by_number(1).await.unwrap().is_some()
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    a.stop().await;
    b.stop().await;
    let to_a = mailbox(&a.names.support()).await;
    let to_b = mailbox(&b.names.support()).await;
    assert_eq!(to_b.len(), 1, "B got the one human mail");
    assert_eq!(
        to_a.len(),
        1,
        "A got B's acknowledgement and answered nothing"
    );
    assert!(
        a.store().case_by_number(1).await.unwrap().is_none(),
        "A opened no case for an automatic mail"
    );
}

#[tokio::test]
async fn a_hard_bounce_is_logged_on_its_case_and_stops_mail() {
    let mut desk = Desk::new("bounce").await;
    let customer = desk.names.addr("rebota");
    desk.customer(&customer, None).await;
    desk.start();
    desk.write(&customer, "Caso", "b0@cliente.test", "x").await;
    let ack = wait_for_mail(&customer, 1).await.remove(0);
    let ack_id = parsed(&ack).message_id.unwrap();
    let dsn = format!(
        "From: MAILER-DAEMON@mx.cliente.test\r\nTo: {s}\r\nSubject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn1@mx.cliente.test>\r\nAuto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"R\"\r\n\r\n--R\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n--R\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.cliente.test\r\n\r\nFinal-Recipient: rfc822; {customer}\r\nAction: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 no such user\r\n--R\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: {s}\r\nTo: {customer}\r\nSubject: [Caso #1] Caso\r\nMessage-ID: <{ack_id}>\r\n--R--\r\n",
        s = desk.names.support()
    );
    send_mail("", &[&desk.names.support()], dsn.as_bytes()).await;
    eventually("bounce logged on #1", || async {
        let case = desk.store().case_by_number(1).await.unwrap().unwrap();
        desk.store()
            .case_emails(case.id)
            .await
            .unwrap()
            .iter()
            .any(|e| e.kind == "bounce")
    })
    .await;
    assert!(
        desk.store().case_by_number(2).await.unwrap().is_none(),
        "a bounce is never a case"
    );
    let failed = stdout(&desk.cli(&["failed"]));
    assert!(failed.contains(&format!("bounced {customer}")), "{failed}");

    // An agent's answer is not sent to the bouncing address…
    desk.agent_answers("ab1@soporte.test", "¿Sigue pasando?")
        .await;
    eventually("agent reply stored", || async {
        let case = desk.store().case_by_number(1).await.unwrap().unwrap();
        desk.store()
            .case_emails(case.id)
            .await
            .unwrap()
            .iter()
            .any(|e| e.kind == "agent_reply")
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(mailbox(&customer).await.len(), 1);
    // …until the customer writes again.
    send_mail(
        &customer,
        &[&desk.names.support()],
        &reply_to(
            &ack,
            &customer,
            &desk.names.support(),
            "b1@cliente.test",
            "Ya tengo buzón de nuevo.\r\nSeveridad: 2",
        ),
    )
    .await;
    let mails = wait_for_mail(&customer, 2).await;
    assert!(parsed(&mails[1]).subject.contains("Caso actualizado"));
    desk.stop().await;
}

#[tokio::test]
async fn oversize_attachments_are_kept_raw_and_reported() {
    let mut desk = Desk::with(
        "limits",
        DeskOptions {
            extra: "[limits]\nmax_attachment_bytes = 1000\n".into(),
            ..Default::default()
        },
    )
    .await;
    let customer = desk.names.addr("grande");
    desk.customer(&customer, None).await;
    let raw = plain_mail(
        &customer,
        &desk.names.support(),
        "Con vídeo",
        "big@cliente.test",
        "Adjunto el vídeo y el log.",
    );
    let raw = with_attachment(&raw, "video.mp4", &vec![7u8; 5000]);
    send_mail(&customer, &[&desk.names.support()], &raw).await;
    desk.start();
    let mails = wait_for_mail(&customer, 2).await;
    let subjects: Vec<String> = mails.iter().map(|m| parsed(m).subject).collect();
    assert!(
        subjects.iter().any(|s| s == "[Caso #1] Con vídeo"),
        "{subjects:?}"
    );
    let told = mails
        .iter()
        .map(|m| parsed(m))
        .find(|m| m.subject.contains("Adjuntos no incorporados"))
        .expect("told");
    assert!(
        told.text.contains("video.mp4 (5000 bytes)"),
        "{}",
        told.text
    );
    let notes = wait_for_mail(&desk.names.addr("agente"), 1).await;
    assert!(
        parsed(&notes[0]).text.contains("NO incorporados"),
        "agents see it"
    );
    desk.stop().await;
    let case = desk.store().case_by_number(1).await.unwrap().unwrap();
    assert!(desk
        .store()
        .case_attachments(case.id)
        .await
        .unwrap()
        .is_empty());
    let history = desk.store().case_emails(case.id).await.unwrap();
    let kept = desk.app.blobs.get(&history[0].raw_hash).await.unwrap();
    assert!(kept.len() > 5000, "the raw mail keeps the file");
}

#[tokio::test]
async fn hostile_subjects_and_names_cannot_inject() {
    let mut desk = Desk::new("inject").await;
    let customer = desk.names.addr("eve");
    desk.customer(&customer, None).await;
    let raw = format!(
        "From: =?utf-8?q?Eve=0D=0ABcc=3A_victima=40example=2Etest?= <{customer}>\r\nTo: {s}\r\nSubject: =?utf-8?q?Hola=0D=0ABcc=3A_otra=40example=2Etest_{{{{support.secret}}}}_<b>x</b>?=\r\nMessage-ID: <inj@cliente.test>\r\n\r\nHola\r\n",
        s = desk.names.support()
    );
    send_mail(&customer, &[&desk.names.support()], raw.as_bytes()).await;
    desk.start();
    let ack = wait_for_mail(&customer, 1).await.remove(0);
    desk.stop().await;
    let text = String::from_utf8_lossy(&ack);
    let head = text.split("\r\n\r\n").next().unwrap();
    assert!(
        !head
            .lines()
            .any(|l| l.to_ascii_lowercase().starts_with("bcc:")),
        "{head}"
    );
    let parsed_ack = parsed(&ack);
    assert!(
        parsed_ack.subject.contains("{{support.secret}}"),
        "rendered literally: {}",
        parsed_ack.subject
    );
    assert!(parsed_ack.subject.contains("<b>x</b>"));
    assert!(!text.contains("test-secret-0123456789abcdef"));
    assert!(mailbox(&desk.names.addr("victima")).await.is_empty());
    assert!(mailbox(&desk.names.addr("otra")).await.is_empty());
}

#[tokio::test]
async fn unauthenticated_customer_mail_is_quarantined() {
    let extra =
        "[security]\nauthserv_id = \"mx.soporte.test\"\nrequire_authentication = \"customers\"\n";
    let mut desk = Desk::with(
        "auth",
        DeskOptions {
            extra: extra.into(),
            ..Default::default()
        },
    )
    .await;
    let customer = desk.names.addr("firmado");
    desk.customer(&customer, None).await;
    let with_results = |id: &str, results: &str| {
        let raw = plain_mail(
            &customer,
            &desk.names.support(),
            &format!("Auth {id}"),
            &format!("{id}@cliente.test"),
            "x",
        );
        [results.as_bytes(), &raw].concat()
    };
    send_mail(
        &customer,
        &[&desk.names.support()],
        &with_results("none", ""),
    )
    .await;
    send_mail(
        &customer,
        &[&desk.names.support()],
        &with_results(
            "forged",
            "Authentication-Results: evil.test; dmarc=pass\r\n",
        ),
    )
    .await;
    send_mail(
        &customer,
        &[&desk.names.support()],
        &with_results(
            "fail",
            "Authentication-Results: mx.soporte.test; dmarc=fail header.from=example.test\r\n",
        ),
    )
    .await;
    send_mail(&customer, &[&desk.names.support()], &with_results("good", "Authentication-Results: mx.soporte.test; spf=pass smtp.mailfrom=example.test; dmarc=pass header.from=example.test\r\n")).await;
    desk.start();
    let acks = wait_for_mail(&customer, 1).await;
    assert_eq!(parsed(&acks[0]).subject, "[Caso #1] Auth good");
    eventually("three quarantined", || async {
        desk.store()
            .inbound_counts()
            .await
            .unwrap()
            .iter()
            .any(|(s, n)| s == "quarantined" && *n == 3)
    })
    .await;
    desk.stop().await;
    let failed = stdout(&desk.cli(&["failed"]));
    assert_eq!(
        failed.lines().filter(|l| l.contains("quarantined")).count(),
        3,
        "{failed}"
    );
    assert_eq!(mailbox(&customer).await.len(), 1);
}

#[tokio::test]
async fn a_real_vacation_responder_gets_no_answer() {
    let mut desk = Desk::new("vacation").await;
    let customer = desk.names.addr("devacaciones");
    desk.customer(&customer, None).await;
    vacation(&customer);
    desk.start();
    desk.write(&customer, "Antes de irme", "v0@cliente.test", "x")
        .await;
    wait_for_mail(&customer, 1).await;
    // buzon's own automatic mail carries Auto-Submitted, which Sieve respects (RFC 5230);
    // an agent's relayed answer does not, so the vacation responder answers it.
    let agent = desk.names.addr("agente");
    desk.agent_answers("va1@soporte.test", "¿Puede probar de nuevo?")
        .await;
    wait_for_mail(&customer, 2).await;
    eventually("the vacation reply is logged on the case", || async {
        let case = desk.store().case_by_number(1).await.unwrap().unwrap();
        desk.store()
            .case_emails(case.id)
            .await
            .unwrap()
            .iter()
            .any(|e| e.kind == "ignored_automatic" && e.subject.contains("Fuera de la oficina"))
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    desk.stop().await;
    assert_eq!(
        mailbox(&customer).await.len(),
        2,
        "the exchange stopped: ack and the agent's answer only"
    );
    assert_eq!(
        mailbox(&agent).await.len(),
        1,
        "agents are not bothered by an out-of-office either"
    );
    assert!(desk.store().case_by_number(2).await.unwrap().is_none());
}
