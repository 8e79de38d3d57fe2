//! Handlebars templates, one file per kind of mail and language, shaped like the mail they
//! make: a `Subject:` line, a blank line, the body. Defaults are compiled into the binary;
//! strict mode turns a misspelt variable into an error at start, not a blank in a customer's
//! inbox.

use std::path::Path;

use handlebars::Handlebars;
use serde_json::Value;

use crate::domain::Language;

/// Every kind of mail buzon sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MailKind {
    CaseCreated,
    CaseReopenedAsNew,
    CaseClosed,
    CaseUpdated,
    AgentReply,
    AccessDenied,
    AttachmentsRefused,
    CaseList,
    CaseHistory,
    Profile,
    CommandHelp,
    AgentNewCase,
    AgentComment,
    AgentQuarantined,
    AgentHeld,
    CommandConfirm,
    ProfileConfirm,
    AgentCaseList,
    AgentCaseView,
    CaseMerged,
    AgentSlaWarning,
    AgentSlaBreach,
    AgentDigest,
    CaseReminder,
    CaseClosedInactive,
}

impl MailKind {
    pub const ALL: [MailKind; 25] = [
        MailKind::CaseCreated,
        MailKind::CaseReopenedAsNew,
        MailKind::CaseClosed,
        MailKind::CaseUpdated,
        MailKind::AgentReply,
        MailKind::AccessDenied,
        MailKind::AttachmentsRefused,
        MailKind::CaseList,
        MailKind::CaseHistory,
        MailKind::Profile,
        MailKind::CommandHelp,
        MailKind::AgentNewCase,
        MailKind::AgentComment,
        MailKind::AgentQuarantined,
        MailKind::AgentHeld,
        MailKind::CommandConfirm,
        MailKind::ProfileConfirm,
        MailKind::AgentCaseList,
        MailKind::AgentCaseView,
        MailKind::CaseMerged,
        MailKind::AgentSlaWarning,
        MailKind::AgentSlaBreach,
        MailKind::AgentDigest,
        MailKind::CaseReminder,
        MailKind::CaseClosedInactive,
    ];

    pub fn name(self) -> &'static str {
        match self {
            MailKind::CaseCreated => "case_created",
            MailKind::CaseReopenedAsNew => "case_reopened_as_new",
            MailKind::CaseClosed => "case_closed",
            MailKind::CaseUpdated => "case_updated",
            MailKind::AgentReply => "agent_reply",
            MailKind::AccessDenied => "access_denied",
            MailKind::AttachmentsRefused => "attachments_refused",
            MailKind::CaseList => "case_list",
            MailKind::CaseHistory => "case_history",
            MailKind::Profile => "profile",
            MailKind::CommandHelp => "command_help",
            MailKind::AgentNewCase => "agent_new_case",
            MailKind::AgentComment => "agent_comment",
            MailKind::AgentQuarantined => "agent_quarantined",
            MailKind::AgentHeld => "agent_held",
            MailKind::CommandConfirm => "command_confirm",
            MailKind::ProfileConfirm => "profile_confirm",
            MailKind::AgentCaseList => "agent_case_list",
            MailKind::AgentCaseView => "agent_case_view",
            MailKind::CaseMerged => "case_merged",
            MailKind::AgentSlaWarning => "agent_sla_warning",
            MailKind::AgentSlaBreach => "agent_sla_breach",
            MailKind::AgentDigest => "agent_digest",
            MailKind::CaseReminder => "case_reminder",
            MailKind::CaseClosedInactive => "case_closed_inactive",
        }
    }

    /// Answers to a person's mail are `auto-replied`, notifications `auto-generated`; an
    /// agent's reply relayed to the customer is a person's mail and carries nothing.
    pub fn auto_submitted(self) -> Option<&'static str> {
        match self {
            MailKind::CaseCreated
            | MailKind::CaseReopenedAsNew
            | MailKind::AccessDenied
            | MailKind::AttachmentsRefused
            | MailKind::CaseList
            | MailKind::CaseHistory
            | MailKind::Profile
            | MailKind::CommandHelp
            | MailKind::CaseClosed
            | MailKind::CaseUpdated
            | MailKind::CommandConfirm
            | MailKind::ProfileConfirm
            | MailKind::CaseMerged
            | MailKind::AgentCaseList => Some("auto-replied"),
            MailKind::AgentNewCase
            | MailKind::AgentComment
            | MailKind::AgentQuarantined
            | MailKind::AgentHeld
            | MailKind::AgentCaseView
            | MailKind::AgentSlaWarning
            | MailKind::AgentSlaBreach
            | MailKind::AgentDigest
            | MailKind::CaseReminder
            | MailKind::CaseClosedInactive => Some("auto-generated"),
            MailKind::AgentReply => None,
        }
    }

    /// Whom the mail's signed Message-ID says it went to: only an answer to the agents'
    /// own mail proves an agent.
    pub fn audience(self) -> super::msgid::Audience {
        if self.to_customer() {
            super::msgid::Audience::Customers
        } else {
            super::msgid::Audience::Agents
        }
    }

    /// Mail to customers, as opposed to notifications for agents.
    pub fn to_customer(self) -> bool {
        !matches!(
            self,
            MailKind::AgentNewCase
                | MailKind::AgentComment
                | MailKind::AgentQuarantined
                | MailKind::AgentHeld
                | MailKind::AgentCaseList
                | MailKind::AgentCaseView
                | MailKind::AgentSlaWarning
                | MailKind::AgentSlaBreach
                | MailKind::AgentDigest
        )
    }

    fn default_source(self, language: Language) -> &'static str {
        macro_rules! pick {
            ($name:literal) => {
                match language {
                    Language::Es => include_str!(concat!("../../templates/es/", $name, ".hbs")),
                    Language::En => include_str!(concat!("../../templates/en/", $name, ".hbs")),
                }
            };
        }
        match self {
            MailKind::CaseCreated => pick!("case_created"),
            MailKind::CaseReopenedAsNew => pick!("case_reopened_as_new"),
            MailKind::CaseClosed => pick!("case_closed"),
            MailKind::CaseUpdated => pick!("case_updated"),
            MailKind::AgentReply => pick!("agent_reply"),
            MailKind::AccessDenied => pick!("access_denied"),
            MailKind::AttachmentsRefused => pick!("attachments_refused"),
            MailKind::CaseList => pick!("case_list"),
            MailKind::CaseHistory => pick!("case_history"),
            MailKind::Profile => pick!("profile"),
            MailKind::CommandHelp => pick!("command_help"),
            MailKind::AgentNewCase => pick!("agent_new_case"),
            MailKind::AgentComment => pick!("agent_comment"),
            MailKind::AgentQuarantined => pick!("agent_quarantined"),
            MailKind::AgentHeld => pick!("agent_held"),
            MailKind::CommandConfirm => pick!("command_confirm"),
            MailKind::ProfileConfirm => pick!("profile_confirm"),
            MailKind::AgentCaseList => pick!("agent_case_list"),
            MailKind::AgentCaseView => pick!("agent_case_view"),
            MailKind::CaseMerged => pick!("case_merged"),
            MailKind::AgentSlaWarning => pick!("agent_sla_warning"),
            MailKind::AgentSlaBreach => pick!("agent_sla_breach"),
            MailKind::AgentDigest => pick!("agent_digest"),
            MailKind::CaseReminder => pick!("case_reminder"),
            MailKind::CaseClosedInactive => pick!("case_closed_inactive"),
        }
    }
}

/// A rendered subject and body.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
}

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("template {0}: must start with a 'Subject:' line followed by a blank line")]
    Shape(String),
    #[error("template {name}: {source}")]
    Syntax {
        name: String,
        source: Box<handlebars::TemplateError>,
    },
    #[error("template {name}: {source}")]
    Render {
        name: String,
        source: Box<handlebars::RenderError>,
    },
}

pub struct Templates {
    registry: Handlebars<'static>,
}

impl Templates {
    /// The shipped templates, compiled and checked.
    pub fn load() -> Result<Self, TemplateError> {
        Self::load_with(None)
    }

    /// The shipped templates, each replaced by `<dir>/<language>/<kind>.hbs` where the admin
    /// put one; every template is compiled and rendered once with a full sample, so a
    /// misspelt variable stops buzon at start instead of reaching a customer.
    pub fn load_with(overrides: Option<&Path>) -> Result<Self, TemplateError> {
        let mut registry = Handlebars::new();
        registry.set_strict_mode(true);
        registry.register_escape_fn(handlebars::no_escape);
        for language in Language::ALL {
            for kind in MailKind::ALL {
                let custom = overrides.map(|dir| {
                    dir.join(language.code())
                        .join(format!("{}.hbs", kind.name()))
                });
                match custom.filter(|p| p.is_file()) {
                    Some(path) => {
                        let source = std::fs::read_to_string(&path).map_err(|e| {
                            TemplateError::Shape(format!("{}: {e}", path.display()))
                        })?;
                        register(&mut registry, kind, language, &source)?;
                    }
                    None => register(&mut registry, kind, language, kind.default_source(language))?,
                }
            }
        }
        let templates = Templates { registry };
        let sample = crate::compose::sample_context("Asunto de ejemplo");
        for language in Language::ALL {
            for kind in MailKind::ALL {
                templates.render(kind, language, &sample)?;
            }
        }
        Ok(templates)
    }

    pub fn render(
        &self,
        kind: MailKind,
        language: Language,
        data: &Value,
    ) -> Result<Rendered, TemplateError> {
        let render = |part: &str| {
            let name = format!("{}/{}.{part}", language.code(), kind.name());
            self.registry
                .render(&name, data)
                .map_err(|e| TemplateError::Render {
                    name,
                    source: Box::new(e),
                })
        };
        Ok(Rendered {
            subject: crate::text::single_line(&render("subject")?),
            text: tidy(&render("text")?),
        })
    }
}

fn register(
    registry: &mut Handlebars<'static>,
    kind: MailKind,
    language: Language,
    source: &str,
) -> Result<(), TemplateError> {
    let name = format!("{}/{}", language.code(), kind.name());
    let (subject, body) =
        split_template(source).ok_or_else(|| TemplateError::Shape(name.clone()))?;
    for (part, text) in [("subject", subject), ("text", body)] {
        let full = format!("{name}.{part}");
        registry
            .register_template_string(&full, text)
            .map_err(|e| TemplateError::Syntax {
                name: full.clone(),
                source: Box::new(e),
            })?;
    }
    Ok(())
}

fn split_template(source: &str) -> Option<(&str, &str)> {
    let source = source.strip_prefix("Subject:")?;
    let (subject, body) = source.split_once('\n')?;
    let body = body
        .strip_prefix("\r\n")
        .or_else(|| body.strip_prefix('\n'))?;
    Some((subject.trim(), body))
}

/// Templates leave blank lines where a block was skipped; keep at most one in a row.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank_run = 0;
    for line in text.lines() {
        let line = line.trim_end();
        blank_run = if line.is_empty() { blank_run + 1 } else { 0 };
        if blank_run <= 1 {
            out.push_str(line);
            out.push('\n');
        }
    }
    out.trim().to_string() + "\n"
}

#[cfg(test)]
#[path = "templates_tests.rs"]
mod tests;
