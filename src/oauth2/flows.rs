//! Talking to the provider, through the `oauth2` crate: the device-code login (RFC 8628)
//! and the refresh of an access token (RFC 6749 section 6).

use std::time::Duration;

use oauth2::basic::BasicClient;
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    DeviceAuthorizationUrl, EndpointMaybeSet, EndpointNotSet, EndpointSet, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope, StandardDeviceAuthorizationResponse,
    TokenResponse, TokenUrl,
};

use super::{AccessToken, OAuthError, RefreshToken};
use crate::config::OAuth2Config;

type Client =
    BasicClient<EndpointMaybeSet, EndpointMaybeSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// What a token endpoint gave: an access token, how long it lives, and the refresh token
/// when the provider sent one (a rotation, or the first login).
#[derive(Debug)]
pub struct Grant {
    pub access: AccessToken,
    pub lifetime: Duration,
    pub refresh: Option<RefreshToken>,
}

/// When the provider does not say how long an access token lives (`expires_in` is only
/// RECOMMENDED): Microsoft's and Google's shortest.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);

/// A token request that gets no answer this long is an unreachable provider.
const HTTP_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Provider {
    client: Client,
    http: reqwest::Client,
    scopes: Vec<String>,
}

impl Provider {
    pub fn new(config: &OAuth2Config) -> Result<Provider, OAuthError> {
        let invalid = |e: &dyn std::fmt::Display| OAuthError::Unreachable(e.to_string());
        let mut client = BasicClient::new(ClientId::new(config.client_id.clone()))
            // Microsoft wants the client id (and secret) in the body for public clients.
            .set_auth_type(AuthType::RequestBody)
            .set_token_uri(TokenUrl::new(config.token_url()).map_err(|e| invalid(&e))?)
            .set_device_authorization_url_option(
                config
                    .device_authorization_url()
                    .map(DeviceAuthorizationUrl::new)
                    .transpose()
                    .map_err(|e| invalid(&e))?,
            )
            .set_auth_uri_option(
                config
                    .authorization_url()
                    .map(AuthUrl::new)
                    .transpose()
                    .map_err(|e| invalid(&e))?,
            );
        if let Some(secret) = &config.client_secret {
            client = client.set_client_secret(ClientSecret::new(secret.expose().to_string()));
        }
        // No redirects: a token request is never sent on to another address.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(HTTP_TIMEOUT)
            .build()
            .map_err(|e| invalid(&e))?;
        Ok(Provider {
            client,
            http,
            scopes: config.scopes.clone(),
        })
    }

    /// RFC 8628 section 3.1: ask for a device code; the person signs in elsewhere with it.
    pub async fn start_device_login(
        &self,
    ) -> Result<StandardDeviceAuthorizationResponse, OAuthError> {
        self.client
            .exchange_device_code()
            .map_err(unconfigured)?
            .add_scopes(self.scopes.iter().cloned().map(Scope::new))
            .request_async(&self.http)
            .await
            .map_err(classify)
    }

    /// RFC 8628 section 3.4: poll (at the interval the provider asks) until the person has
    /// signed in, refused, or the code expired.
    pub async fn finish_device_login(
        &self,
        details: &StandardDeviceAuthorizationResponse,
    ) -> Result<Grant, OAuthError> {
        let token = self
            .client
            .exchange_device_access_token(details)
            .request_async(&self.http, tokio::time::sleep, None)
            .await
            .map_err(classify)?;
        Ok(grant(&token))
    }

    /// RFC 6749 section 4.1 with PKCE (RFC 7636): the address to open in a browser, the
    /// state to expect back, and the verifier the code is exchanged with.
    pub fn browser_request(
        &self,
        redirect: &str,
    ) -> Result<(String, CsrfToken, PkceCodeVerifier), OAuthError> {
        let redirect = RedirectUrl::new(redirect.to_string())
            .map_err(|e| OAuthError::Unreachable(e.to_string()))?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state) = self
            .client
            .authorize_url(CsrfToken::new_random)
            .map_err(unconfigured)?
            .add_scopes(self.scopes.iter().cloned().map(Scope::new))
            .set_pkce_challenge(challenge)
            .set_redirect_uri(std::borrow::Cow::Owned(redirect))
            // Google sends a refresh token only with offline access, and again only when
            // consent is asked; other providers ignore the first and honour the second.
            .add_extra_param("access_type", "offline")
            .add_extra_param("prompt", "consent")
            .url();
        Ok((url.to_string(), state, verifier))
    }

    /// The code the browser brought back, exchanged for the tokens.
    pub async fn finish_browser_login(
        &self,
        code: String,
        verifier: PkceCodeVerifier,
        redirect: &str,
    ) -> Result<Grant, OAuthError> {
        let redirect = RedirectUrl::new(redirect.to_string())
            .map_err(|e| OAuthError::Unreachable(e.to_string()))?;
        let token = self
            .client
            .exchange_code(AuthorizationCode::new(code))
            .set_pkce_verifier(verifier)
            .set_redirect_uri(std::borrow::Cow::Owned(redirect))
            .request_async(&self.http)
            .await
            .map_err(classify)?;
        Ok(grant(&token))
    }

    pub async fn refresh(&self, refresh: &RefreshToken) -> Result<Grant, OAuthError> {
        let token = oauth2::RefreshToken::new(refresh.expose().to_string());
        let response = self
            .client
            .exchange_refresh_token(&token)
            .request_async(&self.http)
            .await
            .map_err(classify)?;
        Ok(grant(&response))
    }
}

fn grant(token: &impl TokenResponse) -> Grant {
    Grant {
        access: AccessToken::new(token.access_token().secret().clone()),
        lifetime: token.expires_in().unwrap_or(DEFAULT_LIFETIME),
        refresh: token
            .refresh_token()
            .map(|r| RefreshToken::new(r.secret().clone())),
    }
}

/// A sign-in the configuration has no endpoint for.
fn unconfigured(e: oauth2::ConfigurationError) -> OAuthError {
    OAuthError::Refused(format!(
        "{e}: set it in [oauth2] or use the other login flow"
    ))
}

/// A provider's "no" (RFC 6749 section 5.2: invalid_grant and the like) needs a person;
/// anything else (network, a 5xx page, a garbled answer) may pass.
fn classify<RE, T>(error: RequestTokenError<RE, T>) -> OAuthError
where
    RE: std::error::Error + 'static,
    T: oauth2::ErrorResponse + 'static,
{
    match error {
        RequestTokenError::ServerResponse(response) => {
            let text = crate::text::single_line(&response.to_string());
            if is_transient(&text) {
                OAuthError::Unreachable(text)
            } else {
                OAuthError::Refused(text)
            }
        }
        RequestTokenError::Request(e) => OAuthError::Unreachable(chain(&e)),
        RequestTokenError::Parse(e, _) => {
            OAuthError::Unreachable(format!("unreadable answer from the provider: {e}"))
        }
        RequestTokenError::Other(e) => OAuthError::Unreachable(e),
    }
}

/// Error codes that say "later", not "no": RFC 8628's polling answers and servers busy.
fn is_transient(text: &str) -> bool {
    let code = text.split(':').next().unwrap_or_default().trim();
    matches!(
        code,
        "temporarily_unavailable" | "server_error" | "slow_down" | "authorization_pending"
    )
}

/// An error and its causes on one line (reqwest hides the useful part in its sources).
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
