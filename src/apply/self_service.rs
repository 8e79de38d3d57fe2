//! Requests by new mail (SPEC.md "Mail in → 5"): a customer's case list, search, a case's
//! history with the real mails attached, their profile, and help.

use serde_json::{json, Value};

use super::outgoing::Outgoing;
use super::{Applied, ApplyError, Entry, Processor};
use crate::compose::{self, mime, MailKind, Threading};
use crate::domain::{CaseNumber, Language, Mailbox};
use crate::parse::InboundMessage;
use crate::requests::SelfService;
use crate::store::{CaseFilter, CaseRow, CaseTx, EmailRow, InboundRow, ProfileRequest};
use crate::text::format_time;

/// History entries a customer may see: their side of the conversation and what was sent
/// to them; never agents' raw mail, internal notes or notifications.
fn customer_visible(e: &EmailRow) -> bool {
    match e.direction.as_str() {
        "in" => matches!(e.kind.as_str(), "new_case" | "comment" | "courtesy"),
        _ => matches!(
            e.kind.as_str(),
            "case_created"
                | "case_reopened_as_new"
                | "agent_reply"
                | "case_closed"
                | "case_updated"
                | "attachments_refused"
        ),
    }
}

impl Processor {
    pub(super) async fn self_service(
        &self,
        tx: &mut CaseTx,
        row: &InboundRow,
        message: &InboundMessage,
        sender: &Mailbox,
        request: SelfService,
    ) -> Applied {
        if let Some(reason) = self.requests_over_cap(tx).await? {
            return self.quarantine(tx, row, message, &reason).await;
        }
        let mut language = self.language_of(tx, &sender.address).await?;
        let threading = Threading::answering(message.message_id.as_deref(), &message.references);
        let mut data = self.case_data(&super::new_case::empty_case(), language);
        data["person"] = compose::person(sender);
        data["original_subject"] = json!(crate::text::single_line(&message.subject));
        data["error"] = Value::Null;
        let (outcome, mails): (&str, Vec<Outgoing>) = match request {
            SelfService::MyCases(status) => (
                "request_case_list",
                vec![
                    self.case_list(tx, sender, status, None, data, language)
                        .await?,
                ],
            ),
            SelfService::Search(words) => (
                "request_search",
                vec![
                    self.case_list(tx, sender, None, Some(words), data, language)
                        .await?,
                ],
            ),
            SelfService::History(number) => (
                "request_history",
                self.history(tx, sender, number, data, language).await?,
            ),
            SelfService::Profile {
                name,
                language: wanted,
            } => {
                let changes = name.is_some() || wanted.is_some();
                if changes && !(row.vouched || self.authenticated(message)) {
                    let request = ProfileRequest {
                        name,
                        language: wanted.map(|l| l.code().to_string()),
                    };
                    if !self.begin(tx, row).await? {
                        return Ok(("duplicate".into(), None));
                    }
                    self.record_inbound(tx, row, message, Entry::new(None, "request"))
                        .await?;
                    self.profile_by_confirmation(tx, sender, request, threading)
                        .await?;
                    tx.finish_mail("request_profile_unconfirmed", false).await?;
                    return Ok(("request_profile_unconfirmed".into(), None));
                }
                language = wanted.unwrap_or(language);
                let mail = self
                    .profile(tx, sender, name.as_deref(), wanted, data, language)
                    .await?;
                if !self.begin(tx, row).await? {
                    return Ok(("duplicate".into(), None));
                }
                tx.upsert_profile(
                    sender.address.as_str(),
                    name.as_deref(),
                    wanted.map(Language::code),
                )
                .await?;
                self.record_inbound(tx, row, message, Entry::new(None, "request"))
                    .await?;
                self.queue(tx, mail.answering(threading)).await?;
                tx.finish_mail("request_profile", false).await?;
                return Ok(("request_profile".into(), None));
            }
            SelfService::Help => (
                "request_help",
                vec![Outgoing::new(
                    MailKind::CommandHelp,
                    language,
                    data,
                    vec![sender.clone()],
                    None,
                )],
            ),
        };
        if !self.begin(tx, row).await? {
            return Ok(("duplicate".into(), None));
        }
        self.record_inbound(tx, row, message, Entry::new(None, "request"))
            .await?;
        for mail in mails {
            self.queue(tx, mail.answering(threading.clone())).await?;
        }
        tx.finish_mail(outcome, false).await?;
        Ok((outcome.into(), None))
    }

    /// Why this request must wait, when the desk has answered `limits.requests_per_hour`
    /// requests this hour over all addresses (many addresses, one flood).
    async fn requests_over_cap(&self, tx: &mut CaseTx) -> Result<Option<String>, ApplyError> {
        const ANSWERS: [MailKind; 5] = [
            MailKind::CaseList,
            MailKind::CaseHistory,
            MailKind::Profile,
            MailKind::ProfileConfirm,
            MailKind::CommandHelp,
        ];
        let kinds = ANSWERS.map(MailKind::name);
        let cap = self.config.limits.requests_per_hour;
        let sent = tx
            .auto_mails_of_kinds_since(&kinds, tx.now() - super::guards::HOUR_MS)
            .await?;
        Ok((sent >= cap).then(|| {
            format!("quarantined: the desk answered {sent} requests in the last hour (limits.requests_per_hour = {cap})")
        }))
    }

    async fn case_list(
        &self,
        tx: &mut CaseTx,
        sender: &Mailbox,
        status: Option<&'static str>,
        words: Option<Vec<String>>,
        mut data: Value,
        language: Language,
    ) -> Result<Outgoing, ApplyError> {
        let filter = CaseFilter {
            status: status.map(str::to_string),
            words: words.clone().unwrap_or_default(),
            customer: Some(sender.address.to_string()),
            limit: 200,
        };
        let cases = tx.cases(&filter).await?;
        data["cases"] = json!(cases.iter().map(list_entry).collect::<Vec<_>>());
        data["count"] = json!(cases.len());
        data["filter"] = json!(status.unwrap_or("all"));
        data["search"] = json!(words.map(|w| w.join(" ")));
        Ok(Outgoing::new(
            MailKind::CaseList,
            language,
            data,
            vec![sender.clone()],
            None,
        ))
    }

    /// The case's history as text, each mail attached as `.eml`, split so that no answer
    /// passes `limits.history_mail_bytes` (a mail larger than that travels alone).
    async fn history(
        &self,
        tx: &mut CaseTx,
        sender: &Mailbox,
        number: CaseNumber,
        mut data: Value,
        language: Language,
    ) -> Result<Vec<Outgoing>, ApplyError> {
        let case = tx.case_by_number(number.0).await?;
        let allowed = match &case {
            Some(c) => tx
                .case_participants(c.id)
                .await?
                .iter()
                .any(|(e, _)| e == sender.address.as_str()),
            None => false,
        };
        let (Some(case), true) = (case, allowed) else {
            // The same answer whether the case exists or not: nothing leaks.
            data["error"] = json!(match language {
                Language::Es => format!("No encontramos el Caso #{number} entre sus casos."),
                Language::En => format!("We could not find Case #{number} among your cases."),
            });
            return Ok(vec![Outgoing::new(
                MailKind::CommandHelp,
                language,
                data,
                vec![sender.clone()],
                None,
            )]);
        };
        let history: Vec<EmailRow> = tx
            .case_emails(case.id)
            .await?
            .into_iter()
            .filter(customer_visible)
            .collect();
        let mut parts: Vec<Vec<(Value, mime::Part)>> = vec![Vec::new()];
        let mut size = 0;
        for (i, e) in history.iter().enumerate() {
            let raw = self.read_blob(&e.raw_hash).await?;
            if size + raw.len() > self.config.limits.history_mail_bytes
                && !parts.last().expect("one part").is_empty()
            {
                parts.push(Vec::new());
                size = 0;
            }
            size += raw.len();
            let file = format!(
                "{:02}-{}-{}.eml",
                i + 1,
                format_time(e.created_at).replace([' ', ':'], ""),
                e.kind
            );
            let entry = history_entry(e, &file);
            let part = mime::Part {
                filename: file,
                content_type: "application/octet-stream".into(),
                bytes: raw,
            };
            parts.last_mut().expect("one part").push((entry, part));
        }
        let total = parts.len();
        let facts = super::outgoing::facts_of(&case, &[], vec![]);
        data["case"] = self.case_data(&facts, language)["case"].clone();
        Ok(parts
            .into_iter()
            .enumerate()
            .map(|(i, part)| {
                let mut d = data.clone();
                d["part"] = json!(i + 1);
                d["parts"] = json!(total);
                let (entries, files): (Vec<Value>, Vec<mime::Part>) = part.into_iter().unzip();
                d["entries"] = json!(entries);
                let mut mail = Outgoing::new(
                    MailKind::CaseHistory,
                    language,
                    d,
                    vec![sender.clone()],
                    None,
                );
                mail.attachments = files;
                mail
            })
            .collect())
    }

    pub(super) async fn profile(
        &self,
        tx: &mut CaseTx,
        sender: &Mailbox,
        name: Option<&str>,
        wanted: Option<Language>,
        mut data: Value,
        language: Language,
    ) -> Result<Outgoing, ApplyError> {
        let stored = tx.customer(sender.address.as_str()).await?;
        let name = name
            .map(str::to_string)
            .or_else(|| stored.as_ref().and_then(|c| c.name.clone()));
        let organization = stored
            .as_ref()
            .and_then(|c| c.org_domain.clone())
            .or_else(|| Some(sender.address.domain().to_string()));
        data["profile"] = json!({
            "name": name,
            "email": sender.address.as_str(),
            "language": language.code(),
            "organization": organization,
        });
        data["updated"] = json!(
            wanted.is_some() || data["profile"]["name"] != json!(stored.and_then(|c| c.name))
        );
        Ok(Outgoing::new(
            MailKind::Profile,
            language,
            data,
            vec![sender.clone()],
            None,
        ))
    }
}

fn list_entry(c: &CaseRow) -> Value {
    json!({
        "number": c.number,
        "subject": c.subject,
        "status": c.status,
        "severity": c.severity,
        "last_activity": format_time(c.updated_at),
    })
}

fn history_entry(e: &EmailRow, file: &str) -> Value {
    let text = e.body_text.as_deref().map(|t| {
        t.lines()
            .take(15)
            .map(|l| format!("    {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    });
    json!({
        "date": format_time(e.created_at),
        "direction": e.direction,
        "from": e.from_addr,
        "to": e.to_addrs,
        "subject": e.subject,
        "text": text,
        "file": file,
    })
}
