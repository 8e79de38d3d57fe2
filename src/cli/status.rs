//! `buzon status`: what `/health` says, without HTTP, for cron or a Nagios check: one line a
//! mailbox, the outbox, the mail that needs a person, then each reason; exit 1 when
//! unhealthy. `--json` prints `/health`'s body.

use std::process::ExitCode;

use super::say;
use crate::daemon::App;
use crate::health::{self, Report};
use crate::text::format_time;

pub(super) async fn status(app: &App, json: bool) -> anyhow::Result<ExitCode> {
    let report = health::assess(&app.store, &app.config).await;
    if json {
        say(format_args!("{}", serde_json::to_string_pretty(&report)?))?;
    } else {
        print(app, &report).await?;
    }
    Ok(match report.healthy {
        true => ExitCode::SUCCESS,
        false => ExitCode::from(1),
    })
}

async fn print(app: &App, report: &Report) -> anyhow::Result<()> {
    let zone = &app.config.support.timezone;
    say(format_args!(
        "{}",
        if report.healthy {
            "healthy"
        } else {
            "UNHEALTHY"
        }
    ))?;
    for m in &report.mailboxes {
        match (m.last_sync_unix, m.age_secs) {
            (Some(at), Some(age)) => say(format_args!(
                "mailbox {}: last synced {age} s ago, {}",
                m.mailbox,
                format_time(at * 1000, zone)
            ))?,
            _ => say(format_args!("mailbox {}: never synced", m.mailbox))?,
        }
    }
    match report.oldest_pending_outbox_secs {
        Some(age) => say(format_args!("outbox: oldest mail waiting {age} s"))?,
        None => say(format_args!("outbox: nothing waiting"))?,
    }
    let counts = |rows: Vec<(String, i64)>| {
        let parts: Vec<String> = rows.iter().map(|(s, n)| format!("{s} {n}")).collect();
        parts.join(", ")
    };
    if let (Ok(inbound), Ok(outbox)) = (
        app.store.inbound_counts().await,
        app.store.outbox_counts().await,
    ) {
        say(format_args!("mail in by state: {}", counts(inbound)))?;
        say(format_args!("mail out by state: {}", counts(outbox)))?;
    }
    for reason in &report.reasons {
        say(format_args!("unhealthy: {}", reason.describe()))?;
    }
    Ok(())
}
