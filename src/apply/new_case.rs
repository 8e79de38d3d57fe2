//! Mail that opens a case (or is refused): SPEC.md "Mail in → 1", and "→ 4" for a new
//! problem written on a closed case.

use serde_json::json;

use super::agent_mail::agent_files;
use super::limits::Skipped;
use super::outgoing::{attachment_facts, CaseRef, Outgoing};
use super::proofs::{Held, HeldKind};
use super::{Applied, ApplyError, Entry, Processor};
use crate::apply::{Batch, Outcome};
use crate::classify::{self, NewCase, ProductChoice};
use crate::compose::{self, CaseFacts, MailKind, Threading};

use crate::domain::{CaseId, CaseNumber, CaseStatus, EmailAddress, Language, Mailbox, Role};
use crate::parse::InboundMessage;
use crate::store::{CaseRow, InboundRow, NewCaseRow, StoreError, Window};
use crate::thread;

impl Processor {
    /// A stranger: the `access_denied` answer, the mail kept, no case.
    pub(super) async fn deny(
        &self,
        tx: &mut Batch,
        row: &InboundRow,
        message: &InboundMessage,
        sender: &Mailbox,
    ) -> Applied {
        let language = self.mailbox_of(tx).language;
        let mut data = self.case_data(tx, &empty_case(), language);
        data["person"] = compose::person(sender);
        let cap = self.config.limits.refusals_per_hour;
        let refused = tx
            .auto_mails_of_kinds_within(&[MailKind::AccessDenied.name()], Window::HOUR)
            .await?;
        self.record_inbound(tx, row, message, Entry::new(None, "access_denied"))
            .await?;
        if refused >= cap {
            // A flood of forged senders: kept for `buzon denied`, answered no more this hour.
            tracing::warn!(
                refused,
                cap,
                "not answered: limits.refusals_per_hour reached"
            );
            return Ok(Outcome::AccessDeniedQuiet);
        }
        let threading = Threading::answering(message.message_id.as_deref(), &message.references);
        let reply = Outgoing::new(
            MailKind::AccessDenied,
            language,
            data,
            vec![sender.clone()],
            None,
        )
        .answering(threading);
        self.queue(tx, reply).await?;
        Ok(Outcome::AccessDenied)
    }

    /// A new case whose subject names an existing one it could not join (a forwarded
    /// answer replied to by someone outside it): its description is the new words only,
    /// not the whole quoted thread, and the agents are told which case it mentions.
    pub(super) async fn about_another_case(
        &self,
        tx: &mut Batch,
        message: &InboundMessage,
        case: &classify::NewCase,
    ) -> Result<classify::NewCase, StoreError> {
        let mut case = case.clone();
        let Some(n) = thread::subject_tag(&message.subject) else {
            return Ok(case);
        };
        let Some(mentioned) = tx.case_by_number(n.0).await? else {
            return Ok(case);
        };
        let history = tx.case_emails(mentioned.id).await?;
        let new_text = super::reply::new_words(&message.text, &history);
        if !new_text.trim().is_empty() {
            case.description = new_text;
        }
        case.mentions = Some(n);
        Ok(case)
    }

    /// Why `requester`'s new case must wait: they opened `limits.new_cases_per_hour` cases
    /// in the last hour (a loop with a machine, stopped at the door).
    async fn case_flood(
        &self,
        tx: &mut Batch,
        requester: &crate::domain::EmailAddress,
    ) -> Result<Option<Held>, StoreError> {
        let opened = tx
            .cases_opened_within(requester.as_str(), Window::HOUR)
            .await?;
        let cap = self.config.limits.new_cases_per_hour;
        Ok((opened >= cap).then(|| Held {
            kind: HeldKind::CaseFlood,
            detail: format!(
                "{requester} opened {opened} cases in the last hour (limits.new_cases_per_hour = {cap})"
            ),
        }))
    }

    /// A new case; `related` is the closed case it follows from, if any.
    pub(super) async fn open_case(
        &self,
        tx: &mut Batch,
        row: &InboundRow,
        message: &InboundMessage,
        case: &NewCase,
        related: Option<&CaseRow>,
        skipped: &[Skipped],
    ) -> Applied {
        // An admin's `buzon retry` vouches for the mail: the limit held it for them.
        if !row.vouched {
            if let Some(held) = self.case_flood(tx, &case.requester.address).await? {
                return self.quarantine(tx, row, message, held).await;
            }
        }
        let hashes = self.store_attachments(tx, message).await?;
        let (language, profile_name) = self.profile_of(tx, &case.requester.address).await?;
        // The name the customer gave in their profile wins over whatever their client sent.
        let mut requester = case.requester.clone();
        requester.name = profile_name.or(requester.name);
        let notify = self.notify_list(tx).await?;
        let mailbox = self.mailbox_of(tx).name.clone();
        let (case_id, number) =
            insert_case(tx, &mailbox, case, &requester, language, related).await?;
        self.start_first_response(tx, case_id, case.severity.level())
            .await?;
        tracing::Span::current().record("case", number);
        let written_to = self.written_to(tx, message);
        let written_to: Vec<&str> = written_to.iter().map(|a| a.as_str()).collect();
        tx.add_case_addresses(case_id, &written_to).await?;
        let reference = CaseRef {
            id: case_id,
            number: CaseNumber(number),
        };
        let participants = self.add_people(tx, row, message, reference, case).await?;
        self.record_inbound(
            tx,
            row,
            message,
            Entry::new(Some(case_id), "new_case")
                .text(&case.description)
                .attachments(&hashes),
        )
        .await?;
        let facts = opened_facts(number, case, &participants, message);
        let opened = Opened {
            reference,
            facts,
            requester,
            language,
            related: related.map(|r| r.number),
        };
        self.acknowledge(tx, message, &opened, case, related, skipped)
            .await?;
        self.tell_agents_of_new_case(tx, message, &opened, (case, skipped), notify)
            .await?;
        Ok(Outcome::CaseCreated(CaseNumber(number)))
    }

    /// The desk's addresses a new case was written to: its mailbox's, and any other of
    /// ours in To or Cc (soporte@ with ventas@ in Cc is one case, written to both).
    fn written_to(&self, tx: &Batch, message: &InboundMessage) -> Vec<EmailAddress> {
        let mut out = vec![self.mailbox_of(tx).address.clone()];
        for m in message.to.iter().chain(&message.cc) {
            if self.config.is_own_address(&m.address) && !out.contains(&m.address) {
                out.push(m.address.clone());
            }
        }
        out
    }

    /// The requester and the provisioned To/Cc people (within the limits) join the case;
    /// those left out are named on its history.
    async fn add_people(
        &self,
        tx: &mut Batch,
        row: &InboundRow,
        message: &InboundMessage,
        case_ref: CaseRef,
        case: &NewCase,
    ) -> Result<Vec<EmailAddress>, ApplyError> {
        let case_id = case_ref.id;
        tx.add_participant(case_id, case.requester.address.as_str(), Role::Requester)
            .await?;
        let (participants, left_out) = self.admit_participants(1, &case.participants);
        for p in &participants {
            tx.add_participant(case_id, p.as_str(), Role::Participant)
                .await?;
        }
        self.note_left_out(tx, row, message, case_id, &left_out)
            .await?;
        Ok(participants)
    }

    /// The acknowledgement (or the linked follow-up's), and the list of attachments the
    /// limits kept out, to the requester.
    async fn acknowledge(
        &self,
        tx: &mut Batch,
        message: &InboundMessage,
        opened: &Opened,
        case: &NewCase,
        related: Option<&CaseRow>,
        skipped: &[Skipped],
    ) -> Result<(), ApplyError> {
        let mut data = self.case_data(tx, &opened.facts, opened.language);
        data["person"] = compose::person(&opened.requester);
        data["requester"] = compose::person(&opened.requester);
        if let ProductChoice::Unknown(named) = &case.product {
            data["product_unknown"] = json!(named);
        }
        let kind = match related {
            Some(r) => {
                data["related_case"] = json!(r.number);
                MailKind::CaseReopenedAsNew
            }
            None => MailKind::CaseCreated,
        };
        let threading = Threading::answering(message.message_id.as_deref(), &message.references);
        let to = vec![opened.requester.clone()];
        let case_ref = Some(opened.reference);
        if !skipped.is_empty() {
            let mut refused = data.clone();
            refused["skipped"] = json!(skipped);
            let tell = Outgoing::new(
                MailKind::AttachmentsRefused,
                opened.language,
                refused,
                to.clone(),
                case_ref,
            );
            self.queue(tx, tell.answering(threading.clone())).await?;
        }
        let ack = Outgoing::new(kind, opened.language, data, to, case_ref);
        self.queue(tx, ack.answering(threading)).await?;
        Ok(())
    }

    /// `agent_new_case`, urgent for Producción Caída, in the support language, with the
    /// customer's files within `agents.attach_max_bytes`.
    async fn tell_agents_of_new_case(
        &self,
        tx: &mut Batch,
        message: &InboundMessage,
        opened: &Opened,
        (case, skipped): (&NewCase, &[Skipped]),
        notify: Vec<Mailbox>,
    ) -> Result<(), ApplyError> {
        let files = agent_files(message, self.config.agents.attach_max_bytes);
        let agent_language = self.mailbox_of(tx).language;
        let mut data = self.case_data(tx, &opened.facts, agent_language);
        data["requester"] = compose::person(&opened.requester);
        data["person"] = compose::person(&opened.requester);
        data["skipped"] = json!(skipped);
        data["mentioned_case"] = json!(case.mentions.map(|n| n.0));
        data["not_attached"] = json!(files.listed);
        data["damaged"] = json!(super::damaged::damaged_files(message));
        data["related_case"] = json!(opened.related);
        let mut note = Outgoing::new(
            MailKind::AgentNewCase,
            agent_language,
            data,
            notify,
            Some(opened.reference),
        );
        note.urgent = case.production_down;
        note.attachments = files.attached;
        self.queue(tx, note).await?;
        Ok(())
    }
}

/// The new case's row in `mailbox`, with the next number; its (id, number).
async fn insert_case(
    tx: &mut Batch,
    mailbox: &crate::config::MailboxName,
    case: &NewCase,
    requester: &Mailbox,
    language: Language,
    related: Option<&CaseRow>,
) -> Result<(CaseId, i64), StoreError> {
    tx.create_case_in(
        mailbox.as_str(),
        &NewCaseRow {
            subject: &case.subject,
            subject_folded: &crate::text::fold_words(&case.subject),
            description: &case.description,
            product: known_product(case),
            severity: case.severity.level(),
            production_down: case.production_down,
            requester: case.requester.address.as_str(),
            requester_name: requester.name.as_deref(),
            language: language.code(),
            related_case: related.map(|r| r.number),
        },
    )
    .await
}

/// The configured product the mail named, if it named one.
fn known_product(case: &NewCase) -> Option<&str> {
    match &case.product {
        ProductChoice::Known(p) => Some(p.as_str()),
        _ => None,
    }
}

/// A case just made, as its mails need it.
struct Opened {
    reference: CaseRef,
    facts: CaseFacts,
    requester: Mailbox,
    language: Language,
    /// The closed case the customer wrote on, which this one follows from.
    related: Option<i64>,
}

pub(crate) fn empty_case() -> CaseFacts {
    CaseFacts {
        number: 0,
        subject: String::new(),
        description: String::new(),
        product: None,
        severity: 3,
        production_down: false,
        status: CaseStatus::Open,
        participants: vec![],
        attachments: vec![],
    }
}

/// What the templates know of a case just opened.
fn opened_facts(
    number: i64,
    case: &NewCase,
    participants: &[EmailAddress],
    message: &InboundMessage,
) -> CaseFacts {
    CaseFacts {
        number,
        subject: case.subject.clone(),
        description: case.description.clone(),
        product: known_product(case).map(str::to_string),
        severity: case.severity.level(),
        production_down: case.production_down,
        status: CaseStatus::Open,
        participants: participants.iter().map(|p| p.to_string()).collect(),
        attachments: attachment_facts(message),
    }
}
