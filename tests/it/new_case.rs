//! SPEC.md "Mail in → 1" end to end: a customer's mail becomes a case and the
//! acknowledgement arrives; strangers are refused; copies and restarts change nothing.

use buzon::domain::Role;
use buzon::store::CaseFilter;

use crate::support::*;

async fn case_count(desk: &Desk) -> usize {
    desk.store()
        .cases(&CaseFilter::default())
        .await
        .unwrap()
        .len()
}

async fn new_mail_becomes_a_case_with_its_ack(db: Db) {
    let mut desk = Desk::with(
        "ack",
        DeskOptions {
            db,
            ..Default::default()
        },
    )
    .await;
    let customer = desk.names.addr("carla");
    desk.customer(&customer, None).await;
    desk.start();
    let body = "Hola,\nProducto: integration studio\nSeveridad: 2\nLa sincronización falla.";
    send_mail(
        &customer,
        &[&desk.names.support()],
        &plain_mail(
            &customer,
            &desk.names.support(),
            "No sincroniza",
            "first@cliente.test",
            body,
        ),
    )
    .await;

    let acks = wait_for_mail(&customer, 1).await;
    let ack = parsed(&acks[0]);
    assert_eq!(ack.subject, "[Caso #1] No sincroniza");
    assert_eq!(ack.in_reply_to, vec!["first@cliente.test"]);
    assert_eq!(ack.references, vec!["first@cliente.test"]);
    assert!(ack.text.contains("Caso #1"), "{}", ack.text);
    assert!(ack.text.contains("Integration Studio"), "{}", ack.text);
    assert!(
        ack.text.contains("cerrar"),
        "how to close is explained: {}",
        ack.text
    );
    assert_eq!(
        header(&acks[0], "Auto-Submitted").as_deref(),
        Some("auto-replied")
    );
    assert_eq!(
        header(&acks[0], "X-Auto-Response-Suppress").as_deref(),
        Some("All")
    );

    let notes = wait_for_mail(&desk.names.addr("agente"), 1).await;
    let note = parsed(&notes[0]);
    assert!(note.subject.contains("[Caso #1]"), "{}", note.subject);
    assert!(
        note.text.contains("La sincronización falla."),
        "{}",
        note.text
    );
    assert_eq!(header(&notes[0], "Importance"), None, "not urgent");
    desk.stop().await;

    let case = desk
        .store()
        .case_by_number(1)
        .await
        .unwrap()
        .expect("case #1");
    assert_eq!(case.subject, "No sincroniza");
    assert_eq!(case.product.as_deref(), Some("Integration Studio"));
    assert_eq!(case.severity, 2);
    assert!(!case.production_down);
    assert_eq!(case.status, "open");
    assert_eq!(case.requester, customer);
    assert!(case.description.contains("La sincronización falla."));
    let history = desk.store().case_emails(case.id).await.unwrap();
    let kinds: Vec<_> = history
        .iter()
        .map(|e| (e.direction.as_str(), e.kind.as_str()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("in", "new_case"),
            ("out", "case_created"),
            ("out", "agent_new_case")
        ]
    );
    assert!(history[1..]
        .iter()
        .all(|e| e.delivery.as_deref() == Some("sent")));
}

#[tokio::test]
async fn new_mail_becomes_a_case_with_its_ack_sqlite() {
    new_mail_becomes_a_case_with_its_ack(Db::Sqlite).await;
}

#[tokio::test]
async fn new_mail_becomes_a_case_with_its_ack_postgres() {
    new_mail_becomes_a_case_with_its_ack(Db::Postgres).await;
}

#[tokio::test]
async fn attachments_are_stored_byte_for_byte() {
    let mut desk = Desk::new("attach").await;
    let customer = desk.names.addr("carla");
    desk.customer(&customer, None).await;
    let binary: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let png = b"\x89PNG\r\n\x1a\n-not-really-a-png-";
    let latin1_log = b"error en la l\xednea 3\n";
    use base64::Engine;
    let b64 = |b: &[u8]| {
        base64::engine::general_purpose::STANDARD
            .encode(b)
            .as_bytes()
            .chunks(76)
            .map(|c| String::from_utf8_lossy(c).to_string())
            .collect::<Vec<_>>()
            .join("\r\n")
    };
    let raw = format!(
        "From: {customer}\r\nTo: {support}\r\nSubject: Adjuntos\r\nMessage-ID: <att@cliente.test>\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"B1\"\r\n\r\n--B1\r\nContent-Type: multipart/related; boundary=\"B2\"\r\n\r\n\
--B2\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Ver imagen <img src=\"cid:img1\"></p>\r\n\
--B2\r\nContent-Type: image/png\r\nContent-ID: <img1>\r\nContent-Disposition: inline; filename=\"pantalla.png\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{png}\r\n--B2--\r\n\
--B1\r\nContent-Type: application/zip\r\nContent-Disposition: attachment; filename=\"proyecto.jpk\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{bin}\r\n\
--B1\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Disposition: attachment; filename=\"../../etc/registro.log\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{log}\r\n--B1--\r\n",
        support = desk.names.support(),
        png = b64(png),
        bin = b64(&binary),
        log = b64(latin1_log),
    );
    send_mail(&customer, &[&desk.names.support()], raw.as_bytes()).await;
    desk.start();
    let acks = wait_for_mail(&customer, 1).await;
    assert!(parsed(&acks[0]).text.contains("proyecto.jpk"));
    desk.stop().await;

    let case = desk.store().case_by_number(1).await.unwrap().expect("case");
    assert!(
        case.description.contains("Ver imagen"),
        "HTML became text: {}",
        case.description
    );
    let attachments = desk.store().case_attachments(case.id).await.unwrap();
    let by_name = |n: &str| {
        attachments
            .iter()
            .find(|a| a.filename == n)
            .unwrap_or_else(|| panic!("{n} in {attachments:?}"))
    };
    assert_eq!(
        desk.app
            .blobs
            .get(&by_name("proyecto.jpk").blob_hash)
            .await
            .unwrap(),
        binary
    );
    assert_eq!(
        desk.app
            .blobs
            .get(&by_name("pantalla.png").blob_hash)
            .await
            .unwrap(),
        png
    );
    assert!(by_name("pantalla.png").inline);
    assert_eq!(
        desk.app
            .blobs
            .get(&by_name("registro.log").blob_hash)
            .await
            .unwrap(),
        latin1_log,
        "text attachment kept in its own charset"
    );
    assert_eq!(attachments.len(), 3);
}

/// A mail above the fetcher's large-mail size is fetched in pieces (partial FETCH) straight
/// into its blob file: the stored raw mail and its attachment are still byte for byte.
#[tokio::test]
async fn a_large_mail_is_fetched_in_pieces_and_kept_whole() {
    let mut desk = Desk::new("large-mail").await;
    let customer = desk.names.addr("cliente");
    desk.customer(&customer, None).await;
    let dump: Vec<u8> = (0..6 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 7) as u8)
        .collect();
    let raw = with_attachment(
        &plain_mail(
            &customer,
            &desk.names.support(),
            "Volcado grande",
            "large@cliente.test",
            "Adjunto el volcado.",
        ),
        "volcado.bin",
        &dump,
    );
    assert!(raw.len() > 8 * 1024 * 1024, "larger than one fetch piece");
    append(&desk.names.support(), &raw).await;
    desk.start();
    wait_for_mail(&customer, 1).await;
    desk.stop().await;

    let case = desk.store().case_by_number(1).await.unwrap().expect("case");
    let attachments = desk.store().case_attachments(case.id).await.unwrap();
    assert_eq!(attachments.len(), 1);
    assert_eq!(attachments[0].size as usize, dump.len());
    let stored = desk.app.blobs.get(&attachments[0].blob_hash).await.unwrap();
    assert!(stored == dump, "attachment bytes identical");
    let history = desk.store().case_emails(case.id).await.unwrap();
    let kept = desk.app.blobs.get(&history[0].raw_hash).await.unwrap();
    assert_eq!(kept.len(), raw.len());
    assert!(kept == raw, "raw mail identical to what the server holds");
}

#[tokio::test]
async fn strangers_get_access_denied_and_no_case() {
    let mut desk = Desk::new("denied").await;
    let stranger = desk.names.addr("extrano");
    desk.write(&stranger, "Ayuda", "s1@otro.test", "¿Me ayudan?")
        .await;
    desk.start();
    let replies = wait_for_mail(&stranger, 1).await;
    let reply = parsed(&replies[0]);
    assert_eq!(
        reply.subject, "Sin acceso al soporte por correo",
        "a stranger's subject is never echoed from the support address"
    );
    assert!(
        reply.text.contains("Gerente de Éxito del Cliente"),
        "{}",
        reply.text
    );
    assert_eq!(reply.in_reply_to, vec!["s1@otro.test"]);
    desk.stop().await;
    assert_eq!(case_count(&desk).await, 0);
    let kept = desk.store().emails_without_case(10).await.unwrap();
    assert!(
        kept.iter()
            .any(|e| e.direction == "in" && e.kind == "access_denied" && e.from_addr == stranger),
        "the stranger's mail is kept: {kept:?}"
    );
}

#[tokio::test]
async fn organisation_domain_and_cc_participants() {
    let mut desk = Desk::new("org").await;
    // Every address at a registered organisation's domain may write.
    let domain_user = "maria@cliente-org.example.test";
    desk.store()
        .add_org("cliente-org.example.test", Some("Cliente Org"))
        .await
        .unwrap();
    let colleague = desk.names.addr("luis");
    desk.customer(&colleague, None).await;
    let outsider = desk.names.addr("otro");
    let raw = format!(
        "From: María <{domain_user}>\r\nTo: {support}\r\nCc: {colleague}, {outsider}\r\nSubject: Consulta\r\nMessage-ID: <org1@cliente.test>\r\n\r\nHola\r\n",
        support = desk.names.support()
    );
    // Delivered straight into the support mailbox: the org's domain is not a local one.
    send_mail(domain_user, &[&desk.names.support()], raw.as_bytes()).await;
    desk.start();
    eventually("case #1 exists", || async {
        desk.store().case_by_number(1).await.unwrap().is_some()
    })
    .await;
    desk.stop().await;
    let case = desk.store().case_by_number(1).await.unwrap().unwrap();
    assert_eq!(case.requester, domain_user);
    assert_eq!(case.requester_name.as_deref(), Some("María"));
    let participants = desk.store().case_participants(case.id).await.unwrap();
    assert_eq!(
        participants,
        vec![
            (domain_user.to_string(), Role::Requester),
            (colleague.clone(), Role::Participant)
        ]
    );
}

#[tokio::test]
async fn production_down_is_critical_and_urgent() {
    let mut desk = Desk::new("down").await;
    let customer = desk.names.addr("carla");
    desk.customer(&customer, None).await;
    desk.start();
    let raw = plain_mail(
        &customer,
        &desk.names.support(),
        "=?utf-8?q?PRODUCCI=C3=93N_CA=C3=8DDA?= en planta",
        "down@cliente.test",
        "Severidad: 3\nTodo parado.",
    );
    send_mail(&customer, &[&desk.names.support()], &raw).await;
    let notes = wait_for_mail(&desk.names.addr("agente"), 1).await;
    assert_eq!(header(&notes[0], "Importance").as_deref(), Some("high"));
    assert!(header(&notes[0], "X-Priority").unwrap().starts_with('1'));
    assert!(parsed(&notes[0])
        .subject
        .starts_with("[PRODUCCIÓN CAÍDA] [Caso #1]"));
    let acks = wait_for_mail(&customer, 1).await;
    assert!(parsed(&acks[0]).text.contains("PRODUCCIÓN CAÍDA"));
    desk.stop().await;
    let case = desk.store().case_by_number(1).await.unwrap().unwrap();
    assert_eq!(
        case.severity, 1,
        "Producción Caída wins over the Severidad line"
    );
    assert!(case.production_down);
}

#[tokio::test]
async fn the_same_mail_twice_makes_one_case() {
    let mut desk = Desk::new("twice").await;
    let customer = desk.names.addr("carla");
    desk.customer(&customer, None).await;
    let raw = plain_mail(
        &customer,
        &desk.names.support(),
        "Duplicado",
        "same@cliente.test",
        "una vez",
    );
    send_mail(&customer, &[&desk.names.support()], &raw).await;
    send_mail(&customer, &[&desk.names.support()], &raw).await;
    wait_for_mail(&desk.names.support(), 2).await;
    desk.start();
    wait_for_mail(&customer, 1).await;
    eventually("both copies processed", || async {
        let counts = desk.store().inbound_counts().await.unwrap();
        counts.iter().any(|(s, n)| s == "duplicate" && *n == 1)
            && counts.iter().any(|(s, n)| s == "done" && *n == 1)
    })
    .await;
    desk.stop().await;
    assert_eq!(case_count(&desk).await, 1);
    assert_eq!(mailbox(&customer).await.len(), 1, "one acknowledgement");
}

#[tokio::test]
async fn a_restart_processes_nothing_twice() {
    let mut desk = Desk::new("restart").await;
    let customer = desk.names.addr("carla");
    desk.customer(&customer, None).await;
    for i in 0..3 {
        let raw = plain_mail(
            &customer,
            &desk.names.support(),
            &format!("Problema {i}"),
            &format!("r{i}@cliente.test"),
            "texto",
        );
        send_mail(&customer, &[&desk.names.support()], &raw).await;
    }
    desk.start();
    wait_for_mail(&customer, 3).await;
    desk.stop().await;

    // The cursor is forgotten, as after a UIDVALIDITY change: everything is fetched again.
    let key = buzon::fetch::mailbox_key(&desk.config().imap);
    let (uidvalidity, _) = desk.store().imap_cursor(&key).await.unwrap().unwrap();
    desk.store()
        .set_imap_cursor(&key, uidvalidity, 0)
        .await
        .unwrap();
    let raw = plain_mail(
        &customer,
        &desk.names.support(),
        "Problema nuevo",
        "r-new@cliente.test",
        "texto",
    );
    send_mail(&customer, &[&desk.names.support()], &raw).await;
    desk.start();
    wait_for_mail(&customer, 4).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    desk.stop().await;
    assert_eq!(case_count(&desk).await, 4);
    assert_eq!(
        mailbox(&customer).await.len(),
        4,
        "no second acknowledgement"
    );
    let mut subjects: Vec<_> = desk
        .store()
        .cases(&CaseFilter::default())
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.subject)
        .collect();
    subjects.sort();
    assert_eq!(
        subjects,
        vec!["Problema 0", "Problema 1", "Problema 2", "Problema nuevo"]
    );
}

#[tokio::test]
async fn processed_mail_is_flagged_in_the_mailbox() {
    let mut desk = Desk::new("flag").await;
    let customer = desk.names.addr("carla");
    desk.customer(&customer, None).await;
    desk.start();
    desk.write(&customer, "Flag", "f@cliente.test", "x").await;
    wait_for_mail(&customer, 1).await;
    let server = mail_server();
    let config = imap_config(server, &desk.names.support());
    let mut flagged = false;
    for _ in 0..100 {
        let mut session = buzon::fetch::connect(&config).await.unwrap();
        session.select("INBOX").await.unwrap();
        let found = session.uid_search("KEYWORD $Buzon SEEN").await.unwrap();
        let _ = session.logout().await;
        if found.len() == 1 {
            flagged = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    desk.stop().await;
    assert!(flagged, "the processed mail carries \\Seen and $Buzon");
}

#[tokio::test]
async fn tls_and_starttls_with_a_private_ca() {
    for (imap, smtp) in [("tls", "tls"), ("starttls", "starttls")] {
        let mut desk = Desk::with(
            "tls",
            DeskOptions {
                imap_security: imap,
                smtp_security: smtp,
                ..Default::default()
            },
        )
        .await;
        let customer = desk.names.addr("carla");
        desk.customer(&customer, Some("en")).await;
        desk.start();
        desk.write(&customer, "Over TLS", "tls@cliente.test", "hello")
            .await;
        let acks = wait_for_mail(&customer, 1).await;
        let ack = parsed(&acks[0]);
        assert_eq!(
            ack.subject, "[Case #1] Over TLS",
            "English customer, English ack ({imap}/{smtp})"
        );
        assert!(ack.text.contains("We have received your request"));
        desk.stop().await;
    }
}

/// buzon pipelines MAIL/RCPT/DATA only where the server announces PIPELINING: this Postfix
/// service does not, and disconnects a client that pipelines anyway.
#[tokio::test]
async fn the_ack_goes_out_through_a_server_without_pipelining() {
    let server = mail_server();
    let mut smtp = plain_smtp(server.smtp());
    let (_, pipelining) = buzon::send::connect(&smtp, "example.test").await.unwrap();
    assert!(pipelining, "port 25 announces PIPELINING");
    smtp.port = server.smtp_without_pipelining();
    let (_, pipelining) = buzon::send::connect(&smtp, "example.test").await.unwrap();
    assert!(!pipelining, "its twin does not");

    let mut desk = Desk::with(
        "nopipe",
        DeskOptions {
            smtp_port: Some(mail_server().smtp_without_pipelining()),
            ..Default::default()
        },
    )
    .await;
    let customer = desk.names.addr("lenta");
    desk.customer(&customer, None).await;
    desk.start();
    desk.write(&customer, "Sin pipelining", "nopipe@cliente.test", "x")
        .await;
    let acks = wait_for_mail(&customer, 1).await;
    assert!(parsed(&acks[0]).subject.starts_with("[Caso #1]"));
    eventually(
        "acknowledgement and agent notice recorded as sent",
        || async {
            desk.store()
                .outbox_counts()
                .await
                .unwrap()
                .iter()
                .any(|(state, n)| state == "sent" && *n == 2)
        },
    )
    .await;
}
