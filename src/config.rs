//! Configuration: a TOML file, overridden by `BUZON_<SECTION>__<KEY>` variables, checked into
//! a [`Config`] whose every field is already valid. Problems are collected, not stopped at, so
//! `buzon check` can print one line per problem.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::domain::{EmailAddress, Language};

mod weak_secret;

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
pub struct AgentsConfig {
    pub addresses: Vec<EmailAddress>,
    pub notify: Vec<EmailAddress>,
}

#[derive(Debug, Clone)]
pub struct StorageConfig {
    pub dir: PathBuf,
    /// fsync raw mail and attachments before the database row that names them commits.
    pub fsync: bool,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub imap: ImapConfig,
    pub smtp: SmtpConfig,
    pub support: SupportConfig,
    pub agents: AgentsConfig,
    pub database_url: String,
    pub storage: StorageConfig,
    pub limits: LimitsConfig,
    pub security: SecurityConfig,
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    imap: RawImap,
    smtp: RawSmtp,
    support: RawSupport,
    #[serde(default)]
    agents: RawAgents,
    #[serde(default)]
    database: RawDatabase,
    #[serde(default)]
    storage: RawStorage,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    security: RawSecurity,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    auto_replies_per_hour: Option<i64>,
    max_message_bytes: Option<usize>,
    max_attachment_bytes: Option<usize>,
    max_attachments: Option<usize>,
    history_mail_bytes: Option<usize>,
    refusals_per_hour: Option<i64>,
    new_cases_per_hour: Option<i64>,
    requests_per_hour: Option<i64>,
    max_participants_per_case: Option<usize>,
    max_participants_per_mail: Option<usize>,
    relays_per_case_per_hour: Option<usize>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawSecurity {
    authserv_id: Option<String>,
    require_authentication: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawImap {
    host: String,
    port: Option<u16>,
    security: Option<Security>,
    username: String,
    password: Option<String>,
    password_file: Option<PathBuf>,
    mailbox: Option<String>,
    idle: Option<bool>,
    poll_interval_secs: Option<u64>,
    ca_file: Option<PathBuf>,
    on_processed: Option<String>,
    processed_mailbox: Option<String>,
    timeout_secs: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSmtp {
    host: String,
    port: Option<u16>,
    security: Option<Security>,
    username: Option<String>,
    password: Option<String>,
    password_file: Option<PathBuf>,
    ca_file: Option<PathBuf>,
    connections: Option<usize>,
    retry_initial_secs: Option<u64>,
    retry_max_secs: Option<u64>,
    timeout_secs: Option<u64>,
    max_recipients: Option<usize>,
    max_age_hours: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSupport {
    address: String,
    name: Option<String>,
    language: Option<String>,
    #[serde(default)]
    products: Vec<String>,
    secret: Option<String>,
    secret_file: Option<PathBuf>,
    #[serde(default)]
    previous_secrets: Vec<String>,
    templates_dir: Option<PathBuf>,
    timezone: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawAgents {
    #[serde(default)]
    addresses: Vec<String>,
    #[serde(default)]
    notify: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDatabase {
    url: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawStorage {
    dir: Option<PathBuf>,
    fsync: Option<bool>,
}

/// Keys whose override values are TOML literals (numbers, booleans, lists); every other
/// override is taken as a string, so a password of digits stays a string.
const LITERAL_KEYS: &[&str] = &[
    "port",
    "idle",
    "poll_interval_secs",
    "connections",
    "retry_initial_secs",
    "retry_max_secs",
    "products",
    "addresses",
    "notify",
    "fsync",
    "previous_secrets",
    "auto_replies_per_hour",
    "max_message_bytes",
    "max_attachment_bytes",
    "max_attachments",
    "history_mail_bytes",
    "refusals_per_hour",
    "new_cases_per_hour",
    "requests_per_hour",
    "timeout_secs",
    "max_recipients",
    "max_age_hours",
    "max_participants_per_case",
    "max_participants_per_mail",
    "relays_per_case_per_hour",
];

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
    apply_env_overrides(&mut table, env)?;
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

fn apply_env_overrides(
    table: &mut toml::Table,
    env: &[(String, String)],
) -> Result<(), ConfigErrors> {
    let mut problems = Vec::new();
    for (name, value) in env {
        let Some(rest) = name.strip_prefix("BUZON_") else {
            continue;
        };
        let Some((section, key)) = rest.split_once("__") else {
            continue;
        };
        let (section, key) = (section.to_lowercase(), key.to_lowercase());
        let parsed = if LITERAL_KEYS.contains(&key.as_str()) {
            match format!("v = {value}").parse::<toml::Table>() {
                Ok(mut t) => t.remove("v").unwrap_or(toml::Value::String(value.clone())),
                Err(_) => {
                    problems.push(format!("{name}: '{value}' is not a valid value for {key}"));
                    continue;
                }
            }
        } else {
            toml::Value::String(value.clone())
        };
        let entry = table
            .entry(section.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        match entry.as_table_mut() {
            Some(section_table) => {
                section_table.insert(key, parsed);
            }
            None => problems.push(format!("{name}: [{section}] is not a section")),
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ConfigErrors(problems))
    }
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

fn validate(raw: RawConfig) -> Result<Config, ConfigErrors> {
    let mut p = Vec::new();
    let imap = validate_imap(raw.imap, &mut p);
    let smtp = validate_smtp(raw.smtp, &mut p);
    let support = validate_support(raw.support, &mut p);
    let agents = validate_agents(raw.agents, &mut p);
    let database_url = raw
        .database
        .url
        .unwrap_or_else(|| "sqlite://buzon.db".to_string());
    if !(database_url.starts_with("sqlite:")
        || database_url.starts_with("postgres://")
        || database_url.starts_with("postgresql://"))
    {
        p.push(format!(
            "database.url: '{database_url}' is neither sqlite:// nor postgres://"
        ));
    }
    let storage = StorageConfig {
        dir: raw.storage.dir.unwrap_or_else(|| PathBuf::from("data")),
        fsync: raw.storage.fsync.unwrap_or(true),
    };
    let limits = validate_limits(raw.limits, &mut p);
    let security = validate_security(raw.security, &mut p);
    match (imap, smtp, support, p.is_empty()) {
        (Some(imap), Some(smtp), Some(support), true) => Ok(Config {
            imap,
            smtp,
            support,
            agents,
            database_url,
            storage,
            limits,
            security,
        }),
        _ => Err(ConfigErrors(p)),
    }
}

fn validate_imap(raw: RawImap, p: &mut Vec<String>) -> Option<ImapConfig> {
    let security = raw.security.unwrap_or(Security::Starttls);
    let password = secret("imap.password", raw.password, raw.password_file, p);
    if password.is_none() {
        p.push("imap.password: missing (set password or password_file)".into());
    }
    if raw.host.trim().is_empty() {
        p.push("imap.host: empty".into());
    }
    check_ca_file("imap.ca_file", &raw.ca_file, p);
    let poll = raw.poll_interval_secs.unwrap_or(30);
    if poll == 0 {
        p.push("imap.poll_interval_secs: must be at least 1".into());
    }
    let on_processed = match raw.on_processed.as_deref().unwrap_or("flag") {
        "flag" => OnProcessed::Flag,
        "move" => OnProcessed::Move(
            raw.processed_mailbox
                .unwrap_or_else(|| "Procesados".to_string()),
        ),
        other => {
            p.push(format!("imap.on_processed: '{other}' is not flag or move"));
            OnProcessed::Flag
        }
    };
    Some(ImapConfig {
        port: raw.port.unwrap_or(default_port(security, 143, 143, 993)),
        host: raw.host,
        security,
        username: raw.username,
        password: password?,
        mailbox: raw.mailbox.unwrap_or_else(|| "INBOX".to_string()),
        idle: raw.idle.unwrap_or(true),
        poll_interval: Duration::from_secs(poll.max(1)),
        ca_file: raw.ca_file,
        on_processed,
        timeout: network_timeout("imap", raw.timeout_secs, p),
    })
}

fn validate_smtp(raw: RawSmtp, p: &mut Vec<String>) -> Option<SmtpConfig> {
    let security = raw.security.unwrap_or(Security::Starttls);
    let password = secret("smtp.password", raw.password, raw.password_file, p);
    if raw.username.is_some() != password.is_some() {
        p.push("smtp: username and password go together (give both or neither)".into());
    }
    if raw.username.is_some() && security == Security::None {
        p.push("smtp: refusing to send a password without TLS (security = \"none\")".into());
    }
    if raw.host.trim().is_empty() {
        p.push("smtp.host: empty".into());
    }
    check_ca_file("smtp.ca_file", &raw.ca_file, p);
    let connections = raw.connections.unwrap_or(4);
    if !(1..=64).contains(&connections) {
        p.push("smtp.connections: must be between 1 and 64".into());
    }
    Some(SmtpConfig {
        port: raw.port.unwrap_or(default_port(security, 25, 587, 465)),
        host: raw.host,
        security,
        username: raw.username,
        password,
        ca_file: raw.ca_file,
        connections: connections.clamp(1, 64),
        retry_initial: Duration::from_secs(raw.retry_initial_secs.unwrap_or(5).max(1)),
        retry_max: Duration::from_secs(raw.retry_max_secs.unwrap_or(3600).max(1)),
        timeout: network_timeout("smtp", raw.timeout_secs, p),
        max_recipients: at_least_one("smtp.max_recipients", raw.max_recipients, 100, p),
        // Postfix's maximal_queue_lifetime: 5 days.
        max_age: Duration::from_secs(
            at_least_one(
                "smtp.max_age_hours",
                raw.max_age_hours.map(|h| h as usize),
                120,
                p,
            ) as u64
                * 3600,
        ),
    })
}

/// A count that must be at least 1 (reported, then taken as 1).
fn at_least_one(key: &str, value: Option<usize>, default: usize, p: &mut Vec<String>) -> usize {
    let value = value.unwrap_or(default);
    if value == 0 {
        p.push(format!("{key}: must be at least 1"));
    }
    value.max(1)
}

/// `<section>.timeout_secs`: default 60 s, like a mail client's.
fn network_timeout(section: &str, secs: Option<u64>, p: &mut Vec<String>) -> Duration {
    let secs = secs.unwrap_or(60);
    if secs == 0 {
        p.push(format!("{section}.timeout_secs: must be at least 1"));
    }
    Duration::from_secs(secs.max(1))
}

fn validate_support(raw: RawSupport, p: &mut Vec<String>) -> Option<SupportConfig> {
    let address = address("support.address", &raw.address, p);
    let language = match raw.language.as_deref().unwrap_or("es").parse::<Language>() {
        Ok(l) => l,
        Err(e) => {
            p.push(format!("support.language: {e}"));
            Language::Es
        }
    };
    let secret = secret("support.secret", raw.secret, raw.secret_file, p);
    match &secret {
        None => p.push("support.secret: missing (set secret or secret_file)".into()),
        Some(s) => p.extend(weak_secret::problem("support.secret", s.expose())),
    }
    for (i, old) in raw.previous_secrets.iter().enumerate() {
        let what = format!("support.previous_secrets[{i}]");
        p.extend(weak_secret::problem(&what, old));
    }
    if raw.products.iter().any(|x| x.trim().is_empty()) {
        p.push("support.products: a product name is empty".into());
    }
    let timezone = timezone(raw.timezone.as_deref(), p);
    Some(SupportConfig {
        address: address?,
        name: raw.name.unwrap_or_else(|| "Soporte".to_string()),
        language,
        products: raw.products,
        secret: secret?,
        previous_secrets: raw.previous_secrets.into_iter().map(Secret).collect(),
        templates_dir: raw.templates_dir,
        timezone,
    })
}

/// `support.timezone`: an IANA zone from the bundled database (the same on every machine,
/// whatever /usr/share/zoneinfo holds); UTC when not given.
fn timezone(name: Option<&str>, p: &mut Vec<String>) -> jiff::tz::TimeZone {
    let Some(name) = name else {
        return jiff::tz::TimeZone::UTC;
    };
    jiff::tz::TimeZone::get(name).unwrap_or_else(|_| {
        p.push(format!(
            "support.timezone: '{}' is not an IANA time zone name (like Europe/Madrid or UTC)",
            crate::text::single_line(name)
        ));
        jiff::tz::TimeZone::UTC
    })
}

fn validate_limits(raw: RawLimits, p: &mut Vec<String>) -> LimitsConfig {
    let d = LimitsConfig::default();
    let limits = LimitsConfig {
        auto_replies_per_hour: raw.auto_replies_per_hour.unwrap_or(d.auto_replies_per_hour),
        max_message_bytes: raw.max_message_bytes.unwrap_or(d.max_message_bytes),
        max_attachment_bytes: raw.max_attachment_bytes.unwrap_or(d.max_attachment_bytes),
        max_attachments: raw.max_attachments.unwrap_or(d.max_attachments),
        history_mail_bytes: raw.history_mail_bytes.unwrap_or(d.history_mail_bytes),
        refusals_per_hour: raw.refusals_per_hour.unwrap_or(d.refusals_per_hour),
        new_cases_per_hour: raw.new_cases_per_hour.unwrap_or(d.new_cases_per_hour),
        requests_per_hour: raw.requests_per_hour.unwrap_or(d.requests_per_hour),
        max_participants_per_case: at_least_one(
            "limits.max_participants_per_case",
            raw.max_participants_per_case,
            d.max_participants_per_case,
            p,
        ),
        max_participants_per_mail: raw
            .max_participants_per_mail
            .unwrap_or(d.max_participants_per_mail),
        relays_per_case_per_hour: raw
            .relays_per_case_per_hour
            .unwrap_or(d.relays_per_case_per_hour),
    };
    if limits.refusals_per_hour < 0 {
        p.push("limits.refusals_per_hour: must be 0 (never refuse by mail) or more".into());
    }
    if limits.new_cases_per_hour < 1 {
        p.push("limits.new_cases_per_hour: must be at least 1".into());
    }
    if limits.requests_per_hour < 1 {
        p.push("limits.requests_per_hour: must be at least 1".into());
    }
    if limits.auto_replies_per_hour < 1 {
        p.push("limits.auto_replies_per_hour: must be at least 1".into());
    }
    if limits.max_message_bytes < 1024 {
        p.push("limits.max_message_bytes: must be at least 1024".into());
    }
    limits
}

fn validate_security(raw: RawSecurity, p: &mut Vec<String>) -> SecurityConfig {
    let require = match raw.require_authentication.as_deref().unwrap_or("none") {
        "none" => RequireAuth::None,
        "customers" => RequireAuth::Customers,
        "agents" => RequireAuth::Agents,
        "all" => RequireAuth::All,
        other => {
            p.push(format!(
                "security.require_authentication: '{other}' is not none, customers, agents or all"
            ));
            RequireAuth::None
        }
    };
    if require != RequireAuth::None
        && raw
            .authserv_id
            .as_deref()
            .is_none_or(|s| s.trim().is_empty())
    {
        p.push("security.authserv_id: required when require_authentication is not none (whose Authentication-Results to trust)".into());
    }
    SecurityConfig {
        authserv_id: raw.authserv_id.map(|s| s.trim().to_string()),
        require,
    }
}

fn validate_agents(raw: RawAgents, p: &mut Vec<String>) -> AgentsConfig {
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
    AgentsConfig { addresses, notify }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[imap]
host = "127.0.0.1"
username = "soporte@example.test"
password = "secret"
[smtp]
host = "127.0.0.1"
[support]
address = "soporte@example.test"
secret = "0123456789abcdef0123"
"#;

    #[test]
    fn shipped_example_parses() {
        let text = include_str!("../config/buzon.example.toml");
        let err = from_toml(text, &[]).unwrap_err();
        assert_eq!(
            err.0.len(),
            1,
            "only its placeholder secret is refused: {err}"
        );
        assert!(err.0[0].contains("placeholder"), "{err}");
        let own = [(
            "BUZON_SUPPORT__SECRET".into(),
            "5e884898da28047151d0e56f8dc62927".into(),
        )];
        let config = from_toml(text, &own).expect("example config must be valid");
        assert_eq!(config.support.address.as_str(), "soporte@example.test");
        assert_eq!(config.support.products.len(), 3);
    }

    #[test]
    fn defaults_fill_the_gaps() {
        let c = from_toml(MINIMAL, &[]).unwrap();
        assert_eq!(c.imap.port, 143);
        assert_eq!(c.smtp.port, 587);
        assert_eq!(c.imap.mailbox, "INBOX");
        assert_eq!(c.database_url, "sqlite://buzon.db");
        assert_eq!(c.imap.on_processed, OnProcessed::Flag);
        assert_eq!(c.support.language, Language::Es);
    }

    #[test]
    fn environment_overrides_keys() {
        let env = vec![
            ("BUZON_IMAP__PORT".to_string(), "10143".to_string()),
            ("BUZON_IMAP__PASSWORD".to_string(), "12345".to_string()),
            (
                "BUZON_SUPPORT__PRODUCTS".to_string(),
                r#"["A", "B"]"#.to_string(),
            ),
            (
                "BUZON_DATABASE__URL".to_string(),
                "postgres://x@h/db".to_string(),
            ),
        ];
        let c = from_toml(MINIMAL, &env).unwrap();
        assert_eq!(c.imap.port, 10143);
        assert_eq!(c.imap.password.expose(), "12345");
        assert_eq!(c.support.products, vec!["A", "B"]);
        assert_eq!(c.database_url, "postgres://x@h/db");
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let text = format!("{MINIMAL}\nsurprise = 1\n");
        let err = from_toml(&text, &[]).unwrap_err();
        assert!(err.to_string().contains("surprise"), "{err}");
        assert_eq!(err.0.len(), 1);
    }

    #[test]
    fn every_problem_is_one_line() {
        let text = r#"
[imap]
host = ""
username = "x"
security = "starttls"
on_processed = "delete"
[smtp]
host = "h"
username = "u"
[support]
address = "not-an-address"
secret = "short"
language = "fr"
timezone = "Europe/Madird"
"#;
        let err = from_toml(text, &[]).unwrap_err();
        let lines = &err.0;
        for expected in [
            "imap.password: missing",
            "imap.host: empty",
            "imap.on_processed",
            "smtp: username and password go together",
            "support.address",
            "support.secret: too short",
            "support.language",
            "support.timezone: 'Europe/Madird' is not an IANA time zone name",
        ] {
            assert!(
                lines.iter().any(|l| l.contains(expected)),
                "missing '{expected}' in {lines:?}"
            );
        }
        assert!(lines.iter().all(|l| !l.contains('\n')));
    }

    #[test]
    fn secrets_come_from_files_and_hide_in_debug() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("imap");
        std::fs::write(&file, "from-file\n").unwrap();
        let text = MINIMAL.replace(
            "password = \"secret\"",
            &format!("password_file = \"{}\"", file.display()),
        );
        let c = from_toml(&text, &[]).unwrap();
        assert_eq!(c.imap.password.expose(), "from-file");
        assert!(!format!("{:?}", c.imap).contains("from-file"));
    }
}
