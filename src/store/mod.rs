//! The only module that speaks SQL. One set of queries serves SQLite (the embedded default)
//! and PostgreSQL (several buzon processes on one database): `$N` placeholders, `RETURNING`,
//! `ON CONFLICT`, integers for times and flags. Migrations differ only in column types.

mod apply_tx;
mod case_lists;
mod case_reads;
mod cases;
pub mod conflicts;
mod desk;
mod desk_time;
mod digest;
mod directory;
mod guards;
mod health;
mod ids;
mod inbound;
mod large_blobs;
mod leases;
mod outbox;
mod proofs;
mod small_blobs;
mod sql;
pub mod tokens;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor};

pub use apply_tx::{ApplyTx, BatchKeys, BatchMode, Window};
pub use cases::{
    AttachmentRow, CaseFilter, CaseRow, EmailRow, NewAttachment, NewCaseRow, NewEmail,
};
pub use desk::{DeskCases, DeskList};
pub use desk_time::CaseTiming;
pub use digest::{DigestCase, DigestFacts};
pub use directory::{AgentRow, CustomerRow, OrgRow};
pub use health::OldestPending;
pub use inbound::{FetchedMail, InboundRow};
pub use large_blobs::PART;
pub(crate) use leases::lease_owner;
pub use leases::FETCH_LEASE_MS;
pub use outbox::{OutboxJob, OutboxState};
pub use proofs::ProfileRequest;
pub use tokens::{TokenFailure, TokenRow};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Database(sqlx::Error),
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0}")]
    Invalid(String),
    /// Fetched mail was not committed: this process no longer holds the mailbox's fetch
    /// lease (it was paused or cut off past the lease; another process watches it now).
    #[error("the fetch lease of mailbox {0} is no longer this process's")]
    FetchLeaseLost(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> StoreError {
        conflicts::count(&e);
        StoreError::Database(e)
    }
}

impl StoreError {
    /// Worth trying again after a pause: the database is busy, locked, full or unreachable,
    /// rather than the request being wrong.
    pub fn is_retryable(&self) -> bool {
        match self {
            StoreError::Database(e) => match e {
                sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => true,
                sqlx::Error::Database(db) => db.code().is_some_and(|c| code_is_passing(&c)),
                _ => false,
            },
            _ => false,
        }
    }
}

/// Whether a database's own error code names a passing condition, by the code and never by
/// the message's words. PostgreSQL's SQLSTATEs are five characters: class 40 (serialization
/// failure, deadlock), 53 (disk full, out of memory, too many connections), 08 (connection),
/// 57P01-57P03 (shutdown, cannot connect now) and 55P03 (lock not available). SQLite's are
/// extended result codes (all below 10,000, so never five characters) whose low byte is
/// the primary one: BUSY, LOCKED, NOMEM, READONLY, IOERR, FULL, CANTOPEN, PROTOCOL.
fn code_is_passing(code: &str) -> bool {
    if code.len() == 5 {
        return matches!(&code[..2], "40" | "53" | "08")
            || matches!(code, "57P01" | "57P02" | "57P03" | "55P03");
    }
    const SQLITE_PASSING: [i32; 8] = [5, 6, 7, 8, 10, 13, 14, 15];
    code.parse::<i32>()
        .is_ok_and(|n| SQLITE_PASSING.contains(&(n & 0xff)))
}

pub type Result<T> = std::result::Result<T, StoreError>;

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// SQLite only: the writers of this process take turns here, first come first served.
    /// SQLite's own busy handler polls with growing sleeps, and a writer that commits and
    /// begins again at once (the processor draining a backlog) starved the sender for
    /// seconds.
    write_gate: Option<Arc<tokio::sync::Mutex<()>>>,
}

/// A write transaction holding this process's turn to write (SQLite).
pub struct WriteTx {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl WriteTx {
    pub async fn commit(self) -> std::result::Result<(), sqlx::Error> {
        self.tx.commit().await
    }
}

impl std::ops::Deref for WriteTx {
    type Target = sqlx::AnyConnection;
    fn deref(&self) -> &Self::Target {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.tx
    }
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Store {
    /// Connect; SQLite files are created when missing (private: 0600) and put in WAL mode.
    pub async fn connect(url: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let (backend, url) = if url.starts_with("sqlite:") {
            crate::private_files::sqlite_database(url);
            let url = if url.contains('?') || url.contains(":memory:") {
                url.to_string()
            } else {
                format!("{url}?mode=rwc")
            };
            (Backend::Sqlite, url)
        } else {
            (Backend::Postgres, url.to_string())
        };
        let options = AnyPoolOptions::new()
            .acquire_timeout(Duration::from_secs(30))
            .max_connections(match backend {
                Backend::Sqlite => 4,
                Backend::Postgres => 8,
            });
        let options = match backend {
            Backend::Sqlite => options.after_connect(|conn, _meta| {
                Box::pin(async move {
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute("PRAGMA synchronous = NORMAL").await?;
                    conn.execute("PRAGMA busy_timeout = 10000").await?;
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                    Ok(())
                })
            }),
            Backend::Postgres => options,
        };
        let pool = options.connect(&url).await?;
        let write_gate = (backend == Backend::Sqlite).then(Default::default);
        Ok(Store {
            pool,
            backend,
            write_gate,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub async fn migrate(&self) -> Result<()> {
        match self.backend {
            Backend::Sqlite => sqlx::migrate!("migrations/sqlite").run(&self.pool).await?,
            Backend::Postgres => {
                sqlx::migrate!("migrations/postgres")
                    .run(&self.pool)
                    .await?
            }
        }
        Ok(())
    }

    /// A write transaction. SQLite takes the write lock at BEGIN, so two writers queue on
    /// the busy timeout instead of failing when one upgrades a read lock.
    async fn begin(&self) -> Result<WriteTx> {
        let turn = self.write_turn().await;
        let tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        };
        Ok(WriteTx { tx, _turn: turn })
    }

    /// This process's turn to write (SQLite; PostgreSQL locks rows, not the database).
    async fn write_turn(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        match &self.write_gate {
            Some(gate) => Some(gate.clone().lock_owned().await),
            None => None,
        }
    }

    pub(crate) async fn close(&self) {
        self.pool.close().await;
    }

    /// Run one SQL statement written by the operator or a benchmark (never by mail).
    pub async fn execute_raw(&self, sql: &str) -> Result<u64> {
        let _turn = self.write_turn().await;
        let done = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// A cheap round trip, for `buzon check` and health.
    pub(crate) async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

fn get<T>(row: &AnyRow, column: &str) -> Result<T>
where
    T: for<'r> sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    use sqlx::Row;
    Ok(row.try_get(column)?)
}

#[cfg(test)]
mod passing_tests {
    use super::code_is_passing;

    #[test]
    fn passing_errors_are_known_by_their_codes() {
        // PostgreSQL: serialization failure, deadlock, disk full, connection, shutdown.
        for code in [
            "40001", "40P01", "53100", "53300", "08006", "57P01", "55P03",
        ] {
            assert!(code_is_passing(code), "{code}");
        }
        // PostgreSQL: unique violation, syntax error, NUL in text, query canceled.
        for code in ["23505", "42601", "22021", "57014"] {
            assert!(!code_is_passing(code), "{code}");
        }
        // SQLite: BUSY, LOCKED, BUSY_SNAPSHOT (517), READONLY, IOERR_WRITE (778), FULL.
        for code in ["5", "6", "517", "8", "778", "13"] {
            assert!(code_is_passing(code), "{code}");
        }
        // SQLite: CONSTRAINT_UNIQUE (2067), ERROR, MISMATCH, TOOBIG.
        for code in ["2067", "1", "20", "18"] {
            assert!(!code_is_passing(code), "{code}");
        }
    }
}
