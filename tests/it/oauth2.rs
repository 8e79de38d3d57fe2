//! OAuth2 logins through the real servers: Dovecot's oauth2 passdb checks every XOAUTH2
//! token by introspection at the test's own authorization server (oauth_server.rs), and
//! Postfix's SMTP AUTH goes through Dovecot. The tests log in with `buzon auth login`, as
//! an admin would, and approve the device code as the person at the browser would.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::oauth_server::{OAuthServer, Seen};
use crate::support::*;

struct Setup {
    oauth: OAuthServer,
    server: PrivateServer,
    desk: Desk,
}

/// An authorization server whose access tokens live `lifetime`, a mail server that checks
/// tokens with it, and a desk that logs in to both with OAuth2.
async fn setup(test: &str, lifetime: Duration) -> Setup {
    let oauth = OAuthServer::start(lifetime).await;
    let introspection = oauth.url("/introspect");
    let server =
        PrivateServer::start_with(&[("MAILTEST_OAUTH2_INTROSPECTION_URL", &introspection)]);
    let extra = format!(
        "[oauth2]\nprovider = \"custom\"\nclient_id = \"buzon-test\"\nscopes = [\"mail.imap\", \"mail.send\"]\ntoken_url = \"{}\"\ndevice_authorization_url = \"{}\"\nauthorization_url = \"{}\"\n",
        oauth.url("/token"),
        oauth.url("/device"),
        oauth.url("/authorize")
    );
    let desk = Desk::with(
        test,
        DeskOptions {
            server: Some(server.0.clone()),
            imap_security: "starttls",
            smtp_security: "starttls",
            oauth2: true,
            extra,
            ..Default::default()
        },
    )
    .await;
    Setup {
        oauth,
        server,
        desk,
    }
}

/// `buzon auth login`, with the test approving the code it prints as the mailbox's owner.
async fn auth_login(desk: &Desk, oauth: &OAuthServer) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_buzon"))
        .args(["auth", "login", "--config"])
        .arg(&desk.config_path)
        .env("BUZON_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run buzon auth login");
    let stdout = child.stdout.take().unwrap();
    let code = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find_map(|line| {
                let rest = line.split("enter the code ").nth(1)?;
                Some(rest.split_whitespace().next()?.to_string())
            })
    })
    .await
    .unwrap()
    .expect("buzon auth login shows a code");
    oauth.approve(&code, &desk.names.support());
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "buzon auth login failed");
}

/// `buzon auth login --browser`, with the test as the browser: it opens the address buzon
/// prints, signs in (or not, when `account` is None) and follows the redirect back to
/// buzon's loopback listener. Returns whether the login succeeded, and its stderr.
async fn browser_login(desk: &Desk, oauth: &OAuthServer, account: Option<&str>) -> (bool, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_buzon"))
        .args(["auth", "login", "--browser", "--config"])
        .arg(&desk.config_path)
        .env("BUZON_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run buzon auth login --browser");
    let stdout = child.stdout.take().unwrap();
    let url = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find_map(|line| Some(line.trim().strip_prefix("http")?.to_string()))
    })
    .await
    .unwrap()
    .expect("buzon auth login --browser shows an address");
    if let Some(account) = account {
        oauth.sign_in_as(account);
    }
    let page = reqwest::get(format!("http{url}"))
        .await
        .expect("the browser's round trip");
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("close this tab"), "{page}");
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

async fn cli(desk: &Desk, args: &'static [&'static str]) -> (bool, String) {
    let (config, args) = (desk.config_path.clone(), args.to_vec());
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_buzon"))
            .args(args)
            .arg("--config")
            .arg(config)
            .env("BUZON_LOG", "warn")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
    )
}

/// A customer's mail comes in over IMAP and its acknowledgement goes out over SMTP, both
/// logged in with XOAUTH2.
async fn round_trip(s: &Setup, n: usize) {
    let customer = s.desk.names.addr(&format!("cliente{n}"));
    s.desk.customer(&customer, None).await;
    let support = s.desk.names.support();
    let raw = plain_mail(
        &customer,
        &support,
        &format!("Caso {n}"),
        &format!("m{n}-{}@cliente.test", s.desk.names.tag),
        "Hola",
    );
    send_mail_via(&s.server.0, &customer, &[&support], &raw).await;
    wait_for_mail_on(&s.server.0, &customer, 1, Duration::from_secs(30)).await;
}

/// Set up, log in, start buzon, and see one mail through.
async fn running(test: &str, lifetime: Duration) -> Setup {
    let mut s = setup(test, lifetime).await;
    auth_login(&s.desk, &s.oauth).await;
    s.desk.start();
    round_trip(&s, 1).await;
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_login_then_imap_and_smtp_with_xoauth2() {
    let mut s = setup("oauth-login", Duration::from_secs(3600)).await;
    let (ok, out) = cli(&s.desk, &["check"]).await;
    assert!(!ok, "no login stored yet: {out}");
    assert!(
        out.contains("oauth2: FAILED") && out.contains("buzon auth login"),
        "{out}"
    );

    auth_login(&s.desk, &s.oauth).await;
    let asked = s.oauth.seen().into_iter().find_map(|(_, seen)| match seen {
        Seen::DeviceCode { client_id, scope } => Some((client_id, scope)),
        _ => None,
    });
    assert_eq!(
        asked,
        Some(("buzon-test".into(), "mail.imap mail.send".into()))
    );
    let row = s
        .desk
        .store()
        .oauth2_token(&s.desk.names.support())
        .await
        .unwrap()
        .unwrap();
    assert!(
        !row.sealed_refresh.contains("rt-"),
        "the refresh token is stored sealed"
    );

    let (ok, out) = cli(&s.desk, &["check"]).await;
    assert!(ok, "{out}");
    for line in ["oauth2: ok", "imap: ok", "smtp: ok"] {
        assert!(out.contains(line), "no '{line}' in {out}");
    }
    s.desk.start();
    round_trip(&s, 1).await;
    s.desk.stop().await;
    let active = s.oauth.count(&Seen::Introspection { active: true });
    assert!(
        active >= 4,
        "Dovecot checked each IMAP and SMTP login's token: {active}"
    );
    assert_eq!(s.oauth.count(&Seen::Introspection { active: false }), 0);
}

/// Gmail's way in: the browser flow with PKCE and a loopback redirect; a person who
/// refuses leaves nothing stored and a clear error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_login_with_pkce_then_imap_and_smtp() {
    let mut s = setup("oauth-browser", Duration::from_secs(3600)).await;
    let (ok, err) = browser_login(&s.desk, &s.oauth, None).await;
    assert!(!ok && err.contains("access_denied"), "{err}");
    assert!(s
        .desk
        .store()
        .oauth2_token(&s.desk.names.support())
        .await
        .unwrap()
        .is_none());

    let (ok, err) = browser_login(&s.desk, &s.oauth, Some(&s.desk.names.support())).await;
    assert!(ok, "{err}");
    let asked = s.oauth.seen().into_iter().find_map(|(_, seen)| match seen {
        Seen::Authorize { client_id, scope } => Some((client_id, scope)),
        _ => None,
    });
    assert_eq!(
        asked,
        Some(("buzon-test".into(), "mail.imap mail.send".into()))
    );
    assert_eq!(s.oauth.count(&Seen::CodeExchange { accepted: true }), 1);
    assert_eq!(s.oauth.count(&Seen::CodeExchange { accepted: false }), 0);
    assert!(
        !s.oauth
            .seen()
            .iter()
            .any(|(_, seen)| matches!(seen, Seen::DeviceCode { .. })),
        "no device code was asked for"
    );
    let (ok, out) = cli(&s.desk, &["check"]).await;
    assert!(ok, "{out}");
    s.desk.start();
    round_trip(&s, 1).await;
    s.desk.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_is_refreshed_and_tried_again() {
    let mut s = running("oauth-refused", Duration::from_secs(3600)).await;
    let refreshes = s.oauth.count(&Seen::Refresh { accepted: true });
    // The provider ends the tokens early, and the IMAP server restarts: the next logins
    // are refused until buzon refreshes.
    s.oauth.revoke_access_tokens();
    s.server.control("stop-imap");
    s.server.control("start-imap");
    round_trip(&s, 2).await;
    s.desk.stop().await;
    assert!(s.oauth.count(&Seen::Introspection { active: false }) >= 1);
    assert!(s.oauth.count(&Seen::Refresh { accepted: true }) > refreshes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_expiring_during_idle_lose_no_mail() {
    let lifetime = Duration::from_secs(6);
    let mut s = setup("oauth-idle", lifetime).await;
    auth_login(&s.desk, &s.oauth).await;
    s.desk.start();
    let customer = s.desk.names.addr("cliente");
    s.desk.customer(&customer, None).await;
    let support = s.desk.names.support();
    // Mail arrives steadily over three token lifetimes, while buzon waits in IDLE and logs
    // in again each time its token is due.
    let started = Instant::now();
    let mut sent = 0;
    while started.elapsed() < lifetime * 3 {
        let raw = plain_mail(
            &customer,
            &support,
            &format!("Caso {sent}"),
            &format!("i{sent}-{}@cliente.test", s.desk.names.tag),
            "x",
        );
        send_mail_via(&s.server.0, &customer, &[&support], &raw).await;
        sent += 1;
        // One a second: 18 mails, under the 20 cases an address may open in an hour.
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let acks = wait_for_mail_on(&s.server.0, &customer, sent, Duration::from_secs(30)).await;
    s.desk.stop().await;
    assert_eq!(
        acks.len(),
        sent,
        "one acknowledgement per mail: none lost, none twice"
    );
    let counts = s.desk.store().inbound_counts().await.unwrap();
    let pending: i64 = counts
        .iter()
        .filter(|(st, _)| st == "pending")
        .map(|(_, n)| *n)
        .sum();
    assert_eq!(pending, 0, "{counts:?}");
    assert!(
        s.oauth.count(&Seen::Refresh { accepted: true }) >= 4,
        "{:?}",
        s.oauth.seen()
    );
    // Every login presented a live token: buzon renewed before the server would refuse.
    assert_eq!(s.oauth.count(&Seen::Introspection { active: false }), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_login_alarms_backs_off_and_recovers_after_auth_login() {
    let mut s = running("oauth-revoked", Duration::from_secs(6)).await;
    // Consent withdrawn: every refresh token dies; the access token in hand lives on.
    s.oauth.revoke_refresh_tokens();
    let admin = s.desk.names.addr("admin");
    let told = wait_for_mail_on(&s.server.0, &admin, 1, Duration::from_secs(20)).await;
    let subject = header(&told[0], "Subject").unwrap_or_default();
    assert!(subject.contains("OAuth2 login"), "{subject}");
    let failure = s
        .desk
        .store()
        .oauth2_failure()
        .await
        .unwrap()
        .expect("recorded");
    assert!(
        failure.refused && failure.error.contains("invalid_grant"),
        "{failure:?}"
    );
    let (ok, out) = cli(&s.desk, &["check"]).await;
    assert!(
        !ok && out.contains("oauth2: FAILED") && out.contains("fails since"),
        "{out}"
    );
    assert!(out.contains("buzon auth login"), "{out}");
    let (ok, out) = cli(&s.desk, &["status"]).await;
    assert!(
        !ok && out.contains("oauth2") && out.contains("buzon auth login"),
        "buzon status (and /health) turn red: {out}"
    );

    // A customer writes while buzon cannot log in; it keeps trying, without hammering.
    let refused = Seen::Refresh { accepted: false };
    let customer = s.desk.names.addr("cliente2");
    s.desk.customer(&customer, None).await;
    let support = s.desk.names.support();
    let raw = plain_mail(
        &customer,
        &support,
        "Durante el fallo",
        &format!("f-{}@cliente.test", s.desk.names.tag),
        "x",
    );
    send_mail_via(&s.server.0, &customer, &[&support], &raw).await;
    let since = Instant::now();
    eventually("three refused refreshes", || async {
        s.oauth.count(&refused) >= 3
    })
    .await;
    let tries = s.oauth.count(&refused);
    assert!(
        tries <= 8,
        "{tries} refused refreshes in {:?}: no backoff",
        since.elapsed()
    );
    assert_eq!(
        mailbox_on(&s.server.0, &admin).await.len(),
        1,
        "told once a day at most"
    );

    // The admin signs in again: buzon takes the new login at once and catches up.
    auth_login(&s.desk, &s.oauth).await;
    wait_for_mail_on(&s.server.0, &customer, 1, Duration::from_secs(30)).await;
    assert_eq!(s.desk.store().oauth2_failure().await.unwrap(), None);
    s.desk.stop().await;
    let (ok, out) = cli(&s.desk, &["check"]).await;
    assert!(ok, "{out}");
}
