//! `buzon auth login`: sign in as the mailbox once, and leave the rest to the daemon (it
//! refreshes the token and picks up a new login at once).

use std::process::ExitCode;

use clap::Subcommand;

use super::say;
use crate::config::LoginFlow;
use crate::daemon::App;
use crate::oauth2::login::{browser_login, device_login, Prompt};
use crate::oauth2::TokenSource;

#[derive(Subcommand, Debug)]
pub enum AuthCommand {
    /// Sign in as the mailbox and store the refresh token, sealed with support.secret.
    /// Google signs in in a browser (its device flow refuses the Gmail scope); other
    /// providers with a device code (RFC 8628) unless --browser is given
    Login {
        /// The mailbox to sign in as (its name in [[mailboxes]]); default: the desk's login
        #[arg(long)]
        mailbox: Option<String>,
        /// Sign in with a code typed in any browser, on any machine (RFC 8628)
        #[arg(long, conflicts_with = "browser")]
        device: bool,
        /// Sign in in a browser that comes back to 127.0.0.1 (PKCE, RFC 8252)
        #[arg(long)]
        browser: bool,
        /// The loopback port of --browser (0: any free one; fix it for an SSH tunnel)
        #[arg(long, default_value_t = 0)]
        port: u16,
    },
}

pub async fn auth(app: &App, command: AuthCommand) -> anyhow::Result<ExitCode> {
    let AuthCommand::Login {
        mailbox,
        device,
        browser,
        port,
    } = command;
    let tokens = match &mailbox {
        None => app.tokens.clone(),
        Some(name) => {
            let Some(m) = app
                .config
                .mailboxes
                .iter()
                .find(|m| m.name.as_str() == name)
            else {
                eprintln!("buzon: no mailbox '{name}' in the configuration");
                return Ok(ExitCode::from(2));
            };
            crate::daemon::mailbox_login(app, m)
        }
    };
    let (Some(tokens), Some(oauth2)) = (&tokens, &app.config.oauth2) else {
        eprintln!(
            "buzon: nothing to log in to: set imap.auth or smtp.auth = \"oauth2\" and an [oauth2] section"
        );
        return Ok(ExitCode::from(2));
    };
    let flow = match (device, browser) {
        (true, _) => LoginFlow::Device,
        (_, true) => LoginFlow::Browser,
        _ => oauth2.preferred_login(),
    };
    let mut shown = Ok(());
    match flow {
        LoginFlow::Device => {
            device_login(tokens, |p| shown = show_code(tokens.account(), p)).await?
        }
        LoginFlow::Browser => {
            browser_login(tokens, port, |url, port| {
                shown = show_url(tokens.account(), url, port)
            })
            .await?
        }
    }
    shown?;
    proven(tokens).await
}

/// Prove the stored login works before saying so.
async fn proven(tokens: &TokenSource) -> anyhow::Result<ExitCode> {
    tokens.access_token().await?;
    say(format_args!(
        "signed in: the login of {} is stored; a running buzon uses it at once",
        tokens.account()
    ))?;
    Ok(ExitCode::SUCCESS)
}

fn show_code(account: &str, prompt: &Prompt) -> std::io::Result<()> {
    say(format_args!("To let buzon use {account}, open"))?;
    say(format_args!("    {}", prompt.verification_uri))?;
    say(format_args!(
        "and enter the code {} (signed in as {account}).",
        prompt.user_code
    ))?;
    if let Some(complete) = &prompt.verification_uri_complete {
        say(format_args!("Or open {complete}"))?;
    }
    say(format_args!(
        "Waiting for the sign-in (the code expires in {} minutes)...",
        prompt.expires_in_secs.div_ceil(60)
    ))
}

fn show_url(account: &str, url: &str, port: u16) -> std::io::Result<()> {
    say(format_args!(
        "To let buzon use {account}, open this address in a browser on this machine and sign in as {account}:"
    ))?;
    say(format_args!("    {url}"))?;
    say(format_args!(
        "From another machine, first run: ssh -L {port}:127.0.0.1:{port} <this server>"
    ))?;
    say(format_args!(
        "Waiting for the browser to come back (10 minutes)..."
    ))
}
