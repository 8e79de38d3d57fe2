//! Hostile and broken mail goes through the whole pipeline: kept raw, handled or parked,
//! never a crash, never blocking the mail behind it.

use crate::support::*;

#[tokio::test]
async fn malformed_mail_is_stored_and_handled() {
    let mut desk = Desk::new("hostile").await;
    let support = desk.names.support();
    // Senders of the samples are provisioned, so their mail goes as far as it can.
    for who in ["ana", "taro", "li", "jose", "nido", "b", "a"] {
        desk.customer(&format!("{who}@example.test"), None).await;
    }
    let samples = buzon::hostile::samples();
    for (_, raw) in &samples {
        append(&support, raw).await;
    }
    let after = plain_mail(
        "ana@example.test",
        &support,
        "Después de la tormenta",
        "after@x",
        "hola",
    );
    append(&support, &after).await;
    desk.start();
    eventually("every mail processed", || async {
        let counts = desk.store().inbound_counts().await.unwrap();
        counts
            .iter()
            .filter(|(s, _)| s != "pending")
            .map(|(_, n)| n)
            .sum::<i64>()
            == samples.len() as i64 + 1
    })
    .await;
    desk.stop().await;
    let cases = desk.store().cases(&Default::default()).await.unwrap();
    assert!(
        cases.iter().any(|c| c.subject == "Después de la tormenta"),
        "the mail behind them was handled"
    );
    let by_subject = |s: &str| {
        cases
            .iter()
            .find(|c| c.subject.contains(s))
            .unwrap_or_else(|| panic!("{s} in {cases:?}"))
    };
    assert_eq!(
        by_subject("Nido").description,
        "fondo",
        "10,000 nested parts parsed to the bottom"
    );
    assert!(by_subject("Cortado").description.contains("Empieza bien"));
    assert!(
        by_subject("Producci").subject.contains("ca"),
        "8-bit headers kept readable"
    );
    // Every mail is kept raw, whatever became of it.
    let failed = desk.store().failed_inbound().await.unwrap();
    for row in failed.iter() {
        assert!(desk.app.blobs.get(&row.raw_hash).await.is_ok());
        assert!(
            row.error.as_deref().unwrap_or("").contains("not an email"),
            "{row:?}"
        );
    }
    assert!(
        failed.len() <= 2,
        "only what is not mail at all is parked: {failed:?}"
    );
}

/// Inputs the fuzzer found crashing (none so far) stay fixed.
#[test]
fn fuzz_findings_stay_fixed() {
    let dir = repo_root().join("tests/fixtures/fuzz-crashes");
    let mut replayed = 0;
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let raw = std::fs::read(entry.path()).unwrap();
        if let Ok(message) = buzon::parse::parse(&raw) {
            let _ = buzon::quotes::new_text(&message.text, &[]);
            let _ = buzon::commands::parse(&message.text, &[]);
        }
        replayed += 1;
    }
    // The hostile samples themselves are the standing regression set.
    for (name, raw) in buzon::hostile::samples() {
        let parsed = std::panic::catch_unwind(|| {
            buzon::parse::parse(&raw).map(|m| buzon::quotes::new_text(&m.text, &[]))
        });
        assert!(parsed.is_ok(), "{name} panicked");
        replayed += 1;
    }
    assert!(replayed >= buzon::hostile::samples().len());
}

/// A mail that fails half-way through its effects, in the middle of a batch: only it is
/// parked; the mails before and after it in the same batch keep theirs (the batch runs
/// again with a savepoint per mail). The database itself refuses the mail here.
#[tokio::test]
async fn a_mail_failing_half_way_spoils_nothing_else_in_its_batch() {
    let mut desk = Desk::new("half-way").await;
    let support = desk.names.support();
    let customer = desk.names.addr("cliente");
    desk.customer(&customer, None).await;
    desk.store()
        .execute_raw(
            "CREATE TRIGGER poison BEFORE INSERT ON cases WHEN NEW.subject = 'Veneno'
             BEGIN SELECT RAISE(ABORT, 'this database refuses poison'); END",
        )
        .await
        .unwrap();
    for (subject, id) in [
        ("Antes", "before"),
        ("Veneno", "poison"),
        ("Después", "after"),
    ] {
        append(
            &support,
            &plain_mail(
                &customer,
                &support,
                subject,
                &format!("{id}@cliente.test"),
                "x",
            ),
        )
        .await;
    }
    desk.start();
    wait_for_mail(&customer, 2).await;
    eventually("the poison parked", || async {
        !desk.store().failed_inbound().await.unwrap().is_empty()
    })
    .await;
    desk.stop().await;

    let subjects: Vec<String> = desk
        .store()
        .cases(&Default::default())
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.subject)
        .collect();
    assert_eq!(subjects.len(), 2, "{subjects:?}");
    assert!(subjects.contains(&"Antes".to_string()) && subjects.contains(&"Después".to_string()));
    let failed = desk.store().failed_inbound().await.unwrap();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0].message_id.as_deref(), Some("poison@cliente.test"));
    assert!(
        failed[0]
            .error
            .as_deref()
            .unwrap_or("")
            .contains("refuses poison"),
        "{:?}",
        failed[0].error
    );
    let acks = mailbox(&customer).await;
    assert_eq!(acks.len(), 2, "no acknowledgement for the refused mail");
}
