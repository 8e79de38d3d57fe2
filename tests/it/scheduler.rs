//! Issue 16 items 6-8, end to end through Postfix and Dovecot on SQLite and PostgreSQL:
//! the scheduler's SLA warning and breach, the reminder and the auto-close of a case
//! waiting on a silent customer, and the morning digest. Tests move the scheduler's clock
//! (a `ManualClock` in the in-process daemon, `BUZON_TEST_CLOCK` for the binary) instead of
//! sleeping for days. The owner and the wait are set with the store's one setter
//! (`set_case_desk_state`) where the agents' commands would set them.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use buzon::domain::CaseId;
use buzon::schedule::{ManualClock, Scheduler, TICK};
use jiff::{SignedDuration, Timestamp};

use crate::support::*;

/// Business hours around the clock on UTC, so a target is wall-clock time in the tests.
const ALWAYS_OPEN: &str = "[sla.hours]\ndays = [\"mon\", \"tue\", \"wed\", \"thu\", \"fri\", \"sat\", \"sun\"]\nstart = \"00:00\"\nend = \"24:00\"\n";

fn later(t: Timestamp, secs: i64) -> Timestamp {
    t.checked_add(SignedDuration::from_secs(secs)).unwrap()
}

/// A desk whose daemon runs on a clock the test moves, with Carla provisioned.
async fn desk_on_clock(
    test: &str,
    db: Db,
    extra: &str,
    agents_extra: &str,
    start: Timestamp,
) -> (Desk, Arc<ManualClock>, String) {
    let mut desk = Desk::with(
        test,
        DeskOptions {
            db,
            extra: extra.into(),
            agents_extra: agents_extra.into(),
            ..Default::default()
        },
    )
    .await;
    let carla = desk.names.addr("carla");
    desk.customer(&carla, None).await;
    let clock = Arc::new(ManualClock::at(start));
    desk.app.clock = clock.clone();
    desk.start();
    (desk, clock, carla)
}

fn subjects(mails: &[Vec<u8>]) -> Vec<String> {
    mails.iter().map(|m| parsed(m).subject).collect()
}

/// Long enough for the daemon's scheduler to have looked twice.
async fn two_ticks() {
    tokio::time::sleep(TICK * 2 + Duration::from_secs(1)).await;
}

/// `buzon <args>` with the scheduler's clock at `at`.
fn cli_at(desk: &Desk, at: Timestamp, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_buzon"))
        .args(args)
        .arg("--config")
        .arg(&desk.config_path)
        .env("BUZON_LOG", "error")
        .env("BUZON_TEST_CLOCK", at.to_string())
        .stdin(Stdio::null())
        .output()
        .expect("run buzon");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

async fn sla_warning_then_breach_once_each(db: Db) {
    let extra = format!("[sla]\nfirst_response = {{ 3 = \"10h\" }}\n{ALWAYS_OPEN}");
    let (mut desk, clock, carla) = desk_on_clock("slawarn", db, &extra, "", Timestamp::now()).await;
    let (agent, owner) = (desk.names.addr("agente"), desk.names.addr("ana"));
    desk.write(&carla, "No arranca", "sla1@cliente.test", "No arranca.")
        .await;
    wait_for_mail(&carla, 1).await;
    wait_for_mail(&agent, 1).await;
    let timing = desk.store().case_timing(1).await.unwrap().unwrap();
    let sla = timing.clock.expect("a first-response clock runs");
    assert_eq!(
        sla.due_at.duration_since(sla.started_at),
        SignedDuration::from_hours(10)
    );
    assert_eq!(
        sla.warn_at.duration_since(sla.started_at),
        SignedDuration::from_hours(8)
    );

    clock.set(later(sla.warn_at, 1));
    let mails = wait_for_mail(&agent, 2).await;
    let warning = parsed(&mails[1]);
    assert!(
        warning
            .subject
            .starts_with("[Caso #1] SLA en riesgo: primera respuesta"),
        "{}",
        warning.subject
    );
    assert!(
        warning.text.contains("Asignado a: nadie"),
        "{}",
        warning.text
    );
    assert_eq!(header(&mails[1], "X-Buzon-Case").as_deref(), Some("1"));
    let root = parsed(&mails[0]).references[0].clone();
    assert_eq!(
        warning.references[0], root,
        "the warning joins the case's thread"
    );
    assert_eq!(warning.in_reply_to, [parsed(&mails[0]).message_id.unwrap()]);

    // Once an owner takes the case, the breach goes to the owner alone.
    assert!(desk
        .store()
        .set_case_desk_state(1, Some(&owner), None)
        .await
        .unwrap());
    let breached = later(sla.due_at, 1);
    clock.set(breached);
    let to_owner = wait_for_mail(&owner, 1).await;
    let breach = parsed(&to_owner[0]);
    assert!(
        breach.subject.starts_with("[Caso #1] SLA incumplido"),
        "{}",
        breach.subject
    );
    assert_eq!(header(&to_owner[0], "Importance").as_deref(), Some("high"));
    two_ticks().await;
    assert_eq!(
        mailbox(&agent).await.len(),
        2,
        "no second warning, no breach to the others"
    );
    assert_eq!(mailbox(&owner).await.len(), 1, "one breach");

    let overdue = cli_at(&desk, breached, &["cases", "--overdue"]);
    assert!(overdue.starts_with("#1 "), "{overdue}");
    assert!(overdue.contains(&owner), "{overdue}");
    let listed: serde_json::Value =
        serde_json::from_str(&cli_at(&desk, breached, &["cases", "--json"])).unwrap();
    assert_eq!(listed[0]["sla"]["state"], "breached");
    assert_eq!(listed[0]["sla"]["due_at"], sla.due_at.as_millisecond());
    let shown = cli_at(&desk, sla.started_at, &["case", "1"]);
    assert!(
        shown.contains("sla:        first_response due") && shown.contains("(on_time;"),
        "{shown}"
    );
    assert!(cli_at(&desk, sla.started_at, &["cases", "--overdue"]).is_empty());

    // The agent's answer stops the clock.
    desk.agent_answers("sla-answer@example.test", "Pruebe a reiniciar.")
        .await;
    wait_for_mail(&carla, 2).await;
    eventually("the answer stops the clock", || async {
        let t = desk.store().case_timing(1).await.unwrap().unwrap();
        t.clock.is_none() && t.agent_answered_at.is_some()
    })
    .await;
    desk.stop().await;
}

#[tokio::test]
async fn sla_warning_then_breach_once_each_sqlite() {
    sla_warning_then_breach_once_each(Db::Sqlite).await;
}

#[tokio::test]
async fn sla_warning_then_breach_once_each_postgres() {
    sla_warning_then_breach_once_each(Db::Postgres).await;
}

async fn a_silent_customer_is_reminded_then_the_case_closes(db: Db) {
    let start = Timestamp::now();
    let (mut desk, clock, carla) = desk_on_clock("remind", db, "", "", start).await;
    let support = desk.names.support();
    desk.write(&carla, "Uno", "w1@cliente.test", "Falla uno.")
        .await;
    wait_for_mail(&carla, 1).await;
    desk.write(&carla, "Dos", "w2@cliente.test", "Falla dos.")
        .await;
    let acks = wait_for_mail(&carla, 2).await;
    let now = Timestamp::now().as_millisecond();
    for case in [1, 2] {
        assert!(desk
            .store()
            .set_case_desk_state(case, None, Some(now))
            .await
            .unwrap());
    }
    // Carla answers on case 2: the wait ends there.
    let ack_two = acks
        .iter()
        .find(|a| parsed(a).subject.contains("#2"))
        .unwrap();
    let reply = reply_to(
        ack_two,
        &carla,
        &support,
        "w2r@cliente.test",
        "Aquí van los datos.",
    );
    send_mail(&carla, &[&support], &reply).await;
    eventually("the customer's mail ends the wait", || async {
        let t = desk.store().case_timing(2).await.unwrap().unwrap();
        t.waiting_since.is_none() && t.customer_wrote_at > Some(now)
    })
    .await;

    clock.set(later(start, 5 * 86_400 + 60));
    let mails = wait_for_mail(&carla, 3).await;
    let reminder = parsed(&mails[2]);
    assert!(
        reminder
            .subject
            .starts_with("[Caso #1] ¿Sigue necesitando ayuda?"),
        "{}",
        reminder.subject
    );
    assert!(
        reminder
            .text
            .contains("Si no recibimos respuesta en 5 días"),
        "{}",
        reminder.text
    );
    assert_eq!(
        reminder.in_reply_to,
        ["w1@cliente.test"],
        "under the customer's own mail"
    );
    assert_eq!(
        header(&mails[2], "Auto-Submitted").as_deref(),
        Some("auto-generated")
    );

    clock.set(later(start, 10 * 86_400 + 120));
    let mails = wait_for_mail(&carla, 4).await;
    let closed = parsed(&mails[3]);
    assert!(
        closed
            .subject
            .starts_with("[Caso #1] Caso cerrado por falta de respuesta"),
        "{}",
        closed.subject
    );
    assert!(
        closed.text.contains(&format!("escríbanos a {support}")),
        "{}",
        closed.text
    );
    two_ticks().await;
    assert_eq!(
        mailbox(&carla).await.len(),
        4,
        "one reminder, one close, nothing for case 2: {:?}",
        subjects(&mailbox(&carla).await)
    );
    let one = desk.store().case_by_number(1).await.unwrap().unwrap();
    assert_eq!(one.status.to_string(), "closed");
    let two = desk.store().case_by_number(2).await.unwrap().unwrap();
    assert_eq!(two.status.to_string(), "open");
    desk.stop().await;
}

#[tokio::test]
async fn a_silent_customer_is_reminded_then_the_case_closes_sqlite() {
    a_silent_customer_is_reminded_then_the_case_closes(Db::Sqlite).await;
}

#[tokio::test]
async fn a_silent_customer_is_reminded_then_the_case_closes_postgres() {
    a_silent_customer_is_reminded_then_the_case_closes(Db::Postgres).await;
}

/// Tomorrow at `hh:mm` UTC.
fn tomorrow_at(h: i8, m: i8) -> Timestamp {
    let today = jiff::tz::TimeZone::UTC.to_datetime(Timestamp::now()).date();
    let day = today.tomorrow().unwrap();
    jiff::tz::TimeZone::UTC
        .to_ambiguous_timestamp(day.at(h, m, 0, 0))
        .compatible()
        .unwrap()
}

async fn the_morning_digest_once_and_not_when_there_is_nothing_to_say(db: Db) {
    let morning = tomorrow_at(8, 31);
    let day_key = {
        let d = jiff::tz::TimeZone::UTC.to_datetime(morning).date();
        i64::from(d.year()) * 10_000 + i64::from(d.month()) * 100 + i64::from(d.day())
    };
    let digest_at = "digest_at = \"08:30\"";

    // Nothing open, nothing yesterday: the day is claimed and no mail goes.
    let (mut quiet, _clock, _) = desk_on_clock("digest0", db, "", digest_at, morning).await;
    eventually("the quiet desk's digest is settled", || async {
        quiet
            .store()
            .scheduled_done("digest", CaseId(0), day_key)
            .await
            .unwrap()
    })
    .await;
    quiet.stop().await;
    assert!(
        mailbox(&quiet.names.addr("agente")).await.is_empty(),
        "no digest with nothing to say"
    );

    let (mut desk, clock, carla) =
        desk_on_clock("digest", db, "", digest_at, tomorrow_at(8, 0)).await;
    let agent = desk.names.addr("agente");
    desk.write(&carla, "No arranca", "d1@cliente.test", "No arranca.")
        .await;
    wait_for_mail(&agent, 1).await;
    desk.stop().await;
    // Two schedulers at once (two processes): one digest.
    let (a, b) = (Scheduler::new(&desk.app), Scheduler::new(&desk.app));
    let (ta, tb) = tokio::join!(a.run_due(morning), b.run_due(morning));
    assert_eq!(ta.unwrap().digests + tb.unwrap().digests, 1, "claimed once");
    desk.app.clock = clock.clone();
    clock.set(later(morning, 60));
    desk.start();
    let mails = wait_for_mail(&agent, 2).await;
    let digest = parsed(&mails[1]);
    assert!(
        digest.subject.starts_with("Resumen del soporte,")
            && digest.subject.ends_with(": 1 casos abiertos"),
        "{}",
        digest.subject
    );
    assert!(
        digest.text.contains("- severidad 3 (menor): 1"),
        "{}",
        digest.text
    );
    assert!(
        digest.text.contains("Ayer: 1 casos nuevos y 0 cerrados."),
        "{}",
        digest.text
    );
    assert_eq!(
        header(&mails[1], "X-Buzon-Case"),
        None,
        "about the desk, not a case"
    );
    two_ticks().await;
    assert_eq!(
        mailbox(&agent).await.len(),
        2,
        "once a day, restarts included"
    );
    desk.stop().await;
}

#[tokio::test]
async fn the_morning_digest_once_and_not_when_there_is_nothing_to_say_sqlite() {
    the_morning_digest_once_and_not_when_there_is_nothing_to_say(Db::Sqlite).await;
}

#[tokio::test]
async fn the_morning_digest_once_and_not_when_there_is_nothing_to_say_postgres() {
    the_morning_digest_once_and_not_when_there_is_nothing_to_say(Db::Postgres).await;
}

/// A kill -9 storm while a batch of reminders is due: each reminder is queued once (its
/// claim commits with its outbox row) and reaches the customer at least once, with at most
/// one duplicate per kill per SMTP connection, as for acknowledgements.
async fn a_kill_9_storm_sends_each_reminder_once(db: Db) {
    const N: usize = 30;
    let server = PrivateServer::start();
    let mut desk = Desk::with(
        "remind9",
        DeskOptions {
            server: Some(server.0.clone()),
            db,
            // One customer opens them all and gets every reminder.
            extra: "[limits]\nnew_cases_per_hour = 100\nauto_replies_per_hour = 200\n".into(),
            ..Default::default()
        },
    )
    .await;
    let (carla, support) = (desk.names.addr("carla"), desk.names.support());
    desk.customer(&carla, None).await;
    desk.start();
    for i in 0..N {
        let raw = plain_mail(
            &carla,
            &support,
            &format!("Caso {i}"),
            &format!("s{i}-{}@cliente.test", desk.names.tag),
            "x",
        );
        send_mail_via(&server.0, &carla, &[&support], &raw).await;
    }
    wait_for_mail_on(&server.0, &carla, N, Duration::from_secs(60)).await;
    desk.stop().await;
    let six_days_ago = Timestamp::now().as_millisecond() - 6 * 86_400_000;
    for case in 1..=N as i64 {
        assert!(desk
            .store()
            .set_case_desk_state(case, None, Some(six_days_ago))
            .await
            .unwrap());
    }

    let log = desk.path("buzon.log");
    let mut rng = fastrand::Rng::with_seed(16);
    let kills = 8;
    for _ in 0..kills {
        let mut child = desk.spawn(None, &log);
        tokio::time::sleep(Duration::from_millis(rng.u64(100..700))).await;
        child.kill().expect("SIGKILL");
        child.wait().unwrap();
    }
    let mut child = desk.spawn(None, &log);
    eventually("every reminder queued and sent", || async {
        reminders_sent(&desk).await == N
    })
    .await;
    child.kill().unwrap();
    child.wait().unwrap();

    for case in 1..=N as i64 {
        let row = desk.store().case_by_number(case).await.unwrap().unwrap();
        let history = desk.store().case_emails(row.id).await.unwrap();
        let queued = history.iter().filter(|e| e.kind == "case_reminder").count();
        assert_eq!(queued, 1, "case #{case}: one reminder queued");
    }
    server.0.postfix_delivered(Duration::from_secs(60)).await;
    let received: Vec<String> = subjects(&mailbox_on(&server.0, &carla).await)
        .into_iter()
        .filter(|s| s.contains("¿Sigue necesitando ayuda?"))
        .collect();
    let mut distinct = received.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), N, "every reminder reached the customer");
    let duplicates = received.len() - N;
    let connections = desk.config().smtp.connections;
    println!("reminder kill -9 storm: {N} reminders, {kills} kills, {connections} SMTP connections, {duplicates} duplicates");
    assert!(
        duplicates <= kills * connections,
        "at most one duplicate per kill and connection: {duplicates}"
    );
}

/// Reminders the outbox has handed to Postfix.
async fn reminders_sent(desk: &Desk) -> usize {
    let mut sent = 0;
    for case in 1..=30 {
        let Some(row) = desk.store().case_by_number(case).await.unwrap() else {
            continue;
        };
        let history = desk.store().case_emails(row.id).await.unwrap();
        sent += history
            .iter()
            .filter(|e| e.kind == "case_reminder" && e.delivery.as_deref() == Some("sent"))
            .count();
    }
    sent
}

#[tokio::test]
async fn a_kill_9_storm_sends_each_reminder_once_sqlite() {
    a_kill_9_storm_sends_each_reminder_once(Db::Sqlite).await;
}

#[tokio::test]
async fn a_kill_9_storm_sends_each_reminder_once_postgres() {
    a_kill_9_storm_sends_each_reminder_once(Db::Postgres).await;
}
