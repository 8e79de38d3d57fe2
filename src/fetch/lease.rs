//! One watcher per mailbox. On PostgreSQL any number of processes run the fetcher, but only
//! the holder of the mailbox's fetch lease (`fetch_leases`, `src/store/leases.rs`) logs in
//! and IDLEs; the others ask for the lease every two seconds. The holder renews it every
//! three seconds; a dead or paused holder's lease runs out after `FETCH_LEASE_MS` (10 s),
//! so its mailbox is watched again within 12 s; a stopping one gives it back at once.
//!
//! A holder that cannot renew (paused, cut off from the database) stops fetching before its
//! lease can have run out by its own clock, and every batch of fetched mail is committed
//! only while the lease is still its own (`record_fetched_under` locks the lease row), so
//! two processes never store mail of one mailbox at the same time. Should one still fetch
//! what the other fetched, the (mailbox, UIDVALIDITY, UID) key and the Message-ID dedupe
//! make it a no-op.
//!
//! SQLite has one process: it fetches without a lease, as it always did.

use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::Fetcher;
use crate::store::{Backend, FETCH_LEASE_MS};

/// How often the holder renews its lease.
const RENEW_EVERY: Duration = Duration::from_secs(3);
/// How often a process without the lease asks for it (jittered by up to a quarter).
const ASK_EVERY: Duration = Duration::from_secs(2);
/// The holder stops this long before its lease runs out by its own clock, so clocks a little
/// apart between machines cannot make two watchers.
const MARGIN: Duration = Duration::from_secs(2);

impl Fetcher {
    /// Watch the mailbox until shutdown: at once on SQLite, under its fetch lease on
    /// PostgreSQL.
    pub async fn run(self, shutdown: CancellationToken) {
        match self.store.backend() {
            Backend::Sqlite => self.fetch_until(&shutdown).await,
            Backend::Postgres => self.watch(&shutdown).await,
        }
        info!("fetcher stopped");
    }

    /// The mailbox (by its name, the lease's key) whose lease a commit of fetched mail must
    /// still hold (PostgreSQL).
    pub(super) fn fence(&self) -> Option<&str> {
        (self.store.backend() == Backend::Postgres).then_some(self.mailbox.name.as_str())
    }

    async fn watch(&self, shutdown: &CancellationToken) {
        let name = self.mailbox.name.as_str();
        while !shutdown.is_cancelled() {
            let asked = Instant::now();
            match self.store.take_fetch_lease(name).await {
                Ok(true) => {
                    info!(
                        mailbox = name,
                        "watching the mailbox (this process holds its lease)"
                    );
                    let held = shutdown.child_token();
                    let fetching = async {
                        self.fetch_until(&held).await;
                        held.cancel();
                    };
                    tokio::join!(fetching, self.keep_lease(asked, &held));
                    if let Err(e) = self.store.release_fetch_lease(name).await {
                        warn!(mailbox = name, error = %e, "could not give the fetch lease back");
                    }
                    if !shutdown.is_cancelled() {
                        warn!(
                            mailbox = name,
                            "fetch lease lost: another process may watch it"
                        );
                    }
                }
                Ok(false) => {}
                Err(e) => warn!(mailbox = name, error = %e, "cannot ask for the fetch lease"),
            }
            let jitter = ASK_EVERY.mul_f64(fastrand::f64() / 4.0);
            tokio::select! {
                _ = tokio::time::sleep(ASK_EVERY + jitter) => {}
                _ = shutdown.cancelled() => {}
            }
        }
    }

    /// Renew the lease taken at `taken` until `held` is cancelled (shutdown); cancel `held`
    /// when the lease is lost or may run out before it can be renewed.
    async fn keep_lease(&self, taken: Instant, held: &CancellationToken) {
        let name = self.mailbox.name.as_str();
        let lasts = Duration::from_millis(FETCH_LEASE_MS as u64) - MARGIN;
        let mut valid_until = taken + lasts;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(RENEW_EVERY.min(valid_until.saturating_duration_since(Instant::now()))) => {}
                _ = held.cancelled() => return,
            }
            let asked = Instant::now();
            match self.store.take_fetch_lease(name).await {
                Ok(true) => valid_until = asked + lasts,
                Ok(false) => {
                    warn!(mailbox = name, "another process took the mailbox over");
                    held.cancel();
                    return;
                }
                Err(e) => warn!(mailbox = name, error = %e, "cannot renew the fetch lease"),
            }
            if Instant::now() >= valid_until {
                warn!(
                    mailbox = name,
                    "fetch lease not renewed in time: stopping fetching"
                );
                held.cancel();
                return;
            }
        }
    }
}
