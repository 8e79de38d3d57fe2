//! The middle of the journey: take a stored mail, parse it, decide what it is (pure
//! `classify` and `thread`), and write its whole effect — case, history, attachments,
//! outgoing mail — in one transaction. [`Processor::process_next`] is one step; the daemon
//! loops over it and tests call it.

mod guards;
mod limits;
mod new_case;
mod outgoing;
mod reply;
mod self_service;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use tracing::{info, warn};

use crate::blobs::{BlobHash, BlobStore};
use crate::classify::{self, Facts, IgnoreReason, Route};
use crate::compose::Composer;
use crate::config::Config;
use crate::domain::{CaseNumber, EmailAddress, Language, Mailbox};
use crate::parse::{self, InboundMessage};
use crate::store::{CaseTx, InboundRow, NewAttachment, NewEmail, Store, StoreError};
use crate::thread::{self, ThreadFacts};

/// What one step did.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Nothing was waiting.
    Idle,
    /// The mail's effect is committed; `outcome` names it (case_created, comment, …).
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

/// What a processed mail came to: the outcome's name and the case it touched.
type Applied = Result<(String, Option<i64>), ApplyError>;

pub struct Processor {
    store: Store,
    blobs: BlobStore,
    composer: Arc<Composer>,
    config: Arc<Config>,
    /// False for archive imports: outgoing mail is recorded but never sent.
    send_mail: bool,
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
            send_mail: true,
        }
    }

    /// Record outgoing mail without sending it (importing an archive from another desk).
    pub fn without_sending(mut self) -> Self {
        self.send_mail = false;
        self
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
            Err(ApplyError::Store(e)) if e.is_retryable() => self.defer(&row, e.to_string()).await,
            Err(ApplyError::Io(e)) => self.defer(&row, format!("storage: {e}")).await,
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

    async fn defer(&self, row: &InboundRow, error: String) -> Result<Step, StoreError> {
        warn!(error, "deferred");
        self.store.release_inbound(row.id, &error).await?;
        Ok(Step::Deferred {
            inbound_id: row.id,
            error,
        })
    }

    async fn process(&self, row: &InboundRow) -> Applied {
        let raw = self.read_blob(&row.raw_hash).await?;
        let mut message = tokio::task::spawn_blocking(move || parse::parse(&raw))
            .await
            .map_err(|e| ApplyError::Permanent(format!("parser crashed: {e}")))?
            .map_err(|e| ApplyError::Permanent(format!("cannot parse: {e}")))?;
        let skipped = limits::apply(&mut message, row.raw_size as usize, &self.config.limits);
        let facts = self.facts(&message).await?;
        if let Some(reason) = self.fails_authentication(&message, &facts) {
            warn!(reason, "quarantined");
            self.store.quarantine_inbound(row.id, &reason).await?;
            return Ok(("quarantined".into(), None));
        }
        if message.report.is_some() {
            return self.bounce(row, &message).await;
        }
        let route = classify::classify(&message, &facts);
        if let Some(number) = self.thread(&message, &facts.agents).await? {
            if let Some(case) = self.store.case_by_number(number.0).await? {
                tracing::Span::current().record("case", number.0);
                return match route {
                    Route::Ignore(reason) => {
                        self.log_only(row, &message, reason, Some(case.id)).await
                    }
                    _ => self.on_case(row, &message, &case, &facts, &skipped).await,
                };
            }
        }
        match route {
            Route::Ignore(reason) => self.log_only(row, &message, reason, None).await,
            Route::AccessDenied { sender } => self.deny(row, &message, &sender).await,
            Route::NewCase(case) => match crate::requests::parse(&message.subject, &message.text) {
                Some(request) => {
                    self.self_service(row, &message, &case.requester, request)
                        .await
                }
                None => self.open_case(row, &message, &case, None, &skipped).await,
            },
        }
    }

    /// The case a reply belongs to, after SPEC.md's threading rules.
    async fn thread(
        &self,
        message: &InboundMessage,
        agents: &HashSet<EmailAddress>,
    ) -> Result<Option<CaseNumber>, StoreError> {
        let secrets = self.config.support.secrets();
        let mut received = HashMap::new();
        for id in thread::references(message) {
            if let Some(n) = self.store.case_of_received(&id).await? {
                received.insert(id, CaseNumber(n));
            }
        }
        let mut participants = HashMap::new();
        for n in thread::candidates(message, &secrets, &received) {
            if let Some(case) = self.store.case_by_number(n.0).await? {
                let people = self.store.case_participants(case.id).await?;
                let set = people
                    .into_iter()
                    .filter_map(|(e, _)| EmailAddress::parse(&e).ok())
                    .collect();
                participants.insert(n, set);
            }
        }
        let facts = ThreadFacts {
            received,
            participants,
            agents: agents.clone(),
        };
        Ok(thread::find_case(message, &secrets, &facts).map(|(n, _)| n))
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
        for m in message.from.iter().chain(&message.to).chain(&message.cc) {
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
        Ok(self.profile_of(address).await?.0)
    }

    /// The customer's language (or the support default) and the name their profile gives.
    async fn profile_of(
        &self,
        address: &EmailAddress,
    ) -> Result<(Language, Option<String>), StoreError> {
        let stored = self.store.customer(address.as_str()).await?;
        let language = stored
            .as_ref()
            .and_then(|c| c.language.as_deref())
            .and_then(|l| l.parse().ok())
            .unwrap_or(self.config.support.language);
        Ok((language, stored.and_then(|c| c.name)))
    }

    /// Open the apply transaction; `None` when another copy or process already applied it.
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

    /// The history entry of the received mail itself.
    async fn record_inbound(
        &self,
        tx: &mut CaseTx,
        row: &InboundRow,
        message: &InboundMessage,
        case_id: Option<i64>,
        kind: &str,
        body: Option<&str>,
    ) -> Result<i64, ApplyError> {
        let to = message
            .to
            .iter()
            .chain(&message.cc)
            .map(|m| m.address.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let id = tx
            .add_email(&NewEmail {
                case_id,
                from_inbound: true,
                direction: "in",
                kind,
                from_addr: message.from.as_ref().map_or("", |m| m.address.as_str()),
                to_addrs: &to,
                subject: &message.subject,
                message_id: message.message_id.as_deref(),
                body_text: body,
                raw_hash: &row.raw_hash,
                raw_size: row.raw_size as usize,
            })
            .await?;
        if !IgnoreReason::ALL.iter().any(|r| r.as_str() == kind) {
            if let Some(sender) = &message.from {
                // It writes to us: whatever bounced before works again.
                tx.clear_failing(sender.address.as_str()).await?;
            }
        }
        Ok(id)
    }

    /// Store the mail's attachments on the case (bytes already in the blob store).
    async fn record_attachments(
        &self,
        tx: &mut CaseTx,
        message: &InboundMessage,
        case_id: i64,
        email_id: i64,
        hashes: &[BlobHash],
    ) -> Result<(), ApplyError> {
        for (attachment, hash) in message.attachments.iter().zip(hashes) {
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
        Ok(())
    }

    async fn store_attachments(
        &self,
        message: &InboundMessage,
    ) -> Result<Vec<BlobHash>, ApplyError> {
        let mut hashes = Vec::with_capacity(message.attachments.len());
        for attachment in &message.attachments {
            hashes.push(self.put_blob(attachment.bytes.clone()).await?);
        }
        Ok(hashes)
    }

    /// Automatic mail, our own mail, reports: kept in the history (on their case when they
    /// belong to one), never answered.
    async fn log_only(
        &self,
        row: &InboundRow,
        message: &InboundMessage,
        reason: IgnoreReason,
        case_id: Option<i64>,
    ) -> Applied {
        let Some(mut tx) = self.begin(row).await? else {
            return Ok(("duplicate".into(), None));
        };
        self.record_inbound(&mut tx, row, message, case_id, reason.as_str(), None)
            .await?;
        tx.finish(reason.as_str(), false).await?;
        Ok((reason.as_str().into(), None))
    }
}
