//! The batch on its own: what the daemon's apply path cannot be made to show on demand.

use std::path::Path;

use super::*;
use crate::daemon::App;
use crate::store::FetchedMail;

/// A desk on a fresh SQLite file under `dir`, every blob a file (none kept inline).
async fn app(dir: &Path) -> App {
    let text = format!(
        "{minimal}\n[database]\nurl = \"sqlite://{db}\"\n[storage]\ndir = \"{blobs}\"\nfsync = false\n",
        minimal = crate::config::tests::MINIMAL,
        db = dir.join("buzon.db").display(),
        blobs = dir.join("blobs").display(),
    );
    let config = crate::config::from_toml(&text, &[]).expect("test configuration");
    App::build(config).await.expect("app")
}

/// Every file under `dir`, staged or published.
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                todo.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found
}

#[tokio::test]
async fn a_batch_dropped_without_commit_leaves_no_file_behind() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let before = files_under(app.blobs.root());
    let mut batch = Batch::begin(&app.store, &app.blobs, BatchMode::AllOrNothing)
        .await
        .unwrap();
    let bytes = vec![7u8; 300 * 1024];
    let hash = batch.put_blob(bytes.clone()).await.unwrap();
    assert_eq!(
        batch.read_blob(&hash.0).await.unwrap(),
        bytes,
        "the batch reads what it staged"
    );
    assert!(
        files_under(app.blobs.root()).len() > before.len(),
        "the bytes are staged in a file"
    );
    drop(batch);
    assert_eq!(
        files_under(app.blobs.root()),
        before,
        "Drop discarded the staged file"
    );
    assert!(
        app.blobs.get(&hash.0).await.is_err(),
        "nothing was published"
    );
}

#[tokio::test]
async fn a_committed_batch_publishes_its_files() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let mut batch = Batch::begin(&app.store, &app.blobs, BatchMode::AllOrNothing)
        .await
        .unwrap();
    let bytes = vec![9u8; 300 * 1024];
    let hash = batch.put_blob(bytes.clone()).await.unwrap();
    batch.commit().await.unwrap();
    assert_eq!(app.blobs.get(&hash.0).await.unwrap(), bytes);
}

#[tokio::test]
async fn a_refused_run_is_run_again_with_a_savepoint_per_mail() {
    let mut modes = Vec::new();
    let steps = with_savepoints_if_refused(BatchMode::AllOrNothing, |mode| {
        modes.push(mode);
        async move {
            match mode {
                BatchMode::AllOrNothing => Err(ApplyError::NeedsSavepoints),
                BatchMode::SavepointPerMail => Ok(vec![Step::Idle]),
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(
        modes,
        [BatchMode::AllOrNothing, BatchMode::SavepointPerMail]
    );
    assert_eq!(steps, vec![Step::Idle]);
    // A passing error is not retried here: the batch goes back to wait.
    let mut runs = 0;
    let passing = with_savepoints_if_refused(BatchMode::AllOrNothing, |_| {
        runs += 1;
        async { Err(ApplyError::Permanent("x".into())) }
    })
    .await;
    assert!(passing.is_err());
    assert_eq!(runs, 1);
}

/// Two strangers' mails in the inbound queue, claimed as a batch.
async fn two_claimed_mails(app: &App) -> Vec<InboundRow> {
    let mut fetched = Vec::new();
    for i in 1..=2u32 {
        let raw = format!(
            "From: Desconocido <nadie{i}@otro.test>\r\nTo: soporte@example.test\r\nSubject: Hola {i}\r\nMessage-ID: <m{i}@otro.test>\r\n\r\nHola.\r\n"
        );
        let hash = app.blobs.put(raw.as_bytes()).await.unwrap();
        fetched.push(FetchedMail {
            uid: i,
            message_id: Some(format!("m{i}@otro.test")),
            dedupe_key: format!("mid:m{i}@otro.test"),
            raw_hash: hash.0,
            raw_size: raw.len(),
            raw_inline: None,
        });
    }
    app.store
        .record_fetched("INBOX", 1, &fetched)
        .await
        .unwrap();
    app.store.claim_inbound_batch(10, 1 << 20).await.unwrap()
}

#[tokio::test]
async fn a_mail_applied_elsewhere_refuses_the_batch_and_the_rerun_skips_it() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let processor = app.processor();
    let rows = two_claimed_mails(&app).await;
    assert_eq!(rows.len(), 2);
    // Another process applies the first mail after this one claimed the batch.
    let elsewhere = app.store.begin_apply(rows[0].id).await.unwrap().unwrap();
    elsewhere.finish("access_denied", false).await.unwrap();

    let refused = processor.run_batch(&rows, BatchMode::AllOrNothing).await;
    assert!(
        matches!(refused, Err(ApplyError::NeedsSavepoints)),
        "{refused:?}"
    );
    let steps = processor
        .run_batch(&rows, BatchMode::SavepointPerMail)
        .await
        .unwrap();
    let outcomes: Vec<_> = steps
        .iter()
        .map(|s| match s {
            Step::Done { outcome, .. } => Some(*outcome),
            _ => None,
        })
        .collect();
    assert_eq!(
        outcomes,
        vec![Some(Outcome::Duplicate), Some(Outcome::AccessDenied)],
        "the first mail is not applied twice, the second is applied"
    );
}
