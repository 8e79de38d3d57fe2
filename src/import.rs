//! `buzon import FILE.mbox|FILE.eml`: an archive (from another help desk, or a mailbox
//! export) fed through the same pipeline as fetched mail — stored raw, deduplicated by
//! Message-ID, processed — with a progress bar and a summary.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use crate::apply::Step;
use crate::daemon::App;
use crate::store::FetchedMail;

/// The messages of an mbox (mboxrd: `>From ` lines unescaped), or the file itself as one
/// message when it is not an mbox.
pub fn split_mbox(bytes: &[u8]) -> Vec<Vec<u8>> {
    if !bytes.starts_with(b"From ") {
        return vec![bytes.to_vec()];
    }
    let mut messages = Vec::new();
    let mut current: Option<Vec<u8>> = None;
    for line in bytes.split_inclusive(|b| *b == b'\n') {
        if line.starts_with(b"From ") {
            messages.extend(current.take().map(trim_separator));
            current = Some(Vec::new());
            continue;
        }
        let body = current.get_or_insert_with(Vec::new);
        match unescape_from(line) {
            Some(unescaped) => body.extend_from_slice(unescaped),
            None => body.extend_from_slice(line),
        }
    }
    messages.extend(current.map(trim_separator));
    messages.into_iter().filter(|m| !m.is_empty()).collect()
}

/// `>From `, `>>From ` … lose one `>` (mboxrd).
fn unescape_from(line: &[u8]) -> Option<&[u8]> {
    let quotes = line.iter().take_while(|b| **b == b'>').count();
    (quotes > 0 && line[quotes..].starts_with(b"From ")).then(|| &line[1..])
}

/// The blank line an mbox puts before the next `From ` line is not part of the message.
fn trim_separator(mut message: Vec<u8>) -> Vec<u8> {
    if message.ends_with(b"\r\n\r\n") || message.ends_with(b"\n\n") {
        message.pop();
        if message.ends_with(b"\r") {
            message.pop();
        }
    }
    message
}

pub async fn import(app: &App, path: &Path, send: bool) -> anyhow::Result<BTreeMap<String, usize>> {
    let bytes = std::fs::read(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let messages = split_mbox(&bytes);
    let key = format!("import:{}", path.display());
    let mut fetched = Vec::with_capacity(messages.len());
    for (i, raw) in messages.iter().enumerate() {
        let hash = app.blobs.put(raw).await?;
        let message_id = crate::parse::message_id(raw);
        let dedupe_key = match &message_id {
            Some(id) => format!("mid:{id}"),
            None => format!("sha256:{}", hash.0),
        };
        fetched.push(FetchedMail {
            uid: i as u32 + 1,
            message_id,
            dedupe_key,
            raw_hash: hash.0,
            raw_size: raw.len(),
            raw_inline: None,
        });
    }
    for chunk in fetched.chunks(500) {
        app.store.record_fetched(&key, 1, chunk).await?;
    }
    let processor = if send {
        app.processor()
    } else {
        app.processor().without_sending()
    };
    let total = messages.len();
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    let mut done = 0;
    'batches: loop {
        for step in processor.process_batch(64).await? {
            match step {
                Step::Idle => break 'batches,
                Step::Done { outcome, .. } => {
                    *outcomes.entry(outcome.name().into()).or_default() += 1
                }
                Step::Failed { .. } => *outcomes.entry("failed".into()).or_default() += 1,
                Step::Postponed { error, .. } => {
                    anyhow::bail!("stopped: {error} (run the import again to go on)")
                }
            }
            done += 1;
        }
        progress(done.min(total), total);
    }
    eprintln!();
    Ok(outcomes)
}

fn progress(done: usize, total: usize) {
    let width = 30;
    let filled = (done * width).checked_div(total).unwrap_or(width);
    let mut err = std::io::stderr().lock();
    let _ = write!(
        err,
        "\r[{}{}] {done}/{total}",
        "#".repeat(filled),
        ".".repeat(width - filled)
    );
    let _ = err.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mbox_splits_and_unescapes() {
        let mbox = b"From a@b Sat Nov 28 12:00:00 2026\nSubject: uno\n\nHola\n>From here\n\nFrom c@d Sat Nov 28 12:01:00 2026\nSubject: dos\n\nAdios\n";
        let messages = split_mbox(mbox);
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[0], b"Subject: uno\n\nHola\nFrom here\n");
        assert_eq!(messages[1], b"Subject: dos\n\nAdios\n");
        assert_eq!(
            split_mbox(b"Subject: x\r\n\r\nbody"),
            vec![b"Subject: x\r\n\r\nbody".to_vec()]
        );
    }

    #[test]
    fn mimekit_mbox_fixture_splits() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/mbox/issue1189.mbox.txt"
        );
        let bytes = std::fs::read(path).expect("fixture");
        let messages = split_mbox(&bytes);
        assert_eq!(messages.len(), 4, "the corpus index lists 4 messages");
        assert!(messages.iter().all(|m| crate::parse::parse(m).is_ok()));
    }
}
