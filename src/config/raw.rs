//! The configuration file as written: every key optional where it has a default, unknown
//! keys refused. `validate.rs` turns it into a [`super::Config`].

use std::path::PathBuf;

use serde::Deserialize;

use super::oauth2::RawOAuth2;
use super::{AuthMethod, Security};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    /// One mailbox (named `default`), as before `[[mailboxes]]`.
    pub(super) imap: Option<RawImap>,
    #[serde(default)]
    pub(super) mailboxes: Vec<super::mailboxes::RawMailbox>,
    pub(super) smtp: RawSmtp,
    pub(super) support: RawSupport,
    #[serde(default)]
    pub(super) agents: RawAgents,
    #[serde(default)]
    pub(super) database: RawDatabase,
    #[serde(default)]
    pub(super) storage: RawStorage,
    #[serde(default)]
    pub(super) limits: RawLimits,
    #[serde(default)]
    pub(super) security: RawSecurity,
    pub(super) oauth2: Option<RawOAuth2>,
    #[serde(default)]
    pub(super) log: super::ops::RawLog,
    #[serde(default)]
    pub(super) http: super::ops::RawHttp,
    #[serde(default)]
    pub(super) health: super::ops::RawHealth,
    #[serde(default)]
    pub(super) sla: super::sla::RawSla,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLimits {
    pub(super) auto_replies_per_hour: Option<i64>,
    pub(super) max_message_bytes: Option<usize>,
    pub(super) max_attachment_bytes: Option<usize>,
    pub(super) max_attachments: Option<usize>,
    pub(super) history_mail_bytes: Option<usize>,
    pub(super) refusals_per_hour: Option<i64>,
    pub(super) new_cases_per_hour: Option<i64>,
    pub(super) requests_per_hour: Option<i64>,
    pub(super) max_participants_per_case: Option<usize>,
    pub(super) max_participants_per_mail: Option<usize>,
    pub(super) relays_per_case_per_hour: Option<usize>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSecurity {
    pub(super) authserv_id: Option<String>,
    pub(super) require_authentication: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawImap {
    pub(super) host: String,
    pub(super) port: Option<u16>,
    pub(super) security: Option<Security>,
    pub(super) username: String,
    pub(super) auth: Option<AuthMethod>,
    pub(super) password: Option<String>,
    pub(super) password_file: Option<PathBuf>,
    pub(super) mailbox: Option<String>,
    pub(super) idle: Option<bool>,
    pub(super) poll_interval_secs: Option<u64>,
    pub(super) ca_file: Option<PathBuf>,
    pub(super) on_processed: Option<String>,
    pub(super) processed_mailbox: Option<String>,
    pub(super) timeout_secs: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSmtp {
    pub(super) host: String,
    pub(super) port: Option<u16>,
    pub(super) security: Option<Security>,
    pub(super) username: Option<String>,
    pub(super) auth: Option<AuthMethod>,
    pub(super) password: Option<String>,
    pub(super) password_file: Option<PathBuf>,
    pub(super) ca_file: Option<PathBuf>,
    pub(super) connections: Option<usize>,
    pub(super) retry_initial_secs: Option<u64>,
    pub(super) retry_max_secs: Option<u64>,
    pub(super) timeout_secs: Option<u64>,
    pub(super) max_recipients: Option<usize>,
    pub(super) max_age_hours: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSupport {
    /// Required with `[imap]`; with `[[mailboxes]]` each mailbox has its own.
    pub(super) address: Option<String>,
    pub(super) name: Option<String>,
    pub(super) language: Option<String>,
    #[serde(default)]
    pub(super) products: Vec<String>,
    pub(super) secret: Option<String>,
    pub(super) secret_file: Option<PathBuf>,
    #[serde(default)]
    pub(super) previous_secrets: Vec<String>,
    pub(super) templates_dir: Option<PathBuf>,
    pub(super) timezone: Option<String>,
    pub(super) admin: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAgents {
    #[serde(default)]
    pub(super) addresses: Vec<String>,
    #[serde(default)]
    pub(super) notify: Vec<String>,
    pub(super) attach_max_bytes: Option<i64>,
    pub(super) notify_owner_only: Option<bool>,
    pub(super) digest_at: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDatabase {
    pub(super) url: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStorage {
    pub(super) dir: Option<PathBuf>,
    pub(super) fsync: Option<bool>,
}
