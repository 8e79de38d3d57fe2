//! Test support: a real Dovecot + Postfix (scripts/mailserver.sh), a fresh database per
//! test (SQLite file or a new PostgreSQL database), buzon running against them, and helpers
//! to send mail in and read mail out. No mocks: every test talks to the real servers.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use buzon::config::{self, Config};
use buzon::daemon::{self, App};
use buzon::store::Store;
use futures::TryStreamExt;
use lettre::address::Envelope;
use tokio_util::sync::CancellationToken;

/// The mail server all tests of this process share; each test uses its own mailboxes.
#[derive(Debug, Clone)]
pub struct MailServer {
    #[allow(dead_code)] // read by maildir_new
    pub dir: PathBuf,
    pub base: u16,
    pub ca: PathBuf,
}

impl MailServer {
    pub fn imap(&self) -> u16 {
        self.base + 143
    }
    pub fn imaps(&self) -> u16 {
        self.base + 993
    }
    pub fn smtp(&self) -> u16 {
        self.base + 25
    }
    /// Port 25's twin that does not announce PIPELINING and cuts off clients that pipeline.
    pub fn smtp_without_pipelining(&self) -> u16 {
        self.base + 26
    }
    pub fn submission(&self) -> u16 {
        self.base + 587
    }
    pub fn smtps(&self) -> u16 {
        self.base + 465
    }
    /// Whether Postfix holds no message: everything it accepted has been delivered.
    fn postfix_queue_is_empty(&self) -> bool {
        fn files(dir: &Path) -> usize {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return 0;
            };
            entries
                .flatten()
                .map(|e| match e.file_type() {
                    Ok(t) if t.is_dir() => files(&e.path()),
                    Ok(_) => 1,
                    Err(_) => 0,
                })
                .sum()
        }
        let queue = self.dir.join("postfix-queue");
        ["maildrop", "incoming", "active", "deferred", "hold"]
            .iter()
            .all(|q| files(&queue.join(q)) == 0)
    }
    /// Wait until Postfix has delivered everything it accepted; how long that took.
    pub async fn postfix_delivered(&self, patience: Duration) -> Duration {
        let started = Instant::now();
        while !self.postfix_queue_is_empty() {
            assert!(
                started.elapsed() < patience,
                "Postfix still holds messages after {patience:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        started.elapsed()
    }

    /// Where Dovecot keeps new mail for `user@example.test` (read directly by benchmarks).
    #[allow(dead_code)] // used by benches/pipeline.rs, which includes this file
    pub fn maildir_new(&self, user: &str) -> PathBuf {
        let local = user.split('@').next().unwrap_or(user);
        self.dir
            .join("mail/example.test")
            .join(local)
            .join("Maildir/new")
    }
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Start (once) a private mail server; a watchdog stops it when this test process exits.
pub fn mail_server() -> &'static MailServer {
    static SERVER: OnceLock<MailServer> = OnceLock::new();
    SERVER.get_or_init(|| {
        if let (Ok(dir), Ok(base)) = (
            std::env::var("MAILTEST_DIR"),
            std::env::var("MAILTEST_PORT_BASE"),
        ) {
            let dir = PathBuf::from(dir);
            return MailServer {
                ca: dir.join("tls/ca.pem"),
                dir,
                base: base.parse().expect("MAILTEST_PORT_BASE"),
            };
        }
        start_private_server()
    })
}

/// A mail server of one test's own, for outages; stopped when dropped. The second field is
/// the `MAILTEST_*` settings it was started with (kept for `control`'s restarts).
pub struct PrivateServer(pub MailServer, Vec<(String, String)>);

impl PrivateServer {
    pub fn start() -> PrivateServer {
        Self::start_with(&[])
    }

    /// A private server with `MAILTEST_*` settings of its own (`MAILTEST_PASSWORD`,
    /// `MAILTEST_RECIPIENT_LIMIT`, see scripts/mailserver.sh).
    pub fn start_with(settings: &[(&str, &str)]) -> PrivateServer {
        let settings: Vec<(String, String)> = settings
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        static NEXT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);
        for _ in 0..40 {
            let slot = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            // 50000-57999: apart from the shared servers' 20000-49999.
            let base = 50_000 + (std::process::id() % 8) as u16 * 1000 + (slot % 8) * 100;
            let dir =
                std::env::temp_dir().join(format!("buzon-private-{}-{base}", std::process::id()));
            // Slots wrap around: a directory still there is another test's running server,
            // which `start` would hand back as if it were new.
            if dir.exists() {
                continue;
            }
            if mailserver_sh_with(&dir, base, &["start"], &settings) {
                return PrivateServer(
                    MailServer {
                        ca: dir.join("tls/ca.pem"),
                        dir,
                        base,
                    },
                    settings,
                );
            }
            // A port was taken: nothing runs there; free the slot for a later try.
            mailserver_sh(&dir, base, &["stop", "--fast"]);
            let _ = std::fs::remove_dir_all(&dir);
        }
        panic!("could not start a private mail server");
    }

    /// `stop-smtp`, `start-smtp`, `stop-imap`, `start-imap`.
    pub fn control(&self, action: &str) {
        assert!(
            mailserver_sh_with(&self.0.dir, self.0.base, &[action], &self.1),
            "mailserver.sh {action}"
        );
    }
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        mailserver_sh(&self.0.dir, self.0.base, &["stop", "--fast"]);
        let _ = std::fs::remove_dir_all(&self.0.dir);
    }
}

/// Run scripts/mailserver.sh for the instance in `dir` on port base `base`. Its output is
/// not piped: Dovecot keeps the stderr it started with open for its whole life.
fn mailserver_sh(dir: &Path, base: u16, args: &[&str]) -> bool {
    mailserver_sh_with(dir, base, args, &[])
}

fn mailserver_sh_with(dir: &Path, base: u16, args: &[&str], settings: &[(String, String)]) -> bool {
    Command::new(repo_root().join("scripts/mailserver.sh"))
        .args(args)
        .envs(settings.iter().map(|(k, v)| (k, v)))
        .env("MAILTEST_DIR", dir)
        .env("MAILTEST_PORT_BASE", base.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run scripts/mailserver.sh")
        .success()
}

fn start_private_server() -> MailServer {
    let script = repo_root().join("scripts/mailserver.sh");
    let first = 30 + (std::process::id() % 20) as u16;
    for slot in (first..50).chain(30..first) {
        let base = slot * 1000;
        let dir =
            std::env::temp_dir().join(format!("buzon-mailtest-{}-{base}", std::process::id()));
        if mailserver_sh(&dir, base, &["start"]) {
            let watchdog = format!(
                "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; MAILTEST_DIR='{dir}' MAILTEST_PORT_BASE={base} '{script}' stop --fast; rm -rf '{dir}'",
                pid = std::process::id(),
                dir = dir.display(),
                script = script.display(),
            );
            // Detached: the shell starts the watchdog in the background and returns.
            Command::new("sh")
                .arg("-c")
                .arg(format!("({watchdog}) </dev/null >/dev/null 2>&1 &"))
                .status()
                .expect("watchdog");
            return MailServer {
                ca: dir.join("tls/ca.pem"),
                dir,
                base,
            };
        }
    }
    panic!("could not start the test mail server (are dovecot and postfix installed? run scripts/install-deps.sh as root)");
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// The server where tests create their PostgreSQL databases.
pub fn postgres_admin_url() -> String {
    std::env::var("BUZON_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

/// A URL to a brand-new empty database.
pub async fn fresh_database(db: Db, dir: &Path) -> String {
    match db {
        Db::Sqlite => format!("sqlite://{}", dir.join("buzon.db").display()),
        Db::Postgres => {
            use sqlx::Connection;
            let admin = postgres_admin_url();
            let name = format!("buzon_t_{}_{:08x}", std::process::id(), fastrand::u32(..));
            let mut conn = sqlx::PgConnection::connect(&admin)
                .await
                .unwrap_or_else(|e| panic!("PostgreSQL at {admin} is needed for this test ({e}); scripts/test.sh starts one"));
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut conn)
                .await
                .expect("create test database");
            let (prefix, _) = admin.rsplit_once('/').expect("database URL has a path");
            format!("{prefix}/{name}")
        }
    }
}

/// Names unique to one test, so tests share the mail server without seeing each other.
#[derive(Debug, Clone)]
pub struct Names {
    pub tag: String,
}

impl Names {
    pub fn new(test: &str) -> Self {
        Names {
            tag: format!("{test}-{:06x}", fastrand::u32(..0xff_ffff)),
        }
    }
    pub fn addr(&self, who: &str) -> String {
        format!("{who}-{}@example.test", self.tag)
    }
    pub fn support(&self) -> String {
        self.addr("soporte")
    }
}

/// One buzon installation under test: its own database, storage and support mailbox.
pub struct Desk {
    pub names: Names,
    /// Database, storage and configuration live here until the desk is dropped.
    _tempdir: tempfile::TempDir,
    pub config_path: PathBuf,
    pub app: App,
    running: Option<(CancellationToken, tokio::task::JoinHandle<()>)>,
}

pub struct DeskOptions {
    /// A server of the test's own (default: the shared one).
    pub server: Option<MailServer>,
    /// Connect IMAP here instead (a proxy in front of the server).
    pub imap_port: Option<u16>,
    /// Connect SMTP here instead.
    pub smtp_port: Option<u16>,
    pub db: Db,
    pub imap_security: &'static str,
    pub smtp_security: &'static str,
    /// Appended at the end of the configuration (new sections).
    pub extra: String,
    /// Added to the `[imap]` section.
    pub imap_extra: String,
    /// Added to the `[smtp]` section.
    pub smtp_extra: String,
    /// Added to the `[storage]` section.
    pub storage_extra: String,
    /// Added to the `[agents]` section.
    pub agents_extra: String,
    /// Log in to IMAP and SMTP with OAuth2 (give `[oauth2]` in `extra`); `admin-<tag>` is
    /// support.admin.
    pub oauth2: bool,
    /// `imap.poll_interval_secs` (30): also how often IDLE re-checks, so a health test
    /// with small ages needs a small one.
    pub poll_interval_secs: u64,
    /// `[[mailboxes]]` instead of `[imap]` (empty: the one `[imap]` mailbox).
    pub mailboxes: Vec<Queue>,
}

/// One of several mailboxes of a desk: its address is `names.addr(name)` (so `soporte` is
/// `names.support()`), its IMAP account that address on the test server.
#[derive(Debug, Clone)]
pub struct Queue {
    pub name: &'static str,
    pub display_name: &'static str,
    pub language: &'static str,
    pub products: &'static [&'static str],
    /// The agents told of its cases, by local name (`agente`, `ventas-agente`); they join
    /// agents.addresses. None: every agent.
    pub agents: Option<&'static [&'static str]>,
}

impl Queue {
    /// The `[[mailboxes]]` entry, logging in like `[imap]` does.
    fn toml(&self, names: &Names, imap: &str) -> String {
        let agents = match self.agents {
            Some(list) => format!(
                "agents = [{}]\n",
                list.iter()
                    .map(|a| format!("\"{}\"", names.addr(a)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None => String::new(),
        };
        let products = self
            .products
            .iter()
            .map(|p| format!("\"{p}\""))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "\n[[mailboxes]]\nname = \"{name}\"\naddress = \"{address}\"\ndisplay_name = \"{display}\"\nlanguage = \"{language}\"\nproducts = [{products}]\n{agents}[mailboxes.imap]\nusername = \"{address}\"\n{imap}",
            name = self.name,
            address = names.addr(self.name),
            display = self.display_name,
            language = self.language,
        )
    }
}

impl Default for DeskOptions {
    fn default() -> Self {
        DeskOptions {
            server: None,
            imap_port: None,
            smtp_port: None,
            db: Db::Sqlite,
            imap_security: "none",
            smtp_security: "none",
            extra: String::new(),
            imap_extra: String::new(),
            smtp_extra: String::new(),
            storage_extra: String::new(),
            agents_extra: String::new(),
            oauth2: false,
            poll_interval_secs: 30,
            mailboxes: Vec::new(),
        }
    }
}

impl Desk {
    pub async fn new(test: &str) -> Desk {
        Self::with(test, DeskOptions::default()).await
    }

    /// A desk whose configuration ends with `extra` (new sections, such as `[limits]`).
    pub async fn with_extra(test: &str, extra: &str) -> Desk {
        Desk::with(
            test,
            DeskOptions {
                extra: extra.into(),
                ..Default::default()
            },
        )
        .await
    }

    pub async fn with(test: &str, options: DeskOptions) -> Desk {
        if let Ok(filter) = std::env::var("BUZON_TEST_LOG") {
            // Logs of the in-process daemons, for debugging a test.
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_test_writer()
                .try_init();
        }
        let server = options
            .server
            .clone()
            .unwrap_or_else(|| mail_server().clone());
        let server = &server;
        let names = Names::new(test);
        let dir = tempfile::tempdir().expect("tempdir");
        let url = fresh_database(options.db, dir.path()).await;
        let (imap_port, smtp_port) = ports(server, options.imap_security, options.smtp_security);
        let imap_port = options.imap_port.unwrap_or(imap_port);
        let smtp_port = options.smtp_port.unwrap_or(smtp_port);
        let (imap_login, admin) = match options.oauth2 {
            true => (
                "auth = \"oauth2\"".into(),
                format!("admin = \"{}\"", names.addr("admin")),
            ),
            false => ("password = \"secret\"".to_string(), String::new()),
        };
        let smtp_auth = if options.oauth2 {
            "auth = \"oauth2\"\n".to_string()
        } else if options.smtp_security == "none" {
            String::new()
        } else {
            format!(
                "username = \"{}\"\npassword = \"secret\"\n",
                names.support()
            )
        };
        let imap = format!(
            "host = \"127.0.0.1\"\nport = {imap_port}\nsecurity = \"{imap_sec}\"\n{imap_login}\nca_file = \"{ca}\"\npoll_interval_secs = {poll}\n{imap_extra}",
            imap_sec = options.imap_security,
            ca = server.ca.display(),
            poll = options.poll_interval_secs,
            imap_extra = options.imap_extra,
        );
        let (imap_section, support_address, mailboxes) = match options.mailboxes.is_empty() {
            true => (
                format!("[imap]\nusername = \"{}\"\n{imap}", names.support()),
                format!("address = \"{}\"", names.support()),
                String::new(),
            ),
            false => (
                String::new(),
                String::new(),
                options
                    .mailboxes
                    .iter()
                    .map(|q| q.toml(&names, &imap))
                    .collect::<String>(),
            ),
        };
        let mut agents = vec![names.addr("agente")];
        for q in &options.mailboxes {
            for a in q.agents.unwrap_or(&[]) {
                if !agents.contains(&names.addr(a)) {
                    agents.push(names.addr(a));
                }
            }
        }
        let agents = agents
            .iter()
            .map(|a| format!("\"{a}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let text = format!(
            r#"
{imap_section}
[smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "{smtp_sec}"
ca_file = "{ca}"
{smtp_auth}{smtp_extra}
[support]
{support_address}
name = "Soporte Test"
products = ["Harmony", "Integration Studio", "API Manager"]
secret = "test-secret-0123456789abcdef"
{admin}

[agents]
addresses = [{agents}]
{agents_extra}

[database]
url = "{url}"

[storage]
dir = "{storage}"
{storage_extra}
{extra}
{mailboxes}"#,
            smtp_sec = options.smtp_security,
            ca = server.ca.display(),
            storage = dir.path().join("data").display(),
            extra = options.extra,
            smtp_extra = options.smtp_extra,
            storage_extra = options.storage_extra,
            agents_extra = options.agents_extra,
        );
        let config_path = dir.path().join("buzon.toml");
        std::fs::write(&config_path, &text).expect("write config");
        let config = config::from_toml(&text, &[]).expect("test config is valid");
        let app = App::build(config).await.expect("build app");
        Desk {
            names,
            _tempdir: dir,
            config_path,
            app,
            running: None,
        }
    }

    pub fn config(&self) -> &Config {
        &self.app.config
    }

    pub fn store(&self) -> &Store {
        &self.app.store
    }

    /// Start the daemon in this process.
    pub fn start(&mut self) {
        let token = CancellationToken::new();
        let app = self.app.clone();
        let t = token.clone();
        let handle = tokio::spawn(async move {
            daemon::run(app, t).await.expect("daemon");
        });
        self.running = Some((token, handle));
    }

    /// Stop the daemon and wait for it (as SIGTERM would).
    pub async fn stop(&mut self) {
        if let Some((token, handle)) = self.running.take() {
            token.cancel();
            handle.await.expect("daemon task");
        }
        // The daemon closes the pool on the way out; open it again for assertions.
        let app = App::build(self.app.config.as_ref().clone())
            .await
            .expect("rebuild app");
        self.app = app;
    }

    pub async fn customer(&self, email: &str, language: Option<&str>) {
        self.store()
            .add_customer(&buzon::store::CustomerRow {
                email: email.to_string(),
                name: None,
                org_domain: None,
                language: language.map(str::to_string),
            })
            .await
            .expect("add customer");
    }

    /// Start `buzon run` as its own process (to kill it, or signal it), logging to `log`.
    pub fn spawn(&self, crash_at: Option<&str>, log: &Path) -> std::process::Child {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("log file");
        Command::new(env!("CARGO_BIN_EXE_buzon"))
            .args(["run", "--config"])
            .arg(&self.config_path)
            .env("BUZON_LOG", "info")
            .env("BUZON_CRASH_AT", crash_at.unwrap_or(""))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn buzon run")
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self._tempdir.path().join(name)
    }

    /// `from` writes a plain mail to this desk's support address (through Postfix).
    pub async fn write(&self, from: &str, subject: &str, message_id: &str, body: &str) {
        let support = self.names.support();
        send_mail(
            from,
            &[&support],
            &plain_mail(from, &support, subject, message_id, body),
        )
        .await;
    }

    /// The agent answers the first notification they got, from their own mail client.
    pub async fn agent_answers(&self, message_id: &str, text: &str) {
        let agent = self.names.addr("agente");
        let support = self.names.support();
        let notification = wait_for_mail(&agent, 1).await.remove(0);
        send_mail(
            &agent,
            &[&support],
            &reply_to(&notification, &agent, &support, message_id, text),
        )
        .await;
    }

    /// Run the `buzon` binary against this desk's configuration.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_buzon"))
            .args(args)
            .arg("--config")
            .arg(&self.config_path)
            .env("BUZON_LOG", "warn")
            .stdin(Stdio::null())
            .output()
            .expect("run buzon")
    }
}

fn ports(server: &MailServer, imap: &str, smtp: &str) -> (u16, u16) {
    let imap_port = if imap == "tls" {
        server.imaps()
    } else {
        server.imap()
    };
    let smtp_port = match smtp {
        "tls" => server.smtps(),
        "starttls" => server.submission(),
        _ => server.smtp(),
    };
    (imap_port, smtp_port)
}

/// Hand a message to Postfix (port 25, no AUTH: loopback is trusted) as a mail client would.
pub async fn send_mail(from: &str, to: &[&str], raw: &[u8]) {
    send_mail_via(mail_server(), from, to, raw).await
}

/// Plain SMTP to `port` on loopback, without AUTH, as a mail client or test sees it.
pub fn plain_smtp(port: u16) -> buzon::config::SmtpConfig {
    buzon::config::SmtpConfig {
        host: "127.0.0.1".into(),
        port,
        security: buzon::config::Security::None,
        username: None,
        auth: buzon::config::AuthMethod::Password,
        password: None,
        ca_file: None,
        connections: 1,
        retry_initial: Duration::from_secs(1),
        retry_max: Duration::from_secs(1),
        timeout: Duration::from_secs(60),
        max_recipients: 100,
        max_age: Duration::from_secs(120 * 3600),
    }
}

pub async fn send_mail_via(server: &MailServer, from: &str, to: &[&str], raw: &[u8]) {
    let config = plain_smtp(server.smtp());
    let mut conn = buzon::send::open(&config, "client.example.test")
        .await
        .expect("SMTP connect");
    let envelope = Envelope::new(
        // An empty envelope sender is the null reverse-path of bounces.
        (!from.is_empty()).then(|| from.parse().expect("from")),
        to.iter().map(|t| t.parse().expect("to")).collect(),
    )
    .expect("envelope");
    conn.send(&envelope, raw)
        .await
        .expect("SMTP accepted the test mail");
    let _ = conn.quit().await;
}

/// Every message in a user's INBOX, raw, oldest first.
pub async fn mailbox(user: &str) -> Vec<Vec<u8>> {
    mailbox_on(mail_server(), user).await
}

pub async fn mailbox_on(server: &MailServer, user: &str) -> Vec<Vec<u8>> {
    let config = imap_config(server, user);
    let mut session = buzon::fetch::connect(&config).await.expect("IMAP login");
    let selected = session.select("INBOX").await.expect("select");
    let mut out = Vec::new();
    if selected.exists > 0 {
        let fetched: Vec<_> = session
            .uid_fetch("1:*", "(UID BODY.PEEK[])")
            .await
            .expect("fetch")
            .try_collect()
            .await
            .expect("fetch stream");
        let mut pairs: Vec<(u32, Vec<u8>)> = fetched
            .iter()
            .filter_map(|f| Some((f.uid?, f.body()?.to_vec())))
            .collect();
        pairs.sort_by_key(|(uid, _)| *uid);
        out = pairs.into_iter().map(|(_, b)| b).collect();
    }
    let _ = session.logout().await;
    out
}

pub fn imap_config(server: &MailServer, user: &str) -> buzon::config::ImapConfig {
    buzon::config::ImapConfig {
        host: "127.0.0.1".into(),
        port: server.imap(),
        security: buzon::config::Security::None,
        username: user.into(),
        auth: buzon::config::AuthMethod::Password,
        password: buzon::config::Secret::new("secret"),
        mailbox: "INBOX".into(),
        idle: false,
        poll_interval: Duration::from_secs(30),
        ca_file: None,
        on_processed: buzon::config::OnProcessed::Flag,
        timeout: Duration::from_secs(60),
    }
}

/// Wait until `user`'s INBOX holds at least `count` messages; return them all.
pub async fn wait_for_mail(user: &str, count: usize) -> Vec<Vec<u8>> {
    wait_for_mail_on(mail_server(), user, count, Duration::from_secs(20)).await
}

pub async fn wait_for_mail_on(
    server: &MailServer,
    user: &str,
    count: usize,
    patience: Duration,
) -> Vec<Vec<u8>> {
    let deadline = Instant::now() + patience;
    loop {
        let mails = mailbox_on(server, user).await;
        if mails.len() >= count {
            return mails;
        }
        assert!(
            Instant::now() < deadline,
            "{user} has {} of {count} expected mails after {patience:?}",
            mails.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Wait until every one of `total` mails has left the pending state; their counts by state.
pub async fn all_processed(desk: &Desk, total: i64) -> Vec<(String, i64)> {
    eventually("every mail processed", || async {
        let counts = desk.store().inbound_counts().await.unwrap();
        let done: i64 = counts
            .iter()
            .filter(|(s, _)| s != "pending")
            .map(|(_, n)| *n)
            .sum();
        done == total
    })
    .await;
    desk.store().inbound_counts().await.unwrap()
}

/// Wait until a condition on the store holds.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A plain customer mail.
pub fn plain_mail(from: &str, to: &str, subject: &str, message_id: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{message_id}>\r\nDate: Sat, 28 Nov 2026 12:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

pub fn parsed(raw: &[u8]) -> buzon::parse::InboundMessage {
    buzon::parse::parse(raw).expect("buzon's own mail parses")
}

/// A raw header value, unfolded.
pub fn header(raw: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(raw);
    let head = text.split("\r\n\r\n").next().unwrap_or("");
    let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
    unfolded.lines().find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
    })
}

/// A reply to `original` as a mail client writes it: `Re:` subject, threading headers,
/// the new text on top and the original quoted below a Spanish Gmail attribution line.
pub fn reply_to(
    original: &[u8],
    from: &str,
    to: &str,
    message_id: &str,
    new_text: &str,
) -> Vec<u8> {
    let parent = parsed(original);
    let parent_id = parent
        .message_id
        .clone()
        .expect("original has a Message-ID");
    let mut refs = parent.references.clone();
    refs.push(parent_id.clone());
    let refs = refs
        .iter()
        .map(|r| format!("<{r}>"))
        .collect::<Vec<_>>()
        .join(" ");
    let quoted: String = parent.text.lines().map(|l| format!("> {l}\r\n")).collect();
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: Re: {subject}\r\nMessage-ID: <{message_id}>\r\nIn-Reply-To: <{parent_id}>\r\nReferences: {refs}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{new_text}\r\n\r\nEl sáb, 28 nov 2026 a las 12:00, Soporte (<soporte@example.test>) escribió:\r\n{quoted}",
        subject = parent.subject,
    )
    .into_bytes()
}

/// The same reply with one attachment.
pub fn with_attachment(mail: &[u8], filename: &str, bytes: &[u8]) -> Vec<u8> {
    use base64::Engine;
    let text = String::from_utf8_lossy(mail);
    let (head, body) = text.split_once("\r\n\r\n").expect("headers and body");
    let head: String = head
        .lines()
        .filter(|l| !l.starts_with("Content-Type") && !l.starts_with("Content-Transfer-Encoding"))
        .map(|l| format!("{l}\r\n"))
        .collect();
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    format!(
        "{head}Content-Type: multipart/mixed; boundary=\"ZZ\"\r\n\r\n--ZZ\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n--ZZ\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"{filename}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{encoded}\r\n--ZZ--\r\n"
    )
    .into_bytes()
}

/// Turn on a real Sieve `vacation` auto-responder (Dovecot Pigeonhole) for `user`.
pub fn vacation(user: &str) {
    use std::os::unix::fs::chown;
    let server = mail_server();
    let local = user.split('@').next().unwrap();
    let domain_dir = server.dir.join("mail/example.test");
    let home = domain_dir.join(local);
    let sieve = home.join("sieve");
    std::fs::create_dir_all(&sieve).unwrap();
    // Dovecot stores mail as `nobody` (mailserver.sh): the tree must be theirs.
    let nobody = Some(65534);
    for dir in [&domain_dir, &home, &sieve] {
        chown(dir, nobody, nobody).unwrap();
    }
    let script = sieve.join("active.sieve");
    std::fs::write(
        &script,
        "require [\"vacation\"];\nvacation :days 1 :subject \"Fuera de la oficina\" \"Estoy de vacaciones hasta el lunes.\";\n",
    )
    .unwrap();
    chown(&script, nobody, nobody).unwrap();
}

/// Put a message straight into `user`'s INBOX with IMAP APPEND (what SMTP would refuse or
/// rewrite, such as 10,000 nested parts, arrives byte for byte).
pub async fn append(user: &str, raw: &[u8]) {
    append_on(mail_server(), user, raw).await
}

pub async fn append_on(server: &MailServer, user: &str, raw: &[u8]) {
    let mut session = buzon::fetch::connect(&imap_config(server, user))
        .await
        .expect("IMAP login");
    session
        .append("INBOX", None, None, raw)
        .await
        .expect("APPEND");
    let _ = session.logout().await;
}

/// A TCP proxy in front of IMAP that can cut every connection and refuse new ones.
pub struct CuttableProxy {
    pub port: u16,
    up: std::sync::Arc<std::sync::atomic::AtomicBool>,
    generation: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl CuttableProxy {
    pub async fn start(target: u16) -> CuttableProxy {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let generation = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let (up2, gen2) = (up.clone(), generation.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                if !up2.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let born = gen2.load(Ordering::SeqCst);
                let gen3 = gen2.clone();
                tokio::spawn(async move {
                    let Ok(mut server) =
                        tokio::net::TcpStream::connect(("127.0.0.1", target)).await
                    else {
                        return;
                    };
                    let cut = async {
                        while gen3.load(Ordering::SeqCst) == born {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut => {}
                    }
                });
            }
        });
        CuttableProxy {
            port,
            up,
            generation,
        }
    }

    pub fn cut(&self) {
        self.up.store(false, std::sync::atomic::Ordering::SeqCst);
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn restore(&self) {
        self.up.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}
