//! Which of a mail's text parts become its text. Clients send a text/plain and a text/html
//! alternative that should say the same, but some send an empty or placeholder text part
//! ("This is an HTML message"), or a text part that lost most of the HTML's content; and
//! some send more than one HTML part. So: the text parts, unless the HTML says clearly
//! more; then every inline HTML part, in order.

use mail_parser::{Message, MessagePart, MimeHeaders, PartType};

use super::transfer::{uudecode, Transfer};

/// A text part with fewer words than this share of the HTML's is taken as a stub.
const MIN_PLAIN_SHARE: f64 = 0.5;
/// Placeholder text parts are short; a longer text part is the sender's.
const MAX_PLACEHOLDER_CHARS: usize = 300;

/// What clients put in a text part that is not the message (folded, any position).
const PLACEHOLDERS: &[&str] = &[
    "html message",
    "html-only",
    "html only",
    "html version",
    "html e-mail",
    "html email",
    "mensaje html",
    "mensaje en html",
    "message html",
    "message au format html",
    "html-nachricht",
    "html-format",
    "view this email in your browser",
    "view it in your browser",
    "does not support html",
    "doesn't support html",
    "no admite html",
    "ne supporte pas le html",
];

/// The mail's text: its text parts, or its HTML parts as text when those say clearly more.
pub(super) fn text(message: &Message<'_>) -> String {
    let plain = join(message.text_bodies().filter_map(|p| {
        match &p.body {
            PartType::Text(t) => Some(match Transfer::of(p.content_transfer_encoding()) {
                Transfer::Uuencode => {
                    String::from_utf8_lossy(&uudecode(super::raw_body(message, p))).into_owned()
                }
                _ => super::charset::repaired_body(&transfer_decoded(message, p), t)
                    .unwrap_or_else(|| t.to_string()),
            }),
            _ => None,
        }
    }));
    let html_parts: Vec<&MessagePart<'_>> = inline_html_parts(message).collect();
    let mut text = if html_parts.is_empty() {
        plain
    } else {
        let html = join(html_parts.iter().filter_map(|p| match &p.body {
            PartType::Html(h) => Some(super::html_to_text(h)),
            _ => None,
        }));
        if plain_is_enough(&plain, &html) {
            plain
        } else {
            html
        }
    };
    // In place where it can be: this text may be megabytes long.
    if text.contains('\r') {
        text = text.replace("\r\n", "\n");
    }
    text.truncate(text.trim_end().len());
    text.drain(..text.len() - text.trim_start().len());
    text
}

/// The inline HTML parts as written, joined; none past the size HTML is parsed at.
pub(super) fn html(message: &Message<'_>) -> Option<String> {
    let parts = || {
        inline_html_parts(message).filter_map(|p| match &p.body {
            PartType::Html(h) => Some(h),
            _ => None,
        })
    };
    // Measured first, so a 14 MB HTML mail is not copied only to be dropped.
    let size: usize = parts().map(|h| h.len() + 1).sum();
    if size > super::html::MAX_CONVERTED_BYTES {
        return None;
    }
    let html = join(parts().map(|h| h.to_string()));
    (!html.trim().is_empty()).then_some(html)
}

/// Every HTML part that is not an attachment, in the mail's order: mail-parser keeps one
/// per multipart/alternative, a client may send two.
fn inline_html_parts<'a>(message: &'a Message<'a>) -> impl Iterator<Item = &'a MessagePart<'a>> {
    message.parts.iter().enumerate().filter_map(|(id, part)| {
        let attached = message.attachments.contains(&(id as u32))
            || part
                .content_disposition()
                .is_some_and(|d| d.is_attachment());
        (matches!(part.body, PartType::Html(_)) && !attached).then_some(part)
    })
}

/// A part's bytes with its transfer encoding undone, before any charset.
fn transfer_decoded(message: &Message<'_>, part: &MessagePart<'_>) -> Vec<u8> {
    let raw = super::raw_body(message, part);
    match Transfer::of(part.content_transfer_encoding()) {
        Transfer::Base64 => super::transfer::base64_lenient(raw).0,
        Transfer::Uuencode => uudecode(raw),
        Transfer::Other => super::original_bytes(message, part),
    }
}

fn plain_is_enough(plain: &str, html: &str) -> bool {
    let plain_words = plain.split_whitespace().count();
    if plain_words == 0 || is_placeholder(plain) {
        return false;
    }
    plain_words as f64 >= MIN_PLAIN_SHARE * html.split_whitespace().count() as f64
}

fn is_placeholder(plain: &str) -> bool {
    let folded = crate::text::fold_words(plain);
    folded.len() <= MAX_PLACEHOLDER_CHARS && PLACEHOLDERS.iter().any(|p| folded.contains(p))
}

fn join(chunks: impl Iterator<Item = String>) -> String {
    let mut text = String::new();
    for chunk in chunks {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&chunk);
    }
    text
}
