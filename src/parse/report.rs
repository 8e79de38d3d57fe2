//! Delivery status notifications (RFC 3464): which recipients failed, and the Message-ID of
//! the mail that bounced, so the apply stage can check buzon really sent it to them.

use mail_parser::{Message, MimeHeaders};

use super::clean_id;
use crate::domain::EmailAddress;

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

/// RFC 3464: the per-recipient fields of the message/delivery-status part, and the
/// Message-ID of the returned message (message/rfc822 or text/rfc822-headers part).
pub(super) fn delivery_report(message: &Message<'_>) -> Option<DeliveryReport> {
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

#[cfg(test)]
mod tests {
    use super::super::parse;

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
