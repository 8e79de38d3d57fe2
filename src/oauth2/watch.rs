//! The daemon's eye on the OAuth2 login: it asks for a token when one is due (so a failing
//! refresh is found even while IMAP sits in IDLE and nothing is sent), and tells
//! support.admin, at most once a day, when the login needs a person. A refresh token that
//! silently died and went unnoticed for days is the failure this exists for.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::TokenSource;
use crate::compose::{mime, msgid};
use crate::config::Config;
use crate::domain::EmailAddress;
use crate::store::{now_ms, Store, TokenFailure};

/// The longest the watcher sleeps between looks at the failure record.
const LOOK_EVERY: Duration = Duration::from_secs(60);
/// support.admin hears of one failure at most this often.
const TELL_EVERY_MS: i64 = 24 * 3600 * 1000;
/// A provider that cannot be reached for this long is worth an admin's attention (a
/// refusal is at once: only a person can mend it).
const UNREACHABLE_FOR_MS: i64 = 10 * 60 * 1000;

/// Whether this failure should turn health red and reach support.admin.
pub fn alarming(failure: &TokenFailure, now_ms: i64) -> bool {
    failure.refused || now_ms - failure.since >= UNREACHABLE_FOR_MS
}

pub async fn watch(
    config: Arc<Config>,
    store: Store,
    tokens: Arc<TokenSource>,
    shutdown: CancellationToken,
) {
    while !shutdown.is_cancelled() {
        // The outcome is recorded by the token source; here it only keeps things moving.
        let _ = tokens.access_token().await;
        if let Err(e) = tell_admin_if_due(&config, &store, &tokens).await {
            warn!(error = %e, "could not tell support.admin that the OAuth2 login fails");
        }
        let now = tokio::time::Instant::now();
        let wait = tokens
            .next_attempt()
            .await
            .map_or(LOOK_EVERY, |at| at.saturating_duration_since(now))
            .clamp(Duration::from_millis(200), LOOK_EVERY);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.cancelled() => {}
        }
    }
}

async fn tell_admin_if_due(
    config: &Config,
    store: &Store,
    tokens: &TokenSource,
) -> Result<(), String> {
    let (Some(admin), Some(row)) = (
        &config.support.admin,
        store
            .oauth2_token(tokens.account())
            .await
            .map_err(|e| e.to_string())?,
    ) else {
        return Ok(());
    };
    let now = now_ms();
    let Some(failure) = row.failure.filter(|f| alarming(f, now)) else {
        return Ok(());
    };
    if row.admin_told_at.is_some_and(|at| now - at < TELL_EVERY_MS) {
        return Ok(());
    }
    let raw = notice(config, admin, &failure, now);
    crate::send::send_notice(config, Some(tokens), admin, &raw)
        .await
        .map_err(|e| e.to_string())?;
    store
        .oauth2_admin_told(tokens.account(), now)
        .await
        .map_err(|e| e.to_string())?;
    info!(admin = %admin, "told support.admin that the OAuth2 login fails");
    Ok(())
}

/// The mail to support.admin: what fails, since when, and the one command that mends it.
fn notice(config: &Config, admin: &EmailAddress, failure: &TokenFailure, now: i64) -> Vec<u8> {
    let support = &config.support;
    let since = crate::text::format_time(failure.since, &support.timezone);
    let what = if failure.refused {
        "The provider refused the stored login (the refresh token was revoked or expired, or consent was withdrawn)."
    } else {
        "The provider's token endpoint cannot be reached."
    };
    let text = format!(
        "buzon cannot refresh the OAuth2 access token of {account} since {since}.\n\n\
         {what}\nIt said: {error}\n\n\
         Once the access token in hand expires, buzon can neither fetch nor send mail for \
         {account}. To mend it, sign in again as that mailbox:\n\n    buzon auth login\n\n\
         buzon keeps retrying meanwhile and takes the new login at once. This mail comes at \
         most once a day while the failure lasts; `buzon check` shows the state.\n",
        account = failure.account,
        error = failure.error,
    );
    let domain = support.address.domain();
    let id = msgid::new_message_id(
        support.secret.expose(),
        None,
        domain,
        msgid::Audience::Agents,
    );
    let headers: Vec<mime::Header> = vec![
        ("Date", mime::rfc5322_date(now / 1000)),
        ("From", support.address.as_str().to_string()),
        ("To", admin.as_str().to_string()),
        (
            "Subject",
            mime::unstructured(&format!(
                "buzon: the OAuth2 login of {} fails",
                failure.account
            )),
        ),
        ("Message-ID", format!("<{id}>")),
        ("Auto-Submitted", "auto-generated".to_string()),
    ];
    mime::write_message(&headers, &text, &[])
}
