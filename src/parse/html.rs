//! HTML → readable text, at a bounded cost whatever the mail holds.
//!
//! html5ever (Servo's parser, kept) builds the tree, markup5ever_rcdom holds it (the
//! html5ever authors' DOM, iterative on drop) and a small walk of our own writes the text
//! ([`walk`]), linear in the tree: no markdown, links
//! as `text <url>`, quoted history marked `> ` by the structure clients leave. html2text
//! was dropped for this: its plain mode decorates (`**bold**`, `[1]` link footnotes, table
//! borders) and its cost grew faster than linearly with nesting depth.
//!
//! The tree costs tens of bytes of memory per byte of HTML (the 14 MB HTML mail of the
//! hostile benchmark peaks at 57 MB while parsing), so it gets at most
//! [`MAX_CONVERTED_BYTES`], with tags nested deeper than [`MAX_DEPTH`] dropped (their text
//! kept: the parser's scope checks walk the open elements, so depth would cost time); the
//! rest goes through a linear tag stripper, so no word is lost, only layout.

use html5ever::tendril::TendrilSink;
use markup5ever_rcdom::RcDom;

mod answer;
#[cfg(test)]
mod similarity_tests;
mod walk;
mod writer;

pub use answer::answer_html;

/// HTML bytes turned into a tree; what follows is stripped of tags instead.
pub const MAX_CONVERTED_BYTES: usize = 2 * 1024 * 1024;

/// Open elements the parser sees at once; deeper tags are dropped, their text kept.
pub const MAX_DEPTH: usize = 48;

/// Elements that never have content, so never open a level.
const VOID: [&[u8]; 14] = [
    b"area", b"base", b"br", b"col", b"embed", b"hr", b"img", b"input", b"link", b"meta", b"param",
    b"source", b"track", b"wbr",
];

/// Elements a second one of closes (`<p>a<p>b`, `<td>x<td>y`): not a level deeper.
const SELF_CLOSING_SIBLINGS: [&[u8]; 8] =
    [b"p", b"li", b"td", b"th", b"tr", b"dt", b"dd", b"option"];

/// Readable text from HTML, quoted history marked `> `.
pub fn to_text(html: &str) -> String {
    let cut = split_point(html, MAX_CONVERTED_BYTES);
    let (head, tail) = html.split_at(cut);
    let shallow = bound_depth(head, MAX_DEPTH);
    let dom = html5ever::parse_document(RcDom::default(), Default::default()).one(shallow.as_str());
    drop(shallow);
    let text = walk::render(&dom.document);
    drop(dom);
    if tail.is_empty() {
        return text;
    }
    let rest = mail_parser::decoders::html::html_to_text(tail);
    let mut all = String::with_capacity(text.len() + 1 + rest.len());
    all.push_str(&text);
    all.push('\n');
    all.push_str(&rest);
    all
}

/// Where to cut `html` at most `max` bytes in: before a tag when one starts in the last
/// 4 KiB, so no tag is split; else at a character boundary.
fn split_point(html: &str, max: usize) -> usize {
    if html.len() <= max {
        return html.len();
    }
    let mut at = max;
    while !html.is_char_boundary(at) {
        at -= 1;
    }
    let window = at.saturating_sub(4096);
    html[window..at].rfind('<').map_or(at, |i| window + i)
}

/// `html` without the tags that would open (or close) a level below `max`: one pass,
/// each tag compared with the innermost open element only.
pub fn bound_depth(html: &str, max: usize) -> String {
    let mut out = String::with_capacity(html.len());
    let mut open: Vec<&str> = Vec::new();
    // Elements opened beyond `max`, dropped; their closing tags are dropped as well.
    let mut excess = 0usize;
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        out.push_str(&rest[..lt]);
        let tag_end = rest[lt..].find('>').map_or(rest.len(), |i| lt + i + 1);
        let tag = &rest[lt..tag_end];
        rest = &rest[tag_end..];
        let keep = match Tag::of(tag) {
            Tag::Open(name) if is_void(name) => true,
            Tag::Open(name) => {
                if excess == 0
                    && is_sibling_closer(name)
                    && open
                        .last()
                        .is_some_and(|last| last.eq_ignore_ascii_case(name))
                {
                    open.pop();
                }
                if excess == 0 && open.len() < max {
                    open.push(name);
                    true
                } else {
                    excess += 1;
                    false
                }
            }
            Tag::Close(name) if excess > 0 => {
                let _ = name;
                excess -= 1;
                false
            }
            Tag::Close(name) => {
                if let Some(i) = open.iter().rposition(|o| o.eq_ignore_ascii_case(name)) {
                    open.truncate(i);
                }
                true
            }
            Tag::Other => true,
        };
        if keep {
            out.push_str(tag);
        }
    }
    out.push_str(rest);
    out
}

/// What a `<…>` is, as far as depth goes.
enum Tag<'a> {
    Open(&'a str),
    Close(&'a str),
    /// Comments, doctypes, `<x/>`, and anything that is not a tag.
    Other,
}

impl<'a> Tag<'a> {
    fn of(tag: &'a str) -> Tag<'a> {
        let inner = tag.trim_start_matches('<');
        let (closing, inner) = match inner.strip_prefix('/') {
            Some(rest) => (true, rest),
            None => (false, inner),
        };
        let end = inner
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(inner.len());
        let name = &inner[..end];
        if name.is_empty() || !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
            Tag::Other
        } else if closing {
            Tag::Close(name)
        } else if tag.ends_with("/>") {
            Tag::Other
        } else {
            Tag::Open(name)
        }
    }
}

fn is_void(name: &str) -> bool {
    VOID.iter().any(|v| name.as_bytes().eq_ignore_ascii_case(v))
}

fn is_sibling_closer(name: &str) -> bool {
    SELF_CLOSING_SIBLINGS
        .iter()
        .any(|v| name.as_bytes().eq_ignore_ascii_case(v))
}

#[cfg(test)]
mod walk_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_below_the_bound_go_and_their_text_stays() {
        let html = format!("{}fondo{}", "<div>".repeat(10), "</div>".repeat(10));
        let bounded = bound_depth(&html, 3);
        assert_eq!(
            bounded,
            format!("{}fondo{}", "<div>".repeat(3), "</div>".repeat(3))
        );
        let mixed = "<p>a<p>b<br><img src=x><td>c</td><!-- <div> -->d</p>";
        assert_eq!(
            bound_depth(mixed, 2),
            mixed,
            "siblings and void tags open no level"
        );
    }

    #[test]
    fn deep_and_long_html_keeps_every_word() {
        let deep = format!("{}hondo{}", "<div>".repeat(50_000), "</div>".repeat(50_000));
        assert!(to_text(&deep).contains("hondo"));
        let long = format!(
            "<p>inicio</p>{}<p>final &amp; fin</p>",
            "<b>x</b> ".repeat(100_000)
        );
        let text = to_text(&long);
        assert!(
            text.contains("inicio") && text.contains("final & fin"),
            "{}",
            &text[text.len() - 40..]
        );
    }
}
