//! systemd's side of `Type=notify` (contrib/systemd/buzon.service), with the `sd-notify`
//! crate (pure Rust; every call is a no-op when `NOTIFY_SOCKET` is unset, as outside
//! systemd and in tests that run the daemon in-process):
//! - `READY=1` once the first full IMAP sync is done, so `systemctl start` returns when
//!   buzon is really fetching, and units ordered after it start then;
//! - `WATCHDOG=1` every half `WatchdogSec`, but only while the processor's loop turns: a
//!   stuck loop stops the pings and systemd restarts buzon. (A mail server that is down is
//!   no reason to restart: `/health` reports it instead.)
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
                let quiet = now_ms() - progress.heartbeat.load(Ordering::Relaxed);
                if quiet < period.as_millis() as i64 {
                    tell(&[NotifyState::Watchdog]);
                } else {
                    warn!(quiet_ms = quiet, "the processor's loop is stuck: not feeding systemd's watchdog");
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
