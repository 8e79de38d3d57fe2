//! Commands that change a case (`Severidad:`, `Producto:`, `cerrar`), and `case_closed` /
//! `case_updated`: what the customers hear when one changed their case. The person who made the change reads "usted"/"you" in a copy of their own; the
//! others read who it was — a customer by name, an agent as "<first name> (<support name>)",
//! never an agent's address (SPEC.md "Customers see the desk, not the person").

use serde_json::json;

use super::changes::{worded, Change};
use super::{case_language, requester, CaseContext};
use crate::apply::outgoing::{facts_of, CaseRef, Outgoing};
use crate::apply::Batch;
use crate::apply::{ApplyError, Processor};
use crate::commands::ReplyCommands;
use crate::compose::{self, MailKind, Threading};
use crate::domain::CaseStatus;
use crate::domain::Mailbox;
use crate::store::CaseRow;

/// Who changed the case, which decides how the others are told.
pub(super) enum ChangedBy<'a> {
    /// A requester or participant: named to the others, "usted" to themself.
    Customer(&'a Mailbox),
    /// An agent of the desk: shown by first name and the support's name.
    Agent(&'a Mailbox),
}

impl ChangedBy<'_> {
    /// How the others read an agent: first name and the desk, never the address.
    fn agent_shown(name: Option<&str>, support_name: &str) -> String {
        match name.and_then(|n| n.split_whitespace().next()) {
            Some(first) => format!("{first} ({support_name})"),
            None => support_name.to_string(),
        }
    }

    /// The customer who made the change, who gets a copy of their own.
    fn customer(&self) -> Option<&Mailbox> {
        match self {
            ChangedBy::Customer(m) => Some(m),
            ChangedBy::Agent(_) => None,
        }
    }
}

impl Processor {
    /// Apply `Severidad:`, `Producto:` and `cerrar`; the case as it is now and what changed.
    pub(super) async fn apply_commands(
        &self,
        tx: &mut Batch,
        case: &CaseRow,
        commands: &ReplyCommands,
    ) -> Result<(CaseRow, Vec<Change>), ApplyError> {
        let mut updated = case.clone();
        let mut changes = Vec::new();
        if let Some(severity) = commands.severity.filter(|s| s.level() != case.severity) {
            tx.set_severity(case.id, severity.level()).await?;
            self.severity_changed(tx, case.id, severity.level()).await?;
            changes.push(Change::Severity {
                before: case.severity,
                after: severity.level(),
            });
            updated.severity = severity.level();
            updated.production_down &= severity.level() == 1;
        }
        if let Some(product) = commands
            .product
            .as_ref()
            .filter(|p| case.product.as_ref() != Some(*p))
        {
            tx.set_product(case.id, product).await?;
            changes.push(Change::Product {
                before: case.product.clone(),
                after: product.clone(),
            });
            updated.product = Some(product.clone());
        }
        if commands.close && tx.close_case(case.id).await? {
            updated.status = CaseStatus::Closed;
        }
        Ok((updated, changes))
    }

    /// `case_closed` or `case_updated` to the customers, when a command changed the case.
    pub(super) async fn status_mail(
        &self,
        tx: &mut Batch,
        updated: &CaseRow,
        context: &CaseContext,
        changes: &[Change],
        by: ChangedBy<'_>,
        threading: Threading,
    ) -> Result<(), ApplyError> {
        let closed_now = updated.status == CaseStatus::Closed;
        if changes.is_empty() && !closed_now {
            return Ok(());
        }
        let kind = if closed_now {
            MailKind::CaseClosed
        } else {
            MailKind::CaseUpdated
        };
        let language = case_language(updated);
        let mut data = self.case_data(
            tx,
            &facts_of(updated, &context.participants, vec![]),
            language,
        );
        data["changes"] = worded(changes, language);
        data["changed_by"] = json!(self.shown(tx, &by).await?);
        data["by_you"] = json!(false);
        let changer = by.customer();
        let (mut own, others): (Vec<Mailbox>, Vec<Mailbox>) = self
            .customers(updated, context)
            .into_iter()
            .partition(|m| changer.is_some_and(|c| c.address == m.address));
        // A colleague who joined the case with this very mail is not among the people read
        // before it, and still hears what they did.
        if let (true, Some(me)) = (own.is_empty(), changer) {
            own.push(me.clone());
        }
        let case = Some(CaseRef::of(updated));
        if let Some(me) = own.first() {
            let mut mine = data.clone();
            mine["person"] = compose::person(changer.unwrap_or(me));
            mine["by_you"] = json!(true);
            let copy = Outgoing::new(kind, language, mine, own, case);
            self.queue(tx, copy.answering(threading.clone())).await?;
        }
        if others.is_empty() {
            return Ok(());
        }
        // One mail to everyone else: it greets the requester when they are among them.
        let first = requester(updated);
        data["person"] = if others.iter().any(|m| m.address == first.address) {
            compose::person(&first)
        } else {
            json!({ "name": null, "email": "" })
        };
        let mail = Outgoing::new(kind, language, data, others, case);
        self.queue(tx, mail.answering(threading)).await?;
        Ok(())
    }

    /// How the others read the author of the change: a customer by the name in their
    /// profile (else the one their mail gave, else their address), an agent as
    /// [`ChangedBy::agent_shown`].
    pub(super) async fn shown(
        &self,
        tx: &mut Batch,
        by: &ChangedBy<'_>,
    ) -> Result<String, ApplyError> {
        Ok(match by {
            ChangedBy::Customer(m) => {
                let (_, profile_name) = self.profile_of(tx, &m.address).await?;
                profile_name
                    .or_else(|| m.name.clone())
                    .unwrap_or_else(|| m.address.to_string())
            }
            ChangedBy::Agent(m) => {
                // The name `buzon agent add --name` gave wins over the mail's display name.
                let listed = self
                    .agents(tx)
                    .await?
                    .into_iter()
                    .find(|a| a.address == m.address);
                let name = listed.and_then(|a| a.name).or_else(|| m.name.clone());
                ChangedBy::agent_shown(name.as_deref(), &self.mailbox_of(tx).display_name)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::ChangedBy;

    #[test]
    fn agents_are_shown_by_first_name_and_the_desk() {
        assert_eq!(
            ChangedBy::agent_shown(Some("Pepe Agente"), "Soporte"),
            "Pepe (Soporte)"
        );
        assert_eq!(ChangedBy::agent_shown(Some("  "), "Soporte"), "Soporte");
        assert_eq!(ChangedBy::agent_shown(None, "Soporte"), "Soporte");
    }
}
