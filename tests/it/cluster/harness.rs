//! The cluster harness: one desk on PostgreSQL run by several real `buzon run` processes.
//!
//! It watches the single `[imap]` mailbox (`default`), or the `[[mailboxes]]` it is given
//! (`Cluster::with_mailboxes`): the backlog is spread over them and every check looks at all.

use std::collections::HashMap;
use std::process::Child;
use std::time::{Duration, Instant};

use buzon::store::CaseFilter;

use crate::support::*;

const MANY: &str = "[limits]\nauto_replies_per_hour = 1000000\nnew_cases_per_hour = 1000000\n";
const CUSTOMERS: usize = 20;

/// One desk on PostgreSQL with a mail server of its own, run by several processes sharing its
/// configuration (and so its storage directory).
pub(crate) struct Cluster {
    pub server: PrivateServer,
    pub desk: Desk,
    pub processes: Vec<Option<Child>>,
    pub customers: Vec<String>,
    /// The support addresses mail arrives at, each watched under its own fetch lease.
    pub mailboxes: Vec<(String, String)>,
}

impl Cluster {
    pub async fn new(test: &str, processes: usize) -> Cluster {
        Cluster::with_mailboxes(test, processes, Vec::new()).await
    }

    /// A cluster whose desk has these `[[mailboxes]]` (none: the one `[imap]` mailbox).
    pub async fn with_mailboxes(test: &str, processes: usize, queues: Vec<Queue>) -> Cluster {
        let server = PrivateServer::start();
        let desk = Desk::with(
            test,
            DeskOptions {
                server: Some(server.0.clone()),
                db: Db::Postgres,
                extra: MANY.into(),
                // Short polls, so that a process that lost its lease notices soon.
                poll_interval_secs: 5,
                mailboxes: queues.clone(),
                ..Default::default()
            },
        )
        .await;
        let customers: Vec<String> = (0..CUSTOMERS)
            .map(|i| desk.names.addr(&format!("c{i}")))
            .collect();
        for customer in &customers {
            desk.customer(customer, None).await;
        }
        let mailboxes = match queues.is_empty() {
            true => vec![("default".to_string(), desk.names.support())],
            false => queues
                .iter()
                .map(|q| (q.name.to_string(), desk.names.addr(q.name)))
                .collect(),
        };
        Cluster {
            server,
            desk,
            processes: (0..processes).map(|_| None).collect(),
            customers,
            mailboxes,
        }
    }

    /// `count` mails numbered from `first`, put straight into the support mailboxes (spread
    /// over them), one customer after another.
    pub async fn arrive(&self, first: usize, count: usize) {
        self.arrival(first, count, Duration::ZERO).await.unwrap();
    }

    /// The same, in the background, one mail every `pace`.
    pub fn arrival(
        &self,
        first: usize,
        count: usize,
        pace: Duration,
    ) -> tokio::task::JoinHandle<()> {
        let (server, mailboxes) = (self.server.0.clone(), self.mailboxes.clone());
        let (customers, tag) = (self.customers.clone(), self.desk.names.tag.clone());
        tokio::spawn(async move {
            let mut sessions = Vec::new();
            for (_, address) in &mailboxes {
                let config = imap_config(&server, address);
                sessions.push(buzon::fetch::connect(&config).await.expect("IMAP login"));
            }
            for i in first..first + count {
                let session = i % mailboxes.len();
                let customer = &customers[i % CUSTOMERS];
                let raw = plain_mail(
                    customer,
                    &mailboxes[session].1,
                    &format!("Mail {i}"),
                    &format!("m{i}-{tag}@cliente.test"),
                    "Hola, no funciona.",
                );
                sessions[session]
                    .append("INBOX", None, None, &raw)
                    .await
                    .expect("APPEND");
                tokio::time::sleep(pace).await;
            }
            for mut session in sessions {
                let _ = session.logout().await;
            }
        })
    }

    pub fn start(&mut self, n: usize) {
        let log = self.desk.path(&format!("buzon-{n}.log"));
        self.processes[n] = Some(self.desk.spawn(None, &log));
    }

    pub fn pid(&self, n: usize) -> u32 {
        self.processes[n].as_ref().expect("running").id()
    }

    pub fn signal(&self, n: usize, signal: &str) {
        let status = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &self.pid(n).to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill -{signal}");
    }

    /// SIGKILL process `n` and reap it.
    pub fn kill(&mut self, n: usize) {
        let mut child = self.processes[n].take().expect("running");
        child.kill().expect("SIGKILL");
        child.wait().unwrap();
    }

    /// SIGTERM process `n` and wait for it to exit on its own.
    pub async fn stop(&mut self, n: usize) -> Duration {
        self.signal(n, "TERM");
        let mut child = self.processes[n].take().expect("running");
        let started = Instant::now();
        let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
            .await
            .unwrap();
        assert!(status.success(), "a clean stop exits 0: {status}");
        started.elapsed()
    }

    /// Which of the processes holds the fetch lease of `mailbox`, if any live one does.
    pub async fn watcher(&self, mailbox: &str) -> Option<usize> {
        let holder = self
            .desk
            .store()
            .fetch_lease_holder(mailbox)
            .await
            .unwrap()?;
        self.processes.iter().position(|p| {
            p.as_ref()
                .is_some_and(|c| holder.split('/').nth(1) == Some(&c.id().to_string()))
        })
    }

    /// Wait until a live process holds `mailbox`'s lease; which one, and how long it took.
    pub async fn wait_for_watcher(&self, mailbox: &str, patience: Duration) -> (usize, Duration) {
        self.wait_for_watcher_but(mailbox, None, patience).await
    }

    /// The same, for a process other than `but` (whose lease may still be running).
    pub async fn wait_for_watcher_but(
        &self,
        mailbox: &str,
        but: Option<usize>,
        patience: Duration,
    ) -> (usize, Duration) {
        let started = Instant::now();
        loop {
            match self.watcher(mailbox).await {
                Some(n) if Some(n) != but => return (n, started.elapsed()),
                _ => {}
            }
            assert!(
                started.elapsed() < patience,
                "no process took {mailbox} over within {patience:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Wait until `cases` cases exist (a drain under way).
    pub async fn until_cases(&self, cases: usize) {
        let started = Instant::now();
        while self.progress().await.0 < cases {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "no {cases} cases after 60 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Wait until no lease of any kind names process `pid`; how long that took.
    pub async fn leases_freed(&self, pid: u32, patience: Duration) -> Duration {
        let started = Instant::now();
        loop {
            let holders = self.desk.store().lease_holders().await.unwrap();
            let pid = pid.to_string();
            if !holders
                .iter()
                .any(|h| h.split('/').nth(1) == Some(pid.as_str()))
            {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < patience,
                "process {pid} still holds leases after {patience:?}: {holders:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Wait until `total` mails have made their cases and the outbox is empty.
    pub async fn drained(&self, total: usize, patience: Duration) -> Duration {
        let started = Instant::now();
        loop {
            let (cases, pending, waiting) = self.progress().await;
            if cases == total && pending == 0 && waiting == 0 {
                return started.elapsed();
            }
            if started.elapsed() > patience {
                let outbox = self.desk.store().outbox_counts().await.unwrap();
                let inbound = self.desk.store().inbound_counts().await.unwrap();
                panic!(
                    "not drained after {patience:?}: {cases} of {total} cases, mail in {inbound:?}, outbox {outbox:?}"
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Cases made, mails not yet applied, outgoing mail not yet sent.
    async fn progress(&self) -> (usize, i64, i64) {
        let store = self.desk.store();
        let cases = store.cases(&CaseFilter::default()).await.unwrap().len();
        let sum = |counts: Vec<(String, i64)>| {
            counts
                .iter()
                .filter(|(s, _)| s == "pending")
                .map(|(_, n)| n)
                .sum::<i64>()
        };
        let pending = sum(store.inbound_counts().await.unwrap());
        let waiting = sum(store.outbox_counts().await.unwrap());
        (cases, pending, waiting)
    }

    /// Every mail exactly one case, and every acknowledgement in its customer's mailbox at
    /// least once; returns the number of duplicate acknowledgements.
    pub async fn every_mail_once(&self, total: usize) -> usize {
        let cases = self
            .desk
            .store()
            .cases(&CaseFilter::default())
            .await
            .unwrap();
        let mut subjects: Vec<String> = cases.iter().map(|c| c.subject.clone()).collect();
        subjects.sort();
        subjects.dedup();
        assert_eq!(cases.len(), total, "one case per mail, no more, no less");
        assert_eq!(subjects.len(), total, "no mail made two cases");
        // "Sent" is Postfix's acceptance: count once it has delivered everything.
        self.server
            .0
            .postfix_delivered(Duration::from_secs(60))
            .await;
        let mut per_case: HashMap<i64, usize> = HashMap::new();
        for customer in &self.customers {
            for n in ack_numbers(&mailbox_on(&self.server.0, customer).await) {
                *per_case.entry(n).or_default() += 1;
            }
        }
        let missing: Vec<i64> = cases
            .iter()
            .map(|c| c.number)
            .filter(|n| !per_case.contains_key(n))
            .collect();
        assert!(
            missing.is_empty(),
            "acknowledgements never sent: {missing:?}"
        );
        per_case.values().map(|n| n - 1).sum()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for child in self.processes.iter_mut().flatten() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Case number of each acknowledgement in a mailbox: "[Caso #N] …" → N.
fn ack_numbers(mails: &[Vec<u8>]) -> Vec<i64> {
    mails
        .iter()
        .filter_map(|m| {
            let subject = parsed(m).subject;
            let rest = subject.strip_prefix("[Caso #")?;
            rest.split(']').next()?.parse().ok()
        })
        .collect()
}
