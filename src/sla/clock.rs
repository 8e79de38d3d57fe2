//! A case's SLA clock: started by a customer's mail that waits for an answer, stopped by
//! the agents' answer, paused while the case waits on the customer. What the columns of a
//! case become at each event is decided here, purely.

use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;

use super::{SlaConfig, Target};

/// Share of a target at which the agents are warned.
const WARN_PERCENT: u32 = 80;

/// A running target: stored as `cases.sla_*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlaClock {
    pub target: Target,
    /// The customer's mail that started it; the key of its warning and breach.
    pub started_at: Timestamp,
    pub warn_at: Timestamp,
    pub due_at: Timestamp,
}

/// Where a case stands against its target, at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SlaState {
    /// No answer is owed (or no target is configured for the case's severity).
    None,
    /// Waiting on the customer: the clock is stopped.
    Paused,
    OnTime,
    /// Past 80 % of the target.
    AtRisk,
    Breached,
}

impl SlaState {
    pub fn name(self) -> &'static str {
        match self {
            SlaState::None => "none",
            SlaState::Paused => "paused",
            SlaState::OnTime => "on_time",
            SlaState::AtRisk => "at_risk",
            SlaState::Breached => "breached",
        }
    }
}

impl SlaClock {
    /// A clock for `target` starting `now`, if the case's severity has that target.
    pub fn start(
        config: &SlaConfig,
        target: Target,
        severity: i64,
        now: Timestamp,
    ) -> Option<SlaClock> {
        let allowed = config.target(target, severity)?;
        let warn = allowed * WARN_PERCENT / 100;
        Some(SlaClock {
            target,
            started_at: now,
            warn_at: config.hours.add(now, warn),
            due_at: config.hours.add(now, allowed),
        })
    }

    /// What the clock becomes when the customer writes at `now`: a running clock keeps
    /// going (the oldest unanswered mail counts); a paused one resumes with the business
    /// time it had left; with none, a new one starts — the first response's while no agent
    /// has answered yet, else the next response's.
    pub fn on_customer_mail(
        config: &SlaConfig,
        current: Option<SlaClock>,
        waiting_since: Option<Timestamp>,
        answered_before: bool,
        severity: i64,
        now: Timestamp,
    ) -> Option<SlaClock> {
        match (current, waiting_since) {
            (Some(clock), Some(paused)) => Some(clock.resumed(config, paused, now)),
            (Some(clock), None) => Some(clock),
            (None, _) => {
                let target = match answered_before {
                    false => Target::FirstResponse,
                    true => Target::NextResponse,
                };
                SlaClock::start(config, target, severity, now)
            }
        }
    }

    /// Paused at `paused`, resumed at `now`: each point keeps the business time that was
    /// left to it when the clock stopped (none, if it had passed).
    fn resumed(self, config: &SlaConfig, paused: Timestamp, now: Timestamp) -> SlaClock {
        let left = |at: Timestamp| -> Duration { config.hours.between(paused, at) };
        SlaClock {
            warn_at: config.hours.add(now, left(self.warn_at)),
            due_at: config.hours.add(now, left(self.due_at)),
            ..self
        }
    }

    /// The clock's state at `now`; `waiting` stops it.
    pub fn state(clock: Option<&SlaClock>, waiting: bool, now: Timestamp) -> SlaState {
        match clock {
            None => SlaState::None,
            Some(_) if waiting => SlaState::Paused,
            Some(c) if now >= c.due_at => SlaState::Breached,
            Some(c) if now >= c.warn_at => SlaState::AtRisk,
            Some(_) => SlaState::OnTime,
        }
    }
}
