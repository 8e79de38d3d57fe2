//! A mail's raw bytes into the blob store as they come off the wire: a batch of small
//! ones together, a large one piece by piece. Bytes the database keeps (small ones; every
//! one on PostgreSQL) are carried, moved and never copied, to the transaction that records
//! the mails.

use futures::TryStreamExt;

use super::{fetched_mail, FetchError, Fetcher, ImapSession, LARGE_PIECE};
use crate::store::FetchedMail;

impl Fetcher {
    /// A large mail in pieces (`BODY.PEEK[]<offset.length>`, RFC 9051 partial fetch),
    /// each written to its blob file as it arrives: never held whole in memory (SQLite). On
    /// PostgreSQL the pieces gather in one buffer of the mail's size for the database.
    pub(super) async fn fetch_large(
        &self,
        session: &mut ImapSession,
        uid: u32,
        size: usize,
    ) -> Result<FetchedMail, FetchError> {
        let mut writer = self.blobs.writer(size)?;
        let mut head = Vec::new();
        let mut offset = 0;
        while offset < size {
            let query = format!("(UID BODY.PEEK[]<{offset}.{LARGE_PIECE}>)");
            let fetched: Vec<_> = session
                .uid_fetch(uid.to_string(), &query)
                .await?
                .try_collect()
                .await?;
            let piece = fetched
                .iter()
                .find(|f| f.uid == Some(uid))
                .and_then(|f| f.body())
                .ok_or_else(|| FetchError::Protocol(format!("no part of UID {uid} at {offset}")))?;
            if piece.is_empty() {
                break;
            }
            if head.is_empty() {
                head = piece[..piece.len().min(64 * 1024)].to_vec();
            }
            writer.write(piece)?;
            offset += piece.len();
        }
        let (hash, staged) = writer.finish()?;
        let blobs = self.blobs.clone();
        let mut inline = tokio::task::spawn_blocking(move || blobs.publish(vec![staged]))
            .await
            .map_err(|e| FetchError::Protocol(e.to_string()))??;
        let mut mail = fetched_mail(uid, offset, hash, crate::parse::message_id(&head));
        mail.raw_inline = inline.pop().map(|(_, bytes)| bytes);
        Ok(mail)
    }

    /// The batch's raw bytes into the blob store: files fsync'd together, the bytes the
    /// database keeps carried to the transaction that records them.
    pub(super) async fn store_raw(
        &self,
        fetched: Vec<(u32, Vec<u8>)>,
    ) -> Result<Vec<FetchedMail>, FetchError> {
        let blobs = self.blobs.clone();
        tokio::task::spawn_blocking(move || {
            let mut mails = Vec::with_capacity(fetched.len());
            let mut staged = Vec::new();
            for (uid, raw) in fetched {
                let (message_id, size) = (crate::parse::message_id(&raw), raw.len());
                let (hash, new) = if blobs.in_database(size) {
                    let (hash, row) = blobs.stage_row(raw);
                    (hash, Some(row))
                } else {
                    match blobs.stage(&raw) {
                        Ok(done) => done,
                        Err(e) => {
                            blobs.discard(staged);
                            return Err(e);
                        }
                    }
                };
                staged.extend(new);
                mails.push(fetched_mail(uid, size, hash, message_id));
            }
            for (hash, bytes) in blobs.publish(staged)? {
                if let Some(mail) = mails.iter_mut().find(|m| m.raw_hash == hash) {
                    mail.raw_inline = Some(bytes);
                }
            }
            Ok::<_, std::io::Error>(mails)
        })
        .await
        .map_err(|e| FetchError::Protocol(e.to_string()))?
        .map_err(FetchError::Io)
    }
}
