//! `buzon auth login`: sign in as the mailbox once, from any browser, and leave the rest to
//! the daemon (it refreshes the token and picks up a new login at once).

use std::process::ExitCode;

use clap::Subcommand;

use super::say;
use crate::config::Provider;
use crate::daemon::App;
use crate::oauth2::login::{device_login, Prompt};

#[derive(Subcommand, Debug)]
pub enum AuthCommand {
    /// Sign in as the mailbox with a device code (RFC 8628) and store the refresh token,
    /// sealed with support.secret
    Login {
        /// The mailbox to sign in as (its name in [[mailboxes]]); default: the desk's login
        #[arg(long)]
        mailbox: Option<String>,
    },
}

pub async fn auth(app: &App, command: AuthCommand) -> anyhow::Result<ExitCode> {
    let AuthCommand::Login { mailbox } = command;
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
    let Some(tokens) = &tokens else {
        eprintln!(
            "buzon: nothing to log in to: set imap.auth or smtp.auth = \"oauth2\" and an [oauth2] section"
        );
        return Ok(ExitCode::from(2));
    };
    let mut shown = Ok(());
    let login = device_login(tokens, |prompt| shown = show(tokens.account(), prompt)).await;
    let google = matches!(
        app.config.oauth2.as_ref().map(|o| &o.provider),
        Some(Provider::Google)
    );
    if let (Err(e), true) = (&login, google) {
        // README, "Gmail": Google's device flow does not offer the Gmail scope.
        anyhow::bail!("{e} (Google's device-code flow does not allow the Gmail scope; see the README, \"Gmail\")");
    }
    login?;
    shown?;
    // Prove the stored login works before saying so.
    tokens.access_token().await?;
    say(format_args!(
        "signed in: the login of {} is stored; a running buzon uses it at once",
        tokens.account()
    ))?;
    Ok(ExitCode::SUCCESS)
}

fn show(account: &str, prompt: &Prompt) -> std::io::Result<()> {
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
