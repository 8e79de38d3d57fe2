//! A mutation fuzzer for the pure middle of the journey (parse → classify → thread →
//! commands → quotes), on stable Rust: real and hostile mail as seeds, byte-level and
//! MIME-aware mutations, every run under `catch_unwind`. One input in eight is generated
//! instead (`hostile_mail::random_nesting`: multipart, message/rfc822 — some of it
//! base64 — and HTML elements nested at random depths, up to 50,000), then mutated: a
//! mutation rarely builds depth, and depth is what crashed and stalled buzon (issue 12).
//! Crashing inputs, and inputs that take more than a second, are written to
//! `tests/fixtures/fuzz-crashes/` (where a test replays them). An input that overflows the
//! stack aborts the fuzzer: rerun with the seed it printed at start. Coverage guidance is left to
//! `cargo fuzz` on a nightly toolchain; this one runs anywhere, including CI machines.
//!
//! `cargo bench --bench fuzz -- --seconds 1800 [--seed N]` (scripts/fuzz.sh).

#[path = "../tests/fixtures/hostile.rs"]
#[allow(dead_code)]
mod hostile_mail;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use buzon::classify::{self, Facts};
use buzon::domain::EmailAddress;
use buzon::thread::{self, ThreadFacts};

fn seeds() -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = hostile_mail::samples()
        .into_iter()
        .map(|(_, b)| b)
        .collect();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                if bytes.len() < 200_000 && path.extension().is_none_or(|e| e != "json") {
                    out.push(bytes);
                }
            }
        }
    }
    out
}

const TOKENS: &[&[u8]] = &[
    b"\r\n",
    b"\r\n\r\n",
    b"--",
    b"boundary=\"",
    b"Content-Type: multipart/mixed; boundary=\"x\"\r\n",
    b"Content-Transfer-Encoding: base64\r\n",
    b"=?utf-8?B?",
    b"?=",
    b"=?iso-2022-jp?q?",
    b"\x1b$B",
    b"\x1b(B",
    b"charset=gb2312",
    b"In-Reply-To: <buzon.1.0.0@x>\r\n",
    b"Subject: [Caso #1]",
    b"\r\ncerrar\r\n",
    b"> ",
    b"multipart/report",
    b"message/rfc822\r\n\r\n",
    b"Authentication-Results: ",
    b"\xff\xfe",
    b"\x00",
];

fn mutate(rng: &mut fastrand::Rng, input: &mut Vec<u8>, others: &[Vec<u8>]) {
    for _ in 0..rng.usize(1..8) {
        let len = input.len().max(1);
        match rng.u8(..7) {
            0 if !input.is_empty() => {
                let i = rng.usize(..input.len());
                input[i] ^= 1 << rng.u8(..8);
            }
            1 => {
                let i = rng.usize(..=input.len());
                let token = TOKENS[rng.usize(..TOKENS.len())];
                input.splice(i..i, token.iter().copied());
            }
            2 if input.len() > 1 => {
                let a = rng.usize(..input.len());
                let b = (a + rng.usize(..len.min(512))).min(input.len());
                input.drain(a..b);
            }
            3 if !input.is_empty() => {
                let a = rng.usize(..input.len());
                let b = (a + rng.usize(..len.min(256))).min(input.len());
                let chunk: Vec<u8> = input[a..b].to_vec();
                let at = rng.usize(..=input.len());
                input.splice(
                    at..at,
                    chunk
                        .iter()
                        .copied()
                        .cycle()
                        .take(chunk.len() * rng.usize(1..4)),
                );
            }
            4 if !others.is_empty() => {
                let other = &others[rng.usize(..others.len())];
                if !other.is_empty() {
                    let a = rng.usize(..other.len());
                    let b = (a + rng.usize(..other.len().min(1024))).min(other.len());
                    let at = rng.usize(..=input.len());
                    input.splice(at..at, other[a..b].iter().copied());
                }
            }
            5 => input.truncate(rng.usize(..=input.len())),
            _ => {
                let i = rng.usize(..=input.len());
                input.insert(i, rng.u8(..));
            }
        }
    }
}

fn facts() -> (Facts, ThreadFacts) {
    let a = |s: &str| EmailAddress::parse(s).unwrap();
    let facts = Facts {
        support_addresses: vec![a("soporte@example.test")],
        provisioned: [a("ana@example.test"), a("jose@example.test")]
            .into_iter()
            .collect(),
        agents: [a("agente@example.test")].into_iter().collect(),
        products: vec!["Harmony".into(), "API Manager".into()],
    };
    let thread_facts = ThreadFacts {
        agents: facts.agents.clone(),
        ..Default::default()
    };
    (facts, thread_facts)
}

/// The pure pipeline; any panic in it is a finding.
fn pipeline(raw: &[u8], facts: &Facts, thread_facts: &ThreadFacts) {
    let Ok(message) = buzon::parse::parse(raw) else {
        return;
    };
    let _ = classify::classify(&message, facts);
    let _ = thread::find_case(&message, &["fuzz-secret-0123456789"], thread_facts);
    let new_text = buzon::quotes::new_text(&message.text, &["Hemos recibido su solicitud"]);
    let _ = buzon::commands::parse(&new_text, &facts.products);
    let _ = buzon::commands::is_courtesy(&new_text);
}

fn main() {
    // `cargo test --all-targets` runs benches too; only `cargo bench` means it.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let argv: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        argv.iter()
            .position(|a| a == name)
            .and_then(|i| argv.get(i + 1))
            .and_then(|v| v.parse::<u64>().ok())
    };
    let seconds = arg("--seconds").unwrap_or(60);
    let seed = arg("--seed").unwrap_or_else(|| fastrand::u64(..));
    let mut rng = fastrand::Rng::with_seed(seed);
    let corpus = seeds();
    let (facts, thread_facts) = facts();
    let crash_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz-crashes");
    std::panic::set_hook(Box::new(|_| {}));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let (mut tried, mut crashes) = (0u64, 0u64);
    let mut unique = HashSet::new();
    let started = Instant::now();
    println!("fuzz: seed {seed}");
    let mut slow = 0u64;
    while Instant::now() < deadline {
        let mut input = if rng.u8(..8) == 0 {
            hostile_mail::random_nesting(&mut rng)
        } else {
            corpus[rng.usize(..corpus.len())].clone()
        };
        mutate(&mut rng, &mut input, &corpus);
        tried += 1;
        let started = Instant::now();
        let result = std::panic::catch_unwind(|| pipeline(&input, &facts, &thread_facts));
        let too_slow = started.elapsed() > Duration::from_secs(1);
        slow += u64::from(too_slow);
        if result.is_err() || too_slow {
            crashes += 1;
            let hash = buzon::blobs::BlobHash::of(&input).0;
            if unique.insert(hash.clone()) {
                std::fs::create_dir_all(&crash_dir).unwrap();
                std::fs::write(crash_dir.join(format!("{}.eml", &hash[..16])), &input).unwrap();
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "fuzz: seed {seed}, {} seeds, {tried} inputs in {secs:.0} s ({:.0}/s), {crashes} findings ({slow} over 1 s), {} unique (saved in tests/fixtures/fuzz-crashes/)",
        corpus.len(),
        tried as f64 / secs,
        unique.len()
    );
    if crashes > 0 {
        std::process::exit(1);
    }
}
