//! Every template's HTML part, rendered by a real text-mode browser (w3m, as in a terminal
//! mail client), must read line for line like its text part: paragraphs stay paragraphs,
//! aligned fields stay aligned, nothing runs together.

use std::io::Write;
use std::process::{Command, Stdio};

use super::html::html_of;
use super::{sample_context, MailKind, Templates};
use crate::domain::Language;

/// What w3m shows for `html`, wide enough that it wraps nothing.
pub(crate) fn w3m_dump(html: &str) -> String {
    let mut child = Command::new("w3m")
        .args([
            "-dump",
            "-T",
            "text/html",
            "-cols",
            "2000",
            "-O",
            "UTF-8",
            "-I",
            "UTF-8",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("w3m renders the HTML parts: install it (scripts/install-deps.sh does)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(html.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

/// The lines a reader sees, without indentation or list bullets.
fn seen_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| {
            l.trim()
                .trim_start_matches("- ")
                .trim_start_matches("• ")
                .trim_start_matches("* ")
                .trim()
                .to_string()
        })
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn every_html_part_reads_like_its_text_part_in_w3m() {
    let templates = Templates::load().unwrap();
    let mut differ = Vec::new();
    for language in Language::ALL {
        for kind in MailKind::ALL {
            let rendered = templates
                .render(kind, language, &sample_context("No arranca el conector"))
                .unwrap();
            let shown = w3m_dump(&html_of(&rendered.text));
            if seen_lines(&shown) != seen_lines(&rendered.text) {
                differ.push(format!(
                    "{}/{}:\n--- text\n{}\n--- w3m\n{shown}",
                    language.code(),
                    kind.name(),
                    rendered.text
                ));
            }
        }
    }
    assert!(differ.is_empty(), "{}", differ.join("\n\n"));
}

#[test]
fn paragraphs_fields_and_lists_get_their_own_elements() {
    let html = html_of(
        "Hola Ana:\n\n  Asunto:    x\n  Producto:  y\n\nCómo seguir:\n  - uno\n  - <dos>\n",
    );
    assert!(html.contains("<p>Hola Ana:</p>"), "{html}");
    assert!(
        html.contains("<pre>  Asunto:    x\n  Producto:  y</pre>"),
        "{html}"
    );
    assert!(
        html.contains("<p>Cómo seguir:</p>\n<ul>\n<li>uno</li>\n<li>&lt;dos&gt;</li>\n</ul>"),
        "{html}"
    );
    assert!(!html.contains("white-space"), "{html}");
}
