//! What a command changed on a case, kept as facts until a mail words it: status mail in the
//! case's language, the agents' notice in the support language, so no mail carries the other
//! language's words ("severity" in Spanish text).

use serde_json::{json, Value};

use crate::compose;
use crate::domain::Language;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Change {
    Severity {
        before: i64,
        after: i64,
    },
    Product {
        before: Option<String>,
        after: String,
    },
}

impl Change {
    /// `{field, before, after}` for the templates, in `language`.
    fn words(&self, language: Language) -> Value {
        let es = language == Language::Es;
        match self {
            Change::Severity { before, after } => field(
                if es { "severidad" } else { "severity" },
                compose::severity_text(*before, language),
                compose::severity_text(*after, language),
            ),
            Change::Product { before, after } => field(
                if es { "producto" } else { "product" },
                before.clone().unwrap_or_else(|| "-".into()),
                after.clone(),
            ),
        }
    }
}

/// The changes as the templates list them, in `language`.
pub(crate) fn worded(changes: &[Change], language: Language) -> Value {
    json!(changes
        .iter()
        .map(|c| c.words(language))
        .collect::<Vec<_>>())
}

fn field(name: &str, before: String, after: String) -> Value {
    json!({ "field": name, "before": before, "after": after })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_mail_words_a_change_in_its_own_language() {
        let changes = [
            Change::Severity {
                before: 3,
                after: 1,
            },
            Change::Product {
                before: None,
                after: "Harmony".into(),
            },
        ];
        let es = worded(&changes, Language::Es).to_string();
        assert!(
            es.contains("severidad") && es.contains("1 (crítica)"),
            "{es}"
        );
        assert!(!es.contains("severity") && !es.contains("critical"), "{es}");
        let en = worded(&changes, Language::En).to_string();
        assert!(
            en.contains("\"severity\"") && en.contains("3 (minor)"),
            "{en}"
        );
        assert!(
            !en.contains("severidad") && !en.contains("producto"),
            "{en}"
        );
    }
}
