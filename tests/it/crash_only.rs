//! Crash-only processing (issue 12): a mail that takes the process down every time it is
//! processed is parked after `CRASHES_BEFORE_PARKING` deaths, and the mail behind it goes
//! through. The process really dies here: `BUZON_CRASH_AT=parse.poison` aborts `buzon run`
//! while it parses a mail carrying `buzon::crash::POISON_HEADER`, as a stack overflow did.

use std::time::Duration;

use crate::support::*;

async fn a_mail_that_kills_the_process_is_parked(db: Db) {
    let desk = Desk::with(
        "crash-only",
        DeskOptions {
            db,
            ..Default::default()
        },
    )
    .await;
    let support = desk.names.support();
    let customer = desk.names.addr("cliente");
    desk.customer(&customer, None).await;
    let header = String::from_utf8_lossy(buzon::crash::POISON_HEADER);
    let poison = plain_mail(&customer, &support, "Veneno", "poison@x", "x");
    let poison = [format!("{header} yes\r\n").as_bytes(), &poison[..]].concat();
    append(&support, &poison).await;
    append(
        &support,
        &plain_mail(&customer, &support, "Detrás", "behind@x", "hola"),
    )
    .await;

    let log = desk.path("buzon.log");
    let limit = buzon::apply::CRASHES_BEFORE_PARKING as usize;
    for death in 1..=limit {
        let mut child = desk.spawn(Some("parse.poison"), &log);
        let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
            .await
            .unwrap();
        assert!(
            !status.success(),
            "death {death}: the poison killed the process"
        );
    }
    // The next start parks the poison and goes on with the mail behind it.
    let mut child = desk.spawn(Some("parse.poison"), &log);
    wait_for_mail(&customer, 1).await;
    eventually("the poison parked", || async {
        !desk.store().failed_inbound().await.unwrap().is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(child.try_wait().unwrap().is_none(), "still running");
    child.kill().unwrap();
    child.wait().unwrap();

    let failed = desk.store().failed_inbound().await.unwrap();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0].message_id.as_deref(), Some("poison@x"));
    let error = failed[0].error.clone().unwrap_or_default();
    assert!(error.contains(&format!("died {limit} times")), "{error}");
    assert!(
        desk.app.blobs.get(&failed[0].raw_hash).await.is_ok(),
        "kept raw"
    );
    let cases = desk.store().cases(&Default::default()).await.unwrap();
    let subjects: Vec<&str> = cases.iter().map(|c| c.subject.as_str()).collect();
    assert_eq!(subjects, ["Detrás"], "only the mail behind it made a case");
    let listed = desk.cli(&["failed"]);
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.contains("died 3 times"),
        "buzon failed lists it: {listed}"
    );

    // `buzon retry` puts it back with a clean slate: the next death counts from one.
    let retried = desk.cli(&["retry", &failed[0].id.to_string()]);
    assert!(retried.status.success());
    let row = desk.store().inbound(failed[0].id).await.unwrap().unwrap();
    assert_eq!((row.state.as_str(), row.attempts), ("pending", 0));
}

#[tokio::test]
async fn a_mail_that_kills_the_process_is_parked_sqlite() {
    a_mail_that_kills_the_process_is_parked(Db::Sqlite).await;
}

#[tokio::test]
async fn a_mail_that_kills_the_process_is_parked_postgres() {
    a_mail_that_kills_the_process_is_parked(Db::Postgres).await;
}
