//! Before the apply transaction: the batch's mails read and parsed in parallel (on the
//! parse pool), their attachments staged in the blob store for the batch to publish.

use super::{limits, missing_or_passing, ApplyError, Parsed, Processor};
use crate::parse;
use crate::store::InboundRow;

impl Processor {
    /// Read and parse every mail of the batch, in parallel, before the transaction opens.
    pub(super) async fn parse_all(&self, rows: &[InboundRow]) -> Vec<Result<Parsed, ApplyError>> {
        let hashes: Vec<&str> = rows.iter().map(|r| r.raw_hash.as_str()).collect();
        // The batch's small raw mails in one query; the rest are files.
        let mut small = match self.store.small_blobs(&hashes).await {
            Ok(small) => small,
            Err(e) => {
                // The database is not answering: the whole batch waits.
                let why = e.to_string();
                return rows
                    .iter()
                    .map(|_| Err(ApplyError::Io(std::io::Error::other(why.clone()))))
                    .collect();
            }
        };
        let mut tasks = Vec::with_capacity(rows.len());
        for row in rows {
            let raw = match small.remove(&row.raw_hash) {
                Some(raw) => Ok(raw),
                None => self
                    .blobs
                    .get(&row.raw_hash)
                    .await
                    .map_err(missing_or_passing),
            };
            let (limits, size) = (self.config.limits.clone(), row.raw_size as usize);
            let blobs = self.blobs.clone();
            tasks.push(parse::pool::run(move || {
                let raw = raw?;
                crate::crash::poison(&raw);
                let mut message = parse::parse(&raw)
                    .map_err(|e| ApplyError::Permanent(format!("cannot parse: {e}")))?;
                let skipped = limits::apply(&mut message, size, &limits);
                // Attachments go to the blob store here, from the parsed bytes themselves.
                let mut staged = Vec::new();
                for attachment in &mut message.attachments {
                    let (hash, new) = blobs.stage(&attachment.bytes)?;
                    attachment.stored_as = Some(hash);
                    staged.extend(new);
                }
                Ok(Parsed {
                    message,
                    skipped,
                    staged,
                })
            }));
        }
        let mut parsed = Vec::with_capacity(tasks.len());
        for task in tasks {
            parsed.push(
                task.await
                    .unwrap_or_else(|e| Err(ApplyError::Permanent(e.to_string()))),
            );
        }
        parsed
    }
}
