//! End-to-end figures on real Dovecot + Postfix (scripts/bench.sh runs this):
//!
//! * latency: SMTP acceptance of a customer's mail → the acknowledgement in the customer's
//!   mailbox (buzon idle in IMAP IDLE), p50/p99/max over N mails sent one at a time, next to
//!   the floor: Dovecot's own IDLE wake-up after a delivery, measured in the same run;
//! * drain: a backlog already in the mailbox → every case created and every outgoing mail
//!   accepted by Postfix, in mails/s;
//! * the thinnest pipeline doing the same job on the same backlog, for the ratio;
//! * memory: RSS idle, and peak while draining N mails with a 20 MB attachment each;
//! * queries on a store of a million cases and five million history entries.
//!
//! Arguments: `--db sqlite|postgres`, `--latency N` (default 50), `--backlog N` (default
//! 5000), `--big N` (default 200), `--cases N` (default 1000000), `--no-fsync`; 0 skips.

/// The backlog's mix of mail, shared with `benches/cluster.rs`.
#[path = "common/backlog.rs"]
mod backlog;
/// Store size after a drain; peak memory of `buzon run` with 20 MB attachments in and out.
#[path = "pipeline/footprint.rs"]
mod footprint;
#[path = "../tests/it/support.rs"]
#[allow(dead_code)]
mod support;

use std::time::{Duration, Instant};

use async_imap::extensions::idle::IdleResponse;
use backlog::load_backlog;
use buzon::store::CaseFilter;
use support::*;

struct Args {
    /// Mails with a 20 MB attachment each, drained to measure peak memory (0: skip).
    big: usize,
    /// Cases generated for the query benchmark (0: skip).
    cases: i64,
    fsync: bool,
    db: Db,
    latency: usize,
    backlog: usize,
}

fn args() -> Args {
    let mut a = Args {
        big: 200,
        cases: 1_000_000,
        fsync: true,
        db: Db::Sqlite,
        latency: 50,
        backlog: 5000,
    };
    let argv: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < argv.len() {
        let value = argv.get(i + 1).cloned().unwrap_or_default();
        match argv[i].as_str() {
            "--db" => {
                a.db = if value == "postgres" {
                    Db::Postgres
                } else {
                    Db::Sqlite
                }
            }
            "--latency" => a.latency = value.parse().expect("--latency N"),
            "--backlog" => a.backlog = value.parse().expect("--backlog N"),
            "--big" => a.big = value.parse().expect("--big N"),
            "--cases" => a.cases = value.parse().expect("--cases N"),
            "--no-fsync" => {
                a.fsync = false;
                i += 1;
                continue;
            }
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    a
}

fn files_in(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

/// Dovecot's own floor: delivery by SMTP → EXISTS in an IDLE session on that mailbox.
async fn idle_floor(samples: usize) -> Vec<Duration> {
    let server = mail_server();
    let user = format!("floor-{:06x}@example.test", fastrand::u32(..0xff_ffff));
    let mut out = Vec::new();
    for i in 0..samples {
        let mut session = buzon::fetch::connect(&imap_config(server, &user))
            .await
            .unwrap();
        session.select("INBOX").await.unwrap();
        let mut idle = session.idle();
        idle.init().await.unwrap();
        let (wait, _stop) = idle.wait_with_timeout(Duration::from_secs(10));
        let sender = tokio::spawn({
            let user = user.clone();
            async move {
                send_mail(
                    "x@example.test",
                    &[&user],
                    &plain_mail(
                        "x@example.test",
                        &user,
                        "floor",
                        &format!("floor{i}@b"),
                        "x",
                    ),
                )
                .await;
                Instant::now()
            }
        });
        let woke = wait.await.unwrap();
        let now = Instant::now();
        let accepted = sender.await.unwrap();
        assert!(
            matches!(woke, IdleResponse::NewData(_)),
            "IDLE woke with {woke:?}"
        );
        out.push(now.saturating_duration_since(accepted));
    }
    out
}

async fn latency(db: Db, n: usize) {
    let mut desk = Desk::with(
        "bench-latency",
        DeskOptions {
            db,
            // One customer writes every mail: lift the per-address cap on automatic mail.
            extra: "[limits]\nauto_replies_per_hour = 1000000\nnew_cases_per_hour = 1000000\n"
                .into(),
            ..Default::default()
        },
    )
    .await;
    let customer = desk.names.addr("cliente");
    desk.customer(&customer, None).await;
    desk.start();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let inbox = mail_server().maildir_new(&customer);
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let raw = plain_mail(
            &customer,
            &desk.names.support(),
            &format!("Latencia {i}"),
            &format!("lat{i}-{}@b", desk.names.tag),
            "Hola",
        );
        send_mail(&customer, &[&desk.names.support()], &raw).await;
        let accepted = Instant::now();
        while files_in(&inbox) < i + 1 {
            assert!(
                accepted.elapsed() < Duration::from_secs(30),
                "ack {i} never arrived"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        samples.push(accepted.elapsed());
        // Let buzon settle back into IDLE, as between two real customers' mails.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    desk.stop().await;
    samples.sort();
    let mut floor = idle_floor(10).await;
    floor.sort();
    println!(
        "latency ({n} mails, {:?}): SMTP accepted -> ack in mailbox  p50 {}  p99 {}  max {}",
        db,
        ms(percentile(&samples, 0.5)),
        ms(percentile(&samples, 0.99)),
        ms(*samples.last().unwrap())
    );
    println!(
        "floor (Dovecot IDLE wake-up after delivery, 10 samples): p50 {}  max {}",
        ms(percentile(&floor, 0.5)),
        ms(*floor.last().unwrap())
    );
}

/// The thinnest pipeline that does the same job, for scale: fetch every mail in one UID
/// FETCH, parse it, one INSERT per mail, and as many SMTP messages per mail as buzon sends
/// (two for a new case, one for a reply) over as many connections. Nothing else.
async fn thin(desk: &Desk, customers: &[String]) -> (Duration, usize) {
    use futures::TryStreamExt;
    let config = desk.config();
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(&config.database_url)
        .await
        .unwrap();
    if config.database_url.starts_with("sqlite") {
        for pragma in ["PRAGMA journal_mode = WAL", "PRAGMA synchronous = NORMAL"] {
            sqlx::query(pragma).execute(&pool).await.unwrap();
        }
    }
    sqlx::query("CREATE TABLE thin_mail (id BIGINT PRIMARY KEY, message_id TEXT, subject TEXT, sender TEXT)")
        .execute(&pool).await.unwrap();
    let started = Instant::now();
    let mut session = buzon::fetch::connect(&config.imap).await.unwrap();
    session.select("INBOX").await.unwrap();
    let fetched: Vec<Vec<u8>> = session
        .uid_fetch("1:*", "(UID BODY.PEEK[])")
        .await
        .unwrap()
        .try_filter_map(|f| async move { Ok(f.body().map(<[u8]>::to_vec)) })
        .try_collect()
        .await
        .unwrap();
    let (queue, inbox) = tokio::sync::mpsc::channel::<String>(1024);
    let inbox = std::sync::Arc::new(tokio::sync::Mutex::new(inbox));
    let mut senders = tokio::task::JoinSet::new();
    for _ in 0..config.smtp.connections {
        let (inbox, smtp, from) = (
            inbox.clone(),
            config.smtp.clone(),
            config.support.address.to_string(),
        );
        senders.spawn(async move {
            let mut conn = buzon::send::open(&smtp, "example.test").await.unwrap();
            let mut sent = 0;
            loop {
                let Some(to) = inbox.lock().await.recv().await else { break };
                let body = format!("From: {from}\r\nTo: {to}\r\nSubject: [Caso #1] Recibido\r\nMessage-ID: <thin{sent}.{}@b>\r\nAuto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{}\r\n", fastrand::u64(..), "Hemos recibido su caso. ".repeat(60));
                let envelope = lettre::address::Envelope::new(Some(from.parse().unwrap()), vec![to.parse().unwrap()]).unwrap();
                conn.send(&envelope, body.as_bytes()).await.unwrap();
                sent += 1;
            }
            let _ = conn.quit().await;
            sent
        });
    }
    let agent = config.agents.addresses[0].to_string();
    let parser = mail_parser::MessageParser::default();
    for (i, raw) in fetched.iter().enumerate() {
        let message = parser.parse(raw).expect("parses");
        let sender = message
            .from()
            .and_then(|f| f.first())
            .and_then(|a| a.address())
            .unwrap_or_default()
            .to_string();
        sqlx::query(
            "INSERT INTO thin_mail (id, message_id, subject, sender) VALUES ($1, $2, $3, $4)",
        )
        .bind(i as i64)
        .bind(message.message_id().map(str::to_string))
        .bind(message.subject().map(str::to_string))
        .bind(sender.clone())
        .execute(&pool)
        .await
        .unwrap();
        if message.in_reply_to().as_text().is_none() {
            queue.send(thin_twin(&sender)).await.unwrap();
        }
        queue.send(thin_twin(&agent)).await.unwrap();
    }
    drop(queue);
    let mut sent = 0;
    while let Some(n) = senders.join_next().await {
        sent += n.unwrap();
    }
    let elapsed = started.elapsed();
    assert_eq!(fetched.len(), customers.len().max(fetched.len()));
    pool.close().await;
    (elapsed, sent)
}

/// Where the thin pipeline sends what buzon would send to `address`: a mailbox of its own,
/// so that Dovecot delivers buzon's messages into mailboxes as empty as the thin pipeline
/// found them (delivery into a Maildir slows down as it fills).
fn thin_twin(address: &str) -> String {
    format!("thin-{address}")
}

async fn drain(db: Db, n: usize, fsync: bool) {
    let storage_extra = format!("fsync = {fsync}\n");
    let extra =
        "[limits]\nauto_replies_per_hour = 1000000\nnew_cases_per_hour = 1000000\n".to_string();
    let mut desk = Desk::with(
        "bench-drain",
        DeskOptions {
            db,
            storage_extra,
            extra,
            ..Default::default()
        },
    )
    .await;
    let customers: Vec<String> = (0..20)
        .map(|i| desk.names.addr(&format!("cliente{i}")))
        .collect();
    for c in &customers {
        desk.customer(c, None).await;
    }
    let loaded = Instant::now();
    let expected = load_backlog(&desk, n, &customers).await;
    println!(
        "backlog of {n} mails (70% plain, 15% HTML, 10% 50-500 KB attachment, 5% replies) appended in {:.1} s",
        loaded.elapsed().as_secs_f64()
    );

    let cpu = Cpu::now();
    let (thin_time, thin_sent) = thin(&desk, &customers).await;
    let thin_cpu = cpu.per_mail(n);
    assert_eq!(thin_sent, expected, "thin pipeline sent what buzon sends");
    let thin_rate = n as f64 / thin_time.as_secs_f64();
    println!(
        "thin pipeline ({db:?}): fetch + parse + insert + {expected} SMTP messages in {:.2} s ({thin_rate:.0} mails/s); {thin_cpu}",
        thin_time.as_secs_f64()
    );
    // Both runs are timed to Postfix's acceptance; buzon starts only once Postfix has
    // delivered what the thin pipeline handed it, so it does not pay for that delivery.
    let settling = mail_server()
        .postfix_delivered(Duration::from_secs(300))
        .await;
    println!(
        "Postfix delivered the thin pipeline's messages {:.2} s after it finished",
        settling.as_secs_f64()
    );

    let started = Instant::now();
    let cpu = Cpu::now();
    desk.start();
    let mut cases_done = None;
    let mut sent_then = 0;
    loop {
        let inbound: i64 = desk
            .store()
            .inbound_counts()
            .await
            .unwrap()
            .iter()
            .filter(|(s, _)| s == "done")
            .map(|(_, c)| c)
            .sum();
        let outbox = desk.store().outbox_counts().await.unwrap();
        let sent: i64 = outbox
            .iter()
            .filter(|(s, _)| s == "sent")
            .map(|(_, c)| c)
            .sum();
        if inbound as usize >= n && cases_done.is_none() {
            cases_done = Some(started.elapsed());
            sent_then = sent;
        }
        if inbound as usize >= n && sent as usize >= expected {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "drain stalled: {inbound} processed, {outbox:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let total = started.elapsed();
    let buzon_cpu = cpu.per_mail(n);
    desk.stop().await;
    let buzon_settling = mail_server()
        .postfix_delivered(Duration::from_secs(300))
        .await;
    let cases = cases_done.unwrap();
    let rate = n as f64 / total.as_secs_f64();
    println!(
        "drain ({n} mails, {db:?}, fsync {fsync}): every mail applied in {:.2} s ({:.0} mails/s; {sent_then} of {expected} SMTP messages accepted by then); every ack and notification accepted by Postfix in {:.2} s ({rate:.0} mails/s) = {:.0} % of the thin pipeline",
        cases.as_secs_f64(),
        n as f64 / cases.as_secs_f64(),
        total.as_secs_f64(),
        100.0 * rate / thin_rate
    );
    println!("drain ({db:?}): {buzon_cpu}");
    footprint::store_size(&desk, db).await;
    // The thin pipeline outruns Postfix's delivery and leaves it for afterwards; buzon's
    // slower pace lets Postfix deliver during the run. Counted to the last delivery, both
    // pay for it.
    let delivered = |run: Duration, settle: Duration| n as f64 / (run + settle).as_secs_f64();
    let (thin_end, buzon_end) = (
        delivered(thin_time, settling),
        delivered(total, buzon_settling),
    );
    println!(
        "drain ({db:?}) to the last delivery into a mailbox: thin pipeline {thin_end:.0} mails/s, buzon {buzon_end:.0} mails/s (Postfix done {:.2} s after buzon) = {:.0} %",
        buzon_settling.as_secs_f64(),
        100.0 * buzon_end / thin_end
    );
}

/// Time one command of the release binary on the desk's configuration: best and median of 5.
fn time_cli(desk: &Desk, args: &[&str]) -> (Duration, Duration) {
    time_cli_with(desk, args, &[])
}

fn time_cli_with(desk: &Desk, args: &[&str], env: &[(&str, &str)]) -> (Duration, Duration) {
    let bin = env!("CARGO_BIN_EXE_buzon");
    let mut times: Vec<Duration> = (0..5)
        .map(|_| {
            let t = Instant::now();
            let out = std::process::Command::new(bin)
                .args(args)
                .arg("--config")
                .arg(desk.path("buzon.toml"))
                .env("BUZON_LOG", "warn")
                .envs(env.iter().copied())
                .output()
                .expect("buzon runs");
            assert!(
                out.status.success(),
                "{args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            t.elapsed()
        })
        .collect();
    times.sort();
    (times[0], times[2])
}

/// PostgreSQL indexes dropped while a store is generated and built afterwards.
const LOAD_INDEXES: [(&str, &str); 6] = [
    (
        "cases_subject_trgm",
        "cases USING GIN (subject_folded gin_trgm_ops)",
    ),
    ("emails_case", "emails (case_id, id)"),
    ("emails_message_id", "emails (message_id)"),
    ("outbox_due", "outbox (state, next_attempt_at)"),
    ("outbox_lease", "outbox (lease_owner)"),
    ("outbox_email", "outbox (email_id)"),
];

/// PostgreSQL foreign keys checked once after the load rather than row by row (the
/// outbox's three million rows: 35 s with the key, 12 s without and 3.4 s to check it
/// afterwards): (table, constraint, definition as in migrations/postgres).
const LOAD_FOREIGN_KEYS: [(&str, &str, &str); 3] = [
    (
        "participants",
        "participants_case_id_fkey",
        "FOREIGN KEY (case_id) REFERENCES cases (id)",
    ),
    (
        "emails",
        "emails_case_id_fkey",
        "FOREIGN KEY (case_id) REFERENCES cases (id)",
    ),
    (
        "outbox",
        "outbox_email_id_fkey",
        "FOREIGN KEY (email_id) REFERENCES emails (id)",
    ),
];

/// A store with `cases` cases and five history entries each, written directly with SQL.
async fn generate_store(desk: &Desk, db: Db, cases: i64) {
    let store = desk.store();
    let words = "'error de conexion','fallo al exportar','pantalla en blanco','timeout en sincronizacion','licencia caducada','informe lento','no arranca el servicio'";
    let sql: Vec<String> = match db {
        Db::Sqlite => vec![
            format!("WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < {cases})
             INSERT INTO cases (id, number, subject, subject_folded, description, product, severity, production_down, status, requester, language, created_at, updated_at)
             SELECT i, i, 'Incidencia ' || i, 'incidencia ' || i || ' ' || json_extract(json_array({words}), '$[' || (i % 7) || ']') || CASE WHEN i % 1000 = 0 THEN ' cortafuegos' ELSE '' END,
                    'Descripcion del caso ' || i, 'Harmony', 1 + i % 3, 0, CASE WHEN i % 3 = 0 THEN 'closed' ELSE 'open' END,
                    'cliente' || (i % 10000) || '@example.test', 'es', 1700000000000 + i * 1000, 1700000000000 + i * 1000 FROM seq"),
            "INSERT INTO participants (case_id, email, role) SELECT id, requester, 'requester' FROM cases".into(),
            "WITH RECURSIVE k(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM k WHERE j < 4)
             INSERT INTO emails (id, case_id, direction, kind, from_addr, to_addrs, subject, message_id, body_text, raw_hash, raw_size, created_at)
             SELECT c.id * 5 + k.j, c.id, CASE WHEN k.j IN (1, 2, 4) THEN 'out' ELSE 'in' END, 'history', c.requester, 'soporte@example.test', c.subject,
                    'm' || (c.id * 5 + k.j) || '@example.test', 'Texto del mensaje ' || k.j, '0000000000000000000000000000000000000000000000000000000000000000', 2000, c.created_at + k.j
             FROM cases c, k".into(),
            "INSERT INTO outbox (email_id, envelope_from, recipients, state, next_attempt_at, created_at)
             SELECT id, 'soporte@example.test', from_addr, 'sent', created_at, created_at FROM emails WHERE direction = 'out'".into(),
            "UPDATE counters SET value = (SELECT MAX(number) FROM cases) WHERE name = 'case_number'".into(),
            "ANALYZE".into(),
        ],
        Db::Postgres => vec![
            // The secondary indexes are built, and the foreign keys checked, once after the
            // load, not row by row (their definitions as in migrations/postgres).
            format!("DROP INDEX {}", LOAD_INDEXES.iter().map(|(name, _)| *name).collect::<Vec<_>>().join(", ")),
        ]
        .into_iter()
        .chain(LOAD_FOREIGN_KEYS.iter().map(|(table, name, _)| format!("ALTER TABLE {table} DROP CONSTRAINT {name}")))
        .chain([
            format!("INSERT INTO cases (id, number, subject, subject_folded, description, product, severity, production_down, status, requester, language, created_at, updated_at)
             SELECT i, i, 'Incidencia ' || i, 'incidencia ' || i || ' ' || (ARRAY[{words}])[1 + i % 7] || CASE WHEN i % 1000 = 0 THEN ' cortafuegos' ELSE '' END,
                    'Descripcion del caso ' || i, 'Harmony', 1 + i % 3, 0, CASE WHEN i % 3 = 0 THEN 'closed' ELSE 'open' END,
                    'cliente' || (i % 10000) || '@example.test', 'es', 1700000000000 + i * 1000, 1700000000000 + i * 1000 FROM generate_series(1, {cases}) AS i"),
            "INSERT INTO participants (case_id, email, role) SELECT id, requester, 'requester' FROM cases".into(),
            "INSERT INTO emails (id, case_id, direction, kind, from_addr, to_addrs, subject, message_id, body_text, raw_hash, raw_size, created_at)
             SELECT c.id * 5 + k, c.id, CASE WHEN k IN (1, 2, 4) THEN 'out' ELSE 'in' END, 'history', c.requester, 'soporte@example.test', c.subject,
                    'm' || (c.id * 5 + k) || '@example.test', 'Texto del mensaje ' || k, '0000000000000000000000000000000000000000000000000000000000000000', 2000, c.created_at + k
             FROM cases c, generate_series(0, 4) AS k".into(),
            "INSERT INTO outbox (email_id, envelope_from, recipients, state, next_attempt_at, created_at)
             SELECT id, 'soporte@example.test', from_addr, 'sent', created_at, created_at FROM emails WHERE direction = 'out'".into(),
            "UPDATE counters SET value = (SELECT MAX(number) FROM cases) WHERE name = 'case_number'".into(),
            "SELECT setval(pg_get_serial_sequence('emails', 'id'), (SELECT MAX(id) FROM emails))".into(),
        ])
        .chain(LOAD_INDEXES.iter().map(|(name, on)| format!("CREATE INDEX {name} ON {on}")))
        .chain(LOAD_FOREIGN_KEYS.iter().map(|(table, name, definition)| format!("ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")))
        .chain(["ANALYZE".to_string()])
        .collect(),
    };
    for statement in sql {
        store
            .execute_raw(&statement)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
}

/// The admin's and the customers' queries on a store of a million cases.
async fn queries(db: Db, cases: i64) {
    let desk = Desk::with(
        "bench-queries",
        DeskOptions {
            db,
            ..Default::default()
        },
    )
    .await;
    let t = Instant::now();
    generate_store(&desk, db, cases).await;
    println!(
        "queries ({db:?}): generated {cases} cases, {} history entries in {:.0} s",
        cases * 5,
        t.elapsed().as_secs_f64()
    );
    let customer = "cliente4242@example.test";
    let case_number = (cases / 2).to_string();
    for (what, args) in [
        (
            "cases --search cortafuegos (1 case in 1,000)",
            vec!["cases", "--search", "cortafuegos"],
        ),
        (
            "cases --search 'licencia caducada' (1 in 7, newest 100)",
            vec!["cases", "--search", "licencia caducada"],
        ),
        (
            "cases --status open --customer X (100 cases)",
            vec!["cases", "--status", "open", "--customer", customer],
        ),
        (
            "case N (5 history entries)",
            vec!["case", case_number.as_str()],
        ),
    ] {
        let (best, median) = time_cli(&desk, &args);
        println!(
            "  buzon {what}: median {}  best {} (whole command, process start included)",
            ms(median),
            ms(best)
        );
    }
    let (floor, _) = time_cli(&desk, &["cases", "--limit", "1", "--status", "closed"]);
    println!(
        "  (a command's own start: `buzon cases --limit 1` {})",
        ms(floor)
    );
    if db == Db::Postgres {
        // Each command opens a connection; with sslmode=prefer that is a TLS handshake.
        let base = &desk.config().database_url;
        let joint = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{joint}sslmode=disable");
        let env = [("BUZON_DATABASE__URL", url.as_str())];
        let mut line =
            String::from("  the same without TLS to the local server (sslmode=disable):");
        for args in [
            vec!["cases", "--search", "cortafuegos"],
            vec!["cases", "--search", "licencia caducada"],
            vec!["cases", "--status", "open", "--customer", customer],
            vec!["case", case_number.as_str()],
            vec!["cases", "--limit", "1", "--status", "closed"],
        ] {
            let (_, median) = time_cli_with(&desk, &args, &env);
            line.push_str(&format!(" {}", ms(median)));
        }
        println!("{line} (same order, then the start)");
    }
    let filter = CaseFilter {
        customer: Some(customer.into()),
        limit: 200,
        ..Default::default()
    };
    let mut times = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let found = desk.store().cases(&filter).await.unwrap();
        times.push(t.elapsed());
        assert_eq!(found.len() as i64, (cases / 10_000).min(200));
    }
    times.sort();
    println!(
        "  a customer's \"mis casos\" (the processor's query, {} cases): median {:.1} ms",
        (cases / 10_000).min(200),
        times[2].as_secs_f64() * 1000.0
    );
}

/// CPU seconds used so far by this process (where the pipeline under test runs) and by
/// the whole machine (mail servers, database and all), from /proc at 100 ticks a second.
#[derive(Clone, Copy)]
struct Cpu {
    own: f64,
    machine: f64,
}

impl Cpu {
    fn now() -> Cpu {
        let ticks = |s: &str| s.parse::<f64>().unwrap_or(0.0) / 100.0;
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
        // Fields after the command name's closing parenthesis; utime and stime are 14 and 15.
        let after = stat.rsplit(')').next().unwrap_or_default();
        let fields: Vec<&str> = after.split_whitespace().collect();
        let own =
            fields.get(11).map_or(0.0, |f| ticks(f)) + fields.get(12).map_or(0.0, |f| ticks(f));
        let all = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let cpu: Vec<f64> = all
            .lines()
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .skip(1)
            .map(ticks)
            .collect();
        // user nice system idle iowait irq softirq steal: busy is all but idle and iowait.
        let machine = cpu.iter().take(8).sum::<f64>()
            - cpu.get(3).unwrap_or(&0.0)
            - cpu.get(4).unwrap_or(&0.0);
        Cpu { own, machine }
    }

    /// "pipeline X ms, machine Y ms per mail" since `self`.
    fn per_mail(self, mails: usize) -> String {
        let now = Cpu::now();
        let ms = |s: f64| 1000.0 * s / mails as f64;
        format!(
            "CPU per mail: the pipeline {:.2} ms, the whole machine {:.2} ms",
            ms(now.own - self.own),
            ms(now.machine - self.machine)
        )
    }
}

#[tokio::main]
async fn main() {
    // `cargo test --all-targets` runs benches too; only `cargo bench` means it.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let a = args();
    if a.latency > 0 {
        latency(a.db, a.latency).await;
    }
    if a.backlog > 0 {
        drain(a.db, a.backlog, a.fsync).await;
    }
    footprint::memory(a.db, a.big).await;
    if a.cases > 0 {
        queries(a.db, a.cases).await;
    }
}
