//! SPEC.md "Mail in → 2, 3, 4" end to end: replies become comments, agents answer from
//! their mail client, commands change the case, and closing is final.

use crate::support::*;

/// A desk with a customer who has opened case #1; returns the desk, the customer and the ack.
async fn case_opened(test: &str) -> (Desk, String, Vec<u8>) {
    let mut desk = Desk::new(test).await;
    let customer = desk.names.addr("carla");
    desk.customer(&customer, None).await;
    desk.start();
    let first = plain_mail(
        &customer,
        &desk.names.support(),
        "No sincroniza",
        &format!("open-{}@cliente.test", desk.names.tag),
        "La sincronización falla desde ayer.",
    );
    send_mail(&customer, &[&desk.names.support()], &first).await;
    let ack = wait_for_mail(&customer, 1).await.remove(0);
    wait_for_mail(&desk.names.addr("agente"), 1).await;
    (desk, customer, ack)
}

async fn history_kinds(desk: &Desk, number: i64) -> Vec<String> {
    let case = desk.store().case_by_number(number).await.unwrap().unwrap();
    desk.store()
        .case_emails(case.id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| format!("{} {}", e.direction, e.kind))
        .collect()
}

#[tokio::test]
async fn a_customer_reply_becomes_a_comment_with_its_attachment() {
    let (mut desk, customer, ack) = case_opened("comment").await;
    let reply = reply_to(
        &ack,
        &customer,
        &desk.names.support(),
        "c1@cliente.test",
        "Adjunto el registro del error.\r\n\r\nSaludos,\r\nCarla",
    );
    let reply = with_attachment(&reply, "error.log", b"ERROR 42 at line 7\n");
    send_mail(&customer, &[&desk.names.support()], &reply).await;
    let notes = wait_for_mail(&desk.names.addr("agente"), 2).await;
    let note = parsed(&notes[1]);
    assert!(
        note.subject.contains("[Caso #1] Comentario de"),
        "{}",
        note.subject
    );
    assert!(
        note.text.contains("Adjunto el registro del error."),
        "{}",
        note.text
    );
    assert!(note.text.contains("error.log"), "{}", note.text);
    desk.stop().await;

    let case = desk.store().case_by_number(1).await.unwrap().unwrap();
    let history = desk.store().case_emails(case.id).await.unwrap();
    let comment = history
        .iter()
        .find(|e| e.kind == "comment")
        .expect("comment");
    let text = comment.body_text.as_deref().unwrap();
    assert!(text.starts_with("Adjunto el registro del error."), "{text}");
    assert!(
        !text.contains("escribió"),
        "quoted history stripped: {text}"
    );
    assert!(
        !text.contains("Hemos recibido su solicitud"),
        "quoted ack stripped: {text}"
    );
    let attachments = desk.store().case_attachments(case.id).await.unwrap();
    assert_eq!(attachments.len(), 1);
    assert_eq!(
        desk.app.blobs.get(&attachments[0].blob_hash).await.unwrap(),
        b"ERROR 42 at line 7\n"
    );
    let raw = desk.app.blobs.get(&comment.raw_hash).await.unwrap();
    assert!(
        String::from_utf8_lossy(&raw).contains("escribió"),
        "the raw mail stays whole"
    );
    assert_eq!(
        mailbox(&customer).await.len(),
        1,
        "a comment sends the customer nothing"
    );
}

#[tokio::test]
async fn forged_tags_and_references_never_touch_a_case() {
    let (mut desk, customer, ack) = case_opened("forged").await;
    let intruder = desk.names.addr("intruso");
    desk.customer(&intruder, None).await;
    // A provisioned customer who is not on case #1 uses its tag…
    let tagged = plain_mail(
        &intruder,
        &desk.names.support(),
        "[Caso #1] cerrar",
        "f1@otro.test",
        "cerrar",
    );
    send_mail(&intruder, &[&desk.names.support()], &tagged).await;
    // …and a forged buzon Message-ID for case #1.
    let forged_id = parsed(&ack)
        .message_id
        .unwrap()
        .replacen("buzon.1.", "buzon.1.0", 1);
    let forged = format!(
        "From: {intruder}\r\nTo: {support}\r\nSubject: Re: hola\r\nMessage-ID: <f2@otro.test>\r\nIn-Reply-To: <{forged_id}>\r\n\r\ncerrar\r\n",
        support = desk.names.support()
    );
    send_mail(&intruder, &[&desk.names.support()], forged.as_bytes()).await;
    // A stranger quoting the customer's own Message-ID (rule b needs a participant).
    let stranger = desk.names.addr("extrano");
    let stolen = format!(
        "From: {stranger}\r\nTo: {support}\r\nSubject: Re: No sincroniza\r\nMessage-ID: <f3@otro.test>\r\nIn-Reply-To: <open-{tag}@cliente.test>\r\n\r\ncerrar\r\n",
        support = desk.names.support(),
        tag = desk.names.tag
    );
    send_mail(&stranger, &[&desk.names.support()], stolen.as_bytes()).await;
    wait_for_mail(&intruder, 2).await;
    wait_for_mail(&stranger, 1).await;
    desk.stop().await;
    let case1 = desk.store().case_by_number(1).await.unwrap().unwrap();
    assert_eq!(
        case1.status, "open",
        "nobody outside the case could close it"
    );
    assert_eq!(
        history_kinds(&desk, 1).await,
        vec!["in new_case", "out case_created", "out agent_new_case"]
    );
    let theirs = desk
        .store()
        .cases(&buzon::store::CaseFilter {
            customer: Some(intruder.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        theirs.len(),
        2,
        "the intruder's mails became cases of their own"
    );
    assert!(
        parsed(&mailbox(&stranger).await[0])
            .text
            .contains("Gerente de Éxito"),
        "the stranger is refused"
    );
    assert_eq!(
        mailbox(&customer).await.len(),
        1,
        "the real customer heard of no close"
    );
}

#[tokio::test]
async fn an_agent_reply_is_relayed_with_its_attachment() {
    let (mut desk, customer, ack) = case_opened("relay").await;
    let agent = desk.names.addr("agente");
    let notification = mailbox(&agent).await.remove(0);
    let answer = reply_to(
        &notification,
        &format!("Pepe Agente <{agent}>"),
        &desk.names.support(),
        "a1@soporte.test",
        "Hola Carla, instale el parche adjunto.",
    );
    let answer = with_attachment(&answer, "parche.zip", b"PK\x03\x04parche");
    send_mail(&agent, &[&desk.names.support()], &answer).await;
    let mails = wait_for_mail(&customer, 2).await;
    let relayed = parsed(&mails[1]);
    assert_eq!(relayed.subject, "[Caso #1] No sincroniza");
    assert!(
        relayed.text.contains("instale el parche adjunto"),
        "{}",
        relayed.text
    );
    assert!(
        !relayed.text.contains("Nuevo caso de"),
        "the agent's quote of the notification is not relayed: {}",
        relayed.text
    );
    assert!(relayed.text.contains("Pepe Agente"));
    assert_eq!(relayed.attachments.len(), 1);
    assert_eq!(relayed.attachments[0].filename, "parche.zip");
    assert_eq!(relayed.attachments[0].bytes, b"PK\x03\x04parche");
    assert_eq!(
        header(&mails[1], "Auto-Submitted"),
        None,
        "a person's answer, not an automatic one"
    );
    assert_eq!(
        header(&mails[1], "From").unwrap(),
        format!("\"Pepe (Soporte Test)\" <{}>", desk.names.support()),
        "the desk's address under the agent's first name (SPEC: customers see the desk)"
    );
    let original_id = format!("open-{}@cliente.test", desk.names.tag);
    assert_eq!(
        relayed.in_reply_to,
        vec![original_id.clone()],
        "threads under the customer's mail"
    );
    assert!(relayed
        .references
        .contains(&parsed(&ack).message_id.unwrap()));

    // The customer answers the relayed mail: a comment on the same case.
    let back = reply_to(
        &mails[1],
        &customer,
        &desk.names.support(),
        "c2@cliente.test",
        "Funcionó, gracias.",
    );
    send_mail(&customer, &[&desk.names.support()], &back).await;
    wait_for_mail(&agent, 2).await;
    desk.stop().await;
    assert_eq!(
        history_kinds(&desk, 1).await[3..],
        [
            "in agent_reply",
            "out agent_reply",
            "in comment",
            "out agent_comment"
        ]
    );
}

#[tokio::test]
async fn an_internal_note_never_reaches_the_customer() {
    let (mut desk, customer, _ack) = case_opened("internal").await;
    desk.agent_answers(
        "n1@soporte.test",
        "#interno\r\nEl cliente tiene la versión 2.3, no la 3.",
    )
    .await;
    eventually("the note is stored", || async {
        history_kinds(&desk, 1)
            .await
            .contains(&"in internal_note".to_string())
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    desk.stop().await;
    assert_eq!(
        mailbox(&customer).await.len(),
        1,
        "only the acknowledgement"
    );
    let case = desk.store().case_by_number(1).await.unwrap().unwrap();
    let history = desk.store().case_emails(case.id).await.unwrap();
    let stored = history.iter().find(|e| e.kind == "internal_note").unwrap();
    assert_eq!(
        stored.body_text.as_deref(),
        Some("El cliente tiene la versión 2.3, no la 3.")
    );
    assert!(history
        .iter()
        .all(|e| e.direction == "in" || e.kind != "agent_reply"));
}

#[tokio::test]
async fn cerrar_closes_and_a_sentence_does_not() {
    let (mut desk, customer, ack) = case_opened("close").await;
    let not_yet = reply_to(
        &ack,
        &customer,
        &desk.names.support(),
        "k1@cliente.test",
        "No, no quiero cerrar todavía.\r\nSeveridad: 1",
    );
    send_mail(&customer, &[&desk.names.support()], &not_yet).await;
    let mails = wait_for_mail(&customer, 2).await;
    let updated = parsed(&mails[1]);
    assert!(
        updated.subject.contains("Caso actualizado"),
        "{}",
        updated.subject
    );
    assert!(
        updated.text.contains("severidad: 3 (menor) → 1 (crítica)"),
        "{}",
        updated.text
    );
    assert_eq!(
        desk.store()
            .case_by_number(1)
            .await
            .unwrap()
            .unwrap()
            .status,
        "open"
    );

    let close = reply_to(
        &ack,
        &customer,
        &desk.names.support(),
        "k2@cliente.test",
        "Ya quedó resuelto.\r\n\r\nCerrar",
    );
    send_mail(&customer, &[&desk.names.support()], &close).await;
    let mails = wait_for_mail(&customer, 3).await;
    let closed = parsed(&mails[2]);
    assert!(
        closed.subject.contains("Caso cerrado"),
        "{}",
        closed.subject
    );
    assert_eq!(closed.in_reply_to, vec!["k2@cliente.test"]);
    desk.stop().await;
    let case = desk.store().case_by_number(1).await.unwrap().unwrap();
    assert_eq!(case.status, "closed");
    assert_eq!(case.severity, 1);
    let history = desk.store().case_emails(case.id).await.unwrap();
    let last_comment = history.iter().rev().find(|e| e.kind == "comment").unwrap();
    assert_eq!(
        last_comment.body_text.as_deref(),
        Some("Ya quedó resuelto."),
        "other text is kept as a last comment"
    );
}

#[tokio::test]
async fn after_closing_thanks_are_logged_and_new_problems_open_a_linked_case() {
    let (mut desk, customer, ack) = case_opened("after").await;
    send_mail(
        &customer,
        &[&desk.names.support()],
        &reply_to(
            &ack,
            &customer,
            &desk.names.support(),
            "z1@cliente.test",
            "cerrar",
        ),
    )
    .await;
    let mails = wait_for_mail(&customer, 2).await;
    let closed_mail = mails[1].clone();
    send_mail(
        &customer,
        &[&desk.names.support()],
        &reply_to(
            &closed_mail,
            &customer,
            &desk.names.support(),
            "z2@cliente.test",
            "¡Muchas gracias!",
        ),
    )
    .await;
    eventually("thanks logged", || async {
        history_kinds(&desk, 1)
            .await
            .contains(&"in courtesy".to_string())
    })
    .await;
    assert_eq!(mailbox(&customer).await.len(), 2, "thanks get no answer");
    assert!(
        desk.store().case_by_number(2).await.unwrap().is_none(),
        "and no case"
    );

    let again = reply_to(
        &closed_mail,
        &customer,
        &desk.names.support(),
        "z3@cliente.test",
        "Ha vuelto a fallar la sincronización esta mañana.",
    );
    send_mail(&customer, &[&desk.names.support()], &again).await;
    let mails = wait_for_mail(&customer, 3).await;
    let ack2 = parsed(&mails[2]);
    assert_eq!(
        ack2.subject, "[Caso #2] No sincroniza",
        "the old tag and Re: are not carried over"
    );
    assert!(
        ack2.text.contains("Relacionado con el Caso #1"),
        "{}",
        ack2.text
    );
    desk.stop().await;
    let case2 = desk.store().case_by_number(2).await.unwrap().unwrap();
    assert_eq!(case2.related_case, Some(1));
    assert_eq!(
        case2.description,
        "Ha vuelto a fallar la sincronización esta mañana."
    );
    assert_eq!(
        desk.store()
            .case_by_number(1)
            .await
            .unwrap()
            .unwrap()
            .status,
        "closed"
    );
}

#[tokio::test]
async fn an_agent_can_close_and_change_the_product() {
    let (mut desk, customer, _ack) = case_opened("agent-close").await;
    let agent = desk.names.addr("agente");
    desk.agent_answers(
        "ac1@soporte.test",
        "Producto: Harmony\r\nResuelto con la versión 4.2.\r\ncerrar",
    )
    .await;
    let mails: Vec<_> = wait_for_mail(&customer, 3)
        .await
        .iter()
        .map(|m| parsed(m))
        .collect();
    // Both were queued in one transaction and go out in parallel: find them by subject.
    let relayed = mails
        .iter()
        .find(|m| m.subject == "[Caso #1] No sincroniza" && !m.text.contains("Hemos recibido"))
        .expect("relayed answer");
    assert!(
        relayed.text.contains("Resuelto con la versión 4.2."),
        "{}",
        relayed.text
    );
    assert!(
        !relayed.text.contains("cerrar\n"),
        "commands are not relayed: {}",
        relayed.text
    );
    let closed = mails
        .iter()
        .find(|m| m.subject.contains("Caso cerrado"))
        .expect("status mail");
    // Issue 13 item 6: customers see the desk, not the agent's address.
    assert!(
        closed.text.contains("cerrado por Soporte Test.") && !closed.text.contains(&agent),
        "{}",
        closed.text
    );
    desk.stop().await;
    let case = desk.store().case_by_number(1).await.unwrap().unwrap();
    assert_eq!(
        (case.status.as_str(), case.product.as_deref()),
        ("closed", Some("Harmony"))
    );
}
