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
    let samples = crate::hostile_mail::samples();
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
    all_processed(&desk, samples.len() as i64 + 1).await;
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
    // 10,000 nested multiparts: the tree is cut at buzon::parse::MAX_NESTING_DEPTH (issue
    // 12: mail-parser's tree of a mail nested that deep crashed the process), so the text
    // at the bottom is no longer the description. A boundary is a prefix (`--b310` ends a
    // part of `b31`), so this mail comes out as 111 cut parts (most of them empty), of which `max_attachments`
    // takes the first 50; the rest, "fondo" with it, stays in the raw mail.
    let nest = by_subject("Nido");
    assert!(!nest.description.contains("fondo"), "{nest:?}");
    let cut = desk.store().case_attachments(nest.id).await.unwrap();
    assert_eq!(cut.len(), 50, "{cut:?}");
    assert!(
        cut.iter().all(|a| a.filename == "parte-anidada.bin"),
        "{cut:?}"
    );
    assert!(
        cut[0].size > 10_000,
        "the first cut part holds levels 32 to 310"
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
    for (name, raw) in crate::hostile_mail::samples() {
        let parsed = std::panic::catch_unwind(|| {
            buzon::parse::parse(&raw).map(|m| buzon::quotes::new_text(&m.text, &[]))
        });
        assert!(parsed.is_ok(), "{name} panicked");
        replayed += 1;
    }
    assert!(replayed >= crate::hostile_mail::samples().len());
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

/// Each of issue 12's bombs parses (no crash, on a test thread's ordinary stack) into the
/// structure the bounds promise: the text above the cut is the mail's text, the text below
/// it is kept in an opaque attachment; deep HTML keeps every word.
#[test]
fn hostile_bombs_parse_within_their_bounds() {
    let holds = |bytes: &[u8], word: &str| bytes.windows(word.len()).any(|w| w == word.as_bytes());
    for (name, make) in crate::hostile_mail::bombs() {
        let message = buzon::parse::parse(&make()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let cut: Vec<_> = message
            .attachments
            .iter()
            .filter(|a| a.filename == "parte-anidada.bin")
            .collect();
        match name {
            "message-nesting-40000" => {
                assert_eq!(message.text, "arriba", "{name}");
                // The first message/rfc822 part holds the levels down to the cut.
                assert_eq!(message.attachments.len(), 1, "{name}");
                assert!(holds(&message.attachments[0].bytes, "fondo"), "{name}");
            }
            "multipart-nesting-100000" => {
                // `--b310` ends a part of `b31` (a boundary is a prefix, for mail-parser and
                // the cut alike), so each such line starts a part that is cut again.
                assert!(!cut.is_empty(), "{name}");
                assert!(cut.iter().any(|a| holds(&a.bytes, "fondo")), "{name}");
            }
            "encoded-message-nesting" => {
                assert_eq!(cut.len(), 1, "{name}: the encoded layer is opaque");
                assert!(holds(&cut[0].bytes, "Capa cifrada 1"), "{name}");
            }
            "simple-html-14mb" => {
                assert!(message.text.starts_with("arriba"), "{name}");
                assert!(message.text.ends_with("final del correo"), "{name}");
            }
            _ => {
                assert!(
                    message.text.starts_with("arriba"),
                    "{name}: {:.80}",
                    message.text
                );
                assert!(message.text.contains("fondo"), "{name}");
            }
        }
        let _ = buzon::quotes::new_text(&message.text, &[]);
    }
}

/// Generated nesting of every kind (the fuzzer's generator) parses on an ordinary stack.
/// In a debug build mail-parser's own `debug_assert!`s fire on some of these structures
/// (no-ops in release): buzon's layer must add no panic of its own.
#[test]
fn generated_nesting_parses() {
    let mut rng = fastrand::Rng::with_seed(12);
    for i in 0..20 {
        let raw = crate::hostile_mail::random_nesting(&mut rng);
        let ours = std::panic::catch_unwind(|| {
            buzon::parse::parse(&raw).map(|m| buzon::quotes::new_text(&m.text, &[]))
        });
        if ours.is_err() {
            let theirs = std::panic::catch_unwind(|| {
                // Never dropped: without buzon's care this tree may be too deep to drop.
                std::mem::forget(mail_parser::MessageParser::default().parse(&raw))
            });
            assert!(
                theirs.is_err(),
                "input {i}: buzon panicked where mail-parser did not"
            );
        }
    }
}

/// The message/rfc822 bomb that crash-looped the daemon and an HTML bomb that stalled it
/// for minutes, appended to the real mailbox ahead of a customer's mail: all three are
/// handled and kept raw, and the customer's mail is acknowledged within the usual wait.
#[tokio::test]
async fn bombs_in_the_mailbox_do_not_hold_up_the_mail_behind_them() {
    let mut desk = Desk::new("bombs").await;
    let support = desk.names.support();
    let customer = desk.names.addr("cliente");
    for who in [
        "matrioska@example.test",
        "html@example.test",
        customer.as_str(),
    ] {
        desk.customer(who, None).await;
    }
    append(&support, &crate::hostile_mail::message_nesting(40_000)).await;
    let div = crate::hostile_mail::nested_html("div", 100_000);
    append(&support, &crate::hostile_mail::html_mail(&div)).await;
    let after = plain_mail(
        &customer,
        &support,
        "Detrás de las bombas",
        "behind@x",
        "hola",
    );
    append(&support, &after).await;
    desk.start();
    wait_for_mail(&customer, 1).await;
    all_processed(&desk, 3).await;
    desk.stop().await;
    let cases = desk.store().cases(&Default::default()).await.unwrap();
    let subject = |s: &str| cases.iter().find(|c| c.subject == s);
    assert!(subject("Detrás de las bombas").is_some(), "{cases:?}");
    let matrioska = subject("Matrioska").expect("the nesting bomb made a case");
    assert_eq!(matrioska.description, "arriba");
    let html = subject("HTML hostil").expect("the HTML bomb made a case");
    assert!(
        html.description.contains("fondo"),
        "{:.200}",
        html.description
    );
    for id in 1..=3 {
        let row = desk.store().inbound(id).await.unwrap().expect("row");
        assert!(
            desk.app.blobs.get(&row.raw_hash).await.is_ok(),
            "{row:?} kept raw"
        );
    }
}
