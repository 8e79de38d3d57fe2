//! One mail outside the outbox: buzon's own word to support.admin that its login fails. It
//! goes at once over a connection of its own, because the outbox waits for the very login
//! that is failing (while the refresh fails, the access token in hand still works for a
//! while, so this mail can still leave).

use lettre::address::Envelope;
use lettre::Address;

use super::{connect_with, SendError};
use crate::config::Config;
use crate::domain::EmailAddress;
use crate::oauth2::TokenSource;

pub async fn send_notice(
    config: &Config,
    tokens: Option<&TokenSource>,
    to: &EmailAddress,
    raw: &[u8],
) -> Result<(), SendError> {
    let parse = |a: &str| {
        a.parse::<Address>()
            .map_err(|e| SendError::Invalid(format!("address {a}: {e}")))
    };
    let from = config.support.address.as_str();
    let envelope = Envelope::new(Some(parse(from)?), vec![parse(to.as_str())?])
        .map_err(|e| SendError::Invalid(e.to_string()))?;
    let domain = config.support.address.domain();
    let (mut conn, _) = connect_with(&config.smtp, domain, tokens).await?;
    conn.send(&envelope, raw).await?;
    let _ = conn.quit().await;
    Ok(())
}
