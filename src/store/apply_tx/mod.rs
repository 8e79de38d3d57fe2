//! The apply transaction: one owner for opening it, claiming each mail, savepoints, parking
//! a mail and the commit. What it writes lives with its tables (`cases.rs`, `guards.rs`,
//! `proofs.rs`, …); when it writes them is decided here, by the batch's [`BatchMode`]:
//! `writes.rs` takes the rows, `deferred.rs` writes what waits for the batch's end,
//! `read_ahead.rs` reads what every mail of the batch will ask, and `cache.rs` keeps what the
//! batch knows, with the one `forget_mail` a rollback calls.

mod cache;
mod deferred;
mod read_ahead;
mod writes;

use super::{now_ms, Result, Store};
use crate::store::Backend;
pub use read_ahead::{BatchKeys, Window};

/// How a batch of mails is applied, chosen when it begins.
///
/// Savepoints cost two statements a mail and are needed only when a mail fails half-way,
/// so a batch runs first all or nothing and, when that fails, again with a savepoint per
/// mail (the caller, `apply::batch`, owns that retry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchMode {
    /// Any failure throws the whole batch away. Rows nobody reads back by id wait for the
    /// batch's end and go in with one statement per table ([`deferred`]); each mail is
    /// claimed there too.
    AllOrNothing,
    /// Each mail under its own savepoint, claimed before it writes and written as it goes:
    /// a mail that fails is undone alone.
    SavepointPerMail,
}

/// The transaction in which a batch of received mails becomes their effects. Nothing is
/// visible to anyone until [`ApplyTx::commit`]; dropping it rolls everything back.
pub struct ApplyTx {
    pub(super) tx: super::WriteTx,
    /// The mail being applied.
    pub(super) inbound_id: i64,
    pub(super) now: i64,
    mode: BatchMode,
    /// A mail's savepoint is open.
    in_mail: bool,
    /// The current mail is marked done in this transaction (a savepoint's claim).
    claimed: bool,
    pub(super) backend: Backend,
    /// What the batch already knows without asking the database again.
    pub(super) cache: cache::BatchCache,
    /// What an all-or-nothing batch writes at its end.
    pub(super) deferred: deferred::Deferred,
}

impl Store {
    /// A transaction for a batch of mails, applied as `mode` says; one commit for all.
    pub async fn begin_batch(&self, mode: BatchMode) -> Result<ApplyTx> {
        Ok(ApplyTx {
            tx: self.begin().await?,
            inbound_id: 0,
            now: now_ms(),
            mode,
            in_mail: false,
            claimed: false,
            backend: self.backend,
            cache: Default::default(),
            deferred: Default::default(),
        })
    }

    /// Start applying inbound mail `inbound_id` alone. `None` when it is no longer pending
    /// (another process applied it first), so its effects are never made twice.
    pub async fn begin_apply(&self, inbound_id: i64) -> Result<Option<ApplyTx>> {
        let mut tx = self.begin_batch(BatchMode::SavepointPerMail).await?;
        tx.start_mail(inbound_id).await?;
        Ok(tx.claim().await?.then_some(tx))
    }
}

impl ApplyTx {
    /// The next mail of the batch begins: with a savepoint per mail, its savepoint opens
    /// here, before any of its writes.
    pub async fn start_mail(&mut self, inbound_id: i64) -> Result<()> {
        self.inbound_id = inbound_id;
        self.claimed = false;
        if self.mode == BatchMode::SavepointPerMail {
            sqlx::query("SAVEPOINT mail").execute(&mut *self.tx).await?;
            self.in_mail = true;
        }
        Ok(())
    }

    /// Take the current mail for this transaction: false when it is no longer pending
    /// (another process applied it first), so its effects are never made twice. An
    /// all-or-nothing batch checks that at its end instead ([`ApplyTx::write_deferred`]).
    pub async fn claim(&mut self) -> Result<bool> {
        if self.defers() {
            return Ok(true);
        }
        let claimed = sqlx::query(
            "UPDATE inbound_mail SET state = 'done', processed_at = $1, lease_until = NULL, error = NULL
             WHERE id = $2 AND state = 'pending'",
        )
        .bind(self.now)
        .bind(self.inbound_id)
        .execute(&mut *self.tx)
        .await?;
        self.claimed = claimed.rows_affected() == 1;
        Ok(self.claimed)
    }

    /// Keep what the current mail did (a no-op when it finished already).
    pub(crate) async fn end_mail(&mut self) -> Result<()> {
        if std::mem::take(&mut self.in_mail) {
            sqlx::query("RELEASE SAVEPOINT mail")
                .execute(&mut *self.tx)
                .await?;
        }
        Ok(())
    }

    /// Undo everything the current mail did; the batch's other mails keep theirs.
    pub(crate) async fn rollback_mail(&mut self) -> Result<()> {
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

    /// Hold the current mail for an operator (`buzon failed`, `buzon retry`), also after
    /// this transaction claimed it: a handler may find a reason to hold it once it read
    /// what it needs. Its dedupe key, if taken, goes when it is retried.
    pub(crate) async fn quarantine_current(&mut self, reason: &str) -> Result<()> {
        let from = if self.claimed { "done" } else { "pending" };
        sqlx::query(
            "UPDATE inbound_mail SET state = 'quarantined', error = $1, lease_until = NULL, processed_at = $2
             WHERE id = $3 AND state = $4",
        )
        .bind(reason)
        .bind(self.now)
        .bind(self.inbound_id)
        .bind(from)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
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

    pub(crate) fn now(&self) -> i64 {
        self.now
    }

    pub(crate) fn mode(&self) -> BatchMode {
        self.mode
    }

    /// Rows nobody reads back by id wait for the batch's end.
    pub(super) fn defers(&self) -> bool {
        self.mode == BatchMode::AllOrNothing
    }

    /// The transaction's connection, for the other store modules' statements.
    pub(super) fn conn(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.tx
    }
}
