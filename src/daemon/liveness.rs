//! Several processes (PostgreSQL): each says it is alive every three seconds (`processes`),
//! and takes over the mails and outgoing mail leased by any process that stopped saying so
//! for `ALIVE_MS` (killed, paused, its machine gone), instead of waiting out their 5-minute
//! leases. A dead watcher's mailbox is taken over by its own lease (`src/fetch/lease.rs`).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::store::Store;

const BEAT_EVERY: Duration = Duration::from_secs(3);

/// Beat and reap until shutdown; poke the processor and the sender when work came free.
pub(super) async fn beat(
    store: Store,
    stored: Arc<Notify>,
    ready: Arc<Notify>,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(BEAT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.cancelled() => return,
        }
        if let Err(e) = store.beat().await {
            warn!(error = %e, "cannot record that this process is alive");
        }
        match store.reap_dead_leases().await {
            Ok(0) => {}
            Ok(taken) => {
                info!(
                    taken,
                    "took over the work of a process that stopped answering"
                );
                stored.notify_one();
                ready.notify_one();
            }
            Err(e) => warn!(error = %e, "cannot check for processes that stopped answering"),
        }
    }
}
