//! Issue 16 item 8, end to end on SQLite and PostgreSQL: the agents' morning digest at
//! `agents.digest_at`, once a day whatever the processes and restarts, and none on a day
//! with nothing to say.

use buzon::domain::CaseId;
use buzon::schedule::Scheduler;
use jiff::Timestamp;

use crate::scheduler::*;
use crate::support::*;

const DIGEST_AT: &str = "digest_at = \"08:30\"";

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

    a_quiet_desk_sends_no_digest(db, morning, day_key).await;

    let (mut desk, clock, carla) =
        desk_on_clock("digest", db, "", DIGEST_AT, tomorrow_at(8, 0)).await;
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
        digest.subject.starts_with("Resumen del soporte del ")
            && digest.subject.ends_with(" (casos abiertos: 1)"),
        "{}",
        digest.subject
    );
    assert!(
        digest.text.contains("- severidad 3 (menor): 1"),
        "{}",
        digest.text
    );
    assert!(
        digest.text.contains("Ayer: casos nuevos 1, cerrados 0."),
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

/// Nothing open, nothing yesterday: the day is claimed and no mail goes.
async fn a_quiet_desk_sends_no_digest(db: Db, morning: Timestamp, day_key: i64) {
    let (mut quiet, _clock, _) = desk_on_clock("digest0", db, "", DIGEST_AT, morning).await;
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
}
