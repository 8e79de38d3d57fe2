//! `buzon check`: the configuration is already valid when we get here; now try each
//! outside part and say what works.

use std::process::ExitCode;

use crate::compose::Templates;
use crate::config::Config;
use crate::store::Store;

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
    report("imap", imap(&config).await);
    report("smtp", smtp(&config).await);
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

async fn imap(config: &Config) -> Result<String, String> {
    let mut session = crate::fetch::connect(&config.imap)
        .await
        .map_err(|e| e.to_string())?;
    let idle = session
        .capabilities()
        .await
        .map(|c| c.has_str("IDLE"))
        .unwrap_or(false);
    let mailbox = session
        .select(&config.imap.mailbox)
        .await
        .map_err(|e| format!("select {}: {e}", config.imap.mailbox))?;
    let _ = session.logout().await;
    Ok(format!(
        " ({} {}: {} messages, UIDVALIDITY {}, IDLE {})",
        config.imap.username,
        config.imap.mailbox,
        mailbox.exists,
        mailbox.uid_validity.unwrap_or(0),
        if idle { "yes" } else { "no" }
    ))
}

async fn smtp(config: &Config) -> Result<String, String> {
    let mut conn = crate::send::open(&config.smtp, config.support.address.domain())
        .await
        .map_err(|e| e.to_string())?;
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
