//! What parsing does against look-alike names and ambiguous senders.

use super::*;

#[test]
fn from_headers_are_counted() {
    let one = parse(b"From: a@x.test\r\nSubject: x\r\n\r\nx").unwrap();
    assert_eq!(one.from_headers, 1);
    let two = parse(b"From: a@x.test\r\nFrom: b@x.test\r\nSubject: x\r\n\r\nx").unwrap();
    assert_eq!(two.from_headers, 2);
}
