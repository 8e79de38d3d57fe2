//! The middle of the journey: take a stored mail, parse it, decide what it is (pure
//! `classify` and `thread`), and write its whole effect — case, history, attachments,
//! outgoing mail — in one transaction. [`Processor::process_batch`] is one step: the daemon
//! and `buzon import` loop over it. Reading and parsing the batch's mails, and the blobs it
//! writes, are in `staging.rs`; the history entry of the received mail in `record.rs`; who
//! the mail is about in `people.rs`.

mod crash_only;
mod fanout;
mod guards;
mod history;
mod limits;
mod new_case;
mod outgoing;
mod people;
mod proofs;
mod record;
mod reply;
mod self_service;
mod staging;
mod threading;

use std::sync::Arc;

use tracing::{info, warn, Instrument};

use crate::blobs::{BlobStore, Staged};
use crate::classify::{self, Route};
use crate::compose::Composer;
use crate::config::Config;
use crate::parse::InboundMessage;
use crate::store::{CaseTx, InboundRow, Store, StoreError};
use crate::thread::ThreadRule;
pub use crash_only::CRASHES_BEFORE_PARKING;
use record::Entry;

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
    /// A batch run without savepoints cannot finish (a mail failed half-way, or another
    /// process applied one of its mails): run it again with a savepoint per mail.
    #[error("a mail failed half-way or was applied elsewhere; the batch runs again with a savepoint per mail")]
    NeedsSavepoints,
}

/// A blob that is not there is a permanent problem for its mail; an unreachable database
/// or an unreadable disk is a passing one.
fn missing_or_passing(e: std::io::Error) -> ApplyError {
    match e.kind() {
        std::io::ErrorKind::NotFound | std::io::ErrorKind::InvalidInput => {
            ApplyError::Permanent(format!("raw mail missing from storage: {e}"))
        }
        _ => ApplyError::Io(e),
    }
}

impl ApplyError {
    /// A database error that waiting will not cure (the database refuses this mail's
    /// data) parks the mail like any other permanent problem; busy, locked, unreachable
    /// and storage errors stay passing.
    fn into_permanent_unless_passing(self) -> ApplyError {
        match self {
            ApplyError::Store(e) if !e.is_retryable() => ApplyError::Permanent(e.to_string()),
            other => other,
        }
    }
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
    /// Blobs the current batch wrote, published (fsync'd) just before it commits.
    staged: std::sync::Mutex<Vec<Staged>>,
}

/// A mail read and parsed, with the attachments the limits kept out.
struct Parsed {
    message: InboundMessage,
    skipped: Vec<limits::Skipped>,
    /// The attachments' blobs, published with the batch.
    staged: Vec<Staged>,
}

/// Most raw bytes one batch takes (it always takes at least one mail).
const BATCH_BYTES: i64 = 8 * 1024 * 1024;

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
            staged: Default::default(),
        }
    }

    /// Record outgoing mail without sending it (importing an archive from another desk).
    pub fn without_sending(mut self) -> Self {
        self.send_mail = false;
        self
    }

    /// Outgoing messages due and not yet taken by a sender.
    pub async fn outbox_waiting(&self) -> Result<i64, StoreError> {
        self.store.outbox_waiting().await
    }

    /// How many waiting outgoing messages keep every SMTP connection busy for a moment.
    pub fn outbox_high_water(&self) -> i64 {
        (self.config.smtp.connections as i64 * crate::send::CLAIM_BATCH * 4).max(32)
    }

    /// Apply the oldest waiting mail (a batch of one).
    pub async fn process_next(&self) -> Result<Step, StoreError> {
        Ok(self
            .process_batch(1)
            .await?
            .into_iter()
            .next()
            .unwrap_or(Step::Idle))
    }

    /// Apply up to `max` waiting mails (fewer when they are large) in one transaction. It
    /// runs first without savepoints, all or nothing, its deferrable writes left for its end;
    /// if a mail fails half-way or another process got to one of its mails, it runs again
    /// with a savepoint per mail, so that a mail that cannot be processed is parked alone. A
    /// passing problem (database busy, disk full) gives the whole batch back for later. One
    /// commit and one round of fsyncs serve the batch, which is what makes a backlog drain
    /// fast.
    pub async fn process_batch(&self, max: usize) -> Result<Vec<Step>, StoreError> {
        let rows = self
            .store
            .claim_inbound_batch(max as i64, BATCH_BYTES)
            .await?;
        if rows.is_empty() {
            return Ok(vec![Step::Idle]);
        }
        if let Some(step) = crash_only::park_if_crashing(&self.store, &rows).await? {
            return Ok(vec![step]);
        }
        // Savepoints cost two statements a mail and are needed only when a mail fails
        // half-way; the batch runs without them and again with them after such a failure.
        let mut applied = self.parse_and_apply(&rows, rows.len() == 1).await;
        if matches!(applied, Err(ApplyError::NeedsSavepoints)) {
            self.blobs.discard(std::mem::take(&mut *self.staged()));
            applied = self.parse_and_apply(&rows, true).await;
        }
        match applied {
            Ok(steps) => Ok(steps),
            Err(e) => {
                self.blobs.discard(std::mem::take(&mut *self.staged()));
                let error = e.to_string();
                warn!(error, mails = rows.len(), "batch deferred");
                let mut steps = Vec::with_capacity(rows.len());
                for row in &rows {
                    self.store.release_inbound(row.id, &error).await?;
                    steps.push(Step::Deferred {
                        inbound_id: row.id,
                        error: error.clone(),
                    });
                }
                Ok(steps)
            }
        }
    }

    /// The batch's transaction. An error returned here is a passing one: nothing of the
    /// batch is committed and every mail of it stays pending.
    async fn parse_and_apply(
        &self,
        rows: &[InboundRow],
        with_savepoints: bool,
    ) -> Result<Vec<Step>, ApplyError> {
        let mut messages = self.parse_all(rows).await;
        for parsed in messages.iter_mut().flatten() {
            self.staged().append(&mut parsed.staged);
        }
        self.apply_batch(rows, messages, with_savepoints).await
    }

    async fn apply_batch(
        &self,
        rows: &[InboundRow],
        messages: Vec<Result<Parsed, ApplyError>>,
        with_savepoints: bool,
    ) -> Result<Vec<Step>, ApplyError> {
        let mut tx = self.store.begin_batch().await?;
        self.read_ahead(&mut tx, rows, &messages).await?;
        let mut steps = Vec::with_capacity(rows.len());
        for (row, parsed) in rows.iter().zip(messages) {
            if with_savepoints {
                tx.start_mail().await?;
            }
            let span = tracing::info_span!("apply", inbound = row.id, case = tracing::field::Empty);
            let applied = match parsed {
                Ok(parsed) => {
                    let applied = self
                        .process(&mut tx, row, parsed)
                        .instrument(span.clone())
                        .await;
                    let applied = applied.map_err(ApplyError::into_permanent_unless_passing);
                    if !with_savepoints && matches!(applied, Err(ApplyError::Permanent(_))) {
                        return Err(ApplyError::NeedsSavepoints);
                    }
                    applied
                }
                // Unreadable mail made no change in the transaction.
                Err(e) => Err(e),
            };
            steps.push(self.settle(&mut tx, row, applied).instrument(span).await?);
        }
        self.close_batch(tx, with_savepoints).await?;
        Ok(steps)
    }

    /// Keep what a mail did, or undo it and park the mail; a passing problem ends the batch.
    async fn settle(
        &self,
        tx: &mut CaseTx,
        row: &InboundRow,
        applied: Applied,
    ) -> Result<Step, ApplyError> {
        match applied {
            Ok((outcome, case)) => {
                tx.end_mail().await?;
                info!(outcome, uid = row.uid, "mail applied");
                Ok(Step::Done {
                    inbound_id: row.id,
                    outcome,
                    case,
                })
            }
            Err(ApplyError::Permanent(error)) => {
                tx.rollback_mail().await?;
                warn!(error, "mail parked as failed");
                tx.fail_inbound(row.id, &error).await?;
                Ok(Step::Failed {
                    inbound_id: row.id,
                    error,
                })
            }
            Err(passing) => Err(passing),
        }
    }

    /// The batch's deferred writes, its blob files published, then the one commit.
    async fn close_batch(&self, mut tx: CaseTx, with_savepoints: bool) -> Result<(), ApplyError> {
        // Before the blob files are published, so that a batch run again leaves none behind.
        match tx.write_deferred().await {
            Ok(true) => {}
            // Another process applied one of these mails after our lease ran out, or took
            // one of their dedupe keys: claim each mail before applying it, skip that one.
            Ok(false) => return Err(ApplyError::NeedsSavepoints),
            // The database refuses a row the batch deferred: find the mail it belongs to.
            Err(e) if !with_savepoints && !e.is_retryable() => {
                return Err(ApplyError::NeedsSavepoints)
            }
            Err(e) => return Err(e.into()),
        }
        let staged = std::mem::take(&mut *self.staged());
        let blobs = self.blobs.clone();
        let inline = tokio::task::spawn_blocking(move || blobs.publish(staged))
            .await
            .map_err(|e| ApplyError::Io(std::io::Error::other(e.to_string())))??;
        tx.put_small_blobs(&inline).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Read the directory rows and automatic-mail counts of everyone the batch's mails
    /// come from or go to, and which of their dedupe keys are taken: one statement each
    /// rather than one per mail.
    async fn read_ahead(
        &self,
        tx: &mut CaseTx,
        rows: &[InboundRow],
        messages: &[Result<Parsed, ApplyError>],
    ) -> Result<(), StoreError> {
        let addresses: Vec<&str> = messages
            .iter()
            .flatten()
            .flat_map(|p| {
                p.message
                    .from
                    .iter()
                    .chain(&p.message.to)
                    .chain(&p.message.cc)
            })
            .map(|m| m.address.as_str())
            .filter(|a| *a != self.config.support.address.as_str())
            .collect();
        let since = tx.now() - guards::HOUR_MS;
        let keys: Vec<&str> = rows.iter().map(|r| r.dedupe_key.as_str()).collect();
        tx.read_ahead(&addresses, since, &keys).await
    }

    async fn process(&self, tx: &mut CaseTx, row: &InboundRow, parsed: Parsed) -> Applied {
        let Parsed {
            message, skipped, ..
        } = parsed;
        let facts = self.facts(tx, &message).await?;
        if let Some(held) = self.fails_authentication(row, &message, &facts) {
            return self.quarantine(tx, row, &message, held).await;
        }
        if message.report.is_some() {
            return self.bounce(tx, row, &message).await;
        }
        let route = classify::classify(&message, &facts);
        if let Some((number, rule)) = self.thread(tx, &message, &facts.agents).await? {
            // A new mail that asks for something keeps its request although it names a case
            // (`historial del caso #3`, `mis casos [Caso #3]`; issue 13 item 7).
            let request = rule == ThreadRule::SubjectTag
                && matches!(route, Route::NewCase(_))
                && crate::requests::despite_tag(&message.subject, &message.text).is_some();
            if let Some(case) = tx.case_by_number(number.0).await?.filter(|_| !request) {
                tracing::Span::current().record("case", number.0);
                return match route {
                    Route::Ignore(reason) => {
                        self.log_only(tx, row, &message, reason, Some(case.id))
                            .await
                    }
                    _ => {
                        self.on_case(tx, row, &message, &case, &facts, &skipped)
                            .await
                    }
                };
            }
        }
        match route {
            Route::Ignore(reason) => self.log_only(tx, row, &message, reason, None).await,
            Route::AccessDenied { sender } => self.deny(tx, row, &message, &sender).await,
            Route::NewCase(case) => {
                if let Some(applied) = self.confirmed_profile(tx, row, &message).await? {
                    return applied;
                }
                self.new_mail(tx, row, &message, &case, &skipped).await
            }
        }
    }

    /// A new mail from a provisioned customer: a request, or a new case.
    async fn new_mail(
        &self,
        tx: &mut CaseTx,
        row: &InboundRow,
        message: &InboundMessage,
        case: &classify::NewCase,
        skipped: &[limits::Skipped],
    ) -> Applied {
        let request = crate::requests::despite_tag(&message.subject, &message.text)
            .or_else(|| crate::requests::parse(&message.subject, &message.text));
        match request {
            Some(request) => {
                self.self_service(tx, row, message, &case.requester, request)
                    .await
            }
            None => {
                let case = self.about_another_case(tx, message, case).await?;
                self.open_case(tx, row, message, &case, None, skipped).await
            }
        }
    }
}
