//! Scorer for corpora grown from other projects' public test suites (issue 15), kept out of
//! the repository: their files come from other projects, so they live beside it, in the
//! folder `BUZON_EXTRA_CORPORA` names (one folder a set, each with its `index.json` and the
//! set's licence). Each set is split in two: the public half tunes the rules, the held-out
//! half is scored only when `BUZON_SCORE_HELDOUT=1`, to see whether the rules generalise.
//!
//! The test is policy-neutral, like [`super::corpus_tests`]: (a) every line of the labelled
//! new text is kept; (b) no labelled line of the quoted original survives, compared without
//! quote markers. Inputs go through the import path's conversions: HTML through
//! [`crate::parse::html_to_text`], which marks the clients' quote structure with `>`.
//!
//! Run: `BUZON_EXTRA_CORPORA=/path cargo test --lib extra_corpora -- --nocapture`.

use serde_json::Value;

use super::new_text;

/// A set must pass both tests on at least this share of its public half.
const MIN_PUBLIC_PCT: f64 = 97.0;

#[derive(Default)]
struct Tally {
    cases: usize,
    kept: usize,
    clean: usize,
    both: usize,
}

impl Tally {
    fn add(&mut self, kept: bool, clean: bool) {
        self.cases += 1;
        self.kept += usize::from(kept);
        self.clean += usize::from(clean);
        self.both += usize::from(kept && clean);
    }

    fn pct(&self, n: usize) -> f64 {
        100.0 * n as f64 / self.cases.max(1) as f64
    }

    fn row(&self, set: &str, half: &str) -> String {
        format!(
            "| {set} | {half} | {} | {} ({:.1} %) | {:.1} % | {:.1} % |",
            self.cases,
            self.both,
            self.pct(self.both),
            self.pct(self.kept),
            self.pct(self.clean)
        )
    }
}

fn norm(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A line without its quote markers, so a quoted line cannot pass by losing its `>`.
fn key(s: &str) -> String {
    norm(s.trim_start_matches(|c: char| c == '>' || c == '|' || c.is_whitespace()))
}

fn lines_of(expect: &Value, name: &str) -> Vec<String> {
    expect[name]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).map(norm).collect())
        .unwrap_or_default()
}

fn input_of(dir: &std::path::Path, case: &Value) -> String {
    let path = dir.join(case["raw_path"].as_str().unwrap());
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let text = String::from_utf8_lossy(&bytes);
    match case["input_kind"].as_str().unwrap() {
        "html" => crate::parse::html_to_text(&text),
        "rfc822_message" => crate::parse::parse(&bytes).unwrap().text,
        _ => text.into_owned(),
    }
}

/// (a) and (b) for one case; what failed is printed when `report` (public cases only, so
/// the held-out half stays unseen).
fn score_case(id: &str, expect: &Value, output: &str, report: bool) -> (bool, bool) {
    let flat = norm(output);
    let missing: Vec<String> = lines_of(expect, "new_lines")
        .into_iter()
        .filter(|l| !flat.contains(l.as_str()))
        .collect();
    let quoted: Vec<String> = lines_of(expect, "quoted_lines");
    let surviving: Vec<String> = output
        .lines()
        .map(key)
        .filter(|k| !k.is_empty() && quoted.contains(k))
        .collect();
    if report && !(missing.is_empty() && surviving.is_empty()) {
        println!("FAIL {id}\n  missing: {missing:?}\n  surviving: {surviving:?}");
    }
    (missing.is_empty(), surviving.is_empty())
}

/// Scores one set's halves; returns (public, held-out) tallies.
fn score_set(dir: &std::path::Path, with_heldout: bool) -> (Tally, Tally) {
    let index: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("index.json")).unwrap()).unwrap();
    let (mut public, mut heldout) = (Tally::default(), Tally::default());
    for case in index["cases"].as_array().unwrap() {
        let is_public = case["split"] == "public";
        if !is_public && !with_heldout {
            continue;
        }
        let output = new_text(&input_of(dir, case), &[]);
        let id = case["id"].as_str().unwrap();
        let (kept, clean) = score_case(id, &case["expect"], &output, is_public);
        let tally = if is_public { &mut public } else { &mut heldout };
        tally.add(kept, clean);
    }
    (public, heldout)
}

#[test]
fn extra_corpora() {
    let Ok(root) = std::env::var("BUZON_EXTRA_CORPORA") else {
        println!("BUZON_EXTRA_CORPORA is not set: no extra corpora scored");
        return;
    };
    let with_heldout = std::env::var("BUZON_SCORE_HELDOUT").is_ok_and(|v| v == "1");
    let mut sets: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("index.json").is_file())
        .collect();
    sets.sort();
    let mut table = vec![
        "| corpus | half | cases | both ok | new text kept | no quote left |".to_string(),
        "|---|---|---|---|---|---|".to_string(),
    ];
    let mut below = Vec::new();
    for dir in &sets {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let (public, heldout) = score_set(dir, with_heldout);
        table.push(public.row(&name, "public"));
        if with_heldout {
            table.push(heldout.row(&name, "held out"));
        }
        if public.pct(public.both) < MIN_PUBLIC_PCT {
            below.push(name);
        }
    }
    println!("{}", table.join("\n"));
    assert!(below.is_empty(), "below {MIN_PUBLIC_PCT} %: {below:?}");
}
