//! buzon's own Message-IDs: `<buzon.N.NONCE.SIG@domain>`, where SIG is an HMAC of the case
//! number and nonce. A reply naming such an id is on case N, and nobody without the secret
//! can make one up to reach a case they were never sent.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::domain::CaseNumber;

type HmacSha256 = Hmac<Sha256>;

/// Hex characters of the signature kept: 80 bits, plenty against guessing by mail.
const SIG_LEN: usize = 20;

fn signature(secret: &str, case: i64, nonce: &str) -> String {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(format!("{case}.{nonce}").as_bytes());
    hex::encode(mac.finalize().into_bytes())[..SIG_LEN].to_string()
}

/// A fresh signed id (without angle brackets); case 0 for mail that belongs to no case.
pub fn new_message_id(secret: &str, case: Option<CaseNumber>, domain: &str) -> String {
    let case = case.map_or(0, |c| c.0);
    let nonce = format!("{:016x}", fastrand::u64(..));
    format!(
        "buzon.{case}.{nonce}.{}@{domain}",
        signature(secret, case, &nonce)
    )
}

/// The case a Message-ID names, if buzon made it with one of these secrets (the first is
/// current; the rest are retired ones still honoured).
pub fn verify(message_id: &str, secrets: &[&str]) -> Option<CaseNumber> {
    let id = message_id
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>');
    let (local, _domain) = id.rsplit_once('@')?;
    let mut parts = local.split('.');
    if parts.next()? != "buzon" {
        return None;
    }
    let case: i64 = parts.next()?.parse().ok()?;
    let nonce = parts.next()?;
    let sig = parts.next()?;
    if parts.next().is_some() {
        return None;
    }
    let valid = secrets
        .iter()
        .any(|s| constant_time_eq(signature(s, case, nonce).as_bytes(), sig.as_bytes()));
    (valid && case > 0).then_some(CaseNumber(case))
}

/// True when the id has buzon's shape, signed or not: mail that says it came from us.
pub fn looks_like_ours(message_id: &str) -> bool {
    message_id.trim_start_matches('<').starts_with("buzon.")
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef-secret";

    #[test]
    fn signed_ids_name_their_case() {
        let id = new_message_id(SECRET, Some(CaseNumber(1042)), "example.test");
        assert!(id.starts_with("buzon.1042."));
        assert!(id.ends_with("@example.test"));
        assert_eq!(verify(&id, &[SECRET]), Some(CaseNumber(1042)));
        assert_eq!(
            verify(&format!("<{id}>"), &[SECRET]),
            Some(CaseNumber(1042))
        );
        assert!(looks_like_ours(&id));
    }

    #[test]
    fn forged_or_foreign_ids_name_nothing() {
        let id = new_message_id(SECRET, Some(CaseNumber(7)), "example.test");
        let forged = id.replacen("buzon.7.", "buzon.8.", 1);
        assert_eq!(verify(&forged, &[SECRET]), None);
        assert_eq!(verify(&id, &["another-secret-entirely"]), None);
        assert_eq!(verify("CAF=abc@mail.gmail.com", &[SECRET]), None);
        assert_eq!(verify("buzon.7.x@y", &[SECRET]), None);
        let none = new_message_id(SECRET, None, "example.test");
        assert_eq!(verify(&none, &[SECRET]), None);
    }

    #[test]
    fn retired_secrets_still_verify() {
        let id = new_message_id("old-secret-old-secret", Some(CaseNumber(3)), "example.test");
        assert_eq!(
            verify(&id, &[SECRET, "old-secret-old-secret"]),
            Some(CaseNumber(3))
        );
    }
}
