//! The conflicts PostgreSQL settles by aborting one transaction, counted as they happen:
//! deadlocks (40P01) and serialization failures (40001). Both are passing errors
//! ([`super::StoreError::is_retryable`]) that the stage meeting them retries, so the counts
//! say how much several processes on one database fight (`buzon_database_conflicts_total`,
//! the log line at stop, and the cluster benchmark). Counted for the whole process.

use std::sync::atomic::{AtomicU64, Ordering};

/// A transaction PostgreSQL aborted so that others could go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Conflict {
    /// 40P01: two transactions waited on each other's locks.
    Deadlock,
    /// 40001: a serialization failure.
    Serialization,
}

impl Conflict {
    pub const ALL: [Conflict; 2] = [Conflict::Deadlock, Conflict::Serialization];

    /// The SQLSTATE, as PostgreSQL names it.
    pub fn code(self) -> &'static str {
        match self {
            Conflict::Deadlock => "40P01",
            Conflict::Serialization => "40001",
        }
    }

    fn of(e: &sqlx::Error) -> Option<Conflict> {
        let code = e.as_database_error()?.code()?;
        Conflict::ALL.into_iter().find(|c| c.code() == code)
    }
}

static COUNTS: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];

/// Count `e` if it is a conflict.
pub(super) fn count(e: &sqlx::Error) {
    if let Some(conflict) = Conflict::of(e) {
        COUNTS[conflict as usize].fetch_add(1, Ordering::Relaxed);
    }
}

/// How many conflicts of this kind this process met since it started.
pub fn met(conflict: Conflict) -> u64 {
    COUNTS[conflict as usize].load(Ordering::Relaxed)
}
