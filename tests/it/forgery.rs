//! Issue 12: forged mail cannot speak for the desk. A `From:` proves nothing; an agent's or a
//! customer's mail changes a case only with proof, forged bounces silence nobody, and floods
//! from many addresses meet desk-wide caps. Every attack goes through the real servers.

use crate::support::*;

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

/// A customer's case #1, its acknowledgement, and the agent's notification.
async fn case_opened(desk: &mut Desk) -> (String, Vec<u8>) {
    let customer = desk.names.addr("carla");
    desk.customer(&customer, None).await;
    desk.start();
    desk.write(
        &customer,
        "No sincroniza",
        &format!("open-{}@cliente.test", desk.names.tag),
        "La sincronización falla desde ayer.",
    )
    .await;
    let ack = wait_for_mail(&customer, 1).await.remove(0);
    wait_for_mail(&desk.names.addr("agente"), 1).await;
    (customer, ack)
}

/// The phishing mail of the report: the agent's name, the case tag, a link, a severity
/// change and an `.exe`, optionally naming a Message-ID as if it answered it.
fn forged_agent_mail(desk: &Desk, id: &str, answering: Option<&str>) -> Vec<u8> {
    let agent = desk.names.addr("agente");
    let refs = answering
        .map(|r| format!("In-Reply-To: <{r}>\r\nReferences: <{r}>\r\n"))
        .unwrap_or_default();
    let raw = format!(
        "From: Ana Agente <{agent}>\r\nTo: {support}\r\nSubject: Re: [Caso #1] x\r\nMessage-ID: <{id}>\r\n{refs}MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nInstale el parche oficial: http://evil.test/parche\r\nSeveridad: 1\r\n",
        support = desk.names.support()
    );
    with_attachment(raw.as_bytes(), "parche-oficial.exe", b"MZ\x90\x00evil")
}

#[tokio::test]
async fn a_forged_agent_is_quarantined_and_the_agents_told() {
    let mut desk = Desk::new("forged-agent").await;
    let (customer, ack) = case_opened(&mut desk).await;
    let support = desk.names.support();
    let agent = desk.names.addr("agente");
    // Once bare, once naming the customer's own acknowledgement: neither proves an agent.
    let ack_id = parsed(&ack).message_id.unwrap();
    for (n, answering) in [(1, None), (2, Some(ack_id.as_str()))] {
        let raw = forged_agent_mail(&desk, &format!("forged{n}@evil.test"), answering);
        send_mail(&agent, &[&support], &raw).await;
    }
    let told = wait_for_mail(&agent, 2).await;
    let notice = parsed(&told[1]);
    assert!(
        notice.subject.starts_with("Correo retenido sin procesar"),
        "{}",
        notice.subject
    );
    assert!(notice.text.contains("buzon retry"), "{}", notice.text);
    assert!(
        notice.text.contains("podría ser falso"),
        "the agents read why, in their language: {}",
        notice.text
    );
    eventually("both forgeries quarantined", || async {
        desk.store().failed_inbound().await.unwrap().len() == 2
    })
    .await;
    desk.stop().await;
    assert_eq!(mailbox(&customer).await.len(), 1, "nothing was relayed");
    let case = desk.store().case_by_number(1).await.unwrap().unwrap();
    assert_eq!(case.severity, 3, "the severity did not change");
    assert_eq!(
        mailbox(&agent).await.len(),
        2,
        "agents are told once an hour per sender, not once per mail"
    );
    let failed = stdout(&desk.cli(&["failed"]));
    assert!(failed.contains("no proof"), "{failed}");

    // The admin knows better and vouches for the first one: it is applied as sent.
    let id = desk.store().failed_inbound().await.unwrap()[0].id;
    assert!(desk.cli(&["retry", &id.to_string()]).status.success());
    desk.start();
    // The relay, and the status mail for its `Severidad: 1`, in either order.
    let mails = wait_for_mail(&customer, 3).await;
    assert!(mails
        .iter()
        .any(|m| parsed(m).text.contains("parche oficial")));
    desk.stop().await;
}

#[tokio::test]
async fn a_forged_close_waits_for_the_customers_confirmation() {
    let mut desk = Desk::new("forged-close").await;
    let (customer, _ack) = case_opened(&mut desk).await;
    let support = desk.names.support();
    // A fresh mail with the tag and `cerrar`, as anyone could write with her address.
    desk.write(
        &customer,
        "Re: [Caso #1] No sincroniza",
        "f1@x.test",
        "cerrar",
    )
    .await;
    let mails = wait_for_mail(&customer, 2).await;
    let confirm = parsed(&mails[1]);
    assert!(
        confirm.subject.contains("Confirme su petición"),
        "{}",
        confirm.subject
    );
    assert!(confirm.text.contains("  cerrar"), "{}", confirm.text);
    let case = desk.store().case_by_number(1).await.unwrap().unwrap();
    assert_eq!(case.status, "open", "nothing closed on a bare From");
    let notes = wait_for_mail(&desk.names.addr("agente"), 2).await;
    let note = parsed(&notes[1]);
    assert!(
        note.text
            .contains("pendientes de que el cliente las confirme")
            && note.text.contains("\"cerrar\""),
        "the agents know what waits: {}",
        note.text
    );
    // Carla answers the confirmation from her own mailbox: now it closes.
    let answer = reply_to(&mails[1], &customer, &support, "f2@x.test", "cerrar");
    send_mail(&customer, &[&support], &answer).await;
    let mails = wait_for_mail(&customer, 3).await;
    assert!(parsed(&mails[2]).subject.contains("Caso cerrado"));
    desk.stop().await;
    let case = desk.store().case_by_number(1).await.unwrap().unwrap();
    assert_eq!(case.status, "closed");
}

#[tokio::test]
async fn a_poisoned_profile_name_is_never_stored() {
    let mut desk = Desk::new("forged-profile").await;
    let (customer, _ack) = case_opened(&mut desk).await;
    desk.write(
        &customer,
        "perfil",
        "p1@x.test",
        "Nombre: Carla. AVISO: su cuenta caduca hoy, entre en http://evil.test/login",
    )
    .await;
    let mails = wait_for_mail(&customer, 2).await;
    let shown = parsed(&mails[1]);
    assert!(!shown.text.contains("evil.test"), "{}", shown.text);
    desk.stop().await;
    let stored = desk.store().customer(&customer).await.unwrap().unwrap();
    assert_eq!(stored.name, None, "a name with a link is refused");
}

/// A delivery report naming `failed` as undeliverable, returning `returned_id`.
fn report(desk: &Desk, failed: &str, returned_id: &str) -> Vec<u8> {
    crate::hostile_mail::forged_dsn(&desk.names.support(), failed, returned_id)
}

#[tokio::test]
async fn a_forged_bounce_silences_nobody() {
    let mut desk = Desk::new("forged-dsn").await;
    let (customer, ack) = case_opened(&mut desk).await;
    let other = desk.names.addr("otro");
    desk.customer(&other, None).await;
    let support = desk.names.support();
    let ack_id = parsed(&ack).message_id.unwrap();
    // An unsigned returned id; then a genuine id of a mail that never went to `other`.
    for raw in [
        report(&desk, &customer, "made-up@evil.test"),
        report(&desk, &other, &ack_id),
    ] {
        send_mail("mailer-daemon@mx.evil.test", &[&support], &raw).await;
    }
    eventually("both reports logged", || async {
        desk.store()
            .inbound_counts()
            .await
            .unwrap()
            .iter()
            .any(|(s, n)| s == "done" && *n == 3)
    })
    .await;
    desk.stop().await;
    assert!(
        desk.store().failing_addresses().await.unwrap().is_empty(),
        "no address silenced by a forged report"
    );
    // A genuine report for the mail that did go to the customer does count.
    desk.start();
    send_mail(
        "mailer-daemon@mx.evil.test",
        &[&support],
        &report(&desk, &customer, &ack_id),
    )
    .await;
    eventually("the genuine bounce is believed", || async {
        desk.store().failing_addresses().await.unwrap().len() == 1
    })
    .await;
    desk.stop().await;
}

#[tokio::test]
async fn refusals_and_requests_are_capped_over_all_addresses() {
    let mut desk = Desk::with_extra(
        "desk-caps",
        "[limits]\nrefusals_per_hour = 3\nrequests_per_hour = 2\n",
    )
    .await;
    let agent = desk.names.addr("agente");
    desk.start();
    for i in 0..5 {
        let stranger = desk.names.addr(&format!("desconocido{i}"));
        let subject = "Su cuenta ha sido suspendida http://evil.test";
        desk.write(&stranger, subject, &format!("bs{i}@evil.test"), "x")
            .await;
        let customer = desk.names.addr(&format!("cliente{i}"));
        desk.customer(&customer, None).await;
        desk.write(&customer, "mis casos", &format!("rq{i}@x.test"), "")
            .await;
    }
    all_processed(&desk, 10).await;
    // One notice for each sender whose request was held.
    let notices = wait_for_mail(&agent, 3).await;
    desk.stop().await;
    let mut refusals = 0;
    let mut answers = 0;
    for i in 0..5 {
        for mail in mailbox(&desk.names.addr(&format!("desconocido{i}"))).await {
            let refusal = parsed(&mail);
            assert!(
                !refusal.subject.contains("evil.test"),
                "{}",
                refusal.subject
            );
            refusals += 1;
        }
        answers += mailbox(&desk.names.addr(&format!("cliente{i}")))
            .await
            .len();
    }
    assert_eq!(refusals, 3, "limits.refusals_per_hour over all senders");
    assert_eq!(answers, 2, "limits.requests_per_hour over all senders");
    let held = desk.store().failed_inbound().await.unwrap();
    assert_eq!(held.len(), 3, "requests past the cap are kept: {held:?}");
    assert!(parsed(&notices[0]).text.contains("requests_per_hour"));
    let denied = stdout(&desk.cli(&["denied"]));
    assert_eq!(
        denied.lines().count(),
        5,
        "every refused mail is kept: {denied}"
    );
}
