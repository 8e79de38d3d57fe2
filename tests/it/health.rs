//! Issue 17, health and metrics: `/health` turns red within a minute of each cause, on a
//! real mail server taken down under a running daemon (IMAP stopped: no sync; SMTP stopped:
//! the outbox ages), and green again once it is back; `buzon status` says the same with
//! exit 1; `/metrics` counts what really happened.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::*;

/// A port nobody listens on now (the kernel's choice, released at once).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").port()
}

/// `GET path` on loopback over plain HTTP/1.1: the status code and the body.
pub async fn http_get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await?;
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Ok((code, body.to_string()))
}

/// Poll `/health` until it answers `code`; how long that took, and the body.
async fn health_becomes(port: u16, code: u16, patience: Duration) -> (Duration, serde_json::Value) {
    let started = Instant::now();
    loop {
        if let Ok((got, body)) = http_get(port, "/health").await {
            if got == code {
                let json = serde_json::from_str(&body).expect("/health answers JSON");
                return (started.elapsed(), json);
            }
        }
        assert!(
            started.elapsed() < patience,
            "/health did not answer {code} within {patience:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A desk on a server of its own, serving HTTP on `port`, with small health ages.
async fn watched_desk(test: &str, db: Db, server: &PrivateServer, port: u16) -> Desk {
    let mut desk = Desk::with(
        test,
        DeskOptions {
            server: Some(server.0.clone()),
            db,
            poll_interval_secs: 1,
            extra: format!(
                "[http]\nlisten = \"127.0.0.1:{port}\"\n[health]\nmax_sync_age_secs = 3\nmax_outbox_age_secs = 3\n"
            ),
            ..DeskOptions::default()
        },
    )
    .await;
    desk.start();
    desk
}

fn status(desk: &Desk) -> (Option<i32>, String) {
    let out = desk.cli(&["status"]);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn health_turns_red_when_imap_stops_and_green_when_it_is_back() {
    let server = PrivateServer::start();
    let port = free_port();
    let mut desk = watched_desk("health-imap", Db::Sqlite, &server, port).await;
    let (_, healthy) = health_becomes(port, 200, Duration::from_secs(20)).await;
    assert_eq!(healthy["healthy"], true);
    assert_eq!(
        healthy["mailboxes"][0]["mailbox"],
        format!("{}/INBOX", desk.names.support())
    );
    assert_eq!(status(&desk).0, Some(0));

    server.control("stop-imap");
    let (after, red) = health_becomes(port, 503, Duration::from_secs(60)).await;
    assert!(after < Duration::from_secs(60), "red after {after:?}");
    eprintln!("/health red {after:?} after IMAP stopped (max_sync_age_secs = 3)");
    let reason = &red["reasons"][0];
    assert_eq!(reason["reason"], "sync_stale", "{red}");
    assert_eq!(reason["limit_secs"], 3);
    assert!(reason["age_secs"].as_u64().unwrap() > 3, "{red}");
    let (code, text) = status(&desk);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.starts_with("UNHEALTHY\n"), "{text}");
    assert!(
        text.contains("unhealthy: mailbox") && text.contains("no successful sync"),
        "{text}"
    );

    server.control("start-imap");
    health_becomes(port, 200, Duration::from_secs(30)).await;
    desk.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn health_turns_red_when_the_outbox_ages_and_metrics_count_it_all() {
    let server = PrivateServer::start();
    let port = free_port();
    let mut desk = watched_desk("health-outbox", Db::Postgres, &server, port).await;
    health_becomes(port, 200, Duration::from_secs(20)).await;
    let customer = desk.names.addr("ana");
    desk.customer(&customer, None).await;
    server.control("stop-smtp");
    // Postfix is down: the mail goes straight into the mailbox.
    let support = desk.names.support();
    let mail = plain_mail(
        &customer,
        &support,
        "No arranca",
        "health-outbox@cliente.test",
        "Hola",
    );
    append_on(&server.0, &support, &mail).await;

    let (after, red) = health_becomes(port, 503, Duration::from_secs(60)).await;
    assert!(after < Duration::from_secs(60), "red after {after:?}");
    eprintln!("/health red {after:?} after the mail came in (max_outbox_age_secs = 3)");
    assert_eq!(red["reasons"][0]["reason"], "outbox_stale", "{red}");
    assert!(
        red["oldest_pending_outbox_secs"].as_u64().unwrap() > 3,
        "{red}"
    );
    let (code, text) = status(&desk);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("unhealthy: outbox: mail"), "{text}");
    let json = desk.cli(&["status", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).expect("status --json");
    assert_eq!(json["reasons"][0]["reason"], "outbox_stale");

    server.control("start-smtp");
    health_becomes(port, 200, Duration::from_secs(45)).await;
    let (code, metrics) = http_get(port, "/metrics").await.expect("/metrics");
    assert_eq!(code, 200);
    assert_counted_it_all(&metrics, &support);
    desk.stop().await;
}

/// The metrics of one customer mail fetched and acknowledged after an SMTP outage.
fn assert_counted_it_all(metrics: &str, support: &str) {
    for line in [
        "buzon_mails_fetched_total 1",
        "buzon_mails_applied_total{outcome=\"case_created\"} 1",
        "buzon_deliveries_total{result=\"sent\"} 2",
        "buzon_outbox_mails{state=\"sent\"} 2",
        "buzon_inbound_mails{state=\"done\"} 1",
        "buzon_ack_latency_seconds_count 1",
        "buzon_outbox_oldest_pending_seconds 0",
        "buzon_healthy 1",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "no '{line}' in:\n{metrics}"
        );
    }
    let counted = |prefix: &str| {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(prefix)?.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    assert!(
        counted("buzon_deliveries_total{result=\"deferred\"}") >= 1,
        "{metrics}"
    );
    assert!(
        counted("buzon_errors_total{component=\"smtp\"}") >= 1,
        "{metrics}"
    );
    let synced = format!("buzon_last_sync_timestamp_seconds{{mailbox=\"{support}/INBOX\"}}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(now - counted(&synced) < 10, "{metrics}");
}
