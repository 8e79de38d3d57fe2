//! What a store weighs, and what `buzon run` holds in memory while 20 MB attachments go in
//! (fetch → store → apply) and out (store → SMTP).

use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::*;

/// A /proc/PID/status field in kB (VmRSS now, VmHWM peak).
fn proc_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Start a new peak: VmHWM falls back to the present RSS (Linux 4.0+, `clear_refs` 5).
fn reset_peak(pid: u32) {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").expect("reset VmHWM");
}

fn mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

/// Files and bytes under a directory, bytes counted as the file system allocates them.
fn files_and_bytes(dir: &Path) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    let (mut files, mut bytes) = (0, 0);
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                dirs.push(entry.path());
            } else {
                files += 1;
                bytes += meta.blocks() * 512;
            }
        }
    }
    (files, bytes)
}

async fn scalar(url: &str, sql: &'static str) -> i64 {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    let (value,): (Option<i64>,) = sqlx::query_as(sql).fetch_one(&mut conn).await.unwrap();
    value.unwrap_or(0)
}

/// The store a drain left: the storage directory, and on PostgreSQL the database with its
/// large blobs (TOAST included), next to what the same blobs weigh as files (4 KiB blocks).
pub async fn store_size(desk: &Desk, db: Db) {
    let (files, bytes) = files_and_bytes(&desk.config().storage.dir);
    let mb = |b: i64| b as f64 / 1_048_576.0;
    println!(
        "store ({db:?}): storage.dir {files} files, {:.1} MB",
        mb(bytes as i64)
    );
    if db == Db::Sqlite {
        let size = |name: &str| std::fs::metadata(desk.path(name)).map_or(0, |m| m.len()) as i64;
        println!(
            "store ({db:?}): buzon.db {:.1} MB (+ WAL {:.1} MB)",
            mb(size("buzon.db")),
            mb(size("buzon.db-wal"))
        );
        return;
    }
    let url = &desk.config().database_url;
    let database = scalar(url, "SELECT pg_database_size(current_database())").await;
    let parts = scalar(url, "SELECT pg_total_relation_size('blob_parts')").await;
    let small = scalar(url, "SELECT pg_total_relation_size('small_blobs')").await;
    let raw = scalar(url, "SELECT sum(length(bytes))::bigint FROM blob_parts").await;
    let as_files = scalar(
        url,
        "SELECT sum((size + 4095) / 4096 * 4096)::bigint FROM
         (SELECT sum(length(bytes)) AS size FROM blob_parts GROUP BY hash) AS blobs",
    )
    .await;
    println!(
        "store ({db:?}): database {:.1} MB, of it large blobs (blob_parts, TOAST and index) {:.1} MB holding {:.1} MB of bytes, small_blobs {:.1} MB; the same large blobs as files: {:.1} MB, so today's layout would be {:.1} MB of database + {:.1} MB of files = {:.1} MB",
        mb(database),
        mb(parts),
        mb(raw),
        mb(small),
        mb(as_files),
        mb(database - parts),
        mb(as_files),
        mb(database - parts + as_files),
    );
}

/// RSS of `buzon run` (the release binary, its own process) idling in IDLE; then, with
/// `big` mails of a 20 MB attachment each waiting, its peak RSS while draining them; then
/// the peak while an agent's answer relays a 20 MB file to the customer, apart from the
/// peak of sending it (SMTP stopped until the relay is stored).
pub async fn memory(db: Db, big: usize) {
    let extra =
        "[limits]\nauto_replies_per_hour = 1000000\nnew_cases_per_hour = 1000000\nmax_message_bytes = 100000000\n".to_string();
    let desk = Desk::with(
        "bench-memory",
        DeskOptions {
            db,
            extra,
            ..Default::default()
        },
    )
    .await;
    let customer = desk.names.addr("grande");
    desk.customer(&customer, None).await;
    let log = desk.path("buzon.log");
    let mut child = desk.spawn(None, &log);
    let pid = child.id();
    let started = Instant::now();
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("IMAP session ready")
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "buzon did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle = proc_kb(pid, "VmRSS:");
    println!("memory ({db:?}): idle RSS {:.1} MB", mb(idle));
    if big > 0 {
        let attachment: Vec<u8> = (0..20 * 1024 * 1024u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
            .collect();
        drain_big(&desk, db, pid, big, &attachment).await;
        relay_big(&desk, db, pid, &attachment).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

async fn drain_big(desk: &Desk, db: Db, pid: u32, big: usize, attachment: &[u8]) {
    // Straight into the mailbox (IMAP APPEND on one session): quicker than SMTP for
    // 200 mails of 27 MB, and the same mailbox for buzon.
    let (support, customer) = (desk.names.support(), desk.names.addr("grande"));
    let mut session = buzon::fetch::connect(&imap_config(mail_server(), &support))
        .await
        .unwrap();
    for i in 0..big {
        let raw = plain_mail(
            &customer,
            &support,
            &format!("Grande {i}"),
            &format!("big{i}-{}@b", desk.names.tag),
            "Adjunto",
        );
        let raw = with_attachment(&raw, "volcado.bin", attachment);
        session
            .append("INBOX", None, None, &raw)
            .await
            .expect("APPEND");
    }
    let _ = session.logout().await;
    let t0 = Instant::now();
    loop {
        let cases = desk.store().cases(&Default::default()).await.unwrap().len();
        if cases >= big && pending_out(desk).await == 0 {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(600),
            "drain stalled at {cases}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!(
        "memory ({db:?}): peak RSS {:.1} MB draining {big} mails with a 20 MB attachment each ({:.1} s)",
        mb(proc_kb(pid, "VmHWM:")),
        t0.elapsed().as_secs_f64()
    );
}

async fn pending_out(desk: &Desk) -> i64 {
    let outbox = desk.store().outbox_counts().await.unwrap();
    outbox
        .iter()
        .filter(|(s, _)| s == "pending")
        .map(|(_, n)| n)
        .sum()
}

fn mailserver(action: &str) {
    let ok = std::process::Command::new(repo_root().join("scripts/mailserver.sh"))
        .arg(action)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap()
        .success();
    assert!(ok, "mailserver.sh {action}");
}

/// The agent answers the first case with a 20 MB file: relayed to the customer.
async fn relay_big(desk: &Desk, db: Db, pid: u32, attachment: &[u8]) {
    let (support, agent) = (desk.names.support(), desk.names.addr("agente"));
    let notification = wait_for_mail(&agent, 1).await.remove(0);
    mailserver("stop-smtp");
    reset_peak(pid);
    let answer = reply_to(
        &notification,
        &agent,
        &support,
        &format!("relay-{}@a", desk.names.tag),
        "Le envío el parche.",
    );
    append(
        &support,
        &with_attachment(&answer, "parche.bin", attachment),
    )
    .await;
    let t0 = Instant::now();
    while pending_out(desk).await == 0 {
        assert!(t0.elapsed() < Duration::from_secs(300), "relay not queued");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    println!(
        "memory ({db:?}): peak RSS {:.1} MB taking in an agent's answer with a 20 MB file and storing its relay (SMTP stopped)",
        mb(proc_kb(pid, "VmHWM:"))
    );
    reset_peak(pid);
    let before = proc_kb(pid, "VmRSS:");
    mailserver("start-smtp");
    let t0 = Instant::now();
    while pending_out(desk).await > 0 {
        assert!(t0.elapsed() < Duration::from_secs(300), "relay not sent");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!(
        "memory ({db:?}): peak RSS {:.1} MB sending the 27 MB relay (store → SMTP), from {:.1} MB before",
        mb(proc_kb(pid, "VmHWM:")),
        mb(before)
    );
}
