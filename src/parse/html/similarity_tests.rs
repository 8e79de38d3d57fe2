//! Issue 15: how close buzon's text of real HTML-only mails is to a careful plain-text
//! rendering. The reference is w3m's `-dump` (a text-mode browser: it lays out paragraphs,
//! lists and tables as a reader sees them and adds no markup of its own). Both sides become
//! sequences of lower-case words; similarity is 2·LCS / (a + b), order included. Two
//! differences are by design and left out: the `> ` marks buzon puts on quoted history, and
//! the `<url>` it writes after a link's text (w3m shows only the text; such targets are
//! taken out of both sides).
//!
//! The mails are other projects' test files, kept outside the repository:
//! `BUZON_HTML_CORPORA=DIR cargo test --lib html_similarity -- --nocapture` reads every
//! `*.html` file under DIR, and every `*.eml` whose only text is HTML, prints each figure
//! and the share at or above 0.9, and fails under 95 % or on any `**` or `[n]` buzon wrote.

use std::path::{Path, PathBuf};

const MIN_SIMILARITY: f64 = 0.9;
const MIN_SHARE: f64 = 95.0;
/// Words compared per side: the LCS table is quadratic.
const MAX_WORDS: usize = 3000;

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for path in entries.flatten().map(|e| e.path()) {
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "html" || e == "eml") {
            out.push(path);
        }
    }
}

/// The HTML of an HTML file, or of a mail whose only text is HTML.
fn html_of(path: &Path) -> Option<String> {
    let bytes = std::fs::read(path).ok()?;
    if path.extension().is_some_and(|e| e == "html") {
        return Some(String::from_utf8_lossy(&bytes).into_owned());
    }
    let message = mail_parser::MessageParser::default().parse(&bytes)?;
    let only_html = message
        .text_bodies()
        .all(|p| matches!(p.body, mail_parser::PartType::Html(_)));
    let html = message.body_html(0)?;
    (only_html && message.text_bodies().count() > 0).then(|| html.into_owned())
}

fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(MAX_WORDS)
        .map(str::to_string)
        .collect()
}

/// A text without link targets written in angle brackets (`<https://…>`, `<ana@…>`): buzon
/// writes them after a link's text, w3m does not. Taken out of both sides alike.
fn without_targets(text: &str) -> String {
    let targets =
        regex::Regex::new(r"<(?:(?:https?|mailto|ftp):[^<>\s]*|[^<>\s]+@[^<>\s]+)>").unwrap();
    targets.replace_all(text, "").into_owned()
}

/// buzon's text without the `> ` marks it puts on quoted history.
fn ours(html: &str) -> String {
    let text = super::to_text(html);
    let unmarked: Vec<&str> = text
        .lines()
        .map(|l| l.trim_start_matches(['>', ' ']))
        .collect();
    without_targets(&unmarked.join("\n"))
}

fn similarity(a: &[String], b: &[String]) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    let mut row = vec![0usize; b.len() + 1];
    for x in a {
        let mut diagonal = 0;
        for (j, y) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if x == y {
                diagonal + 1
            } else {
                above.max(row[j])
            };
            diagonal = above;
        }
    }
    2.0 * row[b.len()] as f64 / (a.len() + b.len()) as f64
}

#[test]
fn html_similarity() {
    let Ok(root) = std::env::var("BUZON_HTML_CORPORA") else {
        println!("BUZON_HTML_CORPORA is not set: no HTML similarity measured");
        return;
    };
    let mut paths = Vec::new();
    files(Path::new(&root), &mut paths);
    paths.sort();
    let (mut measured, mut close, mut marked) = (0, 0, Vec::new());
    let refs = regex::Regex::new(r"\[\d+\]").unwrap();
    for path in &paths {
        let Some(html) = html_of(path) else { continue };
        let text = super::to_text(&html);
        let reference = crate::compose::html_render_tests::w3m_dump(&html);
        let score = similarity(&words(&ours(&html)), &words(&without_targets(&reference)));
        measured += 1;
        close += usize::from(score >= MIN_SIMILARITY);
        let added = |pattern: &dyn Fn(&str) -> bool| pattern(&text) && !pattern(&reference);
        if added(&|t| t.contains("**")) || added(&|t| refs.is_match(t)) {
            marked.push(path.display().to_string());
        }
        println!("{score:.3} {}", path.display());
    }
    let share = 100.0 * close as f64 / measured.max(1) as f64;
    println!("HTML-only mails: {measured}; similarity >= {MIN_SIMILARITY}: {close} ({share:.1} %); with ** or [n]: {}", marked.len());
    assert!(marked.is_empty(), "markdown in {marked:?}");
    assert!(
        share >= MIN_SHARE,
        "{share:.1} % at or above {MIN_SIMILARITY}"
    );
}
