//! The last stage: deliver outbox rows over SMTP. Several workers, each with its own
//! connection (TCP_NODELAY set: lettre's own connect leaves a 40 ms delayed-ACK stall per
//! message). Rows are leased, never held in a transaction across the network.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{
    AsyncSmtpConnection, AsyncTokioStream, Certificate, TlsParameters,
};
use lettre::transport::smtp::extension::ClientId;
use lettre::Address;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::backoff::delay_for;
use crate::blobs::BlobStore;
use crate::config::{Config, Security, SmtpConfig};
use crate::store::{now_ms, OutboxJob, Store};

/// How long a worker holds a row before another may take it over.
const LEASE_MS: i64 = 5 * 60 * 1000;
/// A connection unused for this long is checked with NOOP before the next message.
const STALE_AFTER: Duration = Duration::from_secs(20);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// Messages a worker leases at once. Only the lease is shared: each message is still
/// recorded as sent on its own, right after the server accepted it.
pub const CLAIM_BATCH: i64 = 8;

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
}

impl SendError {
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

    async fn worker(&self, n: usize, shutdown: CancellationToken) {
        let mut connection: Option<(AsyncSmtpConnection, Instant)> = None;
        while !shutdown.is_cancelled() {
            match self.store.claim_outbox_batch(LEASE_MS, CLAIM_BATCH).await {
                Ok(jobs) if jobs.is_empty() => self.wait_for_work(&shutdown).await,
                Ok(jobs) => {
                    // More may be waiting: wake a sibling while this one sends.
                    self.ready.notify_one();
                    let mut jobs = jobs.into_iter();
                    for job in jobs.by_ref() {
                        self.deliver(&mut connection, job).await;
                        if shutdown.is_cancelled() {
                            break;
                        }
                    }
                    let untried: Vec<i64> = jobs.map(|j| j.id).collect();
                    if let Err(e) = self.store.release_outbox(&untried).await {
                        warn!(worker = n, error = %e, "could not give back unsent messages");
                    }
                }
                Err(e) => {
                    warn!(worker = n, error = %e, "outbox unavailable");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        _ = shutdown.cancelled() => {}
                    }
                }
            }
        }
        if let Some((mut conn, _)) = connection {
            let _ = conn.quit().await;
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
    async fn deliver(
        &self,
        connection: &mut Option<(AsyncSmtpConnection, Instant)>,
        job: OutboxJob,
    ) {
        let result = self.try_deliver(connection, &job).await;
        let recorded = match result {
            Ok(()) => {
                debug!("accepted");
                self.store.outbox_sent(job.id).await
            }
            Err(e) if e.is_permanent() => {
                *connection = None;
                warn!(error = %e, "refused for good: parked");
                self.store.outbox_failed(job.id, &e.to_string()).await
            }
            Err(e) => {
                *connection = None;
                let delay = delay_for(
                    Duration::from_secs(5),
                    Duration::from_secs(3600),
                    job.attempts.saturating_sub(1) as u32,
                );
                warn!(error = %e, retry_in_s = delay.as_secs(), "delivery deferred");
                self.store
                    .outbox_retry(job.id, &e.to_string(), now_ms() + delay.as_millis() as i64)
                    .await
            }
        };
        if let Err(e) = recorded {
            // The lease runs out and the row is sent again: at least once, never lost.
            warn!(error = %e, "could not record the delivery result");
        }
    }

    async fn try_deliver(
        &self,
        connection: &mut Option<(AsyncSmtpConnection, Instant)>,
        job: &OutboxJob,
    ) -> Result<(), SendError> {
        let raw = match &job.raw {
            Some(raw) => raw.clone(),
            None => self
                .blobs
                .get(&job.raw_hash)
                .await
                .map_err(|e| SendError::Invalid(format!("stored message missing: {e}")))?,
        };
        let envelope = envelope(job)?;
        if let Some((conn, last_used)) = connection.as_mut() {
            if conn.has_broken()
                || last_used.elapsed() > STALE_AFTER && !conn.test_connected().await
            {
                *connection = None;
            }
        }
        if connection.is_none() {
            *connection = Some((
                open(&self.config.smtp, self.config.support.address.domain()).await?,
                Instant::now(),
            ));
        }
        let (conn, last_used) = connection.as_mut().expect("connection was just opened");
        // lettre ends DATA with CRLF "." CRLF whatever the message ends with; hand it the
        // message without its final CRLF so the server receives exactly the stored bytes.
        let body = raw.strip_suffix(b"\r\n").unwrap_or(&raw);
        conn.send(&envelope, body).await?;
        crate::crash::point("send.after_accept");
        *last_used = Instant::now();
        Ok(())
    }
}

fn envelope(job: &OutboxJob) -> Result<Envelope, SendError> {
    let parse = |a: &str| {
        a.parse::<Address>()
            .map_err(|e| SendError::Invalid(format!("address {a}: {e}")))
    };
    let from = parse(&job.envelope_from)?;
    let to = job
        .recipients
        .iter()
        .map(|r| parse(r))
        .collect::<Result<Vec<_>, _>>()?;
    Envelope::new(Some(from), to).map_err(|e| SendError::Invalid(e.to_string()))
}

/// An authenticated SMTP connection, ready for MAIL FROM.
pub async fn open(
    config: &SmtpConfig,
    hello_domain: &str,
) -> Result<AsyncSmtpConnection, SendError> {
    let where_ = format!("{}:{}", config.host, config.port);
    let tcp = tokio::time::timeout(
        CONNECT_TIMEOUT,
        TcpStream::connect((config.host.as_str(), config.port)),
    )
    .await
    .map_err(|_| SendError::Network(where_.clone(), io::ErrorKind::TimedOut.into()))?
    .map_err(|e| SendError::Network(where_.clone(), e))?;
    tcp.set_nodelay(true)
        .map_err(|e| SendError::Network(where_.clone(), e))?;
    let hello = ClientId::Domain(hello_domain.to_string());
    let stream: Box<dyn AsyncTokioStream> = match config.security {
        Security::Tls => Box::new(implicit_tls(config, tcp).await?),
        _ => Box::new(tcp),
    };
    let mut conn = AsyncSmtpConnection::connect_with_transport(stream, &hello).await?;
    if config.security == Security::Starttls {
        conn.starttls(starttls_parameters(config)?, &hello).await?;
    }
    if let (Some(user), Some(password)) = (&config.username, &config.password) {
        let credentials = Credentials::new(user.clone(), password.expose().to_string());
        conn.auth(&[Mechanism::Plain, Mechanism::Login], &credentials)
            .await?;
    }
    Ok(conn)
}

fn starttls_parameters(config: &SmtpConfig) -> Result<TlsParameters, SendError> {
    let mut builder = TlsParameters::builder(config.host.clone());
    if let Some(path) = &config.ca_file {
        let pem =
            std::fs::read(path).map_err(|e| SendError::Tls(format!("{}: {e}", path.display())))?;
        let cert = Certificate::from_pem(&pem).map_err(|e| SendError::Tls(e.to_string()))?;
        builder = builder.add_root_certificate(cert);
    }
    builder
        .build_rustls()
        .map_err(|e| SendError::Tls(e.to_string()))
}

async fn implicit_tls(config: &SmtpConfig, tcp: TcpStream) -> Result<TlsTcp, SendError> {
    let tls = crate::tls::client_config(config.ca_file.as_deref()).map_err(SendError::Tls)?;
    let name =
        ServerName::try_from(config.host.clone()).map_err(|e| SendError::Tls(e.to_string()))?;
    let stream = tokio_rustls::TlsConnector::from(tls)
        .connect(name, tcp)
        .await
        .map_err(|e| SendError::Tls(e.to_string()))?;
    Ok(TlsTcp(stream))
}

/// A TLS stream lettre can drive, so implicit TLS keeps TCP_NODELAY too.
#[derive(Debug)]
struct TlsTcp(tokio_rustls::client::TlsStream<TcpStream>);

impl AsyncTokioStream for TlsTcp {
    fn peer_addr(&self) -> io::Result<std::net::SocketAddr> {
        self.0.get_ref().0.peer_addr()
    }
}

impl AsyncRead for TlsTcp {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsTcp {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}
