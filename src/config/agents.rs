//! `[agents]`: who the agents are, where their notifications go, what travels with them.

use super::raw::RawAgents;
use super::{address, EmailAddress};

#[derive(Debug, Clone)]
pub struct AgentsConfig {
    pub addresses: Vec<EmailAddress>,
    pub notify: Vec<EmailAddress>,
    /// The customer's files attached to one notification, in bytes, so agents open them from
    /// their mail client; files past it are listed with the command that shows the case.
    pub attach_max_bytes: u64,
    /// Once a case has an owner, its agents' notifications go to the owner alone instead
    /// of to the owner first and then everyone in `notify` (a busy desk's choice).
    pub notify_owner_only: bool,
    /// When the morning digest goes out, on the support time zone's clock; `None`: never.
    pub digest_at: Option<crate::sla::DayMinute>,
}

impl AgentsConfig {
    /// 10 MiB: what most mail servers accept in one mail, with room for the text.
    pub const DEFAULT_ATTACH_MAX_BYTES: u64 = 10 * 1024 * 1024;
    /// Past 1 GiB no mail server takes the notification: a typo, not a wish.
    pub const MAX_ATTACH_MAX_BYTES: u64 = 1024 * 1024 * 1024;
}

pub(super) fn validate(raw: RawAgents, p: &mut Vec<String>) -> AgentsConfig {
    let addresses = raw
        .addresses
        .iter()
        .filter_map(|a| address("agents.addresses", a, p))
        .collect();
    let notify = raw
        .notify
        .iter()
        .filter_map(|a| address("agents.notify", a, p))
        .collect();
    let attach_max_bytes = attach_max_bytes(raw.attach_max_bytes, p);
    AgentsConfig {
        addresses,
        notify,
        attach_max_bytes,
        notify_owner_only: raw.notify_owner_only.unwrap_or(false),
        digest_at: super::sla::digest_at(raw.digest_at, p),
    }
}

/// `agents.attach_max_bytes`: 0 (list every file) up to 1 GiB.
fn attach_max_bytes(raw: Option<i64>, p: &mut Vec<String>) -> u64 {
    let Some(value) = raw else {
        return AgentsConfig::DEFAULT_ATTACH_MAX_BYTES;
    };
    match u64::try_from(value) {
        Ok(v) if v <= AgentsConfig::MAX_ATTACH_MAX_BYTES => v,
        _ => {
            p.push(format!(
                "agents.attach_max_bytes: {value} is not between 0 (list the files only) and 1073741824 (1 GiB)"
            ));
            AgentsConfig::DEFAULT_ATTACH_MAX_BYTES
        }
    }
}
