//! Issue 16 items 6-8, end to end through Postfix and Dovecot on SQLite and PostgreSQL:
//! the scheduler's SLA warning and breach, the reminder and the auto-close of a case
//! waiting on a silent customer, and the morning digest. Tests move the scheduler's clock
//! (a `ManualClock` in the in-process daemon, `BUZON_TEST_CLOCK` for the binary) instead of
//! sleeping for days. The owner and the wait are set with the store's one setter
//! (`set_case_desk_state`) where the agents' commands would set them.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use buzon::schedule::{ManualClock, TICK};
use jiff::{SignedDuration, Timestamp};

use crate::support::*;

/// Business hours around the clock on UTC, so a target is wall-clock time in the tests.
pub(crate) const ALWAYS_OPEN: &str = "[sla.hours]\ndays = [\"mon\", \"tue\", \"wed\", \"thu\", \"fri\", \"sat\", \"sun\"]\nstart = \"00:00\"\nend = \"24:00\"\n";

pub(crate) fn later(t: Timestamp, secs: i64) -> Timestamp {
    t.checked_add(SignedDuration::from_secs(secs)).unwrap()
}

/// A desk whose daemon runs on a clock the test moves, with Carla provisioned.
pub(crate) async fn desk_on_clock(
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

pub(crate) fn subjects(mails: &[Vec<u8>]) -> Vec<String> {
    mails.iter().map(|m| parsed(m).subject).collect()
}

/// Long enough for the daemon's scheduler to have looked twice.
pub(crate) async fn two_ticks() {
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
    assert_warning_in_the_thread(&wait_for_mail(&agent, 2).await);

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

    the_views_show_the_breach(&desk, &sla, &owner);

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

/// `buzon cases --overdue`, `cases --json` and `case N` on the scheduler's clock.
fn the_views_show_the_breach(desk: &Desk, sla: &buzon::sla::SlaClock, owner: &str) {
    let breached = later(sla.due_at, 1);
    let overdue = cli_at(desk, breached, &["cases", "--overdue"]);
    assert!(overdue.starts_with("#1 "), "{overdue}");
    assert!(overdue.contains(owner), "{overdue}");
    let listed: serde_json::Value =
        serde_json::from_str(&cli_at(desk, breached, &["cases", "--json"])).unwrap();
    assert_eq!(listed[0]["sla"]["state"], "breached");
    assert_eq!(listed[0]["sla"]["due_at"], sla.due_at.as_millisecond());
    let shown = cli_at(desk, sla.started_at, &["case", "1"]);
    assert!(
        shown.contains("sla:        first_response due") && shown.contains("(on_time;"),
        "{shown}"
    );
    assert!(cli_at(desk, sla.started_at, &["cases", "--overdue"]).is_empty());
}

/// The warning went to the agents (no owner yet), as the next mail of the case's thread.
fn assert_warning_in_the_thread(mails: &[Vec<u8>]) {
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
}

#[tokio::test]
async fn a_customer_raising_the_severity_shortens_the_running_target() {
    let extra = format!("[sla]\nfirst_response = {{ 1 = \"1h\", 3 = \"10h\" }}\n{ALWAYS_OPEN}");
    let (mut desk, _clock, carla) =
        desk_on_clock("slasev", Db::Sqlite, &extra, "", Timestamp::now()).await;
    let support = desk.names.support();
    desk.write(&carla, "Caído", "sev1@cliente.test", "No arranca.")
        .await;
    let ack = wait_for_mail(&carla, 1).await.remove(0);
    let before = desk.store().case_timing(1).await.unwrap().unwrap();
    let before = before.clock.expect("a clock runs");
    let reply = reply_to(
        &ack,
        &carla,
        &support,
        "sev2@cliente.test",
        "Severidad: 1\nEstá parado todo.",
    );
    send_mail(&carla, &[&support], &reply).await;
    eventually("the severity's target applies", || async {
        let t = desk.store().case_timing(1).await.unwrap().unwrap();
        t.severity == 1
            && t.clock.is_some_and(|c| {
                c.started_at == before.started_at
                    && c.due_at.duration_since(c.started_at) == SignedDuration::from_hours(1)
            })
    })
    .await;
    desk.stop().await;
}
