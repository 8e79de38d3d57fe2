//! SPEC.md "Several mailboxes, several machines": three `buzon run` processes on one
//! PostgreSQL share a backlog, and keep every promise of "Never lose, never duplicate" while
//! one of them is killed, paused or restarted. The harness is `cluster/harness.rs`.

mod harness;

use std::time::{Duration, Instant};

use harness::Cluster;

use crate::support::Queue;

/// SPEC.md: another process takes a dead watcher's mailbox over within this.
const TAKEOVER: Duration = Duration::from_secs(15);

/// Issue 18's first report: three processes, one storage directory, 600 mails, no kill, and
/// acknowledgements that stayed unsent until the processes were stopped.
#[tokio::test]
async fn three_processes_drain_a_backlog_and_send_every_acknowledgement() {
    const N: usize = 600;
    let mut cluster = Cluster::new("trio", 3).await;
    cluster.arrive(0, N).await;
    for n in 0..3 {
        cluster.start(n);
    }
    let took = cluster.drained(N, Duration::from_secs(90)).await;
    let duplicates = cluster.every_mail_once(N).await;
    println!("3 processes drained {N} mails in {took:?}; {duplicates} duplicate acknowledgements");
    assert_eq!(duplicates, 0, "nobody was killed: no duplicate");
}

/// Issue 18 item 4, with two mailboxes: the watcher of the first is killed with SIGKILL
/// mid-drain. Nothing is lost, no mail
/// makes two cases, its mailbox and its leases are taken over within 15 s, more mail
/// arriving after the kill is fetched by the new watcher, and the killed process, restarted,
/// rejoins: once the other two stop, it alone drains the last mail.
#[tokio::test]
async fn killing_the_watcher_mid_drain_loses_nothing() {
    const N: usize = 600;
    let queues = ["soporte", "ventas"]
        .map(|name| Queue {
            name,
            display_name: "Soporte",
            language: "es",
            products: &["Harmony"],
            agents: None,
        })
        .to_vec();
    let mut cluster = Cluster::with_mailboxes("failover", 3, queues).await;
    for n in 0..3 {
        cluster.start(n);
    }
    let mailboxes: Vec<String> = cluster.mailboxes.iter().map(|(m, _)| m.clone()).collect();
    for mailbox in &mailboxes {
        cluster.wait_for_watcher(mailbox, TAKEOVER).await;
    }
    cluster.arrive(0, N / 2).await;
    cluster.until_cases(N / 10).await;
    let (victim, _) = cluster.wait_for_watcher(&mailboxes[0], TAKEOVER).await;
    let pid = cluster.pid(victim);
    cluster.kill(victim);
    let killed = Instant::now();
    // The rest arrives while nobody watches yet.
    let rest = cluster.arrival(N / 2, N / 2, Duration::ZERO);
    let mut took_over = Duration::ZERO;
    for mailbox in &mailboxes {
        let (heir, _) = cluster.wait_for_watcher(mailbox, TAKEOVER).await;
        assert_ne!(heir, victim);
        took_over = took_over.max(killed.elapsed());
    }
    cluster.leases_freed(pid, TAKEOVER).await;
    let freed = killed.elapsed();
    assert!(
        freed <= TAKEOVER,
        "its leases were free only after {freed:?}"
    );
    rest.await.unwrap();
    let drained = cluster.drained(N, Duration::from_secs(120)).await;
    println!(
        "SIGKILL of the watcher: mailbox watched again after {took_over:?}, its leases free after {freed:?}, drained {drained:?} later"
    );

    // Restarted, it rejoins: with the other two stopped it takes the mailbox and drains alone.
    cluster.start(victim);
    for n in (0..3).filter(|n| *n != victim) {
        cluster.stop(n).await;
    }
    for mailbox in &mailboxes {
        let (watcher, _) = cluster.wait_for_watcher(mailbox, TAKEOVER).await;
        assert_eq!(watcher, victim, "the restarted process watches {mailbox}");
    }
    cluster.arrive(N, 30).await;
    cluster.drained(N + 30, Duration::from_secs(60)).await;
    let duplicates = cluster.every_mail_once(N + 30).await;
    let connections = cluster.desk.config().smtp.connections;
    println!(
        "{duplicates} duplicate acknowledgements after one kill ({connections} SMTP connections)"
    );
    assert!(
        duplicates <= connections,
        "at most one duplicate per kill and SMTP connection: {duplicates}"
    );
}

/// Issue 18 item 2: a watcher paused past its lease (SIGSTOP: a frozen VM, a partition) is
/// replaced within 15 s; resumed, it finds its lease gone and stops before it stores any
/// mail (every commit of fetched mail checks the lease under a row lock), so no mail is
/// fetched twice and none makes two cases.
#[tokio::test]
async fn a_paused_watcher_stops_fetching_once_another_took_over() {
    const N: usize = 80;
    let mut cluster = Cluster::new("pause", 2).await;
    cluster.start(0);
    cluster.start(1);
    let (paused, _) = cluster.wait_for_watcher("default", TAKEOVER).await;
    cluster.arrive(0, N).await;
    cluster.drained(N, Duration::from_secs(60)).await;

    cluster.signal(paused, "STOP");
    let stopped = Instant::now();
    cluster.arrive(N, N).await;
    let (heir, _) = cluster
        .wait_for_watcher_but("default", Some(paused), TAKEOVER + Duration::from_secs(1))
        .await;
    let took_over = stopped.elapsed();
    assert_ne!(heir, paused);
    assert!(took_over <= TAKEOVER, "taken over after {took_over:?}");
    cluster.drained(2 * N, Duration::from_secs(60)).await;

    // Mail waits in the mailbox when the paused watcher wakes up in the middle of its IDLE.
    let during = cluster.arrival(2 * N, N, Duration::from_millis(20));
    cluster.signal(paused, "CONT");
    during.await.unwrap();
    cluster.drained(3 * N, Duration::from_secs(60)).await;
    let (watcher, _) = cluster.wait_for_watcher("default", TAKEOVER).await;
    assert_eq!(
        watcher, heir,
        "the resumed process did not take the mailbox back"
    );
    let log = std::fs::read_to_string(cluster.desk.path(&format!("buzon-{paused}.log"))).unwrap();
    assert!(
        log.contains("another process took the mailbox over")
            || log.contains("not renewed in time")
            || log.contains("no longer this process's"),
        "the resumed watcher noticed it lost the mailbox:\n{log}"
    );
    let inbound: i64 = cluster
        .desk
        .store()
        .inbound_counts()
        .await
        .unwrap()
        .iter()
        .map(|(_, n)| n)
        .sum();
    assert_eq!(inbound, 3 * N as i64, "each mail stored once");
    let duplicates = cluster.every_mail_once(3 * N).await;
    println!("SIGSTOP of the watcher: taken over after {took_over:?}; {duplicates} duplicate acknowledgements");
    assert_eq!(duplicates, 0);
}

/// Issue 18 item 5: each of three processes in turn gets SIGTERM while mail keeps
/// arriving, and is started again. A stopping process gives its leases back at once, so its
/// mailbox is watched again within a few seconds, not after the lease's 10 s; nothing is
/// lost and, with no kill, nothing is sent twice.
#[tokio::test]
async fn a_rolling_restart_loses_and_duplicates_nothing() {
    const N: usize = 240;
    let mut cluster = Cluster::new("rolling", 3).await;
    for n in 0..3 {
        cluster.start(n);
    }
    cluster.wait_for_watcher("default", TAKEOVER).await;
    let arriving = cluster.arrival(0, N, Duration::from_millis(60));
    for n in 0..3 {
        tokio::time::sleep(Duration::from_secs(3)).await;
        let pid = cluster.pid(n);
        let watched = cluster.watcher("default").await == Some(n);
        let stopping = Instant::now();
        let took = cluster.stop(n).await;
        cluster.leases_freed(pid, Duration::from_millis(500)).await;
        if watched {
            let (heir, _) = cluster.wait_for_watcher("default", TAKEOVER).await;
            let after = stopping.elapsed();
            println!("SIGTERM of the watcher: stopped in {took:?}, mailbox watched again after {after:?}");
            assert_ne!(heir, n);
            assert!(
                after < Duration::from_secs(5),
                "handed over after {after:?}"
            );
        }
        cluster.start(n);
    }
    arriving.await.unwrap();
    cluster.drained(N, Duration::from_secs(90)).await;
    assert_eq!(
        cluster.every_mail_once(N).await,
        0,
        "no duplicate without a kill"
    );
}
