//! What a reply on a case sends besides status mail: an agent's answer relayed to the
//! customers, a customer's comment told to the agents, refused attachments told to the sender.

use serde_json::json;

use super::status::ChangedBy;
use super::{case_language, CaseContext, CommentMade};
use crate::apply::agent_mail::agent_files;
use crate::apply::outgoing::{attachment_facts, facts_of, who, CaseRef, Outgoing};
use crate::apply::Batch;
use crate::apply::{ApplyError, Processor};
use crate::compose::{self, mime, MailKind, Threading};
use crate::domain::Mailbox;
use crate::parse::InboundMessage;
use crate::store::CaseRow;

impl Processor {
    /// An agent's answer relayed to the case's customers from the support address, with
    /// the agent's attachments; held past `limits.relays_per_case_per_hour`.
    pub(super) async fn relay(
        &self,
        tx: &mut Batch,
        message: &InboundMessage,
        answer: &CommentMade<'_>,
        updated: &CaseRow,
        context: &CaseContext,
        threading: Threading,
    ) -> Result<(), ApplyError> {
        let case = &context.case;
        let language = case_language(case);
        let facts = facts_of(updated, &context.participants, vec![]);
        let mut data = self.case_data(tx, &facts, language);
        data["author"] = compose::person(answer.sender);
        data["comment"] = json!(answer.commands.comment);
        let customers = self.customers(case, context);
        let mut relay = Outgoing::new(
            MailKind::AgentReply,
            language,
            data,
            customers,
            Some(CaseRef::of(case)),
        )
        .answering(threading);
        relay.held = self.relays_over_limit(&context.history, tx.now());
        // The desk answers, under the agent's first name; never the agent's own address.
        relay.from_name = Some(self.shown(tx, &ChangedBy::Agent(answer.sender)).await?);
        relay.html_comment = agent_html(message, &answer.commands.comment);
        relay.attachments = message
            .attachments
            .iter()
            .map(|a| mime::Part {
                filename: a.filename.clone(),
                content_type: a.content_type.clone(),
                bytes: a.bytes.clone(),
            })
            .collect();
        self.queue(tx, relay).await?;
        Ok(())
    }

    /// `agent_comment`: what the customer wrote, changed, or asked and must still confirm.
    pub(super) async fn notify_agents_of_comment(
        &self,
        tx: &mut Batch,
        message: &InboundMessage,
        updated: &CaseRow,
        context: &CaseContext,
        comment: &CommentMade<'_>,
        notify: Vec<Mailbox>,
    ) -> Result<(), ApplyError> {
        let language = self.mailbox_of(tx).language;
        let files = agent_files(message, self.config.agents.attach_max_bytes);
        let facts = facts_of(updated, &context.participants, vec![]);
        let mut data = self.case_data(tx, &facts, language);
        data["not_attached"] = json!(files.listed);
        // Customers' mail on a closed case opens a new one, so closed now is closed by them.
        data["closed_by_customer"] = json!(updated.status != context.case.status);
        data["author"] = compose::person(comment.sender);
        data["comment"] = json!(comment.commands.comment);
        data["attachments"] = json!(attachment_facts(message));
        data["damaged"] = json!(crate::apply::damaged::damaged_files(message));
        data["changes"] = super::changes::worded(comment.changes, language);
        data["changed_by"] = json!(who(comment.sender));
        data["skipped"] = json!(context.skipped);
        data["held_commands"] = json!(comment.held.unwrap_or_default());
        data["owner"] = json!(self.owner_shown(tx, updated.owner.as_deref()).await?);
        let kind = MailKind::AgentComment;
        let mut note = Outgoing::new(kind, language, data, notify, Some(CaseRef::of(updated)));
        note.attachments = files.attached;
        self.queue(tx, note).await?;
        Ok(())
    }

    /// `attachments_refused` to the sender, when the limits kept some of their files out.
    pub(super) async fn tell_refused(
        &self,
        tx: &mut Batch,
        updated: &CaseRow,
        context: &CaseContext,
        sender: &Mailbox,
        threading: Threading,
    ) -> Result<(), ApplyError> {
        if context.skipped.is_empty() {
            return Ok(());
        }
        let language = case_language(updated);
        let facts = facts_of(updated, &context.participants, vec![]);
        let mut refused = self.case_data(tx, &facts, language);
        refused["person"] = compose::person(sender);
        refused["skipped"] = json!(context.skipped);
        let tell = Outgoing::new(
            MailKind::AttachmentsRefused,
            language,
            refused,
            vec![sender.clone()],
            Some(CaseRef::of(updated)),
        );
        self.queue(tx, tell.answering(threading)).await?;
        Ok(())
    }
}

/// The agent's own HTML for the customer, when it says what `comment` says: without its
/// quoted history (by structure), sanitised. When it holds more than the comment (a
/// command line buzon took out, text the quote stripper cut), the HTML is made from the
/// comment's text instead, so the customer never gets what the agent did not mean them to.
fn agent_html(message: &InboundMessage, comment: &str) -> Option<String> {
    let html = crate::parse::answer_html(message.html.as_deref()?)?;
    let shown = crate::quotes::new_text(&crate::parse::html_to_text(&html), &[]);
    (words(&shown) == words(comment)).then_some(html)
}

fn words(text: &str) -> Vec<String> {
    crate::text::fold(text)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_html(html: &str) -> InboundMessage {
        InboundMessage {
            html: Some(html.into()),
            ..Default::default()
        }
    }

    #[test]
    fn the_agents_html_goes_only_when_it_says_what_the_comment_says() {
        let message =
            with_html("<p>Reiniciado, <b>pruebe ahora</b>.</p><blockquote>cita</blockquote>");
        assert!(agent_html(&message, "Reiniciado, pruebe ahora.").is_some());
        let with_command = with_html("<p>Reiniciado.</p><p>Severidad: 4</p>");
        assert_eq!(agent_html(&with_command, "Reiniciado."), None);
        assert_eq!(agent_html(&InboundMessage::default(), "Reiniciado."), None);
    }
}
