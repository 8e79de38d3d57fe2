//! Composing a mail inside the apply transaction: render, store the exact bytes, and queue
//! them with their history entry, so the mail exists if and only if the change does.

use serde_json::{json, Value};

use super::{ApplyError, Processor};
use crate::apply::Batch;
use crate::compose::{self, mime, AttachmentFacts, CaseFacts, MailKind, Request, Threading};
use crate::domain::{CaseId, CaseNumber, Direction, EmailAddress, Language, Mailbox};
use crate::store::{CaseRow, NewEmail, OutboxState, Window};

/// A case as outgoing mail names it: its row's id (for the history entry) and its number
/// (for the signed Message-ID and the subject), which are not interchangeable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CaseRef {
    pub id: CaseId,
    pub number: CaseNumber,
}

impl CaseRef {
    pub(crate) fn of(case: &CaseRow) -> CaseRef {
        CaseRef {
            id: case.id,
            number: CaseNumber(case.number),
        }
    }
}

/// One mail to write to the outbox.
pub(crate) struct Outgoing {
    pub kind: MailKind,
    pub language: Language,
    pub data: Value,
    pub to: Vec<Mailbox>,
    /// The case the mail is about, if any.
    pub case: Option<CaseRef>,
    pub threading: Threading,
    pub urgent: bool,
    pub attachments: Vec<mime::Part>,
    /// Held back by a limit: recorded and listed, sent only by `buzon retry --outbox`.
    pub held: bool,
    /// An agent's own answer as sanitised HTML, shown in place of `comment` in the HTML
    /// part; the text part stays the template's text.
    pub html_comment: Option<String>,
    /// The display name it goes out under, when not its mailbox's own: an agent's answer
    /// comes from "Ana (Soporte)", the desk's address with the agent's first name.
    pub from_name: Option<String>,
}

impl Outgoing {
    pub(crate) fn new(
        kind: MailKind,
        language: Language,
        data: Value,
        to: Vec<Mailbox>,
        case: Option<CaseRef>,
    ) -> Self {
        Outgoing {
            kind,
            language,
            data,
            to,
            case,
            threading: Threading::default(),
            urgent: false,
            attachments: Vec::new(),
            held: false,
            html_comment: None,
            from_name: None,
        }
    }

    pub(crate) fn answering(mut self, threading: Threading) -> Self {
        self.threading = threading;
        self
    }
}

impl Processor {
    /// Compose `out`, store its bytes, and add its history entry and outbox row to `tx`.
    /// Recipients past a limit get their own copy, held (on the history, in `buzon failed`,
    /// sent by `buzon retry --outbox`), and the agents hear of it. The Message-ID of the
    /// mail (sent now or held), unless nobody may get it.
    pub(crate) async fn queue(
        &self,
        tx: &mut Batch,
        mut out: Outgoing,
    ) -> Result<Option<String>, ApplyError> {
        if let (false, Some(case)) = (out.kind.to_customer(), out.case) {
            // Every agents' mail of a case, whoever queues it, joins the case's one thread.
            out.threading = self.agent_threading(tx, case).await?;
        }
        let recipients = self.allowed_recipients(tx, &out).await?;
        let mut id = None;
        if !recipients.hold.is_empty() {
            id = Some(
                self.compose_and_queue(tx, &out, &recipients.hold, true)
                    .await?,
            );
            for person in &recipients.hold {
                self.tell_agents_of_held(tx, &out, person).await?;
            }
        }
        if !recipients.send.is_empty() {
            id = Some(
                self.compose_and_queue(tx, &out, &recipients.send, out.held)
                    .await?,
            );
        }
        Ok(id)
    }

    /// The exact bytes of `out` for `to`, in the blob store, the history and the outbox.
    async fn compose_and_queue(
        &self,
        tx: &mut Batch,
        out: &Outgoing,
        to: &[Mailbox],
        held: bool,
    ) -> Result<String, ApplyError> {
        let mut from = self.mailbox_of(tx).sender();
        if let Some(name) = &out.from_name {
            from.name = Some(name.clone());
        }
        let mut mail = self
            .composer
            .compose_from(
                &from,
                Request {
                    kind: out.kind,
                    language: out.language,
                    data: &out.data,
                    to,
                    case: out.case.map(|c| c.number),
                    threading: &out.threading,
                    urgent: out.urgent,
                    attachments: &out.attachments,
                    html_comment: out.html_comment.as_deref(),
                },
                tx.now() / 1000,
            )
            .map_err(|e| ApplyError::Permanent(e.to_string()))?;
        let raw_size = mail.raw.len();
        // Taken, not copied: a relayed 20 MB attachment is in memory once.
        let hash = tx.put_blob(std::mem::take(&mut mail.raw)).await?;
        let recipients: Vec<String> = mail.recipients.iter().map(|r| r.to_string()).collect();
        tx.queue_mail_as(
            &NewEmail {
                case_id: out.case.map(|c| c.id),
                from_inbound: false,
                direction: Direction::Out,
                kind: mail.kind.name(),
                from_addr: mail.envelope_from.as_str(),
                to_addrs: &recipients.join(", "),
                subject: &mail.subject,
                message_id: Some(&mail.message_id),
                body_text: Some(&mail.text),
                raw_hash: &hash.0,
                raw_size,
            },
            &recipients,
            match (self.send_mail, held) {
                (false, _) => OutboxState::Suppressed,
                (true, true) => OutboxState::Held,
                (true, false) => OutboxState::Pending,
            },
        )
        .await?;
        Ok(mail.message_id)
    }

    /// `agent_held`, at most once an hour per address whose mail is held.
    async fn tell_agents_of_held(
        &self,
        tx: &mut Batch,
        out: &Outgoing,
        person: &Mailbox,
    ) -> Result<(), ApplyError> {
        let key = format!("held:{}", person.address);
        let kind = MailKind::AgentHeld;
        if tx
            .auto_mails_within(&key, Some(kind.name()), Window::HOUR)
            .await?
            > 0
        {
            return Ok(());
        }
        tx.log_auto_mail(&key, kind.name()).await?;
        let language = self.mailbox_of(tx).language;
        let mut data = self.case_data(tx, &super::new_case::empty_case(), language);
        data["person"] = compose::person(person);
        data["held_kind"] = json!(out.kind.label(language));
        data["limit"] = json!(self.config.limits.auto_replies_per_hour);
        data["case"]["number"] = json!(out.case.map_or(0, |c| c.number.0));
        let notify = self.notify_list(tx).await?;
        let case = out.case;
        Box::pin(self.queue(tx, Outgoing::new(kind, language, data, notify, case))).await?;
        Ok(())
    }

    /// The template context of a case, in a language, as its mailbox writes it.
    pub(crate) fn case_data(&self, tx: &Batch, case: &CaseFacts, language: Language) -> Value {
        compose::case_context(case, language, self.mailbox_of(tx))
    }
}

/// What templates know of a stored case.
pub(crate) fn facts_of(
    case: &CaseRow,
    participants: &[String],
    attachments: Vec<AttachmentFacts>,
) -> CaseFacts {
    CaseFacts {
        number: case.number,
        subject: case.subject.clone(),
        description: case.description.clone(),
        product: case.product.clone(),
        severity: case.severity,
        production_down: case.production_down,
        status: case.status,
        participants: participants.to_vec(),
        attachments,
    }
}

pub(super) fn attachment_facts(message: &crate::parse::InboundMessage) -> Vec<AttachmentFacts> {
    message
        .attachments
        .iter()
        .map(|a| AttachmentFacts {
            filename: a.filename.clone(),
            size: a.bytes.len() as u64,
        })
        .collect()
}

/// `Name <address>` or the address, for "changed by" lines.
pub(super) fn who(m: &Mailbox) -> String {
    match &m.name {
        Some(name) => format!("{name} <{}>", m.address),
        None => m.address.to_string(),
    }
}

pub(super) fn mailbox(address: &str) -> Option<Mailbox> {
    EmailAddress::parse(address).ok().map(|address| Mailbox {
        name: None,
        address,
    })
}
