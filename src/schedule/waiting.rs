//! A case waiting on the customer (`cases.waiting_since`): after `sla.remind_after_days`
//! of silence the customer gets `case_reminder`, once per wait; `sla.close_after_days`
//! after that reminder (or after the wait began, with reminders off) the case closes with
//! `case_closed_inactive`. A customer's mail ends the wait, and with it both.

use jiff::Timestamp;
use serde_json::json;

use super::{counted, Item, Scheduler, Tick, PER_TICK};
use crate::apply::{facts_of, thread_for_customers, ApplyError, Batch, CaseRef, Outgoing};
use crate::compose::{self, MailKind};
use crate::domain::{CaseStatus, EmailAddress, Language, Mailbox};
use crate::store::{CaseRow, CaseTiming, StoreError};
use crate::text::format_time;

/// Which of the two mails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Remind,
    Close,
}

impl Scheduler {
    pub(super) async fn waiting_due(
        &self,
        now: Timestamp,
        tick: &mut Tick,
    ) -> Result<(), StoreError> {
        let sla = &self.config.sla;
        let now_ms = now.as_millisecond();
        if let Some(after) = sla.remind_after {
            let since = now_ms - after.as_millis() as i64;
            for timing in self.store.due_reminders(since, PER_TICK).await? {
                let result = self.waiting_mail(now, &timing, Step::Remind).await;
                counted(result, "reminder", timing.number, &mut tick.reminders);
            }
        }
        if let Some(after) = sla.close_after {
            let since = now_ms - after.as_millis() as i64;
            let reminded = sla.remind_after.is_some();
            for timing in self.store.due_closes(since, reminded, PER_TICK).await? {
                let result = self.waiting_mail(now, &timing, Step::Close).await;
                counted(result, "auto_close", timing.number, &mut tick.closed);
            }
        }
        Ok(())
    }

    async fn waiting_mail(
        &self,
        now: Timestamp,
        timing: &CaseTiming,
        step: Step,
    ) -> Result<bool, ApplyError> {
        let Some(since) = timing.waiting_since else {
            return Ok(false);
        };
        let item = match step {
            Step::Remind => Item::Reminder,
            Step::Close => Item::AutoClose,
        };
        let Some(mut tx) = self.claim(now, item, timing.case_id, since).await? else {
            return Ok(false);
        };
        let case = tx
            .case_by_number(timing.number)
            .await?
            .ok_or_else(|| ApplyError::Permanent(format!("case #{} is gone", timing.number)))?;
        if step == Step::Close && !tx.close_case(case.id).await? {
            return Ok(false);
        }
        let kind = match step {
            Step::Remind => MailKind::CaseReminder,
            Step::Close => MailKind::CaseClosedInactive,
        };
        self.tell_customers(&mut tx, &case, since, kind).await?;
        tx.commit().await?;
        tracing::info!(
            case = timing.number,
            item = item.key(),
            "waiting-on-customer mail queued"
        );
        Ok(true)
    }

    /// One mail to the requester and the case's other customers, in the case's language,
    /// threaded under the customer's latest mail.
    async fn tell_customers(
        &self,
        tx: &mut Batch,
        case: &CaseRow,
        since: i64,
        kind: MailKind,
    ) -> Result<(), ApplyError> {
        let language: Language = case.language.parse().unwrap_or_default();
        let participants: Vec<String> = tx.case_addresses_of_people(case.id).await?;
        let history = tx.case_emails(case.id).await?;
        let mut facts = facts_of(case, &participants, Vec::new());
        if kind == MailKind::CaseClosedInactive {
            facts.status = CaseStatus::Closed;
        }
        let to = self.customers(case, &participants);
        let Some(first) = to.first() else {
            return Err(ApplyError::Permanent(format!(
                "case #{} has no customer to write to",
                case.number
            )));
        };
        // From the case's mailbox, as every mail about it.
        tx.serve(self.config.mailbox_named(&case.mailbox));
        let mut data = self.processor.case_data(tx, &facts, language);
        data["person"] = compose::person(first);
        let close_days = self.config.sla.close_after.map(|d| d.as_secs() / 86_400);
        data["waiting"] = json!({
            "since": format_time(since, &self.config.support.timezone),
            "days": self.config.sla.remind_after.map(|d| d.as_secs() / 86_400),
            "close_days": close_days,
        });
        let out = Outgoing::new(kind, language, data, to, Some(CaseRef::of(case)))
            .answering(thread_for_customers(&history));
        self.processor.queue(tx, out).await?;
        Ok(())
    }

    /// The requester first, then the participants who are neither agents nor the desk.
    fn customers(&self, case: &CaseRow, participants: &[String]) -> Vec<Mailbox> {
        let agents = &self.config.agents.addresses;
        let support = self.config.support.address.as_str();
        let mut out: Vec<Mailbox> = EmailAddress::parse(&case.requester)
            .ok()
            .map(|address| Mailbox {
                name: case.requester_name.clone(),
                address,
            })
            .into_iter()
            .collect();
        out.extend(
            participants
                .iter()
                .filter(|p| *p != &case.requester && *p != support)
                .filter_map(|p| EmailAddress::parse(p).ok())
                .filter(|a| !agents.contains(a))
                .map(|address| Mailbox {
                    name: None,
                    address,
                }),
        );
        out
    }
}
