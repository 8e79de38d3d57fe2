//! The middle stage's loop: apply stored mail in batches, wake the sender and the fetcher,
//! back off while the database is unavailable. A reload shows up here as a new [`App`] on
//! the watch channel; the processor is rebuilt from it between batches, never inside one.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::App;
use crate::apply::{Processor, Step};
use crate::backoff::Backoff;
use crate::health::metrics::{Component, Metrics};
use crate::store::{now_ms, StoreError};

const SIDE_EFFECT_BATCH: usize = 200;

/// Mails applied in one transaction when a backlog waits (one alone when mail trickles in).
const BATCH_MAILS: usize = 16;

pub(super) struct ProcessLoop {
    /// The running configuration; replaced on reload.
    pub current: watch::Receiver<App>,
    /// Poked by the fetcher after it stores mail.
    pub stored: Arc<Notify>,
    /// Poked here so the fetcher flags or moves what was committed.
    pub processed: Arc<Notify>,
    /// Poked here so the sender looks at the outbox.
    pub ready: Arc<Notify>,
    /// When the batch in hand began (Unix ms), 0 while waiting for mail: systemd's
    /// watchdog is not fed while one batch takes longer than its period.
    pub busy_since: Arc<AtomicI64>,
}

impl ProcessLoop {
    pub async fn run(mut self, shutdown: CancellationToken) {
        let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(5));
        let (mut processor, mut metrics) = self.take_current();
        // Mails committed whose IMAP flag or move is not asked for yet: the fetcher is poked
        // once the backlog is drained (or every SIDE_EFFECT_BATCH mails), not once per mail,
        // so a backlog does not turn into one IDLE interruption and UID STORE per mail.
        let mut unflagged = 0;
        while !shutdown.is_cancelled() {
            self.busy_since.store(now_ms(), Ordering::Relaxed);
            if self.current.has_changed().unwrap_or(false) {
                (processor, metrics) = self.take_current();
            }
            let_the_sender_catch_up(&processor, &shutdown).await;
            let steps = processor.process_batch(BATCH_MAILS).await;
            count(&metrics, &steps);
            let pause = match steps.as_deref() {
                Ok([Step::Idle]) => {
                    if unflagged > 0 {
                        self.processed.notify_one();
                        unflagged = 0;
                    }
                    self.busy_since.store(0, Ordering::Relaxed);
                    tokio::select! {
                        _ = self.stored.notified() => {}
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
                    self.ready.notify_one();
                    unflagged += steps.len();
                    if unflagged >= SIDE_EFFECT_BATCH {
                        self.processed.notify_one();
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
                self.busy_since.store(0, Ordering::Relaxed);
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = shutdown.cancelled() => {}
                }
            }
        }
        info!("processor stopped");
    }

    fn take_current(&mut self) -> (Processor, Arc<Metrics>) {
        let app = self.current.borrow_and_update();
        (app.processor(), app.metrics.clone())
    }
}

/// Each mail's outcome, as `buzon_mails_applied_total{outcome}`.
fn count(metrics: &Metrics, steps: &Result<Vec<Step>, StoreError>) {
    match steps {
        Ok(steps) => {
            for step in steps {
                match step {
                    Step::Idle => {}
                    Step::Done { outcome, .. } => metrics.applied(outcome.name()),
                    Step::Failed { .. } => metrics.applied("failed"),
                    Step::Postponed { .. } => metrics.applied("postponed"),
                }
            }
        }
        Err(_) => metrics.error(Component::Database),
    }
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
