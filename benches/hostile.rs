//! The hostile mail of `hostile_mail::bombs()` through the parse path (parse, then quote
//! stripping and commands on its text), each in a child process of its own, printing its
//! CPU time and peak memory. Fails when any one costs more than the rule for mail-driven
//! work allows (issue 12): 1 s of CPU or 100 MB of memory, in a release build.
//!
//! `cargo bench --bench hostile` (also run by `scripts/bench.sh`).

#[path = "../tests/fixtures/hostile.rs"]
#[allow(dead_code)]
mod hostile_mail;

use std::process::Command;
use std::time::Duration;

const MAX_CPU: Duration = Duration::from_secs(1);
const MAX_PEAK_BYTES: u64 = 100 * 1000 * 1000;
/// Set in a child: the sample it measures.
const SAMPLE_VAR: &str = "BUZON_HOSTILE_SAMPLE";

fn main() {
    // `cargo test --all-targets` runs benches too; only `cargo bench` means it.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    if let Ok(name) = std::env::var(SAMPLE_VAR) {
        return measure_one(&name);
    }
    let mut failed = Vec::new();
    println!(
        "{:<28} {:>10} {:>12} {:>10}   (of which parse alone: CPU, peak RSS)",
        "sample", "bytes", "CPU", "peak RSS"
    );
    for (name, _) in hostile_mail::bombs() {
        let out = Command::new(std::env::current_exe().expect("own path"))
            .arg("--bench")
            .env(SAMPLE_VAR, name)
            .output()
            .expect("run a measuring child");
        let line = String::from_utf8_lossy(&out.stdout);
        let figures: Vec<u64> = line
            .split_whitespace()
            .filter_map(|f| f.parse().ok())
            .collect();
        let [bytes, cpu_ns, peak, parse_ns, parse_peak] = figures[..] else {
            println!(
                "{name:<28} died: {} {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
            failed.push(name);
            continue;
        };
        let cpu = Duration::from_nanos(cpu_ns);
        let over = cpu > MAX_CPU || peak > MAX_PEAK_BYTES;
        println!(
            "{name:<28} {:>8.1}MB {:>10.1}ms {:>8.1}MB   ({:.1}ms, {:.1}MB){}",
            bytes as f64 / 1e6,
            cpu.as_secs_f64() * 1e3,
            peak as f64 / 1e6,
            parse_ns as f64 / 1e6,
            parse_peak as f64 / 1e6,
            if over { "  OVER THE LIMIT" } else { "" }
        );
        if over {
            failed.push(name);
        }
    }
    if !failed.is_empty() {
        eprintln!("hostile: over 1 s of CPU or 100 MB, or died: {failed:?}");
        std::process::exit(1);
    }
}

/// In the child: make the sample, reset the peak, run the path on a parsing thread (the
/// stack the daemon gives it) and print `bytes cpu_ns peak_bytes`.
fn measure_one(name: &str) {
    return_large_buffers_to_the_system();
    let (_, make) = hostile_mail::bombs()
        .into_iter()
        .find(|(n, _)| *n == name)
        .expect("known sample");
    let raw = make();
    let bytes = raw.len();
    // Writing 5 to clear_refs resets VmHWM to the present RSS (the sample's bytes stay in).
    std::fs::write("/proc/self/clear_refs", "5").expect("reset the peak RSS");
    let (parse_ns, parse_peak, cpu_ns) = std::thread::Builder::new()
        .stack_size(buzon::parse::pool::STACK_BYTES)
        .spawn(move || {
            let start = thread_cpu_ns();
            let parsed = buzon::parse::parse(&raw);
            let (parse_ns, parse_peak) = (thread_cpu_ns() - start, peak_rss_bytes());
            if let Ok(message) = parsed {
                let text = buzon::quotes::new_text(&message.text, &["Hemos recibido su solicitud"]);
                std::hint::black_box(buzon::commands::parse(&text, &[]));
            }
            (parse_ns, parse_peak, thread_cpu_ns() - start)
        })
        .expect("parsing thread")
        .join()
        .expect("no panic");
    println!(
        "{bytes} {cpu_ns} {} {parse_ns} {parse_peak}",
        peak_rss_bytes()
    );
}

/// CPU time of the calling thread, in ns (CLOCK_THREAD_CPUTIME_ID: exact, where
/// schedstat and getrusage move in scheduler ticks).
fn thread_cpu_ns() -> u64 {
    #[repr(C)]
    struct Timespec {
        secs: i64,
        nanos: i64,
    }
    extern "C" {
        fn clock_gettime(clock: i32, out: *mut Timespec) -> i32;
    }
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    let mut t = Timespec { secs: 0, nanos: 0 };
    // SAFETY: clock_gettime writes one timespec into the valid place given.
    let done = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut t) };
    assert_eq!(done, 0, "clock_gettime");
    t.secs as u64 * 1_000_000_000 + t.nanos as u64
}

fn peak_rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM");
    let kb: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|f| f.parse().ok())
        .expect("kB");
    kb * 1024
}

/// As `buzon run` does (src/main.rs): large buffers go back to the system when freed.
fn return_large_buffers_to_the_system() {
    extern "C" {
        fn mallopt(param: i32, value: i32) -> i32;
    }
    // SAFETY: mallopt only sets allocator parameters; called before other threads run.
    unsafe {
        mallopt(-3, 256 * 1024);
        mallopt(-8, 2);
    }
}
