//! buzon's own Message-IDs: `<buzon.N.NONCE.SIG@domain>`, where SIG is an HMAC of the case
//! number and nonce. A reply naming such an id is on case N, and nobody without the secret
//! can make one up to reach a case they were never sent.
//!
//! The signature also says who the mail went to ([`Audience`]): only a reference to a mail
//! sent *to the agents* proves that a reply comes from an agent, so a customer holding their
//! acknowledgement cannot pass for one.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::domain::CaseNumber;

type HmacSha256 = Hmac<Sha256>;

/// Hex characters of the signature kept: 80 bits, plenty against guessing by mail.
const SIG_LEN: usize = 20;

/// Who a signed mail was sent to: part of what the signature covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Customers (and strangers): acknowledgements, answers, status mail, relayed replies.
    Customers,
    /// The agents' notifications: a reply to one proves the writer got it as an agent.
    Agents,
}

impl Audience {
    const BOTH: [Audience; 2] = [Audience::Customers, Audience::Agents];

    /// What the MAC covers besides case and nonce; customers' ids keep the original form,
    /// so ids signed before audiences existed still verify.
    fn label(self) -> &'static str {
        match self {
            Audience::Customers => "",
            Audience::Agents => "agents:",
        }
    }
}

fn signature(secret: &str, case: i64, nonce: &str, audience: Audience) -> String {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(format!("{}{case}.{nonce}", audience.label()).as_bytes());
    hex::encode(mac.finalize().into_bytes())[..SIG_LEN].to_string()
}

/// A fresh signed id (without angle brackets); case 0 for mail that belongs to no case.
pub fn new_message_id(
    secret: &str,
    case: Option<CaseNumber>,
    domain: &str,
    audience: Audience,
) -> String {
    let case = case.map_or(0, |c| c.0);
    let nonce = format!("{:016x}", fastrand::u64(..));
    format!(
        "buzon.{case}.{nonce}.{}@{domain}",
        signature(secret, case, &nonce, audience)
    )
}

/// The thread root of case `case` in the agents' clients: `buzon.N.thread.SIG@domain`.
/// Deterministic (no nonce), so every agents' notification of the case names the same root in
/// References, from any process and after any restart, without a lookup; signed for the
/// agents like their notifications, so a reply that keeps only the root still reaches case N
/// and still proves an agent. No mail carries it as its own Message-ID: clients group the
/// case's mails under it as under a parent they never received.
pub fn case_thread_root(secret: &str, case: CaseNumber, domain: &str) -> String {
    let nonce = "thread";
    format!(
        "buzon.{}.{nonce}.{}@{domain}",
        case.0,
        signature(secret, case.0, nonce, Audience::Agents)
    )
}

/// What a genuine buzon Message-ID says: the case (0 for none) and who it went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signed {
    pub case: i64,
    pub audience: Audience,
}

/// The facts of an id buzon made with one of these secrets (the first is current; the rest
/// are retired ones still honoured), also for mail that belongs to no case.
pub fn verify_signed(message_id: &str, secrets: &[&str]) -> Option<Signed> {
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
    if parts.next().is_some() || case < 0 {
        return None;
    }
    Audience::BOTH.into_iter().find_map(|audience| {
        secrets
            .iter()
            .any(|s| {
                constant_time_eq(
                    signature(s, case, nonce, audience).as_bytes(),
                    sig.as_bytes(),
                )
            })
            .then_some(Signed { case, audience })
    })
}

/// The case a Message-ID names, if buzon made it for a case, whoever it was sent to.
pub fn verify(message_id: &str, secrets: &[&str]) -> Option<CaseNumber> {
    verify_signed(message_id, secrets)
        .filter(|s| s.case > 0)
        .map(|s| CaseNumber(s.case))
}

/// Whether the id is one buzon signed for case `case` and sent to the agents.
pub fn proves_agent(message_id: &str, secrets: &[&str], case: CaseNumber) -> bool {
    verify_signed(message_id, secrets)
        == Some(Signed {
            case: case.0,
            audience: Audience::Agents,
        })
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
    fn a_case_has_one_thread_root_for_the_agents() {
        let root = case_thread_root(SECRET, CaseNumber(7), "example.test");
        assert_eq!(
            root,
            case_thread_root(SECRET, CaseNumber(7), "example.test")
        );
        assert_ne!(
            root,
            case_thread_root(SECRET, CaseNumber(8), "example.test")
        );
        assert!(proves_agent(&root, &[SECRET], CaseNumber(7)));
        assert!(!proves_agent(&root, &["another secret"], CaseNumber(7)));
    }

    #[test]
    fn signed_ids_name_their_case() {
        let id = new_message_id(
            SECRET,
            Some(CaseNumber(1042)),
            "example.test",
            Audience::Customers,
        );
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
        let id = new_message_id(
            SECRET,
            Some(CaseNumber(7)),
            "example.test",
            Audience::Customers,
        );
        let forged = id.replacen("buzon.7.", "buzon.8.", 1);
        assert_eq!(verify(&forged, &[SECRET]), None);
        assert_eq!(verify(&id, &["another-secret-entirely"]), None);
        assert_eq!(verify("CAF=abc@mail.gmail.com", &[SECRET]), None);
        assert_eq!(verify("buzon.7.x@y", &[SECRET]), None);
        let none = new_message_id(SECRET, None, "example.test", Audience::Customers);
        assert_eq!(verify(&none, &[SECRET]), None);
    }

    #[test]
    fn retired_secrets_still_verify() {
        let id = new_message_id(
            "old-secret-old-secret",
            Some(CaseNumber(3)),
            "example.test",
            Audience::Agents,
        );
        assert_eq!(
            verify(&id, &[SECRET, "old-secret-old-secret"]),
            Some(CaseNumber(3))
        );
    }

    #[test]
    fn only_ids_sent_to_agents_prove_an_agent() {
        let to_agents = new_message_id(SECRET, Some(CaseNumber(5)), "x.test", Audience::Agents);
        let to_customer =
            new_message_id(SECRET, Some(CaseNumber(5)), "x.test", Audience::Customers);
        assert!(proves_agent(&to_agents, &[SECRET], CaseNumber(5)));
        assert!(!proves_agent(&to_agents, &[SECRET], CaseNumber(6)));
        assert!(!proves_agent(&to_customer, &[SECRET], CaseNumber(5)));
        // Either audience threads the reply onto its case.
        assert_eq!(verify(&to_customer, &[SECRET]), Some(CaseNumber(5)));
        assert_eq!(verify(&to_agents, &[SECRET]), Some(CaseNumber(5)));
        // A customer's id relabelled as an agent's does not verify as one.
        let (local, _) = to_customer.split_once('@').unwrap();
        assert!(!proves_agent(
            &format!("{local}@x.test"),
            &[SECRET],
            CaseNumber(5)
        ));
    }

    #[test]
    fn mail_of_no_case_is_still_recognised_as_signed() {
        let id = new_message_id(SECRET, None, "x.test", Audience::Customers);
        assert_eq!(
            verify_signed(&id, &[SECRET]),
            Some(Signed {
                case: 0,
                audience: Audience::Customers
            })
        );
        assert_eq!(verify_signed(&id, &["some-other-secret-value"]), None);
    }
}
