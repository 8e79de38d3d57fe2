//! The store's own contract, run the same on SQLite and PostgreSQL.

use buzon::domain::{CaseId, Role};
use buzon::store::{
    BatchKeys, BatchMode, CaseFilter, CustomerRow, FetchedMail, NewCaseRow, NewEmail, Store, Window,
};

use crate::support::{fresh_database, Db};

async fn store(db: Db) -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&fresh_database(db, dir.path()).await)
        .await
        .unwrap();
    store.migrate().await.unwrap();
    store.migrate().await.expect("migrating twice is harmless");
    (store, dir)
}

fn fetched(uid: u32, key: &str) -> FetchedMail {
    FetchedMail {
        uid,
        message_id: Some(key.to_string()),
        dedupe_key: format!("mid:{key}"),
        raw_hash: "ab".repeat(32),
        raw_size: 10,
        raw_inline: None,
    }
}

fn new_case<'a>(subject: &'a str, folded: &'a str, requester: &'a str) -> NewCaseRow<'a> {
    NewCaseRow {
        subject,
        subject_folded: folded,
        description: "d",
        product: None,
        severity: 3,
        production_down: false,
        requester,
        requester_name: None,
        language: "es",
        related_case: None,
    }
}

fn email(case_id: Option<CaseId>, direction: &'static str) -> NewEmail<'static> {
    NewEmail {
        case_id,
        from_inbound: direction == "in",
        direction: direction.parse().expect("in or out"),
        kind: "k",
        from_addr: "a@x.test",
        to_addrs: "b@x.test",
        subject: "s",
        message_id: Some("m@x"),
        body_text: None,
        raw_hash: "cd",
        raw_size: 1,
    }
}

macro_rules! both {
    ($name:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name(super::Db::Sqlite).await;
            }
            #[tokio::test]
            async fn postgres() {
                super::$name(super::Db::Postgres).await;
            }
        }
    };
}

both!(fetching_is_idempotent_and_moves_the_cursor);
async fn fetching_is_idempotent_and_moves_the_cursor(db: Db) {
    let (s, _dir) = store(db).await;
    assert_eq!(s.imap_cursor("box").await.unwrap(), None);
    assert_eq!(
        s.record_fetched("box", 7, &[fetched(1, "a"), fetched(2, "b")])
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        s.record_fetched("box", 7, &[fetched(2, "b"), fetched(3, "c")])
            .await
            .unwrap(),
        1
    );
    assert_eq!(s.imap_cursor("box").await.unwrap(), Some((7, 3)));
    // An older batch never moves the cursor back.
    s.record_fetched("box", 7, &[fetched(1, "a")])
        .await
        .unwrap();
    assert_eq!(s.imap_cursor("box").await.unwrap(), Some((7, 3)));
    // A new UIDVALIDITY starts again.
    s.set_imap_cursor("box", 8, 0).await.unwrap();
    assert_eq!(
        s.record_fetched("box", 8, &[fetched(1, "a")])
            .await
            .unwrap(),
        1
    );
    assert_eq!(s.imap_cursor("box").await.unwrap(), Some((8, 1)));
}

both!(claims_are_exclusive_and_effects_happen_once);
async fn claims_are_exclusive_and_effects_happen_once(db: Db) {
    let (s, _dir) = store(db).await;
    s.record_fetched(
        "box",
        1,
        &[fetched(1, "same"), fetched(2, "same"), fetched(3, "other")],
    )
    .await
    .unwrap();
    let first = s.claim_inbound().await.unwrap().unwrap();
    let second = s.claim_inbound().await.unwrap().unwrap();
    assert_ne!(first.id, second.id, "a leased mail is not handed out twice");

    let mut tx = s.begin_apply(first.id).await.unwrap().expect("first apply");
    assert!(tx.claim_dedupe_key(&first.dedupe_key).await.unwrap());
    let (case_id, number) = tx
        .create_case(&new_case("Uno", "uno", "a@x.test"))
        .await
        .unwrap();
    assert_eq!(number, 1);
    tx.add_email(&email(Some(case_id), "in")).await.unwrap();
    tx.finish("case_created", false).await.unwrap();
    assert!(
        s.begin_apply(first.id).await.unwrap().is_none(),
        "applied mail cannot be applied again"
    );

    let mut tx = s
        .begin_apply(second.id)
        .await
        .unwrap()
        .expect("second copy");
    assert!(
        !tx.claim_dedupe_key(&second.dedupe_key).await.unwrap(),
        "same Message-ID: no second effect"
    );
    tx.finish("duplicate", true).await.unwrap();

    // A rolled-back apply leaves no trace and takes no case number.
    let third = s.claim_inbound().await.unwrap().unwrap();
    {
        let mut tx = s.begin_apply(third.id).await.unwrap().unwrap();
        tx.claim_dedupe_key(&third.dedupe_key).await.unwrap();
        tx.create_case(&new_case("Perdido", "perdido", "a@x.test"))
            .await
            .unwrap();
        // dropped without finish: rolled back
    }
    assert!(s.case_by_number(2).await.unwrap().is_none());
    let mut tx = s
        .begin_apply(third.id)
        .await
        .unwrap()
        .expect("still pending after rollback");
    assert!(tx.claim_dedupe_key(&third.dedupe_key).await.unwrap());
    let (_, number) = tx
        .create_case(&new_case("Dos", "dos", "a@x.test"))
        .await
        .unwrap();
    tx.finish("case_created", false).await.unwrap();
    assert_eq!(number, 2, "numbers stay sequential");

    let counts = s.inbound_counts().await.unwrap();
    assert_eq!(
        counts,
        vec![("done".to_string(), 2), ("duplicate".to_string(), 1)]
    );
}

both!(failed_mail_is_parked_and_retried);
async fn failed_mail_is_parked_and_retried(db: Db) {
    let (s, _dir) = store(db).await;
    s.record_fetched("box", 1, &[fetched(1, "bad"), fetched(2, "good")])
        .await
        .unwrap();
    let bad = s.claim_inbound().await.unwrap().unwrap();
    s.fail_inbound(bad.id, "cannot parse").await.unwrap();
    let next = s.claim_inbound().await.unwrap().unwrap();
    assert_ne!(next.id, bad.id, "a failed mail never blocks the next");
    let failed = s.failed_inbound().await.unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].error.as_deref(), Some("cannot parse"));
    assert!(s.retry_inbound(bad.id).await.unwrap());
    assert!(
        !s.retry_inbound(bad.id).await.unwrap(),
        "only failed mail can be retried"
    );
    assert!(s.failed_inbound().await.unwrap().is_empty());
    assert_eq!(s.claim_inbound().await.unwrap().unwrap().id, bad.id);
    assert_eq!(
        s.awaiting_imap_effect("box", 1).await.unwrap(),
        vec![],
        "pending mail is not flagged yet"
    );
}

both!(outbox_leases_retries_and_parks);
async fn outbox_leases_retries_and_parks(db: Db) {
    let (s, _dir) = store(db).await;
    s.record_fetched("box", 1, &[fetched(1, "a")])
        .await
        .unwrap();
    let row = s.claim_inbound().await.unwrap().unwrap();
    let mut tx = s.begin_apply(row.id).await.unwrap().unwrap();
    let first = NewEmail {
        message_id: Some("m1@x"),
        ..email(None, "out")
    };
    let second = NewEmail {
        message_id: Some("m2@x"),
        ..email(None, "out")
    };
    tx.queue_mail(&first, &["a@x.test".into(), "b@x.test".into()], true)
        .await
        .unwrap();
    tx.queue_mail(&second, &["c@x.test".into()], true)
        .await
        .unwrap();
    tx.finish("x", false).await.unwrap();

    let a = s.claim_outbox(60_000).await.unwrap().unwrap();
    assert_eq!(a.recipients, vec!["a@x.test", "b@x.test"]);
    let b = s.claim_outbox(60_000).await.unwrap().unwrap();
    assert_ne!(a.id, b.id);
    assert!(
        s.claim_outbox(60_000).await.unwrap().is_none(),
        "both are leased"
    );
    s.outbox_sent(a.id).await.unwrap();
    s.outbox_retry(b.id, "421 busy", buzon::store::now_ms() + 60_000)
        .await
        .unwrap();
    assert!(
        s.claim_outbox(60_000).await.unwrap().is_none(),
        "not due yet"
    );
    assert!(s.next_outbox_due_in().await.unwrap().unwrap() > 50_000);
    s.outbox_failed(b.id, "550 no such user").await.unwrap();
    let parked = s.outbox_by_state("failed").await.unwrap();
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].last_error.as_deref(), Some("550 no such user"));
    assert!(s.retry_outbox(b.id).await.unwrap());
    let again = s.claim_outbox(60_000).await.unwrap().unwrap();
    assert_eq!(again.id, b.id);
    assert_eq!(again.attempts, 2);
    let history = s.email(a.email_id).await.unwrap().unwrap();
    assert_eq!(history.delivery.as_deref(), Some("sent"));
}

both!(case_queries_filter_and_search);
async fn case_queries_filter_and_search(db: Db) {
    let (s, _dir) = store(db).await;
    s.record_fetched("box", 1, &[fetched(1, "a")])
        .await
        .unwrap();
    let row = s.claim_inbound().await.unwrap().unwrap();
    let mut tx = s.begin_apply(row.id).await.unwrap().unwrap();
    for (subject, who) in [
        ("Error 50% en SAP_x", "ana@x.test"),
        ("Conexión lenta", "luis@x.test"),
        ("SAP caído", "ana@x.test"),
    ] {
        let folded = buzon::text::fold_words(subject);
        let (id, _) = tx
            .create_case(&new_case(subject, &folded, who))
            .await
            .unwrap();
        tx.add_participant(id, who, Role::Requester).await.unwrap();
        tx.add_participant(id, "jefe@x.test", Role::Participant)
            .await
            .unwrap();
    }
    tx.finish("x", false).await.unwrap();
    let search = |words: &[&str]| CaseFilter {
        words: words.iter().map(|w| w.to_string()).collect(),
        ..Default::default()
    };
    let saps = s.cases(&search(&["sap"])).await.unwrap();
    assert_eq!(saps.len(), 2);
    assert!(
        saps[0].number > saps[1].number,
        "search results newest first"
    );
    let ana_sap = CaseFilter {
        customer: Some("ana@x.test".into()),
        words: vec!["caido".into()],
        ..Default::default()
    };
    assert_eq!(
        s.cases(&ana_sap).await.unwrap().len(),
        1,
        "search within a customer's cases"
    );
    assert_eq!(s.cases(&search(&["sap", "caido"])).await.unwrap().len(), 1);
    assert_eq!(
        s.cases(&search(&["50%"])).await.unwrap().len(),
        1,
        "LIKE wildcards are literal"
    );
    assert_eq!(s.cases(&search(&["0%"])).await.unwrap().len(), 1);
    assert_eq!(s.cases(&search(&["p_x"])).await.unwrap().len(), 1);
    assert_eq!(
        s.cases(&search(&["s_p"])).await.unwrap().len(),
        0,
        "_ is not a wildcard"
    );
    let ana = CaseFilter {
        customer: Some("ana@x.test".into()),
        ..Default::default()
    };
    assert_eq!(s.cases(&ana).await.unwrap().len(), 2);
    let jefe = CaseFilter {
        customer: Some("jefe@x.test".into()),
        status: Some("open".into()),
        ..Default::default()
    };
    assert_eq!(
        s.cases(&jefe).await.unwrap().len(),
        3,
        "participants see the cases they are on"
    );
    let closed = CaseFilter {
        status: Some("closed".into()),
        ..Default::default()
    };
    assert!(s.cases(&closed).await.unwrap().is_empty());
    let limited = CaseFilter {
        limit: 1,
        ..Default::default()
    };
    assert_eq!(s.cases(&limited).await.unwrap().len(), 1);
}

both!(directory_round_trips);
async fn directory_round_trips(db: Db) {
    let (s, _dir) = store(db).await;
    let c = CustomerRow {
        email: "ana@cliente.test".into(),
        name: Some("Ana".into()),
        org_domain: None,
        language: Some("en".into()),
    };
    s.add_customer(&c).await.unwrap();
    assert!(s.add_customer(&c).await.is_err());
    assert_eq!(
        s.customer("ana@cliente.test").await.unwrap(),
        Some(c.clone())
    );
    s.edit_customer("ana@cliente.test", None, Some("cliente.test"), None)
        .await
        .unwrap();
    let edited = s.customer("ana@cliente.test").await.unwrap().unwrap();
    assert_eq!(
        (
            edited.name.as_deref(),
            edited.org_domain.as_deref(),
            edited.language.as_deref()
        ),
        (Some("Ana"), Some("cliente.test"), Some("en"))
    );
    assert!(s
        .edit_customer("nobody@x.test", Some("x"), None, None)
        .await
        .is_err());
    assert!(s.is_provisioned("ana@cliente.test").await.unwrap());
    assert!(!s.is_provisioned("luis@cliente.test").await.unwrap());
    s.add_org("cliente.test", None).await.unwrap();
    assert!(s.is_provisioned("luis@cliente.test").await.unwrap());
    assert!(!s.is_provisioned("luis@sub.cliente.test").await.unwrap());
    s.add_agent("agente@soporte.test", Some("Agente"))
        .await
        .unwrap();
    assert_eq!(s.agents().await.unwrap().len(), 1);
    assert!(s.remove_agent("agente@soporte.test").await.unwrap());
    assert!(s.remove_org("cliente.test").await.unwrap());
    assert!(s.remove_customer("ana@cliente.test").await.unwrap());
    assert!(!s.is_provisioned("ana@cliente.test").await.unwrap());
}

/// Every case's number, in order.
async fn case_numbers(s: &Store) -> Vec<i64> {
    let mut numbers: Vec<i64> = s
        .cases(&CaseFilter::default())
        .await
        .unwrap()
        .iter()
        .map(|c| c.number)
        .collect();
    numbers.sort();
    numbers
}

both!(concurrent_appliers_create_each_case_once);
/// Several processes on one database (PostgreSQL's reason to exist here): racing appliers
/// on the same mails produce each effect once, with gapless case numbers.
async fn concurrent_appliers_create_each_case_once(db: Db) {
    let (s, _dir) = store(db).await;
    let mails: Vec<_> = (1..=40).map(|i| fetched(i, &format!("m{i}"))).collect();
    s.record_fetched("box", 1, &mails).await.unwrap();
    let ids: Vec<i64> = {
        let mut ids = Vec::new();
        while let Some(row) = s.claim_inbound().await.unwrap() {
            ids.push(row.id);
        }
        ids
    };
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let (s, ids) = (s.clone(), ids.clone());
        workers.spawn(async move {
            let mut made = 0;
            for id in ids {
                let Some(mut tx) = s.begin_apply(id).await.unwrap() else {
                    continue;
                };
                if tx.claim_dedupe_key(&format!("k{id}")).await.unwrap() {
                    tx.create_case(&new_case("x", "x", "a@x.test"))
                        .await
                        .unwrap();
                    made += 1;
                }
                tx.finish("case_created", false).await.unwrap();
            }
            made
        });
    }
    let mut total = 0;
    while let Some(made) = workers.join_next().await {
        total += made.unwrap();
    }
    assert_eq!(total, 40);
    assert_eq!(case_numbers(&s).await, (1..=40).collect::<Vec<_>>());
}

both!(a_batch_without_savepoints_writes_at_its_end_and_notices_races);
/// The processor's fast path (src/store/batch.rs): the batch decides duplicates from the
/// keys it read ahead, gives out consecutive numbers, writes history, outbox and mail
/// states at its end, and refuses to commit when another process finished one of its
/// mails meanwhile.
async fn a_batch_without_savepoints_writes_at_its_end_and_notices_races(db: Db) {
    let (s, _dir) = store(db).await;
    s.record_fetched(
        "box",
        1,
        &[
            fetched(1, "uno"),
            fetched(2, "uno"),
            fetched(3, "dos"),
            fetched(4, "tres"),
        ],
    )
    .await
    .unwrap();
    let rows = s.claim_inbound_batch(3, 1 << 20).await.unwrap();
    assert_eq!(rows.len(), 3);
    let keys: Vec<&str> = rows.iter().map(|r| r.dedupe_key.as_str()).collect();
    let mut tx = s.begin_batch(BatchMode::AllOrNothing).await.unwrap();
    let ahead = BatchKeys {
        addresses: vec!["a@x.test"],
        dedupe_keys: keys,
    };
    tx.read_ahead(&ahead, Window::HOUR).await.unwrap();
    let mut numbers = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        tx.start_mail(row.id).await.unwrap();
        assert!(tx.claim().await.unwrap());
        if !tx.claim_dedupe_key(&row.dedupe_key).await.unwrap() {
            tx.finish_mail("duplicate", true).await.unwrap();
            continue;
        }
        let (case_id, number) = tx
            .create_case(&new_case("Caso", "caso", "a@x.test"))
            .await
            .unwrap();
        numbers.push(number);
        tx.add_participant(case_id, "a@x.test", Role::Requester)
            .await
            .unwrap();
        tx.add_email(&email(Some(case_id), "in")).await.unwrap();
        let ack = format!("ack{i}@x");
        let out = NewEmail {
            message_id: Some(&ack),
            ..email(Some(case_id), "out")
        };
        tx.queue_mail(&out, &["a@x.test".into()], true)
            .await
            .unwrap();
        assert_eq!(
            tx.case_participants(case_id).await.unwrap(),
            vec![("a@x.test".to_string(), Role::Requester)],
            "the batch reads what it wrote"
        );
        tx.finish_mail("case_created", false).await.unwrap();
    }
    assert_eq!(numbers, vec![1, 2], "the second copy of «uno» made no case");
    assert!(tx.write_deferred().await.unwrap());
    tx.commit().await.unwrap();

    let counts = s.inbound_counts().await.unwrap();
    assert!(counts.contains(&("done".to_string(), 2)), "{counts:?}");
    assert!(counts.contains(&("duplicate".to_string(), 1)), "{counts:?}");
    for n in [1, 2] {
        let case = s.case_by_number(n).await.unwrap().unwrap();
        let history = s.case_emails(case.id).await.unwrap();
        let kinds: Vec<(&str, Option<&str>)> = history
            .iter()
            .map(|e| (e.direction.as_str(), e.delivery.as_deref()))
            .collect();
        assert_eq!(kinds, vec![("in", None), ("out", Some("pending"))]);
    }
    let job = s.claim_outbox(60_000).await.unwrap().unwrap();
    assert_eq!(job.recipients, vec!["a@x.test"]);

    // Another process finishes the last mail while this batch works on it.
    let rows = s.claim_inbound_batch(3, 1 << 20).await.unwrap();
    assert_eq!(rows.len(), 1);
    let elsewhere = s.begin_apply(rows[0].id).await.unwrap().unwrap();
    elsewhere.finish("case_created", false).await.unwrap();
    let mut tx = s.begin_batch(BatchMode::AllOrNothing).await.unwrap();
    tx.start_mail(rows[0].id).await.unwrap();
    assert!(tx.claim().await.unwrap());
    let (_, number) = tx
        .create_case(&new_case("Tarde", "tarde", "a@x.test"))
        .await
        .unwrap();
    assert_eq!(number, 3);
    tx.finish_mail("case_created", false).await.unwrap();
    assert!(
        !tx.write_deferred().await.unwrap(),
        "the batch sees that its mail is no longer pending"
    );
    drop(tx);
    assert!(
        s.case_by_number(3).await.unwrap().is_none(),
        "nothing of it stays"
    );
    s.record_fetched("box", 1, &[fetched(5, "cinco")])
        .await
        .unwrap();
    let row = s.claim_inbound().await.unwrap().unwrap();
    let mut tx = s.begin_apply(row.id).await.unwrap().unwrap();
    let (_, number) = tx
        .create_case(&new_case("Cinco", "cinco", "a@x.test"))
        .await
        .unwrap();
    assert_eq!(
        number, 3,
        "the number the dropped batch gave out is given again"
    );
}

both!(racing_batches_without_savepoints_make_each_case_once);
/// Several processes' processors on the same mails (a lease ran out), each taking the fast
/// path first and, when its batch refuses to commit, the careful one, as the processor
/// does: every mail still makes one case, with gapless numbers.
async fn racing_batches_without_savepoints_make_each_case_once(db: Db) {
    let (s, _dir) = store(db).await;
    let mails: Vec<_> = (1..=40).map(|i| fetched(i, &format!("m{i}"))).collect();
    s.record_fetched("box", 1, &mails).await.unwrap();
    let rows = s.claim_inbound_batch(40, 1 << 30).await.unwrap();
    assert_eq!(rows.len(), 40);
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..4 {
        let (s, mut rows) = (s.clone(), rows.clone());
        rows.rotate_left(worker * 8);
        workers.spawn(async move {
            let mut made = 0;
            for batch in rows.chunks(8) {
                loop {
                    let done = match fast_batch(&s, batch).await {
                        Ok(Some(fast)) => {
                            made += fast;
                            Ok(())
                        }
                        Ok(None) => careful_batch(&s, batch, &mut made).await,
                        Err(e) => Err(e),
                    };
                    match done {
                        Ok(()) => break,
                        // Two processes' lock orders can cross (PostgreSQL: 40P01).
                        Err(e) if e.is_retryable() => continue,
                        Err(e) => panic!("{e}"),
                    }
                }
            }
            made
        });
    }
    let mut total = 0;
    while let Some(made) = workers.join_next().await {
        total += made.unwrap();
    }
    assert_eq!(total, 40);
    assert_eq!(case_numbers(&s).await, (1..=40).collect::<Vec<_>>());
}

/// Cases made by a batch without savepoints; `None` when it must not commit.
async fn fast_batch(
    s: &Store,
    rows: &[buzon::store::InboundRow],
) -> Result<Option<usize>, buzon::store::StoreError> {
    let keys: Vec<&str> = rows.iter().map(|r| r.dedupe_key.as_str()).collect();
    let mut tx = s.begin_batch(BatchMode::AllOrNothing).await?;
    let ahead = BatchKeys {
        addresses: vec![],
        dedupe_keys: keys,
    };
    tx.read_ahead(&ahead, Window::HOUR).await?;
    let mut made = 0;
    for row in rows {
        tx.start_mail(row.id).await?;
        assert!(tx.claim().await?);
        let new = tx.claim_dedupe_key(&row.dedupe_key).await?;
        if new {
            tx.create_case(&new_case("x", "x", "a@x.test")).await?;
            made += 1;
        }
        tx.finish_mail("case_created", !new).await?;
    }
    if !tx.write_deferred().await? {
        return Ok(None);
    }
    tx.commit().await?;
    Ok(Some(made))
}

/// Claiming each mail first (the processor's second run of a batch); `made` counts the
/// cases committed.
async fn careful_batch(
    s: &Store,
    rows: &[buzon::store::InboundRow],
    made: &mut usize,
) -> Result<(), buzon::store::StoreError> {
    for row in rows {
        let Some(mut tx) = s.begin_apply(row.id).await? else {
            continue;
        };
        let new = tx.claim_dedupe_key(&row.dedupe_key).await?;
        if new {
            tx.create_case(&new_case("x", "x", "a@x.test")).await?;
        }
        tx.finish("case_created", !new).await?;
        *made += usize::from(new);
    }
    Ok(())
}
