//! Issue 13 item 6: the small wrongs a customer notices, each through the real servers.

use crate::support::*;

/// Ana writes with `From: "A. G." <…>`, but her profile says "Ana Gómez"; she belongs to
/// no organisation.
async fn desk_with_ana(test: &str) -> (Desk, String) {
    let mut desk = Desk::new(test).await;
    let ana = desk.names.addr("ana");
    desk.store()
        .add_customer(&buzon::store::CustomerRow {
            email: ana.clone(),
            name: Some("Ana Gómez".into()),
            org_domain: None,
            language: None,
        })
        .await
        .unwrap();
    desk.start();
    (desk, ana)
}

fn from_ana(desk: &Desk, ana: &str, subject: &str, id: &str, body: &str) -> Vec<u8> {
    plain_mail(
        &format!("\"A. G.\" <{ana}>"),
        &desk.names.support(),
        subject,
        id,
        body,
    )
}

#[tokio::test]
async fn answers_use_the_stored_name_and_no_made_up_organisation() {
    let (mut desk, ana) = desk_with_ana("stored-name").await;
    let support = desk.names.support();
    for (subject, id) in [("mis casos", "n1@x.test"), ("perfil", "n2@x.test")] {
        send_mail(&ana, &[&support], &from_ana(&desk, &ana, subject, id, "")).await;
    }
    let mails = wait_for_mail(&ana, 2).await;
    for mail in &mails {
        let answer = parsed(mail);
        assert!(answer.text.starts_with("Hola Ana Gómez"), "{}", answer.text);
        assert_eq!(
            answer.to[0].name.as_deref(),
            Some("Ana Gómez"),
            "the To: display name too"
        );
    }
    let profile = mails
        .iter()
        .map(|m| parsed(m))
        .find(|m| m.subject == "Su perfil")
        .unwrap();
    assert!(
        !profile.text.contains("Organización"),
        "she belongs to no organisation: {}",
        profile.text
    );
    desk.stop().await;
}

#[tokio::test]
async fn severity_product_and_closing_read_right() {
    let (mut desk, ana) = desk_with_ana("small-wrongs").await;
    let support = desk.names.support();
    let first = from_ana(
        &desk,
        &ana,
        "Producción Caída: no arranca",
        "w1@x.test",
        "Producto: Harmony\nNo arranca desde las 8.",
    );
    send_mail(&ana, &[&support], &first).await;
    let ack = wait_for_mail(&ana, 1).await.remove(0);
    let ack_text = parsed(&ack).text;
    for request in [
        "mis casos",
        "buscar <palabras>",
        "historial #N",
        "\"perfil\"",
    ] {
        assert!(
            ack_text.contains(request),
            "the ack names {request}: {ack_text}"
        );
    }
    // Lowering the severity: labelled, and the Producción Caída mark goes with it.
    let lower = reply_to(&ack, &ana, &support, "w2@x.test", "Severidad: 2");
    send_mail(&ana, &[&support], &lower).await;
    let updated = parsed(&wait_for_mail(&ana, 2).await[1]);
    assert!(
        updated.text.contains("severidad: 1 (crítica) → 2 (mayor)"),
        "{}",
        updated.text
    );
    eventually("production down cleared", || async {
        let case = desk.store().case_by_number(1).await.unwrap().unwrap();
        case.severity == 2 && !case.production_down
    })
    .await;
    // The agent answers and closes: the relay does not tell her how to close.
    desk.agent_answers("w3@soporte.test", "Resuelto con el parche 4.2.\n\ncerrar")
        .await;
    let mails = wait_for_mail(&ana, 4).await;
    let relay = mails
        .iter()
        .map(|m| parsed(m))
        .find(|m| m.text.contains("parche 4.2"))
        .expect("the relay");
    assert!(
        relay.text.contains("Este caso está cerrado"),
        "{}",
        relay.text
    );
    assert!(
        !relay.text.contains("Para cerrar el caso"),
        "{}",
        relay.text
    );
    // A new problem on the closed case: a new case about the same product.
    let again = reply_to(&ack, &ana, &support, "w4@x.test", "Ha vuelto a fallar hoy.");
    send_mail(&ana, &[&support], &again).await;
    eventually("case #2 opened", || async {
        desk.store().case_by_number(2).await.unwrap().is_some()
    })
    .await;
    desk.stop().await;
    let second = desk.store().case_by_number(2).await.unwrap().unwrap();
    assert_eq!(second.product.as_deref(), Some("Harmony"));
    assert_eq!(second.related_case, Some(1));
}
