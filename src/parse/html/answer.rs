//! An agent's HTML answer made fit to relay to the customer: the quoted history their
//! client left under it removed by the same structure the text walk marks (`blockquote`,
//! `gmail_quote`, `moz-cite-prefix`, Outlook's `divRplyFwdMsg` and border-top rule, …),
//! then cleaned by ammonia's allow-list (no scripts, styles, forms, event handlers or
//! unsafe links), so the customer sees the agent's formatting and nothing else.

use std::rc::Rc;

use html5ever::serialize::{serialize, SerializeOpts};
use html5ever::tendril::TendrilSink;
use markup5ever_rcdom::{Handle, NodeData, RcDom, SerializableHandle};

use super::walk::{has_class, is_forward, starts_history, QUOTE_CLASSES};
use super::{bound_depth, MAX_CONVERTED_BYTES, MAX_DEPTH};

/// The agent's answer as a sanitised HTML fragment (the body's content), without the
/// quoted history; `None` when the HTML is too large to rebuild or says nothing.
pub fn answer_html(html: &str) -> Option<String> {
    if html.len() > MAX_CONVERTED_BYTES {
        return None;
    }
    let shallow = bound_depth(html, MAX_DEPTH);
    let dom = html5ever::parse_document(RcDom::default(), Default::default()).one(shallow.as_str());
    let body = find_body(&dom.document)?;
    strip_history(&body);
    let mut bytes = Vec::new();
    let handle: SerializableHandle = body.clone().into();
    serialize(&mut bytes, &handle, SerializeOpts::default()).ok()?;
    let cleaned = ammonia::Builder::default()
        .add_clean_content_tags(["title", "head"])
        .clean(&String::from_utf8_lossy(&bytes))
        .to_string();
    super::to_text(&cleaned)
        .chars()
        .any(char::is_alphanumeric)
        .then_some(cleaned)
}

fn find_body(document: &Handle) -> Option<Handle> {
    let mut stack = vec![document.clone()];
    while let Some(node) = stack.pop() {
        if let NodeData::Element { name, .. } = &node.data {
            if &*name.local == "body" {
                return Some(node);
            }
        }
        stack.extend(node.children.borrow().iter().cloned());
    }
    None
}

/// Removes quote blocks, and everything from Outlook's history marker on, under `body`.
fn strip_history(body: &Handle) {
    let mut quotes = Vec::new();
    let mut history = None;
    let mut stack = vec![body.clone()];
    while let Some(node) = stack.pop() {
        let NodeData::Element { name, .. } = &node.data else {
            continue;
        };
        let tag = name.local.to_ascii_lowercase();
        let tag: &str = &tag;
        if starts_history(&node, tag) {
            history = Some(node);
            break;
        }
        if (tag == "blockquote" || has_class(&node, QUOTE_CLASSES)) && !is_forward(&node) {
            quotes.push(node);
            continue;
        }
        stack.extend(node.children.borrow().iter().rev().cloned());
    }
    for quote in &quotes {
        detach(quote, false);
    }
    if let Some(marker) = history {
        cut_from(&marker, body);
    }
}

/// Takes `node` (and, with `following`, its later siblings) out of its parent.
fn detach(node: &Handle, following: bool) {
    let Some(parent) = node.parent.take().and_then(|p| p.upgrade()) else {
        return;
    };
    let mut children = parent.children.borrow_mut();
    if let Some(at) = children.iter().position(|c| Rc::ptr_eq(c, node)) {
        let end = if following { children.len() } else { at + 1 };
        children.drain(at..end);
    }
}

/// Everything from `marker` on in document order, up to `body`.
fn cut_from(marker: &Handle, body: &Handle) {
    let mut node = marker.clone();
    while !Rc::ptr_eq(&node, body) {
        let parent = node.parent.take().and_then(|p| p.upgrade());
        let Some(parent) = parent else { return };
        {
            let mut children = parent.children.borrow_mut();
            if let Some(at) = children.iter().position(|c| Rc::ptr_eq(c, &node)) {
                children.truncate(at);
            }
        }
        node = parent;
    }
}

#[cfg(test)]
mod tests {
    use super::answer_html;

    #[test]
    fn the_answer_keeps_its_formatting_and_loses_the_quote_and_scripts() {
        let html = r#"<html><head><title>t</title><style>p{color:red}</style></head><body>
            <p>Hola Ana, <b>el job nocturno</b> ya corre. Vea <a href="https://docs.example.test/x" onclick="steal()">la documentación</a>.</p>
            <script>alert(1)</script>
            <div class="gmail_quote">El lun, 3 nov 2025 a las 10:00, Ana escribió:<blockquote>¿Cuándo?</blockquote></div>
            </body></html>"#;
        let out = answer_html(html).unwrap();
        assert!(out.contains("<b>el job nocturno</b>"), "{out}");
        assert!(
            out.contains("href=\"https://docs.example.test/x\""),
            "{out}"
        );
        for gone in [
            "script",
            "alert",
            "onclick",
            "style",
            "color:red",
            "escribió",
            "¿Cuándo?",
            "<title",
        ] {
            assert!(!out.contains(gone), "{gone} in {out}");
        }
    }

    #[test]
    fn outlook_history_goes_from_its_marker_on() {
        let html = r#"<body><div><p>Listo, reiniciado.</p></div><div id="divRplyFwdMsg"><b>De:</b> Ana</div><div>Texto citado</div></body>"#;
        let out = answer_html(html).unwrap();
        assert!(out.contains("Listo, reiniciado."), "{out}");
        assert!(
            !out.contains("Ana") && !out.contains("Texto citado"),
            "{out}"
        );
    }

    #[test]
    fn an_answer_with_no_words_is_none() {
        assert_eq!(
            answer_html("<body><blockquote>solo cita</blockquote></body>"),
            None
        );
    }

    #[test]
    fn a_long_quoted_thread_leaves_the_answer() {
        let mut html = String::from("<div dir=\"ltr\">Thanks, that fixed it.</div>");
        for _ in 0..100 {
            html.push_str(
                "<div class=\"gmail_quote\">On Mon, Ana wrote:<blockquote class=\"gmail_quote\">",
            );
            html.push_str(&"<p>The nightly export failed again after the upgrade.</p>".repeat(40));
        }
        html.push_str(&"</blockquote></div>".repeat(100));
        let started = std::time::Instant::now();
        let out = answer_html(&html).unwrap();
        println!("{} bytes in {:?}", html.len(), started.elapsed());
        assert!(
            out.contains("Thanks, that fixed it.") && !out.contains("nightly"),
            "{out}"
        );
    }
}
