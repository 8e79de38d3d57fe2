//! `buzon auth login`: two ways to get the first refresh token.
//! - The device-code flow (RFC 8628): buzon shows an address and a code, the admin signs in
//!   as the mailbox from any browser on any machine. No redirect address is needed.
//! - The browser flow (RFC 6749 4.1 with PKCE, RFC 7636, and a loopback redirect, RFC 8252),
//!   for Google, whose device flow refuses the Gmail scope: buzon shows an address, the
//!   browser comes back to 127.0.0.1 (loopback.rs).

use super::loopback::{Loopback, SIGN_IN_TIMEOUT};
use super::{seal, Grant, OAuthError, TokenSource};

/// What the admin is asked to do, as the provider worded it.
#[derive(Debug, Clone)]
pub struct Prompt {
    pub verification_uri: String,
    /// The same address with the code in it, when the provider offers one.
    pub verification_uri_complete: Option<String>,
    pub user_code: String,
    pub expires_in_secs: u64,
}

/// Run the flow: `show` is told what to ask the admin, then this waits for their sign-in
/// and stores the sealed refresh token (replacing any earlier login, ending any failure).
pub async fn device_login(
    tokens: &TokenSource,
    show: impl FnOnce(&Prompt),
) -> Result<(), OAuthError> {
    let provider = tokens.provider();
    let details = provider.start_device_login().await?;
    show(&Prompt {
        verification_uri: details.verification_uri().to_string(),
        verification_uri_complete: details
            .verification_uri_complete()
            .map(|u| u.secret().to_string()),
        user_code: details.user_code().secret().to_string(),
        expires_in_secs: details.expires_in().as_secs(),
    });
    let grant = provider.finish_device_login(&details).await?;
    keep(tokens, grant).await
}

/// Run the browser flow on 127.0.0.1:`port` (0: any free port): `show` is given the
/// address to open and the port listened on; then this waits for the browser's return and stores the login.
pub async fn browser_login(
    tokens: &TokenSource,
    port: u16,
    show: impl FnOnce(&str, u16),
) -> Result<(), OAuthError> {
    let provider = tokens.provider();
    let loopback = Loopback::bind(port).await?;
    let redirect = loopback.redirect.clone();
    let (url, state, verifier) = provider.browser_request(&redirect)?;
    show(&url, loopback.port);
    let code = loopback.code(state.secret(), SIGN_IN_TIMEOUT).await?;
    let grant = provider
        .finish_browser_login(code, verifier, &redirect)
        .await?;
    keep(tokens, grant).await
}

/// Seal and store the refresh token of a first login (replacing any earlier login, ending
/// any failure).
async fn keep(tokens: &TokenSource, grant: Grant) -> Result<(), OAuthError> {
    let refresh = grant.refresh.ok_or_else(|| {
        OAuthError::Refused(
            "no refresh token came back (Microsoft: add the offline_access scope; Google: revoke buzon's access in the account and sign in again)".into(),
        )
    })?;
    let sealed = seal::seal(&refresh, tokens.account(), tokens.current_secret());
    tokens.store_login(&sealed).await
}
