//! What an agent can ask for by writing a new mail to the support address (SPEC.md "Agents
//! work from their mail client"): the desk's lists and one case. Pure. Only agents' mail is
//! read this way; a customer writing "casos abiertos" gets what customers get.

use std::sync::LazyLock;

use regex::Regex;

use super::PREFIXES;
use crate::domain::CaseNumber;
use crate::text::fold_words;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentRequest {
    /// `casos abiertos` / `open cases`.
    OpenCases,
    /// `sin asignar` / `unassigned`.
    Unassigned,
    /// `mis casos` / `my cases`: the open cases the agent owns.
    MyCases,
    /// `caso #N` / `case #N`: the case with its history and files.
    Case(CaseNumber),
}

static CASE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:caso|case|ver caso|show case)\s*#\s*(\d{1,18})$").expect("case regex")
});

/// The agent's request a subject names, if it names one exactly. The body is not read: an
/// agent asking for a list may say anything around it.
pub fn parse(subject: &str) -> Option<AgentRequest> {
    let folded = fold_words(subject);
    let subject = PREFIXES.replace(&folded, "");
    let subject = subject.trim().trim_end_matches(['.', '!', '?']);
    // "Re: Casos abiertos: 12", a reply to a list, asks for it again.
    let subject = match subject.rsplit_once(':') {
        Some((list, count))
            if !count.trim().is_empty() && count.trim().chars().all(|c| c.is_ascii_digit()) =>
        {
            list.trim()
        }
        _ => subject,
    };
    match subject {
        "casos abiertos" | "open cases" | "casos" | "cases" => Some(AgentRequest::OpenCases),
        "sin asignar" | "unassigned" | "casos sin asignar" | "unassigned cases" => {
            Some(AgentRequest::Unassigned)
        }
        "mis casos" | "my cases" | "mis casos abiertos" | "my open cases" => {
            Some(AgentRequest::MyCases)
        }
        _ => CASE
            .captures(subject)
            .and_then(|c| c[1].parse().ok())
            .map(|n| AgentRequest::Case(CaseNumber(n))),
    }
}

/// An agent's new mail whose subject both names a case's tag and is a request (`caso #3`
/// without `Re:`): answered as a request, not threaded onto case 3 as an answer to the
/// customer.
pub fn despite_tag(subject: &str) -> bool {
    !PREFIXES.is_match(&fold_words(subject)) && parse(subject).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_desk_lists_in_both_languages() {
        assert_eq!(parse("Casos abiertos"), Some(AgentRequest::OpenCases));
        assert_eq!(parse("open cases."), Some(AgentRequest::OpenCases));
        assert_eq!(parse("Sin asignar"), Some(AgentRequest::Unassigned));
        assert_eq!(parse("UNASSIGNED"), Some(AgentRequest::Unassigned));
        assert_eq!(parse("mis casos"), Some(AgentRequest::MyCases));
        assert_eq!(
            parse("Re: Casos abiertos: 12"),
            Some(AgentRequest::OpenCases)
        );
        assert_eq!(parse("My cases"), Some(AgentRequest::MyCases));
        assert_eq!(parse("caso #12"), Some(AgentRequest::Case(CaseNumber(12))));
        assert_eq!(parse("Case # 3"), Some(AgentRequest::Case(CaseNumber(3))));
    }

    #[test]
    fn problems_and_near_misses_are_not_requests() {
        for subject in [
            "Casos abiertos en el portal no cargan",
            "caso 12",
            "Caso #12 sigue fallando",
            "el caso #3",
            "",
        ] {
            assert_eq!(parse(subject), None, "{subject}");
        }
    }
}
