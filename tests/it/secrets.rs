//! Issue 12 "Safe on the open internet", secrets in logs: at every log level, even
//! `BUZON_LOG=trace`, the log holds no password and no `support.secret`, over STARTTLS.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;

use crate::support::*;

/// The whole log of a `buzon run` at trace level, logging in to IMAP (STARTTLS, LOGIN) and
/// to SMTP (submission, STARTTLS, AUTH) with a password of its own, while it takes a
/// customer's mail and sends the acknowledgement and the agents' notice.
#[tokio::test(flavor = "multi_thread")]
async fn a_trace_log_holds_no_password_and_no_secret() {
    let password = format!("pw-{:08x}-Zq7", fastrand::u32(..));
    let server = PrivateServer::start_with(&[("MAILTEST_PASSWORD", &password)]);
    let desk = Desk::with(
        "secrets",
        DeskOptions {
            server: Some(server.0.clone()),
            imap_security: "starttls",
            smtp_security: "starttls",
            ..DeskOptions::default()
        },
    )
    .await;
    let customer = desk.names.addr("ana");
    desk.customer(&customer, None).await;
    let support = desk.names.support();
    let mail = plain_mail(&customer, &support, "Clave", "secrets@cliente.test", "hola");
    send_mail_via(&server.0, &customer, &[&support], &mail).await;

    let log_path = desk.path("trace.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_buzon"))
        .args(["run", "--config"])
        .arg(&desk.config_path)
        .env("BUZON_LOG", "trace")
        .env("BUZON_IMAP__PASSWORD", &password)
        .env("BUZON_SMTP__PASSWORD", &password)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn buzon run");
    let started = Instant::now();
    let sent = loop {
        let counts = desk.store().outbox_counts().await.unwrap();
        let sent: i64 = counts
            .iter()
            .filter(|(s, _)| s == "sent")
            .map(|c| c.1)
            .sum();
        if sent >= 2 || started.elapsed() > Duration::from_secs(60) {
            break sent;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    child.kill().unwrap();
    child.wait().unwrap();
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert_eq!(
        sent, 2,
        "acknowledgement and notice sent (so both logins happened)"
    );
    assert!(
        log.contains("TRACE") && log.contains("IMAP session ready"),
        "the log is a trace log of a working session"
    );
    // AUTH PLAIN carries "\0user\0password" in base64; AUTH LOGIN the password alone.
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let forbidden = [
        password.clone(),
        b64(&format!("\0{support}\0{password}")),
        b64(&password),
        desk.config().support.secret.expose().to_string(),
    ];
    for secret in &forbidden {
        let line = log.lines().find(|l| l.contains(secret.as_str()));
        assert!(line.is_none(), "the log shows a secret: {line:?}");
    }
}
