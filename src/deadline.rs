//! A read/write timeout for a network stream. A server that accepts a command and then
//! says nothing more (a stalled proxy, a hung backend, a half-dead NAT entry) leaves TCP
//! waiting for ever: neither async-imap nor lettre's async connection bounds a single
//! read. Wrapped in `Deadline`, a stream whose read or write makes no progress for the
//! limit fails with `TimedOut`, which the fetcher and the sender treat as a lost connection
//! (reconnect with backoff, retry the delivery later).
//!
//! The clock runs only while a read or write is waiting, and restarts at every byte that
//! moves, so a large mail arriving slowly but steadily is never cut. It sits under TLS, so
//! the TLS handshake is bounded too. IMAP IDLE waits for as long as it likes: the fetcher
//! pauses the limit while it idles (`DeadlineHandle::pause`).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// A stream whose reads and writes fail after `limit` without progress.
#[derive(Debug)]
pub struct Deadline<S> {
    inner: S,
    handle: DeadlineHandle,
    /// Running while a read or write waits; dropped when one makes progress.
    timer: Option<Pin<Box<Sleep>>>,
}

/// Shared control of a `Deadline`'s limit, kept by whoever drives the stream above it.
#[derive(Debug, Clone)]
pub struct DeadlineHandle {
    /// The limit in milliseconds; 0 while paused.
    limit_ms: Arc<AtomicU64>,
    configured_ms: u64,
}

impl DeadlineHandle {
    /// No limit until `resume`: IMAP IDLE waits for news for as long as the fetcher wants.
    pub fn pause(&self) {
        self.limit_ms.store(0, Ordering::SeqCst);
    }

    pub fn resume(&self) {
        self.limit_ms.store(self.configured_ms, Ordering::SeqCst);
    }

    fn limit(&self) -> Option<Duration> {
        match self.limit_ms.load(Ordering::SeqCst) {
            0 => None,
            ms => Some(Duration::from_millis(ms)),
        }
    }
}

impl<S> Deadline<S> {
    pub fn new(inner: S, limit: Duration) -> Self {
        let ms = (limit.as_millis() as u64).max(1);
        Deadline {
            inner,
            handle: DeadlineHandle {
                limit_ms: Arc::new(AtomicU64::new(ms)),
                configured_ms: ms,
            },
            timer: None,
        }
    }

    pub fn handle(&self) -> DeadlineHandle {
        self.handle.clone()
    }

    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Called when the inner stream is not ready: start the clock if it is not running,
    /// and fail once it runs out.
    fn check(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        let Some(limit) = self.handle.limit() else {
            self.timer = None;
            return Poll::Pending;
        };
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        ready!(timer.as_mut().poll(cx));
        self.timer = None;
        Poll::Ready(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("no answer from the server in {} s", limit.as_secs_f32()),
        ))
    }

    /// The inner operation's result: progress stops the clock, waiting checks it.
    fn watch<T>(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        match polled {
            Poll::Ready(result) => {
                self.timer = None;
                Poll::Ready(result)
            }
            Poll::Pending => self.check(cx).map(Err),
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Deadline<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        self.watch(cx, polled)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Deadline<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.watch(cx, polled)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_flush(cx);
        self.watch(cx, polled)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn a_silent_peer_times_out_and_a_talking_one_does_not() {
        let (ours, mut theirs) = tokio::io::duplex(64);
        let mut stream = Deadline::new(ours, Duration::from_millis(500));
        let talker = tokio::spawn(async move {
            for _ in 0..4 {
                tokio::time::sleep(Duration::from_millis(300)).await;
                theirs.write_all(b"x").await.unwrap();
            }
            theirs
        });
        let mut byte = [0u8; 1];
        for _ in 0..4 {
            // 300 ms apart: each byte restarts the clock, 1.2 s in all without a timeout.
            stream.read_exact(&mut byte).await.unwrap();
        }
        let _theirs = talker.await.unwrap();
        let err = stream.read_exact(&mut byte).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        stream.handle().pause();
        let waited = tokio::time::timeout(Duration::from_secs(1), stream.read_exact(&mut byte));
        assert!(waited.await.is_err(), "paused: waits past the limit");
    }
}
