//! `buzon run`: the three stages as tasks joined by committed rows, woken by in-memory
//! pokes (a lost poke only delays work; the rows are the truth). One cancellation token
//! stops them all; in-flight work finishes or stays uncommitted. Beside the stages:
//! `/health` and `/metrics` when `http.listen` is set, systemd's notifications
//! (`service.rs`) and SIGHUP's reload (`reload.rs`).

mod liveness;
mod process;
mod reload;
mod service;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::apply::Processor;
use crate::blobs::BlobStore;
use crate::compose::{Composer, Templates};
use crate::config::{Config, MailboxConfig};
use crate::fetch::Fetcher;
use crate::health::metrics::Metrics;
use crate::oauth2::watch::watch;
use crate::oauth2::TokenSource;
use crate::send::Sender;
use crate::store::Store;

/// Everything the stages share, built once at start (and again, in part, on reload).
#[derive(Clone)]
pub struct App {
    pub config: Arc<Config>,
    pub store: Store,
    pub blobs: BlobStore,
    pub composer: Arc<Composer>,
    /// What this process counted; kept across reloads.
    pub metrics: Arc<Metrics>,
    /// The OAuth2 login IMAP and SMTP share, when either uses one.
    pub tokens: Option<Arc<TokenSource>>,
    /// The scheduler's clock: the system's, `BUZON_TEST_CLOCK`'s, or a test's own.
    pub clock: Arc<dyn crate::schedule::Clock>,
}

impl App {
    /// Connect the database (migrating it), open storage, load and check the templates.
    pub async fn build(config: Config) -> anyhow::Result<App> {
        let store = Store::connect(&config.database_url).await?;
        store.migrate().await?;
        crate::private_files::storage_dir(&config.storage.dir)
            .map_err(|e| anyhow::anyhow!("storage.dir {}: {e}", config.storage.dir.display()))?;
        let blobs =
            BlobStore::new(&config.storage.dir, config.storage.fsync).with_store(store.clone());
        let composer = Arc::new(composer_for(&config)?);
        let tokens = TokenSource::for_config(&config, &store)?.map(Arc::new);
        Ok(App {
            config: Arc::new(config),
            store,
            blobs,
            composer,
            metrics: Arc::new(Metrics::new()),
            tokens,
            clock: crate::schedule::clock::from_env(),
        })
    }

    pub fn processor(&self) -> Processor {
        Processor::new(
            self.store.clone(),
            self.blobs.clone(),
            self.composer.clone(),
            self.config.clone(),
        )
    }
}

/// The templates (shipped, or the admin's `support.templates_dir`), loaded and checked.
fn composer_for(config: &Config) -> anyhow::Result<Composer> {
    Ok(Composer::new(
        Templates::load_with(config.support.templates_dir.as_deref())?,
        &config.support,
    ))
}

/// What stops the daemon and what asks it to reload its configuration: signals in
/// `buzon run` ([`Control::from_signals`]), a token in tests.
pub struct Control {
    pub shutdown: CancellationToken,
    /// Poked to re-read the configuration file (SIGHUP).
    pub reload: Arc<Notify>,
    /// The file to re-read; without one, a reload request is refused.
    pub config_path: Option<std::path::PathBuf>,
}

impl Control {
    pub fn new(shutdown: CancellationToken) -> Control {
        Control {
            shutdown,
            reload: Arc::new(Notify::new()),
            config_path: None,
        }
    }

    /// SIGINT and SIGTERM stop; SIGHUP reloads `config_path`.
    pub fn from_signals(config_path: std::path::PathBuf) -> Control {
        use tokio::signal::unix::{signal, SignalKind};
        let control = Control {
            config_path: Some(config_path),
            ..Control::new(CancellationToken::new())
        };
        let (stop, reload) = (control.shutdown.clone(), control.reload.clone());
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
        let mut hup = signal(SignalKind::hangup()).expect("SIGHUP handler");
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => break,
                    _ = term.recv() => break,
                    _ = hup.recv() => reload.notify_one(),
                }
            }
            stop.cancel();
        });
        control
    }
}

/// How long in-flight work may take to finish after a stop was asked for.
const STOP_DEADLINE: Duration = Duration::from_secs(8);

/// Run until `shutdown` (tests; no reload, no signals).
pub async fn run(app: App, shutdown: CancellationToken) -> anyhow::Result<()> {
    run_with(app, Control::new(shutdown)).await
}

pub async fn run_with(app: App, control: Control) -> anyhow::Result<()> {
    let shutdown = control.shutdown.clone();
    release_orphaned_leases(&app.store).await;
    let (publish, current) = watch::channel(app.clone());
    let mut tasks = JoinSet::new();
    if let Some(address) = app.config.http.listen {
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .map_err(|e| anyhow::anyhow!("http.listen {address}: {e}"))?;
        info!(%address, "serving /health and /metrics");
        let (current, shutdown) = (current.clone(), shutdown.clone());
        tasks.spawn(async move {
            if let Err(e) = crate::health::http::serve(listener, current, shutdown).await {
                warn!(error = %e, "health and metrics server stopped");
            }
        });
    }
    let progress = start_stages(&app, current, &shutdown, &mut tasks);
    tasks.spawn(service::notify_systemd(progress, shutdown.clone()));
    tasks.spawn(reload::on_request(control, publish));
    info!(address = %app.config.support.address, "buzon running");
    shutdown.cancelled().await;
    info!("stopping");
    service::stopping();
    let joined = tokio::time::timeout(STOP_DEADLINE, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if joined.is_err() {
        warn!("stages did not stop in time; abandoning uncommitted work");
        tasks.abort_all();
    }
    // What this process still holds goes back now, so other processes carry on at once
    // instead of when the leases run out.
    let conflicts = |c| crate::store::conflicts::met(c);
    use crate::store::conflicts::Conflict::{Deadlock, Serialization};
    info!(
        deadlocks = conflicts(Deadlock),
        serialization_failures = conflicts(Serialization),
        "database conflicts met and retried"
    );
    match app.store.release_own_leases().await {
        Ok(released) => info!(released, "leases given back"),
        Err(e) => warn!(error = %e, "could not give the leases back; they run out by themselves"),
    }
    app.store.close().await;
    Ok(())
}

/// Signs of life the stages give, for systemd.
pub(crate) struct Progress {
    /// Poked after each full IMAP sync.
    pub synced: Arc<Notify>,
    /// When the processor's batch in hand began (Unix ms; 0 while it waits for mail).
    pub busy_since: Arc<std::sync::atomic::AtomicI64>,
}

fn start_stages(
    app: &App,
    current: watch::Receiver<App>,
    shutdown: &CancellationToken,
    tasks: &mut JoinSet<()>,
) -> Progress {
    let stored = Arc::new(Notify::new());
    let processed = Arc::new(Notify::new());
    let ready = Arc::new(Notify::new());
    let progress = Progress {
        synced: Arc::new(Notify::new()),
        busy_since: Arc::new(0.into()),
    };
    start_fetchers(
        app,
        (&stored, &processed, &progress.synced),
        shutdown,
        tasks,
    );
    let processing_current = current.clone();
    let processing = process::ProcessLoop {
        current,
        stored: stored.clone(),
        processed,
        ready: ready.clone(),
        busy_since: progress.busy_since.clone(),
    };
    tasks.spawn(processing.run(shutdown.clone()));
    let sender = Sender {
        config: app.config.clone(),
        store: app.store.clone(),
        blobs: app.blobs.clone(),
        ready: ready.clone(),
        metrics: app.metrics.clone(),
        tokens: app.tokens.clone(),
    };
    if let Some(tokens) = &app.tokens {
        let watch = watch(
            app.config.clone(),
            app.store.clone(),
            tokens.clone(),
            shutdown.clone(),
        );
        tasks.spawn(watch);
    }
    tasks.spawn(crate::schedule::run(
        processing_current,
        ready.clone(),
        shutdown.clone(),
    ));
    if app.store.backend() == crate::store::Backend::Postgres {
        let beat = liveness::beat(app.store.clone(), stored, ready.clone(), shutdown.clone());
        tasks.spawn(beat);
    }
    // Mail committed before a restart is waiting already.
    ready.notify_one();
    tasks.spawn(sender.run(shutdown.clone()));
    progress
}

/// One fetcher per mailbox; `pokes` are what they wake: (mail stored, mail processed,
/// a full sync done).
fn start_fetchers(
    app: &App,
    pokes: (&Arc<Notify>, &Arc<Notify>, &Arc<Notify>),
    shutdown: &CancellationToken,
    tasks: &mut JoinSet<()>,
) {
    let (stored, processed, synced) = pokes;
    for mailbox in &app.config.mailboxes {
        let fetcher = Fetcher {
            config: app.config.clone(),
            mailbox: mailbox.clone(),
            store: app.store.clone(),
            blobs: app.blobs.clone(),
            stored: stored.clone(),
            processed: processed.clone(),
            synced: synced.clone(),
            metrics: app.metrics.clone(),
            tokens: mailbox_login(app, mailbox),
        };
        tasks.spawn(fetcher.run(shutdown.clone()));
    }
}

/// The OAuth2 login a mailbox's fetcher uses: the desk's own when it is that account's,
/// else one of its own (same `[oauth2]` application, the account's own stored token).
pub(crate) fn mailbox_login(app: &App, mailbox: &MailboxConfig) -> Option<Arc<TokenSource>> {
    if mailbox.imap.auth != crate::config::AuthMethod::OAuth2 {
        return None;
    }
    match &app.tokens {
        Some(desk) if desk.account() == mailbox.imap.username => Some(desk.clone()),
        _ => TokenSource::for_account(&app.config, &app.store, mailbox.imap.username.clone())
            .map_err(|e| warn!(mailbox = %mailbox.name, error = %e, "no OAuth2 login"))
            .ok()
            .flatten()
            .map(Arc::new),
    }
}

async fn release_orphaned_leases(store: &Store) {
    match store.release_orphaned_leases().await {
        Ok(0) => {}
        Ok(n) => info!(
            released = n,
            "took back the work of a crashed buzon on this machine"
        ),
        Err(e) => warn!(error = %e, "could not check for orphaned leases"),
    }
}
