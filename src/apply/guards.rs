//! The protections of a public address, applied in the middle of the journey: the
//! authentication policy, bounces, and who may receive automatic mail.

use super::outgoing::Outgoing;
use super::proofs::{Held, HeldKind};
use super::{Applied, ApplyError, Entry, Processor};
use crate::apply::{Batch, Outcome};
use crate::auth::{self, AuthVerdict};
use crate::classify::Facts;
use crate::compose::{msgid, MailKind};
use crate::config::RequireAuth;
use crate::domain::{CaseNumber, EmailAddress, Mailbox};
use crate::parse::InboundMessage;
use crate::store::{InboundRow, Window};

impl Processor {
    /// Why the mail must be quarantined, if it must: more than one From header, or, under
    /// `security.require_authentication`, no results from our server or a failure.
    pub(super) fn fails_authentication(
        &self,
        row: &InboundRow,
        message: &InboundMessage,
        facts: &Facts,
    ) -> Option<Held> {
        if row.vouched {
            return None;
        }
        let security = &self.config.security;
        // RFC 5322 allows one From; with two, which sender to believe (and to authenticate)
        // is the attacker's choice, whatever the policy.
        if message.from_headers > 1 {
            return Some(Held {
                kind: HeldKind::TwoFromHeaders,
                detail: format!(
                    "{} From headers (authentication cannot name the sender)",
                    message.from_headers
                ),
            });
        }
        let sender = &message.from.as_ref()?.address;
        let is_agent = facts.agents.contains(sender);
        let required = match security.require {
            RequireAuth::None => false,
            RequireAuth::Customers => !is_agent,
            RequireAuth::Agents => is_agent,
            RequireAuth::All => true,
        };
        if !required {
            return None;
        }
        let server = security.authserv_id.as_deref().unwrap_or_default();
        let detail = match auth::verdict(&message.authentication_results, server, sender.domain()) {
            AuthVerdict::Pass(_) => return None,
            AuthVerdict::Fail(why) => format!("authentication failed for {sender} ({why})"),
            AuthVerdict::Missing => {
                format!("no Authentication-Results from {server} for {sender}")
            }
        };
        Some(Held {
            kind: HeldKind::NotAuthenticated,
            detail,
        })
    }

    /// A delivery status notification: logged on the case of the mail that bounced, hard
    /// failures marked so that nothing more is sent to them; never a case, never an answer.
    pub(super) async fn bounce(
        &self,
        tx: &mut Batch,
        row: &InboundRow,
        message: &InboundMessage,
    ) -> Applied {
        let report = message
            .report
            .as_ref()
            .expect("bounce() is called for reports");
        let secrets = self.config.support.secrets();
        let returned = report
            .original_message_id
            .as_deref()
            .filter(|id| msgid::verify_signed(id, &secrets).is_some());
        let case = match returned.and_then(|id| msgid::verify(id, &secrets)) {
            Some(n) => tx.case_by_number(n.0).await?,
            None => None,
        };
        // Anyone can write a report: it silences an address only when it returns a mail
        // buzon signed, and names a recipient that mail really went to.
        let bounced_to = match returned {
            Some(id) => tx
                .sent_to(id.trim_matches(['<', '>']))
                .await?
                .unwrap_or_default(),
            None => Vec::new(),
        };
        let summary: Vec<String> = report
            .recipients
            .iter()
            .map(|(a, status, action)| format!("{a}: {action} {status}"))
            .collect();
        self.record_inbound(
            tx,
            row,
            message,
            Entry::new(case.as_ref().map(|c| c.id), "bounce").text(&summary.join("\n")),
        )
        .await?;
        for (address, status, _) in report.hard_failures() {
            let ours = bounced_to
                .iter()
                .any(|a| EmailAddress::parse(a).is_ok_and(|a| a == *address));
            if !ours {
                tracing::warn!(
                    address = address.as_str(),
                    "bounce not trusted: it returns no mail buzon sent to that address"
                );
                continue;
            }
            tx.mark_failing(address.as_str(), &format!("bounced {status}"))
                .await?;
        }
        Ok(Outcome::Bounce(case.map(|c| CaseNumber(c.number))))
    }

    /// Whom an automatic mail goes to now, and whom it is held for: not failing addresses,
    /// one `access_denied` a day, and past `limits.auto_replies_per_hour` automatic mails
    /// an address's copy is held (kept, listed, sent by `buzon retry --outbox`), never
    /// dropped. A new case's acknowledgement is never held: it is the one mail a customer
    /// needs (floods are stopped at the door by `limits.new_cases_per_hour`). Each mail
    /// sent is counted.
    pub(super) async fn allowed_recipients(
        &self,
        tx: &mut Batch,
        out: &Outgoing,
    ) -> Result<Recipients, ApplyError> {
        let answering = out.kind.auto_submitted() == Some("auto-replied");
        let acknowledgement = matches!(
            out.kind,
            MailKind::CaseCreated | MailKind::CaseReopenedAsNew
        );
        let mut kept = Recipients::default();
        for m in &out.to {
            let address = m.address.as_str();
            if out.kind.to_customer() && tx.is_failing(address).await? {
                tracing::info!(
                    address,
                    kind = out.kind.name(),
                    "not sent: the address bounced"
                );
                continue;
            }
            if answering {
                if out.kind == MailKind::AccessDenied
                    && tx
                        .auto_mails_within(
                            address,
                            Some(MailKind::AccessDenied.name()),
                            Window::DAY,
                        )
                        .await?
                        > 0
                {
                    continue;
                }
                if !acknowledgement
                    && tx.auto_mails_within(address, None, Window::HOUR).await?
                        >= self.config.limits.auto_replies_per_hour
                {
                    tracing::warn!(
                        address,
                        kind = out.kind.name(),
                        "held: automatic mail limit reached"
                    );
                    kept.hold.push(m.clone());
                    continue;
                }
                tx.log_auto_mail(address, out.kind.name()).await?;
            }
            kept.send.push(m.clone());
        }
        Ok(kept)
    }
}

/// An outgoing mail's recipients after the guards: who gets it now, and for whom it is held.
#[derive(Debug, Default)]
pub(super) struct Recipients {
    pub send: Vec<Mailbox>,
    pub hold: Vec<Mailbox>,
}
