//! What a customer can ask for by writing a new mail (SPEC.md "Mail in → 5"): their case
//! list, a subject search, a case's history, their profile. Pure. Only the exact forms are
//! requests; a new problem is never taken for one. A subject that starts like a request but
//! is not one gets help instead of a case.

use std::sync::LazyLock;

use regex::Regex;

use crate::domain::{CaseNumber, Language};
use crate::text::fold_words;

pub mod agent;
mod bare;
#[cfg(test)]
mod table_tests;
mod tagged;

#[derive(Debug, Clone, PartialEq)]
pub enum SelfService {
    /// `mis casos [abiertos|cerrados|todos]`: the status to list (`None` for all).
    MyCases(Option<&'static str>),
    /// `buscar <palabras>`: folded words that must all be in the subject.
    Search(Vec<String>),
    /// `historial #N`.
    History(CaseNumber),
    /// `perfil` with optional `Nombre:` / `Idioma:` lines.
    Profile {
        name: Option<String>,
        language: Option<Language>,
    },
    /// Looked like a request but was not one of the forms above.
    Help,
}

pub use tagged::despite_tag;

/// Reply prefixes a client may add when the customer answers one of our replies.
static PREFIXES: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(?:(?:re|rv|fwd?|aw|sv|wg|tr)\s*:\s*)+").expect("prefix regex"));

static HISTORY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(?:historial|history)\s*(?:del?\s+caso\s*|of\s+case\s*|caso\s*|case\s*)?#\s*(\d{1,18})$",
    )
    .expect("history regex")
});

/// Subjects opening with these and going wrong get help. Not "ayuda"/"help": "Ayuda con
/// el conector" is a problem report, so only those words alone ask for help.
const KEYWORDS: [&str; 10] = [
    "mis casos",
    "my cases",
    "buscar",
    "search",
    "historial",
    "history",
    "perfil",
    "profile",
    "comandos",
    "commands",
];

pub fn parse(subject: &str, body: &str) -> Option<SelfService> {
    let folded = fold_words(subject);
    let subject = PREFIXES
        .replace(&folded, "")
        .trim()
        .trim_end_matches(['.', '!', '?'])
        .to_string();
    let request = exact_form(&subject, body);
    let own_keys: &[&str] = match request {
        Some(SelfService::Profile { .. }) => &["nombre", "name", "idioma", "language"],
        _ => &[],
    };
    if !bare::is_bare(body, own_keys) {
        // The subject may begin like a request; the body describes a problem.
        return None;
    }
    request.or_else(|| looks_like_a_request(&subject).then_some(SelfService::Help))
}

/// The request a (folded, prefix-less) subject names exactly, if any.
fn exact_form(subject: &str, body: &str) -> Option<SelfService> {
    match subject {
        "mis casos" | "my cases" | "mis casos todos" | "my cases all" => {
            return Some(SelfService::MyCases(None))
        }
        "mis casos abiertos" | "my cases open" | "my open cases" => {
            return Some(SelfService::MyCases(Some("open")))
        }
        "mis casos cerrados" | "my cases closed" | "my closed cases" => {
            return Some(SelfService::MyCases(Some("closed")))
        }
        "perfil" | "profile" | "mi perfil" | "my profile" => return Some(profile(body)),
        "ayuda" | "help" | "comandos" | "commands" => return Some(SelfService::Help),
        _ => {}
    }
    if let Some(caps) = HISTORY.captures(subject) {
        return caps[1]
            .parse()
            .ok()
            .map(|n| SelfService::History(CaseNumber(n)));
    }
    ["buscar ", "search "].iter().find_map(|keyword| {
        let words: Vec<String> = subject
            .strip_prefix(keyword)?
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect();
        (!words.is_empty()).then_some(SelfService::Search(words))
    })
}

/// A short subject that opens with a request's keyword: a request gone wrong, not a problem
/// report ("mis casos pendientes", "historial 12", "buscar").
fn looks_like_a_request(subject: &str) -> bool {
    let opens = |k: &str| {
        subject == k
            || subject
                .strip_prefix(k)
                .is_some_and(|rest| rest.starts_with([' ', '#']))
    };
    // The keyword and at most one word more ("mis casos pendientes", "historial 12"):
    // "Profile picture upload fails" is a problem, not a request gone wrong.
    KEYWORDS
        .iter()
        .any(|k| opens(k) && subject.split_whitespace().count() <= k.split_whitespace().count() + 1)
}

fn profile(body: &str) -> SelfService {
    let mut name = None;
    let mut language = None;
    for line in body.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match fold_words(key).as_str() {
            // No controls, no bidi reordering, bounded, and never a link (text::person_name).
            "nombre" | "name" if !value.is_empty() => name = crate::text::person_name(value),
            "idioma" | "language" => language = value.parse().ok(),
            _ => {}
        }
    }
    SelfService::Profile { name, language }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_lists_in_both_languages() {
        assert_eq!(parse("mis casos", ""), Some(SelfService::MyCases(None)));
        assert_eq!(
            parse("Mis Casos Abiertos", ""),
            Some(SelfService::MyCases(Some("open")))
        );
        assert_eq!(
            parse("RE: my cases closed", ""),
            Some(SelfService::MyCases(Some("closed")))
        );
        assert_eq!(
            parse("mis casos todos.", ""),
            Some(SelfService::MyCases(None))
        );
    }

    #[test]
    fn search_history_profile() {
        assert_eq!(
            parse("buscar conexión SAP", ""),
            Some(SelfService::Search(vec!["conexion".into(), "sap".into()]))
        );
        assert_eq!(
            parse("search timeout", ""),
            Some(SelfService::Search(vec!["timeout".into()]))
        );
        assert_eq!(
            parse("historial #12", ""),
            Some(SelfService::History(CaseNumber(12)))
        );
        assert_eq!(
            parse("History of case #7", ""),
            Some(SelfService::History(CaseNumber(7)))
        );
        assert_eq!(
            parse("perfil", "Nombre: Ana Pérez\nIdioma: en\n"),
            Some(SelfService::Profile {
                name: Some("Ana Pérez".into()),
                language: Some(Language::En)
            })
        );
        assert_eq!(
            parse("profile", ""),
            Some(SelfService::Profile {
                name: None,
                language: None
            })
        );
    }

    #[test]
    fn profile_names_lose_bidi_controls() {
        assert_eq!(
            parse("perfil", "Nombre: Ana \u{202E}zer\u{E9}P\u{2069}\n"),
            Some(SelfService::Profile {
                name: Some("Ana zeréP".into()),
                language: None
            })
        );
    }

    #[test]
    fn near_misses_get_help() {
        for subject in [
            "mis casos pendientes",
            "historial 12",
            "buscar",
            "ayuda",
            "help",
            "history #x",
        ] {
            assert_eq!(parse(subject, ""), Some(SelfService::Help), "{subject}");
        }
    }

    #[test]
    fn help_with_a_described_problem_is_a_problem() {
        let report = "El conector de SAP deja de responder cada noche a las 2:00 y tenemos que reiniciarlo a mano; adjunto el registro y la configuración actual del servidor.";
        assert_eq!(parse("Ayuda", report), None);
        assert_eq!(parse("help", "Thanks"), Some(SelfService::Help));
    }

    #[test]
    fn problems_are_never_requests() {
        for subject in [
            "No puedo ver mis casos en el portal",
            "Error al buscar clientes en Harmony",
            "El historial de ejecuciones no carga",
            "Perfil de usuario bloqueado tras actualizar",
            "Help! Production is down",
            "my cases page is blank since the upgrade",
            "Producción Caída",
            "Ayuda 0",
            "Ayuda con el conector",
            "help needed",
        ] {
            assert_eq!(parse(subject, ""), None, "{subject}");
        }
    }
}
