//! A received mail's own trace in the apply transaction: claiming it, its history entry and
//! attachments, and mail that is only logged.

use super::{Applied, ApplyError, Processor};
use crate::apply::{Batch, Outcome};
use crate::blobs::BlobHash;
use crate::classify::IgnoreReason;
use crate::domain::{CaseId, Direction};
use crate::parse::InboundMessage;
use crate::store::{InboundRow, NewAttachment, NewEmail};

/// A received mail's history entry: on which case, as what, with which text and
/// attachments.
pub(super) struct Entry<'a> {
    case_id: Option<CaseId>,
    kind: &'a str,
    body: Option<&'a str>,
    attachments: &'a [BlobHash],
}

impl<'a> Entry<'a> {
    pub(super) fn new(case_id: Option<CaseId>, kind: &'a str) -> Self {
        Entry {
            case_id,
            kind,
            body: None,
            attachments: &[],
        }
    }

    pub(super) fn text(self, body: &'a str) -> Self {
        Entry {
            body: Some(body),
            ..self
        }
    }

    pub(super) fn attachments(self, attachments: &'a [BlobHash]) -> Self {
        Entry {
            attachments,
            ..self
        }
    }
}

impl Processor {
    /// Take the mail for this batch: false when another copy or process already applied
    /// it (a copy is then finished as a duplicate).
    pub(super) async fn claim(&self, tx: &mut Batch, row: &InboundRow) -> Result<bool, ApplyError> {
        if !tx.claim().await? {
            return Ok(false);
        }
        if !tx.claim_dedupe_key(&row.dedupe_key).await? {
            tx.finish_mail("duplicate", true).await?;
            return Ok(false);
        }
        Ok(true)
    }

    /// The history entry of the received mail itself.
    pub(super) async fn record_inbound(
        &self,
        tx: &mut Batch,
        row: &InboundRow,
        message: &InboundMessage,
        entry: Entry<'_>,
    ) -> Result<(), ApplyError> {
        let Entry {
            case_id,
            kind,
            body,
            attachments,
        } = entry;
        let to = message
            .to
            .iter()
            .chain(&message.cc)
            .map(|m| m.address.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let email = NewEmail {
            case_id,
            from_inbound: true,
            direction: Direction::In,
            kind,
            from_addr: message.from.as_ref().map_or("", |m| m.address.as_str()),
            to_addrs: &to,
            subject: &message.subject,
            message_id: message.message_id.as_deref(),
            body_text: body,
            raw_hash: &row.raw_hash,
            raw_size: row.raw_size as usize,
        };
        // Files are kept on a case only; the entry of mail on none keeps its raw mail.
        match case_id {
            Some(case_id) if !attachments.is_empty() => {
                let files = files_of(message, attachments);
                tx.add_email_with_files(&email, &files).await?;
                self.note_damaged(tx, row, message, case_id).await?;
            }
            _ => tx.add_email(&email).await?,
        }
        if !IgnoreReason::ALL.iter().any(|r| r.as_str() == kind) {
            if let Some(sender) = &message.from {
                // It writes to us: whatever bounced before works again.
                tx.clear_failing(sender.address.as_str()).await?;
            }
        }
        Ok(())
    }

    pub(super) async fn store_attachments(
        &self,
        tx: &mut Batch,
        message: &InboundMessage,
    ) -> Result<Vec<BlobHash>, ApplyError> {
        let mut hashes = Vec::with_capacity(message.attachments.len());
        for attachment in &message.attachments {
            hashes.push(match &attachment.stored_as {
                Some(hash) => hash.clone(),
                None => tx.put_blob(attachment.bytes.clone()).await?,
            });
        }
        Ok(hashes)
    }

    /// Automatic mail, our own mail, reports: kept in the history (on their case when they
    /// belong to one), never answered.
    pub(super) async fn log_only(
        &self,
        tx: &mut Batch,
        row: &InboundRow,
        message: &InboundMessage,
        reason: IgnoreReason,
        case_id: Option<CaseId>,
    ) -> Applied {
        self.record_inbound(tx, row, message, Entry::new(case_id, reason.as_str()))
            .await?;
        Ok(Outcome::Ignored(reason))
    }
}

/// The history rows of a mail's attachments, whose bytes are in the blob store as `hashes`.
fn files_of<'a>(message: &'a InboundMessage, hashes: &'a [BlobHash]) -> Vec<NewAttachment<'a>> {
    message
        .attachments
        .iter()
        .zip(hashes)
        .map(|(attachment, hash)| NewAttachment {
            filename: &attachment.filename,
            content_type: &attachment.content_type,
            size: attachment.bytes.len(),
            blob_hash: &hash.0,
            inline: attachment.inline,
        })
        .collect()
}

/// A note buzon adds to a case's history about a received mail (files kept damaged,
/// participants left out): "from" the mail's sender, naming `to` in its address column,
/// with the raw mail as its bytes, so the note opens onto the mail it is about.
pub(super) async fn note_about_mail(
    tx: &mut Batch,
    row: &InboundRow,
    message: &InboundMessage,
    case_id: CaseId,
    kind: &str,
    to: &str,
    body: &str,
) -> Result<(), ApplyError> {
    tx.add_email(&NewEmail {
        case_id: Some(case_id),
        from_inbound: false,
        direction: Direction::In,
        kind,
        from_addr: message.from.as_ref().map_or("", |m| m.address.as_str()),
        to_addrs: to,
        subject: &message.subject,
        message_id: None,
        body_text: Some(body),
        raw_hash: &row.raw_hash,
        raw_size: row.raw_size as usize,
    })
    .await?;
    Ok(())
}
