//! The middle of the journey: take a stored mail, parse and classify it (pure), and write
//! its whole effect — case, history, attachments, outgoing mail — in one transaction.
//! [`Processor::process_next`] is one step; the daemon loops over it and tests call it.

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::json;
use tracing::{info, warn};

use crate::blobs::{BlobHash, BlobStore};
use crate::classify::{self, Facts, IgnoreReason, NewCase, ProductChoice, Route};
use crate::compose::{self, CaseFacts, Composer, MailKind, OutgoingMail, Request, Threading};
use crate::config::Config;
use crate::domain::{CaseNumber, EmailAddress, Language, Mailbox};
use crate::parse::{self, InboundMessage};
use crate::store::{CaseTx, InboundRow, NewAttachment, NewCaseRow, NewEmail, Store, StoreError};

/// What one step did.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Nothing was waiting.
    Idle,
    /// The mail's effect is committed; `outcome` names it (case_created, access_denied, …).
    Done {
        inbound_id: i64,
        outcome: String,
        case: Option<i64>,
    },
    /// Kept raw and parked for `buzon failed` / `buzon retry`.
    Failed { inbound_id: i64, error: String },
    /// A passing problem (database busy, disk full); the mail stays pending.
    Deferred { inbound_id: i64, error: String },
}

#[derive(Debug, thiserror::Error)]
enum ApplyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Permanent(String),
    #[error("storage: {0}")]
    Io(#[from] std::io::Error),
}

pub struct Processor {
    store: Store,
    blobs: BlobStore,
    composer: Arc<Composer>,
    config: Arc<Config>,
}

impl Processor {
    pub fn new(
        store: Store,
        blobs: BlobStore,
        composer: Arc<Composer>,
        config: Arc<Config>,
    ) -> Self {
        Processor {
            store,
            blobs,
            composer,
            config,
        }
    }

    #[tracing::instrument(name = "apply", skip_all, fields(inbound = tracing::field::Empty, case = tracing::field::Empty))]
    pub async fn process_next(&self) -> Result<Step, StoreError> {
        let Some(row) = self.store.claim_inbound().await? else {
            return Ok(Step::Idle);
        };
        tracing::Span::current().record("inbound", row.id);
        match self.process(&row).await {
            Ok((outcome, case)) => {
                info!(outcome, uid = row.uid, "mail applied");
                Ok(Step::Done {
                    inbound_id: row.id,
                    outcome,
                    case,
                })
            }
            Err(ApplyError::Store(e)) if e.is_retryable() => {
                warn!(error = %e, "deferred");
                let error = e.to_string();
                self.store.release_inbound(row.id, &error).await?;
                Ok(Step::Deferred {
                    inbound_id: row.id,
                    error,
                })
            }
            Err(ApplyError::Io(e)) => {
                warn!(error = %e, "deferred");
                let error = format!("storage: {e}");
                self.store.release_inbound(row.id, &error).await?;
                Ok(Step::Deferred {
                    inbound_id: row.id,
                    error,
                })
            }
            Err(e) => {
                let error = e.to_string();
                warn!(error, "mail parked as failed");
                self.store.fail_inbound(row.id, &error).await?;
                Ok(Step::Failed {
                    inbound_id: row.id,
                    error,
                })
            }
        }
    }

    async fn process(&self, row: &InboundRow) -> Result<(String, Option<i64>), ApplyError> {
        let raw = self.read_blob(&row.raw_hash).await?;
        let message = tokio::task::spawn_blocking(move || parse::parse(&raw))
            .await
            .map_err(|e| ApplyError::Permanent(format!("parser crashed: {e}")))?
            .map_err(|e| ApplyError::Permanent(format!("cannot parse: {e}")))?;
        let facts = self.facts(&message).await?;
        match classify::classify(&message, &facts) {
            Route::Ignore(reason) => self.log_only(row, &message, reason).await,
            Route::AccessDenied { sender } => self.deny(row, &message, &sender).await,
            Route::NewCase(case) => self.open_case(row, &message, &case).await,
        }
    }

    async fn read_blob(&self, hash: &str) -> Result<Vec<u8>, ApplyError> {
        let blobs = self.blobs.clone();
        let hash = hash.to_string();
        tokio::task::spawn_blocking(move || blobs.get(&hash))
            .await
            .map_err(|e| ApplyError::Permanent(e.to_string()))?
            .map_err(|e| ApplyError::Permanent(format!("raw mail missing from storage: {e}")))
    }

    async fn put_blob(&self, bytes: Vec<u8>) -> Result<BlobHash, ApplyError> {
        let blobs = self.blobs.clone();
        Ok(tokio::task::spawn_blocking(move || blobs.put(&bytes))
            .await
            .map_err(|e| ApplyError::Permanent(e.to_string()))??)
    }

    async fn facts(&self, message: &InboundMessage) -> Result<Facts, StoreError> {
        let mut provisioned = HashSet::new();
        let people = message.from.iter().chain(&message.to).chain(&message.cc);
        for m in people {
            if !provisioned.contains(&m.address)
                && self.store.is_provisioned(m.address.as_str()).await?
            {
                provisioned.insert(m.address.clone());
            }
        }
        Ok(Facts {
            support_address: self.config.support.address.clone(),
            provisioned,
            agents: self
                .agents()
                .await?
                .into_iter()
                .map(|m| m.address)
                .collect(),
            products: self.config.support.products.clone(),
        })
    }

    /// Agents from the configuration and from `buzon agent add`.
    async fn agents(&self) -> Result<Vec<Mailbox>, StoreError> {
        let mut agents: Vec<Mailbox> = self
            .config
            .agents
            .addresses
            .iter()
            .map(|a| Mailbox {
                name: None,
                address: a.clone(),
            })
            .collect();
        for row in self.store.agents().await? {
            if let Ok(address) = EmailAddress::parse(&row.email) {
                agents.retain(|m| m.address != address);
                agents.push(Mailbox {
                    name: row.name,
                    address,
                });
            }
        }
        Ok(agents)
    }

    /// Who gets agent notifications: `agents.notify`, or else every agent.
    async fn notify_list(&self) -> Result<Vec<Mailbox>, StoreError> {
        if self.config.agents.notify.is_empty() {
            return self.agents().await;
        }
        Ok(self
            .config
            .agents
            .notify
            .iter()
            .map(|a| Mailbox {
                name: None,
                address: a.clone(),
            })
            .collect())
    }

    async fn language_of(&self, address: &EmailAddress) -> Result<Language, StoreError> {
        let stored = self
            .store
            .customer(address.as_str())
            .await?
            .and_then(|c| c.language);
        Ok(stored
            .and_then(|l| l.parse().ok())
            .unwrap_or(self.config.support.language))
    }

    async fn begin(&self, row: &InboundRow) -> Result<Option<CaseTx>, ApplyError> {
        let Some(mut tx) = self.store.begin_apply(row.id).await? else {
            return Ok(None);
        };
        if !tx.claim_dedupe_key(&row.dedupe_key).await? {
            tx.finish("duplicate", true).await?;
            return Ok(None);
        }
        Ok(Some(tx))
    }

    fn inbound_email<'a>(
        row: &'a InboundRow,
        message: &'a InboundMessage,
        case_id: Option<i64>,
        kind: &'a str,
        body: Option<&'a str>,
        to_addrs: &'a str,
    ) -> NewEmail<'a> {
        NewEmail {
            case_id,
            from_inbound: true,
            direction: "in",
            kind,
            from_addr: message.from.as_ref().map_or("", |m| m.address.as_str()),
            to_addrs,
            subject: &message.subject,
            message_id: message.message_id.as_deref(),
            body_text: body,
            raw_hash: &row.raw_hash,
            raw_size: row.raw_size as usize,
        }
    }

    async fn log_only(
        &self,
        row: &InboundRow,
        message: &InboundMessage,
        reason: IgnoreReason,
    ) -> Result<(String, Option<i64>), ApplyError> {
        let Some(mut tx) = self.begin(row).await? else {
            return Ok(("duplicate".into(), None));
        };
        let to = addresses(message.to.iter().chain(&message.cc));
        tx.add_email(&Self::inbound_email(
            row,
            message,
            None,
            reason.as_str(),
            None,
            &to,
        ))
        .await?;
        tx.finish(reason.as_str(), false).await?;
        Ok((reason.as_str().into(), None))
    }

    async fn deny(
        &self,
        row: &InboundRow,
        message: &InboundMessage,
        sender: &Mailbox,
    ) -> Result<(String, Option<i64>), ApplyError> {
        let language = self.config.support.language;
        let mut data = compose::case_context(&empty_case(), language, &self.config.support);
        data["person"] = compose::person(sender);
        data["original_subject"] = json!(crate::text::single_line(&message.subject));
        let threading = Threading::answering(message.message_id.as_deref(), &message.references);
        let reply = self
            .composer
            .compose(
                Request {
                    kind: MailKind::AccessDenied,
                    language,
                    data: &data,
                    to: std::slice::from_ref(sender),
                    case: None,
                    threading: &threading,
                    urgent: false,
                    attachments: &[],
                },
                crate::store::now_ms() / 1000,
            )
            .map_err(|e| ApplyError::Permanent(e.to_string()))?;
        let reply_hash = self.put_blob(reply.raw.clone()).await?;
        let Some(mut tx) = self.begin(row).await? else {
            return Ok(("duplicate".into(), None));
        };
        let to = addresses(message.to.iter().chain(&message.cc));
        tx.add_email(&Self::inbound_email(
            row,
            message,
            None,
            "access_denied",
            None,
            &to,
        ))
        .await?;
        self.queue(&mut tx, None, &reply, &reply_hash).await?;
        tx.finish("access_denied", false).await?;
        Ok(("access_denied".into(), None))
    }

    async fn open_case(
        &self,
        row: &InboundRow,
        message: &InboundMessage,
        case: &NewCase,
    ) -> Result<(String, Option<i64>), ApplyError> {
        let mut stored_attachments = Vec::with_capacity(message.attachments.len());
        for attachment in &message.attachments {
            stored_attachments.push(self.put_blob(attachment.bytes.clone()).await?);
        }
        let language = self.language_of(&case.requester.address).await?;
        let notify = self.notify_list().await?;
        let Some(mut tx) = self.begin(row).await? else {
            return Ok(("duplicate".into(), None));
        };
        let product = match &case.product {
            ProductChoice::Known(p) => Some(p.as_str()),
            _ => None,
        };
        let (case_id, number) = tx
            .create_case(&NewCaseRow {
                subject: &case.subject,
                subject_folded: &crate::text::fold_words(&case.subject),
                description: &case.description,
                product,
                severity: case.severity.level(),
                production_down: case.production_down,
                requester: case.requester.address.as_str(),
                requester_name: case.requester.name.as_deref(),
                language: language.code(),
            })
            .await?;
        tracing::Span::current().record("case", number);
        tx.add_participant(case_id, case.requester.address.as_str(), "requester")
            .await?;
        for p in &case.participants {
            tx.add_participant(case_id, p.as_str(), "participant")
                .await?;
        }
        let to = addresses(message.to.iter().chain(&message.cc));
        let email_id = tx
            .add_email(&Self::inbound_email(
                row,
                message,
                Some(case_id),
                "new_case",
                Some(&case.description),
                &to,
            ))
            .await?;
        for (attachment, hash) in message.attachments.iter().zip(&stored_attachments) {
            tx.add_attachment(&NewAttachment {
                case_id,
                email_id,
                filename: &attachment.filename,
                content_type: &attachment.content_type,
                size: attachment.bytes.len(),
                blob_hash: &hash.0,
                inline: attachment.inline,
            })
            .await?;
        }
        let facts = CaseFacts {
            number,
            subject: case.subject.clone(),
            description: case.description.clone(),
            product: product.map(str::to_string),
            severity: case.severity.level(),
            production_down: case.production_down,
            status: "open".into(),
            participants: case.participants.iter().map(|p| p.to_string()).collect(),
            attachments: message
                .attachments
                .iter()
                .map(|a| compose::AttachmentFacts {
                    filename: a.filename.clone(),
                    size: a.bytes.len() as u64,
                })
                .collect(),
        };
        let threading = Threading::answering(message.message_id.as_deref(), &message.references);
        let mut data = compose::case_context(&facts, language, &self.config.support);
        data["person"] = compose::person(&case.requester);
        data["requester"] = compose::person(&case.requester);
        if let ProductChoice::Unknown(named) = &case.product {
            data["product_unknown"] = json!(named);
        }
        let now = tx.now() / 1000;
        let ack = self.compose(
            MailKind::CaseCreated,
            language,
            &data,
            std::slice::from_ref(&case.requester),
            number,
            &threading,
            false,
            now,
        )?;
        let ack_hash = self.put_blob(ack.raw.clone()).await?;
        self.queue(&mut tx, Some(case_id), &ack, &ack_hash).await?;
        if !notify.is_empty() {
            let agent_language = self.config.support.language;
            let mut agent_data =
                compose::case_context(&facts, agent_language, &self.config.support);
            agent_data["requester"] = compose::person(&case.requester);
            agent_data["person"] = compose::person(&case.requester);
            let agent_threading = Threading::default();
            let note = self.compose(
                MailKind::AgentNewCase,
                agent_language,
                &agent_data,
                &notify,
                number,
                &agent_threading,
                case.production_down,
                now,
            )?;
            let note_hash = self.put_blob(note.raw.clone()).await?;
            self.queue(&mut tx, Some(case_id), &note, &note_hash)
                .await?;
        } else {
            warn!("no agents configured: nobody is told about the new case");
        }
        tx.finish("case_created", false).await?;
        Ok(("case_created".into(), Some(number)))
    }

    #[allow(clippy::too_many_arguments)]
    fn compose(
        &self,
        kind: MailKind,
        language: Language,
        data: &serde_json::Value,
        to: &[Mailbox],
        number: i64,
        threading: &Threading,
        urgent: bool,
        now: i64,
    ) -> Result<OutgoingMail, ApplyError> {
        self.composer
            .compose(
                Request {
                    kind,
                    language,
                    data,
                    to,
                    case: Some(CaseNumber(number)),
                    threading,
                    urgent,
                    attachments: &[],
                },
                now,
            )
            .map_err(|e| ApplyError::Permanent(e.to_string()))
    }

    async fn queue(
        &self,
        tx: &mut CaseTx,
        case_id: Option<i64>,
        mail: &OutgoingMail,
        hash: &BlobHash,
    ) -> Result<(), ApplyError> {
        let recipients: Vec<String> = mail.recipients.iter().map(|r| r.to_string()).collect();
        let email_id = tx
            .add_email(&NewEmail {
                case_id,
                from_inbound: false,
                direction: "out",
                kind: mail.kind.name(),
                from_addr: mail.envelope_from.as_str(),
                to_addrs: &recipients.join(", "),
                subject: &mail.subject,
                message_id: Some(&mail.message_id),
                body_text: None,
                raw_hash: &hash.0,
                raw_size: mail.raw.len(),
            })
            .await?;
        tx.enqueue(email_id, mail.envelope_from.as_str(), &recipients)
            .await?;
        Ok(())
    }
}

fn addresses<'a>(people: impl Iterator<Item = &'a Mailbox>) -> String {
    people
        .map(|m| m.address.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// For mail that has no case: templates still get a well-formed `case`.
fn empty_case() -> CaseFacts {
    CaseFacts {
        number: 0,
        subject: String::new(),
        description: String::new(),
        product: None,
        severity: 3,
        production_down: false,
        status: "open".into(),
        participants: vec![],
        attachments: vec![],
    }
}
