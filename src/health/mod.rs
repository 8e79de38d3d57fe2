//! Is buzon doing its job? "Fetching silently stopped" is the most common complaint about
//! email desks, so health is judged from what the database says was done, not from whether
//! the process is up: when each mailbox was last synced in full, and how long the oldest
//! outgoing mail has waited. `/health` (see `http.rs`) and `buzon status` give the same
//! [`Report`]; `metrics.rs` counts what happened for Prometheus.

pub mod http;
pub mod metrics;

use std::time::Duration;

use serde::Serialize;

use crate::config::Config;
use crate::store::{now_ms, Store};

/// Why buzon is unhealthy. Each variant is one thing an operator must act on; its JSON form
/// (`/health`, `buzon status --json`) is tagged `"reason": "<snake_case name>"`.
///
/// A new reason (OAuth2's failing refresh, for one) is a variant here, a check in
/// [`assess`] that pushes it, and its sentence in [`Reason::describe`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Reason {
    /// No full sync of the mailbox for longer than `health.max_sync_age_secs` (or ever):
    /// mail sent to the desk is not being fetched.
    SyncStale {
        mailbox: String,
        /// Seconds since the last full sync; None when it never happened.
        age_secs: Option<u64>,
        limit_secs: u64,
    },
    /// A mail has waited in the outbox longer than `health.max_outbox_age_secs`: customers
    /// and agents are not getting their mail.
    OutboxStale {
        outbox_id: i64,
        age_secs: u64,
        limit_secs: u64,
    },
    /// The database did not answer: nothing can be fetched, applied or sent.
    DatabaseUnavailable { error: String },
    /// The OAuth2 login cannot be refreshed: refused by the provider (only `buzon auth
    /// login` mends it), or the provider unreachable for 10 minutes.
    #[serde(rename = "oauth2_failing")]
    OAuth2Failing {
        account: String,
        error: String,
        since_unix: i64,
        refused: bool,
    },
}

impl Reason {
    /// One line for a person (`buzon status`, the log).
    pub fn describe(&self) -> String {
        match self {
            Reason::SyncStale {
                mailbox,
                age_secs: Some(age),
                limit_secs,
            } => {
                format!("mailbox {mailbox}: no successful sync for {age} s (limit {limit_secs} s)")
            }
            Reason::SyncStale { mailbox, .. } => {
                format!("mailbox {mailbox}: never synced")
            }
            Reason::OutboxStale {
                outbox_id,
                age_secs,
                limit_secs,
            } => format!(
                "outbox: mail {outbox_id} has waited {age_secs} s to be sent (limit {limit_secs} s)"
            ),
            Reason::DatabaseUnavailable { error } => format!("database unavailable: {error}"),
            Reason::OAuth2Failing { account, error, .. } => {
                format!("oauth2: refreshing the login of {account} fails ({error}); run buzon auth login")
            }
        }
    }
}

/// One mailbox as health sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MailboxSync {
    pub mailbox: String,
    /// Unix seconds of the last full sync.
    pub last_sync_unix: Option<i64>,
    pub age_secs: Option<u64>,
}

/// What `/health` answers and `buzon status` prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub healthy: bool,
    pub reasons: Vec<Reason>,
    pub mailboxes: Vec<MailboxSync>,
    /// Seconds the oldest pending outbox mail has waited (None: nothing waits).
    pub oldest_pending_outbox_secs: Option<u64>,
}

/// The mailboxes buzon watches, as their sync rows name them.
pub fn watched_mailboxes(config: &Config) -> Vec<String> {
    config.mailboxes.iter().map(|m| m.fetch_key()).collect()
}

/// Judge health now. Cheap enough to answer every probe: one row per mailbox and one
/// indexed look at the outbox's pending rows.
pub async fn assess(store: &Store, config: &Config) -> Report {
    match read_facts(store, config).await {
        Ok((mailboxes, oldest)) => {
            let now = now_ms();
            let mut report = judge(config, now, mailboxes, oldest);
            add_oauth2_failure(store, now, &mut report).await;
            report
        }
        Err(e) => Report {
            healthy: false,
            reasons: vec![Reason::DatabaseUnavailable {
                error: e.to_string(),
            }],
            mailboxes: Vec::new(),
            oldest_pending_outbox_secs: None,
        },
    }
}

/// A failing OAuth2 refresh turns health red once it alarms: at once when the provider
/// refused it, after 10 minutes when the provider could not be reached.
async fn add_oauth2_failure(store: &Store, now: i64, report: &mut Report) {
    let reason = match store.oauth2_failure().await {
        Ok(Some(f)) if crate::oauth2::watch::alarming(&f, now) => Reason::OAuth2Failing {
            account: f.account,
            error: f.error,
            since_unix: f.since / 1000,
            refused: f.refused,
        },
        Ok(_) => return,
        Err(e) => Reason::DatabaseUnavailable {
            error: e.to_string(),
        },
    };
    report.reasons.push(reason);
    report.healthy = false;
}

type Facts = (
    Vec<(String, Option<i64>)>,
    Option<crate::store::OldestPending>,
);

async fn read_facts(store: &Store, config: &Config) -> crate::store::Result<Facts> {
    let mut mailboxes = Vec::new();
    for mailbox in watched_mailboxes(config) {
        let last = store.last_sync(&mailbox).await?;
        mailboxes.push((mailbox, last));
    }
    Ok((mailboxes, store.oldest_pending_outbox().await?))
}

/// The pure part of [`assess`]: facts and the time in, the verdict out.
fn judge(
    config: &Config,
    now: i64,
    mailboxes: Vec<(String, Option<i64>)>,
    oldest: Option<crate::store::OldestPending>,
) -> Report {
    let age = |at: i64| ((now - at).max(0) / 1000) as u64;
    let limits = &config.health;
    let mut reasons = Vec::new();
    let mailboxes: Vec<MailboxSync> = mailboxes
        .into_iter()
        .map(|(mailbox, last)| MailboxSync {
            age_secs: last.map(age),
            last_sync_unix: last.map(|ms| ms / 1000),
            mailbox,
        })
        .collect();
    for m in &mailboxes {
        if m.age_secs.is_none_or(|a| exceeds(a, limits.max_sync_age)) {
            reasons.push(Reason::SyncStale {
                mailbox: m.mailbox.clone(),
                age_secs: m.age_secs,
                limit_secs: limits.max_sync_age.as_secs(),
            });
        }
    }
    let oldest_secs = oldest.map(|o| age(o.created_at));
    if let Some(o) = oldest.filter(|o| exceeds(age(o.created_at), limits.max_outbox_age)) {
        reasons.push(Reason::OutboxStale {
            outbox_id: o.outbox_id,
            age_secs: age(o.created_at),
            limit_secs: limits.max_outbox_age.as_secs(),
        });
    }
    Report {
        healthy: reasons.is_empty(),
        reasons,
        mailboxes,
        oldest_pending_outbox_secs: oldest_secs,
    }
}

fn exceeds(age_secs: u64, limit: Duration) -> bool {
    age_secs > limit.as_secs()
}

#[cfg(test)]
mod tests;
