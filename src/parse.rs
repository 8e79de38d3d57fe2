//! Bytes → [`InboundMessage`]. The only module that knows mail-parser, so the rest of buzon
//! speaks its own types and a move to another parser stays local.

use mail_parser::decoders::base64::base64_decode;
use mail_parser::decoders::quoted_printable::quoted_printable_decode;
use mail_parser::{
    Address, HeaderValue, Message, MessageParser, MessagePart, MimeHeaders, PartType,
};

use crate::domain::{EmailAddress, Mailbox};

mod html;
mod nesting;
pub mod pool;

pub use html::MAX_CONVERTED_BYTES as MAX_HTML_CONVERTED_BYTES;
pub use nesting::MAX_DEPTH as MAX_NESTING_DEPTH;

/// What buzon needs from one received mail; owned, so it can cross threads.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InboundMessage {
    /// Without angle brackets.
    pub message_id: Option<String>,
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    pub from: Option<Mailbox>,
    pub reply_to: Option<Mailbox>,
    pub to: Vec<Mailbox>,
    pub cc: Vec<Mailbox>,
    pub subject: String,
    /// The text part, or the HTML part turned into readable text.
    pub text: String,
    pub attachments: Vec<InboundAttachment>,
    pub signals: AutoSignals,
    /// Every `Authentication-Results` header value, as written (RFC 8601), topmost first:
    /// the order tells our server's headers from forged ones (see [`crate::auth::verdict`]).
    pub authentication_results: Vec<String>,
    /// How many `From` headers the mail has. More than one is never legitimate (RFC 5322)
    /// and a way around DMARC: the verifier may check one, buzon (which takes the last)
    /// would trust the other.
    pub from_headers: usize,
    /// For a delivery status notification (RFC 3464): what failed, and for which mail.
    pub report: Option<DeliveryReport>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeliveryReport {
    /// (recipient, status code such as 5.1.1, action such as failed)
    pub recipients: Vec<(EmailAddress, String, String)>,
    /// The Message-ID of the mail that bounced, from the returned message or its headers.
    pub original_message_id: Option<String>,
}

impl DeliveryReport {
    /// Recipients that failed for good (`Action: failed` with a 5.x.x status).
    pub fn hard_failures(&self) -> impl Iterator<Item = &(EmailAddress, String, String)> {
        self.recipients.iter().filter(|(_, status, action)| {
            status.starts_with('5') && action.eq_ignore_ascii_case("failed")
        })
    }
}

/// Header facts that tell a machine's mail from a person's (RFC 3834 and common practice).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AutoSignals {
    pub auto_submitted: Option<String>,
    pub precedence: Option<String>,
    pub list_id: bool,
    pub list_unsubscribe: bool,
    pub auto_response_suppress: bool,
    pub x_autoreply: bool,
    pub delivery_report: bool,
    pub return_path_empty: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct InboundAttachment {
    /// For display only (sanitised); never used as a path.
    pub filename: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
    pub inline: bool,
    pub content_id: Option<String>,
    /// Set once the bytes are staged in the blob store (before the apply transaction).
    pub stored_as: Option<crate::blobs::BlobHash>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParseError {
    #[error("not an email: no From, Subject, Message-ID or Date header")]
    NotAnEmail,
}

/// Parse a mail. Containers nested deeper than [`MAX_NESTING_DEPTH`] become opaque
/// attachments first (see `nesting`), so the parsed tree is shallow whatever the mail.
pub fn parse(raw: &[u8]) -> Result<InboundMessage, ParseError> {
    let flattened = nesting::flatten(raw);
    let raw = flattened.as_deref().unwrap_or(raw);
    let mut message = MessageParser::default()
        .parse(raw)
        .ok_or(ParseError::NotAnEmail)?;
    let has_any = message.from().is_some()
        || message.subject().is_some()
        || message.message_id().is_some()
        || message.date().is_some();
    if !has_any {
        return Err(ParseError::NotAnEmail);
    }
    let mut inbound = InboundMessage {
        message_id: message.message_id().map(clean_id).filter(|s| !s.is_empty()),
        in_reply_to: id_list(message.in_reply_to()),
        references: id_list(message.references()),
        from: message.from().and_then(first_mailbox),
        reply_to: message.reply_to().and_then(first_mailbox),
        to: message.to().map(mailboxes).unwrap_or_default(),
        cc: message.cc().map(mailboxes).unwrap_or_default(),
        subject: message.subject().unwrap_or_default().trim().to_string(),
        text: body_text(&message),
        attachments: Vec::new(),
        signals: signals(&message),
        authentication_results: message
            .headers_raw()
            .filter(|(name, _)| name.eq_ignore_ascii_case("Authentication-Results"))
            .map(|(_, value)| value.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect(),
        from_headers: message
            .headers_raw()
            .filter(|(name, _)| name.eq_ignore_ascii_case("From"))
            .count(),
        report: delivery_report(&message),
    };
    // Last, when nothing else reads the parts: decoded attachments are moved out of the
    // parsed message, not copied, so a 20 MB attachment is in memory once, not twice.
    inbound.attachments = attachments(&mut message);
    without_nul(&mut inbound);
    nesting::drop_flat(message);
    Ok(inbound)
}

/// RFC 3464: the per-recipient fields of the message/delivery-status part, and the
/// Message-ID of the returned message (message/rfc822 or text/rfc822-headers part).
fn delivery_report(message: &Message<'_>) -> Option<DeliveryReport> {
    let is_report = message.root_part().content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case("multipart")
            && ct
                .subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("report"))
    });
    if !is_report {
        return None;
    }
    let mut report = DeliveryReport::default();
    for part in &message.parts {
        let (ctype, subtype) = part
            .content_type()
            .map(|ct| {
                (
                    ct.ctype().to_ascii_lowercase(),
                    ct.subtype().unwrap_or("").to_ascii_lowercase(),
                )
            })
            .unwrap_or_default();
        match (ctype.as_str(), subtype.as_str()) {
            ("message", "delivery-status") | ("message", "global-delivery-status") => {
                report.recipients = status_fields(&String::from_utf8_lossy(part.contents()));
            }
            ("message", "rfc822") | ("message", "global") => {
                report.original_message_id = match part.message() {
                    Some(inner) => inner.message_id().map(clean_id),
                    None => id_in_headers(part.contents()),
                };
            }
            ("text", "rfc822-headers") | ("message", "global-headers") => {
                report.original_message_id = id_in_headers(part.contents());
            }
            _ => {}
        }
    }
    Some(report)
}

/// The Message-ID in a block of returned headers (often cut short by the reporting server,
/// so read line by line rather than as a message).
fn id_in_headers(block: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(block);
    let unfolded = text
        .replace("\r\n ", " ")
        .replace("\r\n\t", " ")
        .replace("\n ", " ");
    unfolded.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("Message-ID")
            .then(|| clean_id(value))
            .filter(|id| !id.is_empty())
    })
}

/// `Final-Recipient`, `Action` and `Status` of each per-recipient block.
fn status_fields(text: &str) -> Vec<(EmailAddress, String, String)> {
    let mut out = Vec::new();
    for block in text.replace("\r\n", "\n").split("\n\n") {
        let field = |name: &str| {
            block.lines().find_map(|l| {
                let (n, v) = l.split_once(':')?;
                n.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| v.trim().to_string())
            })
        };
        let Some(recipient) = field("Final-Recipient").or_else(|| field("Original-Recipient"))
        else {
            continue;
        };
        let address = recipient.rsplit(';').next().unwrap_or("").trim();
        if let Ok(address) = EmailAddress::parse(address) {
            let status = field("Status").unwrap_or_default();
            let status = status.split_whitespace().next().unwrap_or("").to_string();
            out.push((address, status, field("Action").unwrap_or_default()));
        }
    }
    out
}

/// The Message-ID alone, from the header section only: what the fetcher needs to spot a
/// second copy of a mail before anything else is done with it.
pub fn message_id(raw: &[u8]) -> Option<String> {
    let message = MessageParser::new().parse_headers(raw)?;
    message.message_id().map(clean_id).filter(|s| !s.is_empty())
}

fn clean_id(id: &str) -> String {
    id.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim()
        .to_string()
}

fn id_list(value: &HeaderValue<'_>) -> Vec<String> {
    match value {
        HeaderValue::Text(t) => vec![clean_id(t)],
        HeaderValue::TextList(list) => list.iter().map(|t| clean_id(t)).collect(),
        _ => Vec::new(),
    }
    .into_iter()
    .filter(|s| !s.is_empty())
    .collect()
}

fn to_mailbox(addr: &mail_parser::Addr<'_>) -> Option<Mailbox> {
    let address = EmailAddress::parse(addr.address()?).ok()?;
    let name = addr
        .name()
        .map(crate::text::single_line)
        .map(|n| crate::text::without_bidi_controls(&n).trim().to_string())
        .filter(|n| !n.is_empty() && !n.eq_ignore_ascii_case(address.as_str()));
    Some(Mailbox { name, address })
}

fn first_mailbox(address: &Address<'_>) -> Option<Mailbox> {
    address.iter().find_map(to_mailbox)
}

fn mailboxes(address: &Address<'_>) -> Vec<Mailbox> {
    address.iter().filter_map(to_mailbox).collect()
}

fn body_text(message: &Message<'_>) -> String {
    let mut text = String::new();
    for part in message.text_bodies() {
        let chunk = match &part.body {
            PartType::Html(html) => html_to_text(html),
            PartType::Text(t) => t.to_string(),
            _ => continue,
        };
        if text.is_empty() {
            text = chunk;
        } else {
            text.push('\n');
            text.push_str(&chunk);
        }
    }
    // In place where it can be: this text may be megabytes long.
    if text.contains('\r') {
        text = text.replace("\r\n", "\n");
    }
    text.truncate(text.trim_end().len());
    text.drain(..text.len() - text.trim_start().len());
    text
}

/// NUL characters carry nothing a person wrote (a UTF-16 file sent as text, a broken
/// client) and PostgreSQL refuses them in text columns: they go, everywhere text is kept.
fn without_nul(message: &mut InboundMessage) {
    fn clean(text: &mut String) {
        if text.contains('\0') {
            text.retain(|c| c != '\0');
        }
    }
    clean(&mut message.subject);
    clean(&mut message.text);
    for id in message
        .message_id
        .iter_mut()
        .chain(&mut message.in_reply_to)
        .chain(&mut message.references)
        .chain(&mut message.authentication_results)
    {
        clean(id);
    }
    for attachment in &mut message.attachments {
        clean(&mut attachment.filename);
        clean(&mut attachment.content_type);
        if let Some(id) = &mut attachment.content_id {
            clean(id);
        }
    }
}

/// Readable text from HTML, at a bounded cost (see `html`).
pub fn html_to_text(html: &str) -> String {
    html::to_text(html)
}

fn attachments(message: &mut Message<'_>) -> Vec<InboundAttachment> {
    let ids = message.attachments.clone();
    let mut found = Vec::with_capacity(ids.len());
    for id in ids {
        let Some(part) = message.part(id) else {
            continue;
        };
        let filename = display_filename(part);
        let content_type = content_type(part);
        let inline = part.content_disposition().is_some_and(|d| d.is_inline())
            || part.content_id().is_some();
        let content_id = part.content_id().map(clean_id);
        let bytes = match &part.body {
            PartType::Binary(_) | PartType::InlineBinary(_) => {
                match std::mem::take(&mut message.parts[id as usize].body) {
                    PartType::Binary(b) | PartType::InlineBinary(b) => b.into_owned(),
                    _ => unreachable!("matched above"),
                }
            }
            _ => original_bytes(message, part),
        };
        found.push(InboundAttachment {
            filename,
            content_type,
            bytes,
            inline,
            content_id,
            stored_as: None,
        });
    }
    found
}

fn content_type(part: &MessagePart<'_>) -> String {
    part.content_type()
        .map(|ct| match ct.subtype() {
            Some(sub) => format!("{}/{}", ct.ctype(), sub),
            None => ct.ctype().to_string(),
        })
        .unwrap_or_else(|| "application/octet-stream".to_string())
        .to_lowercase()
}

/// The bytes as the sender attached them. mail-parser hands text parts back re-decoded to
/// UTF-8; a support desk must keep a customer's Latin-1 log file exactly as it was sent.
fn original_bytes(message: &Message<'_>, part: &MessagePart<'_>) -> Vec<u8> {
    if !matches!(part.body, PartType::Text(_) | PartType::Html(_)) {
        return part.contents().to_vec();
    }
    let raw = message.raw_message();
    let (start, end) = (
        part.raw_body_offset() as usize,
        part.raw_end_offset() as usize,
    );
    let Some(encoded) = raw.get(start..end.min(raw.len())) else {
        return part.contents().to_vec();
    };
    let encoding = part
        .content_transfer_encoding()
        .unwrap_or("7bit")
        .to_ascii_lowercase();
    let decoded = match encoding.as_str() {
        "base64" => base64_decode(encoded),
        "quoted-printable" => quoted_printable_decode(encoded),
        _ => Some(encoded.to_vec()),
    };
    decoded.unwrap_or_else(|| part.contents().to_vec())
}

fn display_filename(part: &MessagePart<'_>) -> String {
    let name = part
        .attachment_name()
        .map(str::to_string)
        .or_else(|| {
            part.message()
                .and_then(|m| m.subject())
                .map(|s| format!("{s}.eml"))
        })
        .unwrap_or_default();
    sanitize_filename(&name, &content_type(part))
}

/// A name safe to show and to offer as a download name: no path, no controls (bidi ones
/// included: `factura\u{202E}fdp.exe` would show as `factura.exe` reversed), bounded.
pub fn sanitize_filename(name: &str, content_type: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = base
        .chars()
        .filter(|c| !c.is_control() && !crate::text::is_bidi_control(*c))
        .map(|c| if "<>:\"|?*".contains(c) { '_' } else { c })
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').trim();
    if cleaned.is_empty() {
        let ext = content_type.rsplit('/').next().unwrap_or("bin");
        return format!("adjunto.{}", if ext.len() <= 8 { ext } else { "bin" });
    }
    cleaned.chars().take(200).collect()
}

fn header_text(message: &Message<'_>, name: &str) -> Option<String> {
    message
        .header_raw(name)
        .map(|v| v.trim().to_ascii_lowercase())
}

fn signals(message: &Message<'_>) -> AutoSignals {
    let content_type = message.root_part().content_type().map(|ct| {
        (
            ct.ctype().to_ascii_lowercase(),
            ct.subtype().map(str::to_ascii_lowercase),
        )
    });
    AutoSignals {
        auto_submitted: header_text(message, "Auto-Submitted"),
        precedence: header_text(message, "Precedence"),
        list_id: message.header_raw("List-Id").is_some(),
        list_unsubscribe: message.header_raw("List-Unsubscribe").is_some(),
        auto_response_suppress: message.header_raw("X-Auto-Response-Suppress").is_some(),
        x_autoreply: message.header_raw("X-Autoreply").is_some()
            || message.header_raw("X-Autorespond").is_some(),
        delivery_report: matches!(content_type, Some((ref t, Some(ref s))) if t == "multipart" && s == "report"),
        return_path_empty: message
            .header_raw("Return-Path")
            .is_some_and(|v| v.trim() == "<>"),
    }
}

#[cfg(test)]
mod tests {
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
        assert!(
            m.text.contains("Hola **mundo**") || m.text.contains("Hola mundo"),
            "{}",
            m.text
        );
        assert!(m.text.contains("Segunda línea"), "{}", m.text);
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
}

#[cfg(test)]
mod name_tests;

#[cfg(test)]
mod report_tests {
    use super::*;

    #[test]
    fn delivery_reports_name_the_failed_recipient_and_the_original() {
        let dsn = b"From: MAILER-DAEMON@mx.cliente.test\r\nTo: soporte@example.test\r\nSubject: Undelivered\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"R\"\r\n\r\n--R\r\nContent-Type: text/plain\r\n\r\nCould not deliver.\r\n--R\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.cliente.test\r\n\r\nFinal-Recipient: rfc822; Ana@Cliente.test\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\nFinal-Recipient: rfc822; luis@cliente.test\r\nAction: delayed\r\nStatus: 4.4.1\r\n--R\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: soporte@example.test\r\nMessage-ID: <buzon.1.ab.cd@example.test>\r\n--R--\r\n";
        let m = parse(dsn).unwrap();
        let report = m.report.expect("a report");
        assert_eq!(
            report.original_message_id.as_deref(),
            Some("buzon.1.ab.cd@example.test")
        );
        assert_eq!(report.recipients.len(), 2, "{report:?}");
        let hard: Vec<_> = report
            .hard_failures()
            .map(|(a, s, _)| (a.as_str(), s.as_str()))
            .collect();
        assert_eq!(hard, vec![("ana@cliente.test", "5.1.1")]);
    }
}
