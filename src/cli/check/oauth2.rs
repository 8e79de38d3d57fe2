//! `buzon check`'s OAuth2 line: whether a fresh access token can be had now, and, when
//! refreshing fails, since when and what mends it.

use crate::config::Config;
use crate::oauth2::TokenSource;
use crate::store::Store;

/// The configuration's token source, on a database of its own (check opens and closes
/// its connections per part).
pub async fn token_source(config: &Config) -> Result<Option<TokenSource>, String> {
    if config.oauth2.is_none() {
        return Ok(None);
    }
    let store = Store::connect(&config.database_url)
        .await
        .map_err(|e| e.to_string())?;
    store.migrate().await.map_err(|e| e.to_string())?;
    TokenSource::for_config(config, &store).map_err(|e| e.to_string())
}

pub async fn check(config: &Config, tokens: &TokenSource) -> Result<String, String> {
    let account = tokens.account();
    let attempt = tokens.access_token().await;
    let failure = tokens.failure().await.map_err(|e| e.to_string())?;
    match (attempt, failure) {
        (Ok(_), None) => Ok(format!(" ({account}: access token refreshed)")),
        (Ok(_), Some(f)) => Err(format!(
            "refreshing the token of {account} fails since {} ({}); the access token in hand still works for now; run `buzon auth login`",
            crate::text::format_time(f.since, &config.support.timezone),
            f.error
        )),
        (Err(e), Some(f)) => Err(format!(
            "refreshing the token of {account} fails since {}: {e}; run `buzon auth login`",
            crate::text::format_time(f.since, &config.support.timezone),
        )),
        (Err(e), None) => Err(format!("{e}; run `buzon auth login`")),
    }
}
