//! The SLA facts every mail on a case maintains, inside the apply transaction: when the
//! customer last wrote (which also ends a wait on them and starts or resumes the SLA
//! clock) and when an agent's answer last went to them (which stops it). The scheduler
//! (`src/schedule/`) reads what these leave.

use jiff::Timestamp;

use super::{ApplyError, Processor};
use crate::apply::Batch;
use crate::domain::CaseId;
use crate::sla::{SlaClock, Target};

fn instant(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH)
}

impl Processor {
    /// A new case: its first-response clock starts now, when its severity has a target
    /// (`cases.customer_wrote_at` is the case's opening, written with it).
    pub(super) async fn start_first_response(
        &self,
        tx: &mut Batch,
        case_id: CaseId,
        severity: i64,
    ) -> Result<(), ApplyError> {
        let now = instant(tx.now());
        if let Some(clock) = SlaClock::start(&self.config.sla, Target::FirstResponse, severity, now)
        {
            tx.customer_wrote(case_id, Some(&clock)).await?;
        }
        Ok(())
    }

    /// The customer wrote on the case (its severity as this mail left it).
    pub(super) async fn customer_wrote(
        &self,
        tx: &mut Batch,
        case_id: CaseId,
    ) -> Result<(), ApplyError> {
        let timing = tx.case_timing(case_id).await?;
        let clock = SlaClock::on_customer_mail(
            &self.config.sla,
            timing.clock,
            timing.waiting_since.map(instant),
            timing.agent_answered_at.is_some(),
            timing.severity,
            instant(tx.now()),
        );
        tx.customer_wrote(case_id, clock.as_ref()).await?;
        Ok(())
    }

    /// A new severity: a running clock keeps its start and takes the new severity's target
    /// (none, if that severity has none). Time it spent paused is not counted back.
    pub(super) async fn severity_changed(
        &self,
        tx: &mut Batch,
        case_id: CaseId,
        severity: i64,
    ) -> Result<(), ApplyError> {
        let timing = tx.case_timing(case_id).await?;
        if let Some(clock) = timing.clock {
            let clock = SlaClock::start(&self.config.sla, clock.target, severity, clock.started_at);
            tx.set_sla_clock(case_id, clock.as_ref()).await?;
        }
        Ok(())
    }

    /// An agent's answer was relayed to the customer.
    pub(super) async fn agent_answered(
        &self,
        tx: &mut Batch,
        case_id: CaseId,
    ) -> Result<(), ApplyError> {
        tx.agent_answered(case_id).await?;
        Ok(())
    }
}
