//! Size limits on what enters a case. Nothing is dropped silently: an oversize mail stays
//! whole in the raw store, and the customer and agents are told what was not taken.

use serde::Serialize;

use crate::config::LimitsConfig;
use crate::parse::InboundMessage;

/// An attachment left out of the case, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Skipped {
    pub filename: String,
    pub size: u64,
    pub reason: &'static str,
}

/// Keep the attachments that fit; return the ones that do not.
pub(crate) fn apply(
    message: &mut InboundMessage,
    raw_size: usize,
    limits: &LimitsConfig,
) -> Vec<Skipped> {
    let mut skipped = Vec::new();
    let whole_mail_too_big = raw_size > limits.max_message_bytes;
    let mut kept = Vec::new();
    for attachment in std::mem::take(&mut message.attachments) {
        let reason = if whole_mail_too_big {
            Some("message_too_large")
        } else if attachment.bytes.len() > limits.max_attachment_bytes {
            Some("attachment_too_large")
        } else if kept.len() >= limits.max_attachments {
            Some("too_many_attachments")
        } else {
            None
        };
        match reason {
            Some(reason) => skipped.push(Skipped {
                filename: attachment.filename.clone(),
                size: attachment.bytes.len() as u64,
                reason,
            }),
            None => kept.push(attachment),
        }
    }
    message.attachments = kept;
    skipped
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::InboundAttachment;

    fn attachment(name: &str, size: usize) -> InboundAttachment {
        InboundAttachment {
            filename: name.into(),
            content_type: "application/octet-stream".into(),
            bytes: vec![0; size],
            inline: false,
            content_id: None,
            stored_as: None,
            damaged: false,
        }
    }

    fn limits() -> LimitsConfig {
        LimitsConfig {
            auto_replies_per_hour: 10,
            max_message_bytes: 10_000,
            max_attachment_bytes: 1_000,
            max_attachments: 2,
            history_mail_bytes: 1_000_000,
            ..LimitsConfig::default()
        }
    }

    #[test]
    fn what_fits_is_kept_and_the_rest_reported() {
        let mut m = InboundMessage {
            attachments: vec![
                attachment("a", 10),
                attachment("big", 5_000),
                attachment("b", 10),
                attachment("c", 10),
            ],
            ..Default::default()
        };
        let skipped = apply(&mut m, 6_000, &limits());
        assert_eq!(
            m.attachments
                .iter()
                .map(|a| a.filename.as_str())
                .collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert_eq!(
            skipped
                .iter()
                .map(|s| (s.filename.as_str(), s.reason))
                .collect::<Vec<_>>(),
            [
                ("big", "attachment_too_large"),
                ("c", "too_many_attachments")
            ]
        );
    }

    #[test]
    fn an_oversize_mail_keeps_only_its_text() {
        let mut m = InboundMessage {
            text: "hola".into(),
            attachments: vec![attachment("a", 10)],
            ..Default::default()
        };
        let skipped = apply(&mut m, 20_000, &limits());
        assert!(m.attachments.is_empty());
        assert_eq!(skipped[0].reason, "message_too_large");
        assert_eq!(m.text, "hola");
    }
}
