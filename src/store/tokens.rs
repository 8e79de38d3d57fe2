//! The OAuth2 login of the mailbox: its sealed refresh token and whether refreshing it
//! fails. Every change that follows a refresh names the token it refreshed from, so a
//! `buzon auth login` that lands meanwhile is never overwritten by the old token's heir.

use sqlx::any::AnyRow;

use super::{get, now_ms, Result, Store};

/// One account's stored login.
#[derive(Debug, Clone)]
pub struct TokenRow {
    /// The refresh token as sealed by `oauth2::seal` (never the token itself).
    pub sealed_refresh: String,
    pub obtained_at: i64,
    pub rotated_at: i64,
    pub failure: Option<TokenFailure>,
    /// When support.admin was last mailed about the failure.
    pub admin_told_at: Option<i64>,
}

/// Refreshing the access token fails, and has since `since` (ms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenFailure {
    pub account: String,
    pub since: i64,
    pub error: String,
    /// The provider refused the refresh token (revoked, expired, consent withdrawn): only
    /// `buzon auth login` mends it. Otherwise the provider could not be reached.
    pub refused: bool,
}

fn failure_of(row: &AnyRow) -> Result<Option<TokenFailure>> {
    let since: Option<i64> = get(row, "failing_since")?;
    let Some(since) = since else {
        return Ok(None);
    };
    Ok(Some(TokenFailure {
        account: get(row, "account")?,
        since,
        error: get::<Option<String>>(row, "failure")?.unwrap_or_default(),
        refused: get::<i64>(row, "refused")? != 0,
    }))
}

impl Store {
    pub async fn oauth2_token(&self, account: &str) -> Result<Option<TokenRow>> {
        let row = sqlx::query("SELECT * FROM oauth2_tokens WHERE account = $1")
            .bind(account)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            Ok(TokenRow {
                sealed_refresh: get(&row, "sealed_refresh")?,
                obtained_at: get(&row, "obtained_at")?,
                rotated_at: get(&row, "rotated_at")?,
                failure: failure_of(&row)?,
                admin_told_at: get(&row, "admin_told_at")?,
            })
        })
        .transpose()
    }

    /// `buzon auth login`: this token replaces any earlier one, and any failure is over.
    pub async fn save_oauth2_login(&self, account: &str, sealed: &str) -> Result<()> {
        let _turn = self.write_turn().await;
        let now = now_ms();
        sqlx::query(
            "INSERT INTO oauth2_tokens (account, sealed_refresh, obtained_at, rotated_at)
             VALUES ($1, $2, $3, $3)
             ON CONFLICT (account) DO UPDATE SET sealed_refresh = excluded.sealed_refresh,
                 obtained_at = excluded.obtained_at, rotated_at = excluded.rotated_at,
                 failing_since = NULL, failure = NULL, refused = 0, admin_told_at = NULL",
        )
        .bind(account)
        .bind(sealed)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A refresh from `from` worked: the rotated token (when the provider sent one) and the
    /// end of any failure, in one statement. False when `from` is no longer the stored
    /// token (a newer login won; it stays).
    pub async fn oauth2_refreshed(
        &self,
        account: &str,
        from: &str,
        rotated: Option<&str>,
    ) -> Result<bool> {
        let _turn = self.write_turn().await;
        let done = sqlx::query(
            "UPDATE oauth2_tokens SET sealed_refresh = COALESCE($3, sealed_refresh),
                 rotated_at = CASE WHEN $3 IS NULL THEN rotated_at ELSE $4 END,
                 failing_since = NULL, failure = NULL, refused = 0, admin_told_at = NULL
             WHERE account = $1 AND sealed_refresh = $2",
        )
        .bind(account)
        .bind(from)
        .bind(rotated)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Refreshing from `from` failed; the failure's start is kept from the first attempt.
    pub async fn oauth2_failed(
        &self,
        account: &str,
        from: &str,
        error: &str,
        refused: bool,
    ) -> Result<()> {
        let _turn = self.write_turn().await;
        sqlx::query(
            "UPDATE oauth2_tokens SET failing_since = COALESCE(failing_since, $3),
                 failure = $4, refused = $5
             WHERE account = $1 AND sealed_refresh = $2",
        )
        .bind(account)
        .bind(from)
        .bind(now_ms())
        .bind(error)
        .bind(refused as i64)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// support.admin was mailed about the current failure at `at` (ms).
    pub async fn oauth2_admin_told(&self, account: &str, at: i64) -> Result<()> {
        let _turn = self.write_turn().await;
        sqlx::query("UPDATE oauth2_tokens SET admin_told_at = $2 WHERE account = $1")
            .bind(account)
            .bind(at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The failing OAuth2 login, if one fails: for `buzon check`, `buzon status` and
    /// `/health`.
    pub async fn oauth2_failure(&self) -> Result<Option<TokenFailure>> {
        let row = sqlx::query(
            "SELECT * FROM oauth2_tokens WHERE failing_since IS NOT NULL
             ORDER BY failing_since LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => failure_of(&row),
            None => Ok(None),
        }
    }
}
