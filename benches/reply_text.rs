//! Quote stripping and HTML → text on long replies (issue 15): a reply over a 766 KB quoted
//! thread (the size of the GitHub reply that took 10.7 s in a debug build), in text and in
//! HTML, and 5 MB inputs of each kind; and an agent's HTML made fit to relay. Prints the time of each step and fails when one
//! takes a second or more (release build).
//!
//! `cargo bench --bench reply_text` (also run by `scripts/bench.sh`).

use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(1);
const THREAD_BYTES: usize = 766 * 1024;
const BIG_BYTES: usize = 5 * 1024 * 1024;

/// What buzon sent on the case, looked for in the reply as the daemon does.
const SENT: &str = "Hemos recibido su solicitud y un agente la revisará en breve.";

const PARAGRAPH: &str = "The nightly export failed again after the upgrade; the log shows a \
    timeout talking to the database, and the retry did not help either.";

/// A reply on top of a thread whose every earlier message is quoted one level deeper.
fn text_thread(bytes: usize) -> String {
    let mut text = String::from("Thanks, that fixed it.\n\n");
    let mut level = 1;
    while text.len() < bytes {
        let marks = "> ".repeat(level.min(40));
        text.push_str(&format!(
            "{marks}On Mon, 3 Nov 2025 at 10:{:02}, Ana <ana@x.test> wrote:\n",
            level % 60
        ));
        for _ in 0..40 {
            text.push_str(&format!("{marks}{PARAGRAPH}\n"));
        }
        level += 1;
    }
    text
}

/// The same thread as HTML: Gmail's quote blocks, nested one level per message.
fn html_thread(bytes: usize) -> String {
    let mut html = String::from("<div dir=\"ltr\">Thanks, that fixed it.</div>");
    let mut opened = 0;
    while html.len() < bytes {
        html.push_str("<div class=\"gmail_quote\"><div class=\"gmail_attr\">On Mon, 3 Nov 2025, \
            Ana &lt;<a href=\"mailto:ana@x.test\">ana@x.test</a>&gt; wrote:</div><blockquote class=\"gmail_quote\">");
        for _ in 0..40 {
            html.push_str(&format!(
                "<p>{PARAGRAPH} <a href=\"https://x.test/log\">log</a></p>"
            ));
        }
        opened += 1;
    }
    html.push_str(&"</blockquote></div>".repeat(opened));
    html
}

/// New text without any quote: paragraphs, a table, a list.
fn html_flat(bytes: usize) -> String {
    let mut html = String::from("<html><body>");
    while html.len() < bytes {
        html.push_str(&format!("<p><b>Paso</b>: {PARAGRAPH}</p><table><tr><td>Error</td><td>E42</td></tr></table><ul><li>uno</li><li>dos</li></ul>"));
    }
    html.push_str("</body></html>");
    html
}

fn text_flat(bytes: usize) -> String {
    let mut text = String::new();
    while text.len() < bytes {
        text.push_str(PARAGRAPH);
        text.push_str("\n\n");
    }
    text
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let out = f();
    (out, start.elapsed())
}

fn main() {
    // `cargo test --all-targets` runs benches too; only `cargo bench` means it.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let samples: Vec<(&str, String, bool)> = vec![
        (
            "reply over a 766 KB thread, text",
            text_thread(THREAD_BYTES),
            false,
        ),
        (
            "reply over a 766 KB thread, HTML",
            html_thread(THREAD_BYTES),
            true,
        ),
        (
            "reply over a 5 MB thread, text",
            text_thread(BIG_BYTES),
            false,
        ),
        (
            "reply over a 5 MB thread, HTML",
            html_thread(BIG_BYTES),
            true,
        ),
        ("5 MB of new text", text_flat(BIG_BYTES), false),
        ("5 MB of new HTML", html_flat(BIG_BYTES), true),
    ];
    println!(
        "{:<36} {:>8} {:>14} {:>12} {:>12} {:>10}",
        "input", "bytes", "HTML to text", "stripping", "agent HTML", "kept"
    );
    let mut slow = Vec::new();
    for (name, input, is_html) in &samples {
        let (text, to_text) = match is_html {
            true => timed(|| buzon::parse::html_to_text(input)),
            false => (input.clone(), Duration::ZERO),
        };
        let (kept, strip) = timed(|| buzon::quotes::new_text(&text, &[SENT]));
        // An agent's HTML made fit to relay (quote taken out, sanitised); past the size HTML
        // is parsed at, the relay uses the text instead, at no cost.
        let (_, answer) = match is_html {
            true => timed(|| buzon::parse::answer_html(input)),
            false => (None, Duration::ZERO),
        };
        println!(
            "{name:<36} {:>7.2}M {:>12.1}ms {:>10.1}ms {:>10.1}ms {:>9}B",
            input.len() as f64 / 1e6,
            to_text.as_secs_f64() * 1e3,
            strip.as_secs_f64() * 1e3,
            answer.as_secs_f64() * 1e3,
            kept.len()
        );
        if to_text >= LIMIT || strip >= LIMIT || answer >= LIMIT {
            slow.push(*name);
        }
    }
    if !slow.is_empty() {
        eprintln!("reply_text: a second or more on {slow:?}");
        std::process::exit(1);
    }
}
