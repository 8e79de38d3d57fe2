//! End-to-end figures on real Dovecot + Postfix (scripts/bench.sh runs this):
//!
//! * latency: SMTP acceptance of a customer's mail → the acknowledgement in the customer's
//!   mailbox (buzon idle in IMAP IDLE), p50/p99/max over N mails sent one at a time, next to
//!   the floor: Dovecot's own IDLE wake-up after a delivery, measured in the same run;
//! * drain: a backlog already in the mailbox → every case created and every outgoing mail
//!   accepted by Postfix, in mails/s.
//!
//! Arguments: `--db sqlite|postgres`, `--latency N` (default 50), `--backlog N` (default 1000).

#[path = "../tests/it/support.rs"]
#[allow(dead_code)]
mod support;

use std::time::{Duration, Instant};

use async_imap::extensions::idle::IdleResponse;
use support::*;

struct Args {
    /// Mails with a 20 MB attachment each, drained to measure peak memory (0: skip).
    big: usize,
    fsync: bool,
    db: Db,
    latency: usize,
    backlog: usize,
}

fn args() -> Args {
    let mut a = Args {
        big: 0,
        fsync: true,
        db: Db::Sqlite,
        latency: 50,
        backlog: 1000,
    };
    let argv: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < argv.len() {
        let value = argv.get(i + 1).cloned().unwrap_or_default();
        match argv[i].as_str() {
            "--db" => {
                a.db = if value == "postgres" {
                    Db::Postgres
                } else {
                    Db::Sqlite
                }
            }
            "--latency" => a.latency = value.parse().expect("--latency N"),
            "--backlog" => a.backlog = value.parse().expect("--backlog N"),
            "--big" => a.big = value.parse().expect("--big N"),
            "--no-fsync" => {
                a.fsync = false;
                i += 1;
                continue;
            }
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    a
}

fn files_in(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

/// Dovecot's own floor: delivery by SMTP → EXISTS in an IDLE session on that mailbox.
async fn idle_floor(samples: usize) -> Vec<Duration> {
    let server = mail_server();
    let user = format!("floor-{:06x}@example.test", fastrand::u32(..0xff_ffff));
    let mut out = Vec::new();
    for i in 0..samples {
        let mut session = buzon::fetch::connect(&imap_config(server, &user))
            .await
            .unwrap();
        session.select("INBOX").await.unwrap();
        let mut idle = session.idle();
        idle.init().await.unwrap();
        let (wait, _stop) = idle.wait_with_timeout(Duration::from_secs(10));
        let sender = tokio::spawn({
            let user = user.clone();
            async move {
                send_mail(
                    "x@example.test",
                    &[&user],
                    &plain_mail(
                        "x@example.test",
                        &user,
                        "floor",
                        &format!("floor{i}@b"),
                        "x",
                    ),
                )
                .await;
                Instant::now()
            }
        });
        let woke = wait.await.unwrap();
        let now = Instant::now();
        let accepted = sender.await.unwrap();
        assert!(
            matches!(woke, IdleResponse::NewData(_)),
            "IDLE woke with {woke:?}"
        );
        out.push(now.saturating_duration_since(accepted));
    }
    out
}

async fn latency(db: Db, n: usize) {
    let mut desk = Desk::with(
        "bench-latency",
        DeskOptions {
            db,
            // One customer writes every mail: lift the per-address cap on automatic mail.
            extra: "[limits]\nauto_replies_per_hour = 1000000\n".into(),
            ..Default::default()
        },
    )
    .await;
    let customer = desk.names.addr("cliente");
    desk.customer(&customer, None).await;
    desk.start();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let inbox = mail_server().maildir_new(&customer);
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let raw = plain_mail(
            &customer,
            &desk.names.support(),
            &format!("Latencia {i}"),
            &format!("lat{i}-{}@b", desk.names.tag),
            "Hola",
        );
        send_mail(&customer, &[&desk.names.support()], &raw).await;
        let accepted = Instant::now();
        while files_in(&inbox) < i + 1 {
            assert!(
                accepted.elapsed() < Duration::from_secs(30),
                "ack {i} never arrived"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        samples.push(accepted.elapsed());
        // Let buzon settle back into IDLE, as between two real customers' mails.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    desk.stop().await;
    samples.sort();
    let mut floor = idle_floor(10).await;
    floor.sort();
    println!(
        "latency ({n} mails, {:?}): SMTP accepted -> ack in mailbox  p50 {}  p99 {}  max {}",
        db,
        ms(percentile(&samples, 0.5)),
        ms(percentile(&samples, 0.99)),
        ms(*samples.last().unwrap())
    );
    println!(
        "floor (Dovecot IDLE wake-up after delivery, 10 samples): p50 {}  max {}",
        ms(percentile(&floor, 0.5)),
        ms(*floor.last().unwrap())
    );
}

async fn drain(db: Db, n: usize, fsync: bool) {
    let storage_extra = format!("fsync = {fsync}\n");
    let extra = "[limits]\nauto_replies_per_hour = 1000000\n".to_string();
    let mut desk = Desk::with(
        "bench-drain",
        DeskOptions {
            db,
            storage_extra,
            extra,
            ..Default::default()
        },
    )
    .await;
    let customer = desk.names.addr("cliente");
    desk.customer(&customer, None).await;
    let support = desk.names.support();
    let loaded = Instant::now();
    let mut senders = tokio::task::JoinSet::new();
    for worker in 0..4 {
        let (customer, support, tag) = (customer.clone(), support.clone(), desk.names.tag.clone());
        senders.spawn(async move {
            for i in (worker..n).step_by(4) {
                let body = format!("Producto: Harmony\nSeveridad: 2\nEl proceso {i} falla con un error de conexión.\n");
                let raw = plain_mail(&customer, &support, &format!("Backlog {i}"), &format!("bk{i}-{tag}@b"), &body);
                send_mail(&customer, &[&support], &raw).await;
            }
        });
    }
    while senders.join_next().await.is_some() {}
    let support_inbox = mail_server().maildir_new(&support);
    while files_in(&support_inbox) < n {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "backlog of {n} mails loaded in {:.1} s",
        loaded.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    desk.start();
    let mut cases_done = None;
    loop {
        let inbound: i64 = desk
            .store()
            .inbound_counts()
            .await
            .unwrap()
            .iter()
            .filter(|(s, _)| s == "done")
            .map(|(_, c)| c)
            .sum();
        let outbox = desk.store().outbox_counts().await.unwrap();
        let sent: i64 = outbox
            .iter()
            .filter(|(s, _)| s == "sent")
            .map(|(_, c)| c)
            .sum();
        if inbound as usize >= n && cases_done.is_none() {
            cases_done = Some(started.elapsed());
        }
        if inbound as usize >= n && sent as usize >= 2 * n {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "drain stalled: {inbound} processed, {outbox:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let total = started.elapsed();
    desk.stop().await;
    let cases = cases_done.unwrap();
    println!(
        "drain ({n} mails, {:?}, fsync {fsync}): every case in {:.2} s ({:.0} mails/s); every ack and notification accepted by Postfix in {:.2} s ({:.0} mails/s, {} SMTP messages)",
        db,
        cases.as_secs_f64(),
        n as f64 / cases.as_secs_f64(),
        total.as_secs_f64(),
        n as f64 / total.as_secs_f64(),
        2 * n
    );
}

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

/// RSS of `buzon run` (the release binary, its own process) idling in IDLE; then, with
/// `big` mails of a 20 MB attachment each waiting, its peak RSS while draining them.
async fn memory(db: Db, big: usize) {
    let extra =
        "[limits]\nauto_replies_per_hour = 1000000\nmax_message_bytes = 100000000\n".to_string();
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
    println!("memory ({db:?}): idle RSS {:.1} MB", idle as f64 / 1024.0);
    if big > 0 {
        let attachment: Vec<u8> = (0..20 * 1024 * 1024u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
            .collect();
        for i in 0..big {
            let raw = plain_mail(
                &customer,
                &desk.names.support(),
                &format!("Grande {i}"),
                &format!("big{i}-{}@b", desk.names.tag),
                "Adjunto",
            );
            send_mail(
                &customer,
                &[&desk.names.support()],
                &with_attachment(&raw, "volcado.bin", &attachment),
            )
            .await;
        }
        let t0 = Instant::now();
        loop {
            let cases = desk.store().cases(&Default::default()).await.unwrap().len();
            if cases >= big {
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
            proc_kb(pid, "VmHWM:") as f64 / 1024.0,
            t0.elapsed().as_secs_f64()
        );
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::main]
async fn main() {
    // `cargo test --all-targets` runs benches too; only `cargo bench` means it.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let a = args();
    if a.latency > 0 {
        latency(a.db, a.latency).await;
    }
    if a.backlog > 0 {
        drain(a.db, a.backlog, a.fsync).await;
    }
    memory(a.db, a.big).await;
}
