//! Logging set-up for the binary: `BUZON_LOG` chooses what is logged, within a cap no
//! setting can lift. The protocol crates print every raw command they write at trace or
//! debug level — async-imap writes `LOGIN "user" "password"` at trace, lettre (when its
//! `tracing` feature is on) `AUTH PLAIN <base64 of the password>` at debug — so a
//! `BUZON_LOG=trace` taken to debug a stuck mailbox would put the passwords in the log.
//! buzon's own events never carry a password or the support secret (`Secret` hides itself
//! in `Debug` and has no `Display`).

use std::io::IsTerminal;

use tracing_subscriber::filter::{EnvFilter, LevelFilter, Targets};
use tracing_subscriber::prelude::*;

use crate::config::{LogConfig, LogFormat};

/// Crates that log raw protocol traffic, and the most they may log. At info and above they
/// report only connection events, never the commands themselves.
const RAW_PROTOCOL: &[&str] = &["async_imap", "imap_proto", "lettre"];

/// The cap, as a filter every event must also pass, whatever `BUZON_LOG` says: a second
/// filter rather than extra directives, because a directive of the user's own
/// (`BUZON_LOG=async_imap=trace`) would win over ours.
pub fn protocol_cap() -> Targets {
    RAW_PROTOCOL
        .iter()
        .fold(Targets::new().with_default(LevelFilter::TRACE), |t, c| {
            t.with_target(*c, LevelFilter::INFO)
        })
}

/// Log to stderr, at `BUZON_LOG` (else `log.level`) within `protocol_cap`, as text or as one
/// JSON object a line (`log.format`). Colour codes only on a terminal (and never with
/// `NO_COLOR` set), so a file or journald gets plain text. JSON lines carry the fields of
/// every span the event happened in (mailbox, uid, case, outbox id), flattened beside the
/// message.
pub fn init(config: &LogConfig) {
    let chosen = EnvFilter::try_from_env("BUZON_LOG")
        .or_else(|_| EnvFilter::try_new(&config.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let lines = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let lines = match config.format {
        LogFormat::Text => lines.with_ansi(colour).boxed(),
        LogFormat::Json => lines
            .json()
            .with_ansi(false)
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(true)
            .boxed(),
    };
    tracing_subscriber::registry()
        .with(lines)
        .with(chosen)
        .with(protocol_cap())
        .init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    #[test]
    fn protocol_crates_never_log_below_info() {
        let cap = protocol_cap();
        for target in ["async_imap::imap_stream", "imap_proto::parser", "lettre"] {
            assert!(!cap.would_enable(target, &Level::TRACE), "{target}");
            assert!(!cap.would_enable(target, &Level::DEBUG), "{target}");
            assert!(cap.would_enable(target, &Level::INFO), "{target}");
        }
        assert!(cap.would_enable("buzon::fetch", &Level::TRACE));
        assert!(cap.would_enable("sqlx::query", &Level::DEBUG));
    }
}
