//! buzon's own vocabulary: parsed once at the edge, trusted everywhere after.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

mod states;
pub use states::{CaseStatus, Direction, Role};

/// A mailbox address, kept in one canonical form so comparisons and database keys agree:
/// the local part with ASCII letters lowercased and nothing else changed, the domain
/// lowercased. No Unicode case or compatibility folding of the local part: the Kelvin
/// sign (U+212A) lowercases to `k`, so `\u{212A}arla@` would become the customer
/// `karla@` — a different mailbox that the mail server delivers elsewhere.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(input: &str) -> Result<Self, String> {
        let trimmed = input.trim().trim_start_matches('<').trim_end_matches('>');
        let Some((local, domain)) = trimmed.rsplit_once('@') else {
            return Err(format!("'{input}' is not an email address (no @)"));
        };
        // An internationalised domain may take Unicode lowercasing (IDNA maps case too).
        let (local, domain) = (local.to_ascii_lowercase(), domain.to_lowercase());
        let bad = |c: char| c.is_whitespace() || c.is_control() || "<>()[],;:\"\\".contains(c);
        if local.is_empty() || domain.is_empty() || !domain.contains('.') && domain != "localhost" {
            return Err(format!("'{input}' is not an email address"));
        }
        if local.chars().any(bad) || domain.chars().any(bad) || domain.contains('@') {
            return Err(format!("'{input}' is not an email address"));
        }
        Ok(Self(format!("{local}@{domain}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The canonical form of what an admin typed (to look a row up), or the text trimmed
    /// and ASCII-lowercased when it is not an address.
    pub fn canonical(input: &str) -> String {
        Self::parse(input)
            .map(String::from)
            .unwrap_or_else(|_| input.trim().to_ascii_lowercase())
    }

    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map(|(_, d)| d).unwrap_or("")
    }

    pub fn local_part(&self) -> &str {
        self.0.rsplit_once('@').map(|(l, _)| l).unwrap_or("")
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for EmailAddress {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<EmailAddress> for String {
    fn from(value: EmailAddress) -> Self {
        value.0
    }
}

/// An address with the display name the sender gave, for greetings and headers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mailbox {
    pub name: Option<String>,
    pub address: EmailAddress,
}

/// A case's database id: what rows refer to, never shown to anyone (that is [`CaseNumber`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CaseId(pub i64);

/// The number customers see (`Caso #1042`); distinct from any database id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CaseNumber(pub i64);

impl fmt::Display for CaseNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Severity 1 (critical) to 3 (minor), as in the portal buzon follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct Severity(u8);

impl Severity {
    pub const CRITICAL: Severity = Severity(1);
    pub const MAJOR: Severity = Severity(2);
    pub const MINOR: Severity = Severity(3);

    pub fn new(level: i64) -> Option<Self> {
        (1..=3).contains(&level).then_some(Severity(level as u8))
    }

    pub fn level(self) -> i64 {
        i64::from(self.0)
    }
}

impl Default for Severity {
    fn default() -> Self {
        Severity::MINOR
    }
}

impl TryFrom<i64> for Severity {
    type Error = String;
    fn try_from(value: i64) -> Result<Self, Self::Error> {
        Severity::new(value).ok_or_else(|| format!("severity {value} is not 1, 2 or 3"))
    }
}

impl From<Severity> for i64 {
    fn from(value: Severity) -> Self {
        value.level()
    }
}

/// The language of a customer's mail; Spanish first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    Es,
    En,
}

impl Language {
    pub const ALL: [Language; 2] = [Language::Es, Language::En];

    pub fn code(self) -> &'static str {
        match self {
            Language::Es => "es",
            Language::En => "en",
        }
    }
}

impl FromStr for Language {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_lowercase().as_str() {
            "es" | "español" | "espanol" | "spanish" => Ok(Language::Es),
            "en" | "english" | "inglés" | "ingles" => Ok(Language::En),
            other => Err(format!("language '{other}' is not es or en")),
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_lowercased_and_checked() {
        let a = EmailAddress::parse(" <Ana@Example.TEST> ").unwrap();
        assert_eq!(a.as_str(), "ana@example.test");
        assert_eq!(a.domain(), "example.test");
        assert!(EmailAddress::parse("no-at-sign").is_err());
        assert!(EmailAddress::parse("a b@example.test").is_err());
        assert!(EmailAddress::parse("@example.test").is_err());
        assert!(EmailAddress::parse("x@nodot").is_err());
    }

    #[test]
    fn severity_is_one_to_three() {
        assert_eq!(Severity::new(1), Some(Severity::CRITICAL));
        assert_eq!(Severity::new(0), None);
        assert_eq!(Severity::new(4), None);
        assert_eq!(Severity::default().level(), 3);
    }

    #[test]
    fn languages_parse_in_both_tongues() {
        assert_eq!("Español".parse::<Language>(), Ok(Language::Es));
        assert_eq!("EN".parse::<Language>(), Ok(Language::En));
        assert!("fr".parse::<Language>().is_err());
    }
    #[test]
    fn local_parts_fold_ascii_case_only() {
        let kelvin = EmailAddress::parse("\u{212A}arla@Example.TEST").unwrap();
        let karla = EmailAddress::parse("Karla@example.test").unwrap();
        assert_ne!(kelvin, karla, "the Kelvin sign is not K");
        assert_eq!(kelvin.as_str(), "\u{212A}arla@example.test");
        assert_eq!(karla.as_str(), "karla@example.test");
        let fi = EmailAddress::parse("\u{FB01}na@example.test").unwrap();
        assert_eq!(fi.local_part(), "\u{FB01}na", "no compatibility folding");
        let accented = EmailAddress::parse("\u{C9}lodie@example.test").unwrap();
        assert_eq!(
            accented.local_part(),
            "\u{C9}lodie",
            "no Unicode lowercasing"
        );
        let idn = EmailAddress::parse("ana@\u{C9}XAMPLE.test").unwrap();
        assert_eq!(idn.domain(), "\u{E9}xample.test");
    }
}
