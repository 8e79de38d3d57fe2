use super::*;

const SIMPLE: &[u8] = b"From: Ana Cliente <Ana@Cliente.test>\r\n\
To: soporte@example.test, Otro <otro@cliente.test>\r\n\
Cc: jefe@cliente.test\r\n\
Subject: =?utf-8?q?Producci=C3=B3n_ca=C3=ADda?=\r\n\
Message-ID: <abc@cliente.test>\r\n\
References: <r1@x> <r2@x>\r\n\
In-Reply-To: <r2@x>\r\n\
Auto-Submitted: auto-replied\r\n\
\r\n\
Hola,\r\nno funciona.\r\n";

#[test]
fn headers_become_our_types() {
    let m = parse(SIMPLE).unwrap();
    assert_eq!(m.message_id.as_deref(), Some("abc@cliente.test"));
    assert_eq!(m.references, vec!["r1@x", "r2@x"]);
    assert_eq!(m.in_reply_to, vec!["r2@x"]);
    let from = m.from.unwrap();
    assert_eq!(from.address.as_str(), "ana@cliente.test");
    assert_eq!(from.name.as_deref(), Some("Ana Cliente"));
    assert_eq!(m.to.len(), 2);
    assert_eq!(m.cc[0].address.as_str(), "jefe@cliente.test");
    assert_eq!(m.subject, "Producción caída");
    assert_eq!(m.text, "Hola,\nno funciona.");
    assert_eq!(m.signals.auto_submitted.as_deref(), Some("auto-replied"));
}

#[test]
fn html_only_mail_becomes_text() {
    let raw = b"From: a@b.test\r\nSubject: x\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Hola <b>mundo</b></p><p>Segunda l&iacute;nea</p>";
    let m = parse(raw).unwrap();
    assert_eq!(
        m.text, "Hola mundo\n\nSegunda línea",
        "no markdown, paragraphs kept"
    );
    assert!(!m.text.contains('<'));
}

#[test]
fn latin1_text_attachment_keeps_its_bytes() {
    let raw = b"From: a@b.test\r\nSubject: x\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\nContent-Type: text/plain\r\n\r\nbody\r\n\
--XX\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\
Content-Disposition: attachment; filename=\"../../etc/a\xf1o.log\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\nYfFv\r\n--XX--\r\n";
    let m = parse(raw).unwrap();
    assert_eq!(m.attachments.len(), 1);
    assert_eq!(m.attachments[0].bytes, b"a\xf1o");
    assert!(!m.attachments[0].filename.contains('/'));
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    assert!(parse(b"").is_err());
    assert!(parse(b"\x00\x01\x02").is_err());
}

#[test]
fn filenames_are_sanitised() {
    assert_eq!(
        sanitize_filename("..\\..\\win.ini", "text/plain"),
        "win.ini"
    );
    assert_eq!(sanitize_filename("", "image/png"), "adjunto.png");
    assert_eq!(sanitize_filename(".hidden", "text/plain"), "hidden");
    assert_eq!(sanitize_filename("a\r\nb.txt", "text/plain"), "ab.txt");
}

#[test]
fn nul_characters_are_dropped_from_every_kept_text() {
    let raw = b"From: Ana <ana@x.test>\r\nTo: soporte@x.test\r\nSubject: =?utf-8?B?RmFsbG8ARGVs?=\r\nMessage-ID: <a\x00b@x>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nLinea\x00 con nulo\r\n";
    let m = parse(raw).unwrap();
    assert_eq!(m.subject, "FalloDel");
    assert_eq!(m.text.trim(), "Linea con nulo");
    assert!(!m.message_id.unwrap_or_default().contains('\0'));
}

/// MimeKit's content-length-001 and -002: mail-parser loses track of their nested
/// message/rfc822 parts (a debug assertion). They are kept, text and every top-level part,
/// instead of being parked.
#[test]
fn mail_parser_trees_it_cannot_build_keep_text_and_parts() {
    let mbox = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/mbox/content-length.mbox.txt"
    ))
    .unwrap();
    let messages = crate::import::split_mbox(&mbox);
    for (i, raw) in messages.iter().enumerate() {
        assert!(parse(raw).is_ok(), "message {i}");
    }
    let first = parse(&messages[1]).unwrap();
    assert!(first.subject.starts_with("attached image cache test"));
    let gifs = first
        .attachments
        .iter()
        .filter(|a| a.content_type == "image/gif");
    assert_eq!(gifs.count(), 4, "the four images are kept");
    assert!(first.attachments.len() >= 7, "nested messages kept opaque");
}

#[test]
fn headers_and_text_with_a_wrong_or_missing_charset_are_sniffed() {
    let (subject, _, _) = encoding_rs::GBK.encode("关于发票的问题，请尽快回复");
    let (body, _, _) = encoding_rs::SHIFT_JIS.encode("請求書の件について、至急ご確認ください。");
    let mut raw = b"From: a@b.test\r\nSubject: ".to_vec();
    raw.extend_from_slice(&subject);
    raw.extend_from_slice(b"\r\nContent-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 8bit\r\n\r\n");
    raw.extend_from_slice(&body);
    let m = parse(&raw).unwrap();
    assert_eq!(m.subject, "关于发票的问题，请尽快回复");
    assert_eq!(m.text, "請求書の件について、至急ご確認ください。");
}
