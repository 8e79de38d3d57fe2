//! `imap.auth`, `smtp.auth` and the `[oauth2]` section: how buzon logs in to Microsoft 365,
//! Google Workspace or another provider's mailbox with OAuth2 tokens instead of a password.

use std::path::PathBuf;

use serde::Deserialize;

use super::{secret, ImapConfig, Secret, SmtpConfig, SupportConfig};

/// How buzon proves who it is to the IMAP or SMTP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMethod {
    /// LOGIN (IMAP) or AUTH PLAIN/LOGIN (SMTP) with the configured password.
    #[default]
    Password,
    /// SASL XOAUTH2 with an access token from `[oauth2]` (`buzon auth login` first).
    OAuth2,
}

/// Whose token endpoints to use; each knows its own addresses and default scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Provider {
    /// Microsoft identity platform; `tenant` is the directory (its domain or id), or
    /// `organizations` for any work account.
    Microsoft {
        tenant: String,
    },
    Google,
    /// Any other provider, named by its token endpoint and at least one way to sign in:
    /// a device-code endpoint (RFC 8628) or an authorization endpoint for the browser.
    Custom {
        token_url: String,
        device_authorization_url: Option<String>,
        authorization_url: Option<String>,
    },
}

#[derive(Debug, Clone)]
pub struct OAuth2Config {
    pub provider: Provider,
    pub client_id: String,
    /// Public clients (Microsoft's "allow public client flows", Google's TV/device clients
    /// of some kinds) have none.
    pub client_secret: Option<Secret>,
    pub scopes: Vec<String>,
}

impl OAuth2Config {
    pub fn token_url(&self) -> String {
        match &self.provider {
            Provider::Microsoft { tenant } => {
                format!("https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token")
            }
            Provider::Google => "https://oauth2.googleapis.com/token".into(),
            Provider::Custom { token_url, .. } => token_url.clone(),
        }
    }

    /// Where `buzon auth login --device` asks for a code (RFC 8628).
    pub fn device_authorization_url(&self) -> Option<String> {
        match &self.provider {
            Provider::Microsoft { tenant } => Some(format!(
                "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/devicecode"
            )),
            Provider::Google => Some("https://oauth2.googleapis.com/device/code".into()),
            Provider::Custom {
                device_authorization_url,
                ..
            } => device_authorization_url.clone(),
        }
    }

    /// Where `buzon auth login --browser` sends the browser (RFC 6749 section 4.1, with
    /// a loopback redirect as RFC 8252 asks of installed applications).
    pub fn authorization_url(&self) -> Option<String> {
        match &self.provider {
            Provider::Microsoft { tenant } => Some(format!(
                "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/authorize"
            )),
            Provider::Google => Some("https://accounts.google.com/o/oauth2/v2/auth".into()),
            Provider::Custom {
                authorization_url, ..
            } => authorization_url.clone(),
        }
    }

    /// The sign-in this provider can do without a web server of buzon's: Google's
    /// device-code flow refuses the Gmail scope, so Google signs in in a browser.
    pub fn preferred_login(&self) -> LoginFlow {
        match (&self.provider, self.device_authorization_url()) {
            (Provider::Google, _) | (_, None) => LoginFlow::Browser,
            _ => LoginFlow::Device,
        }
    }
}

/// How `buzon auth login` gets the first refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginFlow {
    /// RFC 8628: a code typed in any browser, on any machine.
    Device,
    /// RFC 6749 4.1 with PKCE (RFC 7636) and a loopback redirect (RFC 8252).
    Browser,
}

/// The scopes a provider needs for IMAP and SMTP, when `oauth2.scopes` is not given.
fn default_scopes(provider: &Provider) -> Vec<String> {
    let scopes: &[&str] = match provider {
        Provider::Microsoft { .. } => &[
            "https://outlook.office.com/IMAP.AccessAsUser.All",
            "https://outlook.office.com/SMTP.Send",
            "offline_access",
        ],
        Provider::Google => &["https://mail.google.com/"],
        Provider::Custom { .. } => &[],
    };
    scopes.iter().map(|s| s.to_string()).collect()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOAuth2 {
    provider: String,
    client_id: String,
    client_secret_file: Option<PathBuf>,
    tenant: Option<String>,
    scopes: Option<Vec<String>>,
    token_url: Option<String>,
    device_authorization_url: Option<String>,
    authorization_url: Option<String>,
}

pub(super) fn validate_oauth2(raw: RawOAuth2, p: &mut Vec<String>) -> Option<OAuth2Config> {
    let provider = provider(&raw, p);
    if raw.client_id.trim().is_empty() {
        p.push("oauth2.client_id: empty (the application's id from the app registration)".into());
    }
    let client_secret = secret("oauth2.client_secret", None, raw.client_secret_file, p);
    let provider = provider?;
    let scopes = raw.scopes.unwrap_or_else(|| default_scopes(&provider));
    if scopes.is_empty() {
        p.push("oauth2.scopes: give the scopes your provider wants for IMAP and SMTP".into());
    }
    Some(OAuth2Config {
        provider,
        client_id: raw.client_id.trim().to_string(),
        client_secret,
        scopes,
    })
}

fn provider(raw: &RawOAuth2, p: &mut Vec<String>) -> Option<Provider> {
    let custom_only = |p: &mut Vec<String>| {
        for (key, value) in [
            ("token_url", &raw.token_url),
            ("device_authorization_url", &raw.device_authorization_url),
            ("authorization_url", &raw.authorization_url),
        ] {
            if value.is_some() {
                p.push(format!("oauth2.{key}: only for provider = \"custom\""));
            }
        }
    };
    if raw.tenant.is_some() && raw.provider != "microsoft" {
        p.push("oauth2.tenant: only for provider = \"microsoft\"".into());
    }
    match raw.provider.as_str() {
        "microsoft" => {
            custom_only(p);
            let tenant = raw.tenant.clone().unwrap_or_else(|| "organizations".into());
            Some(Provider::Microsoft { tenant })
        }
        "google" => {
            custom_only(p);
            Some(Provider::Google)
        }
        "custom" => {
            let token_url = endpoint("oauth2.token_url", &raw.token_url, p);
            if raw.device_authorization_url.is_none() && raw.authorization_url.is_none() {
                p.push("oauth2.device_authorization_url or oauth2.authorization_url: give at least one (how the admin signs in)".into());
            }
            let optional = |key: &str, value: &Option<String>, p: &mut Vec<String>| {
                value.as_ref().and_then(|_| endpoint(key, value, p))
            };
            let device_authorization_url = optional(
                "oauth2.device_authorization_url",
                &raw.device_authorization_url,
                p,
            );
            let authorization_url = optional("oauth2.authorization_url", &raw.authorization_url, p);
            Some(Provider::Custom {
                token_url: token_url?,
                device_authorization_url,
                authorization_url,
            })
        }
        other => {
            p.push(format!(
                "oauth2.provider: '{other}' is not microsoft, google or custom"
            ));
            None
        }
    }
}

/// A custom endpoint: https, or http on this machine only (a token never crosses a network
/// in the clear).
fn endpoint(key: &str, value: &Option<String>, p: &mut Vec<String>) -> Option<String> {
    let Some(url) = value else {
        p.push(format!("{key}: required with provider = \"custom\""));
        return None;
    };
    let loopback = [
        "http://127.0.0.1:",
        "http://127.0.0.1/",
        "http://localhost:",
        "http://[::1]:",
    ];
    if url.starts_with("https://") || loopback.iter().any(|l| url.starts_with(l)) {
        Some(url.clone())
    } else {
        p.push(format!(
            "{key}: '{url}' must be https:// (http:// only on 127.0.0.1 or localhost)"
        ));
        None
    }
}

/// With OAuth2, IMAP and SMTP share one login (`buzon auth login` stores one refresh
/// token), an `[oauth2]` section, and an admin to tell when that login stops working.
pub(super) fn one_oauth2_login(
    imap: &ImapConfig,
    smtp: &mut SmtpConfig,
    support: &SupportConfig,
    oauth2: &Option<OAuth2Config>,
    p: &mut Vec<String>,
) {
    let users = [(imap.auth, "imap.auth"), (smtp.auth, "smtp.auth")];
    let Some((_, key)) = users.iter().find(|(a, _)| *a == AuthMethod::OAuth2) else {
        return;
    };
    if oauth2.is_none() {
        p.push(format!("{key}: \"oauth2\" needs an [oauth2] section"));
    }
    if support.admin.is_none() {
        p.push(
            "support.admin: required with OAuth2 (who is told when the login stops working)".into(),
        );
    }
    if smtp.auth == AuthMethod::OAuth2 {
        let user = smtp.username.get_or_insert_with(|| imap.username.clone());
        if imap.auth == AuthMethod::OAuth2 && *user != imap.username {
            p.push("smtp.username: must be imap.username when both use OAuth2 (one login)".into());
        }
    }
}

/// `<section>.password`: required with `auth = "password"`, refused with `"oauth2"`.
pub(super) fn password_for(
    section: &str,
    auth: AuthMethod,
    password: Option<Secret>,
    p: &mut Vec<String>,
) -> Option<Secret> {
    match (auth, password) {
        (AuthMethod::OAuth2, Some(_)) => {
            p.push(format!(
                "{section}.password: not used with auth = \"oauth2\" (remove it)"
            ));
            None
        }
        (_, password) => password,
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{from_toml, AuthMethod, LoginFlow, Provider};

    const BASE: &str = r#"
[imap]
host = "outlook.office365.com"
username = "soporte@example.test"
auth = "oauth2"
[smtp]
host = "smtp.office365.com"
auth = "oauth2"
[support]
address = "soporte@example.test"
secret = "0123456789abcdef0123"
admin = "it@example.test"
"#;

    #[test]
    fn microsoft_needs_only_a_client_id() {
        let text = format!("{BASE}[oauth2]\nprovider = \"microsoft\"\nclient_id = \"abc\"\n");
        let c = from_toml(&text, &[]).unwrap();
        assert_eq!(c.imap.auth, AuthMethod::OAuth2);
        // SMTP logs in as the IMAP mailbox: one login for both.
        assert_eq!(c.smtp.username.as_deref(), Some("soporte@example.test"));
        let o = c.oauth2.unwrap();
        assert_eq!(
            o.provider,
            Provider::Microsoft {
                tenant: "organizations".into()
            }
        );
        assert!(o.token_url().ends_with("/organizations/oauth2/v2.0/token"));
        assert_eq!(o.scopes.len(), 3);
        assert!(o.scopes.iter().any(|s| s == "offline_access"));
        assert_eq!(o.preferred_login(), LoginFlow::Device);
        let google = text.replace("microsoft", "google");
        let o = from_toml(&google, &[]).unwrap().oauth2.unwrap();
        assert_eq!(o.scopes, ["https://mail.google.com/"]);
        // Google's device flow refuses the Gmail scope: the browser it is.
        assert_eq!(o.preferred_login(), LoginFlow::Browser);
        assert!(o
            .authorization_url()
            .unwrap()
            .starts_with("https://accounts.google.com/"));
    }

    #[test]
    fn a_custom_provider_needs_one_way_to_sign_in() {
        let custom = format!(
            "{BASE}[oauth2]\nprovider = \"custom\"\nclient_id = \"a\"\nscopes = [\"mail\"]\ntoken_url = \"https://idp.example.test/token\"\n"
        );
        let err = from_toml(&custom, &[]).unwrap_err();
        assert!(err.to_string().contains("give at least one"), "{err}");
        let browser_only =
            format!("{custom}authorization_url = \"https://idp.example.test/auth\"\n");
        let o = from_toml(&browser_only, &[]).unwrap().oauth2.unwrap();
        assert_eq!(o.preferred_login(), LoginFlow::Browser);
        assert_eq!(o.device_authorization_url(), None);
    }

    #[test]
    fn every_oauth2_problem_is_one_line() {
        let text = BASE
            .replace("admin = \"it@example.test\"\n", "")
            .replace("auth = \"oauth2\"\n[support]", "auth = \"oauth2\"\npassword = \"x\"\n[support]")
            + "[oauth2]\nprovider = \"custom\"\nclient_id = \" \"\ntenant = \"t\"\ntoken_url = \"http://idp.example.test/token\"\n";
        let err = from_toml(&text, &[]).unwrap_err();
        for expected in [
            "smtp.password: not used with auth = \"oauth2\"",
            "support.admin: required with OAuth2",
            "oauth2.client_id: empty",
            "oauth2.tenant: only for provider = \"microsoft\"",
            "oauth2.token_url: 'http://idp.example.test/token' must be https://",
        ] {
            assert!(
                err.0.iter().any(|l| l.contains(expected)),
                "no '{expected}' in {err}"
            );
        }
        let no_section = from_toml(BASE, &[]).unwrap_err();
        assert!(
            no_section.to_string().contains("needs an [oauth2] section"),
            "{no_section}"
        );
        let no_admin = format!(
            "{}[oauth2]\nprovider = \"google\"\nclient_id = \"a\"\n",
            BASE.replace("admin = \"it@example.test\"\n", "")
        );
        let err = from_toml(&no_admin, &[]).unwrap_err();
        assert!(
            err.to_string()
                .contains("support.admin: required with OAuth2"),
            "{err}"
        );
    }
}
