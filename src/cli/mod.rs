//! The command line (SPEC.md "Command line"): parse, load the configuration, dispatch.
//! Exit codes: 0 success, 1 failure, 2 bad usage or bad configuration.

mod admin;
mod auth;
mod check;
mod migrate;
mod sla_view;
mod status;
mod terminal;
mod views;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{self, Config};
use crate::daemon::{self, App};

/// `buzon --version`: the release and the git commit it was built from (build.rs).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (git ",
    env!("BUZON_GIT_COMMIT"),
    ")"
);

#[derive(Parser, Debug)]
#[command(
    name = "buzon",
    version = VERSION,
    about = "A support-case desk whose whole interface is email"
)]
pub struct Cli {
    /// Configuration file (default: $BUZON_CONFIG, else ./buzon.toml)
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the daemon: fetch, process and send until SIGTERM or Ctrl-C
    Run,
    /// Validate the configuration and connect to the database, IMAP and SMTP
    Check,
    /// Apply database migrations (run does it too); on PostgreSQL, move blob files into the database
    Migrate,
    /// List cases
    Cases {
        #[arg(long, default_value = "all", value_parser = ["open", "closed", "all"])]
        status: String,
        /// Words that must all appear in the subject (case and accents ignored)
        #[arg(long)]
        search: Option<String>,
        /// Cases this address takes part in
        #[arg(long)]
        customer: Option<String>,
        /// Cases of this mailbox (its name in the configuration; `default` with [imap])
        #[arg(long)]
        mailbox: Option<String>,
        /// Show at most this many, most recently active first (0: all)
        #[arg(long, default_value_t = 100)]
        limit: i64,
        /// Only open cases past their SLA target (breached), most overdue first
        #[arg(long)]
        overdue: bool,
        #[arg(long)]
        json: bool,
    },
    /// One case with its activity history
    Case {
        number: i64,
        #[arg(long)]
        json: bool,
    },
    /// One history entry; --raw prints the exact bytes
    Email {
        id: i64,
        #[arg(long)]
        raw: bool,
    },
    /// Customers who may open cases
    #[command(subcommand)]
    Customer(admin::CustomerCommand),
    /// Organisations: every address at their domain may open cases
    #[command(subcommand)]
    Org(admin::OrgCommand),
    /// Agents of the support team
    #[command(subcommand)]
    Agent(admin::AgentCommand),
    /// Mails that could not be processed or were quarantined, outgoing mail that was refused,
    /// and addresses that bounced
    Failed,
    /// Mail from senders who are not provisioned (replay one with `buzon retry ID` after
    /// `buzon customer add`)
    Denied,
    /// Feed an archive (mbox or a single .eml) through the pipeline, with a progress bar
    Import {
        file: PathBuf,
        /// Also send the acknowledgements and notifications (default: recorded, not sent)
        #[arg(long)]
        send: bool,
    },
    /// OAuth2 login of the mailbox (imap.auth / smtp.auth = "oauth2")
    #[command(subcommand)]
    Auth(auth::AuthCommand),
    /// Put a failed, quarantined or denied mail (or, with --outbox, a refused outgoing mail)
    /// back in line
    Retry {
        id: i64,
        #[arg(long)]
        outbox: bool,
    },
    /// Health, as /health answers it: each mailbox's last sync, the outbox, and why buzon is
    /// unhealthy if it is (exit 1), for cron or monitoring without HTTP
    Status {
        /// /health's JSON body
        #[arg(long)]
        json: bool,
    },
}

/// Run the command; print errors once, here at the edge.
pub async fn execute(cli: Cli) -> ExitCode {
    let path = config::config_path(cli.config.as_deref());
    let config = match config::load(&path) {
        Ok(c) => c,
        Err(errors) => {
            for line in &errors.0 {
                eprintln!("buzon: {line}");
            }
            return ExitCode::from(2);
        }
    };
    crate::logging::init(&config.log);
    match dispatch(cli.command, config, path).await {
        Ok(code) => code,
        // `buzon case 2 | head`: the reader has what it wanted; nothing to report.
        Err(e) if closed_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("buzon: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// Whether the error is stdout's reader having gone away (EPIPE): the one failure of a
/// view that is no failure.
fn closed_pipe(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<std::io::Error>())
        .any(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
}

/// `println!` panics when stdout is a closed pipe; every view writes through this instead
/// and lets the error reach [`execute`].
pub(crate) fn say(line: std::fmt::Arguments<'_>) -> std::io::Result<()> {
    use std::io::Write;
    writeln!(std::io::stdout().lock(), "{line}")
}

async fn dispatch(command: Command, config: Config, path: PathBuf) -> anyhow::Result<ExitCode> {
    if let Command::Check = command {
        return Ok(check::check(config).await);
    }
    let app = App::build(config).await?;
    match command {
        Command::Run => {
            daemon::run_with(app, daemon::Control::from_signals(path)).await?;
        }
        Command::Migrate => return migrate::migrate(&app).await,
        Command::Cases {
            overdue: true,
            json,
            ..
        } => sla_view::overdue(&app, json).await?,
        Command::Cases {
            status,
            search,
            customer,
            mailbox,
            limit,
            overdue: false,
            json,
        } => {
            let filter = views::case_filter(&status, search, customer, mailbox, limit);
            views::cases(&app, filter, json).await?
        }
        Command::Case { number, json } => return views::case(&app, number, json).await,
        Command::Email { id, raw } => return views::email(&app, id, raw).await,
        Command::Customer(c) => return admin::customer(&app, c).await,
        Command::Org(c) => return admin::org(&app, c).await,
        Command::Agent(c) => return admin::agent(&app, c).await,
        Command::Failed => views::failed(&app).await?,
        Command::Denied => views::denied(&app).await?,
        Command::Import { file, send } => {
            let outcomes = crate::import::import(&app, &file, send).await?;
            let total: usize = outcomes.values().sum();
            let summary: Vec<String> = outcomes.iter().map(|(k, n)| format!("{k}: {n}")).collect();
            say(format_args!(
                "imported {total} mails from {} ({})",
                file.display(),
                summary.join(", ")
            ))?;
        }
        Command::Retry { id, outbox } => return views::retry(&app, id, outbox).await,
        Command::Auth(c) => return auth::auth(&app, c).await,
        Command::Status { json } => return status::status(&app, json).await,
        Command::Check => unreachable!("handled above"),
    }
    Ok(ExitCode::SUCCESS)
}

pub use crate::text::format_time;
