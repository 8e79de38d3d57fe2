//! What a kind of mail is, in words people read: the agents' `agent_held` says which mail was
//! held in the support language, not by its template name ("case_list" in Spanish text).

use super::MailKind;
use crate::domain::Language;

impl MailKind {
    /// The kind of mail in `language`, lower case, to sit inside a sentence.
    pub fn label(self, language: Language) -> &'static str {
        let (es, en) = match self {
            MailKind::CaseCreated => ("acuse de un caso nuevo", "acknowledgement of a new case"),
            MailKind::CaseReopenedAsNew => (
                "aviso de caso nuevo tras uno cerrado",
                "new case after a closed one",
            ),
            MailKind::CaseClosed => ("aviso de cierre", "case closed notice"),
            MailKind::CaseUpdated => ("aviso de cambios en el caso", "case update"),
            MailKind::AgentReply => ("respuesta de un agente", "agent's answer"),
            MailKind::AccessDenied => ("respuesta de acceso denegado", "access denied answer"),
            MailKind::AttachmentsRefused => (
                "aviso de adjuntos no incorporados",
                "attachments not added notice",
            ),
            MailKind::CaseList => ("lista de casos", "case list"),
            MailKind::CaseHistory => ("historial de un caso", "case history"),
            MailKind::Profile => ("perfil", "profile"),
            MailKind::CommandHelp => ("ayuda de órdenes", "command help"),
            MailKind::AgentNewCase => ("aviso de caso nuevo", "new case notice"),
            MailKind::AgentComment => ("aviso de comentario", "comment notice"),
            MailKind::AgentQuarantined => ("aviso de correo retenido", "quarantine notice"),
            MailKind::AgentHeld => ("aviso de correo retenido", "held mail notice"),
            MailKind::CommandConfirm => ("confirmación de órdenes", "command confirmation"),
            MailKind::ProfileConfirm => ("confirmación de perfil", "profile confirmation"),
            MailKind::AgentCaseList => ("lista de casos de los agentes", "agents' case list"),
            MailKind::AgentCaseView => ("ficha de un caso", "case view"),
            MailKind::CaseMerged => ("aviso de casos unidos", "case merged notice"),
            MailKind::AgentSlaWarning => ("aviso de SLA en riesgo", "SLA warning"),
            MailKind::AgentSlaBreach => ("aviso de SLA incumplido", "SLA breach"),
            MailKind::AgentDigest => ("resumen de la mañana", "morning digest"),
            MailKind::CaseReminder => ("recordatorio al cliente", "reminder to the customer"),
            MailKind::CaseClosedInactive => (
                "aviso de cierre por inactividad",
                "closed for inactivity notice",
            ),
        };
        match language {
            Language::Es => es,
            Language::En => en,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_words_of_its_own_in_each_language() {
        for kind in MailKind::ALL {
            for language in Language::ALL {
                let label = kind.label(language);
                assert!(!label.is_empty() && !label.contains('_'), "{kind:?}");
            }
            assert_ne!(
                kind.label(Language::Es),
                kind.label(Language::En),
                "{kind:?}"
            );
        }
    }
}
