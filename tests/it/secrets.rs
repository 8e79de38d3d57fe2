//! Issue 12 "Safe on the open internet" and issue 17 "clean logs": at every log level, even
//! `BUZON_LOG=trace`, in text or JSON, the log holds no password, no `support.secret` and no
//! mail body, over STARTTLS; written to a file it holds no colour codes; as JSON it is one
//! object a line whose spans name the mailbox, the case and the outbox row.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;

use crate::support::*;

/// What a trace log of a working desk was given to keep out of it, and the log itself.
struct TraceLog {
    text: String,
    forbidden: Vec<String>,
}

/// The whole log of a `buzon run` at trace level (stderr to a file), logging in to IMAP
/// (STARTTLS, LOGIN) and to SMTP (submission, STARTTLS, AUTH) with a password of its own,
/// while it takes a customer's mail and sends the acknowledgement and the agents' notice.
async fn trace_log_of_a_working_desk(test: &str, extra: &str) -> TraceLog {
    let password = format!("pw-{:08x}-Zq7", fastrand::u32(..));
    let body = format!("cuerpo-{:08x}-privado", fastrand::u32(..));
    let server = PrivateServer::start_with(&[("MAILTEST_PASSWORD", &password)]);
    let desk = Desk::with(
        test,
        DeskOptions {
            server: Some(server.0.clone()),
            imap_security: "starttls",
            smtp_security: "starttls",
            extra: extra.into(),
            ..DeskOptions::default()
        },
    )
    .await;
    let customer = desk.names.addr("ana");
    desk.customer(&customer, None).await;
    let support = desk.names.support();
    let mail = plain_mail(&customer, &support, "Clave", "secrets@cliente.test", &body);
    send_mail_via(&server.0, &customer, &[&support], &mail).await;

    let log_path = desk.path("trace.log");
    let sent = run_at_trace_level(&desk, &password, &log_path).await;
    let text = std::fs::read_to_string(&log_path).unwrap();
    if sent != 2 {
        let tail: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("WARN") || l.contains("ERROR") || l.contains("\"WARN\""))
            .take(20)
            .collect();
        panic!("acknowledgement and notice not sent ({sent} of 2); warnings: {tail:#?}");
    }
    // AUTH PLAIN carries "\0user\0password" in base64; AUTH LOGIN the password alone.
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    TraceLog {
        text,
        forbidden: vec![
            password.clone(),
            b64(&format!("\0{support}\0{password}")),
            b64(&password),
            desk.config().support.secret.expose().to_string(),
            body,
        ],
    }
}

/// `buzon run` at trace level, stderr to `log_path`, until it has sent two mails (or two
/// minutes have passed: a trace log is slow to write on a loaded machine, and the full suite
/// once took more than one); how many it sent.
async fn run_at_trace_level(desk: &Desk, password: &str, log_path: &std::path::Path) -> i64 {
    let log = std::fs::File::create(log_path).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_buzon"))
        .args(["run", "--config"])
        .arg(&desk.config_path)
        .env("BUZON_LOG", "trace")
        .env("BUZON_IMAP__PASSWORD", password)
        .env("BUZON_SMTP__PASSWORD", password)
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
        if sent >= 2 || started.elapsed() > Duration::from_secs(120) {
            break sent;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    child.kill().unwrap();
    child.wait().unwrap();
    sent
}

impl TraceLog {
    fn assert_keeps_secrets(&self) {
        assert!(!self.text.is_empty());
        for secret in &self.forbidden {
            let line = self.text.lines().find(|l| l.contains(secret.as_str()));
            assert!(line.is_none(), "the log shows a secret: {line:?}");
        }
        let coloured = self.text.lines().find(|l| l.contains('\u{1b}'));
        assert!(
            coloured.is_none(),
            "colour codes in a log file: {coloured:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trace_log_holds_no_password_and_no_secret() {
    let log = trace_log_of_a_working_desk("secrets", "").await;
    assert!(
        log.text.contains("TRACE") && log.text.contains("IMAP session ready"),
        "the log is a trace log of a working session"
    );
    log.assert_keeps_secrets();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_json_log_is_one_object_a_line_with_the_mail_s_spans() {
    let log = trace_log_of_a_working_desk("jsonlog", "[log]\nformat = \"json\"\n").await;
    log.assert_keeps_secrets();
    let lines: Vec<serde_json::Value> = log
        .text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(lines.iter().all(|l| l.is_object()));
    assert!(lines
        .iter()
        .any(|l| l["level"] == "TRACE" && l["message"].is_string()));
    let in_span = |name: &str, field: &str| {
        lines.iter().any(|l| {
            l["spans"].as_array().is_some_and(|spans| {
                spans
                    .iter()
                    .any(|s| s["name"] == name && !s[field].is_null())
            })
        })
    };
    assert!(in_span("imap", "mailbox"), "fetching names its mailbox");
    assert!(in_span("apply", "case"), "applying names its case");
    assert!(
        in_span("apply", "mailbox") && in_span("apply", "uid"),
        "applying names the mailbox and UID the mail came from"
    );
    assert!(in_span("send", "outbox"), "sending names its outbox row");
    assert!(
        lines.iter().any(|l| !l["uid"].is_null()),
        "storing names the UIDs"
    );
}
