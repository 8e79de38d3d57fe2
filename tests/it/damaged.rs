//! Issue 15: an attachment whose base64 was damaged on the way keeps its readable part, and
//! the case says so — on its history and in the agents' notifications, new case and reply —
//! through real Postfix and Dovecot.

use crate::support::*;

/// A mail carrying `filename` whose base64 ("hola mundo") has a stray `*` and lost its
/// padding, as a broken gateway leaves it.
fn with_damaged_attachment(mail: &[u8], filename: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(mail);
    let (head, body) = text.split_once("\r\n\r\n").expect("headers and body");
    let head: String = head
        .lines()
        .filter(|l| !l.starts_with("Content-Type") && !l.starts_with("Content-Transfer-Encoding"))
        .map(|l| format!("{l}\r\n"))
        .collect();
    format!(
        "{head}Content-Type: multipart/mixed; boundary=\"ZZ\"\r\n\r\n--ZZ\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n--ZZ\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"{filename}\"\r\nContent-Transfer-Encoding: base64\r\n\r\naG9sYSBt*dW5k\r\nbw\r\n--ZZ--\r\n"
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_damaged_attachment_is_named_on_the_history_and_to_the_agents() {
    let mut desk = Desk::new("damaged").await;
    let customer = desk.names.addr("carla");
    let agent = desk.names.addr("agente");
    let support = desk.names.support();
    desk.customer(&customer, None).await;
    desk.start();
    let first = plain_mail(
        &customer,
        &support,
        "Factura",
        "dm1@cliente.test",
        "Adjunto la factura.",
    );
    send_mail(
        &customer,
        &[&support],
        &with_damaged_attachment(&first, "factura.pdf"),
    )
    .await;

    let ack = wait_for_mail(&customer, 1).await.remove(0);
    let note = parsed(&wait_for_mail(&agent, 1).await[0]).text;
    assert!(
        note.contains("Dañados por el camino") && note.contains("factura.pdf (10 bytes)"),
        "{note}"
    );
    let reply = reply_to(&ack, &customer, &support, "dm2@cliente.test", "Otra copia.");
    send_mail(
        &customer,
        &[&support],
        &with_damaged_attachment(&reply, "copia.pdf"),
    )
    .await;
    let comment = parsed(&wait_for_mail(&agent, 2).await[1]).text;
    assert!(
        comment.contains("Dañados por el camino") && comment.contains("copia.pdf (10 bytes)"),
        "{comment}"
    );
    desk.stop().await;

    let case = desk.store().case_by_number(1).await.unwrap().expect("case");
    let attachments = desk.store().case_attachments(case.id).await.unwrap();
    for file in &attachments {
        let bytes = desk.app.blobs.get(&file.blob_hash).await.unwrap();
        assert_eq!(
            bytes, b"hola mundo",
            "the readable part of {}",
            file.filename
        );
    }
    let history = desk.store().case_emails(case.id).await.unwrap();
    let noted: Vec<&str> = history
        .iter()
        .filter(|e| e.kind == "attachments_damaged")
        .filter_map(|e| e.body_text.as_deref())
        .collect();
    assert_eq!(noted.len(), 2, "{history:?}");
    assert!(
        noted[0].contains("factura.pdf") && noted[1].contains("copia.pdf"),
        "{noted:?}"
    );
    let shown = String::from_utf8(desk.cli(&["case", "1"]).stdout).unwrap();
    assert!(shown.contains("solo se guardó su parte legible"), "{shown}");
}
