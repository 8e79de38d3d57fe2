//! The SLA side of the case views: each case's state and due time in `buzon cases --json`
//! and `buzon case N`, and `buzon cases --overdue` (breached cases, most overdue first).
//! "Now" is the scheduler's clock, so a moved `BUZON_TEST_CLOCK` shows what it would do.

use std::io::Write;

use jiff::tz::TimeZone;
use serde_json::{json, Value};

use super::{format_time, say, terminal};
use crate::daemon::App;
use crate::sla::SlaClock;
use crate::store::CaseTiming;

/// A case's SLA and waiting facts, as JSON.
pub fn sla_json(timing: &CaseTiming, now: jiff::Timestamp) -> Value {
    let clock = timing.clock.as_ref();
    let state = SlaClock::state(clock, timing.waiting_since.is_some(), now);
    json!({
        "state": state.name(),
        "target": clock.map(|c| c.target.name()),
        "started_at": clock.map(|c| c.started_at.as_millisecond()),
        "warn_at": clock.map(|c| c.warn_at.as_millisecond()),
        "due_at": clock.map(|c| c.due_at.as_millisecond()),
        "owner": timing.owner,
        "waiting_since": timing.waiting_since,
        "customer_wrote_at": timing.customer_wrote_at,
        "agent_answered_at": timing.agent_answered_at,
    })
}

/// `buzon case N`'s lines about time: owner, wait, SLA target and its state.
pub fn print_sla(
    out: &mut impl Write,
    timing: &CaseTiming,
    now: jiff::Timestamp,
    zone: &TimeZone,
) -> anyhow::Result<()> {
    let when = |ms: Option<i64>| ms.map_or("-".to_string(), |ms| format_time(ms, zone));
    writeln!(
        out,
        "  owner:      {}",
        timing.owner.as_deref().unwrap_or("-")
    )?;
    if let Some(since) = timing.waiting_since {
        writeln!(
            out,
            "  waiting:    on the customer since {}",
            format_time(since, zone)
        )?;
    }
    writeln!(
        out,
        "  customer:   last wrote {}",
        when(timing.customer_wrote_at)
    )?;
    writeln!(out, "  answered:   {}", when(timing.agent_answered_at))?;
    let clock = timing.clock.as_ref();
    let state = SlaClock::state(clock, timing.waiting_since.is_some(), now);
    match clock {
        Some(c) => writeln!(
            out,
            "  sla:        {} due {} ({}; 80 % at {})",
            c.target.name(),
            format_time(c.due_at.as_millisecond(), zone),
            state.name(),
            format_time(c.warn_at.as_millisecond(), zone),
        )?,
        None => writeln!(out, "  sla:        {}", state.name())?,
    }
    Ok(())
}

/// Each listed case as JSON with its SLA state and due time.
pub async fn cases_json(app: &App, cases: &[crate::store::CaseRow]) -> anyhow::Result<Value> {
    let now = app.clock.now();
    let mut out = Vec::with_capacity(cases.len());
    for case in cases {
        let mut value = serde_json::to_value(case)?;
        if let Some(timing) = app.store.case_timing(case.number).await? {
            value["sla"] = sla_json(&timing, now);
        }
        out.push(value);
    }
    Ok(Value::Array(out))
}

/// `buzon cases --overdue`: open cases past their SLA target, not waiting on the customer.
pub async fn overdue(app: &App, json: bool) -> anyhow::Result<()> {
    let now = app.clock.now();
    let cases = app.store.overdue_cases(now.as_millisecond()).await?;
    if json {
        let list: Vec<Value> = cases
            .iter()
            .map(|t| {
                let mut v = serde_json::to_value(t).unwrap_or_default();
                v["sla"] = sla_json(t, now);
                v
            })
            .collect();
        say(format_args!(
            "{}",
            terminal::json(&serde_json::to_string_pretty(&list)?)
        ))?;
        return Ok(());
    }
    let mut out = terminal::stdout();
    let zone = &app.config.support.timezone;
    for t in &cases {
        let Some(c) = t.clock.as_ref() else { continue };
        writeln!(
            out,
            "#{:<6} sev {} {:<14} due {}  {:<24} {}",
            t.number,
            t.severity,
            c.target.name(),
            format_time(c.due_at.as_millisecond(), zone),
            t.owner.as_deref().unwrap_or("(unassigned)"),
            t.subject
        )?;
    }
    if cases.is_empty() {
        eprintln!("no overdue cases");
    }
    Ok(())
}
