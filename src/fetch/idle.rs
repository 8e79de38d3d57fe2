//! Waiting for news in IMAP IDLE (RFC 2177), with the command timeout paused: an idle
//! connection is silent by design.

use std::time::Duration;

use async_imap::extensions::idle::IdleResponse;
use tokio_util::sync::CancellationToken;

use super::{FetchError, Fetcher, ImapSession, IDLE_MAX};
use crate::deadline::DeadlineHandle;

impl Fetcher {
    /// Wait in IDLE until the server reports something, the processor has committed mail
    /// (side effects to apply), `wait` passes (the poll interval, or less when the login's
    /// token is due for renewal), or shutdown.
    pub(super) async fn idle(
        &self,
        session: ImapSession,
        deadline: &DeadlineHandle,
        wait: Duration,
        shutdown: &CancellationToken,
    ) -> Result<ImapSession, FetchError> {
        let mut handle = session.idle();
        handle.init().await?;
        // The wait itself is bounded by `limit` below, not by the command timeout.
        deadline.pause();
        let limit = wait.min(IDLE_MAX);
        let mut interrupted = false;
        let response = {
            let (fut, stop) = handle.wait_with_timeout(limit);
            tokio::pin!(fut);
            let response = tokio::select! {
                r = &mut fut => r,
                _ = self.processed.notified() => { interrupted = true; Ok(IdleResponse::ManualInterrupt) }
                _ = shutdown.cancelled() => { interrupted = true; Ok(IdleResponse::ManualInterrupt) }
            };
            drop(stop);
            if interrupted {
                let _ = fut.await;
            }
            deadline.resume();
            response
        };
        match response? {
            IdleResponse::ManualInterrupt if !interrupted => {
                // async-imap reports a socket the server closed as an interrupt.
                return Err(FetchError::Protocol(
                    "server closed the connection during IDLE".into(),
                ));
            }
            _ => {}
        }
        Ok(handle.done().await?)
    }
}
