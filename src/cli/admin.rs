//! Provisioning: who may open cases, and who answers them.

use std::io::Write;
use std::process::ExitCode;

use clap::Subcommand;

use super::terminal;
use crate::daemon::App;
use crate::domain::{EmailAddress, Language};
use crate::store::{CustomerRow, StoreError};

#[derive(Subcommand, Debug)]
pub enum CustomerCommand {
    /// Add a customer
    Add {
        email: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        org: Option<String>,
        #[arg(long)]
        language: Option<String>,
    },
    /// Change a customer's name, organisation or language
    Edit {
        email: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        org: Option<String>,
        #[arg(long)]
        language: Option<String>,
    },
    /// List them
    List,
    /// Remove a customer
    Remove { email: String },
}

#[derive(Subcommand, Debug)]
pub enum OrgCommand {
    /// Add an organisation
    Add {
        domain: String,
        #[arg(long)]
        name: Option<String>,
    },
    /// List them
    List,
    /// Remove an organisation
    Remove { domain: String },
}

#[derive(Subcommand, Debug)]
pub enum AgentCommand {
    /// Add an agent
    Add {
        email: String,
        #[arg(long)]
        name: Option<String>,
    },
    /// List them
    List,
    /// Remove an agent
    Remove { email: String },
}

fn usage(message: String) -> anyhow::Result<ExitCode> {
    eprintln!("buzon: {message}");
    Ok(ExitCode::from(2))
}

fn language(value: Option<String>) -> Result<Option<String>, String> {
    value
        .map(|l| l.parse::<Language>().map(|l| l.code().to_string()))
        .transpose()
}

fn domain(value: &str) -> Result<String, String> {
    let d = value.trim().trim_start_matches('@').to_lowercase();
    if d.contains('.') && !d.contains('@') && !d.chars().any(char::is_whitespace) {
        Ok(d)
    } else {
        Err(format!("'{value}' is not a domain"))
    }
}

/// Already exists / not found: the admin's mistake, said plainly, exit 1.
fn outcome(result: Result<(), StoreError>, done: String) -> anyhow::Result<ExitCode> {
    match result {
        Ok(()) => {
            super::say(format_args!("{done}"))?;
            Ok(ExitCode::SUCCESS)
        }
        Err(StoreError::Invalid(why)) => {
            eprintln!("buzon: {why}");
            Ok(ExitCode::from(1))
        }
        Err(e) => Err(e.into()),
    }
}

fn removed(found: bool, what: String) -> anyhow::Result<ExitCode> {
    if found {
        super::say(format_args!("removed {what}"))?;
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("buzon: no {what}");
        Ok(ExitCode::from(1))
    }
}

type CustomerFields = (EmailAddress, Option<String>, Option<String>);

fn customer_fields(
    email: &str,
    org: Option<String>,
    lang: Option<String>,
) -> Result<CustomerFields, String> {
    Ok((
        EmailAddress::parse(email)?,
        org.as_deref().map(domain).transpose()?,
        language(lang)?,
    ))
}

/// `buzon customer list`: one tab-separated line per customer.
async fn list_customers(app: &App) -> anyhow::Result<ExitCode> {
    let mut out = terminal::stdout();
    for c in app.store.customers().await? {
        writeln!(
            out,
            "{}\t{}\t{}\t{}",
            c.email,
            c.name.unwrap_or_default(),
            c.org_domain.unwrap_or_default(),
            c.language.unwrap_or_default()
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn customer(app: &App, command: CustomerCommand) -> anyhow::Result<ExitCode> {
    match command {
        CustomerCommand::Add {
            email,
            name,
            org,
            language: lang,
        } => {
            let (email, org, lang) = match customer_fields(&email, org, lang) {
                Ok(fields) => fields,
                Err(e) => return usage(e),
            };
            let row = CustomerRow {
                email: email.to_string(),
                name,
                org_domain: org,
                language: lang,
            };
            outcome(
                app.store.add_customer(&row).await,
                format!("added customer {email}"),
            )
        }
        CustomerCommand::Edit {
            email,
            name,
            org,
            language: lang,
        } => {
            let (email, org, lang) = match customer_fields(&email, org, lang) {
                Ok(fields) => fields,
                Err(e) => return usage(e),
            };
            let result = app
                .store
                .edit_customer(
                    email.as_str(),
                    name.as_deref(),
                    org.as_deref(),
                    lang.as_deref(),
                )
                .await;
            outcome(result, format!("updated customer {email}"))
        }
        CustomerCommand::List => list_customers(app).await,
        CustomerCommand::Remove { email } => {
            let email = EmailAddress::canonical(&email);
            removed(
                app.store.remove_customer(&email).await?,
                format!("customer {email}"),
            )
        }
    }
}

pub async fn org(app: &App, command: OrgCommand) -> anyhow::Result<ExitCode> {
    match command {
        OrgCommand::Add { domain: d, name } => match domain(&d) {
            Ok(d) => outcome(
                app.store.add_org(&d, name.as_deref()).await,
                format!("added organisation {d}"),
            ),
            Err(e) => usage(e),
        },
        OrgCommand::List => {
            let mut out = terminal::stdout();
            for o in app.store.orgs().await? {
                writeln!(out, "{}\t{}", o.domain, o.name.unwrap_or_default())?;
            }
            Ok(ExitCode::SUCCESS)
        }
        OrgCommand::Remove { domain: d } => {
            let d = d.trim().to_lowercase();
            removed(app.store.remove_org(&d).await?, format!("organisation {d}"))
        }
    }
}

pub async fn agent(app: &App, command: AgentCommand) -> anyhow::Result<ExitCode> {
    match command {
        AgentCommand::Add { email, name } => match EmailAddress::parse(&email) {
            Ok(e) => outcome(
                app.store.add_agent(e.as_str(), name.as_deref()).await,
                format!("added agent {e}"),
            ),
            Err(e) => usage(e),
        },
        AgentCommand::List => {
            let mut out = terminal::stdout();
            for a in &app.config.agents.addresses {
                writeln!(out, "{a}\t(configuration)")?;
            }
            for a in app.store.agents().await? {
                writeln!(out, "{}\t{}", a.email, a.name.unwrap_or_default())?;
            }
            Ok(ExitCode::SUCCESS)
        }
        AgentCommand::Remove { email } => {
            let email = EmailAddress::canonical(&email);
            removed(
                app.store.remove_agent(&email).await?,
                format!("agent {email}"),
            )
        }
    }
}
