//! Turning an event into the exact bytes of a mail: template context, rendering, headers.
//! Pure given the clock and the nonce; the apply stage stores what comes out in the outbox.

mod html;
mod kind_labels;
pub mod mime;
pub mod msgid;
mod sample;
pub mod templates;

pub use sample::sample_context;

#[cfg(test)]
mod agent_html_tests;
#[cfg(test)]
mod agent_wording_tests;
#[cfg(test)]
pub(crate) mod html_render_tests;

use serde::Serialize;
use serde_json::{json, Value};

use crate::config::{MailboxConfig, SupportConfig};
use crate::domain::{CaseNumber, EmailAddress, Language, Mailbox, Severity};
pub use templates::{MailKind, TemplateError, Templates};

/// A mail ready for the outbox: what SMTP needs, and the bytes stored in the history.
#[derive(Debug, Clone)]
pub struct OutgoingMail {
    pub kind: MailKind,
    pub message_id: String,
    pub envelope_from: EmailAddress,
    pub recipients: Vec<EmailAddress>,
    pub subject: String,
    /// The rendered body, kept in the history so quoted copies can be recognised later.
    pub text: String,
    pub raw: Vec<u8>,
}

/// What the mail answers, so the recipient's client threads it under their own mail.
#[derive(Debug, Clone, Default)]
pub struct Threading {
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
}

impl Threading {
    /// In answer to a mail with this id and these references.
    pub fn answering(message_id: Option<&str>, references: &[String]) -> Self {
        let mut refs: Vec<String> = references.to_vec();
        if let Some(id) = message_id {
            refs.retain(|r| r != id);
            refs.push(id.to_string());
        }
        // Keep the first and the latest ids, as RFC 5322 suggests when trimming.
        if refs.len() > 20 {
            let tail = refs.split_off(refs.len() - 19);
            refs.truncate(1);
            refs.extend(tail);
        }
        Threading {
            in_reply_to: message_id.map(str::to_string),
            references: refs,
        }
    }
}

/// The case as the templates see it.
#[derive(Debug, Clone, Serialize)]
pub struct CaseFacts {
    pub number: i64,
    pub subject: String,
    pub description: String,
    pub product: Option<String>,
    pub severity: i64,
    pub production_down: bool,
    pub status: crate::domain::CaseStatus,
    pub participants: Vec<String>,
    pub attachments: Vec<AttachmentFacts>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AttachmentFacts {
    pub filename: String,
    pub size: u64,
}

pub fn severity_label(severity: Severity, language: Language) -> &'static str {
    match (severity.level(), language) {
        (1, Language::Es) => "crítica",
        (2, Language::Es) => "mayor",
        (_, Language::Es) => "menor",
        (1, Language::En) => "critical",
        (2, Language::En) => "major",
        (_, Language::En) => "minor",
    }
}

/// "abierto" / "closed": a case's status in the mail's language.
pub fn status_label(status: crate::domain::CaseStatus, language: Language) -> &'static str {
    use crate::domain::CaseStatus::{Closed, Open};
    match (status, language) {
        (Closed, Language::Es) => "cerrado",
        (Open, Language::Es) => "abierto",
        (Closed, Language::En) => "closed",
        (Open, Language::En) => "open",
    }
}

/// "2 (mayor)": a severity level with its word, as people read it.
pub fn severity_text(level: i64, language: Language) -> String {
    let severity = Severity::new(level).unwrap_or_default();
    format!("{level} ({})", severity_label(severity, language))
}

pub fn person(m: &Mailbox) -> Value {
    json!({
        "name": m.name.clone(),
        "email": m.address.as_str(),
    })
}

/// The context every case mail shares; callers add what their kind needs.
/// `mailbox` is the case's: its name, address and products are the ones the mail shows.
pub fn case_context(case: &CaseFacts, language: Language, mailbox: &MailboxConfig) -> Value {
    let severity = Severity::new(case.severity).unwrap_or_default();
    let mut case_value = serde_json::to_value(case).expect("case facts serialize");
    case_value["severity_label"] = json!(severity_label(severity, language));
    case_value["status_label"] = json!(status_label(case.status, language));
    json!({
        "support": { "name": mailbox.display_name, "address": mailbox.address.as_str() },
        "case": case_value,
        "products": mailbox.products,
        "product_unknown": Value::Null,
    })
}

pub struct Composer {
    templates: Templates,
    support: Mailbox,
    secret: crate::config::Secret,
}

/// One mail to compose.
pub struct Request<'a> {
    pub kind: MailKind,
    pub language: Language,
    pub data: &'a Value,
    pub to: &'a [Mailbox],
    pub case: Option<CaseNumber>,
    pub threading: &'a Threading,
    pub urgent: bool,
    pub attachments: &'a [mime::Part],
    /// Sanitised HTML shown in place of the data's `comment` in the HTML part.
    pub html_comment: Option<&'a str>,
}

impl Composer {
    pub fn new(templates: Templates, support: &SupportConfig) -> Self {
        Composer {
            templates,
            support: Mailbox {
                name: Some(support.name.clone()),
                address: support.address.clone(),
            },
            secret: support.secret.clone(),
        }
    }

    pub fn support_address(&self) -> &EmailAddress {
        &self.support.address
    }

    /// A mail from the desk's first address ([`Composer::compose_from`] for a mailbox's).
    pub fn compose(
        &self,
        request: Request<'_>,
        now_unix: i64,
    ) -> Result<OutgoingMail, TemplateError> {
        self.compose_from(&self.support, request, now_unix)
    }

    /// A mail from `from`: the address of the mailbox the case belongs to, which also names
    /// the domain of its Message-ID (signed with the one desk secret, so a reply to it
    /// threads whichever of the desk's addresses it reaches).
    pub fn compose_from(
        &self,
        from: &Mailbox,
        request: Request<'_>,
        now_unix: i64,
    ) -> Result<OutgoingMail, TemplateError> {
        let rendered = self
            .templates
            .render(request.kind, request.language, request.data)?;
        let domain = from.address.domain();
        let (secret, audience) = (self.secret.expose(), request.kind.audience());
        let message_id = msgid::new_message_id(secret, request.case, domain, audience);
        let to = request
            .to
            .iter()
            .map(mime::mailbox)
            .collect::<Vec<_>>()
            .join(", ");
        let mut headers: Vec<mime::Header> = vec![
            ("Date", mime::rfc5322_date(now_unix)),
            ("From", mime::mailbox(from)),
            ("To", to),
            ("Subject", mime::unstructured(&rendered.subject)),
            ("Message-ID", format!("<{message_id}>")),
        ];
        if let Some(parent) = &request.threading.in_reply_to {
            headers.push(("In-Reply-To", format!("<{}>", clean(parent))));
        }
        if !request.threading.references.is_empty() {
            let refs: Vec<String> = request
                .threading
                .references
                .iter()
                .map(|r| format!("<{}>", clean(r)))
                .collect();
            headers.push(("References", refs.join("\r\n ")));
        }
        if let Some(auto) = request.kind.auto_submitted() {
            headers.push(("Auto-Submitted", auto.to_string()));
            headers.push(("X-Auto-Response-Suppress", "All".to_string()));
        }
        if request.urgent {
            headers.push(("Importance", "high".to_string()));
            headers.push(("X-Priority", "1 (Highest)".to_string()));
        }
        if let Some(case) = request.case {
            headers.push(("X-Buzon-Case", case.to_string()));
        }
        let html = match request.html_comment {
            Some(fragment) => self.html_with(&request, fragment)?,
            None => html::html_of(&rendered.text),
        };
        let raw =
            mime::write_message_with_html(&headers, &rendered.text, &html, request.attachments);
        Ok(OutgoingMail {
            kind: request.kind,
            message_id,
            envelope_from: from.address.clone(),
            recipients: request.to.iter().map(|m| m.address.clone()).collect(),
            subject: rendered.subject,
            text: rendered.text,
            raw,
        })
    }
}

impl Composer {
    /// The template's HTML with `fragment` where the comment goes: the template is rendered
    /// with a marker for the comment, and the marker's paragraph becomes the fragment.
    fn html_with(&self, request: &Request<'_>, fragment: &str) -> Result<String, TemplateError> {
        let mut data = request.data.clone();
        data["comment"] = serde_json::json!(COMMENT_MARKER);
        let marked = self
            .templates
            .render(request.kind, request.language, &data)?;
        let html = html::html_of(&marked.text);
        let paragraph = format!("<p>{COMMENT_MARKER}</p>");
        let target = if html.contains(&paragraph) {
            paragraph.as_str()
        } else {
            COMMENT_MARKER
        };
        Ok(html.replacen(target, &format!("<div>{fragment}</div>"), 1))
    }
}

/// Stands for the comment while the template is rendered for the HTML part: letters only,
/// so escaping leaves it as it is.
const COMMENT_MARKER: &str = "BUZONCOMMENTMARKERq7v3x9";

/// A Message-ID from a mail, made safe to put back in a header.
fn clean(id: &str) -> String {
    id.chars()
        .filter(|c| c.is_ascii_graphic() && !matches!(c, '<' | '>'))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "5e884898da28047151d0e56f";

    fn composer() -> Composer {
        // The example's placeholder secret is refused: a real one, as an admin sets it.
        let secret = [(
            "BUZON_SUPPORT__SECRET".into(),
            "5e884898da28047151d0e56f".into(),
        )];
        let example = include_str!("../../config/buzon.example.toml");
        let config = crate::config::from_toml(example, &secret).unwrap();
        Composer::new(Templates::load().unwrap(), &config.support)
    }

    #[test]
    fn acknowledgement_threads_under_the_customer_mail() {
        let c = composer();
        let data = sample_context("Producción caída");
        let to = [Mailbox {
            name: Some("Ana".into()),
            address: EmailAddress::parse("ana@cliente.test").unwrap(),
        }];
        let threading =
            Threading::answering(Some("orig@cliente.test"), &["older@cliente.test".into()]);
        let mail = c
            .compose(
                Request {
                    kind: MailKind::CaseCreated,
                    language: Language::Es,
                    data: &data,
                    to: &to,
                    case: Some(CaseNumber(1042)),
                    threading: &threading,
                    urgent: false,
                    attachments: &[],
                    html_comment: None,
                },
                1_795_867_200,
            )
            .unwrap();
        let parsed = crate::parse::parse(&mail.raw).unwrap();
        assert_eq!(parsed.subject, "[Caso #1042] Producción caída");
        assert_eq!(parsed.in_reply_to, vec!["orig@cliente.test"]);
        assert_eq!(
            parsed.references,
            vec!["older@cliente.test", "orig@cliente.test"]
        );
        assert_eq!(
            parsed.signals.auto_submitted.as_deref(),
            Some("auto-replied")
        );
        assert!(parsed.signals.auto_response_suppress);
        assert!(parsed.text.contains("Caso #1042"));
        assert_eq!(
            msgid::verify(&mail.message_id, &[SECRET]),
            Some(CaseNumber(1042))
        );
    }

    #[test]
    fn every_template_renders_the_sample_in_both_languages() {
        let t = Templates::load().unwrap();
        for language in Language::ALL {
            for kind in MailKind::ALL {
                let r = t.render(kind, language, &sample_context("Asunto")).unwrap();
                assert!(
                    !r.subject.is_empty() && !r.text.is_empty(),
                    "{kind:?} {language:?}"
                );
            }
        }
    }
}
