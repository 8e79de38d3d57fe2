//! `buzon check`: the configuration is already valid when we get here; now try each
//! outside part and say what works.

use std::process::ExitCode;

use crate::compose::Templates;
use crate::config::{Config, ImapConfig};
use crate::oauth2::TokenSource;
use crate::store::Store;

mod oauth2;

pub async fn check(config: Config) -> ExitCode {
    // A closed stdout loses only the report; the exit code still says it.
    let say = |line: std::fmt::Arguments<'_>| drop(super::say(line));
    say(format_args!("configuration: ok"));
    let mut ok = true;
    let mut report = |what: &str, result: Result<String, String>| match result {
        Ok(detail) => say(format_args!("{what}: ok{detail}")),
        Err(e) => {
            ok = false;
            say(format_args!("{what}: FAILED: {e}"));
        }
    };
    report(
        "templates",
        Templates::load_with(config.support.templates_dir.as_deref())
            .map(|_| String::new())
            .map_err(|e| e.to_string()),
    );
    report("database", database(&config).await);
    report("storage", storage(&config));
    let tokens = match oauth2::token_source(&config).await {
        Ok(tokens) => tokens,
        Err(e) => {
            report("oauth2", Err(e));
            None
        }
    };
    if let Some(tokens) = &tokens {
        report("oauth2", oauth2::check(&config, tokens).await);
    }
    for mailbox in &config.mailboxes {
        // One line a mailbox, named when there are several.
        let what = match config.mailboxes.len() {
            1 => "imap".to_string(),
            _ => format!("imap {}", mailbox.name),
        };
        let login = tokens
            .as_ref()
            .filter(|t| t.account() == mailbox.imap.username);
        report(&what, imap(&mailbox.imap, login).await);
    }
    report("smtp", smtp(&config, tokens.as_ref()).await);
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

async fn database(config: &Config) -> Result<String, String> {
    let store = Store::connect(&config.database_url)
        .await
        .map_err(|e| e.to_string())?;
    store.ping().await.map_err(|e| e.to_string())?;
    store.close().await;
    Ok(format!(
        " ({})",
        config
            .database_url
            .split('@')
            .next_back()
            .unwrap_or_default()
    ))
}

fn storage(config: &Config) -> Result<String, String> {
    let dir = &config.storage.dir;
    crate::private_files::storage_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let probe = dir.join(".buzon-check");
    std::fs::write(&probe, b"ok").map_err(|e| format!("{}: {e}", dir.display()))?;
    let _ = std::fs::remove_file(probe);
    Ok(format!(" ({})", dir.display()))
}

async fn imap(imap: &ImapConfig, tokens: Option<&TokenSource>) -> Result<String, String> {
    let mut session = crate::fetch::connect_with_deadline(imap, tokens)
        .await
        .map_err(|e| e.to_string())?
        .0;
    let idle = session
        .capabilities()
        .await
        .map(|c| c.has_str("IDLE"))
        .unwrap_or(false);
    let mailbox = session
        .select(&imap.mailbox)
        .await
        .map_err(|e| format!("select {}: {e}", imap.mailbox))?;
    let _ = session.logout().await;
    Ok(format!(
        " ({} {}: {} messages, UIDVALIDITY {}, IDLE {})",
        imap.username,
        imap.mailbox,
        mailbox.exists,
        mailbox.uid_validity.unwrap_or(0),
        if idle { "yes" } else { "no" }
    ))
}

async fn smtp(config: &Config, tokens: Option<&TokenSource>) -> Result<String, String> {
    let mut conn = crate::send::connect_with(&config.smtp, config.support.address.domain(), tokens)
        .await
        .map_err(|e| e.to_string())?
        .0;
    let encrypted = conn.is_encrypted();
    let _ = conn.quit().await;
    Ok(format!(
        " ({}:{}, {})",
        config.smtp.host,
        config.smtp.port,
        if encrypted {
            "encrypted"
        } else {
            "not encrypted"
        }
    ))
}
