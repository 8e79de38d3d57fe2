//! The agents' desk by mail (SPEC.md "Agents work from their mail client"): an agent's
//! requests to the support address (`casos abiertos`, `sin asignar`, `mis casos`,
//! `caso #N`), answered with `agent_case_list` / `agent_case_view`, and the case card those
//! views and the ownership notices share. Only a proven agent gets them: a `From:` alone
//! proves nothing, so an unproven one is quarantined like any unproven agent's mail.

use serde_json::json;

use super::outgoing::{CaseRef, Outgoing};
use super::proofs::{Held, HeldKind};
use super::{Applied, ApplyError, Entry, Processor};
use crate::apply::{Batch, Outcome, RequestAnswer};
use crate::compose::{self, msgid, MailKind, Threading};
use crate::domain::{CaseNumber, Language, Mailbox};
use crate::parse::InboundMessage;
use crate::requests::agent::AgentRequest;
use crate::store::{DeskList, InboundRow};

mod card;

pub(super) use card::CardNote;
use card::{ago, sla_state};

/// Cases one list mail shows; the rest are counted ("and 37 more").
const LIST_CAP: i64 = 200;
impl Processor {
    /// A new mail from a proven agent whose subject is a desk request.
    pub(super) async fn agent_request(
        &self,
        tx: &mut Batch,
        row: &InboundRow,
        message: &InboundMessage,
        sender: &Mailbox,
        request: AgentRequest,
    ) -> Applied {
        self.record_inbound(tx, row, message, Entry::new(None, "request"))
            .await?;
        let threading = Threading::answering(message.message_id.as_deref(), &message.references);
        let (answer, mail) = match request {
            AgentRequest::OpenCases => (
                RequestAnswer::AgentList,
                self.desk_list(tx, sender, DeskList::Open, None).await?,
            ),
            AgentRequest::Unassigned => (
                RequestAnswer::AgentList,
                self.desk_list(tx, sender, DeskList::Unassigned, None)
                    .await?,
            ),
            AgentRequest::MyCases => {
                let mine = DeskList::OwnedBy(sender.address.to_string());
                let mail = self.desk_list(tx, sender, mine, None).await?;
                (RequestAnswer::AgentList, mail)
            }
            AgentRequest::Case(number) => (
                RequestAnswer::AgentCase,
                self.desk_case(tx, sender, number).await?,
            ),
        };
        self.queue(tx, mail.answering(threading)).await?;
        Ok(Outcome::Request(answer))
    }

    /// Why an agent's request must wait: it is one, and nothing proves the agent sent it.
    /// Decided before the mail is claimed, so that `buzon retry` applies it.
    pub(super) fn unproven_agent_request(
        &self,
        row: &InboundRow,
        message: &InboundMessage,
        facts: &crate::classify::Facts,
        case: &crate::classify::NewCase,
    ) -> Option<Held> {
        let sender = &case.requester.address;
        let asks = facts.agents.contains(sender)
            && crate::requests::agent::parse(&message.subject).is_some();
        (asks && !self.agent_request_proven(row, message)).then(|| Held {
            kind: HeldKind::UnprovenAgent,
            detail: format!(
                "no proof that this request comes from agent {sender} (neither our server's Authentication-Results nor a reply to a mail buzon sent to the agents)"
            ),
        })
    }

    /// A request for the desk proves its agent as a mail on a case does: our server's
    /// authentication, an admin's `buzon retry`, or a reference to a mail buzon signed for
    /// the agents (an earlier list, any notification).
    fn agent_request_proven(&self, row: &InboundRow, message: &InboundMessage) -> bool {
        let secrets = self.config.support.secrets();
        row.vouched
            || self.authenticated(message)
            || crate::thread::references(message).iter().any(|id| {
                msgid::verify_signed(id, &secrets)
                    .is_some_and(|s| s.audience == msgid::Audience::Agents)
            })
    }

    /// `agent_case_list` for `list`, with `error` above it (a `caso #N` that does not exist).
    async fn desk_list(
        &self,
        tx: &mut Batch,
        sender: &Mailbox,
        list: DeskList,
        error: Option<String>,
    ) -> Result<Outgoing, ApplyError> {
        let language = self.mailbox_of(tx).language;
        let found = tx.desk_cases(&list, LIST_CAP).await?;
        let now = tx.now();
        let mut rows = Vec::with_capacity(found.cases.len());
        for c in &found.cases {
            rows.push(json!({
                "number": c.number,
                "subject": c.subject,
                "severity": c.severity,
                "production_down": c.production_down,
                "owner": self.owner_shown(tx, c.owner.as_deref()).await?,
                "age": ago(now - c.created_at),
                "customer_wrote": ago(now - c.customer_wrote_at.unwrap_or(c.created_at)),
                "sla": sla_state(c, now, language),
                "waiting": c.waiting_since.is_some(),
            }));
        }
        let mut data = self.case_data(tx, &super::new_case::empty_case(), language);
        data["person"] = compose::person(sender);
        data["list"] = json!(match list {
            DeskList::Open => "open",
            DeskList::Unassigned => "unassigned",
            DeskList::OwnedBy(_) => "mine",
        });
        data["desk_cases"] = json!(rows);
        data["total"] = json!(found.total);
        data["more"] = json!((found.total - found.cases.len() as i64).max(0));
        data["error"] = json!(error);
        let to = vec![sender.clone()];
        Ok(Outgoing::new(
            MailKind::AgentCaseList,
            language,
            data,
            to,
            None,
        ))
    }

    /// `caso #N`: the case card with its history and files; the open cases when there is
    /// no such case.
    async fn desk_case(
        &self,
        tx: &mut Batch,
        sender: &Mailbox,
        number: CaseNumber,
    ) -> Result<Outgoing, ApplyError> {
        let Some(case) = tx.case_by_number(number.0).await? else {
            let error = match self.mailbox_of(tx).language {
                Language::Es => format!("No hay ningún Caso #{number}. Estos son los abiertos:"),
                Language::En => format!("There is no Case #{number}. These are the open ones:"),
            };
            return self
                .desk_list(tx, sender, DeskList::Open, Some(error))
                .await;
        };
        let note = CardNote {
            events: vec![],
            error: None,
            history: true,
        };
        let data = self.case_card(tx, &case, note).await?;
        let language = self.mailbox_of(tx).language;
        let to = vec![sender.clone()];
        let case_ref = Some(CaseRef::of(&case));
        Ok(Outgoing::new(
            MailKind::AgentCaseView,
            language,
            data,
            to,
            case_ref,
        ))
    }
}
