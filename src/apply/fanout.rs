//! How many people a case's mail goes to. Every mail about a case goes to all its
//! participants, and a provisioned organisation lets anyone at its domain in: without a
//! limit, one mail Cc'd to 500 colleagues turns every later answer into 500 mails.
//! `limits.max_participants_per_mail` bounds what one mail adds, and
//! `limits.max_participants_per_case` the whole case (requester included). Who is left out
//! is logged and written on the case's history, where agents see it. Agents' answers
//! relayed to a case's customers are bounded per hour too (`relays_per_case_per_hour`).

use tracing::warn;

use super::{ApplyError, Processor};
use crate::apply::Batch;
use crate::compose::MailKind;
use crate::domain::EmailAddress;
use crate::domain::{CaseId, Direction, Role};
use crate::parse::InboundMessage;
use crate::store::{EmailRow, InboundRow};

/// The history entry naming addresses a mail brought that the case did not take.
pub(super) const PARTICIPANTS_LIMITED: &str = "participants_limited";

/// `named` split into those a case with `present` people takes (in the mail's order) and
/// those left out.
pub(super) fn admit(
    max_per_case: usize,
    max_per_mail: usize,
    present: usize,
    named: &[EmailAddress],
) -> (Vec<EmailAddress>, Vec<EmailAddress>) {
    let room = max_per_case.saturating_sub(present).min(max_per_mail);
    let (taken, left) = named.split_at(named.len().min(room));
    (taken.to_vec(), left.to_vec())
}

impl Processor {
    /// Whoever replies on a case joins it, while there is room.
    pub(super) async fn add_replier(
        &self,
        tx: &mut Batch,
        row: &InboundRow,
        message: &InboundMessage,
        case_id: CaseId,
        participants: &[String],
        sender: &EmailAddress,
    ) -> Result<(), ApplyError> {
        if participants.iter().any(|p| p == sender.as_str()) {
            return Ok(());
        }
        let (taken, left_out) =
            self.admit_participants(participants.len(), std::slice::from_ref(sender));
        for p in &taken {
            tx.add_participant(case_id, p.as_str(), Role::Participant)
                .await?;
        }
        self.note_left_out(tx, row, message, case_id, &left_out)
            .await
    }

    /// Whether the case's customers already got `limits.relays_per_case_per_hour` agents'
    /// answers in the hour before `now` (ms). Agents are people, but a forged or looping
    /// "agent" is not: past the limit an answer is held — on the history, listed by
    /// `buzon failed`, sent by `buzon retry --outbox` — never dropped.
    pub(super) fn relays_over_limit(&self, history: &[EmailRow], now: i64) -> bool {
        let since = now - 3_600_000;
        let relayed = history
            .iter()
            .filter(|e| e.direction == Direction::Out && e.kind == MailKind::AgentReply.name())
            .filter(|e| e.created_at > since)
            .count();
        let over = relayed >= self.config.limits.relays_per_case_per_hour;
        if over {
            warn!(
                relayed,
                "agents' answers over limits.relays_per_case_per_hour: held"
            );
        }
        over
    }

    /// `named` split by the configured limits for a case that has `present` people.
    pub(super) fn admit_participants(
        &self,
        present: usize,
        named: &[EmailAddress],
    ) -> (Vec<EmailAddress>, Vec<EmailAddress>) {
        let limits = &self.config.limits;
        admit(
            limits.max_participants_per_case,
            limits.max_participants_per_mail,
            present,
            named,
        )
    }

    /// Write on the case's history (and the log) who this mail named but the case did
    /// not take, with the limits that decided it.
    pub(super) async fn note_left_out(
        &self,
        tx: &mut Batch,
        row: &InboundRow,
        message: &InboundMessage,
        case_id: CaseId,
        left: &[EmailAddress],
    ) -> Result<(), ApplyError> {
        if left.is_empty() {
            return Ok(());
        }
        let limits = &self.config.limits;
        let list = left
            .iter()
            .map(EmailAddress::as_str)
            .collect::<Vec<_>>()
            .join(", ");
        warn!(
            case_id = case_id.0,
            left_out = left.len(),
            "participants over the limit not added"
        );
        let body = format!(
            "Not added as participants (limits.max_participants_per_mail = {}, limits.max_participants_per_case = {}): {list}",
            limits.max_participants_per_mail, limits.max_participants_per_case
        );
        super::record::note_about_mail(
            tx,
            row,
            message,
            case_id,
            PARTICIPANTS_LIMITED,
            &list,
            &body,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limits_take_the_first_named_and_leave_the_rest() {
        let named: Vec<EmailAddress> = (0..30)
            .map(|n| EmailAddress::parse(&format!("p{n}@cliente.test")).unwrap())
            .collect();
        let (taken, left) = admit(50, 20, 1, &named);
        assert_eq!((taken.len(), left.len()), (20, 10));
        assert_eq!(taken[0], named[0]);
        let (taken, left) = admit(50, 20, 45, &named);
        assert_eq!((taken.len(), left.len()), (5, 25));
        let (taken, left) = admit(50, 20, 60, &named);
        assert_eq!((taken.len(), left.len()), (0, 30));
    }
}
