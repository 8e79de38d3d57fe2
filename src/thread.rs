//! Which case does a reply belong to, and may its sender touch it? SPEC.md "Mail in → 2",
//! in its order: (a) a reference to a Message-ID buzon signed for case N; (b) a reference to a
//! mail buzon received on case N, from a participant or agent; (c) a `[Caso #N]` tag in the
//! subject, from a participant or agent — or (d) from a colleague: someone provisioned in the
//! same organisation as the case's requester who writes with one of the case's people in
//! To/Cc (a forwarded answer replied to; issue 13 item 5). Pure: the store looks the facts
//! up first.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use regex::Regex;

use crate::compose::msgid;
use crate::domain::{CaseNumber, EmailAddress};
use crate::parse::InboundMessage;

/// What the store knows about the references and candidate cases of one mail.
#[derive(Debug, Clone, Default)]
pub struct ThreadFacts {
    /// Message-IDs among the mail's references that buzon received on a case.
    pub received: HashMap<String, CaseNumber>,
    /// Who may write on each candidate case (requester and participants).
    pub participants: HashMap<CaseNumber, HashSet<EmailAddress>>,
    pub agents: HashSet<EmailAddress>,
    /// The organisation (its domain) the sender is provisioned under: the customer row's
    /// `org_domain`, or their domain when it is a registered organisation. A customer
    /// provisioned alone has none, so two customers at gmail.com are never colleagues.
    pub sender_org: Option<String>,
    /// The organisation of each candidate case's requester, when they have one.
    pub case_orgs: HashMap<CaseNumber, String>,
}

/// Why a mail was put on its case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadRule {
    SignedReference,
    ReceivedReference,
    SubjectTag,
    /// A tag anywhere in the subject, from a colleague of the requester who copies one of
    /// the case's people: the sender becomes a participant.
    ColleagueTag,
}

/// The mail's references, the direct parent first, then the rest newest first.
pub fn references(message: &InboundMessage) -> Vec<String> {
    let mut ids: Vec<String> = message.in_reply_to.clone();
    for id in message.references.iter().rev() {
        if !ids.contains(id) {
            ids.push(id.clone());
        }
    }
    ids
}

/// The case number in the subject tag, if any (`[Caso #12]`, `RE: Case #12`, …).
pub fn subject_tag(subject: &str) -> Option<CaseNumber> {
    static TAG: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(?i)\b(?:caso|case)\s*#\s*(\d{1,18})\b").expect("tag regex"));
    TAG.captures(subject)?
        .get(1)?
        .as_str()
        .parse()
        .ok()
        .map(CaseNumber)
}

/// Every case this mail could belong to, for the store to look up participants.
pub fn candidates(
    message: &InboundMessage,
    secrets: &[&str],
    received: &HashMap<String, CaseNumber>,
) -> Vec<CaseNumber> {
    let mut out = Vec::new();
    for id in references(message) {
        if let Some(n) = msgid::verify(&id, secrets).or_else(|| received.get(&id).copied()) {
            out.push(n);
        }
    }
    out.extend(subject_tag(&message.subject));
    out.dedup();
    out
}

pub fn find_case(
    message: &InboundMessage,
    secrets: &[&str],
    facts: &ThreadFacts,
) -> Option<(CaseNumber, ThreadRule)> {
    let sender = &message.from.as_ref()?.address;
    let refs = references(message);
    if let Some(n) = refs.iter().find_map(|id| msgid::verify(id, secrets)) {
        return Some((n, ThreadRule::SignedReference));
    }
    let allowed = |n: CaseNumber| {
        facts.agents.contains(sender)
            || facts
                .participants
                .get(&n)
                .is_some_and(|p| p.contains(sender))
    };
    if let Some(n) = refs
        .iter()
        .filter_map(|id| facts.received.get(id).copied())
        .find(|n| allowed(*n))
    {
        return Some((n, ThreadRule::ReceivedReference));
    }
    let tag = subject_tag(&message.subject)?;
    if allowed(tag) {
        return Some((tag, ThreadRule::SubjectTag));
    }
    colleague_copying_the_case(message, facts, tag).then_some((tag, ThreadRule::ColleagueTag))
}

/// Rule (d): the sender is in the organisation of case `n`'s requester and one of its
/// people reads along in To/Cc. Both must hold: a stranger, or a customer of another
/// organisation, never reaches a case through its tag.
fn colleague_copying_the_case(
    message: &InboundMessage,
    facts: &ThreadFacts,
    n: CaseNumber,
) -> bool {
    let same_org = facts
        .sender_org
        .as_ref()
        .is_some_and(|org| facts.case_orgs.get(&n) == Some(org));
    let Some(people) = facts.participants.get(&n) else {
        return false;
    };
    same_org
        && message
            .to
            .iter()
            .chain(&message.cc)
            .any(|m| people.contains(&m.address))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Mailbox;

    const SECRET: &str = "thread-test-secret-0123";

    fn addr(s: &str) -> EmailAddress {
        EmailAddress::parse(s).unwrap()
    }

    fn mail(
        from: &str,
        subject: &str,
        in_reply_to: &[&str],
        references: &[&str],
    ) -> InboundMessage {
        InboundMessage {
            from: Some(Mailbox {
                name: None,
                address: addr(from),
            }),
            subject: subject.into(),
            in_reply_to: in_reply_to.iter().map(|s| s.to_string()).collect(),
            references: references.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    fn facts() -> ThreadFacts {
        ThreadFacts {
            received: [("orig@cliente.test".to_string(), CaseNumber(5))]
                .into_iter()
                .collect(),
            participants: [(
                CaseNumber(5),
                [addr("ana@cliente.test"), addr("luis@cliente.test")]
                    .into_iter()
                    .collect(),
            )]
            .into_iter()
            .collect(),
            agents: [addr("agente@soporte.test")].into_iter().collect(),
            sender_org: None,
            case_orgs: [(CaseNumber(5), "cliente.test".to_string())]
                .into_iter()
                .collect(),
        }
    }

    fn signed(n: i64) -> String {
        msgid::new_message_id(
            SECRET,
            Some(CaseNumber(n)),
            "soporte.test",
            msgid::Audience::Customers,
        )
    }

    #[test]
    fn a_signed_reference_names_the_case_for_anyone() {
        let m = mail("reenviado@otro.test", "Re: algo", &[&signed(5)], &[]);
        assert_eq!(
            find_case(&m, &[SECRET], &facts()),
            Some((CaseNumber(5), ThreadRule::SignedReference))
        );
        let m = mail(
            "ana@cliente.test",
            "sin etiqueta",
            &[],
            &["x@y", &signed(5), "z@w"],
        );
        assert_eq!(
            find_case(&m, &[SECRET], &facts()),
            Some((CaseNumber(5), ThreadRule::SignedReference))
        );
    }

    #[test]
    fn a_forged_signature_is_ignored() {
        let forged = signed(5).replacen("buzon.5.", "buzon.6.", 1);
        let m = mail("atacante@otro.test", "Re: x", &[&forged], &[]);
        assert_eq!(find_case(&m, &[SECRET], &facts()), None);
    }

    #[test]
    fn a_received_reference_needs_a_participant_or_agent() {
        let m = mail("luis@cliente.test", "Re: x", &["orig@cliente.test"], &[]);
        assert_eq!(
            find_case(&m, &[SECRET], &facts()),
            Some((CaseNumber(5), ThreadRule::ReceivedReference))
        );
        let m = mail("agente@soporte.test", "Re: x", &[], &["orig@cliente.test"]);
        assert_eq!(
            find_case(&m, &[SECRET], &facts()),
            Some((CaseNumber(5), ThreadRule::ReceivedReference))
        );
        let m = mail("extrano@otro.test", "Re: x", &["orig@cliente.test"], &[]);
        assert_eq!(find_case(&m, &[SECRET], &facts()), None);
    }

    #[test]
    fn a_subject_tag_needs_a_participant_or_agent() {
        for subject in [
            "[Caso #5] x",
            "RE: RV: Caso #5",
            "Fwd: [Case #5] y",
            "AW: SV: case #5",
            "Re:[caso#5]",
        ] {
            let m = mail("ana@cliente.test", subject, &[], &[]);
            assert_eq!(
                find_case(&m, &[SECRET], &facts()),
                Some((CaseNumber(5), ThreadRule::SubjectTag)),
                "{subject}"
            );
        }
        let m = mail("extrano@otro.test", "[Caso #5] hola", &[], &[]);
        assert_eq!(
            find_case(&m, &[SECRET], &facts()),
            None,
            "a tag from a stranger never touches the case"
        );
        let m = mail("ana@cliente.test", "[Caso #6] hola", &[], &[]);
        assert_eq!(
            find_case(&m, &[SECRET], &facts()),
            None,
            "not a participant of #6"
        );
    }

    /// Carla forwarded Ana's answer inline; Pedro answers the desk with Carla in Cc.
    fn forwarded_reply(from: &str, cc: &str) -> InboundMessage {
        let mut m = mail(
            from,
            "Re: [soporte@example.test: [Caso #5] No imprime]",
            &["fwd-by-carla@cliente.test"],
            &[],
        );
        m.to = vec![Mailbox {
            name: None,
            address: addr("soporte@soporte.test"),
        }];
        m.cc = vec![Mailbox {
            name: None,
            address: addr(cc),
        }];
        m
    }

    #[test]
    fn a_colleague_copying_the_case_reaches_it_by_its_tag() {
        let colleague = ThreadFacts {
            sender_org: Some("cliente.test".into()),
            ..facts()
        };
        let m = forwarded_reply("pedro@cliente.test", "ana@cliente.test");
        assert_eq!(
            find_case(&m, &[SECRET], &colleague),
            Some((CaseNumber(5), ThreadRule::ColleagueTag))
        );
        let nobody_copied = forwarded_reply("pedro@cliente.test", "otro@cliente.test");
        assert_eq!(
            find_case(&nobody_copied, &[SECRET], &colleague),
            None,
            "none of the case's people reads along"
        );
    }

    #[test]
    fn strangers_and_other_organisations_never_reach_a_case_by_its_tag() {
        let m = forwarded_reply("intruso@otro.test", "ana@cliente.test");
        assert_eq!(find_case(&m, &[SECRET], &facts()), None, "no organisation");
        let other = ThreadFacts {
            sender_org: Some("otro.test".into()),
            ..facts()
        };
        assert_eq!(
            find_case(&m, &[SECRET], &other),
            None,
            "another organisation"
        );
        let lone_requester = ThreadFacts {
            sender_org: Some("cliente.test".into()),
            case_orgs: HashMap::new(),
            ..facts()
        };
        assert_eq!(
            find_case(&m, &[SECRET], &lone_requester),
            None,
            "the requester belongs to no organisation"
        );
    }

    #[test]
    fn no_reference_no_tag_is_new() {
        let m = mail(
            "ana@cliente.test",
            "Otro problema con el caso de uso #5",
            &["unknown@x"],
            &[],
        );
        assert_eq!(find_case(&m, &[SECRET], &facts()), None);
        assert_eq!(subject_tag("Casos #5"), None);
        assert_eq!(subject_tag("Showcase #5"), None);
    }

    #[test]
    fn references_put_the_parent_first() {
        let m = mail("a@b.test", "x", &["p@x"], &["r1@x", "r2@x", "p@x"]);
        assert_eq!(references(&m), vec!["p@x", "r2@x", "r1@x"]);
        let c = candidates(
            &mail("a@b.test", "[Caso #9]", &[&signed(5)], &[]),
            &[SECRET],
            &HashMap::new(),
        );
        assert_eq!(c, vec![CaseNumber(5), CaseNumber(9)]);
    }
}
