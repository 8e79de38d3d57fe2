//! The fetch stage's pure helpers.

use super::*;

#[test]
fn batches_are_bounded_in_count_and_bytes() {
    let uids: Vec<u32> = (1..=120).collect();
    let small: std::collections::HashMap<u32, u32> = uids.iter().map(|u| (*u, 1000)).collect();
    let b = batches(&uids, &small);
    assert_eq!(b.iter().map(Vec::len).collect::<Vec<_>>(), [50, 50, 20]);
    let mut big = small.clone();
    big.insert(3, 30 * 1024 * 1024);
    big.insert(4, 5 * 1024 * 1024);
    big.insert(5, 5 * 1024 * 1024);
    let b = batches(&uids[..6], &big);
    assert_eq!(b, vec![vec![1, 2], vec![3], vec![4], vec![5, 6]]);
}

#[test]
fn uid_sets_compress_runs() {
    assert_eq!(uid_set(&[3, 1, 2, 7, 9, 10]), "1:3,7,9:10");
    assert_eq!(uid_set(&[5]), "5");
    assert_eq!(uid_set(&[]), "");
}

#[test]
fn dedupe_key_prefers_the_message_id() {
    let raw = b"Message-ID: <a@b>\r\n\r\nx";
    let m = fetched_mail(
        1,
        raw.len(),
        BlobHash::of(raw),
        crate::parse::message_id(raw),
    );
    assert_eq!(m.dedupe_key, "mid:a@b");
    let raw = b"Subject: none\r\n\r\nx";
    let m = fetched_mail(
        1,
        raw.len(),
        BlobHash::of(raw),
        crate::parse::message_id(raw),
    );
    assert!(m.dedupe_key.starts_with("sha256:"));
}
