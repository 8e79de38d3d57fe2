//! A new mail whose subject is a request and also names a case: `historial del caso #3`,
//! `historial [Caso #3]`, `mis casos [Caso #3]`. The subject tag would thread it onto the
//! case as a comment (SPEC.md "Mail in → 2c"); the customer asked for something, so the
//! request wins — but only for a new mail (no `Re:`/`Fwd:` prefix; the caller also checks
//! that no reference named the case) and only for an exact request form, never for help.

use std::sync::LazyLock;

use regex::Regex;

use super::{parse, SelfService, PREFIXES};
use crate::text::fold_words;

/// `[Caso #3]` as our subjects write it, with the number captured.
static BRACKETED_TAG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\[\s*((?:caso|case)\s*#\s*\d{1,18})\s*\]").expect("bracketed tag regex")
});

/// The exact request a new mail's subject names, read with its case tags as plain words
/// (`historial [Caso #3]` is `historial caso #3`) or without them (`mis casos [Caso #3]`
/// is `mis casos`). `None` for a reply, a problem, or a subject that only looks like a
/// request (that one stays on the case its tag names).
pub fn despite_tag(subject: &str, body: &str) -> Option<SelfService> {
    if PREFIXES.is_match(&fold_words(subject)) {
        return None;
    }
    let variants = [
        subject.to_string(),
        BRACKETED_TAG.replace_all(subject, " $1 ").into_owned(),
        BRACKETED_TAG.replace_all(subject, " ").into_owned(),
    ];
    variants
        .iter()
        .filter_map(|s| parse(s, body))
        .find(|r| *r != SelfService::Help)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::CaseNumber;

    #[test]
    fn requests_naming_a_case_stay_requests() {
        let history = Some(SelfService::History(CaseNumber(3)));
        assert_eq!(despite_tag("historial del caso #3", ""), history);
        assert_eq!(despite_tag("Historial [Caso #3]", ""), history);
        assert_eq!(despite_tag("history of case #3", "Thanks"), history);
        assert_eq!(
            despite_tag("mis casos [Caso #3]", ""),
            Some(SelfService::MyCases(None))
        );
        assert_eq!(
            despite_tag("[Case #3] my open cases", ""),
            Some(SelfService::MyCases(Some("open")))
        );
    }

    #[test]
    fn replies_problems_and_near_misses_stay_on_the_case() {
        assert_eq!(despite_tag("Re: [Caso #3] historial", ""), None);
        assert_eq!(despite_tag("RV: historial del caso #3", ""), None);
        assert_eq!(
            despite_tag(
                "historial del caso #3",
                "El historial sale vacío desde ayer."
            ),
            None
        );
        assert_eq!(despite_tag("[Caso #3] historial pendiente", ""), None);
        assert_eq!(despite_tag("[Caso #3] La impresora", ""), None);
    }
}
