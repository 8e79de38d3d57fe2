use super::*;
use crate::store::OldestPending;

fn config() -> Config {
    let text = "[imap]\nhost = \"h\"\nusername = \"s@example.test\"\npassword = \"p\"\n[smtp]\nhost = \"h\"\n[support]\naddress = \"s@example.test\"\nsecret = \"0123456789abcdef0123\"\n[health]\nmax_sync_age_secs = 60\nmax_outbox_age_secs = 120\n";
    crate::config::from_toml(text, &[]).unwrap()
}

const NOW: i64 = 1_800_000_000_000;
const MAILBOX: &str = "s@example.test/INBOX";

fn synced(secs_ago: i64) -> Vec<(String, Option<i64>)> {
    vec![(MAILBOX.into(), Some(NOW - secs_ago * 1000))]
}

fn waiting(secs: i64) -> Option<OldestPending> {
    Some(OldestPending {
        outbox_id: 7,
        created_at: NOW - secs * 1000,
    })
}

#[test]
fn a_recent_sync_and_a_young_outbox_are_healthy() {
    let report = judge(&config(), NOW, synced(60), waiting(120));
    assert!(report.healthy, "{report:?}");
    assert!(report.reasons.is_empty());
    assert_eq!(report.mailboxes[0].age_secs, Some(60));
    assert_eq!(report.oldest_pending_outbox_secs, Some(120));
}

#[test]
fn a_stale_sync_is_a_reason() {
    let report = judge(&config(), NOW, synced(61), None);
    assert!(!report.healthy);
    assert_eq!(
        report.reasons,
        [Reason::SyncStale {
            mailbox: MAILBOX.into(),
            age_secs: Some(61),
            limit_secs: 60
        }]
    );
}

#[test]
fn a_mailbox_never_synced_is_a_reason() {
    let report = judge(&config(), NOW, vec![(MAILBOX.into(), None)], None);
    assert!(!report.healthy);
    assert_eq!(
        report.reasons[0].describe(),
        format!("mailbox {MAILBOX}: never synced")
    );
}

#[test]
fn an_old_pending_outbox_mail_is_a_reason_next_to_a_stale_sync() {
    let report = judge(&config(), NOW, synced(600), waiting(121));
    assert_eq!(report.reasons.len(), 2, "{report:?}");
    assert_eq!(
        report.reasons[1],
        Reason::OutboxStale {
            outbox_id: 7,
            age_secs: 121,
            limit_secs: 120
        }
    );
}

#[test]
fn reasons_are_tagged_in_json() {
    let report = judge(&config(), NOW, synced(61), waiting(500));
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["healthy"], false);
    assert_eq!(json["reasons"][0]["reason"], "sync_stale");
    assert_eq!(json["reasons"][0]["age_secs"], 61);
    assert_eq!(json["reasons"][1]["reason"], "outbox_stale");
    assert_eq!(json["reasons"][1]["outbox_id"], 7);
    let down = Reason::DatabaseUnavailable { error: "x".into() };
    assert_eq!(
        serde_json::to_value(&down).unwrap()["reason"],
        "database_unavailable"
    );
}
