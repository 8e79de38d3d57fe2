//! An agent's commands in a reply on a case (SPEC.md "Agents work from their mail client"):
//! `Tomar`, `Asignar:`, `Soltar`, `Esperando cliente`, `Fusionar: #M`. Applied in the
//! mail's transaction; the agents get the case card saying what happened (or what could not
//! be done, and why), and a merge tells the merged case's customers in one `case_merged`.

use serde_json::json;

use super::{case_language, requester, thread_for_customers, CaseContext};
use crate::apply::desk::CardNote;
use crate::apply::outgoing::{facts_of, CaseRef, Outgoing};
use crate::apply::{ApplyError, Batch, Processor};
use crate::commands::agent::{assignee, AgentCommands, Ownership};
use crate::compose::{self, MailKind};
use crate::domain::{CaseNumber, CaseStatus, Direction, Language, Mailbox, Role};
use crate::store::{CaseRow, InboundRow, NewEmail};

/// What an agent's command did, worded for the agents when the card is written.
enum DeskEvent {
    Taken,
    Assigned(String),
    Released,
    Waiting,
    Merged(CaseNumber),
}

/// Why a command was not applied.
enum Refused {
    NotAnAgent(String),
    MergeIntoItself,
    NoSuchCase(CaseNumber),
    TargetClosed(CaseNumber),
    AlreadyClosed,
}

impl DeskEvent {
    fn words(&self, by: &str, language: Language) -> String {
        let es = language == Language::Es;
        match self {
            DeskEvent::Taken if es => format!("{by} ha tomado el caso."),
            DeskEvent::Taken => format!("{by} took the case."),
            DeskEvent::Assigned(to) if es => format!("{by} ha asignado el caso a {to}."),
            DeskEvent::Assigned(to) => format!("{by} assigned the case to {to}."),
            DeskEvent::Released if es => format!("{by} ha soltado el caso: queda sin asignar."),
            DeskEvent::Released => format!("{by} released the case: it is unassigned."),
            DeskEvent::Waiting if es => format!("{by}: el caso espera al cliente."),
            DeskEvent::Waiting => format!("{by}: the case waits on the customer."),
            DeskEvent::Merged(m) if es => format!("{by} ha unido este caso al Caso #{m}."),
            DeskEvent::Merged(m) => format!("{by} merged this case into Case #{m}."),
        }
    }
}

impl Refused {
    fn words(&self, language: Language) -> String {
        let es = language == Language::Es;
        match self {
            Refused::NotAnAgent(a) if es => {
                format!("\"{a}\" no es un agente de este soporte: el dueño no cambia.")
            }
            Refused::NotAnAgent(a) => {
                format!("\"{a}\" is not an agent of this desk: the owner stays as it was.")
            }
            Refused::MergeIntoItself if es => "Un caso no se puede unir a sí mismo.".into(),
            Refused::MergeIntoItself => "A case cannot be merged into itself.".into(),
            Refused::NoSuchCase(m) if es => format!("No hay ningún Caso #{m}: no se ha unido."),
            Refused::NoSuchCase(m) => format!("There is no Case #{m}: nothing was merged."),
            Refused::TargetClosed(m) if es => format!("El Caso #{m} está cerrado: no se ha unido."),
            Refused::TargetClosed(m) => format!("Case #{m} is closed: nothing was merged."),
            Refused::AlreadyClosed if es => "Este caso ya está cerrado: no se ha unido.".into(),
            Refused::AlreadyClosed => "This case is closed already: nothing was merged.".into(),
        }
    }
}

impl Processor {
    /// Apply the agent's desk commands and tell the agents. Nothing when there are none.
    pub(super) async fn apply_desk_commands(
        &self,
        tx: &mut Batch,
        row: &InboundRow,
        sender: &Mailbox,
        desk: &AgentCommands,
        context: &CaseContext,
    ) -> Result<(), ApplyError> {
        if !desk.any() {
            return Ok(());
        }
        let case = &context.case;
        let (mut events, mut refused, mut also) = (vec![], vec![], vec![]);
        match &desk.ownership {
            Some(Ownership::Take) => {
                tx.set_owner(case.id, Some(sender.address.as_str())).await?;
                events.push(DeskEvent::Taken);
            }
            Some(Ownership::Assign(written)) => {
                let agents = self.agents(tx).await?;
                let wanted = assignee(written);
                match agents
                    .into_iter()
                    .find(|a| Some(&a.address) == wanted.as_ref())
                {
                    Some(agent) => {
                        tx.set_owner(case.id, Some(agent.address.as_str())).await?;
                        let shown = self.owner_shown(tx, Some(agent.address.as_str())).await?;
                        events.push(DeskEvent::Assigned(shown.unwrap_or_default()));
                        also.push(agent);
                    }
                    None => refused.push(Refused::NotAnAgent(written.clone())),
                }
            }
            Some(Ownership::Release) => {
                tx.set_owner(case.id, None).await?;
                events.push(DeskEvent::Released);
            }
            None => {}
        }
        if desk.waiting {
            tx.set_waiting(case.id).await?;
            events.push(DeskEvent::Waiting);
        }
        if let Some(into) = desk.merge_into {
            match self.merge(tx, row, sender, context, into).await? {
                Ok(()) => events.push(DeskEvent::Merged(into)),
                Err(why) => refused.push(why),
            }
        }
        self.tell_agents_of_desk(tx, sender, case, (events, refused), also)
            .await
    }

    /// The case card to the agents (the owner first), with what happened and what not.
    async fn tell_agents_of_desk(
        &self,
        tx: &mut Batch,
        sender: &Mailbox,
        case: &CaseRow,
        (events, refused): (Vec<DeskEvent>, Vec<Refused>),
        also: Vec<Mailbox>,
    ) -> Result<(), ApplyError> {
        let language = self.mailbox_of(tx).language;
        // The agent by the name `buzon agent add --name` gave, else as their mail says.
        let listed = self.agents(tx).await?;
        let by = listed
            .into_iter()
            .find(|a| a.address == sender.address)
            .and_then(|a| a.name)
            .or_else(|| sender.name.clone())
            .unwrap_or_else(|| sender.address.to_string());
        let updated = tx
            .case_by_id(case.id)
            .await?
            .unwrap_or_else(|| case.clone());
        let error = refused
            .iter()
            .map(|r| r.words(language))
            .collect::<Vec<_>>();
        let note = CardNote {
            events: events.iter().map(|e| e.words(&by, language)).collect(),
            error: (!error.is_empty()).then(|| error.join(" ")),
            history: false,
        };
        let data = self.case_card(tx, &updated, note).await?;
        let mut to = self.notify_for_case(tx, &updated).await?;
        for agent in also {
            if !to.iter().any(|m| m.address == agent.address) {
                to.push(agent);
            }
        }
        let kind = MailKind::AgentCaseView;
        let card = Outgoing::new(kind, language, data, to, Some(CaseRef::of(&updated)));
        self.queue(tx, card).await?;
        Ok(())
    }

    /// `Fusionar: #M`: this case closes as merged into M, its people join M, its customers
    /// are told in one mail. Its history and files stay on it, and M's view shows them.
    async fn merge(
        &self,
        tx: &mut Batch,
        row: &InboundRow,
        sender: &Mailbox,
        context: &CaseContext,
        into: CaseNumber,
    ) -> Result<Result<(), Refused>, ApplyError> {
        let case = &context.case;
        let target = match tx.case_by_number(into.0).await? {
            _ if into.0 == case.number => return Ok(Err(Refused::MergeIntoItself)),
            None => return Ok(Err(Refused::NoSuchCase(into))),
            Some(t) if t.status == CaseStatus::Closed => {
                return Ok(Err(Refused::TargetClosed(into)))
            }
            Some(t) => t,
        };
        if !tx.merge_case(case.id, target.id).await? {
            return Ok(Err(Refused::AlreadyClosed));
        }
        let present: Vec<String> = tx.case_addresses_of_people(target.id).await?;
        let joining: Vec<_> = context
            .participants
            .iter()
            .filter(|p| !present.contains(p))
            .filter_map(|p| crate::domain::EmailAddress::parse(p).ok())
            .collect();
        let (taken, _left) = self.admit_participants(present.len(), &joining);
        for p in &taken {
            tx.add_participant(target.id, p.as_str(), Role::Participant)
                .await?;
        }
        let text = format!(
            "Caso #{} unido a este caso / merged into this case",
            case.number
        );
        tx.add_email(&NewEmail {
            case_id: Some(target.id),
            from_inbound: false,
            direction: Direction::In,
            kind: "merged",
            from_addr: sender.address.as_str(),
            to_addrs: "",
            subject: &case.subject,
            message_id: None,
            body_text: Some(&text),
            raw_hash: &row.raw_hash,
            raw_size: row.raw_size as usize,
        })
        .await?;
        self.tell_customers_of_merge(tx, context, &target).await?;
        Ok(Ok(()))
    }

    /// `case_merged` to the merged case's customers, in one mail, in the case's language.
    async fn tell_customers_of_merge(
        &self,
        tx: &mut Batch,
        context: &CaseContext,
        target: &CaseRow,
    ) -> Result<(), ApplyError> {
        let case = &context.case;
        let language = case_language(case);
        let mut data = self.case_data(tx, &facts_of(case, &context.participants, vec![]), language);
        data["person"] = compose::person(&requester(case));
        data["merged_into"] = json!({ "number": target.number, "subject": target.subject });
        let to = self.customers(case, context);
        let mail = Outgoing::new(
            MailKind::CaseMerged,
            language,
            data,
            to,
            Some(CaseRef::of(case)),
        )
        .answering(thread_for_customers(&context.history));
        self.queue(tx, mail).await?;
        Ok(())
    }
}
