//! Issue 18 item 3, "nothing shared but the database": on PostgreSQL every blob lives in
//! the database, so a process reads what any other wrote whatever its storage directory;
//! `buzon migrate` moves an older store's files in, and survives being killed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use buzon::blobs::{BlobHash, BlobStore};
use buzon::store::{CaseFilter, Store, PART};
use sqlx::Connection;

use crate::support::*;

/// Every regular file under `dir` (blob files, temporary ones).
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            match entry.file_type().unwrap().is_dir() {
                true => dirs.push(entry.path()),
                false => found.push(entry.path()),
            }
        }
    }
    found
}

/// Bytes that do not compress, of a given size.
fn noise(seed: u64, size: usize) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..size).map(|_| rng.u8(..)).collect()
}

macro_rules! both {
    ($name:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name(super::Db::Sqlite).await;
            }
            #[tokio::test]
            async fn postgres() {
                super::$name(super::Db::Postgres).await;
            }
        }
    };
}

both!(blobs_of_every_size_come_back_from_any_storage_directory);
async fn blobs_of_every_size_come_back_from_any_storage_directory(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&fresh_database(db, dir.path()).await)
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let here = BlobStore::new(dir.path().join("a"), false).with_store(store.clone());
    // Another process, on another machine: the same database, a storage directory of its own.
    let there = BlobStore::new(dir.path().join("b"), false).with_store(store.clone());
    let sizes = [
        10,
        64 * 1024,
        64 * 1024 + 1,
        300_000,
        2 * PART,
        2 * PART + 7,
    ];
    for (i, size) in sizes.into_iter().enumerate() {
        let bytes = noise(i as u64, size);
        let hash = here.put(&bytes).await.unwrap();
        assert_eq!(hash, BlobHash::of(&bytes));
        assert_eq!(here.put(&bytes).await.unwrap(), hash, "stored once");
        assert_eq!(here.get(&hash.0).await.unwrap(), bytes, "{size} bytes");
        let elsewhere = there.get(&hash.0).await;
        match (db, size > 64 * 1024) {
            (Db::Postgres, _) | (Db::Sqlite, false) => {
                assert_eq!(elsewhere.unwrap(), bytes, "{size} bytes read elsewhere")
            }
            // SQLite is one machine's database: its large blobs are files.
            (Db::Sqlite, true) => assert!(elsewhere.is_err()),
        }
    }
    let files = files_under(&dir.path().join("a"));
    match db {
        Db::Postgres => assert!(files.is_empty(), "no file on PostgreSQL: {files:?}"),
        Db::Sqlite => assert_eq!(files.len(), 4, "one file per large blob: {files:?}"),
    }
}

/// `buzon migrate` with this desk's configuration, started as its own process.
fn migrate(desk: &Desk, crash_at: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_buzon"));
    command
        .args(["migrate", "--config"])
        .arg(&desk.config_path)
        .env("BUZON_LOG", "warn")
        .env("BUZON_CRASH_AT", crash_at)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    command
}

async fn count(url: &str, sql: &str) -> i64 {
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    let row: (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_one(&mut conn)
        .await
        .unwrap();
    row.0
}

#[tokio::test]
async fn migrate_moves_files_in_and_survives_kill_9() {
    let desk = Desk::with(
        "migrate",
        DeskOptions {
            db: Db::Postgres,
            ..Default::default()
        },
    )
    .await;
    let root = desk.config().storage.dir.clone();
    // The store of an older buzon: every blob over 64 KiB a file (a store without a
    // database behind it writes files only).
    let old = BlobStore::new(&root, false);
    let mut blobs = Vec::new();
    for i in 0..60 {
        let size = [70_000, 300_000, PART + 1, 3 * PART][i % 4];
        let bytes = noise(100 + i as u64, size);
        blobs.push((old.put(&bytes).await.unwrap(), bytes));
    }
    let small = b"a small blob written as a file before issue 4".to_vec();
    blobs.push((old.put(&small).await.unwrap(), small));
    // The two-level layout of older stores, a damaged file and a staged one left by a kill.
    let legacy = noise(7, 90_000);
    let legacy_hash = BlobHash::of(&legacy).0;
    let legacy_dir = root.join(&legacy_hash[..2]).join(&legacy_hash[2..4]);
    std::fs::create_dir_all(&legacy_dir).unwrap();
    std::fs::write(legacy_dir.join(&legacy_hash), &legacy).unwrap();
    blobs.push((BlobHash(legacy_hash), legacy));
    let damaged = root.join("ee").join("e".repeat(64));
    std::fs::create_dir_all(damaged.parent().unwrap()).unwrap();
    std::fs::write(&damaged, b"not the bytes its name promises").unwrap();
    let staged = root.join(".incoming.1.2");
    std::fs::write(&staged, b"half a mail").unwrap();
    let url = desk.config().database_url.clone();
    let total_files = files_under(&root).len();

    // Killed right after the first file's rows commit, before the file is deleted.
    let out = migrate(&desk, "migrate.before_delete").output().unwrap();
    assert!(!out.status.success(), "the crash point aborts the process");
    let rows = "SELECT count(DISTINCT hash) FROM blob_parts";
    let small_rows = "SELECT count(*) FROM small_blobs";
    let in_database = count(&url, rows).await + count(&url, small_rows).await;
    assert_eq!(in_database, 1, "one blob committed");
    assert_eq!(
        files_under(&root).len(),
        total_files,
        "its file still there"
    );

    // kill -9 at random moments once files are moving.
    let mut rng = fastrand::Rng::with_seed(18);
    let mut mid_way = 0;
    for _ in 0..3 {
        let before = files_under(&root).len();
        let mut child = migrate(&desk, "").spawn().unwrap();
        let started = Instant::now();
        while files_under(&root).len() == before && started.elapsed() < Duration::from_secs(60) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(rng.u64(0..300))).await;
        child.kill().unwrap();
        child.wait().unwrap();
        let left = files_under(&root).len();
        eprintln!("killed migrate: {left} of {before} files left");
        if left > 2 && left < before {
            mid_way += 1;
        }
    }
    assert!(mid_way > 0, "at least one kill landed mid-way");

    let out = migrate(&desk, "").output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "a damaged file stays: {said}");
    assert!(said.contains("damaged"), "{said}");
    let mut left = files_under(&root);
    left.sort();
    assert_eq!(left, vec![staged, damaged], "every blob file moved in");

    // Nothing twice: each blob's parts once; every blob read back by another process.
    let parts: i64 = blobs
        .iter()
        .filter(|(_, b)| b.len() > 64 * 1024)
        .map(|(_, b)| b.len().div_ceil(PART) as i64)
        .sum();
    assert_eq!(count(&url, "SELECT count(*) FROM blob_parts").await, parts);
    assert_eq!(count(&url, small_rows).await, 1);
    let elsewhere = desk.path("another-machine");
    let reader = BlobStore::new(&elsewhere, false).with_store(desk.store().clone());
    for (hash, bytes) in &blobs {
        assert_eq!(&reader.get(&hash.0).await.unwrap(), bytes);
    }
    let again = migrate(&desk, "").output().unwrap();
    assert_eq!(
        again.status.code(),
        Some(1),
        "run again: only the damaged file"
    );
    assert_eq!(count(&url, "SELECT count(*) FROM blob_parts").await, parts);
}

const MANY: &str = "[limits]\nauto_replies_per_hour = 1000000\nnew_cases_per_hour = 1000000\n";

/// Case numbers of the acknowledgements in a mailbox.
fn acknowledged(mails: &[Vec<u8>]) -> std::collections::BTreeSet<i64> {
    mails
        .iter()
        .filter_map(|m| {
            let subject = parsed(m).subject;
            let rest = subject.strip_prefix("[Caso #")?;
            rest.split(']').next()?.parse().ok()
        })
        .collect()
}

#[tokio::test]
async fn two_processes_with_their_own_storage_share_only_the_database() {
    let desk = Desk::with(
        "twoboxes",
        DeskOptions {
            db: Db::Postgres,
            extra: MANY.into(),
            ..Default::default()
        },
    )
    .await;
    let customer = desk.names.addr("cliente");
    desk.customer(&customer, None).await;
    let support = desk.names.support();
    const PLAIN: usize = 120;
    let files = [
        ("informe.bin", noise(1, 300_000)),
        ("volcado.bin", noise(2, 5_000_000)),
    ];
    for (i, (name, bytes)) in files.iter().enumerate() {
        let mail = plain_mail(
            &customer,
            &support,
            &format!("Adjunto {i}"),
            &format!("f{i}-{}@c.test", desk.names.tag),
            "Va un fichero.",
        );
        append(&support, &with_attachment(&mail, name, bytes)).await;
    }
    for i in 0..PLAIN {
        let mail = plain_mail(
            &customer,
            &support,
            &format!("Mail {i}"),
            &format!("p{i}-{}@c.test", desk.names.tag),
            "x",
        );
        append(&support, &mail).await;
    }
    let total = PLAIN + files.len();

    // Process B: the same configuration but a storage directory of its own.
    let storage_b = desk.path("data-b");
    let config = std::fs::read_to_string(&desk.config_path).unwrap();
    let storage_a = desk.config().storage.dir.display().to_string();
    let config_b = desk.path("buzon-b.toml");
    std::fs::write(
        &config_b,
        config.replace(&storage_a, &storage_b.display().to_string()),
    )
    .unwrap();
    let log = desk.path("buzon.log");
    let mut a = desk.spawn(None, &log);
    let mut b = Command::new(env!("CARGO_BIN_EXE_buzon"))
        .args(["run", "--config"])
        .arg(&config_b)
        .env("BUZON_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(desk.path("buzon-b.log")).unwrap())
        .spawn()
        .unwrap();

    // A is killed mid-drain, and restarted.
    let cases = || async {
        desk.store()
            .cases(&CaseFilter::default())
            .await
            .unwrap()
            .len()
    };
    let started = Instant::now();
    while cases().await < 10 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the drain starts"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    a.kill().unwrap();
    a.wait().unwrap();
    eprintln!("A killed with {} of {total} cases made", cases().await);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut a = desk.spawn(None, &log);

    let started = Instant::now();
    let acks = loop {
        let failed = desk.store().failed_inbound().await.unwrap();
        assert!(failed.is_empty(), "no mail failed: {failed:?}");
        let acks = acknowledged(&mailbox(&customer).await);
        if cases().await == total && acks.len() == total {
            break acks;
        }
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "drain stalled: {} cases, {} acknowledged",
            cases().await,
            acks.len()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    for child in [&mut a, &mut b] {
        child.kill().unwrap();
        child.wait().unwrap();
    }
    let all = desk.store().cases(&CaseFilter::default()).await.unwrap();
    assert_eq!(all.len(), total, "one case per mail");
    assert_eq!(
        acks,
        all.iter().map(|c| c.number).collect(),
        "every case acknowledged"
    );

    // The files, read back by a third storage directory, as the customer sent them.
    let reader = BlobStore::new(desk.path("data-c"), false).with_store(desk.store().clone());
    for (name, bytes) in &files {
        let case = all
            .iter()
            .find(|c| {
                c.subject.starts_with("Adjunto")
                    && c.subject
                        .ends_with(if *name == "informe.bin" { '0' } else { '1' })
            })
            .unwrap();
        let attached = desk.store().case_attachments(case.id).await.unwrap();
        assert_eq!(attached.len(), 1, "{name}");
        assert_eq!(
            &reader.get(&attached[0].blob_hash).await.unwrap(),
            bytes,
            "{name}"
        );
    }
    for dir in [desk.config().storage.dir.clone(), storage_b] {
        let blob_files = files_under(&dir);
        assert!(
            blob_files.is_empty(),
            "nothing stored under {}: {blob_files:?}",
            dir.display()
        );
    }
}
