//! Issue 16's durability promise for time-driven work: kill -9 while reminders are due.

use std::time::Duration;

use jiff::Timestamp;

use crate::scheduler::subjects;
use crate::support::*;

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
