//! One apply batch: the transaction and the blob files its mails staged, owned together so
//! that whatever way a batch ends, its files end with it. A batch that commits publishes
//! them (fsync'd, just before the commit); one dropped without committing — a passing
//! error, a mail that failed half-way, a panic — deletes them.
//!
//! Handlers receive `&mut Batch`; it dereferences to the store's [`ApplyTx`] for reads and
//! writes, and adds the blobs.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use tracing::{info, warn, Instrument};

use super::{crash_only, missing_or_passing, ApplyError, Outcome, Parsed, Processor, Step};
use crate::blobs::{BlobHash, BlobStore, Staged};
use crate::config::MailboxConfig;
use crate::store::{ApplyTx, BatchKeys, BatchMode, InboundRow, Store, StoreError, Window};

pub(crate) struct Batch {
    /// Taken only by [`Batch::commit`].
    tx: Option<ApplyTx>,
    blobs: BlobStore,
    /// Files written for this batch, not yet visible under their names.
    staged: Vec<Staged>,
    /// The mailbox the mail in hand belongs to (set for each mail by `process`).
    queue: Option<Arc<MailboxConfig>>,
}

impl Batch {
    pub(crate) async fn begin(
        store: &Store,
        blobs: &BlobStore,
        mode: BatchMode,
    ) -> Result<Batch, StoreError> {
        Ok(Batch {
            tx: Some(store.begin_batch(mode).await?),
            blobs: blobs.clone(),
            staged: Vec::new(),
            queue: None,
        })
    }

    /// The mail in hand belongs to this mailbox: its case's mail goes out from there.
    pub(crate) fn serve(&mut self, queue: &Arc<MailboxConfig>) {
        self.queue = Some(queue.clone());
    }

    pub(crate) fn queue(&self) -> Option<&MailboxConfig> {
        self.queue.as_deref()
    }

    /// Files written before the transaction opened (a mail's attachments, at parse time).
    pub(crate) fn adopt(&mut self, staged: &mut Vec<Staged>) {
        self.staged.append(staged);
    }

    /// Write bytes to the blob store; they become visible when the batch commits.
    pub(crate) async fn put_blob(&mut self, bytes: Vec<u8>) -> Result<BlobHash, ApplyError> {
        if self.blobs.in_database(bytes.len()) {
            let (hash, staged) = self.blobs.stage_row(bytes);
            self.staged.push(staged);
            return Ok(hash);
        }
        let blobs = self.blobs.clone();
        let (hash, staged) = tokio::task::spawn_blocking(move || blobs.stage(&bytes))
            .await
            .map_err(|e| ApplyError::Permanent(e.to_string()))??;
        self.staged.extend(staged);
        Ok(hash)
    }

    /// A blob's bytes, also when this batch wrote it and has not published it yet (`&mut`
    /// only so that a handler's future stays `Send`: the transaction is not `Sync`).
    pub(crate) async fn read_blob(&mut self, hash: &str) -> Result<Vec<u8>, ApplyError> {
        if let Some(read) = self.staged.iter().find_map(|s| s.read_if(hash)) {
            return Ok(read?);
        }
        self.blobs.get(hash).await.map_err(missing_or_passing)
    }

    /// The deferred writes, the blob files published, then the one commit.
    pub(crate) async fn commit(mut self) -> Result<(), ApplyError> {
        // Before the blob files are published, so that a batch run again leaves none behind.
        match self.write_deferred().await {
            Ok(true) => {}
            // Another process applied one of these mails after our lease ran out, or took
            // one of their dedupe keys: claim each mail before applying it, skip that one.
            Ok(false) => return Err(ApplyError::NeedsSavepoints),
            // The database refuses a row the batch deferred: find the mail it belongs to.
            Err(e) if self.mode() == BatchMode::AllOrNothing && !e.is_retryable() => {
                return Err(ApplyError::NeedsSavepoints)
            }
            Err(e) => return Err(e.into()),
        }
        let staged = std::mem::take(&mut self.staged);
        let blobs = self.blobs.clone();
        let inline = tokio::task::spawn_blocking(move || blobs.publish(staged))
            .await
            .map_err(|e| ApplyError::Io(std::io::Error::other(e.to_string())))??;
        self.put_blob_rows(&inline).await?;
        let tx = self.tx.take().expect("a batch commits once");
        tx.commit().await?;
        Ok(())
    }
}

impl Drop for Batch {
    fn drop(&mut self) {
        self.blobs.discard(std::mem::take(&mut self.staged));
    }
}

impl Deref for Batch {
    type Target = ApplyTx;
    fn deref(&self) -> &ApplyTx {
        self.tx
            .as_ref()
            .expect("a batch is not used after its commit")
    }
}

impl DerefMut for Batch {
    fn deref_mut(&mut self) -> &mut ApplyTx {
        self.tx
            .as_mut()
            .expect("a batch is not used after its commit")
    }
}

/// Run a batch as `first` says and, when that run is refused (a mail failed half-way, or
/// another process applied one of its mails), once more with a savepoint per mail.
async fn with_savepoints_if_refused<F, Fut>(
    first: BatchMode,
    mut run: F,
) -> Result<Vec<Step>, ApplyError>
where
    F: FnMut(BatchMode) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<Step>, ApplyError>>,
{
    match run(first).await {
        Err(ApplyError::NeedsSavepoints) => run(BatchMode::SavepointPerMail).await,
        other => other,
    }
}

/// Most raw bytes one batch takes (it always takes at least one mail).
const BATCH_BYTES: i64 = 8 * 1024 * 1024;

impl Processor {
    /// Apply up to `max` waiting mails (fewer when they are large) in one transaction. It
    /// runs first all or nothing ([`BatchMode::AllOrNothing`]); if a mail fails half-way or
    /// another process got to one of its mails, it runs again with a savepoint per mail, so
    /// that a mail that cannot be processed is parked alone. A passing problem (database
    /// busy, disk full) gives the whole batch back for later. One commit and one round of
    /// fsyncs serve the batch, which is what makes a backlog drain fast.
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
        // A batch of one gains nothing from running twice.
        let first = match rows.len() {
            1 => BatchMode::SavepointPerMail,
            _ => BatchMode::AllOrNothing,
        };
        let applied = with_savepoints_if_refused(first, |mode| self.run_batch(&rows, mode)).await;
        match applied {
            Ok(steps) => Ok(steps),
            Err(e) => self.put_back(&rows, e).await,
        }
    }

    /// A passing problem: every mail of the batch stays pending, for later.
    async fn put_back(&self, rows: &[InboundRow], e: ApplyError) -> Result<Vec<Step>, StoreError> {
        let error = e.to_string();
        warn!(error, mails = rows.len(), "batch postponed");
        let mut steps = Vec::with_capacity(rows.len());
        for row in rows {
            self.store.release_inbound(row.id, &error).await?;
            steps.push(Step::Postponed {
                inbound_id: row.id,
                error: error.clone(),
            });
        }
        Ok(steps)
    }

    /// One run of the batch. An error returned here is a passing one, or
    /// [`ApplyError::NeedsSavepoints`]: nothing of the batch is committed, and its staged
    /// files go with the dropped [`Batch`].
    async fn run_batch(
        &self,
        rows: &[InboundRow],
        mode: BatchMode,
    ) -> Result<Vec<Step>, ApplyError> {
        let mut messages = self.parse_all(rows).await;
        let mut batch = Batch::begin(&self.store, &self.blobs, mode).await?;
        for parsed in messages.iter_mut().flatten() {
            batch.adopt(&mut parsed.staged);
        }
        batch
            .read_ahead(&self.batch_keys(rows, &messages), Window::HOUR)
            .await?;
        let mut steps = Vec::with_capacity(rows.len());
        for (row, parsed) in rows.iter().zip(messages) {
            batch.start_mail(row.id).await?;
            let span = tracing::info_span!(
                "apply",
                mailbox = %row.mailbox,
                uid = row.uid,
                inbound = row.id,
                case = tracing::field::Empty
            );
            let applied = match parsed {
                Ok(parsed) => self
                    .process(&mut batch, row, parsed)
                    .instrument(span.clone())
                    .await
                    .map_err(ApplyError::into_permanent_unless_passing),
                // Unreadable mail made no change in the transaction.
                Err(e) => Err(e),
            };
            if mode == BatchMode::AllOrNothing && matches!(applied, Err(ApplyError::Permanent(_))) {
                return Err(ApplyError::NeedsSavepoints);
            }
            steps.push(
                self.settle(&mut batch, row, applied)
                    .instrument(span)
                    .await?,
            );
        }
        batch.commit().await?;
        Ok(steps)
    }

    /// Keep what a mail did, or undo it and park the mail; a passing problem ends the batch.
    async fn settle(
        &self,
        batch: &mut Batch,
        row: &InboundRow,
        applied: Result<Outcome, ApplyError>,
    ) -> Result<Step, ApplyError> {
        match applied {
            Ok(outcome) => {
                batch.end_mail().await?;
                info!(outcome = outcome.name(), uid = row.uid, "mail applied");
                Ok(Step::Done {
                    inbound_id: row.id,
                    outcome,
                })
            }
            Err(ApplyError::Permanent(error)) => {
                batch.rollback_mail().await?;
                warn!(error, "mail parked as failed");
                batch.fail_inbound(row.id, &error).await?;
                Ok(Step::Failed {
                    inbound_id: row.id,
                    error,
                })
            }
            Err(passing) => Err(passing),
        }
    }

    /// Everyone the batch's mails come from or go to, and their dedupe keys: read once for
    /// the batch rather than once per mail.
    fn batch_keys<'a>(
        &self,
        rows: &'a [InboundRow],
        messages: &'a [Result<Parsed, ApplyError>],
    ) -> BatchKeys<'a> {
        let addresses = messages
            .iter()
            .flatten()
            .flat_map(|p| {
                p.message
                    .from
                    .iter()
                    .chain(&p.message.to)
                    .chain(&p.message.cc)
            })
            .filter(|m| !self.config.is_own_address(&m.address))
            .map(|m| m.address.as_str())
            .collect();
        BatchKeys {
            addresses,
            dedupe_keys: rows.iter().map(|r| r.dedupe_key.as_str()).collect(),
        }
    }
}

#[cfg(test)]
#[path = "batch_tests.rs"]
mod tests;
