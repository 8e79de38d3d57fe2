//! The case card agents read (`agent_case_view`): for `caso #N` with the case's history and
//! files and those of the cases merged into it, and after an agent's command with what
//! happened. In the support language, like every agents' mail.

use serde_json::{json, Value};

use super::super::outgoing::facts_of;
use super::super::{ApplyError, Processor};
use crate::apply::Batch;
use crate::compose::MailKind;
use crate::domain::Language;
use crate::sla::{SlaClock, SlaState};
use crate::store::CaseRow;
use crate::text::format_time;

/// History entries and files one case view shows.
const ACTIVITY_CAP: usize = 30;
const FILES_CAP: i64 = 100;

/// What a case card says besides the case: what just happened, what could not be done,
/// and whether the history and files follow.
pub(in crate::apply) struct CardNote {
    pub events: Vec<String>,
    pub error: Option<String>,
    pub history: bool,
}

impl Processor {
    /// The `agent_case_view` context of `case`: its card, what `note` adds, and (when asked)
    /// its history and files together with those of the cases merged into it.
    pub(in crate::apply) async fn case_card(
        &self,
        tx: &mut Batch,
        case: &CaseRow,
        note: CardNote,
    ) -> Result<Value, ApplyError> {
        let language = self.mailbox_of(tx).language;
        let zone = &self.config.support.timezone;
        let participants: Vec<String> = tx.case_addresses_of_people(case.id).await?;
        let mut data = self.case_data(tx, &facts_of(case, &participants, vec![]), language);
        data["requester"] = json!({ "name": case.requester_name, "email": case.requester });
        // The subject names what happened, without each sentence's full stop.
        let headline: Vec<&str> = note
            .events
            .iter()
            .map(|e| e.trim_end_matches('.'))
            .collect();
        data["headline"] = json!((!headline.is_empty()).then(|| headline.join("; ")));
        data["events"] = json!(note.events);
        data["error"] = json!(note.error);
        let merged = tx.merged_cases(case.id).await?;
        let merged_into = match case.merged_into {
            Some(id) => tx.case_by_id(id).await?.map(|c| c.number),
            None => None,
        };
        let now = tx.now();
        data["desk"] = json!({
            "owner": self.owner_shown(tx, case.owner.as_deref()).await?,
            "age": ago(now - case.created_at),
            "customer_wrote": ago(now - case.customer_wrote_at.unwrap_or(case.created_at)),
            "sla": sla_state(case, now, language),
            "waiting_since": case.waiting_since.map(|t| format_time(t, zone)),
            "merged_into": merged_into,
            "merged": merged.iter().map(|c| c.number).collect::<Vec<_>>(),
        });
        let (activity, total) = match note.history {
            true => self.activity(tx, case, &merged, language).await?,
            false => (vec![], 0),
        };
        data["activity_more"] = json!(total > activity.len());
        data["activity_shown"] = json!(activity.len());
        data["activity_total"] = json!(total);
        data["activity"] = json!(activity);
        data["files"] = match note.history {
            true => json!(self.files(tx, case, &merged).await?),
            false => json!([]),
        };
        Ok(data)
    }

    /// The latest history entries of the case and of those merged into it, oldest first,
    /// and how many there are in all.
    async fn activity(
        &self,
        tx: &mut Batch,
        case: &CaseRow,
        merged: &[CaseRow],
        language: Language,
    ) -> Result<(Vec<Value>, usize), ApplyError> {
        let zone = &self.config.support.timezone;
        let mut entries = Vec::new();
        for c in merged.iter().chain(std::iter::once(case)) {
            for e in tx.case_emails(c.id).await? {
                entries.push((e.created_at, e.id, c.number, e));
            }
        }
        entries.sort_by_key(|(at, id, _, _)| (*at, *id));
        let total = entries.len();
        let shown = entries.split_off(total.saturating_sub(ACTIVITY_CAP));
        let values = shown
            .into_iter()
            .map(|(at, _, number, e)| {
                let incoming = e.direction == crate::domain::Direction::In;
                let text = e.body_text.as_deref().filter(|_| incoming).map(|t| {
                    let lines: Vec<String> =
                        t.lines().take(4).map(|l| format!("      {l}")).collect();
                    lines.join("\n")
                });
                json!({
                    "date": format_time(at, zone),
                    "case_number": number,
                    "what": entry_label(&e.kind, language),
                    "who": if incoming { e.from_addr.clone() } else { format!("→ {}", e.to_addrs) },
                    "text": text.filter(|t| !t.trim().is_empty()),
                })
            })
            .collect();
        Ok((values, total))
    }

    /// The files of the case and of those merged into it, each with the mail that holds it.
    async fn files(
        &self,
        tx: &mut Batch,
        case: &CaseRow,
        merged: &[CaseRow],
    ) -> Result<Vec<Value>, ApplyError> {
        let mut files = Vec::new();
        for c in merged.iter().chain(std::iter::once(case)) {
            for f in tx.case_files(c.id, FILES_CAP).await? {
                files.push(json!({
                    "filename": f.filename,
                    "size": f.size,
                    "email_id": f.email_id,
                    "case_number": c.number,
                }));
            }
        }
        files.truncate(FILES_CAP as usize);
        Ok(files)
    }

    /// An owner as agents read them: the name `buzon agent add --name` gave, and the address.
    pub(in crate::apply) async fn owner_shown(
        &self,
        tx: &mut Batch,
        owner: Option<&str>,
    ) -> Result<Option<String>, ApplyError> {
        let Some(owner) = owner else {
            return Ok(None);
        };
        let agents = self.agents(tx).await?;
        let named = agents
            .iter()
            .find(|a| a.address.as_str() == owner)
            .and_then(|a| a.name.clone());
        Ok(Some(match named {
            Some(name) => format!("{name} <{owner}>"),
            None => owner.to_string(),
        }))
    }
}

/// The SLA column: where the case stands against its running target, in words.
pub(super) fn sla_state(case: &CaseRow, now: i64, language: Language) -> &'static str {
    let now = jiff::Timestamp::from_millisecond(now).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    sla_label(
        SlaClock::state(case.sla.as_ref(), case.waiting_since.is_some(), now),
        language,
    )
}

fn sla_label(state: SlaState, language: Language) -> &'static str {
    match (state, language) {
        (SlaState::None, _) => "—",
        (SlaState::Paused, Language::Es) => "en pausa",
        (SlaState::Paused, Language::En) => "paused",
        (SlaState::OnTime, Language::Es) => "en plazo",
        (SlaState::OnTime, Language::En) => "on time",
        (SlaState::AtRisk, Language::Es) => "en riesgo",
        (SlaState::AtRisk, Language::En) => "at risk",
        (SlaState::Breached, Language::Es) => "incumplido",
        (SlaState::Breached, Language::En) => "breached",
    }
}

/// A duration as people read it in a list: "3 d 4 h", "2 h 10 min", "5 min".
pub(super) fn ago(ms: i64) -> String {
    let minutes = ms.max(0) / 60_000;
    let (days, hours, mins) = (minutes / 1440, minutes / 60 % 24, minutes % 60);
    match (days, hours) {
        (0, 0) => format!("{mins} min"),
        (0, _) => format!("{hours} h {mins} min"),
        _ => format!("{days} d {hours} h"),
    }
}

/// A history entry's kind in the support language.
fn entry_label(kind: &str, language: Language) -> String {
    let es = language == Language::Es;
    let word = match kind {
        "new_case" => {
            if es {
                "caso nuevo"
            } else {
                "new case"
            }
        }
        "comment" => {
            if es {
                "comentario del cliente"
            } else {
                "customer's comment"
            }
        }
        "agent_reply" => {
            if es {
                "respuesta de agente"
            } else {
                "agent's answer"
            }
        }
        "internal_note" => {
            if es {
                "nota interna"
            } else {
                "internal note"
            }
        }
        "courtesy" => {
            if es {
                "agradecimiento"
            } else {
                "thanks"
            }
        }
        "merged" => {
            if es {
                "casos unidos"
            } else {
                "cases merged"
            }
        }
        _ => {
            return MailKind::ALL
                .iter()
                .find(|k| k.name() == kind)
                .map_or_else(|| kind.to_string(), |k| k.label(language).to_string())
        }
    };
    word.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(ago(5 * 60_000), "5 min");
        assert_eq!(ago((2 * 60 + 10) * 60_000), "2 h 10 min");
        assert_eq!(ago((3 * 24 * 60 + 4 * 60 + 9) * 60_000), "3 d 4 h");
        assert_eq!(ago(-1), "0 min");
    }

    #[test]
    fn sla_states_in_words_of_each_language() {
        let clock = SlaClock {
            target: crate::sla::Target::FirstResponse,
            started_at: jiff::Timestamp::from_second(0).unwrap(),
            warn_at: jiff::Timestamp::from_second(80).unwrap(),
            due_at: jiff::Timestamp::from_second(100).unwrap(),
        };
        let at = |s| jiff::Timestamp::from_second(s).unwrap();
        let label = |waiting, s, l| sla_label(SlaClock::state(Some(&clock), waiting, at(s)), l);
        assert_eq!(label(false, 10, Language::Es), "en plazo");
        assert_eq!(label(false, 90, Language::Es), "en riesgo");
        assert_eq!(label(false, 100, Language::En), "breached");
        assert_eq!(label(true, 100, Language::Es), "en pausa");
        assert_eq!(
            sla_label(SlaClock::state(None, false, at(5)), Language::En),
            "—"
        );
    }

    #[test]
    fn history_kinds_in_the_support_language() {
        assert_eq!(
            entry_label("comment", Language::Es),
            "comentario del cliente"
        );
        assert_eq!(
            entry_label("case_created", Language::En),
            "acknowledgement of a new case"
        );
        assert_eq!(
            entry_label("agent_reply", Language::Es),
            "respuesta de agente"
        );
    }
}
