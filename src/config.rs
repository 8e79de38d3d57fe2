//! Configuration: a TOML file, overridden by `BUZON_<SECTION>__<KEY>` variables, checked into
//! a [`Config`] whose every field is already valid. Problems are collected, not stopped at, so
//! `buzon check` can print one line per problem.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::domain::{EmailAddress, Language};

mod agents;
mod env;
mod mailboxes;
mod oauth2;
mod ops;
mod raw;
mod sla;
mod validate;
mod weak_secret;

pub use agents::AgentsConfig;
pub use mailboxes::{MailboxConfig, MailboxName};
pub use oauth2::{AuthMethod, LoginFlow, OAuth2Config, Provider};
pub use ops::{HealthConfig, HttpConfig, LogConfig, LogFormat};
use raw::RawConfig;
use validate::validate;

/// A secret that never shows up in `Debug` output or logs.
#[derive(Clone, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    None,
    Starttls,
    Tls,
}

/// What buzon does to a mail in the IMAP mailbox once its effect is committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnProcessed {
    /// Set `\Seen` and the keyword `$Buzon` (the mail stays where it is).
    Flag,
    /// Move it to this mailbox (created if missing).
    Move(String),
}

#[derive(Debug, Clone)]
pub struct ImapConfig {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: String,
    pub auth: AuthMethod,
    /// Empty with `auth = "oauth2"`.
    pub password: Secret,
    pub mailbox: String,
    pub idle: bool,
    pub poll_interval: Duration,
    pub ca_file: Option<PathBuf>,
    pub on_processed: OnProcessed,
    /// A command's answer (any read or write) that makes no progress this long counts as a
    /// lost connection: reconnect with backoff. IDLE's own wait is not bounded by it.
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: Option<String>,
    pub auth: AuthMethod,
    pub password: Option<Secret>,
    pub ca_file: Option<PathBuf>,
    /// Messages in flight at once, each on its own connection.
    pub connections: usize,
    /// First wait after a temporary delivery failure; doubles up to `retry_max`.
    pub retry_initial: Duration,
    pub retry_max: Duration,
    /// A read or write that makes no progress this long fails the delivery (retried later).
    pub timeout: Duration,
    /// Recipients per SMTP transaction; more go in further transactions.
    pub max_recipients: usize,
    /// A message still undelivered this long after it was queued is given up on (parked).
    pub max_age: Duration,
}

#[derive(Debug, Clone)]
pub struct SupportConfig {
    pub address: EmailAddress,
    pub name: String,
    pub language: Language,
    pub products: Vec<String>,
    pub secret: Secret,
    /// Retired secrets: Message-IDs signed with them still thread replies.
    pub previous_secrets: Vec<Secret>,
    /// Admin's templates, `<dir>/<language>/<kind>.hbs`, replacing the shipped ones.
    pub templates_dir: Option<PathBuf>,
    /// The clock times shown to people (case lists, histories, `buzon case`) are read on:
    /// the desk's own zone (`support.timezone`, an IANA name, default UTC).
    pub timezone: jiff::tz::TimeZone,
    /// Who is told when buzon cannot log in any more (a refused OAuth2 refresh).
    pub admin: Option<EmailAddress>,
}

impl SupportConfig {
    /// The current secret first, then the retired ones.
    pub fn secrets(&self) -> Vec<&str> {
        std::iter::once(&self.secret)
            .chain(&self.previous_secrets)
            .map(Secret::expose)
            .collect()
    }
}

/// Size and rate limits for a public address.
#[derive(Debug, Clone)]
pub struct LimitsConfig {
    /// Automatic mails (acknowledgements, refusals, status mail) one address may get per hour.
    pub auto_replies_per_hour: i64,
    /// Larger mail is kept raw, but only its text is taken into the case.
    pub max_message_bytes: usize,
    pub max_attachment_bytes: usize,
    pub max_attachments: usize,
    /// A `historial` answer larger than this is split over several mails.
    pub history_mail_bytes: usize,
    /// `access_denied` refusals sent per hour over all addresses: forged senders cannot
    /// turn the support address into a backscatter source.
    pub refusals_per_hour: i64,
    /// Cases one address may open in an hour; its further mail is quarantined (a flood is
    /// stopped at the door, so acknowledgements never need holding).
    pub new_cases_per_hour: i64,
    /// Answers to requests (`mis casos`, `buscar`, `historial`, `perfil`, help) per hour over
    /// all addresses; past it, requests are quarantined (kept, retryable) and agents told.
    pub requests_per_hour: i64,
    /// People on one case (requester included): every mail about it goes to all of them.
    pub max_participants_per_case: usize,
    /// To/Cc addresses one mail may add to a case.
    pub max_participants_per_mail: usize,
    /// Agents' answers relayed to a case's customers per hour; more are held.
    pub relays_per_case_per_hour: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            auto_replies_per_hour: 20,
            max_message_bytes: 50 * 1024 * 1024,
            max_attachment_bytes: 25 * 1024 * 1024,
            max_attachments: 50,
            history_mail_bytes: 10 * 1024 * 1024,
            refusals_per_hour: 30,
            new_cases_per_hour: 20,
            requests_per_hour: 200,
            max_participants_per_case: 50,
            max_participants_per_mail: 20,
            relays_per_case_per_hour: 20,
        }
    }
}

/// Whose mail must be authenticated (RFC 8601 results written by our own server).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequireAuth {
    None,
    Customers,
    Agents,
    All,
}

#[derive(Debug, Clone)]
pub struct SecurityConfig {
    /// The authserv-id of our own receiving server; other Authentication-Results are ignored.
    pub authserv_id: Option<String>,
    pub require: RequireAuth,
}

#[derive(Debug, Clone)]
pub struct StorageConfig {
    pub dir: PathBuf,
    /// fsync raw mail and attachments before the database row that names them commits.
    pub fsync: bool,
}

#[derive(Debug, Clone)]
pub struct Config {
    /// The first mailbox's IMAP account (the only one with a single `[imap]` section).
    pub imap: ImapConfig,
    /// Every mailbox watched, never empty; the first is the desk's own address (admin
    /// notices, mail that belongs to no mailbox any more).
    pub mailboxes: Vec<std::sync::Arc<MailboxConfig>>,
    pub smtp: SmtpConfig,
    pub support: SupportConfig,
    pub agents: AgentsConfig,
    pub database_url: String,
    pub storage: StorageConfig,
    pub limits: LimitsConfig,
    pub security: SecurityConfig,
    /// Set when `imap.auth` or `smtp.auth` is `"oauth2"`.
    pub oauth2: Option<OAuth2Config>,
    pub log: LogConfig,
    pub http: HttpConfig,
    pub health: HealthConfig,
    /// Response targets, working hours, reminders and auto-close (`[sla]`).
    pub sla: crate::sla::SlaConfig,
}

/// Every problem found, one line each.
#[derive(Debug)]
pub struct ConfigErrors(pub Vec<String>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join("\n"))
    }
}

impl std::error::Error for ConfigErrors {}

/// Which file to read: the flag, else `$BUZON_CONFIG`, else `./buzon.toml`.
pub fn config_path(flag: Option<&Path>) -> PathBuf {
    flag.map(Path::to_path_buf)
        .or_else(|| std::env::var_os("BUZON_CONFIG").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("buzon.toml"))
}

/// Read, override from the environment and validate.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigErrors(vec![format!("{}: cannot read: {e}", path.display())]))?;
    let env: Vec<(String, String)> = std::env::vars().collect();
    from_toml(&text, &env).map_err(|ConfigErrors(lines)| {
        ConfigErrors(
            lines
                .into_iter()
                .map(|l| format!("{}: {l}", path.display()))
                .collect(),
        )
    })
}

/// The pure part of [`load`]: text and environment in, a valid config or every problem out.
pub fn from_toml(text: &str, env: &[(String, String)]) -> Result<Config, ConfigErrors> {
    let mut table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| ConfigErrors(vec![one_line(&e.to_string())]))?;
    env::apply_env_overrides(&mut table, env)?;
    let raw: RawConfig = toml::Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| ConfigErrors(vec![one_line(&e.to_string())]))?;
    validate(raw)
}

fn one_line(message: &str) -> String {
    message
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('|'))
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(": ")
}

fn secret(
    what: &str,
    inline: Option<String>,
    file: Option<PathBuf>,
    problems: &mut Vec<String>,
) -> Option<Secret> {
    match (inline, file) {
        (Some(_), Some(_)) => {
            problems.push(format!(
                "{what}: give either the value or the _file, not both"
            ));
            None
        }
        (Some(v), None) => Some(Secret(v)),
        (None, Some(path)) => match std::fs::read_to_string(&path) {
            Ok(v) => Some(Secret(v.trim_end_matches(['\r', '\n']).to_string())),
            Err(e) => {
                problems.push(format!("{what}_file: cannot read {}: {e}", path.display()));
                None
            }
        },
        (None, None) => None,
    }
}

fn address(what: &str, value: &str, problems: &mut Vec<String>) -> Option<EmailAddress> {
    EmailAddress::parse(value)
        .map_err(|e| problems.push(format!("{what}: {e}")))
        .ok()
}

fn check_ca_file(what: &str, path: &Option<PathBuf>, problems: &mut Vec<String>) {
    if let Some(path) = path {
        if !path.is_file() {
            problems.push(format!("{what}: {} does not exist", path.display()));
        }
    }
}

fn default_port(security: Security, plain: u16, starttls: u16, tls: u16) -> u16 {
    match security {
        Security::None => plain,
        Security::Starttls => starttls,
        Security::Tls => tls,
    }
}

#[cfg(test)]
pub(crate) mod tests;
