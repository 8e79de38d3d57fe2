//! Requests by new mail (SPEC.md "Mail in → 5"): a customer's case list, search, a case's
//! history with the real mails attached, their profile, and help.

use serde_json::{json, Value};

use super::outgoing::Outgoing;
use super::proofs::{Held, HeldKind};
use super::{Applied, ApplyError, Entry, Processor};
use crate::apply::{Batch, Outcome, RequestAnswer};
use crate::compose::{self, MailKind, Threading};
use crate::domain::{Language, Mailbox};
use crate::parse::InboundMessage;
use crate::requests::SelfService;
use crate::store::{CaseFilter, CaseRow, InboundRow, ProfileRequest, Window};
use crate::text::format_time;

impl Processor {
    pub(super) async fn self_service(
        &self,
        tx: &mut Batch,
        row: &InboundRow,
        message: &InboundMessage,
        sender: &Mailbox,
        request: SelfService,
    ) -> Applied {
        // An admin's `buzon retry` vouches for the request: the limit held it for them.
        if !row.vouched {
            if let Some(held) = self.requests_over_cap(tx).await? {
                return self.quarantine(tx, row, message, held).await;
            }
        }
        let (language, stored_name) = self.profile_of(tx, &sender.address).await?;
        // The name the customer gave in their profile wins over what their client sends.
        let sender = &Mailbox {
            name: stored_name.or_else(|| sender.name.clone()),
            address: sender.address.clone(),
        };
        let threading = Threading::answering(message.message_id.as_deref(), &message.references);
        let mut data = self.case_data(tx, &super::new_case::empty_case(), language);
        data["person"] = compose::person(sender);
        data["original_subject"] = json!(crate::text::single_line(&message.subject));
        data["error"] = Value::Null;
        let proven = row.vouched || self.authenticated(message);
        let (outcome, mails, profile_change) = self
            .answers(tx, sender, request, proven, data, language)
            .await?;
        self.record_inbound(tx, row, message, Entry::new(None, "request"))
            .await?;
        if let Some(change) = profile_change {
            self.change_profile(tx, sender, change, threading.clone())
                .await?;
        }
        for mail in mails {
            self.queue(tx, mail.answering(threading.clone())).await?;
        }
        Ok(Outcome::Request(outcome))
    }

    /// The answers a request gets, and what it does to the profile (`perfil` only).
    async fn answers(
        &self,
        tx: &mut Batch,
        sender: &Mailbox,
        request: SelfService,
        proven: bool,
        data: Value,
        language: Language,
    ) -> Result<(RequestAnswer, Vec<Outgoing>, Option<ProfileChange>), ApplyError> {
        let mut profile_change = None;
        let (outcome, mails): (RequestAnswer, Vec<Outgoing>) = match request {
            SelfService::MyCases(status) => (
                RequestAnswer::CaseList,
                vec![
                    self.case_list(tx, sender, status, None, data, language)
                        .await?,
                ],
            ),
            SelfService::Search(words) => (
                RequestAnswer::Search,
                vec![
                    self.case_list(tx, sender, None, Some(words), data, language)
                        .await?,
                ],
            ),
            SelfService::History(number) => (
                RequestAnswer::History,
                self.history(tx, sender, number, data, language).await?,
            ),
            SelfService::Profile {
                name,
                language: wanted,
            } => {
                let (outcome, mail, change) = self
                    .profile_answer(tx, sender, (name, wanted), proven, data, language)
                    .await?;
                profile_change = Some(change);
                (outcome, mail.into_iter().collect())
            }
            SelfService::Help => (
                RequestAnswer::Help,
                vec![Outgoing::new(
                    MailKind::CommandHelp,
                    language,
                    data,
                    vec![sender.clone()],
                    None,
                )],
            ),
        };
        Ok((outcome, mails, profile_change))
    }

    /// Store a proven profile change, or ask the address to confirm it first.
    async fn change_profile(
        &self,
        tx: &mut Batch,
        sender: &Mailbox,
        change: ProfileChange,
        threading: Threading,
    ) -> Result<(), ApplyError> {
        match change {
            ProfileChange::Confirm(request) => {
                self.profile_by_confirmation(tx, sender, request, threading)
                    .await
            }
            ProfileChange::Store(request) => Ok(tx
                .upsert_profile(
                    sender.address.as_str(),
                    request.name.as_deref(),
                    request.language.as_deref(),
                )
                .await?),
        }
    }

    /// `perfil`: the profile as it will be, and what to do with the change. A change that
    /// proves nothing about its sender waits for the confirmation round trip.
    async fn profile_answer(
        &self,
        tx: &mut Batch,
        sender: &Mailbox,
        (name, wanted): (Option<String>, Option<Language>),
        proven: bool,
        data: Value,
        language: Language,
    ) -> Result<(RequestAnswer, Option<Outgoing>, ProfileChange), ApplyError> {
        let request = ProfileRequest {
            name: name.clone(),
            language: wanted.map(|l| l.code().to_string()),
        };
        if (name.is_some() || wanted.is_some()) && !proven {
            let change = ProfileChange::Confirm(request);
            return Ok((RequestAnswer::ProfileUnconfirmed, None, change));
        }
        let language = wanted.unwrap_or(language);
        let mail = self
            .profile(tx, sender, name.as_deref(), wanted, data, language)
            .await?;
        Ok((
            RequestAnswer::Profile,
            Some(mail),
            ProfileChange::Store(request),
        ))
    }

    /// Why this request must wait, when the desk has answered `limits.requests_per_hour`
    /// requests this hour over all addresses (many addresses, one flood).
    async fn requests_over_cap(&self, tx: &mut Batch) -> Result<Option<Held>, ApplyError> {
        const ANSWERS: [MailKind; 5] = [
            MailKind::CaseList,
            MailKind::CaseHistory,
            MailKind::Profile,
            MailKind::ProfileConfirm,
            MailKind::CommandHelp,
        ];
        let kinds = ANSWERS.map(MailKind::name);
        let cap = self.config.limits.requests_per_hour;
        let sent = tx.auto_mails_of_kinds_within(&kinds, Window::HOUR).await?;
        Ok((sent >= cap).then(|| Held {
            kind: HeldKind::RequestFlood,
            detail: format!(
                "the desk answered {sent} requests in the last hour (limits.requests_per_hour = {cap})"
            ),
        }))
    }

    async fn case_list(
        &self,
        tx: &mut Batch,
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
            // A customer's cases in every mailbox: they wrote them all.
            mailbox: None,
            limit: 200,
        };
        let cases = tx.cases(&filter).await?;
        data["cases"] = json!(cases
            .iter()
            .map(|c| list_entry(c, &self.config.support.timezone))
            .collect::<Vec<_>>());
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
    pub(super) async fn profile(
        &self,
        tx: &mut Batch,
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
        // Without a customer row, the address is provisioned through its domain's
        // organisation; with one, only the organisation it names.
        let organization = match &stored {
            Some(c) => c.org_domain.clone(),
            None => Some(sender.address.domain().to_string()),
        };
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

fn list_entry(c: &CaseRow, zone: &jiff::tz::TimeZone) -> Value {
    json!({
        "number": c.number,
        "subject": c.subject,
        "status": c.status,
        "severity": c.severity,
        "last_activity": format_time(c.updated_at, zone),
    })
}

/// What a `perfil` request does to the stored profile.
enum ProfileChange {
    /// Ask the address first (`profile_confirm`); change nothing yet.
    Confirm(ProfileRequest),
    /// Store it now.
    Store(ProfileRequest),
}
