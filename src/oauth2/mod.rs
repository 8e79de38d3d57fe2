//! OAuth2 logins for IMAP and SMTP (`imap.auth = "oauth2"`): Microsoft 365 and Gmail turned
//! passwords off, so buzon logs in with SASL XOAUTH2 and a short-lived access token.
//!
//! ```text
//! buzon auth login   device code (RFC 8628), or a browser back to 127.0.0.1 with PKCE
//!                    (loopback.rs) -> refresh token, sealed (seal.rs) into the store
//! TokenSource        refresh token -> access token, renewed at half its life and when the
//!                    server refuses one; a rotated refresh token replaces the old one
//! watch.rs           keeps the token fresh while nothing connects, and mails
//!                    support.admin (once a day) when refreshing fails
//! ```
//!
//! A failing refresh is retried with backoff; a `buzon auth login` meanwhile is picked up
//! at once, because each attempt first looks at the stored token.

mod flows;
pub mod login;
mod loopback;
pub mod seal;
mod source;
pub mod watch;

use std::fmt;

pub use flows::{Grant, Provider};
pub use source::TokenSource;

/// Defines a token newtype whose `Debug` never shows the value: tokens are bearer
/// credentials, and a log line holding one would log anyone in.
macro_rules! secret_token {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            pub fn new(value: impl Into<String>) -> Self {
                $name(value.into())
            }
            pub fn expose(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(***)"))
            }
        }
    };
}

secret_token!(
    /// What IMAP and SMTP servers accept for about an hour.
    AccessToken
);
secret_token!(
    /// What buys new access tokens; lives for months, so it is stored only sealed.
    RefreshToken
);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OAuthError {
    #[error("no OAuth2 login stored for {0}: run `buzon auth login`")]
    NotLoggedIn(String),
    #[error("the provider refused: {0}")]
    Refused(String),
    #[error("the token endpoint is unreachable: {0}")]
    Unreachable(String),
    #[error("the stored login does not open with support.secret (changed without keeping the old one in previous_secrets?)")]
    Unsealable,
    #[error("database: {0}")]
    Store(String),
}

impl OAuthError {
    /// Only a person can mend it (`buzon auth login`); waiting will not.
    pub fn needs_login(&self) -> bool {
        matches!(
            self,
            OAuthError::NotLoggedIn(_) | OAuthError::Refused(_) | OAuthError::Unsealable
        )
    }
}

impl From<crate::store::StoreError> for OAuthError {
    fn from(e: crate::store::StoreError) -> Self {
        OAuthError::Store(e.to_string())
    }
}

/// The SASL XOAUTH2 initial response (Google's and Microsoft's protocol documents): the
/// user and the bearer token, separated by ^A.
pub fn xoauth2_response(user: &str, token: &AccessToken) -> String {
    format!("user={user}\x01auth=Bearer {}\x01\x01", token.expose())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_never_show_in_debug() {
        let token = AccessToken::new("eyJ0eXAiOiJKV1Qi.secret");
        assert_eq!(format!("{token:?}"), "AccessToken(***)");
        assert_eq!(
            format!("{:?}", RefreshToken::new("0.AAAA")),
            "RefreshToken(***)"
        );
    }

    #[test]
    fn xoauth2_response_is_the_documented_format() {
        let token = AccessToken::new("ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg");
        assert_eq!(
            xoauth2_response("someuser@example.com", &token),
            "user=someuser@example.com\x01auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01"
        );
    }
}
