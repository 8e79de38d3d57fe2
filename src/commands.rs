//! Commands in the new text of a reply (SPEC.md "Mail in → 3"): lines alone, any case, with
//! or without accents. "No, no quiero cerrar" is a sentence, not a command.

pub mod agent;

use crate::classify::{match_product, parse_severity};
use crate::domain::Severity;
use crate::text::fold_words;

/// What a reply asks for, and the text left once the command lines are taken out.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReplyCommands {
    pub close: bool,
    pub severity: Option<Severity>,
    /// A configured product (its configured spelling).
    pub product: Option<String>,
    /// A `Producto:` line naming something that is not a configured product.
    pub unknown_product: Option<String>,
    /// First line `#interno` / `#internal`: an agent's internal note.
    pub internal: bool,
    /// The text without command lines (and without the `#interno` marker).
    pub comment: String,
}

impl ReplyCommands {
    /// Whether applying these commands would change the case (close, severity, product).
    pub fn changes_case(&self) -> bool {
        self.close || self.severity.is_some() || self.product.is_some()
    }

    /// The same mail with its case-changing commands set aside (held for confirmation).
    pub fn without_changes(&self) -> ReplyCommands {
        ReplyCommands {
            close: false,
            severity: None,
            product: None,
            ..self.clone()
        }
    }

    /// The command lines as a customer would write them again to confirm them.
    pub fn lines(&self, language: crate::domain::Language) -> Vec<String> {
        let spanish = language == crate::domain::Language::Es;
        let mut lines = Vec::new();
        if let Some(severity) = self.severity {
            let key = if spanish { "Severidad" } else { "Severity" };
            lines.push(format!("{key}: {}", severity.level()));
        }
        if let Some(product) = &self.product {
            let key = if spanish { "Producto" } else { "Product" };
            lines.push(format!("{key}: {product}"));
        }
        if self.close {
            lines.push(if spanish { "cerrar" } else { "close" }.to_string());
        }
        lines
    }
}

const CLOSE: [&str; 5] = [
    "cerrar",
    "cerrar caso",
    "cerrar el caso",
    "close",
    "close case",
];
const INTERNAL: [&str; 2] = ["#interno", "#internal"];

pub fn parse(new_text: &str, products: &[String]) -> ReplyCommands {
    let mut commands = ReplyCommands::default();
    let mut kept = Vec::new();
    let mut first_content = true;
    for line in new_text.lines() {
        let folded = fold_words(line);
        let bare = folded.trim_matches(|c: char| matches!(c, '.' | '!' | '*' | '_'));
        if first_content && !bare.is_empty() {
            first_content = false;
            if INTERNAL.contains(&bare) {
                commands.internal = true;
                continue;
            }
        }
        if CLOSE.contains(&bare) {
            commands.close = true;
            continue;
        }
        if let Some(value) = field(line, &["severidad", "severity"]) {
            if let Some(severity) = parse_severity(&value) {
                commands.severity = Some(severity);
                continue;
            }
        }
        if let Some(value) = field(line, &["producto", "product"]) {
            match match_product(&value, products) {
                Some(known) => commands.product = Some(known),
                None => commands.unknown_product = Some(value),
            }
            continue;
        }
        kept.push(line);
    }
    commands.comment = kept.join("\n").trim().to_string();
    commands
}

/// `Name: value` when the folded name is one of `names`.
pub(crate) fn field(line: &str, names: &[&str]) -> Option<String> {
    let (name, value) = line.split_once(':')?;
    let name = fold_words(name);
    let name = name.trim_matches(|c: char| c == '*' || c == '_' || c.is_whitespace());
    names
        .contains(&name)
        .then(|| value.trim().trim_matches('*').trim().to_string())
        .filter(|v| !v.is_empty())
}

/// Nothing but thanks or an acknowledgement: logged on a closed case, never a new case.
pub fn is_courtesy(text: &str) -> bool {
    const WORDS: [&str; 24] = [
        "gracias",
        "muchas",
        "mil",
        "muchisimas",
        "thanks",
        "thank",
        "you",
        "so",
        "much",
        "many",
        "ok",
        "okay",
        "vale",
        "perfecto",
        "perfect",
        "genial",
        "great",
        "de",
        "nuevo",
        "again",
        "saludos",
        "regards",
        "un",
        "cordial",
    ];
    let folded = fold_words(text);
    let words: Vec<&str> = folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    !words.is_empty() && words.len() <= 12 && words.iter().all(|w| WORDS.contains(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn products() -> Vec<String> {
        vec!["Harmony".into(), "API Manager".into()]
    }

    #[test]
    fn close_is_a_line_alone() {
        for text in [
            "cerrar",
            "Cerrar.",
            "CERRAR CASO",
            "close",
            "  Close!  ",
            "Gracias, ya funciona\n\ncerrar",
        ] {
            assert!(parse(text, &products()).close, "{text:?}");
        }
        for text in [
            "No, no quiero cerrar",
            "no cerrar todavía",
            "¿Puedo cerrar el caso mañana?",
            "closed",
        ] {
            assert!(!parse(text, &products()).close, "{text:?}");
        }
        let c = parse("Ya funciona, gracias.\ncerrar", &products());
        assert_eq!(c.comment, "Ya funciona, gracias.");
    }

    #[test]
    fn severity_and_product_lines() {
        let c = parse(
            "Severidad: 1\nProducto: api MANAGER\nSigue fallando",
            &products(),
        );
        assert_eq!(c.severity, Some(Severity::CRITICAL));
        assert_eq!(c.product.as_deref(), Some("API Manager"));
        assert_eq!(c.comment, "Sigue fallando");
        let c = parse("Product: Widget", &products());
        assert_eq!(c.unknown_product.as_deref(), Some("Widget"));
        let c = parse("La severidad: no sé cuál poner", &products());
        assert_eq!(c.severity, None);
        assert_eq!(c.comment, "La severidad: no sé cuál poner");
    }

    #[test]
    fn internal_marker_on_the_first_line_only() {
        let c = parse("\n#interno\nEl cliente usa la versión 3", &products());
        assert!(c.internal);
        assert_eq!(c.comment, "El cliente usa la versión 3");
        let c = parse("Hola\n#interno", &products());
        assert!(!c.internal);
        assert!(parse("#Internal\nx", &products()).internal);
    }

    #[test]
    fn courtesy_only_replies() {
        for text in [
            "gracias",
            "¡Muchas gracias!",
            "Thanks!",
            "ok",
            "Perfecto, gracias",
            "thank you so much",
            "Mil gracias. Saludos",
        ] {
            assert!(is_courtesy(text), "{text:?}");
        }
        for text in [
            "",
            "gracias, pero vuelve a fallar",
            "ok, ahora falla otra cosa",
            "Thanks, new problem: login fails",
        ] {
            assert!(!is_courtesy(text), "{text:?}");
        }
    }
}
