//! Mail on an existing case (SPEC.md "Mail in → 2, 3, 4"): a customer's comment, an agent's
//! reply relayed to the customer or kept as an internal note, commands in either, and what
//! happens on a closed case.

use super::limits::Skipped;
use super::outgoing::mailbox;
use super::{Applied, ApplyError, Entry, Processor};
use crate::apply::{Batch, Outcome};
use crate::classify::{self, Facts, ProductChoice, Route};
use crate::commands::{self, ReplyCommands};
use crate::compose::Threading;
use crate::domain::{CaseNumber, CaseStatus, Direction, Language, Mailbox};
use crate::parse::InboundMessage;
use crate::store::{CaseRow, EmailRow, InboundRow};

mod changes;
mod desk_commands;
mod notices;
mod status;

use status::ChangedBy;

/// What a customer's comment did, for the agents' notice.
struct CommentMade<'a> {
    sender: &'a Mailbox,
    commands: &'a ReplyCommands,
    changes: &'a [changes::Change],
    /// Commands set aside until the customer confirms them.
    held: Option<&'a [String]>,
}

/// The people on a case and its history, read before the transaction starts, and the
/// attachments of this mail that the limits kept out.
struct CaseContext {
    case: CaseRow,
    participants: Vec<String>,
    history: Vec<EmailRow>,
    skipped: Vec<Skipped>,
}

impl Processor {
    pub(super) async fn on_case(
        &self,
        tx: &mut Batch,
        row: &InboundRow,
        message: &InboundMessage,
        case: &CaseRow,
        facts: &Facts,
        skipped: &[Skipped],
    ) -> Applied {
        let sender = message
            .from
            .clone()
            .ok_or_else(|| ApplyError::Permanent("threaded mail without From".into()))?;
        let is_agent = facts.agents.contains(&sender.address);
        let history = tx.case_emails(case.id).await?;
        let new_text = new_words(&message.text, &history);
        let commands = commands::parse(&new_text, &self.mailbox_of(tx).products);
        let participants = tx.case_addresses_of_people(case.id).await?;
        let context = CaseContext {
            case: case.clone(),
            participants,
            history,
            skipped: skipped.to_vec(),
        };
        if case.status == CaseStatus::Closed && !is_agent {
            return self
                .on_closed_case(tx, row, message, facts, &new_text, &context)
                .await;
        }
        if is_agent {
            self.agent_message(tx, row, message, &sender, &commands, &context)
                .await
        } else {
            self.customer_comment(tx, row, message, &sender, &commands, &context)
                .await
        }
    }

    /// Closing is final: thanks are logged, anything else opens a new, linked case.
    async fn on_closed_case(
        &self,
        tx: &mut Batch,
        row: &InboundRow,
        message: &InboundMessage,
        facts: &Facts,
        new_text: &str,
        context: &CaseContext,
    ) -> Applied {
        let (case, skipped) = (&context.case, &context.skipped);
        if commands::is_courtesy(new_text) {
            self.record_inbound(
                tx,
                row,
                message,
                Entry::new(Some(case.id), "courtesy").text(new_text),
            )
            .await?;
            return Ok(Outcome::LoggedOnClosedCase(CaseNumber(case.number)));
        }
        match classify::classify(message, facts) {
            Route::NewCase(mut new) => {
                if !new_text.is_empty() {
                    new.description = new_text.to_string();
                }
                new.subject = follow_up_subject(&new.subject, &case.subject);
                // The follow-up is about the same product unless the mail names another.
                if let (ProductChoice::NotGiven, Some(product)) = (&new.product, &case.product) {
                    new.product = ProductChoice::Known(product.clone());
                }
                self.open_case(tx, row, message, &new, Some(case), skipped)
                    .await
            }
            Route::AccessDenied { sender } => self.deny(tx, row, message, &sender).await,
            Route::Ignore(reason) => self.log_only(tx, row, message, reason, Some(case.id)).await,
        }
    }

    async fn customer_comment(
        &self,
        tx: &mut Batch,
        row: &InboundRow,
        message: &InboundMessage,
        sender: &Mailbox,
        commands: &ReplyCommands,
        context: &CaseContext,
    ) -> Applied {
        let case = &context.case;
        let hashes = self.store_attachments(tx, message).await?;
        let notify = self.notify_for_case(tx, case).await?;
        let (commands, held) = &self
            .commands_to_apply(tx, row, message, sender, case, commands)
            .await?;
        self.record_inbound(
            tx,
            row,
            message,
            Entry::new(Some(case.id), "comment")
                .text(&commands.comment)
                .attachments(&hashes),
        )
        .await?;
        self.add_replier(
            tx,
            row,
            message,
            case.id,
            &context.participants,
            &sender.address,
        )
        .await?;
        let (updated, changes) = self.apply_commands(tx, case, commands).await?;
        tx.touch(case.id).await?;
        self.customer_wrote(tx, case.id).await?;

        let comment = CommentMade {
            sender,
            commands,
            changes: &changes,
            held: held.as_deref(),
        };
        self.notify_agents_of_comment(tx, message, &updated, context, &comment, notify)
            .await?;
        let threading = Threading::answering(message.message_id.as_deref(), &message.references);
        self.tell_refused(tx, &updated, context, sender, threading.clone())
            .await?;
        if let Some(lines) = held {
            self.ask_to_confirm(tx, &updated, sender, lines.clone(), threading.clone())
                .await?;
        }
        let by = ChangedBy::Customer(sender);
        self.status_mail(tx, &updated, context, &changes, by, threading)
            .await?;
        Ok(Outcome::Comment(CaseNumber(case.number)))
    }

    async fn agent_message(
        &self,
        tx: &mut Batch,
        row: &InboundRow,
        message: &InboundMessage,
        sender: &Mailbox,
        commands: &ReplyCommands,
        context: &CaseContext,
    ) -> Applied {
        let case = &context.case;
        // The desk's own lines (`Tomar`, `Fusionar: #M`…) never reach the customer.
        let desk = crate::commands::agent::parse(&commands.comment);
        let commands = &ReplyCommands {
            comment: desk.comment.clone(),
            ..commands.clone()
        };
        let hashes = self.store_attachments(tx, message).await?;
        let kind = if commands.internal {
            "internal_note"
        } else {
            "agent_reply"
        };
        self.record_inbound(
            tx,
            row,
            message,
            Entry::new(Some(case.id), kind)
                .text(&commands.comment)
                .attachments(&hashes),
        )
        .await?;
        tx.touch(case.id).await?;
        self.apply_desk_commands(tx, row, sender, &desk, context)
            .await?;
        if commands.internal {
            return Ok(Outcome::InternalNote(CaseNumber(case.number)));
        }
        let (updated, changes) = self.apply_commands(tx, case, commands).await?;
        let threading = thread_for_customers(&context.history);
        if !commands.comment.is_empty() || !message.attachments.is_empty() {
            let answer = CommentMade {
                sender,
                commands,
                changes: &changes,
                held: None,
            };
            self.relay(tx, message, &answer, &updated, context, threading.clone())
                .await?;
            self.agent_answered(tx, case.id).await?;
        }
        let by = ChangedBy::Agent(sender);
        self.status_mail(tx, &updated, context, &changes, by, threading)
            .await?;
        Ok(Outcome::AgentReply(CaseNumber(case.number)))
    }

    /// The requester and participants who are not agents: who hears from the case.
    fn customers(&self, case: &CaseRow, context: &CaseContext) -> Vec<Mailbox> {
        let agents = &self.config.agents.addresses;
        let mut out = vec![requester(case)];
        out.extend(
            context
                .participants
                .iter()
                .filter(|p| *p != &case.requester)
                .filter_map(|p| mailbox(p))
                .filter(|m| !self.config.is_own_address(&m.address))
                .filter(|m| !agents.contains(&m.address)),
        );
        out
    }
}

fn requester(case: &CaseRow) -> Mailbox {
    let mut m = mailbox(&case.requester).unwrap_or_else(|| Mailbox {
        name: None,
        address: crate::domain::EmailAddress::parse("invalid@invalid.invalid")
            .expect("valid placeholder"),
    });
    m.name = case.requester_name.clone();
    m
}

/// The new words of a mail on a case: its text without the quoted history, the case's last
/// 20 texts (what buzon sent, above all) recognised wherever they are quoted.
pub(super) fn new_words(text: &str, history: &[EmailRow]) -> String {
    let known: Vec<&str> = history
        .iter()
        .rev()
        .take(20)
        .filter_map(|e| e.body_text.as_deref())
        .collect();
    crate::quotes::new_text(text, &known)
}

fn case_language(case: &CaseRow) -> Language {
    case.language.parse().unwrap_or_default()
}

/// Agent replies answer the customer's latest mail and carry the case's thread, so the
/// customer's client files them under the conversation.
pub(crate) fn thread_for_customers(history: &[EmailRow]) -> Threading {
    let ids: Vec<String> = history
        .iter()
        .filter_map(|e| e.message_id.clone())
        .collect();
    let parent = history
        .iter()
        .rev()
        .find(|e| e.direction == Direction::In && matches!(e.kind.as_str(), "new_case" | "comment"))
        .and_then(|e| e.message_id.clone());
    let mut refs: Vec<String> = ids.iter().take(1).cloned().collect();
    refs.extend(ids.iter().skip(1).rev().take(9).rev().cloned());
    Threading::answering(parent.as_deref(), &refs)
}

/// The subject of a case opened from a reply on a closed one: the conversation's own
/// subject when the reply still carries it (whatever buzon or the client added around it),
/// else the reply's subject without prefixes and the old tag.
fn follow_up_subject(reply_subject: &str, old_subject: &str) -> String {
    let stripped = strip_reply_prefixes(reply_subject);
    if crate::text::fold_words(&stripped).contains(&crate::text::fold_words(old_subject)) {
        old_subject.to_string()
    } else {
        stripped
    }
}

/// "RE: Fwd: [Caso #3] x" → "x": a new case does not inherit the old one's tag.
fn strip_reply_prefixes(subject: &str) -> String {
    static PREFIX: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"(?i)^\s*(?:(?:re|rv|fwd?|aw|sv|wg|tr|r)\s*:\s*|\[?\s*(?:caso|case)\s*#\s*\d+\s*\]?\s*)+").expect("prefix regex")
    });
    let stripped = PREFIX.replace(subject, "").trim().to_string();
    if stripped.is_empty() {
        subject.to_string()
    } else {
        stripped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_prefixes_and_old_tags_go() {
        assert_eq!(
            strip_reply_prefixes("RE: Fwd: [Caso #3] Falla el login"),
            "Falla el login"
        );
        assert_eq!(strip_reply_prefixes("Re: Case #12 again"), "again");
        assert_eq!(strip_reply_prefixes("Reunión mañana"), "Reunión mañana");
        assert_eq!(
            follow_up_subject("Re: [Caso #1] Caso cerrado: No sincroniza", "No sincroniza"),
            "No sincroniza"
        );
        assert_eq!(
            follow_up_subject("Re: [Caso #1] Otra cosa", "No sincroniza"),
            "Otra cosa"
        );
    }
}
