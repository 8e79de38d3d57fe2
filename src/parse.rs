//! Bytes → [`InboundMessage`]. The only module that knows mail-parser, so the rest of buzon
//! speaks its own types and a move to another parser stays local.

use mail_parser::decoders::quoted_printable::quoted_printable_decode;
use mail_parser::{
    Address, HeaderValue, Message, MessageParser, MessagePart, MimeHeaders, PartType,
};

use crate::domain::{EmailAddress, Mailbox};

mod body;
mod charset;
mod html;
mod nesting;
mod report;
mod transfer;
mod uuencoded;

use transfer::Transfer;

use report::delivery_report;
pub use report::DeliveryReport;
pub mod pool;

pub use html::answer_html;
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
    /// The mail's inline HTML parts as sent (up to the size HTML is turned into a tree):
    /// an agent's answer is relayed with its own formatting.
    pub html: Option<String>,
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
    /// Its base64 was damaged on the way (stray characters, a truncated end): `bytes` are
    /// what could be decoded, and the case should say the file is incomplete.
    pub damaged: bool,
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
    let shallow;
    let mut message = match parse_guarded(raw) {
        Ok(message) => message,
        Err(Unbuildable) => {
            tracing::warn!("mail-parser cannot build this MIME tree: nested parts kept opaque");
            shallow = nesting::flatten_at(raw, 1);
            parse_guarded(shallow.as_deref().unwrap_or(raw)).map_err(|_| ParseError::NotAnEmail)?
        }
    }
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
        subject: subject(&message),
        text: body::text(&message),
        html: body::html(&message),
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
    inbound
        .attachments
        .extend(uuencoded::extract(&mut inbound.text));
    without_nul(&mut inbound);
    nesting::drop_flat(message);
    Ok(inbound)
}

/// The subject, read again when its charset label was wrong or missing (see `charset`).
fn subject(message: &Message<'_>) -> String {
    let decoded = message.subject().unwrap_or_default();
    let raw = message
        .root_part()
        .headers()
        .iter()
        .find(|h| h.name().eq_ignore_ascii_case("Subject"));
    let repaired = raw.and_then(|h| {
        let bytes = message
            .raw_message()
            .get(h.offset_start() as usize..h.offset_end() as usize)?;
        charset::repaired(bytes, decoded)
    });
    repaired.as_deref().unwrap_or(decoded).trim().to_string()
}

/// mail-parser gave up on the MIME tree (it asserts on part ids it lost track of).
struct Unbuildable;

/// mail-parser's parse, with its internal assertions (which panic in debug builds on some
/// real trees: MimeKit's content-length-001) turned into [`Unbuildable`].
fn parse_guarded(raw: &[u8]) -> Result<Option<Message<'_>>, Unbuildable> {
    std::panic::catch_unwind(|| MessageParser::default().parse(raw)).map_err(|_| Unbuildable)
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
        let (bytes, damaged) = match Transfer::of(part.content_transfer_encoding()) {
            Transfer::Uuencode => (transfer::uudecode(raw_body(message, part)), false),
            Transfer::Base64 => transfer::base64_lenient(raw_body(message, part)),
            Transfer::Other => (decoded_bytes(message, id), false),
        };
        if damaged {
            tracing::warn!(
                size = bytes.len(),
                "damaged base64 attachment: its readable part kept"
            );
        }
        found.push(InboundAttachment {
            filename,
            content_type,
            bytes,
            inline,
            content_id,
            stored_as: None,
            damaged,
        });
    }
    found
}

/// A part's bytes as mail-parser decoded them, moved out of the parsed message (not copied,
/// so a 20 MB attachment is in memory once), or as the sender attached them for text.
fn decoded_bytes(message: &mut Message<'_>, id: u32) -> Vec<u8> {
    match &message.parts[id as usize].body {
        PartType::Binary(_) | PartType::InlineBinary(_) => {
            match std::mem::take(&mut message.parts[id as usize].body) {
                PartType::Binary(b) | PartType::InlineBinary(b) => b.into_owned(),
                _ => unreachable!("matched above"),
            }
        }
        _ => original_bytes(message, &message.parts[id as usize]),
    }
}

/// A part's body as it stands in the raw mail, still transfer-encoded.
fn raw_body<'m>(message: &'m Message<'_>, part: &MessagePart<'_>) -> &'m [u8] {
    let raw = message.raw_message();
    let end = (part.raw_end_offset() as usize).min(raw.len());
    raw.get(part.raw_body_offset() as usize..end)
        .unwrap_or_default()
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
    let encoded = raw_body(message, part);
    let quoted_printable = part
        .content_transfer_encoding()
        .is_some_and(|e| e.trim().eq_ignore_ascii_case("quoted-printable"));
    let decoded = match quoted_printable {
        true => quoted_printable_decode(encoded),
        false => Some(encoded.to_vec()),
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
mod body_tests;
#[cfg(test)]
mod name_tests;

#[cfg(test)]
mod tests;
