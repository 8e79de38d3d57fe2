//! The only module that speaks SQL. One set of queries serves SQLite (the embedded default)
//! and PostgreSQL (several buzon processes on one database): `$N` placeholders, `RETURNING`,
//! `ON CONFLICT`, integers for times and flags. Migrations differ only in column types.

mod cases;
mod directory;
mod guards;
mod inbound;
mod outbox;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor};

pub use cases::{CaseFilter, CaseRow, CaseTx, EmailRow, NewAttachment, NewCaseRow, NewEmail};
pub use directory::{AgentRow, CustomerRow, OrgRow};
pub use inbound::{FetchedMail, InboundRow};
pub use outbox::OutboxJob;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0}")]
    Invalid(String),
}

impl StoreError {
    /// Worth trying again after a pause: the database is busy, locked, full or unreachable,
    /// rather than the request being wrong.
    pub fn is_retryable(&self) -> bool {
        match self {
            StoreError::Database(e) => match e {
                sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => true,
                sqlx::Error::Database(db) => {
                    let msg = db.message().to_ascii_lowercase();
                    msg.contains("locked")
                        || msg.contains("busy")
                        || msg.contains("disk")
                        || msg.contains("full")
                        || msg.contains("readonly")
                        || msg.contains("read-only")
                        || db.code().is_some_and(|c| {
                            c.starts_with("40") || c.starts_with("53") || c.starts_with("08")
                        })
                }
                _ => false,
            },
            _ => false,
        }
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Store {
    /// Connect; SQLite files are created when missing and put in WAL mode.
    pub async fn connect(url: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let (backend, url) = if url.starts_with("sqlite:") {
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
        Ok(Store { pool, backend })
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
    async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// A cheap round trip, for `buzon check` and health.
    pub async fn ping(&self) -> Result<()> {
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
