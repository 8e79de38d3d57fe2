//! systemd's side of `Type=notify` (contrib/systemd/buzon.service), with the `sd-notify`
//! crate (pure Rust; every call is a no-op when `NOTIFY_SOCKET` is unset, as outside
//! systemd and in tests that run the daemon in-process):
//! - `READY=1` once the first full IMAP sync is done, so `systemctl start` returns when
//!   buzon is really fetching, and units ordered after it start then;
//! - `WATCHDOG=1` every half `WatchdogSec`, unless the processor has been on one batch for
//!   longer than `WatchdogSec`: a stuck loop stops the pings and systemd restarts buzon.
//!   (A mail server that is down is no reason to restart: `/health` reports it instead.)
//! - `STOPPING=1` on the way out; `RELOADING=1` … `READY=1` around a reload (`reload.rs`).

use std::sync::atomic::Ordering;
use std::time::Duration;

use sd_notify::NotifyState;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::Progress;
use crate::store::now_ms;

pub(super) async fn notify_systemd(progress: Progress, shutdown: CancellationToken) {
    let watchdog = sd_notify::watchdog_enabled();
    // Without a watchdog the tick never fires before shutdown.
    let tick = watchdog.map_or(Duration::from_secs(24 * 3600), |period| period / 2);
    let mut ready = false;
    loop {
        tokio::select! {
            _ = progress.synced.notified(), if !ready => {
                ready = true;
                info!("first sync done: ready");
                tell(&[NotifyState::Ready, NotifyState::Status("running: first sync done")]);
            }
            _ = tokio::time::sleep(tick), if watchdog.is_some() => {
                let period = watchdog.unwrap_or_default();
                let since = progress.busy_since.load(Ordering::Relaxed);
                let busy = if since == 0 { 0 } else { now_ms() - since };
                if busy < period.as_millis() as i64 {
                    tell(&[NotifyState::Watchdog]);
                } else {
                    warn!(busy_ms = busy, "the processor is stuck on one batch: not feeding systemd's watchdog");
                }
            }
            _ = shutdown.cancelled() => return,
        }
    }
}

pub(super) fn stopping() {
    tell(&[NotifyState::Stopping]);
}

/// Send to systemd; a failure is logged, never fatal (buzon runs fine without systemd).
pub(super) fn tell(states: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(states) {
        warn!(error = %e, "could not notify systemd");
    }
}
