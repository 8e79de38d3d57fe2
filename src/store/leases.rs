//! Leases: who is working on what, so that several processes on one PostgreSQL share the
//! work and a dead one's work is taken over. Mails being applied and outgoing mail being
//! sent carry their lease on their own rows (`lease_until`, `lease_owner`); the watcher of
//! each mailbox holds a row of `fetch_leases`. An owner is `host/pid/start-ms`: a restarted
//! process takes back at once what a crashed process on the same machine held, and a
//! stopping process gives back what it holds, so that others need not wait for expiry.

use super::{get, now_ms, Result, Store};

/// How long a fetch lease lasts without a heartbeat: a dead watcher's mailbox is taken
/// over this long after its last heartbeat (plus one contender's poll, well within the
/// 15 s SPEC.md allows).
pub const FETCH_LEASE_MS: i64 = 10_000;
/// How long a process counts as alive after its last heartbeat (`processes`).
pub const ALIVE_MS: i64 = 10_000;

/// This process, as written on the leases it takes: `host/pid/start-ms`.
pub(crate) fn lease_owner() -> &'static str {
    static OWNER: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    OWNER.get_or_init(|| format!("{}/{}/{}", host_name(), std::process::id(), now_ms()))
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

/// Whether the process named in a lease owner on this host is gone.
fn owner_is_dead(owner: &str, host: &str) -> bool {
    let mut parts = owner.split('/');
    let (Some(h), Some(pid)) = (parts.next(), parts.next()) else {
        return false;
    };
    h == host
        && pid != std::process::id().to_string()
        && !std::path::Path::new("/proc").join(pid).exists()
}

/// The three kinds of lease, each with the statements that list its live owners and give
/// back one owner's leases.
const LEASED: [(&str, &str); 3] = [
    (
        "SELECT DISTINCT lease_owner AS owner FROM inbound_mail WHERE lease_owner IS NOT NULL AND lease_until > $1",
        "UPDATE inbound_mail SET lease_until = NULL WHERE lease_owner = $1 AND state = 'pending'",
    ),
    (
        "SELECT DISTINCT lease_owner AS owner FROM outbox WHERE lease_owner IS NOT NULL AND lease_until > $1",
        "UPDATE outbox SET lease_until = NULL WHERE lease_owner = $1 AND state = 'pending'",
    ),
    (
        "SELECT owner FROM fetch_leases WHERE lease_until > $1",
        "DELETE FROM fetch_leases WHERE owner = $1",
    ),
];

impl Store {
    /// Take back the leases that crashed processes on this machine still hold, so their work
    /// is redone now rather than when the leases run out. Returns how many were released.
    pub(crate) async fn release_orphaned_leases(&self) -> Result<u64> {
        let _turn = self.write_turn().await;
        let host = host_name();
        let mut released = 0;
        for (owners, release) in LEASED {
            let owners: Vec<String> = sqlx::query(owners)
                .bind(now_ms())
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|r| get(r, "owner"))
                .collect::<Result<_>>()?;
            for owner in owners.iter().filter(|o| owner_is_dead(o, &host)) {
                released += sqlx::query(release)
                    .bind(owner)
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
            }
        }
        Ok(released)
    }

    /// A clean stop: give back every lease this process still holds (a mailbox it watched,
    /// mails it was applying, outgoing mail it was sending), so other processes take the
    /// work over at once. A claim given back this way does not count as a crash.
    pub(crate) async fn release_own_leases(&self) -> Result<u64> {
        let _turn = self.write_turn().await;
        // Outbox claims are named `owner/random`, one name per claim.
        let me = lease_owner();
        let statements = [
            ("DELETE FROM fetch_leases WHERE owner = $1", me.to_string()),
            ("DELETE FROM processes WHERE owner = $1", me.to_string()),
            (
                "UPDATE inbound_mail SET lease_until = NULL, attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END
                 WHERE lease_owner = $1 AND state = 'pending' AND lease_until IS NOT NULL",
                me.to_string(),
            ),
            (
                "UPDATE outbox SET lease_until = NULL, attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END
                 WHERE lease_owner LIKE $1 AND state = 'pending' AND lease_until IS NOT NULL",
                format!("{me}/%"),
            ),
        ];
        let mut released = 0;
        for (sql, owner) in statements {
            released += sqlx::query(sql)
                .bind(owner)
                .execute(&self.pool)
                .await?
                .rows_affected();
        }
        Ok(released)
    }

    /// Take `mailbox`'s fetch lease for `FETCH_LEASE_MS`, or renew it: true while this
    /// process holds it. Taken when nobody holds it or its holder's lease ran out; one
    /// statement, so two processes asking at once cannot both get it.
    pub async fn take_fetch_lease(&self, mailbox: &str) -> Result<bool> {
        let now = now_ms();
        let done = sqlx::query(
            "INSERT INTO fetch_leases (mailbox, owner, heartbeat_at, lease_until) VALUES ($1, $2, $3, $4)
             ON CONFLICT (mailbox) DO UPDATE
               SET owner = excluded.owner, heartbeat_at = excluded.heartbeat_at, lease_until = excluded.lease_until
             WHERE fetch_leases.owner = excluded.owner OR fetch_leases.lease_until < excluded.heartbeat_at",
        )
        .bind(mailbox)
        .bind(lease_owner())
        .bind(now)
        .bind(now + FETCH_LEASE_MS)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Give `mailbox` up (a clean stop, or a lease found lost).
    pub async fn release_fetch_lease(&self, mailbox: &str) -> Result<()> {
        sqlx::query("DELETE FROM fetch_leases WHERE mailbox = $1 AND owner = $2")
            .bind(mailbox)
            .bind(lease_owner())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Who watches `mailbox` now (`host/pid/start-ms`), if anyone's lease is running.
    pub async fn fetch_lease_holder(&self, mailbox: &str) -> Result<Option<String>> {
        let row =
            sqlx::query("SELECT owner FROM fetch_leases WHERE mailbox = $1 AND lease_until > $2")
                .bind(mailbox)
                .bind(now_ms())
                .fetch_optional(&self.pool)
                .await?;
        row.map(|r| get(&r, "owner")).transpose()
    }

    /// This process is alive for `ALIVE_MS` more (PostgreSQL: every process beats).
    pub async fn beat(&self) -> Result<()> {
        let now = now_ms();
        sqlx::query(
            "INSERT INTO processes (owner, heartbeat_at, alive_until) VALUES ($1, $2, $3)
             ON CONFLICT (owner) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, alive_until = excluded.alive_until",
        )
        .bind(lease_owner())
        .bind(now)
        .bind(now + ALIVE_MS)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Take over the mails and outgoing mail leased by processes that stopped beating
    /// (killed, paused, their machine gone): their leases end now. A mail's claim still
    /// counts as the death it was (crash-only: `attempts` stays up). Returns how many rows.
    pub async fn reap_dead_leases(&self) -> Result<u64> {
        let _turn = self.write_turn().await;
        let now = now_ms();
        let statements = [
            "UPDATE inbound_mail SET lease_until = NULL
             WHERE state = 'pending' AND lease_until > $1
               AND lease_owner IN (SELECT owner FROM processes WHERE alive_until < $1)",
            "UPDATE outbox SET lease_until = NULL
             WHERE state = 'pending' AND lease_until > $1
               AND EXISTS (SELECT 1 FROM processes p WHERE p.alive_until < $1 AND outbox.lease_owner LIKE p.owner || '/%')",
        ];
        let mut reaped = 0;
        for sql in statements {
            reaped += sqlx::query(sql)
                .bind(now)
                .execute(&self.pool)
                .await?
                .rows_affected();
        }
        // A day later nothing can still be leased in a dead process's name.
        sqlx::query("DELETE FROM processes WHERE alive_until < $1")
            .bind(now - 24 * 3600 * 1000)
            .execute(&self.pool)
            .await?;
        Ok(reaped)
    }

    /// The processes (`host/pid/start-ms`) holding a running lease of any kind: on mails
    /// being applied, outgoing mail being sent, or a mailbox watched.
    pub async fn lease_holders(&self) -> Result<Vec<String>> {
        let now = now_ms();
        let mut holders = std::collections::BTreeSet::new();
        for (owners, _) in LEASED {
            for row in sqlx::query(owners).bind(now).fetch_all(&self.pool).await? {
                let owner: String = get(&row, "owner")?;
                // Outbox claims are `owner/random`.
                holders.insert(owner.splitn(4, '/').take(3).collect::<Vec<_>>().join("/"));
            }
        }
        Ok(holders.into_iter().collect())
    }
}
