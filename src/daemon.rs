//! `buzon run`: the three stages as tasks joined by committed rows, woken by in-memory
//! pokes (a lost poke only delays work; the rows are the truth). One cancellation token
//! stops them all; in-flight work finishes or stays uncommitted.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::apply::{Processor, Step};
use crate::backoff::Backoff;
use crate::blobs::BlobStore;
use crate::compose::{Composer, Templates};
use crate::config::Config;
use crate::fetch::Fetcher;
use crate::oauth2::watch::watch;
use crate::oauth2::TokenSource;
use crate::send::Sender;
use crate::store::Store;

/// Everything the stages share, built once at start.
#[derive(Clone)]
pub struct App {
    pub config: Arc<Config>,
    pub store: Store,
    pub blobs: BlobStore,
    pub composer: Arc<Composer>,
    /// The OAuth2 login IMAP and SMTP share, when either uses one.
    pub tokens: Option<Arc<TokenSource>>,
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
        let composer = Arc::new(Composer::new(
            Templates::load_with(config.support.templates_dir.as_deref())?,
            &config.support,
        ));
        let tokens = TokenSource::for_config(&config, &store)?.map(Arc::new);
        Ok(App {
            config: Arc::new(config),
            store,
            blobs,
            composer,
            tokens,
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

/// How long in-flight work may take to finish after a stop was asked for.
const STOP_DEADLINE: Duration = Duration::from_secs(8);

pub async fn run(app: App, shutdown: CancellationToken) -> anyhow::Result<()> {
    let stored = Arc::new(Notify::new());
    let processed = Arc::new(Notify::new());
    let ready = Arc::new(Notify::new());
    match app.store.release_orphaned_leases().await {
        Ok(0) => {}
        Ok(n) => info!(
            released = n,
            "took back the work of a crashed buzon on this machine"
        ),
        Err(e) => warn!(error = %e, "could not check for orphaned leases"),
    }
    let mut tasks = tokio::task::JoinSet::new();
    let fetcher = Fetcher {
        config: app.config.clone(),
        store: app.store.clone(),
        blobs: app.blobs.clone(),
        stored: stored.clone(),
        processed: processed.clone(),
        tokens: app.tokens.clone(),
    };
    tasks.spawn(fetcher.run(shutdown.clone()));
    let processor = app.processor();
    tasks.spawn(process_loop(
        processor,
        stored,
        processed,
        ready.clone(),
        shutdown.clone(),
    ));
    let sender = Sender {
        config: app.config.clone(),
        store: app.store.clone(),
        blobs: app.blobs.clone(),
        ready: ready.clone(),
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
    // Mail committed before a restart is waiting already.
    ready.notify_one();
    tasks.spawn(sender.run(shutdown.clone()));
    info!(address = %app.config.support.address, "buzon running");
    shutdown.cancelled().await;
    info!("stopping");
    let joined = tokio::time::timeout(STOP_DEADLINE, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if joined.is_err() {
        warn!("stages did not stop in time; abandoning uncommitted work");
        tasks.abort_all();
    }
    app.store.close().await;
    Ok(())
}

const SIDE_EFFECT_BATCH: usize = 200;

/// Mails applied in one transaction when a backlog waits (one alone when mail trickles in).
const BATCH_MAILS: usize = 16;

async fn process_loop(
    processor: Processor,
    stored: Arc<Notify>,
    processed: Arc<Notify>,
    ready: Arc<Notify>,
    shutdown: CancellationToken,
) {
    let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(5));
    // Mails committed whose IMAP flag or move is not asked for yet: the fetcher is poked once
    // the backlog is drained (or every SIDE_EFFECT_BATCH mails), not once per mail, so a
    // backlog does not turn into one IDLE interruption and UID STORE per mail.
    let mut unflagged = 0;
    while !shutdown.is_cancelled() {
        let_the_sender_catch_up(&processor, &shutdown).await;
        let steps = processor.process_batch(BATCH_MAILS).await;
        let pause = match steps.as_deref() {
            Ok([Step::Idle]) => {
                if unflagged > 0 {
                    processed.notify_one();
                    unflagged = 0;
                }
                tokio::select! {
                    _ = stored.notified() => {}
                    _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                    _ = shutdown.cancelled() => {}
                }
                None
            }
            Ok(steps) if steps.iter().all(|s| matches!(s, Step::Postponed { .. })) => {
                Some(backoff.next_delay())
            }
            Ok(steps) => {
                backoff.reset();
                ready.notify_one();
                unflagged += steps.len();
                if unflagged >= SIDE_EFFECT_BATCH {
                    processed.notify_one();
                    unflagged = 0;
                }
                None
            }
            Err(e) => {
                warn!(error = %e, "database unavailable");
                Some(backoff.next_delay())
            }
        };
        if let Some(delay) = pause {
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = shutdown.cancelled() => {}
            }
        }
    }
    info!("processor stopped");
}

/// Backpressure: while more acknowledgements wait in the outbox than the sender can take
/// in a moment, the processor pauses (2 s at most, so a stalled SMTP server never stops
/// cases from being created). Both stages write to one database; without this, a backlog
/// drain made every case first and sent the acknowledgements only afterwards, so that the
/// first customers waited as long as the last.
async fn let_the_sender_catch_up(processor: &Processor, shutdown: &CancellationToken) {
    let high = processor.outbox_high_water();
    let started = tokio::time::Instant::now();
    while started.elapsed() < Duration::from_secs(2) && !shutdown.is_cancelled() {
        match processor.outbox_waiting().await {
            Ok(waiting) if waiting > high => {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            _ => return,
        }
    }
}

/// A token cancelled by SIGINT or SIGTERM.
pub fn shutdown_on_signals() -> CancellationToken {
    let token = CancellationToken::new();
    let trigger = token.clone();
    tokio::spawn(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        trigger.cancel();
    });
    token
}
