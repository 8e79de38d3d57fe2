//! Headers whose charset label is wrong or missing. mail-parser decodes an encoded word by
//! its label and raw 8-bit header bytes as UTF-8, so a Shift_JIS subject labelled
//! ISO-2022-JP, or a GB2312 subject sent raw, comes out as U+FFFD. Such a header is decoded
//! again here: each encoded word by its label when the bytes fit it, else by the charset
//! chardetng finds in them (encoding_rs decodes), and raw 8-bit runs the same way.

use std::sync::LazyLock;

use encoding_rs::Encoding;
use regex::bytes::Regex;

/// `=?charset?B|Q?payload?=`, RFC 2047 (a language tag after `*` is ignored).
static ENCODED_WORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"=\?([^?*\s]+)(?:\*[^?]*)?\?([bBqQ])\?([^?\s]*)\?=").expect("static regex")
});

/// The header as a person would read it, when mail-parser's reading of it lost characters
/// (`decoded` holds U+FFFD) or the raw bytes are not UTF-8; `None` when it read it right.
pub(super) fn repaired(raw: &[u8], decoded: &str) -> Option<String> {
    let suspicious = decoded.contains('\u{fffd}') || std::str::from_utf8(raw).is_err();
    if !suspicious {
        return None;
    }
    let text = decode(raw);
    let unfolded: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    (!unfolded.contains('\u{fffd}') || decoded.is_empty()).then_some(unfolded)
}

/// Encoded words in a row (only white space between them) are joined before decoding, as
/// RFC 2047 asks and as a character split across two words needs.
fn decode(raw: &[u8]) -> String {
    let mut out = String::new();
    let mut pending: Option<(String, Vec<u8>)> = None;
    let mut last = 0;
    for word in ENCODED_WORD.captures_iter(raw) {
        let whole = word.get(0).expect("match");
        let between = &raw[last..whole.start()];
        let label = String::from_utf8_lossy(&word[1]).to_ascii_lowercase();
        let bytes = payload(&word[2], &word[3]);
        let joins = between.iter().all(u8::is_ascii_whitespace);
        match pending.as_mut() {
            Some((open, buf)) if joins && *open == label => buf.extend_from_slice(&bytes),
            _ => {
                if let Some((open, buf)) = pending.take() {
                    out.push_str(&by_label_or_sniffed(&open, &buf));
                }
                if !(joins && last > 0) {
                    out.push_str(&sniffed(between));
                }
                pending = Some((label, bytes));
            }
        }
        last = whole.end();
    }
    if let Some((open, buf)) = pending {
        out.push_str(&by_label_or_sniffed(&open, &buf));
    }
    out.push_str(&sniffed(&raw[last..]));
    out
}

fn payload(kind: &[u8], text: &[u8]) -> Vec<u8> {
    if kind.eq_ignore_ascii_case(b"b") {
        return super::transfer::base64_lenient(text).0;
    }
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        let hex = text
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (text[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'=', Some(byte)) => {
                out.push(byte);
                i += 3;
                continue;
            }
            (b'_', _) => out.push(b' '),
            (c, _) => out.push(c),
        }
        i += 1;
    }
    out
}

fn by_label_or_sniffed(label: &str, bytes: &[u8]) -> String {
    Encoding::for_label(label.as_bytes())
        .and_then(|e| e.decode_without_bom_handling_and_without_replacement(bytes))
        .map(|s| s.into_owned())
        .unwrap_or_else(|| sniffed(bytes))
}

/// A text part whose label did not fit its bytes (mail-parser's text holds U+FFFD), read
/// again by the charset chardetng finds; `None` when that reads no better.
pub(super) fn repaired_body(bytes: &[u8], decoded: &str) -> Option<String> {
    if !decoded.contains('\u{fffd}') {
        return None;
    }
    Some(sniffed(bytes)).filter(|text| !text.contains('\u{fffd}'))
}

/// UTF-8 when the bytes are UTF-8; otherwise the charset chardetng finds most likely.
fn sniffed(bytes: &[u8]) -> String {
    if let Ok(text) = std::str::from_utf8(bytes) {
        return text.to_string();
    }
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Allow);
    detector.feed(bytes, true);
    let encoding = detector.guess(None, chardetng::Utf8Detection::Allow);
    encoding.decode_without_bom_handling(bytes).0.into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shift_jis_labelled_iso_2022_jp_is_read_as_shift_jis() {
        let text = "請求書の件について";
        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode(text);
        let encoded = base64_of(&sjis);
        let raw = format!("=?ISO-2022-JP?B?{encoded}?=");
        assert_eq!(
            repaired(raw.as_bytes(), "\u{fffd}\u{fffd}").as_deref(),
            Some(text)
        );
    }

    #[test]
    fn raw_gb2312_and_big5_bytes_are_sniffed() {
        for (encoding, text) in [
            (encoding_rs::GBK, "关于发票的问题，请尽快回复"),
            (encoding_rs::BIG5, "關於發票的問題，請盡快回覆"),
        ] {
            let (bytes, _, _) = encoding.encode(text);
            assert_eq!(repaired(&bytes, "\u{fffd}").as_deref(), Some(text));
        }
    }

    #[test]
    fn a_header_read_right_is_left_alone() {
        assert_eq!(repaired(b"=?utf-8?Q?Caf=C3=A9?=", "Café"), None);
    }

    fn base64_of(bytes: &[u8]) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }
}
