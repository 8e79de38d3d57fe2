//! The operator's sections: `[log]` (how lines are written), `[http]` (where health and
//! metrics are served) and `[health]` (when buzon calls itself unhealthy). Kept apart from
//! the mail sections because they say how buzon is run, not what it does with mail.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

/// How each log line is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One readable line per event, colours only on a terminal.
    Text,
    /// One JSON object per line, for log collectors (Loki, Elasticsearch, journald export).
    Json,
}

#[derive(Debug, Clone)]
pub struct LogConfig {
    pub format: LogFormat,
    /// A `tracing` filter (`info`, `buzon=debug,sqlx=warn`); `BUZON_LOG` wins over it.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Text,
            level: "info".into(),
        }
    }
}

/// `/health` and `/metrics` over HTTP; off unless `listen` is set.
#[derive(Debug, Clone, Default)]
pub struct HttpConfig {
    pub listen: Option<SocketAddr>,
}

/// When buzon reports itself unhealthy (`/health`, `buzon status`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthConfig {
    /// No successful IMAP sync for this long: fetching has stopped.
    pub max_sync_age: Duration,
    /// A pending outbox mail older than this: sending has stopped.
    pub max_outbox_age: Duration,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            max_sync_age: Duration::from_secs(300),
            max_outbox_age: Duration::from_secs(600),
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLog {
    format: Option<String>,
    level: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHttp {
    listen: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHealth {
    max_sync_age_secs: Option<u64>,
    max_outbox_age_secs: Option<u64>,
}

pub(super) fn validate_log(raw: RawLog, p: &mut Vec<String>) -> LogConfig {
    let format = match raw.format.as_deref().unwrap_or("text") {
        "text" => LogFormat::Text,
        "json" => LogFormat::Json,
        other => {
            p.push(format!("log.format: '{other}' is not text or json"));
            LogFormat::Text
        }
    };
    let level = raw.level.unwrap_or_else(|| "info".into());
    if let Err(e) = tracing_subscriber::EnvFilter::try_new(&level) {
        p.push(format!("log.level: '{level}' is not a log filter: {e}"));
    }
    LogConfig { format, level }
}

pub(super) fn validate_http(raw: RawHttp, p: &mut Vec<String>) -> HttpConfig {
    let listen = raw.listen.and_then(|text| {
        text.parse::<SocketAddr>()
            .map_err(|_| {
                p.push(format!(
                    "http.listen: '{text}' is not an address and port (like 127.0.0.1:9187)"
                ))
            })
            .ok()
    });
    HttpConfig { listen }
}

/// `poll_interval` bounds how often a quiet mailbox is synced (IDLE re-checks that often
/// too): a limit at or under it would report a healthy, quiet mailbox as stale.
pub(super) fn validate_health(
    raw: RawHealth,
    poll_interval: Duration,
    p: &mut Vec<String>,
) -> HealthConfig {
    let d = HealthConfig::default();
    let sync = raw.max_sync_age_secs.unwrap_or(d.max_sync_age.as_secs());
    let outbox = raw
        .max_outbox_age_secs
        .unwrap_or(d.max_outbox_age.as_secs());
    if sync <= poll_interval.as_secs() {
        p.push(format!(
            "health.max_sync_age_secs: {sync} must be more than imap.poll_interval_secs ({}), or a quiet mailbox looks stale",
            poll_interval.as_secs()
        ));
    }
    if outbox == 0 {
        p.push("health.max_outbox_age_secs: must be at least 1".into());
    }
    HealthConfig {
        max_sync_age: Duration::from_secs(sync),
        max_outbox_age: Duration::from_secs(outbox.max(1)),
    }
}

#[cfg(test)]
mod tests {
    use super::super::from_toml;
    use super::*;

    const MINIMAL: &str = "[imap]\nhost = \"h\"\nusername = \"u\"\npassword = \"p\"\n[smtp]\nhost = \"h\"\n[support]\naddress = \"s@example.test\"\nsecret = \"0123456789abcdef0123\"\n";

    #[test]
    fn operations_default_to_text_logs_no_http_and_the_issue_s_ages() {
        let c = from_toml(MINIMAL, &[]).unwrap();
        assert_eq!(c.log.format, LogFormat::Text);
        assert_eq!(c.log.level, "info");
        assert_eq!(c.http.listen, None);
        assert_eq!(c.health, HealthConfig::default());
        assert_eq!(c.health.max_sync_age, Duration::from_secs(300));
        assert_eq!(c.health.max_outbox_age, Duration::from_secs(600));
    }

    #[test]
    fn operations_are_read_and_overridable() {
        let text = format!("{MINIMAL}[log]\nformat = \"json\"\nlevel = \"buzon=debug\"\n[http]\nlisten = \"127.0.0.1:9187\"\n[health]\nmax_sync_age_secs = 60\n");
        let env = [("BUZON_HEALTH__MAX_OUTBOX_AGE_SECS".into(), "90".into())];
        let c = from_toml(&text, &env).unwrap();
        assert_eq!(c.log.format, LogFormat::Json);
        assert_eq!(c.http.listen, Some("127.0.0.1:9187".parse().unwrap()));
        assert_eq!(c.health.max_sync_age, Duration::from_secs(60));
        assert_eq!(c.health.max_outbox_age, Duration::from_secs(90));
    }

    #[test]
    fn each_bad_operation_key_is_one_line() {
        let text = format!("{MINIMAL}[log]\nformat = \"xml\"\nlevel = \"buzon=loud\"\n[http]\nlisten = \"localhost\"\n[health]\nmax_sync_age_secs = 30\nmax_outbox_age_secs = 0\n");
        let err = from_toml(&text, &[]).unwrap_err();
        let lines = err.0;
        assert_eq!(lines.len(), 5, "{lines:?}");
        for key in [
            "log.format",
            "log.level",
            "http.listen",
            "health.max_sync_age_secs",
            "health.max_outbox_age_secs",
        ] {
            let line = lines.iter().find(|l| l.starts_with(key));
            assert!(line.is_some_and(|l| !l.contains('\n')), "{key}: {lines:?}");
        }
    }
}
