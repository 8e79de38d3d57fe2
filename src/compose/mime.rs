//! Writing RFC 5322 / MIME bytes. Every header value passes through here, so a subject or a
//! name carrying CR/LF cannot add a header, and non-ASCII text is RFC 2047-encoded.

use base64::Engine;

use crate::domain::Mailbox;
use crate::text::single_line;

/// One file to attach.
#[derive(Debug, Clone)]
pub struct Part {
    pub filename: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// A header as (name, value); values are made single-line and encoded on output.
pub type Header = (&'static str, String);

/// The whole message: headers, a plain-text body (its HTML alternative made from it) and
/// optional attachments.
pub fn write_message(headers: &[Header], text: &str, parts: &[Part]) -> Vec<u8> {
    write_message_with_html(headers, text, &super::html::html_of(text), parts)
}

/// The whole message with an HTML alternative of its own (an agent's formatted answer).
pub fn write_message_with_html(
    headers: &[Header],
    text: &str,
    html: &str,
    parts: &[Part],
) -> Vec<u8> {
    let mut out = String::new();
    for (name, value) in headers {
        push_header(&mut out, name, value);
    }
    push_header(&mut out, "MIME-Version", "1.0");
    if parts.is_empty() {
        push_alternative(&mut out, text, html);
        return out.into_bytes();
    }
    let boundary = format!("=_buzon_{:016x}", fastrand::u64(..));
    push_header(
        &mut out,
        "Content-Type",
        &format!("multipart/mixed; boundary=\"{boundary}\""),
    );
    out.push_str("\r\n");
    out.push_str(&format!("--{boundary}\r\n"));
    push_alternative(&mut out, text, html);
    for part in parts {
        out.push_str(&format!("\r\n--{boundary}\r\n"));
        push_attachment(&mut out, part);
    }
    out.push_str(&format!("\r\n--{boundary}--\r\n"));
    out.into_bytes()
}

/// The body as multipart/alternative: the plain text, and the same text as HTML for
/// clients that prefer it (escaped, so nothing in a value can become markup).
fn push_alternative(out: &mut String, text: &str, html: &str) {
    let boundary = format!("=_buzon_alt_{:016x}", fastrand::u64(..));
    push_header(
        out,
        "Content-Type",
        &format!("multipart/alternative; boundary=\"{boundary}\""),
    );
    out.push_str("\r\n");
    out.push_str(&format!("--{boundary}\r\n"));
    push_text_body(out, text);
    out.push_str(&format!("\r\n--{boundary}\r\n"));
    push_header(out, "Content-Type", "text/html; charset=utf-8");
    push_header(out, "Content-Transfer-Encoding", "quoted-printable");
    out.push_str("\r\n");
    out.push_str(&quoted_printable(html));
    out.push_str(&format!("\r\n--{boundary}--\r\n"));
}

fn push_text_body(out: &mut String, text: &str) {
    push_header(out, "Content-Type", "text/plain; charset=utf-8");
    push_header(out, "Content-Transfer-Encoding", "quoted-printable");
    out.push_str("\r\n");
    out.push_str(&quoted_printable(text));
}

fn push_attachment(out: &mut String, part: &Part) {
    let name = encode_param(&part.filename);
    if part.content_type == "message/rfc822" {
        // RFC 2046 5.2.1: a message part is never base64; one that cannot travel as it is
        // (8-bit that is not UTF-8, or over-long lines) goes as a plain file instead.
        if let Some((text, encoding)) = embeddable_message(&part.bytes) {
            push_header(out, "Content-Type", &format!("message/rfc822; name={name}"));
            push_header(
                out,
                "Content-Disposition",
                &format!("attachment; filename={name}"),
            );
            push_header(out, "Content-Transfer-Encoding", encoding);
            out.push_str("\r\n");
            out.push_str(&text);
            return;
        }
    }
    let ctype = if part
        .content_type
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/.+-".contains(c))
    {
        part.content_type.as_str()
    } else {
        "application/octet-stream"
    };
    push_header(out, "Content-Type", &format!("{ctype}; name={name}"));
    push_header(
        out,
        "Content-Disposition",
        &format!("attachment; filename={name}"),
    );
    push_header(out, "Content-Transfer-Encoding", "base64");
    out.push_str("\r\n");
    let encoded = base64::engine::general_purpose::STANDARD.encode(&part.bytes);
    for chunk in encoded.as_bytes().chunks(76) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        out.push_str("\r\n");
    }
}

/// A mail's bytes as they may sit inside another mail: text with CRLF line ends, no line
/// over RFC 5322's 998 characters, and the encoding that says whether it is 7-bit.
fn embeddable_message(raw: &[u8]) -> Option<(String, &'static str)> {
    let text = std::str::from_utf8(raw).ok()?;
    if text.contains('\0')
        || text
            .split('\n')
            .any(|l| l.trim_end_matches('\r').len() > 998)
    {
        return None;
    }
    let mut crlf = String::with_capacity(text.len() + 64);
    for line in text.split_inclusive('\n') {
        crlf.push_str(line.trim_end_matches('\n').trim_end_matches('\r'));
        crlf.push_str("\r\n");
    }
    let encoding = if text.is_ascii() { "7bit" } else { "8bit" };
    Some((crlf, encoding))
}

/// Whether a mail can be attached as `message/rfc822` without any transfer encoding.
pub fn travels_as_is(raw: &[u8]) -> bool {
    embeddable_message(raw).is_some()
}

/// A MIME parameter value: quoted ASCII, or RFC 2047 for non-ASCII (what mail clients read).
fn encode_param(value: &str) -> String {
    let value = single_line(value);
    if value.is_ascii() {
        format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        format!("\"{}\"", encoded_words(&value))
    }
}

fn push_header(out: &mut String, name: &str, value: &str) {
    out.push_str(name);
    out.push_str(": ");
    out.push_str(value);
    out.push_str("\r\n");
}

/// An unstructured header value (Subject): one line, encoded when not plain ASCII.
pub fn unstructured(value: &str) -> String {
    let value = single_line(value);
    if value.is_ascii() && !value.contains("=?") {
        fold_ascii(&value)
    } else {
        encoded_words(&value)
    }
}

/// Fold a long ASCII value at spaces so no line passes 78 characters where avoidable.
fn fold_ascii(value: &str) -> String {
    let mut out = String::new();
    let mut line_len = 10;
    for (i, word) in value.split(' ').enumerate() {
        if i > 0 {
            if line_len + word.len() + 1 > 76 {
                out.push_str("\r\n ");
                line_len = 1;
            } else {
                out.push(' ');
                line_len += 1;
            }
        }
        out.push_str(word);
        line_len += word.len();
    }
    out
}

/// RFC 2047 B-encoding, split on character boundaries into words of at most 75 characters.
pub fn encoded_words(value: &str) -> String {
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in value.chars() {
        if chunk.len() + c.len_utf8() > 45 {
            words.push(std::mem::take(&mut chunk));
        }
        chunk.push(c);
    }
    if !chunk.is_empty() {
        words.push(chunk);
    }
    words
        .iter()
        .map(|w| {
            format!(
                "=?UTF-8?B?{}?=",
                base64::engine::general_purpose::STANDARD.encode(w)
            )
        })
        .collect::<Vec<_>>()
        .join("\r\n ")
}

/// `Name <address>` with the name quoted or encoded as needed.
pub fn mailbox(m: &Mailbox) -> String {
    match m.name.as_deref().map(single_line).filter(|n| !n.is_empty()) {
        None => m.address.to_string(),
        Some(name) if name.is_ascii() => format!(
            "\"{}\" <{}>",
            name.replace('\\', "\\\\").replace('"', "\\\""),
            m.address
        ),
        Some(name) => format!("{} <{}>", encoded_words(&name), m.address),
    }
}

/// Quoted-printable (RFC 2045 §6.7) with CRLF line ends and soft breaks at 76 characters.
pub fn quoted_printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    let normalized = text.replace("\r\n", "\n");
    for line in normalized.split('\n') {
        let mut len = 0;
        let bytes = line.as_bytes();
        for (i, &b) in bytes.iter().enumerate() {
            let last = i + 1 == bytes.len();
            let literal =
                (b == b' ' || b == b'\t') && !last || (33..=126).contains(&b) && b != b'=';
            let piece = if literal {
                (b as char).to_string()
            } else {
                format!("={b:02X}")
            };
            if len + piece.len() > 75 {
                out.push_str("=\r\n");
                len = 0;
            }
            out.push_str(&piece);
            len += piece.len();
        }
        out.push_str("\r\n");
    }
    out
}

/// RFC 5322 date from Unix seconds, in UTC.
pub fn rfc5322_date(unix_secs: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = unix_secs.div_euclid(86_400);
    let secs = unix_secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} +0000",
        DAYS[days.rem_euclid(7) as usize],
        d,
        MONTHS[(m - 1) as usize],
        y,
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::EmailAddress;

    #[test]
    fn dates_are_rfc5322() {
        assert_eq!(rfc5322_date(0), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(
            rfc5322_date(1_795_867_200),
            "Sat, 28 Nov 2026 12:00:00 +0000"
        );
    }

    #[test]
    fn header_injection_is_impossible() {
        let s = unstructured("hola\r\nBcc: victima@x.test");
        assert!(!s.contains("\r\nBcc"));
        let m = Mailbox {
            name: Some("Eve\r\nBcc: x@y.test".into()),
            address: EmailAddress::parse("eve@x.test").unwrap(),
        };
        assert!(!mailbox(&m).contains('\n'));
    }

    #[test]
    fn non_ascii_is_encoded_and_round_trips() {
        let subject = "[Caso #1] Producción caída en la integración de facturación electrónica";
        let encoded = unstructured(subject);
        assert!(encoded.is_ascii());
        let raw = format!("Subject: {encoded}\r\n\r\n");
        let parsed = mail_parser::MessageParser::default()
            .parse(raw.as_bytes())
            .unwrap();
        assert_eq!(parsed.subject(), Some(subject));
    }

    #[test]
    fn quoted_printable_round_trips() {
        let text = "Línea con = y acentos áéí\nuna línea muy larga ".to_string()
            + &"x".repeat(200)
            + " \nfin ";
        let qp = quoted_printable(&text);
        assert!(qp.lines().all(|l| l.len() <= 76), "{qp}");
        let decoded =
            mail_parser::decoders::quoted_printable::quoted_printable_decode(qp.as_bytes())
                .unwrap();
        assert_eq!(
            String::from_utf8(decoded).unwrap().replace("\r\n", "\n"),
            text + "\n"
        );
    }

    #[test]
    fn html_part_is_escaped_text() {
        let raw = write_message(
            &[("Subject", "x".into())],
            "a <script>alert(1)</script> & b\nsegunda",
            &[],
        );
        let parsed = mail_parser::MessageParser::default().parse(&raw).unwrap();
        let html = parsed.body_html(0).unwrap().to_string();
        assert!(
            html.contains("a &lt;script&gt;alert(1)&lt;/script&gt; &amp; b"),
            "{html}"
        );
        assert!(!html.contains("<script>"));
        assert_eq!(
            crate::parse::parse(&raw).unwrap().text,
            "a <script>alert(1)</script> & b\nsegunda"
        );
    }

    #[test]
    fn attachments_round_trip() {
        let bytes: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
        let raw = write_message(
            &[("Subject", "x".into())],
            "cuerpo",
            &[Part {
                filename: "año.bin".into(),
                content_type: "application/octet-stream".into(),
                bytes: bytes.clone(),
            }],
        );
        let parsed = crate::parse::parse(&raw).unwrap();
        assert_eq!(parsed.text, "cuerpo");
        assert_eq!(parsed.attachments[0].bytes, bytes);
        assert_eq!(parsed.attachments[0].filename, "año.bin");
    }
}
