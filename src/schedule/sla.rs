//! SLA warnings (80 %) and breaches (100 %), once each per target: to the case's owner,
//! or to the agents (`agents.notify`, else every agent) while it has none. They join the
//! case's thread in the agents' mail client like every agents' mail of the case.

use jiff::Timestamp;
use serde_json::json;

use super::{counted, Item, Scheduler, Tick, PER_TICK};
use crate::apply::{facts_of, ApplyError, CaseRef, Outgoing};
use crate::compose::MailKind;
use crate::domain::{EmailAddress, Language, Mailbox};
use crate::sla::{SlaClock, Target};
use crate::store::{CaseTiming, StoreError};
use crate::text::format_time;

impl Scheduler {
    pub(super) async fn sla_due(&self, now: Timestamp, tick: &mut Tick) -> Result<(), StoreError> {
        let due = self
            .store
            .due_clocks(now.as_millisecond(), PER_TICK)
            .await?;
        for timing in due {
            let Some(clock) = timing.clock else { continue };
            let breach = now >= clock.due_at;
            let count = match breach {
                true => &mut tick.breaches,
                false => &mut tick.warnings,
            };
            let result = self.tell_sla(now, &timing, clock, breach).await;
            counted(result, "sla", timing.number, count);
        }
        Ok(())
    }

    async fn tell_sla(
        &self,
        now: Timestamp,
        timing: &CaseTiming,
        clock: SlaClock,
        breach: bool,
    ) -> Result<bool, ApplyError> {
        let (item, kind) = match breach {
            true => (Item::SlaBreach(clock.target), MailKind::AgentSlaBreach),
            false => (Item::SlaWarning(clock.target), MailKind::AgentSlaWarning),
        };
        let period = clock.started_at.as_millisecond();
        let Some(mut tx) = self.claim(now, item, timing.case_id, period).await? else {
            return Ok(false);
        };
        let case = tx
            .case_by_number(timing.number)
            .await?
            .ok_or_else(|| ApplyError::Permanent(format!("case #{} is gone", timing.number)))?;
        // Agents hear of a case in its mailbox's language, as for every notification.
        tx.serve(self.config.mailbox_named(&case.mailbox));
        let language = self.processor.mailbox_of(&tx).language;
        let mut data = self
            .processor
            .case_data(&tx, &facts_of(&case, &[], Vec::new()), language);
        data["sla"] = self.sla_context(timing, &clock, language);
        let to = match timing
            .owner
            .as_deref()
            .and_then(|o| EmailAddress::parse(o).ok())
        {
            Some(owner) => vec![Mailbox {
                name: None,
                address: owner,
            }],
            None => self.processor.notify_list(&mut tx).await?,
        };
        let mut out = Outgoing::new(kind, language, data, to, Some(CaseRef::of(&case)));
        out.urgent = breach;
        self.processor.queue(&mut tx, out).await?;
        tx.commit().await?;
        tracing::info!(case = timing.number, item = item.key(), "SLA notice queued");
        Ok(true)
    }

    fn sla_context(
        &self,
        timing: &CaseTiming,
        clock: &SlaClock,
        language: Language,
    ) -> serde_json::Value {
        let zone = &self.config.support.timezone;
        let allowed = self.config.sla.target(clock.target, timing.severity);
        json!({
            "target": target_label(clock.target, language),
            "allowed": allowed.map(business_time).unwrap_or_default(),
            "started": format_time(clock.started_at.as_millisecond(), zone),
            "due": format_time(clock.due_at.as_millisecond(), zone),
            "owner": timing.owner,
        })
    }
}

/// "primera respuesta" / "next response".
pub(crate) fn target_label(target: Target, language: Language) -> &'static str {
    match (target, language) {
        (Target::FirstResponse, Language::Es) => "primera respuesta",
        (Target::NextResponse, Language::Es) => "siguiente respuesta",
        (Target::FirstResponse, Language::En) => "first response",
        (Target::NextResponse, Language::En) => "next response",
    }
}

/// `4 h`, `1 h 30 min`, `45 min`: a target as people read it.
fn business_time(d: std::time::Duration) -> String {
    let minutes = d.as_secs() / 60;
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn targets_read_in_hours_and_minutes() {
        let d = |m: u64| std::time::Duration::from_secs(m * 60);
        assert_eq!(super::business_time(d(240)), "4 h");
        assert_eq!(super::business_time(d(90)), "1 h 30 min");
        assert_eq!(super::business_time(d(45)), "45 min");
    }
}
