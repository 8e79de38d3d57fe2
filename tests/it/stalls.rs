//! Issue 12 "Safe on the open internet", servers that stop answering: a proxy in front of
//! the real Dovecot or Postfix forwards faithfully until it sees a given command or answer,
//! then goes silent on that connection (once) while keeping it open. buzon must give up on
//! the silent connection after its timeout, reconnect, and get the mail through.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};

use crate::support::*;

/// Where the proxy goes silent.
#[derive(Debug, Clone, Copy)]
enum Stall {
    /// Right before forwarding the client's bytes holding this command.
    ClientSends(&'static [u8]),
    /// Half-way through the server's bytes starting with this answer.
    ServerSendsHalf(&'static [u8]),
}

/// A TCP proxy that stalls the first connection where `Stall` matches, and only that one.
struct StallingProxy {
    port: u16,
    connections: Arc<AtomicUsize>,
    stalled: Arc<AtomicBool>,
}

impl StallingProxy {
    async fn start(target: u16, stall: Stall) -> StallingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let stalled = Arc::new(AtomicBool::new(false));
        let (count, once) = (connections.clone(), stalled.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let once = once.clone();
                tokio::spawn(async move {
                    let server = TcpStream::connect(("127.0.0.1", target)).await.unwrap();
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    let frozen = Arc::new(AtomicBool::new(false));
                    let (up, down) = match stall {
                        Stall::ClientSends(p) => (Some((p, false)), None),
                        Stall::ServerSendsHalf(p) => (None, Some((p, true))),
                    };
                    tokio::join!(
                        pump(cr, sw, up, &once, &frozen),
                        pump(sr, cw, down, &once, &frozen)
                    );
                });
            }
        });
        StallingProxy {
            port,
            connections,
            stalled,
        }
    }
}

/// Copy `from` to `to` until the end, or until this connection freezes at `trigger` (the
/// bytes, and whether half of what follows them still goes through): then hold both
/// sockets open and silent for good.
async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    trigger: Option<(&'static [u8], bool)>,
    once: &AtomicBool,
    frozen: &AtomicBool,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let chunk = &buf[..n];
        let at = trigger.and_then(|(t, half)| {
            let at = chunk.windows(t.len()).position(|w| w == t)?;
            Some(if half { at + (n - at) / 2 } else { at })
        });
        let keep = match at {
            Some(at) if !once.swap(true, Ordering::SeqCst) => {
                frozen.store(true, Ordering::SeqCst);
                at
            }
            _ if frozen.load(Ordering::SeqCst) => 0,
            _ => n,
        };
        if to.write_all(&chunk[..keep]).await.is_err() {
            return;
        }
        if frozen.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
    }
}

async fn imap_stall(test: &str, stall: Stall) {
    let proxy = StallingProxy::start(mail_server().imap(), stall).await;
    let mut desk = Desk::with(
        test,
        DeskOptions {
            imap_port: Some(proxy.port),
            imap_extra: "timeout_secs = 2\n".into(),
            ..DeskOptions::default()
        },
    )
    .await;
    let customer = desk.names.addr("ana");
    desk.customer(&customer, None).await;
    desk.write(
        &customer,
        "Se cuelga",
        &format!("{test}@cliente.test"),
        "hola",
    )
    .await;
    wait_for_mail(&desk.names.support(), 1).await;
    let started = Instant::now();
    desk.start();
    let ack = wait_for_mail(&customer, 1).await;
    let took = started.elapsed();
    desk.stop().await;
    assert_reconnected_and_acknowledged(&proxy, &ack);
    println!("{test}: acknowledged {took:?} after start (timeout 2 s)");
}

/// The server goes silent after buzon's `UID SEARCH`.
#[tokio::test(flavor = "multi_thread")]
async fn imap_silent_after_uid_search_reconnects() {
    imap_stall("stall-search", Stall::ClientSends(b"UID SEARCH")).await;
}

/// The server goes silent in the middle of the mail's `FETCH` answer.
#[tokio::test(flavor = "multi_thread")]
async fn imap_silent_in_the_middle_of_a_fetch_reconnects() {
    imap_stall("stall-fetch", Stall::ServerSendsHalf(b"BODY[] {")).await;
}

/// Postfix goes silent once buzon has sent `DATA`: the acknowledgement is retried on a new
/// connection and arrives.
#[tokio::test(flavor = "multi_thread")]
async fn smtp_silent_after_data_retries() {
    let proxy = StallingProxy::start(mail_server().smtp(), Stall::ClientSends(b"DATA\r\n")).await;
    let mut desk = Desk::with(
        "stall-data",
        DeskOptions {
            smtp_port: Some(proxy.port),
            smtp_extra: "timeout_secs = 2\nconnections = 1\n".into(),
            ..DeskOptions::default()
        },
    )
    .await;
    let customer = desk.names.addr("ana");
    desk.customer(&customer, None).await;
    desk.write(&customer, "Se cuelga", "stall-data@cliente.test", "hola")
        .await;
    let started = Instant::now();
    desk.start();
    let ack = wait_for_mail_on(mail_server(), &customer, 1, Duration::from_secs(30)).await;
    let took = started.elapsed();
    desk.stop().await;
    assert_reconnected_and_acknowledged(&proxy, &ack);
    println!("smtp stall: acknowledged {took:?} after start (timeout 2 s)");
}

/// The proxy went silent once, buzon connected again, and the mail was acknowledged.
fn assert_reconnected_and_acknowledged(proxy: &StallingProxy, ack: &[Vec<u8>]) {
    assert!(
        proxy.stalled.load(Ordering::SeqCst),
        "the proxy stalled once"
    );
    assert!(
        proxy.connections.load(Ordering::SeqCst) >= 2,
        "buzon reconnected"
    );
    assert!(
        parsed(&ack[0]).subject.starts_with("[Caso #1]"),
        "acknowledged"
    );
}
