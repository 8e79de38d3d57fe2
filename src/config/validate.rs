//! The checks that turn the file as written into a [`Config`]: every problem becomes one
//! line, collected rather than stopped at.

use super::raw::*;
use super::*;

pub(super) fn validate(raw: RawConfig) -> Result<Config, ConfigErrors> {
    let mut p = Vec::new();
    let mut smtp = validate_smtp(raw.smtp, &mut p);
    let agents = super::agents::validate(raw.agents, &mut p);
    let desk = mailboxes::Desk {
        support: &raw.support,
        agents: &agents.addresses,
    };
    let mailboxes = mailboxes::validate_mailboxes(raw.imap, raw.mailboxes, &desk, &mut p);
    let support = validate_support(raw.support, mailboxes.first().map(|m| &**m), &mut p);
    // The quietest mailbox is synced at least this often.
    let poll_interval = mailboxes
        .iter()
        .map(|m| m.imap.poll_interval)
        .max()
        .unwrap_or(Duration::from_secs(30));
    let database_url = validate_database_url(raw.database.url, &mut p);
    let storage = StorageConfig {
        dir: raw.storage.dir.unwrap_or_else(|| PathBuf::from("data")),
        fsync: raw.storage.fsync.unwrap_or(true),
    };
    let limits = validate_limits(raw.limits, &mut p);
    let security = validate_security(raw.security, &mut p);
    let oauth2 = raw
        .oauth2
        .and_then(|o| super::oauth2::validate_oauth2(o, &mut p));
    oauth2_logins(&mailboxes, &mut smtp, &support, &oauth2, &mut p);
    let log = ops::validate_log(raw.log, &mut p);
    let http = ops::validate_http(raw.http, &mut p);
    let health = ops::validate_health(raw.health, poll_interval, &mut p);
    let zone = support
        .as_ref()
        .map_or(jiff::tz::TimeZone::UTC, |s| s.timezone.clone());
    let sla = super::sla::validate_sla(raw.sla, &zone, &mut p);
    match (mailboxes.first(), smtp, support, p.is_empty()) {
        (Some(first), Some(smtp), Some(support), true) => Ok(Config {
            imap: first.imap.clone(),
            mailboxes,
            smtp,
            support,
            agents,
            database_url,
            storage,
            limits,
            security,
            oauth2,
            log,
            http,
            health,
            sla,
        }),
        _ => Err(ConfigErrors(p)),
    }
}

/// `database.url`: SQLite or PostgreSQL, `sqlite://buzon.db` when not given.
fn validate_database_url(raw: Option<String>, p: &mut Vec<String>) -> String {
    let url = raw.unwrap_or_else(|| "sqlite://buzon.db".to_string());
    if !(url.starts_with("sqlite:")
        || url.starts_with("postgres://")
        || url.starts_with("postgresql://"))
    {
        p.push(format!(
            "database.url: '{url}' is neither sqlite:// nor postgres://"
        ));
    }
    url
}

/// The first mailbox shares its OAuth2 login with SMTP; any other mailbox logging in with
/// OAuth2 needs the `[oauth2]` application too.
fn oauth2_logins(
    mailboxes: &[std::sync::Arc<MailboxConfig>],
    smtp: &mut Option<SmtpConfig>,
    support: &Option<SupportConfig>,
    oauth2: &Option<OAuth2Config>,
    p: &mut Vec<String>,
) {
    if let (Some(first), Some(smtp), Some(support)) = (mailboxes.first(), smtp, support) {
        super::oauth2::one_oauth2_login(&first.imap, smtp, support, oauth2, p);
    }
    if mailboxes
        .iter()
        .skip(1)
        .any(|m| m.imap.auth == AuthMethod::OAuth2)
        && oauth2.is_none()
    {
        p.push("mailboxes: auth = \"oauth2\" needs an [oauth2] section".into());
    }
}

/// `section` is `imap`, or `mailboxes[N].imap`: where the keys are, for the messages.
pub(super) fn validate_imap(
    section: &str,
    raw: RawImap,
    p: &mut Vec<String>,
) -> Option<ImapConfig> {
    let security = raw.security.unwrap_or(Security::Starttls);
    let auth = raw.auth.unwrap_or_default();
    let password = secret(
        &format!("{section}.password"),
        raw.password,
        raw.password_file,
        p,
    );
    let password = match super::oauth2::password_for(section, auth, password, p) {
        None if auth == AuthMethod::OAuth2 => Some(Secret::default()),
        None => {
            p.push(format!(
                "{section}.password: missing (set password or password_file)"
            ));
            None
        }
        some => some,
    };
    if raw.host.trim().is_empty() {
        p.push(format!("{section}.host: empty"));
    }
    check_ca_file(&format!("{section}.ca_file"), &raw.ca_file, p);
    let poll = raw.poll_interval_secs.unwrap_or(30);
    if poll == 0 {
        p.push(format!("{section}.poll_interval_secs: must be at least 1"));
    }
    let on_processed = match raw.on_processed.as_deref().unwrap_or("flag") {
        "flag" => OnProcessed::Flag,
        "move" => OnProcessed::Move(
            raw.processed_mailbox
                .unwrap_or_else(|| "Procesados".to_string()),
        ),
        other => {
            p.push(format!(
                "{section}.on_processed: '{other}' is not flag or move"
            ));
            OnProcessed::Flag
        }
    };
    Some(ImapConfig {
        port: raw.port.unwrap_or(default_port(security, 143, 143, 993)),
        host: raw.host,
        security,
        username: raw.username,
        auth,
        password: password?,
        mailbox: raw.mailbox.unwrap_or_else(|| "INBOX".to_string()),
        idle: raw.idle.unwrap_or(true),
        poll_interval: Duration::from_secs(poll.max(1)),
        ca_file: raw.ca_file,
        on_processed,
        timeout: network_timeout(section, raw.timeout_secs, p),
    })
}

fn validate_smtp(raw: RawSmtp, p: &mut Vec<String>) -> Option<SmtpConfig> {
    let security = raw.security.unwrap_or(Security::Starttls);
    let auth = raw.auth.unwrap_or_default();
    let password = secret("smtp.password", raw.password, raw.password_file, p);
    let password = super::oauth2::password_for("smtp", auth, password, p);
    if auth == AuthMethod::Password && raw.username.is_some() != password.is_some() {
        p.push("smtp: username and password go together (give both or neither)".into());
    }
    let logs_in = raw.username.is_some() || auth == AuthMethod::OAuth2;
    if logs_in && security == Security::None {
        p.push(
            "smtp: refusing to send a password or token without TLS (security = \"none\")".into(),
        );
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
        auth,
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

/// The desk-wide `[support]`; its address, name and language are the first mailbox's
/// (mailboxes.rs reads and checks those keys), the desk's own for admin notices.
fn validate_support(
    raw: RawSupport,
    first: Option<&MailboxConfig>,
    p: &mut Vec<String>,
) -> Option<SupportConfig> {
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
    let admin = raw
        .admin
        .and_then(|a| super::address("support.admin", &a, p));
    let first = first?;
    Some(SupportConfig {
        address: first.address.clone(),
        name: first.display_name.clone(),
        language: first.language,
        products: raw.products,
        secret: secret?,
        previous_secrets: raw.previous_secrets.into_iter().map(Secret).collect(),
        templates_dir: raw.templates_dir,
        timezone,
        admin,
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
