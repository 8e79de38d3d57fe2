//! The agents' morning digest at `agents.digest_at` on the support time zone's clock: open
//! cases by severity, those overdue and those waiting on customers, and what was opened and
//! closed the day before. Once a day, claimed by the local date (`YYYYMMDD`), so several
//! processes or a restart send one; a day with nothing to say is claimed and sends none.

use jiff::civil::Date;
use jiff::Timestamp;
use serde_json::{json, Value};

use super::{Item, Scheduler, Tick};
use crate::apply::{ApplyError, Outgoing};
use crate::compose::{severity_label, MailKind};
use crate::domain::{CaseId, Language, Severity};
use crate::store::{DigestCase, DigestFacts, StoreError};
use crate::text::format_time;

/// Desk-wide items are claimed under case id 0.
const DESK: CaseId = CaseId(0);

impl Scheduler {
    pub(super) async fn digest_due(
        &self,
        now: Timestamp,
        tick: &mut Tick,
    ) -> Result<(), StoreError> {
        let Some(at) = self.config.agents.digest_at else {
            return Ok(());
        };
        let zone = &self.config.support.timezone;
        let local = zone.to_datetime(now);
        let minute = i32::from(local.hour()) * 60 + i32::from(local.minute());
        if minute < at.minutes() {
            return Ok(());
        }
        let today = local.date();
        let period = day_key(today);
        let item = Item::Digest.key();
        if self.store.scheduled_done(&item, DESK, period).await? {
            return Ok(());
        }
        match self.send_digest(now, today).await {
            Ok(true) => tick.digests += 1,
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "digest failed; it stays due"),
        }
        Ok(())
    }

    /// The digest of `today`, or only its claim when there is nothing to say.
    async fn send_digest(&self, now: Timestamp, today: Date) -> Result<bool, ApplyError> {
        let zone = &self.config.support.timezone;
        let start_of = |d: Date| -> i64 {
            zone.to_ambiguous_timestamp(d.at(0, 0, 0, 0))
                .compatible()
                .map_or(0, |t| t.as_millisecond())
        };
        let yesterday = today.yesterday().unwrap_or(today);
        let facts = self
            .store
            .digest_facts(now.as_millisecond(), start_of(yesterday), start_of(today))
            .await?;
        let Some(mut tx) = self.claim(now, Item::Digest, DESK, day_key(today)).await? else {
            return Ok(false);
        };
        if facts.nothing_to_say() {
            tx.commit().await?;
            tracing::info!(day = %today, "digest: nothing to say, not sent");
            return Ok(false);
        }
        let language = self.config.support.language;
        let mut data = self
            .processor
            .case_data(&tx, &crate::apply::empty_case(), language);
        data["digest"] = self.digest_context(&facts, today, language);
        let to = self.processor.notify_list(&mut tx).await?;
        let out = Outgoing::new(MailKind::AgentDigest, language, data, to, None);
        self.processor.queue(&mut tx, out).await?;
        tx.commit().await?;
        tracing::info!(day = %today, "digest queued");
        Ok(true)
    }

    fn digest_context(&self, facts: &DigestFacts, today: Date, language: Language) -> Value {
        let zone = &self.config.support.timezone;
        let line = |c: &DigestCase, key: &str| {
            json!({
                "number": c.number, "subject": c.subject, "severity": c.severity,
                "owner": c.owner, key: format_time(c.at, zone),
            })
        };
        json!({
            "date": today.to_string(),
            "zone": zone.iana_name().unwrap_or("UTC"),
            "open": facts.open_by_severity.iter().map(|(_, n)| n).sum::<i64>(),
            "by_severity": facts.open_by_severity.iter().map(|(s, n)| json!({
                "severity": s,
                "label": severity_label(Severity::new(*s).unwrap_or_default(), language),
                "count": n,
            })).collect::<Vec<_>>(),
            "overdue": facts.overdue.iter().map(|c| line(c, "due")).collect::<Vec<_>>(),
            "waiting": facts.waiting.iter().map(|c| line(c, "since")).collect::<Vec<_>>(),
            "opened_yesterday": facts.opened,
            "closed_yesterday": facts.closed,
            "more": u8::from(facts.more),
        })
    }
}

/// `20261130`: a local date as the digest's claim.
fn day_key(day: Date) -> i64 {
    i64::from(day.year()) * 10_000 + i64::from(day.month()) * 100 + i64::from(day.day())
}
