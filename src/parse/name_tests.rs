//! What parsing does against look-alike names and ambiguous senders.

use super::*;

#[test]
fn bidi_controls_are_neutralised_in_names() {
    let overrides = "\u{202A}\u{202B}\u{202C}\u{202D}\u{202E}\u{2066}\u{2067}\u{2068}\u{2069}\u{200E}\u{200F}\u{61C}";
    assert_eq!(
        sanitize_filename("factura\u{202E}fdp.exe", "application/pdf"),
        "facturafdp.exe"
    );
    assert_eq!(
        sanitize_filename(&format!("a{overrides}b.txt"), "text/plain"),
        "ab.txt"
    );
    let raw = format!(
        "From: =?utf-8?b?{}?= <ana@x.test>\r\nSubject: x\r\n\r\nx\r\n",
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            "Ana \u{202E}nimda"
        )
    );
    let m = parse(raw.as_bytes()).unwrap();
    assert_eq!(m.from.unwrap().name.as_deref(), Some("Ana nimda"));
}

#[test]
fn from_headers_are_counted() {
    let one = parse(b"From: a@x.test\r\nSubject: x\r\n\r\nx").unwrap();
    assert_eq!(one.from_headers, 1);
    let two = parse(b"From: a@x.test\r\nFrom: b@x.test\r\nSubject: x\r\n\r\nx").unwrap();
    assert_eq!(two.from_headers, 2);
}
