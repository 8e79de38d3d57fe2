//! The nesting cut and the iterative drop.

#[path = "../../../tests/fixtures/hostile.rs"]
#[allow(dead_code)]
mod hostile_mail;

use super::*;

fn nested_messages(depth: usize) -> Vec<u8> {
    let mut m = b"From: a@x.test\r\nSubject: s\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: message/rfc822\r\n\r\n".to_vec();
    for _ in 0..depth {
        m.extend_from_slice(b"Subject: capa\r\nContent-Type: message/rfc822\r\n\r\n");
    }
    m.extend_from_slice(b"Subject: fondo\r\n\r\nfondo\r\n--b--\r\n");
    m
}

#[test]
fn ordinary_mail_is_not_copied() {
    assert!(flatten(&nested_messages(MAX_DEPTH - 3)).is_none());
    let alternative = b"From: a@x.test\r\nContent-Type: multipart/alternative; boundary=a\r\n\r\n--a\r\nContent-Type: text/plain\r\n\r\nhola\r\n--a\r\nContent-Type: text/html\r\n\r\n<p>hola</p>\r\n--a--\r\n";
    assert!(flatten(alternative).is_none());
}

#[test]
fn the_container_at_the_bound_becomes_an_attachment() {
    let flat = flatten(&nested_messages(100)).expect("cut");
    let text = String::from_utf8_lossy(&flat);
    assert_eq!(text.matches("parte-anidada.bin").count(), 1);
    assert!(text.contains("X-Buzon-Original-Content-Type: message/rfc822"));
    let parsed = mail_parser::MessageParser::default().parse(&flat).unwrap();
    let depth = message_depth(&parsed);
    drop_flat(parsed);
    assert!(
        (MAX_DEPTH - 3..MAX_DEPTH).contains(&depth),
        "{depth}: cut at the bound"
    );
}

#[test]
fn a_digest_part_without_content_type_counts_as_a_message() {
    let mut m = b"From: a@x.test\r\n".to_vec();
    for i in 0..MAX_DEPTH + 5 {
        m.extend_from_slice(
            format!("Content-Type: multipart/digest; boundary=d{i}\r\n\r\n--d{i}\r\n").as_bytes(),
        );
        // The digest's part: no Content-Type, so a message; its headers start here.
        m.extend_from_slice(b"Subject: parte\r\n\r\n");
    }
    let flat = flatten(&m).expect("cut");
    assert!(String::from_utf8_lossy(&flat).contains("parte-anidada.bin"));
}

#[test]
fn an_encoded_message_that_nests_too_deep_is_opaque() {
    use base64::Engine;
    let inner = base64::engine::general_purpose::STANDARD.encode(nested_messages(100));
    let m = format!("From: a@x.test\r\nContent-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n{inner}\r\n--o--\r\n");
    let flat = flatten(m.as_bytes()).expect("cut");
    assert!(String::from_utf8_lossy(&flat).contains(
        "X-Buzon-Original-Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64"
    ));
    let shallow = base64::engine::general_purpose::STANDARD.encode(nested_messages(3));
    let m = m.replace(&inner, &shallow);
    assert!(flatten(m.as_bytes()).is_none());
}

/// The tree that overflowed the stack (issue 12), parsed without the cut, is dropped on
/// a test thread's ordinary stack.
#[test]
fn a_deep_tree_is_dropped_without_recursion() {
    let raw = hostile_mail::message_nesting(40_000);
    let parsed = mail_parser::MessageParser::default().parse(&raw).unwrap();
    assert!(message_depth(&parsed) > 39_000);
    drop_flat(parsed);
}
