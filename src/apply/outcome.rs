//! What a received mail came to. A handler returns one; `process` records its name as the
//! mail's outcome (`buzon failed`, `buzon import`'s summary, the logs) once for every handler.

use crate::classify::IgnoreReason;
use crate::domain::CaseNumber;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    CaseCreated(CaseNumber),
    /// A customer's comment on an open case.
    Comment(CaseNumber),
    /// An agent's answer, relayed to the customers.
    AgentReply(CaseNumber),
    /// An agent's note the customers never see.
    InternalNote(CaseNumber),
    /// Thanks on a closed case: kept in its history, nothing reopened.
    LoggedOnClosedCase(CaseNumber),
    /// A delivery status notification, on the case of the mail it returns when known.
    Bounce(Option<CaseNumber>),
    /// A stranger was told the desk serves provisioned customers only.
    AccessDenied,
    /// A stranger not answered: `limits.refusals_per_hour` was reached.
    AccessDeniedQuiet,
    /// A request (`mis casos`, `buscar …`, `perfil …`) answered.
    Request(RequestAnswer),
    /// Automatic mail, our own mail, reports: logged, never answered.
    Ignored(IgnoreReason),
    /// Another copy of the same mail already made its effect.
    Duplicate,
    /// Held for an operator (`buzon held`); nothing else done.
    Quarantined,
}

/// Which request a mail made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestAnswer {
    CaseList,
    Search,
    History,
    Help,
    Profile,
    ProfileUnconfirmed,
    ProfileConfirmed,
    /// An agent's `casos abiertos`, `sin asignar` or `mis casos`.
    AgentList,
    /// An agent's `caso #N`.
    AgentCase,
}

impl RequestAnswer {
    fn name(self) -> &'static str {
        match self {
            RequestAnswer::CaseList => "request_case_list",
            RequestAnswer::Search => "request_search",
            RequestAnswer::History => "request_history",
            RequestAnswer::Help => "request_help",
            RequestAnswer::Profile => "request_profile",
            RequestAnswer::ProfileUnconfirmed => "request_profile_unconfirmed",
            RequestAnswer::ProfileConfirmed => "request_profile_confirmed",
            RequestAnswer::AgentList => "request_agent_list",
            RequestAnswer::AgentCase => "request_agent_case",
        }
    }
}

impl Outcome {
    /// The outcome as stored with the mail and printed.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::CaseCreated(_) => "case_created",
            Outcome::Comment(_) => "comment",
            Outcome::AgentReply(_) => "agent_reply",
            Outcome::InternalNote(_) => "internal_note",
            Outcome::LoggedOnClosedCase(_) => "logged_on_closed_case",
            Outcome::Bounce(_) => "bounce",
            Outcome::AccessDenied => "access_denied",
            Outcome::AccessDeniedQuiet => "access_denied_quiet",
            Outcome::Request(answer) => answer.name(),
            Outcome::Ignored(reason) => reason.as_str(),
            Outcome::Duplicate => "duplicate",
            Outcome::Quarantined => "quarantined",
        }
    }

    /// The case the mail touched, if any.
    pub fn case(self) -> Option<CaseNumber> {
        match self {
            Outcome::CaseCreated(n)
            | Outcome::Comment(n)
            | Outcome::AgentReply(n)
            | Outcome::InternalNote(n)
            | Outcome::LoggedOnClosedCase(n) => Some(n),
            Outcome::Bounce(n) => n,
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_has_its_own_name() {
        let n = CaseNumber(7);
        let all = [
            Outcome::CaseCreated(n),
            Outcome::Comment(n),
            Outcome::AgentReply(n),
            Outcome::InternalNote(n),
            Outcome::LoggedOnClosedCase(n),
            Outcome::Bounce(None),
            Outcome::AccessDenied,
            Outcome::AccessDeniedQuiet,
            Outcome::Request(RequestAnswer::CaseList),
            Outcome::Request(RequestAnswer::ProfileConfirmed),
            Outcome::Ignored(IgnoreReason::ALL[0]),
            Outcome::Duplicate,
            Outcome::Quarantined,
        ];
        let names: std::collections::HashSet<_> = all.iter().map(|o| o.name()).collect();
        assert_eq!(names.len(), all.len());
        assert_eq!(Outcome::Comment(n).case(), Some(n));
        assert_eq!(Outcome::Duplicate.case(), None);
    }
}
