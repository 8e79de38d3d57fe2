//! Issue 18, speed on several processes (scripts/bench.sh runs this): the same backlog
//! drained on PostgreSQL by 1, 2 and 3 `buzon run` processes (the release binary, each its
//! own process, sharing one database): each rate and its ratio to one process, the
//! conflicts PostgreSQL settled by aborting a transaction (40P01 deadlocks, 40001
//! serialization failures; every one retried), and the CPU each process spent per mail.
//!
//! Arguments: `--backlog N` (default 5000; 0 skips), `--processes 1,2,3`.

#[path = "common/backlog.rs"]
mod backlog;
#[path = "../tests/it/support.rs"]
#[allow(dead_code)]
mod support;

use std::time::{Duration, Instant};

use backlog::load_backlog;
use support::*;

const MANY: &str = "[limits]\nauto_replies_per_hour = 1000000\nnew_cases_per_hour = 1000000\n";

/// What one drain by `processes` processes came to.
struct Run {
    took: Duration,
    /// CPU seconds of each process, from its start to the end of the drain.
    cpu: Vec<f64>,
    deadlocks: u64,
    serialization: u64,
    /// Busy CPU seconds of the whole machine meanwhile (mail servers and database included).
    machine: f64,
}

/// utime + stime of a process, in seconds (100 ticks a second).
fn process_cpu(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or_default();
    let fields: Vec<f64> = after
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0.0))
        .collect();
    (fields.get(11).unwrap_or(&0.0) + fields.get(12).unwrap_or(&0.0)) / 100.0
}

/// Busy CPU seconds of the whole machine so far (all but idle and iowait).
fn machine_cpu() -> f64 {
    let all = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let cpu: Vec<f64> = all
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .map(|t| t.parse::<f64>().unwrap_or(0.0) / 100.0)
        .collect();
    cpu.iter().take(8).sum::<f64>() - cpu.get(3).unwrap_or(&0.0) - cpu.get(4).unwrap_or(&0.0)
}

/// The number after `key=` on the last line of `log` that has it.
fn logged(log: &str, key: &str) -> u64 {
    log.lines()
        .rev()
        .find_map(|l| {
            let rest = &l[l.find(key)? + key.len()..];
            rest.split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

async fn drained(desk: &Desk, n: usize, expected: usize) -> bool {
    let store = desk.store();
    let done: i64 = store
        .inbound_counts()
        .await
        .unwrap()
        .iter()
        .filter(|(s, _)| s == "done")
        .map(|(_, c)| c)
        .sum();
    let sent: i64 = store
        .outbox_counts()
        .await
        .unwrap()
        .iter()
        .filter(|(s, _)| s == "sent")
        .map(|(_, c)| c)
        .sum();
    done as usize >= n && sent as usize >= expected
}

async fn run(processes: usize, n: usize) -> Run {
    let options = DeskOptions {
        db: Db::Postgres,
        extra: MANY.into(),
        ..Default::default()
    };
    let desk = Desk::with("bench-cluster", options).await;
    let customers: Vec<String> = (0..20)
        .map(|i| desk.names.addr(&format!("cliente{i}")))
        .collect();
    for c in &customers {
        desk.customer(c, None).await;
    }
    let expected = load_backlog(&desk, n, &customers).await;
    // Nothing of the previous run is still being delivered.
    mail_server()
        .postfix_delivered(Duration::from_secs(300))
        .await;
    let machine = machine_cpu();
    let started = Instant::now();
    let logs: Vec<_> = (0..processes)
        .map(|i| desk.path(&format!("buzon-{i}.log")))
        .collect();
    let mut children: Vec<_> = logs.iter().map(|log| desk.spawn(None, log)).collect();
    while !drained(&desk, n, expected).await {
        assert!(
            started.elapsed() < Duration::from_secs(900),
            "drain by {processes} processes stalled"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let took = started.elapsed();
    let machine = machine_cpu() - machine;
    let cpu = children.iter().map(|c| process_cpu(c.id())).collect();
    for child in &mut children {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        child.wait().unwrap();
    }
    let logs: Vec<String> = logs
        .iter()
        .map(|l| std::fs::read_to_string(l).unwrap_or_default())
        .collect();
    Run {
        took,
        cpu,
        deadlocks: logs.iter().map(|l| logged(l, "deadlocks=")).sum(),
        serialization: logs
            .iter()
            .map(|l| logged(l, "serialization_failures="))
            .sum(),
        machine,
    }
}

#[tokio::main]
async fn main() {
    // `cargo test --all-targets` runs benches too; only `cargo bench` means it.
    let argv: Vec<String> = std::env::args().collect();
    if !argv.iter().any(|a| a == "--bench") {
        return;
    }
    let value = |key: &str| {
        let at = argv.iter().position(|a| a == key)?;
        argv.get(at + 1).cloned()
    };
    let n: usize = value("--backlog").map_or(5000, |v| v.parse().expect("--backlog N"));
    let counts: Vec<usize> = value("--processes").map_or(vec![1, 2, 3], |v| {
        v.split(',')
            .map(|p| p.parse().expect("--processes 1,2,3"))
            .collect()
    });
    if n == 0 {
        return;
    }
    let mut one = None;
    for processes in counts {
        let r = run(processes, n).await;
        let rate = n as f64 / r.took.as_secs_f64();
        let base = *one.get_or_insert(rate);
        let per_mail: Vec<String> = r
            .cpu
            .iter()
            .map(|s| format!("{:.2}", 1000.0 * s / n as f64))
            .collect();
        println!(
            "cluster drain ({n} mails, PostgreSQL, {processes} process(es)): {:.2} s, {rate:.0} mails/s = {:.0} % of one process; conflicts retried: {} deadlocks (40P01), {} serialization failures (40001); CPU per mail by each process: {} ms (together {:.2} ms); the whole machine {:.2} ms per mail",
            r.took.as_secs_f64(),
            100.0 * rate / base,
            r.deadlocks,
            r.serialization,
            per_mail.join(" + "),
            1000.0 * r.cpu.iter().sum::<f64>() / n as f64,
            1000.0 * r.machine / n as f64,
        );
    }
}
