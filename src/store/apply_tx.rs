//! The apply transaction itself: opening it for a batch, claiming each mail, savepoints,
//! parking a mail, and the commit. What the transaction writes lives with its tables
//! (`cases.rs`, `guards.rs`, `proofs.rs`, …); what it defers, in `batch.rs`.

use super::{now_ms, Result, Store};
use crate::store::Backend;

/// The transaction in which one received mail becomes its effects. Nothing is visible to
/// anyone until [`CaseTx::finish`] commits; dropping it rolls everything back.
pub struct CaseTx {
    pub(super) tx: super::WriteTx,
    pub(super) inbound_id: i64,
    pub(super) now: i64,
    /// A mail's savepoint is open.
    pub(super) in_mail: bool,
    pub(super) backend: Backend,
    /// What the batch already knows without asking the database again.
    pub(super) cache: super::cache::BatchCache,
    /// No savepoints: a failure throws the whole batch away, so some writes wait for its
    /// end ([`super::batch`]).
    pub(super) all_or_nothing: bool,
    pub(super) deferred: super::batch::Deferred,
}

impl Store {
    /// A transaction for a batch of mails: all or nothing, with its deferrable writes left
    /// for its end, until [`CaseTx::start_mail`] first opens a savepoint per mail (the
    /// batch's second run); one commit for the batch.
    pub async fn begin_batch(&self) -> Result<CaseTx> {
        Ok(CaseTx {
            tx: self.begin().await?,
            inbound_id: 0,
            now: now_ms(),
            in_mail: false,
            backend: self.backend,
            cache: Default::default(),
            all_or_nothing: true,
            deferred: Default::default(),
        })
    }

    /// Start applying inbound mail `inbound_id` alone. `None` when it is no longer pending
    /// (another process applied it first), so its effects are never made twice.
    pub async fn begin_apply(&self, inbound_id: i64) -> Result<Option<CaseTx>> {
        let mut tx = self.begin_batch().await?;
        tx.start_mail().await?;
        Ok(tx.claim(inbound_id).await?.then_some(tx))
    }
}

impl CaseTx {
    /// Open the savepoint of the next mail in the batch. A batch that uses savepoints
    /// writes everything at once: call this before the batch's first write.
    pub async fn start_mail(&mut self) -> Result<()> {
        self.all_or_nothing = false;
        sqlx::query("SAVEPOINT mail").execute(&mut *self.tx).await?;
        self.in_mail = true;
        Ok(())
    }

    /// Take inbound mail `inbound_id` for this transaction: false when it is no longer
    /// pending (another process applied it first), so its effects are never made twice.
    /// An all-or-nothing batch checks that at its end instead ([`CaseTx::write_deferred`]).
    pub async fn claim(&mut self, inbound_id: i64) -> Result<bool> {
        self.inbound_id = inbound_id;
        if self.all_or_nothing {
            return Ok(true);
        }
        let claimed = sqlx::query(
            "UPDATE inbound_mail SET state = 'done', processed_at = $1, lease_until = NULL, error = NULL
             WHERE id = $2 AND state = 'pending'",
        )
        .bind(self.now)
        .bind(inbound_id)
        .execute(&mut *self.tx)
        .await?;
        Ok(claimed.rows_affected() == 1)
    }

    /// Keep what the current mail did (a no-op when it finished already).
    pub async fn end_mail(&mut self) -> Result<()> {
        if std::mem::take(&mut self.in_mail) {
            sqlx::query("RELEASE SAVEPOINT mail")
                .execute(&mut *self.tx)
                .await?;
        }
        Ok(())
    }

    /// Undo everything the current mail did; the batch's other mails keep theirs.
    pub async fn rollback_mail(&mut self) -> Result<()> {
        let undone = std::mem::take(&mut self.in_mail);
        self.cache.forget_mail(undone);
        if undone {
            sqlx::query("ROLLBACK TO SAVEPOINT mail")
                .execute(&mut *self.tx)
                .await?;
            sqlx::query("RELEASE SAVEPOINT mail")
                .execute(&mut *self.tx)
                .await?;
        }
        Ok(())
    }

    /// Park a mail that cannot be processed (after [`rollback_mail`](Self::rollback_mail)).
    pub async fn fail_inbound(&mut self, id: i64, error: &str) -> Result<()> {
        super::inbound::park_inbound(&mut *self.tx, id, "failed", error).await
    }

    pub async fn quarantine_inbound(&mut self, id: i64, reason: &str) -> Result<()> {
        super::inbound::park_inbound(&mut *self.tx, id, "quarantined", reason).await
    }

    /// Commit the batch: every mail's effects become visible at once.
    pub async fn commit(mut self) -> Result<()> {
        if !self.write_deferred().await? {
            return Err(super::StoreError::Invalid(
                "a mail of the batch was applied by another process meanwhile".into(),
            ));
        }
        self.tx.commit().await?;
        crate::crash::point("apply.after_commit");
        Ok(())
    }

    pub fn now(&self) -> i64 {
        self.now
    }

    /// The transaction's connection, for the other store modules' statements.
    pub(super) fn conn(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.tx
    }
}
