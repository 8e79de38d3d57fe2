//! What makes the agents' notifications usable from a mail client: one thread per case
//! (SPEC "Agents work from their mail client"), and the customer's files attached as sent.

use serde::Serialize;

use super::outgoing::CaseRef;
use super::{ApplyError, Processor};
use crate::apply::Batch;
use crate::compose::{mime, msgid, MailKind, Threading};
use crate::domain::Direction;
use crate::parse::InboundMessage;

/// A customer's file left out of a notification by `agents.attach_max_bytes`: listed by name
/// and size, with the case whose view (`buzon case N`) names the mail that holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(super) struct NotAttached {
    pub filename: String,
    pub size: u64,
}

/// The files of a notification: those that fit the budget, whole, and those that do not.
#[derive(Debug, Default)]
pub(super) struct AgentFiles {
    pub attached: Vec<mime::Part>,
    pub listed: Vec<NotAttached>,
}

/// The customer's files in the order sent, attached while their sum fits `budget` bytes; a
/// file that does not fit is listed and later smaller ones may still go, so one large video
/// does not keep the screenshot out.
pub(super) fn agent_files(message: &InboundMessage, budget: u64) -> AgentFiles {
    let mut files = AgentFiles::default();
    let mut used = 0u64;
    for a in &message.attachments {
        let size = a.bytes.len() as u64;
        if used + size <= budget {
            used += size;
            files.attached.push(mime::Part {
                filename: a.filename.clone(),
                content_type: a.content_type.clone(),
                bytes: a.bytes.clone(),
            });
        } else {
            files.listed.push(NotAttached {
                filename: a.filename.clone(),
                size,
            });
        }
    }
    files
}

impl Processor {
    /// The case's thread for the agents: its root first in References, then the previous
    /// agents' mail of the case (read in this transaction, so two notifications of one mail
    /// chain too), which is also In-Reply-To; the root itself when there is none yet.
    pub(super) async fn agent_threading(
        &self,
        tx: &mut Batch,
        case: CaseRef,
    ) -> Result<Threading, ApplyError> {
        // The case's mailbox names the domain: the same root for every mail of the case.
        let root = msgid::case_thread_root(
            self.config.support.secret.expose(),
            case.number,
            self.mailbox_of(tx).address.domain(),
        );
        let previous = tx
            .case_emails(case.id)
            .await?
            .into_iter()
            .rev()
            .filter(|e| e.direction == Direction::Out && is_to_agents(&e.kind))
            .find_map(|e| e.message_id);
        let mut references = vec![root.clone()];
        references.extend(previous.clone());
        Ok(Threading {
            in_reply_to: Some(previous.unwrap_or(root)),
            references,
        })
    }
}

/// Whether a stored mail kind is one of the agents' notifications.
fn is_to_agents(kind: &str) -> bool {
    MailKind::ALL
        .iter()
        .any(|k| k.name() == kind && !k.to_customer())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail_with(sizes: &[usize]) -> InboundMessage {
        let raw = b"From: a@b.test\r\nSubject: x\r\nMessage-ID: <x@b.test>\r\n\r\nhola\r\n";
        let mut m = crate::parse::parse(raw).unwrap();
        m.attachments = sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| crate::parse::InboundAttachment {
                filename: format!("f{i}.bin"),
                content_type: "application/octet-stream".into(),
                bytes: vec![7; n],
                inline: false,
                content_id: None,
                stored_as: None,
                damaged: false,
            })
            .collect();
        m
    }

    #[test]
    fn files_past_the_budget_are_listed_and_smaller_ones_still_go() {
        let files = agent_files(&mail_with(&[600, 500, 300]), 1000);
        let names: Vec<_> = files.attached.iter().map(|p| p.filename.as_str()).collect();
        assert_eq!(names, ["f0.bin", "f2.bin"]);
        assert_eq!(files.attached[0].bytes, vec![7; 600]);
        assert_eq!(
            files.listed,
            [NotAttached {
                filename: "f1.bin".into(),
                size: 500
            }]
        );
    }

    #[test]
    fn a_zero_budget_attaches_nothing() {
        let files = agent_files(&mail_with(&[1]), 0);
        assert!(files.attached.is_empty());
        assert_eq!(files.listed.len(), 1);
    }
}
