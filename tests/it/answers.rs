//! Issue 13 items 5 and 7: a colleague's answer to a forwarded case mail, and requests that
//! name a case.

use buzon::store::CustomerRow;

use crate::support::*;

async fn customer_of(desk: &Desk, email: &str, org: &str) {
    desk.store()
        .add_customer(&CustomerRow {
            email: email.to_string(),
            name: None,
            org_domain: Some(org.to_string()),
            language: Some("es".into()),
        })
        .await
        .unwrap();
}

/// `from` answers, with `cc` copied, the mail Carla forwarded inline (mutt's default):
/// the subject is mutt's, the references name only Carla's forward.
/// Carla's case #1 about the printer; her acknowledgement.
async fn printer_case(desk: &Desk, carla: &str) -> Vec<u8> {
    let id = format!("c1-{}@x.test", desk.names.tag);
    desk.write(carla, "La impresora no imprime", &id, "No imprime nada.")
        .await;
    wait_for_mail(carla, 1).await.remove(0)
}

fn answer_to_forward(desk: &Desk, from: &str, cc: &str, id: &str, ack: &[u8]) -> Vec<u8> {
    let support = desk.names.support();
    let quoted: String = parsed(ack)
        .text
        .lines()
        .map(|l| format!("> > {l}\r\n"))
        .collect();
    format!(
        "From: {from}\r\nTo: {support}\r\nCc: {cc}\r\nSubject: Re: [{support}: [Caso #1] La impresora no imprime]\r\nMessage-ID: <{id}>\r\nIn-Reply-To: <fwd-{tag}@cliente.test>\r\nReferences: <fwd-{tag}@cliente.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nA mí también me pasa desde el lunes.\r\n\r\nOn Mon, Nov 30, 2026 at 09:00:00AM +0100, Carla wrote:\r\n> Pedro, mira lo que dice soporte.\r\n>\r\n> ----- Forwarded message from Soporte Test <{support}> -----\r\n>\r\n{quoted}>\r\n> ----- End forwarded message -----\r\n",
        tag = desk.names.tag,
    )
    .into_bytes()
}

#[tokio::test]
async fn a_colleagues_answer_to_a_forwarded_case_mail_is_a_comment() {
    let mut desk = Desk::new("colleague").await;
    let (carla, pedro) = (desk.names.addr("carla"), desk.names.addr("pedro"));
    customer_of(&desk, &carla, "cliente.test").await;
    customer_of(&desk, &pedro, "cliente.test").await;
    desk.start();
    let id = |n: &str| format!("{n}-{}@x.test", desk.names.tag);
    let ack = printer_case(&desk, &carla).await;
    let support = desk.names.support();
    let mail = answer_to_forward(&desk, &pedro, &carla, &id("p1"), &ack);
    send_mail(&pedro, &[&support], &mail).await;
    wait_for_mail(&desk.names.addr("agente"), 2).await;
    desk.stop().await;

    let cases = desk.store().cases(&Default::default()).await.unwrap();
    assert_eq!(cases.len(), 1, "no new case: {cases:?}");
    let case = desk.store().case_by_number(1).await.unwrap().unwrap();
    let people = desk.store().case_participants(case.id).await.unwrap();
    assert!(people.iter().any(|(e, _)| *e == pedro), "{people:?}");
    let history = desk.store().case_emails(case.id).await.unwrap();
    let comment = history.iter().find(|e| e.kind == "comment").unwrap();
    assert_eq!(
        comment.body_text.as_deref(),
        Some("A mí también me pasa desde el lunes.")
    );
}

#[tokio::test]
async fn outsiders_answering_a_forwarded_case_mail_never_reach_the_case() {
    let mut desk = Desk::new("outsider").await;
    let (carla, olga) = (desk.names.addr("carla"), desk.names.addr("olga"));
    let stranger = desk.names.addr("extrano");
    customer_of(&desk, &carla, "cliente.test").await;
    customer_of(&desk, &olga, "otro.test").await;
    desk.start();
    let id = |n: &str| format!("{n}-{}@x.test", desk.names.tag);
    let ack = printer_case(&desk, &carla).await;
    let support = desk.names.support();
    let agent = desk.names.addr("agente");
    let mail = answer_to_forward(&desk, &olga, &carla, &id("o1"), &ack);
    send_mail(&olga, &[&support], &mail).await;
    let notes = wait_for_mail(&agent, 2).await;
    let mail = answer_to_forward(&desk, &stranger, &carla, &id("x1"), &ack);
    send_mail(&stranger, &[&support], &mail).await;
    let denied = wait_for_mail(&stranger, 1).await;
    desk.stop().await;

    let cases = desk.store().cases(&Default::default()).await.unwrap();
    assert_eq!(cases.len(), 2, "{cases:?}");
    let first = desk.store().case_by_number(1).await.unwrap().unwrap();
    let people = desk.store().case_participants(first.id).await.unwrap();
    assert_eq!(people.len(), 1, "only Carla on #1: {people:?}");
    let history = desk.store().case_emails(first.id).await.unwrap();
    assert!(history.iter().all(|e| e.kind != "comment"), "{history:?}");

    let second = desk.store().case_by_number(2).await.unwrap().unwrap();
    assert_eq!(second.requester, olga);
    assert_eq!(
        second.description, "A mí también me pasa desde el lunes.",
        "the new words, not the forwarded thread"
    );
    let note = parsed(&notes[1]);
    assert!(note.subject.contains("Caso #2"), "{}", note.subject);
    assert!(
        note.text.contains("Menciona:  Caso #1"),
        "the agents learn which case it mentions:\n{}",
        note.text
    );
    assert!(
        !parsed(&denied[0]).text.contains("Caso #1"),
        "the stranger is refused"
    );
}

#[tokio::test]
async fn requests_that_name_a_case_stay_requests() {
    let mut desk = Desk::new("tagged-req").await;
    let ana = desk.names.addr("ana");
    desk.customer(&ana, Some("es")).await;
    desk.start();
    let id = |n: &str| format!("{n}-{}@x.test", desk.names.tag);
    desk.write(
        &ana,
        "Factura duplicada",
        &id("a1"),
        "La factura 7 sale dos veces.",
    )
    .await;
    wait_for_mail(&ana, 1).await;
    desk.write(&ana, "historial del caso #1", &id("a2"), "")
        .await;
    let history = parsed(&wait_for_mail(&ana, 2).await[1]);
    assert!(
        history.subject.starts_with("[Caso #1] Historial"),
        "{}",
        history.subject
    );
    desk.write(&ana, "mis casos [Caso #1]", &id("a3"), "Gracias")
        .await;
    let list = parsed(&wait_for_mail(&ana, 3).await[2]);
    assert!(list.subject.starts_with("Sus casos: 1"), "{}", list.subject);
    assert!(
        list.text.contains("última actividad 2026-") && list.text.contains(" (UTC)"),
        "times name their zone: {}",
        list.text
    );
    desk.write(
        &ana,
        "[Caso #1] La factura sigue duplicada",
        &id("a4"),
        "Y ahora también la 8.",
    )
    .await;
    wait_for_mail(&desk.names.addr("agente"), 2).await;
    desk.stop().await;

    let case = desk.store().case_by_number(1).await.unwrap().unwrap();
    let comments: Vec<_> = desk
        .store()
        .case_emails(case.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "comment")
        .map(|e| e.body_text.unwrap_or_default())
        .collect();
    assert_eq!(
        comments,
        vec!["Y ahora también la 8.".to_string()],
        "only the tagged mail that is no request is a comment"
    );
}

#[tokio::test]
async fn whoever_changes_the_case_reads_usted_and_the_others_a_name() {
    let mut desk = Desk::new("usted").await;
    let (carla, luis) = (desk.names.addr("carla"), desk.names.addr("luis"));
    let (agent, support) = (desk.names.addr("agente"), desk.names.support());
    for (who, name) in [(&carla, "Carla Gómez"), (&luis, "Luis")] {
        desk.store()
            .add_customer(&CustomerRow {
                email: who.clone(),
                name: Some(name.into()),
                org_domain: None,
                language: Some("es".into()),
            })
            .await
            .unwrap();
    }
    desk.start();
    let id = |n: &str| format!("{n}-{}@x.test", desk.names.tag);
    let opening = plain_mail(&carla, &support, "No imprime", &id("u1"), "Nada.");
    let opening = [format!("Cc: {luis}\r\n").as_bytes(), &opening].concat();
    send_mail(&carla, &[&support], &opening).await;
    let ack = wait_for_mail(&carla, 1).await.remove(0);
    let note = wait_for_mail(&agent, 1).await.remove(0);
    let named_agent = format!("Pepe Agente <{agent}>");
    let raise = reply_to(&note, &named_agent, &support, &id("u2"), "Severidad: 1");
    send_mail(&agent, &[&support], &raise).await;
    let updated = parsed(&wait_for_mail(&luis, 1).await[0]);
    assert!(
        updated
            .text
            .contains("Pepe (Soporte Test) ha actualizado el Caso #1:"),
        "{}",
        updated.text
    );
    assert!(!updated.text.contains(&agent), "no agent address");

    let close = reply_to(&ack, &carla, &support, &id("u3"), "cerrar");
    send_mail(&carla, &[&support], &close).await;
    let own = parsed(&wait_for_mail(&carla, 3).await[2]);
    assert!(
        own.text.contains("Ha cerrado el Caso #1 (\"No imprime\")."),
        "{}",
        own.text
    );
    assert!(!own.text.contains("Carla Gómez"), "{}", own.text);
    assert_eq!(own.to.len(), 1, "a copy of her own");
    let others = parsed(&wait_for_mail(&luis, 2).await[1]);
    assert!(
        others.text.contains("ha sido cerrado por Carla Gómez."),
        "{}",
        others.text
    );
    assert!(
        others.to.iter().all(|m| m.address.as_str() != carla),
        "{:?}",
        others.to
    );
    desk.stop().await;
}

/// The organisation rule 5 compares, on both databases: a customer row's `org_domain`,
/// else the address's domain when it is a registered organisation; a customer provisioned
/// alone has none.
#[tokio::test]
async fn organisations_come_from_customer_rows_and_registered_domains() {
    for db in [Db::Sqlite, Db::Postgres] {
        let dir = tempfile::tempdir().unwrap();
        let store = buzon::store::Store::connect(&fresh_database(db, dir.path()).await)
            .await
            .unwrap();
        store.migrate().await.unwrap();
        for (email, org) in [
            ("carla@correo.test", Some("Cliente.test")),
            ("solo@correo.test", None),
        ] {
            store
                .add_customer(&CustomerRow {
                    email: email.into(),
                    name: None,
                    org_domain: org.map(str::to_string),
                    language: None,
                })
                .await
                .unwrap();
        }
        store.add_org("cliente.test", None).await.unwrap();
        let mut tx = store
            .begin_batch(buzon::store::BatchMode::AllOrNothing)
            .await
            .unwrap();
        for (email, org) in [
            ("carla@correo.test", Some("cliente.test")),
            ("pedro@cliente.test", Some("cliente.test")),
            ("solo@correo.test", None),
            ("extrano@otro.test", None),
        ] {
            let found = tx.organisation_of(email).await.unwrap();
            assert_eq!(found.as_deref(), org, "{db:?} {email}");
        }
    }
}
