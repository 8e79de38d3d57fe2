//! What a mail must prove before it may change anything (issue 12). Anyone can put any
//! address in `From:`, so a mail acts for an agent, or changes a customer's case or profile,
//! only when it shows more than its `From:`:
//! - our own MTA's `Authentication-Results` pass for the From domain;
//! - a reference to a mail buzon signed and sent to that person (for agents: sent to the
//!   agents, a signature of its own purpose, so a customer's acknowledgement does not count);
//! - or an admin's `buzon retry` of the quarantined mail, which vouches for it.
//!
//! What fails is never dropped: an agent's mail is quarantined (kept, listed, retryable) and
//! the agents are told; a customer's command waits for a confirmation round trip.

use serde_json::json;
use tracing::warn;

use super::outgoing::{CaseRef, Outgoing};
use super::{Applied, ApplyError, Entry, Processor};
use crate::apply::{Batch, Outcome, RequestAnswer};
use crate::auth::{self, AuthVerdict};
use crate::commands::ReplyCommands;
use crate::compose::{self, msgid, MailKind, Threading};
use crate::domain::{CaseNumber, EmailAddress, Language, Mailbox};
use crate::parse::InboundMessage;
use crate::store::{InboundRow, ProfileRequest, StoreError, Window};
use crate::thread;

/// Why a mail is held unprocessed: the kind picks the words the agents read in their
/// language; the detail is what `buzon failed` shows the admin.
#[derive(Debug, Clone)]
pub(super) struct Held {
    pub kind: HeldKind,
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum HeldKind {
    /// More than one `From:` header.
    TwoFromHeaders,
    /// `require_authentication` covers the sender and our server says it failed or wrote
    /// nothing.
    NotAuthenticated,
    /// From an agent's address, without proof that the agent wrote it.
    UnprovenAgent,
    /// The desk answered `limits.requests_per_hour` requests this hour.
    RequestFlood,
    /// The sender opened `limits.new_cases_per_hour` cases this hour.
    CaseFlood,
}

impl HeldKind {
    fn explain(self, language: Language) -> &'static str {
        match (self, language) {
            (HeldKind::TwoFromHeaders, Language::Es) => "El correo trae dos remitentes (dos cabeceras From): no se sabe quién lo envía.",
            (HeldKind::TwoFromHeaders, Language::En) => "The mail has two senders (two From headers): who sent it cannot be known.",
            (HeldKind::NotAuthenticated, Language::Es) => "Nuestro servidor de correo no ha podido comprobar que lo envía quien dice (DMARC, SPF o DKIM).",
            (HeldKind::NotAuthenticated, Language::En) => "Our mail server could not check that it comes from who it says (DMARC, SPF or DKIM).",
            (HeldKind::UnprovenAgent, Language::Es) => "Llega con la dirección de un agente, pero ni responde a un aviso que buzon envió a los agentes ni lo autentica nuestro servidor: podría ser falso.",
            (HeldKind::UnprovenAgent, Language::En) => "It comes with an agent's address, but neither answers a notice buzon sent to the agents nor is authenticated by our server: it may be forged.",
            (HeldKind::RequestFlood, Language::Es) => "Se ha alcanzado el máximo de peticiones por hora de todo el servicio (limits.requests_per_hour).",
            (HeldKind::RequestFlood, Language::En) => "The desk-wide limit of requests per hour was reached (limits.requests_per_hour).",
            (HeldKind::CaseFlood, Language::Es) => "Esta dirección ya ha abierto el máximo de casos en una hora (limits.new_cases_per_hour): puede ser un bucle con otro sistema.",
            (HeldKind::CaseFlood, Language::En) => "This address has already opened the most cases allowed in an hour (limits.new_cases_per_hour): it may be a loop with another system.",
        }
    }
}

impl Processor {
    /// Whether our own receiving server vouches that the From domain sent the mail.
    pub(super) fn authenticated(&self, message: &InboundMessage) -> bool {
        let (Some(server), Some(from)) = (
            self.config.security.authserv_id.as_deref(),
            message.from.as_ref(),
        ) else {
            return false;
        };
        matches!(
            auth::verdict(
                &message.authentication_results,
                server,
                from.address.domain()
            ),
            AuthVerdict::Pass(_)
        )
    }

    /// A mail on a case from an agent's address, without proof that the agent sent it:
    /// held, since it would speak to the customers in the desk's name.
    pub(super) fn unproven_agent(
        &self,
        row: &InboundRow,
        message: &InboundMessage,
        facts: &crate::classify::Facts,
        case: CaseNumber,
    ) -> Option<Held> {
        let sender = message.from.as_ref()?;
        if !facts.agents.contains(&sender.address) || self.agent_proven(row, message, case) {
            return None;
        }
        Some(Held {
            kind: HeldKind::UnprovenAgent,
            detail: format!(
                "no proof that this mail on case #{} comes from agent {} (neither our server's Authentication-Results nor a reply to an agents' notification)",
                case, sender.address
            ),
        })
    }

    /// An agent's mail on case `case` may relay, command or note only when it proves it
    /// comes from the agent.
    pub(super) fn agent_proven(
        &self,
        row: &InboundRow,
        message: &InboundMessage,
        case: CaseNumber,
    ) -> bool {
        let secrets = self.config.support.secrets();
        row.vouched
            || self.authenticated(message)
            || thread::references(message)
                .iter()
                .any(|id| msgid::proves_agent(id, &secrets, case))
    }

    /// A customer's commands on case `case` apply only when the mail proves its sender:
    /// authenticated, or a reply to a mail buzon sent to that very address on that case.
    pub(super) async fn customer_proven(
        &self,
        tx: &mut Batch,
        row: &InboundRow,
        message: &InboundMessage,
        sender: &EmailAddress,
        case: CaseNumber,
    ) -> Result<bool, StoreError> {
        if row.vouched || self.authenticated(message) {
            return Ok(true);
        }
        let secrets = self.config.support.secrets();
        for id in thread::references(message) {
            if msgid::verify(&id, &secrets) != Some(case) {
                continue;
            }
            if let Some(to) = tx.sent_to(&id).await? {
                if to
                    .iter()
                    .any(|a| EmailAddress::parse(a).is_ok_and(|a| a == *sender))
                {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    /// The commands of a customer's mail to apply now, and the lines set aside until the
    /// customer confirms them (when the mail does not prove its sender).
    pub(super) async fn commands_to_apply(
        &self,
        tx: &mut Batch,
        row: &InboundRow,
        message: &InboundMessage,
        sender: &Mailbox,
        case: &crate::store::CaseRow,
        commands: &ReplyCommands,
    ) -> Result<(ReplyCommands, Option<Vec<String>>), StoreError> {
        let number = CaseNumber(case.number);
        if !commands.changes_case()
            || self
                .customer_proven(tx, row, message, &sender.address, number)
                .await?
        {
            return Ok((commands.clone(), None));
        }
        let language: Language = case.language.parse().unwrap_or_default();
        Ok((commands.without_changes(), Some(commands.lines(language))))
    }

    /// Keep the mail unprocessed for `buzon failed` / `buzon retry`, and tell the agents,
    /// at most once an hour per sender so that a flood does not become one.
    pub(super) async fn quarantine(
        &self,
        tx: &mut Batch,
        row: &InboundRow,
        message: &InboundMessage,
        held: Held,
    ) -> Applied {
        let reason = format!("quarantined: {}", held.detail);
        warn!(reason, "quarantined");
        tx.quarantine_current(&reason).await?;
        let Some(sender) = message.from.clone() else {
            return Ok(Outcome::Quarantined);
        };
        // Counted under a key of its own, not against the sender's automatic-mail cap.
        let key = format!("quarantine:{}", sender.address);
        let kind = MailKind::AgentQuarantined;
        if tx
            .auto_mails_within(&key, Some(kind.name()), Window::HOUR)
            .await?
            == 0
        {
            tx.log_auto_mail(&key, kind.name()).await?;
            let language = self.mailbox_of(tx).language;
            let mut data = self.case_data(tx, &super::new_case::empty_case(), language);
            data["person"] = compose::person(&sender);
            data["reason"] = json!(held.kind.explain(language));
            data["inbound_id"] = json!(row.id);
            data["original_subject"] = json!(crate::text::single_line(&message.subject));
            let notify = self.notify_list(tx).await?;
            self.queue(tx, Outgoing::new(kind, language, data, notify, None))
                .await?;
        }
        Ok(Outcome::Quarantined)
    }

    /// Commands that did not prove their sender: ask the sender to confirm them by
    /// answering a mail that only their own mailbox receives.
    pub(super) async fn ask_to_confirm(
        &self,
        tx: &mut Batch,
        case: &crate::store::CaseRow,
        sender: &Mailbox,
        lines: Vec<String>,
        threading: Threading,
    ) -> Result<(), ApplyError> {
        let language: Language = case.language.parse().unwrap_or_default();
        let facts = super::outgoing::facts_of(case, &[], vec![]);
        let mut data = self.case_data(tx, &facts, language);
        data["person"] = compose::person(sender);
        data["commands"] = json!(lines);
        let mail = Outgoing::new(
            MailKind::CommandConfirm,
            language,
            data,
            vec![sender.clone()],
            Some(CaseRef::of(case)),
        )
        .answering(threading);
        self.queue(tx, mail).await?;
        Ok(())
    }

    /// A profile change from a new mail that proves nothing: kept until the customer
    /// answers the confirmation mail sent to their address.
    pub(super) async fn profile_by_confirmation(
        &self,
        tx: &mut Batch,
        sender: &Mailbox,
        request: ProfileRequest,
        threading: Threading,
    ) -> Result<(), ApplyError> {
        let language = self.language_of(tx, &sender.address).await?;
        let mut data = self.case_data(tx, &super::new_case::empty_case(), language);
        data["person"] = compose::person(sender);
        data["request"] = json!({ "name": request.name, "language": request.language });
        let mail = Outgoing::new(
            MailKind::ProfileConfirm,
            language,
            data,
            vec![sender.clone()],
            None,
        )
        .answering(threading);
        if let Some(id) = self.queue(tx, mail).await? {
            tx.save_profile_request(&id, sender.address.as_str(), &request)
                .await?;
        }
        Ok(())
    }

    /// An answer to a profile confirmation: the change it confirms, applied now. `None`
    /// when the mail answers no pending confirmation of its sender.
    pub(super) async fn confirmed_profile(
        &self,
        tx: &mut Batch,
        row: &InboundRow,
        message: &InboundMessage,
    ) -> Result<Option<Outcome>, ApplyError> {
        let Some(sender) = message.from.clone() else {
            return Ok(None);
        };
        let secrets = self.config.support.secrets();
        let mut confirmed = None;
        for id in thread::references(message) {
            if msgid::verify_signed(&id, &secrets).is_none_or(|s| s.case != 0) {
                continue;
            }
            if let Some(request) = tx
                .take_profile_request(&id, sender.address.as_str())
                .await?
            {
                confirmed = Some(request);
                break;
            }
        }
        let Some(request) = confirmed else {
            return Ok(None);
        };
        let name = request.name.as_deref();
        let wanted = request.language.as_deref().and_then(|l| l.parse().ok());
        let language = wanted.unwrap_or(self.language_of(tx, &sender.address).await?);
        let mut data = self.case_data(tx, &super::new_case::empty_case(), language);
        data["person"] = compose::person(&sender);
        data["original_subject"] = json!(crate::text::single_line(&message.subject));
        let mail = self
            .profile(tx, &sender, name, wanted, data, language)
            .await?;
        tx.upsert_profile(sender.address.as_str(), name, request.language.as_deref())
            .await?;
        self.record_inbound(tx, row, message, Entry::new(None, "request"))
            .await?;
        let threading = Threading::answering(message.message_id.as_deref(), &message.references);
        self.queue(tx, mail.answering(threading)).await?;
        Ok(Some(Outcome::Request(RequestAnswer::ProfileConfirmed)))
    }
}
