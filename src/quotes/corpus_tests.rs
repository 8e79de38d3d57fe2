//! Golden corpora from other projects (see tests/fixtures/quotes/README.md), scored on a
//! policy-neutral test, since the projects disagree on signatures and on quotes above a
//! bottom-posted reply:
//!
//! (a) the new text is kept: every line of the expected text that is not a quote, an
//!     attribution or a signature appears in our output;
//! (b) no quoted line survives: no line of our output is a line of the quoted original.

use std::collections::HashSet;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use regex::Regex;
use serde_json::Value;

use super::new_text;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/quotes");

/// Cases buzon's policy cannot pass, each with its reason.
const EXCLUDED: &[(&str, &str)] = &[(
    "talon-plain-dont_parse_quotations_for_forwarded_messages",
    "talon keeps a forwarded mail below the sender's note; buzon, like Discourse \
     (trimmer-forwarded_gmail), drops forwarded history",
)];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Corpus {
    GitHub,
    Talon,
    Discourse,
}

struct Case {
    id: String,
    input: String,
    /// (a): normalised lines that must be in the output.
    new_lines: Vec<String>,
    /// Whether `new_lines` are fragments (a corpus's `must_contain`), not whole lines.
    fragments: bool,
    /// (b): quote-marker-free keys of lines that must not be.
    quoted: HashSet<String>,
}

fn norm(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// For (b), lines are compared without quote markers, so a quoted line cannot pass by
/// having lost its `>`.
fn key(s: &str) -> String {
    norm(s.trim_start_matches(|c: char| c == '>' || c == '|' || c.is_whitespace()))
}

fn str_field<'v>(v: &'v Value, name: &str) -> Option<&'v str> {
    v.get(name).and_then(Value::as_str)
}

fn strings(v: &Value, name: &str) -> Vec<String> {
    v.get(name)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn read_input(dir: &str, case: &Value) -> String {
    let path = format!("{dir}/{}", str_field(case, "raw_path").unwrap());
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    match str_field(case, "input_kind").unwrap() {
        "rfc822_message" => crate::parse::parse(&bytes).unwrap().text,
        "html_body" => crate::parse::html_to_text(&String::from_utf8_lossy(&bytes)),
        _ => String::from_utf8_lossy(&bytes).into_owned(),
    }
}

static APP: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)^(sent (from|with|via)|get outlook|enviado desde)").unwrap());
static SIGN_OFF: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[-—–~/]{1,2}\s?\p{L}[\p{L} .]{0,30}$").unwrap());

/// Signature lines of an expected text: from a "--" line on, app signatures, "-Name".
fn signature_lines(expected: &str) -> HashSet<String> {
    let mut out = HashSet::new();
    let mut after_delimiter = false;
    for line in expected.lines().map(norm) {
        after_delimiter |= line == "--";
        if after_delimiter || APP.is_match(&line) || SIGN_OFF.is_match(&line) {
            out.insert(line);
        }
    }
    out
}

/// (a): expected lines minus quotes, attributions above a quote, and signatures.
fn new_lines(expected: &str) -> Vec<String> {
    let lines: Vec<String> = expected
        .lines()
        .map(norm)
        .filter(|l| !l.is_empty())
        .collect();
    let signature = signature_lines(expected);
    let attribution =
        |i: usize| lines[i].ends_with(':') && lines.get(i + 1).is_some_and(|n| n.starts_with('>'));
    (0..lines.len())
        .filter(|&i| {
            !lines[i].starts_with('>') && !attribution(i) && !signature.contains(&lines[i])
        })
        .map(|i| lines[i].clone())
        .collect()
}

/// Input lines after the last line of the expected text (matched in order), if all match.
fn tail_after(input: &str, expected: &str) -> Vec<String> {
    let wanted: Vec<String> = expected
        .lines()
        .map(norm)
        .filter(|l| !l.is_empty())
        .collect();
    let input: Vec<&str> = input.lines().collect();
    let (mut next, mut last) = (0, 0);
    for (i, line) in input.iter().enumerate() {
        if next < wanted.len() && norm(line) == wanted[next] {
            next += 1;
            last = i;
        }
    }
    if next < wanted.len() || wanted.is_empty() {
        return Vec::new();
    }
    input[last + 1..].iter().map(|l| l.to_string()).collect()
}

fn build(corpus: Corpus, dir: &str, case: &Value) -> Case {
    let id = str_field(case, "id").unwrap().to_string();
    let input = read_input(dir, case);
    let expect = &case["expect"];
    let whole =
        str_field(expect, "visible_text").or_else(|| str_field(expect, "text_without_signature"));
    let fragments = whole.is_none();
    let expected = whole
        .map(str::to_string)
        .unwrap_or_else(|| strings(expect, "must_contain").join("\n"));
    let new_lines = new_lines(&expected);
    let expected_keys: HashSet<String> = expected.lines().map(key).collect();
    let mut quoted: Vec<String> = strings(expect, "must_not_contain");
    let quoted_fragment = match expect.get("fragments").and_then(Value::as_array) {
        Some(fragments) => fragments
            .iter()
            .any(|f| f["quoted"] == true && f["hidden"] == true),
        None => str_field(expect, "visible_text").is_some(),
    };
    match corpus {
        Corpus::Discourse => quoted.extend(
            str_field(expect, "elided_text")
                .unwrap_or("")
                .lines()
                .filter(|l| !expected_keys.contains(&key(l)))
                .map(str::to_string),
        ),
        Corpus::GitHub | Corpus::Talon => {
            // GitHub's policy keeps quotes above a bottom-posted reply: its `>` lines are
            // quotes all the same. talon's expected text holds no quotes, so a `>` line in
            // it is the sender's ("Visit … >>> link <<<").
            let markers = input.lines().filter(|l| l.trim_start().starts_with('>'));
            quoted.extend(
                markers
                    .filter(|l| corpus == Corpus::GitHub || !expected_keys.contains(&key(l)))
                    .map(str::to_string),
            );
            if quoted_fragment {
                let tail = tail_after(&input, &expected);
                quoted.extend(
                    tail.into_iter()
                        .filter(|l| !expected_keys.contains(&key(l))),
                );
            }
        }
    }
    let required: HashSet<&String> = new_lines.iter().collect();
    let quoted = quoted
        .iter()
        .map(|l| key(l))
        .filter(|k| k.chars().filter(|c| c.is_alphanumeric()).count() > 1 && !required.contains(k))
        .collect();
    Case {
        id,
        input,
        new_lines,
        fragments,
        quoted,
    }
}

fn load(name: &str, corpus: Corpus) -> Vec<Case> {
    let dir = format!("{ROOT}/{name}");
    let index: Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{dir}/index.json")).unwrap())
            .unwrap();
    index["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| !EXCLUDED.iter().any(|(id, _)| c["id"] == *id))
        .map(|c| build(corpus, &dir, c))
        .collect()
}

/// Whether `output` passes (a) and (b) for `case`; failures are printed when `report`.
fn passes(case: &Case, output: &str, report: bool) -> (bool, bool) {
    let out_lines: HashSet<String> = output.lines().map(norm).collect();
    let flat = norm(output);
    let kept_line = |l: &String| match case.fragments {
        true => flat.contains(l.as_str()),
        false => out_lines.contains(l),
    };
    let missing: Vec<&String> = case.new_lines.iter().filter(|l| !kept_line(l)).collect();
    let surviving: Vec<String> = output
        .lines()
        .map(key)
        .filter(|k| case.quoted.contains(k))
        .collect();
    if report && !(missing.is_empty() && surviving.is_empty()) {
        println!(
            "FAIL {}\n  missing: {missing:?}\n  surviving: {surviving:?}",
            case.id
        );
    }
    (missing.is_empty(), surviving.is_empty())
}

/// Scores a corpus, prints its figures and failures, and returns the share passing both.
/// The same score for the untouched input shows the test has teeth.
fn score(name: &str, corpus: Corpus) -> f64 {
    let cases = load(name, corpus);
    let (mut kept, mut clean, mut both, mut baseline) = (0, 0, 0, 0);
    let mut slowest = Duration::ZERO;
    // Warm up first, so the timing is of the rules, not of compiling their regexes.
    cases
        .iter()
        .for_each(|case| drop(new_text(&case.input, &[])));
    for case in &cases {
        let started = Instant::now();
        let output = new_text(&case.input, &[]);
        slowest = slowest.max(started.elapsed());
        let (a, b) = passes(case, &output, true);
        kept += usize::from(a);
        clean += usize::from(b);
        both += usize::from(a && b);
        let (a, b) = passes(case, case.input.trim(), false);
        baseline += usize::from(a && b);
    }
    let pct = |n: usize| 100.0 * n as f64 / cases.len() as f64;
    println!(
        "{name}: cases {}, new-text-kept {:.1}%, no-quote-survives {:.1}%, both {:.1}% \
         (input unchanged would score {:.1}%; slowest case {slowest:?})",
        cases.len(),
        pct(kept),
        pct(clean),
        pct(both),
        pct(baseline)
    );
    pct(both)
}

#[test]
fn github_email_reply_parser() {
    assert!(score("github-email-reply-parser", Corpus::GitHub) >= 95.0);
}

#[test]
fn mailgun_talon() {
    assert!(score("mailgun-talon", Corpus::Talon) >= 95.0);
}

#[test]
fn discourse_email_reply_trimmer() {
    assert!(score("discourse-email-reply-trimmer", Corpus::Discourse) >= 95.0);
}
