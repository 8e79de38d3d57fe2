//! A sender worker's SMTP connection: kept while mail flows, closed when the worker has had
//! nothing to send for a while.

use std::time::Instant;

use lettre::transport::smtp::client::AsyncSmtpConnection;
use tokio::task::JoinHandle;

use super::{connect_with, SendError, Sender, STALE_AFTER};
use crate::config::Config;
use crate::oauth2::TokenSource;

/// An open SMTP connection and what the worker knows of it.
pub(super) struct Session {
    pub(super) conn: AsyncSmtpConnection,
    pub(super) last_used: Instant,
    /// The server announced PIPELINING (RFC 2920): a message's envelope goes in one write.
    pub(super) pipelining: bool,
}

impl Session {
    async fn open(config: &Config, tokens: Option<&TokenSource>) -> Result<Session, SendError> {
        let domain = config.support.address.domain();
        let (conn, pipelining) = connect_with(&config.smtp, domain, tokens).await?;
        Ok(Session {
            conn,
            last_used: Instant::now(),
            pipelining,
        })
    }
}

/// One worker's SMTP session and the acceptance it is still recording.
#[derive(Default)]
pub(super) struct Link {
    pub(super) session: Option<Session>,
    /// The last accepted message's "sent" record, committing while the next message's
    /// envelope goes out. The next final dot waits for it, so a kill leaves at most one
    /// accepted and unrecorded message per connection (SPEC.md "Never lose, never duplicate").
    pub(super) recording: Option<JoinHandle<()>>,
}

impl Link {
    pub(super) async fn recorded(&mut self) {
        recorded(&mut self.recording).await
    }
}

pub(super) async fn recorded(recording: &mut Option<JoinHandle<()>>) {
    if let Some(record) = recording.take() {
        let _ = record.await;
    }
}

impl Sender {
    /// The worker's session, opened again if it broke or went stale.
    pub(super) async fn usable_session<'s>(
        &self,
        session: &'s mut Option<Session>,
    ) -> Result<&'s mut Session, SendError> {
        if let Some(open) = session.as_mut() {
            if open.conn.has_broken()
                || open.last_used.elapsed() > STALE_AFTER && !open.conn.test_connected().await
            {
                *session = None;
            }
        }
        if session.is_none() {
            let opened = Session::open(&self.config, self.tokens.as_deref()).await;
            *session = Some(opened.map_err(SendError::opening)?);
        }
        Ok(session.as_mut().expect("session was just opened"))
    }
}
