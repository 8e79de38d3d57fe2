//! Commands in an agent's reply on a case (SPEC.md "Agents work from their mail client"):
//! lines alone, like customers' `cerrar`, in Spanish or English, any case, with or without
//! accents. Pure. Read only in agents' mail; taken out of what is relayed to the customer.

use super::field;
use crate::domain::{CaseNumber, EmailAddress};
use crate::text::fold_words;

/// Who should own the case after the reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ownership {
    /// `Tomar` / `Take`: the agent who wrote.
    Take,
    /// `Asignar: addr` / `Assign: addr`: the address as written (checked against the
    /// agents when applied).
    Assign(String),
    /// `Soltar` / `Release`: nobody.
    Release,
}

/// What an agent's reply asks of the case besides the customers' commands.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AgentCommands {
    pub ownership: Option<Ownership>,
    /// `Esperando cliente` / `Waiting on customer`.
    pub waiting: bool,
    /// `Fusionar: #M` / `Merge: #M`.
    pub merge_into: Option<CaseNumber>,
    /// The text without these lines.
    pub comment: String,
}

impl AgentCommands {
    pub fn any(&self) -> bool {
        self.ownership.is_some() || self.waiting || self.merge_into.is_some()
    }
}

const TAKE: [&str; 4] = ["tomar", "tomo", "take", "take case"];
const RELEASE: [&str; 3] = ["soltar", "liberar", "release"];
const WAITING: [&str; 4] = [
    "esperando cliente",
    "esperando al cliente",
    "waiting on customer",
    "waiting for customer",
];

/// The agent's command lines of `text` (the reply's new words, customers' commands already
/// taken out), and the text left.
pub fn parse(text: &str) -> AgentCommands {
    let mut commands = AgentCommands::default();
    let mut kept = Vec::new();
    for line in text.lines() {
        let folded = fold_words(line);
        let bare = folded.trim_matches(|c: char| matches!(c, '.' | '!' | '*' | '_'));
        if TAKE.contains(&bare) {
            commands.ownership = Some(Ownership::Take);
        } else if RELEASE.contains(&bare) {
            commands.ownership = Some(Ownership::Release);
        } else if WAITING.contains(&bare) {
            commands.waiting = true;
        } else if let Some(to) = field(line, &["asignar", "assign", "asignar a", "assign to"]) {
            commands.ownership = Some(Ownership::Assign(to));
        } else if let Some(into) = field(line, &["fusionar", "merge", "fusionar con", "merge into"])
            .and_then(|v| case_number(&v))
        {
            commands.merge_into = Some(into);
        } else {
            kept.push(line);
        }
    }
    commands.comment = kept.join("\n").trim().to_string();
    commands
}

/// `#12`, `12`, `Caso #12`.
fn case_number(value: &str) -> Option<CaseNumber> {
    let folded = fold_words(value);
    let digits = folded
        .trim_start_matches("caso")
        .trim_start_matches("case")
        .trim()
        .trim_start_matches('#')
        .trim();
    (!digits.is_empty() && digits.len() <= 18 && digits.chars().all(|c| c.is_ascii_digit()))
        .then(|| digits.parse().ok().map(CaseNumber))
        .flatten()
}

/// The address of an `Asignar:` line: `ana@x`, `<ana@x>` or `Ana <ana@x>`.
pub fn assignee(written: &str) -> Option<EmailAddress> {
    let inner = match (written.rfind('<'), written.rfind('>')) {
        (Some(open), Some(close)) if open < close => &written[open + 1..close],
        _ => written,
    };
    EmailAddress::parse(inner.trim()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ownership_lines_in_both_languages() {
        assert_eq!(parse("Tomar").ownership, Some(Ownership::Take));
        assert_eq!(parse("take.").ownership, Some(Ownership::Take));
        assert_eq!(parse("SOLTAR").ownership, Some(Ownership::Release));
        assert_eq!(parse("Release").ownership, Some(Ownership::Release));
        let c = parse("Lo miro yo.\nAsignar: Luis <luis@example.test>");
        assert_eq!(
            c.ownership,
            Some(Ownership::Assign("Luis <luis@example.test>".into()))
        );
        assert_eq!(c.comment, "Lo miro yo.");
        assert_eq!(
            assignee("Luis <luis@example.test>").unwrap().as_str(),
            "luis@example.test"
        );
        assert_eq!(
            assignee("luis@example.test").unwrap().as_str(),
            "luis@example.test"
        );
        assert!(assignee("Luis").is_none());
    }

    #[test]
    fn waiting_and_merge() {
        let c = parse("¿Puede enviarnos el registro?\nEsperando cliente");
        assert!(c.waiting);
        assert_eq!(c.comment, "¿Puede enviarnos el registro?");
        assert!(parse("Waiting on customer").waiting);
        assert_eq!(parse("Fusionar: #7").merge_into, Some(CaseNumber(7)));
        assert_eq!(parse("Merge: case #7").merge_into, Some(CaseNumber(7)));
        assert_eq!(parse("merge into: 7").merge_into, Some(CaseNumber(7)));
        assert_eq!(parse("Fusionar: el otro").merge_into, None);
    }

    #[test]
    fn sentences_are_not_commands() {
        for text in [
            "Voy a tomar el caso mañana",
            "No lo puedo soltar todavía",
            "Seguimos esperando cliente desde ayer",
            "Take care",
        ] {
            let c = parse(text);
            assert!(!c.any(), "{text:?}");
            assert_eq!(c.comment, text);
        }
    }
}
