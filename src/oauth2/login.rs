//! `buzon auth login`: the device-code flow (RFC 8628). buzon shows an address and a code,
//! the admin signs in as the mailbox from any browser, and buzon keeps the refresh token.
//! No redirect address and no web server of buzon's are needed.

use super::{seal, OAuthError, TokenSource};

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
    let refresh = grant.refresh.ok_or_else(|| {
        OAuthError::Refused(
            "no refresh token came back (Microsoft: add the offline_access scope)".into(),
        )
    })?;
    let sealed = seal::seal(&refresh, tokens.account(), tokens.current_secret());
    tokens.store_login(&sealed).await
}
