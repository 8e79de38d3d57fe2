//! The last stage: deliver outbox rows over SMTP. Several workers, each with its own
//! connection (TCP_NODELAY set: lettre's own connect leaves a 40 ms delayed-ACK stall per
//! message). Rows are leased, never held in a transaction across the network.

use std::borrow::Cow;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lettre::Address;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn, Instrument};

use crate::backoff::delay_for;
use crate::blobs::BlobStore;
use crate::config::Config;
use crate::health::metrics::{Component, Delivery, Metrics};
use crate::oauth2::TokenSource;
use crate::store::{now_ms, OutboxJob, Store, StoreError};
pub use connect::{connect, connect_with, open};
use link::{recorded, Link, Session};
pub use notice::send_notice;

mod connect;
mod link;
mod notice;
mod transaction;

/// How long a worker holds a row before another may take it over.
const LEASE_MS: i64 = 5 * 60 * 1000;
/// A connection unused for this long is checked with NOOP before the next message.
const STALE_AFTER: Duration = Duration::from_secs(20);
/// A connection with nothing to send for this long is closed (QUIT).
const IDLE_QUIT: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// Messages a worker leases at once. Only the lease is shared: each message is still
/// recorded as sent on its own, right after the server accepted it.
pub const CLAIM_BATCH: i64 = 8;
/// A message goes to lettre in pieces of this size: it dot-stuffs each into a buffer of its
/// own, so a large message is not copied whole once more.
const SMTP_PIECE: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("SMTP: {0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
    #[error("cannot reach {0}: {1}")]
    Network(String, io::Error),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("{0}")]
    Invalid(String),
    #[error("recording progress: {0}")]
    Store(String),
    /// Not the message's fault: the mail waits (and is retried) until the login works.
    #[error("SMTP login as {0} refused: {1}")]
    LoginRefused(String, String),
    #[error("OAuth2: {0}")]
    Token(String),
    /// The server would not open a session (a 5xx to EHLO or STARTTLS): not the
    /// message's fault either, so it waits too.
    #[error("the SMTP server refused the session: {0}")]
    SessionRefused(String),
}

impl SendError {
    /// An error met while opening a session, before any message was named: whatever the
    /// server answered, no mail is at fault, so none is parked for it (a wrong password
    /// would otherwise fail every waiting mail for good).
    fn opening(self) -> SendError {
        match self {
            SendError::Smtp(e) => SendError::SessionRefused(e.to_string()),
            SendError::Invalid(why) => SendError::SessionRefused(why),
            other => other,
        }
    }

    /// The server said no for good (5xx), or the message itself is unusable.
    pub fn is_permanent(&self) -> bool {
        match self {
            SendError::Smtp(e) => e.is_permanent(),
            SendError::Invalid(_) => true,
            _ => false,
        }
    }
}

pub struct Sender {
    pub config: Arc<Config>,
    pub store: Store,
    pub blobs: BlobStore,
    /// Poked when new rows are committed to the outbox.
    pub ready: Arc<Notify>,
    /// Logs in when `smtp.auth` is `"oauth2"`.
    pub tokens: Option<Arc<TokenSource>>,
    pub metrics: Arc<Metrics>,
}

impl Sender {
    pub async fn run(self, shutdown: CancellationToken) {
        let this = Arc::new(self);
        let mut workers = JoinSet::new();
        for n in 0..this.config.smtp.connections {
            let (this, shutdown) = (this.clone(), shutdown.clone());
            workers.spawn(async move { this.worker(n, shutdown).await });
        }
        while workers.join_next().await.is_some() {}
        info!("sender stopped");
    }

    /// One SMTP connection's loop. A worker without an open connection leases one message
    /// only: should its server not answer (every connection slot the server has taken by
    /// other processes, say), that one message waits, is deferred and goes to another
    /// worker, instead of eight. Mail a worker held when its connection broke goes back at
    /// once to workers whose connections work. A connection with nothing to send for
    /// `IDLE_QUIT` is closed, so that processes waiting for mail do not sit on the
    /// server's connection slots.
    async fn worker(&self, n: usize, shutdown: CancellationToken) {
        let mut link = Link::default();
        while !shutdown.is_cancelled() {
            let count = if link.session.is_some() {
                CLAIM_BATCH
            } else {
                1
            };
            match self.store.claim_outbox_batch(LEASE_MS, count).await {
                Ok(jobs) if jobs.is_empty() => {
                    let idle = tokio::time::timeout(IDLE_QUIT, self.wait_for_work(&shutdown));
                    if idle.await.is_err() {
                        if let Some(mut session) = link.session.take() {
                            let _ = session.conn.quit().await;
                        }
                    }
                }
                Ok(jobs) => self.send_batch(n, &mut link, jobs, &shutdown).await,
                Err(e) => {
                    warn!(worker = n, error = %e, "outbox unavailable");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        _ = shutdown.cancelled() => {}
                    }
                }
            }
        }
        if let Some(mut session) = link.session {
            let _ = session.conn.quit().await;
        }
    }

    /// Deliver leased mail one message after another; what was not tried (a stop, or a
    /// connection that broke) is given back at once.
    async fn send_batch(
        &self,
        n: usize,
        link: &mut Link,
        jobs: Vec<OutboxJob>,
        shutdown: &CancellationToken,
    ) {
        // More may be waiting: wake a sibling while this one sends.
        self.ready.notify_one();
        let mut jobs = jobs.into_iter();
        for job in jobs.by_ref() {
            self.deliver(link, job).await;
            if shutdown.is_cancelled() || link.session.is_none() {
                break;
            }
        }
        link.recorded().await;
        let untried: Vec<i64> = jobs.map(|j| j.id).collect();
        if let Err(e) = self.store.release_outbox(&untried).await {
            warn!(worker = n, error = %e, "could not give back unsent messages");
        }
    }

    async fn wait_for_work(&self, shutdown: &CancellationToken) {
        let due = self.store.next_outbox_due_in().await.ok().flatten();
        let wait = due.map_or(Duration::from_secs(30), |ms| {
            Duration::from_millis(ms as u64 + 10)
        });
        tokio::select! {
            _ = self.ready.notified() => {}
            _ = tokio::time::sleep(wait.min(Duration::from_secs(30))) => {}
            _ = shutdown.cancelled() => {}
        }
    }

    #[tracing::instrument(name = "send", skip_all, fields(outbox = job.id, attempt = job.attempts))]
    async fn deliver(&self, link: &mut Link, job: OutboxJob) {
        let result = self.try_deliver(link, &job).await;
        link.recorded().await;
        let session = &mut link.session;
        let recorded = match result {
            Ok(Outcome::Sent) => {
                debug!("accepted");
                self.metrics.delivered(Delivery::Sent);
                let (store, metrics) = (self.store.clone(), self.metrics.clone());
                // The latency histogram costs a query per mail: only when it is served.
                let timed = self.config.http.listen.is_some();
                let record = async move {
                    match store.outbox_sent(job.id).await {
                        Ok(()) if timed => time_acknowledgement(&store, &metrics, job.id).await,
                        Ok(()) => {}
                        // The lease runs out and the row is sent again: at least once.
                        Err(e) => {
                            metrics.error(Component::Database);
                            warn!(error = %e, "could not record the delivery");
                        }
                    }
                };
                link.recording = Some(tokio::spawn(record.in_current_span()));
                return;
            }
            Ok(Outcome::Partly { owed, refused, why }) => {
                self.partly(&job, owed, refused, &why).await
            }
            Err(e) if e.is_permanent() => {
                *session = None;
                self.metrics.error(Component::Smtp);
                self.metrics.delivered(Delivery::Parked);
                warn!(error = %e, "refused for good: parked");
                self.store.outbox_failed(job.id, &e.to_string()).await
            }
            Err(e) => {
                *session = None;
                self.metrics.error(Component::Smtp);
                self.later(&job, &e.to_string()).await
            }
        };
        if let Err(e) = recorded {
            // The lease runs out and the row is sent again: at least once, never lost.
            warn!(error = %e, "could not record the delivery result");
        }
    }

    /// Hand one message to the server, in transactions of at most `smtp.max_recipients`
    /// recipients, and more while the server takes some and defers others (452). The first
    /// envelope goes out while the previous message's acceptance is still being recorded;
    /// its final dot only once that record is committed. Each further transaction starts
    /// only once the recipients already served are recorded, so a crash repeats one
    /// transaction at most.
    async fn try_deliver(&self, link: &mut Link, job: &OutboxJob) -> Result<Outcome, SendError> {
        let raw = self.raw(job).await?;
        let envelope = transaction::envelope(job)?;
        let session = self.usable_session(&mut link.session).await?;
        let options = transaction::mail_options(session, &envelope, &raw)?;
        // lettre ends DATA with CRLF "." CRLF whatever the message ends with; hand it the
        // message without its final CRLF so the server receives exactly the stored bytes.
        let body = raw.strip_suffix(b"\r\n").unwrap_or(&raw);
        let (mut left, mut refused, mut why) = (envelope.to().to_vec(), Vec::new(), String::new());
        loop {
            let untried = left.split_off(left.len().min(self.config.smtp.max_recipients));
            let (taken, ()) = tokio::join!(
                session.envelope(envelope.from(), &left, options.clone()),
                recorded(&mut link.recording)
            );
            let taken = taken?;
            for (address, error) in taken.deferred.iter().chain(&taken.refused) {
                why = format!("{address}: {error}");
            }
            refused.extend(taken.refused.into_iter().map(|(a, _)| a.to_string()));
            left = taken
                .deferred
                .into_iter()
                .map(|(a, _)| a)
                .chain(untried)
                .collect();
            let owed = || left.iter().map(Address::to_string).collect::<Vec<_>>();
            if taken.accepted.is_empty() {
                return Ok(Outcome::Partly {
                    owed: owed(),
                    refused,
                    why,
                });
            }
            session.conn.message_iter(body.chunks(SMTP_PIECE)).await?;
            crate::crash::point("send.after_accept");
            session.last_used = Instant::now();
            match (left.is_empty(), refused.is_empty()) {
                (true, true) => return Ok(Outcome::Sent),
                (true, false) => {
                    return Ok(Outcome::Partly {
                        owed: owed(),
                        refused,
                        why,
                    })
                }
                _ => {}
            }
            let still: Vec<String> = owed().into_iter().chain(refused.iter().cloned()).collect();
            self.store
                .outbox_recipients(job.id, &still)
                .await
                .map_err(|e| SendError::Store(e.to_string()))?;
        }
    }

    /// The message's stored bytes: those read with the job (a small one), or the blob's,
    /// read into one buffer and not copied again.
    async fn raw<'j>(&self, job: &'j OutboxJob) -> Result<Cow<'j, [u8]>, SendError> {
        match &job.raw {
            Some(raw) => Ok(Cow::Borrowed(raw)),
            None => self
                .blobs
                .get(&job.raw_hash)
                .await
                .map(Cow::Owned)
                .map_err(|e| SendError::Invalid(format!("stored message missing: {e}"))),
        }
    }

    /// Some recipients took the message and others did not: the row keeps only those still
    /// owed it. With none left but refusals, it is parked for `buzon failed`, naming them.
    async fn partly(
        &self,
        job: &OutboxJob,
        owed: Vec<String>,
        refused: Vec<String>,
        why: &str,
    ) -> Result<(), StoreError> {
        let still: Vec<String> = owed.iter().chain(&refused).cloned().collect();
        self.store.outbox_recipients(job.id, &still).await?;
        if owed.is_empty() {
            warn!(
                refused = refused.len(),
                why, "recipients refused for good: parked"
            );
            self.metrics.delivered(Delivery::Parked);
            let error = format!("refused for {}: {why}", refused.join(", "));
            return self.store.outbox_failed(job.id, &error).await;
        }
        self.later(job, why).await
    }

    /// A temporary failure: retried with backoff, until the message is `smtp.max_age` old;
    /// then it is parked for `buzon failed` like a refusal, as a mail server gives up on a
    /// message after days in its queue.
    async fn later(&self, job: &OutboxJob, error: &str) -> Result<(), StoreError> {
        let max_age = self.config.smtp.max_age;
        if now_ms() - job.created_at > max_age.as_millis() as i64 {
            let hours = max_age.as_secs() / 3600;
            warn!(error, hours, "undeliverable for too long: parked");
            self.metrics.delivered(Delivery::Parked);
            let error = format!("gave up after {hours} hours; last error: {error}");
            return self.store.outbox_failed(job.id, &error).await;
        }
        let delay = delay_for(
            Duration::from_secs(5),
            Duration::from_secs(3600),
            job.attempts.saturating_sub(1) as u32,
        );
        self.metrics.delivered(Delivery::Deferred);
        warn!(error, retry_in_s = delay.as_secs(), "delivery deferred");
        self.store
            .outbox_retry(job.id, error, now_ms() + delay.as_millis() as i64)
            .await
    }
}

/// What became of a message's recipients, short of an error for all of them.
enum Outcome {
    /// Every recipient took it.
    Sent,
    /// Not everyone: `owed` are to be tried again later (deferred or not yet tried),
    /// `refused` said no for good; `why` is the last server answer to a recipient.
    Partly {
        owed: Vec<String>,
        refused: Vec<String>,
        why: String,
    },
}

/// For an acknowledgement, how long its customer waited: fetched to accepted by SMTP.
async fn time_acknowledgement(store: &Store, metrics: &Metrics, outbox_id: i64) {
    match store.acknowledged_mail_fetched_at(outbox_id).await {
        Ok(Some(fetched_at)) => metrics.acknowledged_after(now_ms() - fetched_at),
        Ok(None) => {}
        Err(_) => metrics.error(Component::Database),
    }
}
