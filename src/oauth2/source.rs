//! The access token every IMAP and SMTP login of this process uses, refreshed from the
//! stored refresh token: at half its life (so a refresh that fails leaves the old token
//! working while support.admin is told, and a session is renewed before the server drops
//! it), and whenever a server refuses it.

use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;
use tracing::{info, warn};

use super::{seal, AccessToken, OAuthError, Provider};
use crate::backoff::Backoff;
use crate::config::{AuthMethod, Config, Secret};
use crate::store::Store;

pub struct TokenSource {
    account: String,
    provider: Provider,
    store: Store,
    /// `support.secret` first, then the retired ones (they may have sealed the stored token).
    secrets: Vec<Secret>,
    state: Mutex<State>,
}

struct State {
    current: Option<Issued>,
    failing: Option<Failing>,
    backoff: Backoff,
}

/// An access token and its times.
struct Issued {
    token: AccessToken,
    /// Refreshed from here on; sessions logged in with it are renewed by then.
    renew_at: Instant,
    expires_at: Instant,
}

/// The last refresh failed: not tried again before `retry_at` unless a new login (another
/// stored token than `sealed`) arrives.
struct Failing {
    retry_at: Instant,
    sealed: String,
    error: OAuthError,
}

/// The first retry of a failed refresh comes after about this long, doubling up to
/// RETRY_MAX: a provider that is down is not hammered, and one that comes back is seen soon.
const RETRY_BASE: Duration = Duration::from_secs(5);
const RETRY_MAX: Duration = Duration::from_secs(15 * 60);

impl TokenSource {
    /// The token source of this configuration, when IMAP or SMTP logs in with OAuth2.
    pub fn for_config(config: &Config, store: &Store) -> Result<Option<TokenSource>, OAuthError> {
        let account = match (config.imap.auth, &config.smtp.username) {
            (AuthMethod::OAuth2, _) | (_, None) => config.imap.username.clone(),
            (AuthMethod::Password, Some(user)) => user.clone(),
        };
        Self::for_account(config, store, account)
    }

    /// The login of `account` (another mailbox's IMAP account) with the desk's `[oauth2]`
    /// application; None without one.
    pub fn for_account(
        config: &Config,
        store: &Store,
        account: String,
    ) -> Result<Option<TokenSource>, OAuthError> {
        let Some(oauth2) = &config.oauth2 else {
            return Ok(None);
        };
        let secrets = std::iter::once(&config.support.secret)
            .chain(&config.support.previous_secrets)
            .cloned()
            .collect();
        Ok(Some(TokenSource {
            account,
            provider: Provider::new(oauth2)?,
            store: store.clone(),
            secrets,
            state: Mutex::new(State {
                current: None,
                failing: None,
                backoff: Backoff::new(RETRY_BASE, RETRY_MAX),
            }),
        }))
    }

    /// The mailbox this login is for (the XOAUTH2 `user=`).
    pub fn account(&self) -> &str {
        &self.account
    }

    pub fn provider(&self) -> &Provider {
        &self.provider
    }

    pub fn current_secret(&self) -> &Secret {
        &self.secrets[0]
    }

    /// The stored record of a failing refresh of this login, if it fails.
    pub async fn failure(&self) -> Result<Option<crate::store::TokenFailure>, OAuthError> {
        Ok(self
            .store
            .oauth2_token(&self.account)
            .await?
            .and_then(|row| row.failure))
    }

    /// Keep a new login (sealed), and forget whatever token and failure came before.
    pub async fn store_login(&self, sealed: &str) -> Result<(), OAuthError> {
        let mut state = self.state.lock().await;
        self.store.save_oauth2_login(&self.account, sealed).await?;
        state.current = None;
        state.failing = None;
        state.backoff.reset();
        Ok(())
    }

    /// A usable access token: the one in hand while it is young, else a fresh one. While
    /// refreshing fails, the token in hand is still given out until it expires.
    pub async fn access_token(&self) -> Result<AccessToken, OAuthError> {
        let mut state = self.state.lock().await;
        let now = Instant::now();
        if let Some(issued) = state.current.as_ref().filter(|i| now < i.renew_at) {
            return Ok(issued.token.clone());
        }
        let row = self
            .store
            .oauth2_token(&self.account)
            .await?
            .ok_or_else(|| OAuthError::NotLoggedIn(self.account.clone()))?;
        let waiting = state
            .failing
            .as_ref()
            .filter(|f| f.sealed == row.sealed_refresh && now < f.retry_at)
            .map(|f| f.error.clone());
        let result = match waiting {
            Some(error) => Err(error),
            None => self.refresh(&mut state, &row.sealed_refresh).await,
        };
        result.or_else(|error| match state.current.as_ref() {
            Some(issued) if now < issued.expires_at => Ok(issued.token.clone()),
            _ => Err(error),
        })
    }

    /// A server refused `token` at AUTHENTICATE: it is not given out again, so the next
    /// [`access_token`](Self::access_token) refreshes.
    pub async fn refused(&self, token: &AccessToken) {
        let mut state = self.state.lock().await;
        if state.current.as_ref().is_some_and(|i| &i.token == token) {
            info!("the server refused the access token: refreshing");
            state.current = None;
        }
    }

    /// When a session logged in with the token in hand should end: at its renewal, or at
    /// its expiry while renewing fails.
    pub async fn session_due(&self) -> Option<Instant> {
        let state = self.state.lock().await;
        let issued = state.current.as_ref()?;
        Some(match state.failing {
            Some(_) => issued.expires_at,
            None => issued.renew_at,
        })
    }

    /// When the watcher should next ask for a token: the renewal of the token in hand, or
    /// the retry of a failed refresh.
    pub async fn next_attempt(&self) -> Option<Instant> {
        let state = self.state.lock().await;
        match (&state.failing, &state.current) {
            (Some(failing), _) => Some(failing.retry_at),
            (None, Some(issued)) => Some(issued.renew_at),
            (None, None) => None,
        }
    }

    async fn refresh(&self, state: &mut State, sealed: &str) -> Result<AccessToken, OAuthError> {
        match self.exchange(sealed).await {
            Ok(issued) => {
                let token = issued.token.clone();
                state.current = Some(issued);
                state.failing = None;
                state.backoff.reset();
                Ok(token)
            }
            Err(error) => {
                let delay = state.backoff.next_delay();
                warn!(%error, retry_in_s = delay.as_secs(), "OAuth2 refresh failed");
                if let Err(e) = self
                    .store
                    .oauth2_failed(
                        &self.account,
                        sealed,
                        &error.to_string(),
                        error.needs_login(),
                    )
                    .await
                {
                    warn!(error = %e, "could not record the OAuth2 failure");
                }
                state.failing = Some(Failing {
                    retry_at: Instant::now() + delay,
                    sealed: sealed.to_string(),
                    error: error.clone(),
                });
                Err(error)
            }
        }
    }

    /// One refresh at the provider; a rotated refresh token replaces `sealed` in one
    /// statement that names it, so a login stored meanwhile is kept.
    async fn exchange(&self, sealed: &str) -> Result<Issued, OAuthError> {
        let secrets: Vec<&str> = self.secrets.iter().map(Secret::expose).collect();
        let refresh = seal::open(sealed, &self.account, &secrets).ok_or(OAuthError::Unsealable)?;
        let started = Instant::now();
        let grant = self.provider.refresh(&refresh).await?;
        let rotated = grant
            .refresh
            .filter(|r| r.expose() != refresh.expose())
            .map(|r| seal::seal(&r, &self.account, self.current_secret()));
        let kept = self
            .store
            .oauth2_refreshed(&self.account, sealed, rotated.as_deref())
            .await?;
        info!(
            lifetime_s = grant.lifetime.as_secs(),
            rotated = rotated.is_some(),
            kept,
            "OAuth2 access token refreshed"
        );
        Ok(Issued {
            token: grant.access,
            renew_at: started + grant.lifetime / 2,
            expires_at: started + grant.lifetime,
        })
    }
}
