//! What a mail must prove before it changes anything (issue 12): whom buzon sent a signed
//! mail to, profile changes waiting for their confirmation, and desk-wide hourly counts.

use super::apply_tx::{ApplyTx, Window};
use super::{get, Result};

/// A `perfil` change waiting for the customer to answer its confirmation mail.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileRequest {
    pub name: Option<String>,
    pub language: Option<String>,
}

impl ApplyTx {
    /// The addresses buzon sent the mail with this Message-ID to, if it sent one.
    pub(crate) async fn sent_to(&mut self, message_id: &str) -> Result<Option<Vec<String>>> {
        self.write_before_reading().await?;
        let row = sqlx::query(
            "SELECT to_addrs FROM emails WHERE message_id = $1 AND direction = 'out' LIMIT 1",
        )
        .bind(message_id)
        .fetch_optional(self.conn())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let to: String = get(&row, "to_addrs")?;
        Ok(Some(
            to.split(',')
                .map(|a| a.trim().to_string())
                .filter(|a| !a.is_empty())
                .collect(),
        ))
    }

    /// Automatic mails of any of `kinds` sent to anyone in `window`: the desk-wide caps
    /// that a flood from many addresses cannot get around.
    pub(crate) async fn auto_mails_of_kinds_within(
        &mut self,
        kinds: &[&str],
        window: Window,
    ) -> Result<i64> {
        let since_ms = self.now - window.ms;
        self.write_before_reading().await?;
        let mut total = 0;
        for kind in kinds {
            let row = sqlx::query(
                "SELECT COUNT(*) AS n FROM auto_mail_log WHERE kind = $1 AND sent_at >= $2",
            )
            .bind(*kind)
            .bind(since_ms)
            .fetch_one(self.conn())
            .await?;
            total += get::<i64>(&row, "n")?;
        }
        Ok(total)
    }

    /// Cases `requester` opened in `window`: a flood of new cases is stopped at the door.
    pub(crate) async fn cases_opened_within(
        &mut self,
        requester: &str,
        window: Window,
    ) -> Result<i64> {
        let since_ms = self.now - window.ms;
        let row = sqlx::query(
            // A case made since then was also touched since then: the requester index serves.
            "SELECT COUNT(*) AS n FROM cases
             WHERE requester = $1 AND updated_at >= $2 AND created_at >= $2",
        )
        .bind(requester)
        .bind(since_ms)
        .fetch_one(self.conn())
        .await?;
        get(&row, "n")
    }

    /// Remember a profile change until the confirmation mail `message_id` is answered.
    pub(crate) async fn save_profile_request(
        &mut self,
        message_id: &str,
        email: &str,
        request: &ProfileRequest,
    ) -> Result<()> {
        let now = self.now();
        sqlx::query(
            "INSERT INTO profile_requests (message_id, email, name, language, created_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(message_id)
        .bind(email)
        .bind(request.name.as_deref())
        .bind(request.language.as_deref())
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// The change a confirmation mail asked about, once: only for the address it went to.
    pub(crate) async fn take_profile_request(
        &mut self,
        message_id: &str,
        email: &str,
    ) -> Result<Option<ProfileRequest>> {
        let row = sqlx::query(
            "DELETE FROM profile_requests WHERE message_id = $1 AND email = $2
             RETURNING name, language",
        )
        .bind(message_id)
        .bind(email)
        .fetch_optional(self.conn())
        .await?;
        row.map(|r| {
            Ok(ProfileRequest {
                name: get(&r, "name")?,
                language: get(&r, "language")?,
            })
        })
        .transpose()
    }
}
