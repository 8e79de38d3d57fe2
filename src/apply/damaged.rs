//! Attachments whose base64 was damaged on the way (stray characters, a cut end): parsing
//! keeps their decodable part (`InboundAttachment::damaged`), so the file on the case is not
//! the file the sender sent. Nobody should find that out by opening it: the case's history
//! gets an entry naming the files, in the mailbox's language, and the agents' notification
//! says the same. The raw mail stays whole (`buzon email ID --raw`).

use crate::apply::{ApplyError, Batch, Processor};
use crate::compose::AttachmentFacts;
use crate::domain::{CaseId, Language};
use crate::parse::InboundMessage;
use crate::store::InboundRow;

/// The history entry naming a mail's damaged attachments.
pub(super) const ATTACHMENTS_DAMAGED: &str = "attachments_damaged";

/// The mail's attachments kept from damaged base64, for the agents' notification.
pub(super) fn damaged_files(message: &InboundMessage) -> Vec<AttachmentFacts> {
    message
        .attachments
        .iter()
        .filter(|a| a.damaged)
        .map(|a| AttachmentFacts {
            filename: a.filename.clone(),
            size: a.bytes.len() as u64,
        })
        .collect()
}

/// The history entry's words.
fn note(files: &[AttachmentFacts], language: Language) -> String {
    let list = files
        .iter()
        .map(|f| format!("{} ({} bytes)", f.filename, f.size))
        .collect::<Vec<_>>()
        .join(", ");
    match language {
        Language::Es => format!(
            "Adjuntos dañados por el camino (base64 inválido): solo se guardó su parte legible: {list}. El correo original se conserva entero (buzon email ID --raw)."
        ),
        Language::En => format!(
            "Attachments damaged on the way (invalid base64): only their readable part was kept: {list}. The original email is kept whole (buzon email ID --raw)."
        ),
    }
}

impl Processor {
    /// Write on the case's history which of this mail's attachments were damaged.
    pub(super) async fn note_damaged(
        &self,
        tx: &mut Batch,
        row: &InboundRow,
        message: &InboundMessage,
        case_id: CaseId,
    ) -> Result<(), ApplyError> {
        let files = damaged_files(message);
        if files.is_empty() {
            return Ok(());
        }
        tracing::warn!(
            case_id = case_id.0,
            damaged = files.len(),
            "attachments with damaged base64 kept in part"
        );
        let body = note(&files, self.mailbox_of(tx).language);
        let names = files
            .iter()
            .map(|f| f.filename.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        super::record::note_about_mail(
            tx,
            row,
            message,
            case_id,
            ATTACHMENTS_DAMAGED,
            &names,
            &body,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::InboundAttachment;

    fn attachment(name: &str, damaged: bool) -> InboundAttachment {
        InboundAttachment {
            filename: name.into(),
            content_type: "application/pdf".into(),
            bytes: vec![1; 30],
            inline: false,
            content_id: None,
            stored_as: None,
            damaged,
        }
    }

    #[test]
    fn only_damaged_files_are_named_in_both_languages() {
        let message = InboundMessage {
            attachments: vec![
                attachment("bien.pdf", false),
                attachment("factura.pdf", true),
            ],
            ..Default::default()
        };
        let files = damaged_files(&message);
        assert_eq!(files.len(), 1);
        assert_eq!(
            note(&files, Language::Es),
            "Adjuntos dañados por el camino (base64 inválido): solo se guardó su parte legible: factura.pdf (30 bytes). El correo original se conserva entero (buzon email ID --raw)."
        );
        assert!(note(&files, Language::En).starts_with("Attachments damaged on the way"));
    }
}
