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
