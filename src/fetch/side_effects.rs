//! What processing asks of the mailbox afterwards: processed mail flagged or moved.

use futures::TryStreamExt;
use tracing::warn;

use super::{mailbox_key, uid_set, FetchError, Fetcher, ImapSession};
use crate::config::OnProcessed;

impl Fetcher {
    /// Flag or move (`imap.on_processed`) the mails the processor has finished with, until
    /// none waits; a server that refuses leaves the mail where it is, which is safe.
    pub(super) async fn apply_side_effects(
        &self,
        session: &mut ImapSession,
        uidvalidity: u32,
    ) -> Result<(), FetchError> {
        let key = mailbox_key(&self.mailbox.imap);
        loop {
            let pending = self.store.awaiting_imap_effect(&key, uidvalidity).await?;
            if pending.is_empty() {
                return Ok(());
            }
            let uids: Vec<u32> = pending.iter().map(|(_, uid)| *uid).collect();
            let set = uid_set(&uids);
            let result = match &self.mailbox.imap.on_processed {
                OnProcessed::Flag => match session
                    .uid_store(&set, "+FLAGS.SILENT (\\Seen $Buzon)")
                    .await
                {
                    Ok(stream) => stream.try_collect::<Vec<_>>().await.map(|_| ()),
                    Err(e) => Err(e),
                },
                OnProcessed::Move(target) => session.uid_mv(&set, target).await,
            };
            match result {
                Ok(()) => {}
                Err(async_imap::error::Error::No(why))
                | Err(async_imap::error::Error::Bad(why)) => {
                    // The server will not flag or move these; the mail is safe either way.
                    warn!(why, "IMAP side effect refused");
                }
                Err(e) => return Err(e.into()),
            }
            let ids: Vec<i64> = pending.iter().map(|(id, _)| *id).collect();
            self.store.mark_imap_done(&ids).await?;
        }
    }
}
