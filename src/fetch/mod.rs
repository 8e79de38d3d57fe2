//! The first stage: watch the support mailbox over IMAP and store every new mail raw, with
//! its (mailbox, UIDVALIDITY, UID), before anything is decided about it. The IMAP side effect
//! (flag or move) is applied only to mails whose effect is already committed.

mod connect;
mod idle;
mod lease;
mod raw;
mod side_effects;

use std::sync::Arc;
use std::time::Duration;

use async_imap::types::UnsolicitedResponse;
use futures::TryStreamExt;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::backoff::Backoff;
use crate::blobs::{BlobHash, BlobStore};
use crate::config::{AuthMethod, Config, ImapConfig, MailboxConfig, OnProcessed};
use crate::deadline::DeadlineHandle;
use crate::health::metrics::{Component, Metrics};
use crate::oauth2::TokenSource;
use crate::store::{FetchedMail, Store, StoreError};
pub use connect::{connect, connect_with_deadline, ConnectError, ImapSession};

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("IMAP: {0}")]
    Imap(#[from] async_imap::error::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("storage: {0}")]
    Io(#[from] std::io::Error),
    #[error("IMAP: {0}")]
    Protocol(String),
}

/// Mails fetched per UID FETCH: bounds memory while keeping round trips few.
const FETCH_BATCH: usize = 50;
/// Bytes fetched per UID FETCH at most (one larger mail is fetched alone).
const FETCH_BATCH_BYTES: usize = 8 * 1024 * 1024;
/// A mail larger than this is fetched in pieces of LARGE_PIECE bytes.
const LARGE_MAIL: usize = 4 * 1024 * 1024;
const LARGE_PIECE: usize = 1024 * 1024;
/// RFC 2177: re-issue IDLE before the server's 30-minute inactivity limit.
const IDLE_MAX: Duration = Duration::from_secs(25 * 60);

/// Watches one mailbox; `buzon run` starts one for each.
pub struct Fetcher {
    pub config: Arc<Config>,
    /// The mailbox this fetcher watches.
    pub mailbox: Arc<MailboxConfig>,
    pub store: Store,
    pub blobs: BlobStore,
    /// Poked after new mail is stored.
    pub stored: Arc<Notify>,
    /// Poked by the processor after it commits, so side effects follow soon.
    pub processed: Arc<Notify>,
    /// Logs in when `imap.auth` is `"oauth2"`.
    pub tokens: Option<Arc<TokenSource>>,
    /// Poked after each full sync (systemd's READY waits for the first).
    pub synced: Arc<Notify>,
    pub metrics: Arc<Metrics>,
}

/// A logged-in session with its mailbox selected.
struct Opened {
    session: ImapSession,
    deadline: DeadlineHandle,
    /// When the OAuth2 token it logged in with is due for renewal.
    renew_at: Option<tokio::time::Instant>,
    idle: bool,
    uidvalidity: u32,
    exists: u32,
}

/// Why a session ended without an error.
enum SessionEnd {
    Shutdown,
    /// The token it logged in with is due for renewal: log in again.
    TokenDue,
}

/// How the cursor and rows name this mailbox: the account and folder.
pub fn mailbox_key(config: &ImapConfig) -> String {
    format!("{}/{}", config.username, config.mailbox)
}

impl Fetcher {
    /// Fetch until `shutdown` (on PostgreSQL: also cancelled when the fetch lease is lost).
    async fn fetch_until(&self, shutdown: &CancellationToken) {
        // Capped low: once the server is back, buzon is back within seconds.
        let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(5));
        while !shutdown.is_cancelled() {
            match self.session(shutdown, &mut backoff).await {
                Ok(SessionEnd::Shutdown) => break,
                Ok(SessionEnd::TokenDue) => info!("renewing the IMAP login with a fresh token"),
                Err(FetchError::Store(StoreError::FetchLeaseLost(_))) => break,
                Err(e) => {
                    self.metrics.error(match e {
                        FetchError::Store(_) => Component::Database,
                        FetchError::Io(_) => Component::Storage,
                        _ => Component::Imap,
                    });
                    let delay = backoff.next_delay();
                    warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "IMAP connection lost");
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = shutdown.cancelled() => break,
                    }
                }
            }
        }
    }

    /// Log in (with the OAuth2 token when `imap.auth` says so), select the mailbox and
    /// make sure the folder processed mail moves to exists.
    async fn open(&self) -> Result<Opened, FetchError> {
        let imap = &self.mailbox.imap;
        let tokens = self
            .tokens
            .as_deref()
            .filter(|_| imap.auth == AuthMethod::OAuth2);
        let (mut session, deadline) = connect_with_deadline(imap, tokens).await?;
        // Servers drop a session once its token expires (Exchange Online does): end it
        // first, when the token is due for renewal, and log in again with a fresh one.
        let renew_at = match tokens {
            Some(tokens) => tokens.session_due().await,
            None => None,
        };
        let idle = imap.idle && session.capabilities().await?.has_str("IDLE");
        let selected = session.select(&imap.mailbox).await?;
        let uidvalidity = selected.uid_validity.unwrap_or(0);
        if let OnProcessed::Move(target) = &imap.on_processed {
            // Already there is fine; anything else shows up when the first move fails.
            let _ = session.create(target).await;
        }
        info!(mailbox = %imap.mailbox, uidvalidity, idle, "IMAP session ready");
        Ok(Opened {
            session,
            deadline,
            renew_at,
            idle,
            uidvalidity,
            exists: selected.exists,
        })
    }

    /// One IMAP session, from login until it breaks or buzon stops; its log lines carry
    /// the mailbox.
    #[tracing::instrument(name = "imap", skip_all, fields(mailbox = %mailbox_key(&self.mailbox.imap)))]
    async fn session(
        &self,
        shutdown: &CancellationToken,
        backoff: &mut Backoff,
    ) -> Result<SessionEnd, FetchError> {
        let imap = &self.mailbox.imap;
        let Opened {
            mut session,
            deadline,
            renew_at,
            idle,
            uidvalidity,
            mut exists,
        } = self.open().await?;
        let key = mailbox_key(imap);
        loop {
            self.sync(&mut session, uidvalidity).await?;
            // What /health and `buzon status` judge fetching by.
            self.store.record_sync(&key, crate::store::now_ms()).await?;
            self.synced.notify_one();
            // Reset only once a sync worked: a session that connects but cannot store (a
            // full disk, a locked database) keeps backing off.
            backoff.reset();
            self.apply_side_effects(&mut session, uidvalidity).await?;
            let reported = drain_unsolicited(&session);
            if shutdown.is_cancelled() {
                let _ = session.logout().await;
                return Ok(SessionEnd::Shutdown);
            }
            let now = tokio::time::Instant::now();
            if renew_at.is_some_and(|at| at <= now) {
                let _ = session.logout().await;
                return Ok(SessionEnd::TokenDue);
            }
            let wait = renew_at.map_or(imap.poll_interval, |at| {
                imap.poll_interval.min(at.duration_since(now))
            });
            if let Some(count) = reported.filter(|count| *count != exists) {
                // The server told of new mail while we synced; IDLE would not tell it again.
                // (A count it merely repeats is no news, and must not make us spin.)
                exists = count;
                continue;
            }
            session = if idle {
                self.idle(session, &deadline, wait, shutdown).await?
            } else {
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = self.processed.notified() => {}
                    _ = shutdown.cancelled() => {}
                }
                session
            };
        }
    }

    /// Fetch and store every mail above the cursor, in batches.
    async fn sync(&self, session: &mut ImapSession, uidvalidity: u32) -> Result<(), FetchError> {
        let key = mailbox_key(&self.mailbox.imap);
        let last = match self.store.imap_cursor(&key).await? {
            Some((stored, last)) if stored == uidvalidity => last,
            Some((stored, _)) => {
                warn!(
                    old = stored,
                    new = uidvalidity,
                    "UIDVALIDITY changed: rescanning the mailbox"
                );
                self.store.set_imap_cursor(&key, uidvalidity, 0).await?;
                0
            }
            None => 0,
        };
        let mut uids: Vec<u32> = session
            .uid_search(format!("UID {}:*", last.saturating_add(1)))
            .await?
            .into_iter()
            .filter(|uid| *uid > last)
            .collect();
        uids.sort_unstable();
        if uids.is_empty() {
            return Ok(());
        }
        let sizes = self.sizes(session, &uids).await?;
        for chunk in batches(&uids, &sizes) {
            let size = sizes.get(&chunk[0]).copied().unwrap_or(0) as usize;
            let mails = if chunk.len() == 1 && size > LARGE_MAIL {
                vec![self.fetch_large(session, chunk[0], size).await?]
            } else {
                self.fetch_batch(session, &chunk).await?
            };
            crate::crash::point("fetch.before_commit");
            let new = self
                .store
                .record_fetched_under(self.fence(), &key, uidvalidity, &mails)
                .await?;
            crate::crash::point("fetch.after_commit");
            self.metrics.fetched(new as u64);
            debug!(
                uid = chunk[0],
                last_uid = chunk[chunk.len() - 1],
                fetched = mails.len(),
                new,
                "stored"
            );
            self.stored.notify_one();
        }
        Ok(())
    }

    /// RFC822.SIZE of each UID, so batches can be bounded in bytes as well as in count.
    async fn sizes(
        &self,
        session: &mut ImapSession,
        uids: &[u32],
    ) -> Result<std::collections::HashMap<u32, u32>, FetchError> {
        let fetched: Vec<_> = session
            .uid_fetch(uid_set(uids), "(UID RFC822.SIZE)")
            .await?
            .try_collect()
            .await?;
        Ok(fetched
            .iter()
            .filter_map(|f| Some((f.uid?, f.size?)))
            .collect())
    }

    async fn fetch_batch(
        &self,
        session: &mut ImapSession,
        uids: &[u32],
    ) -> Result<Vec<FetchedMail>, FetchError> {
        let set = uid_set(uids);
        let fetched: Vec<(u32, Vec<u8>)> = {
            let stream = session.uid_fetch(&set, "(UID BODY.PEEK[])").await?;
            stream
                .try_filter_map(|f| async move { Ok(f.uid.zip(f.body().map(<[u8]>::to_vec))) })
                .try_collect()
                .await?
        };
        let fetched: Vec<(u32, Vec<u8>)> = fetched
            .into_iter()
            .filter(|(uid, _)| uids.contains(uid))
            .collect();
        let mails = self.store_raw(fetched).await?;
        if mails.len() < uids.len() {
            // A cut connection has looked like a short answer; expunged mail vanishes from
            // the next search, so asking again after a reconnect is always right.
            return Err(FetchError::Protocol(format!(
                "asked for {} mails, got {}",
                uids.len(),
                mails.len()
            )));
        }
        Ok(mails)
    }
}

fn fetched_mail(uid: u32, size: usize, hash: BlobHash, message_id: Option<String>) -> FetchedMail {
    let dedupe_key = match &message_id {
        Some(id) => format!("mid:{id}"),
        None => format!("sha256:{}", hash.0),
    };
    FetchedMail {
        uid,
        message_id,
        dedupe_key,
        raw_hash: hash.0,
        raw_size: size,
        raw_inline: None,
    }
}

/// Consecutive groups of at most FETCH_BATCH mails and FETCH_BATCH_BYTES bytes (a single
/// larger mail goes alone), so a backlog of big attachments is never held whole in memory.
fn batches(uids: &[u32], sizes: &std::collections::HashMap<u32, u32>) -> Vec<Vec<u32>> {
    let mut out: Vec<Vec<u32>> = Vec::new();
    let mut bytes = 0usize;
    for &uid in uids {
        let size = sizes.get(&uid).copied().unwrap_or(0) as usize;
        let full = out.last().is_none_or(|b| {
            b.len() >= FETCH_BATCH || (!b.is_empty() && bytes + size > FETCH_BATCH_BYTES)
        });
        if full {
            out.push(Vec::new());
            bytes = 0;
        }
        out.last_mut().expect("a batch").push(uid);
        bytes += size;
    }
    out
}

/// `1:3,7,9:10` from sorted UIDs.
pub fn uid_set(uids: &[u32]) -> String {
    let mut sorted = uids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut parts = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}:{end}")
        });
        i += 1;
    }
    parts.join(",")
}

/// Unsolicited responses queue in a bounded channel that drops past 100: empty it, and
/// return the last message count the server reported (EXISTS), if it reported one.
fn drain_unsolicited(session: &ImapSession) -> Option<u32> {
    let mut exists = None;
    while let Ok(response) = session.unsolicited_responses.try_recv() {
        if let UnsolicitedResponse::Exists(count) = response {
            exists = Some(count);
        }
    }
    exists
}

#[cfg(test)]
mod tests;
