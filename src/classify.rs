//! What kind of mail is this, and what does it ask for? Pure: a parsed mail and facts the
//! store looked up go in, a [`Route`] comes out. No I/O, so every rule has a unit test.

use std::collections::HashSet;

use regex::Regex;
use std::sync::LazyLock;

use crate::domain::{CaseNumber, EmailAddress, Mailbox, Severity};
use crate::parse::{AutoSignals, InboundMessage};
use crate::text::{fold, fold_words};

/// Facts about the people on a mail, looked up before classifying.
#[derive(Debug, Clone)]
pub struct Facts {
    /// The desk's own addresses, every mailbox's: mail from them is buzon's own, and they
    /// are never participants.
    pub support_addresses: Vec<EmailAddress>,
    /// Addresses (of From, To and Cc) that are registered customers or in a registered
    /// organisation's domain.
    pub provisioned: HashSet<EmailAddress>,
    pub agents: HashSet<EmailAddress>,
    /// Products as configured, for matching `Producto:` lines.
    pub products: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Route {
    /// Logged, never answered.
    Ignore(IgnoreReason),
    /// A stranger: the `access_denied` reply, no case.
    AccessDenied {
        sender: Mailbox,
    },
    NewCase(NewCase),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IgnoreReason {
    NoSender,
    OwnMail,
    Automatic,
    DeliveryReport,
}

impl IgnoreReason {
    pub const ALL: [IgnoreReason; 4] = [
        IgnoreReason::NoSender,
        IgnoreReason::OwnMail,
        IgnoreReason::Automatic,
        IgnoreReason::DeliveryReport,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IgnoreReason::NoSender => "ignored_no_sender",
            IgnoreReason::OwnMail => "ignored_own_mail",
            IgnoreReason::Automatic => "ignored_automatic",
            IgnoreReason::DeliveryReport => "ignored_delivery_report",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewCase {
    pub requester: Mailbox,
    pub subject: String,
    pub description: String,
    pub product: ProductChoice,
    pub severity: Severity,
    pub production_down: bool,
    /// Provisioned To/Cc addresses besides the requester and the support address.
    pub participants: Vec<EmailAddress>,
    /// An existing case the subject's tag names although the mail may not go on it (a
    /// forwarded answer replied to from outside the case): the agents are told which.
    pub mentions: Option<CaseNumber>,
}

/// The product as the customer named it.
#[derive(Debug, Clone, PartialEq)]
pub enum ProductChoice {
    /// A configured product (its configured spelling).
    Known(String),
    /// The customer named something that is not a configured product.
    Unknown(String),
    NotGiven,
}

pub fn classify(message: &InboundMessage, facts: &Facts) -> Route {
    let Some(sender) = message.from.clone() else {
        return Route::Ignore(IgnoreReason::NoSender);
    };
    if facts.support_addresses.contains(&sender.address) {
        return Route::Ignore(IgnoreReason::OwnMail);
    }
    if message.signals.delivery_report {
        return Route::Ignore(IgnoreReason::DeliveryReport);
    }
    if is_automatic(&message.signals, &sender.address) {
        return Route::Ignore(IgnoreReason::Automatic);
    }
    let allowed =
        facts.provisioned.contains(&sender.address) || facts.agents.contains(&sender.address);
    if !allowed {
        return Route::AccessDenied { sender };
    }
    Route::NewCase(new_case(message, sender, facts))
}

/// RFC 3834 and the de-facto headers of auto-responders, list servers and bounce senders.
pub fn is_automatic(signals: &AutoSignals, sender: &EmailAddress) -> bool {
    let auto_submitted = signals.auto_submitted.as_deref().is_some_and(|v| {
        !v.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .eq_ignore_ascii_case("no")
    });
    let precedence = signals
        .precedence
        .as_deref()
        .is_some_and(|p| matches!(p, "bulk" | "junk" | "list" | "auto_reply"));
    auto_submitted
        || precedence
        || signals.list_id
        || signals.list_unsubscribe
        || signals.auto_response_suppress
        || signals.x_autoreply
        || signals.return_path_empty
        || is_robot_address(sender)
}

fn is_robot_address(address: &EmailAddress) -> bool {
    let local = address.local_part().replace(['-', '_', '.'], "");
    matches!(
        local.as_str(),
        "mailerdaemon" | "postmaster" | "noreply" | "donotreply" | "nobody" | "bounce" | "bounces"
    ) || local.starts_with("noreply")
        || local.starts_with("bounce")
        || local.starts_with("mailerdaemon")
}

fn new_case(message: &InboundMessage, requester: Mailbox, facts: &Facts) -> NewCase {
    let subject = crate::text::single_line(&message.subject);
    let subject = if subject.is_empty() {
        first_line(&message.text).unwrap_or_else(|| "(sin asunto)".to_string())
    } else {
        subject
    };
    let production_down = is_production_down(&subject);
    let severity = if production_down {
        Severity::CRITICAL
    } else {
        severity_line(&message.text).unwrap_or_default()
    };
    NewCase {
        product: product_line(&message.text, &facts.products),
        participants: participants(message, &requester.address, facts),
        requester,
        subject,
        description: message.text.clone(),
        severity,
        production_down,
        mentions: None,
    }
}

fn first_line(text: &str) -> Option<String> {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(|l| l.chars().take(80).collect())
}

fn participants(
    message: &InboundMessage,
    requester: &EmailAddress,
    facts: &Facts,
) -> Vec<EmailAddress> {
    let mut seen = HashSet::new();
    message
        .to
        .iter()
        .chain(&message.cc)
        .map(|m| m.address.clone())
        .filter(|a| {
            a != requester && !facts.support_addresses.contains(a) && facts.provisioned.contains(a)
        })
        .filter(|a| seen.insert(a.clone()))
        .collect()
}

/// "Producción Caída" / "Production Down", any case, accents or not, anywhere in the subject.
pub fn is_production_down(subject: &str) -> bool {
    let folded = fold_words(subject);
    folded.contains("produccion caida") || folded.contains("production down")
}

static FIELD_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*\*?\s*(severidad|severity|producto|product)\s*\*?\s*[:=]\s*(.+?)\s*$").unwrap()
});

/// The value of the first `Name: value` line whose folded name is one of `names`.
fn field_value(text: &str, names: &[&str]) -> Option<String> {
    text.lines().find_map(|line| {
        let folded = fold(line);
        let caps = FIELD_LINE.captures(&folded)?;
        let value = caps.get(2)?.as_str();
        names
            .contains(&caps.get(1)?.as_str())
            .then(|| original_value(line, value))
    })
}

/// The value in its original spelling: folding keeps the character count of the value only
/// for plain text, so take the part of the original line after the first separator.
fn original_value(line: &str, folded_value: &str) -> String {
    line.split_once([':', '='])
        .map(|(_, v)| v.trim().trim_matches('*').trim().to_string())
        .unwrap_or_else(|| folded_value.to_string())
}

pub fn severity_line(text: &str) -> Option<Severity> {
    parse_severity(&field_value(text, &["severidad", "severity"])?)
}

/// `1`-`3`, or the words of the portal in either language.
pub fn parse_severity(value: &str) -> Option<Severity> {
    let folded = fold_words(value);
    let word = folded.split([' ', '(', '-', '.']).next().unwrap_or("");
    match word {
        "1" | "critica" | "critico" | "critical" => Some(Severity::CRITICAL),
        "2" | "mayor" | "major" => Some(Severity::MAJOR),
        "3" | "menor" | "minor" => Some(Severity::MINOR),
        _ => None,
    }
}

pub fn product_line(text: &str, products: &[String]) -> ProductChoice {
    match field_value(text, &["producto", "product"]) {
        Some(named) => match match_product(&named, products) {
            Some(known) => ProductChoice::Known(known),
            None => ProductChoice::Unknown(named),
        },
        None => ProductChoice::NotGiven,
    }
}

/// The configured product whose name equals `named`, ignoring case, accents and spacing.
pub fn match_product(named: &str, products: &[String]) -> Option<String> {
    let wanted = fold_words(named);
    products.iter().find(|p| fold_words(p) == wanted).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> EmailAddress {
        EmailAddress::parse(s).unwrap()
    }

    fn mailbox(s: &str) -> Mailbox {
        Mailbox {
            name: None,
            address: addr(s),
        }
    }

    fn facts() -> Facts {
        Facts {
            support_addresses: vec![addr("soporte@example.test")],
            provisioned: ["ana@cliente.test", "luis@cliente.test"]
                .into_iter()
                .map(addr)
                .collect(),
            agents: [addr("agente@example.test")].into_iter().collect(),
            products: vec![
                "Harmony".into(),
                "Integration Studio".into(),
                "API Manager".into(),
            ],
        }
    }

    fn mail(from: &str, subject: &str, text: &str) -> InboundMessage {
        InboundMessage {
            from: Some(mailbox(from)),
            subject: subject.into(),
            text: text.into(),
            ..Default::default()
        }
    }

    fn new_case_of(m: &InboundMessage) -> NewCase {
        match classify(m, &facts()) {
            Route::NewCase(c) => c,
            other => panic!("expected a new case, got {other:?}"),
        }
    }

    #[test]
    fn a_customer_mail_opens_a_case_with_its_fields() {
        let c = new_case_of(&mail(
            "ana@cliente.test",
            "No sincroniza",
            "Hola\nProducto: integration  studio\nSeveridad: 2\nDetalle",
        ));
        assert_eq!(c.subject, "No sincroniza");
        assert_eq!(c.product, ProductChoice::Known("Integration Studio".into()));
        assert_eq!(c.severity, Severity::MAJOR);
        assert!(!c.production_down);
        assert!(c.description.contains("Detalle"));
    }

    #[test]
    fn severity_words_in_both_languages() {
        assert_eq!(
            severity_line("Severity: critical"),
            Some(Severity::CRITICAL)
        );
        assert_eq!(
            severity_line("severidad: Crítica"),
            Some(Severity::CRITICAL)
        );
        assert_eq!(severity_line("SEVERIDAD = mayor"), Some(Severity::MAJOR));
        assert_eq!(severity_line("Severity: 3 (minor)"), Some(Severity::MINOR));
        assert_eq!(severity_line("Severidad: 7"), None);
        assert_eq!(severity_line("la severidad: no sé"), None);
        assert_eq!(
            new_case_of(&mail("ana@cliente.test", "x", "sin campos")).severity,
            Severity::MINOR
        );
    }

    #[test]
    fn unknown_product_is_kept_as_named() {
        let c = new_case_of(&mail("ana@cliente.test", "x", "Product: Widget Pro"));
        assert_eq!(c.product, ProductChoice::Unknown("Widget Pro".into()));
        let c = new_case_of(&mail("ana@cliente.test", "x", "Producto: ÁPI manager"));
        assert_eq!(c.product, ProductChoice::Known("API Manager".into()));
    }

    #[test]
    fn production_down_in_any_spelling() {
        for subject in [
            "Producción Caída: todo parado",
            "URGENTE produccion caida",
            "PRODUCCIÓN  CAÍDA",
            "Production Down in EU",
        ] {
            let c = new_case_of(&mail("ana@cliente.test", subject, "Severidad: 3"));
            assert!(c.production_down, "{subject}");
            assert_eq!(c.severity, Severity::CRITICAL, "{subject}");
        }
        assert!(!is_production_down("Producción lenta, no caída"));
    }

    #[test]
    fn strangers_are_denied_and_agents_allowed() {
        let m = mail("extraño@otro.test", "Hola", "");
        assert!(matches!(classify(&m, &facts()), Route::AccessDenied { .. }));
        let m = mail("agente@example.test", "Caso interno", "");
        assert!(matches!(classify(&m, &facts()), Route::NewCase(_)));
    }

    #[test]
    fn provisioned_to_and_cc_become_participants() {
        let mut m = mail("ana@cliente.test", "x", "");
        m.to = vec![
            mailbox("soporte@example.test"),
            mailbox("luis@cliente.test"),
        ];
        m.cc = vec![
            mailbox("extraño@otro.test"),
            mailbox("LUIS@cliente.test"),
            mailbox("ana@cliente.test"),
        ];
        assert_eq!(
            new_case_of(&m).participants,
            vec![addr("luis@cliente.test")]
        );
    }

    #[test]
    fn machines_and_ourselves_get_no_answer() {
        let mut m = mail("ana@cliente.test", "Fuera de la oficina", "");
        m.signals.auto_submitted = Some("auto-replied".into());
        assert_eq!(
            classify(&m, &facts()),
            Route::Ignore(IgnoreReason::Automatic)
        );
        m.signals.auto_submitted = Some("no".into());
        assert!(matches!(classify(&m, &facts()), Route::NewCase(_)));

        let m = mail("MAILER-DAEMON@cliente.test", "Undelivered", "");
        assert_eq!(
            classify(&m, &facts()),
            Route::Ignore(IgnoreReason::Automatic)
        );
        let m = mail("no-reply@cliente.test", "Aviso", "");
        assert_eq!(
            classify(&m, &facts()),
            Route::Ignore(IgnoreReason::Automatic)
        );
        let m = mail("soporte@example.test", "eco", "");
        assert_eq!(classify(&m, &facts()), Route::Ignore(IgnoreReason::OwnMail));

        let mut m = mail("ana@cliente.test", "x", "");
        m.signals.precedence = Some("bulk".into());
        assert_eq!(
            classify(&m, &facts()),
            Route::Ignore(IgnoreReason::Automatic)
        );
        let mut m = mail("ana@cliente.test", "x", "");
        m.signals.delivery_report = true;
        assert_eq!(
            classify(&m, &facts()),
            Route::Ignore(IgnoreReason::DeliveryReport)
        );
        let mut m = mail("ana@cliente.test", "x", "");
        m.from = None;
        assert_eq!(
            classify(&m, &facts()),
            Route::Ignore(IgnoreReason::NoSender)
        );
    }

    #[test]
    fn empty_subject_takes_the_first_line() {
        let c = new_case_of(&mail(
            "ana@cliente.test",
            "  ",
            "\n\nEl servidor no arranca\nmás",
        ));
        assert_eq!(c.subject, "El servidor no arranca");
    }
}
