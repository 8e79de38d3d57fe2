//! Crash-only processing: a mail that took the process down while being processed is
//! not tried for ever. Every claim is counted in the database before the mail is read
//! (`Store::claim_inbound_batch`), so a process that dies on a mail — a stack overflow,
//! an abort, the kernel's OOM killer — leaves the count behind. After
//! [`CRASHES_BEFORE_PARKING`] such deaths the mail is parked as failed, kept raw and listed
//! by `buzon failed`, and the mails behind it flow again; `buzon retry` gives it another go.

use tracing::error;

use super::Step;
use crate::store::{InboundRow, Store, StoreError};

/// Process deaths on one mail before it is parked: one could be a coincidence (a power
/// cut, a deploy's kill), three in a row are the mail.
pub const CRASHES_BEFORE_PARKING: i64 = 3;

/// Park the batch's mail if it is one that keeps killing the process. A suspect (a mail
/// claimed before and never answered) is always claimed alone, so the batch is then that
/// one mail.
pub(super) async fn park_if_crashing(
    store: &Store,
    rows: &[InboundRow],
) -> Result<Option<Step>, StoreError> {
    let [row] = rows else {
        return Ok(None);
    };
    // This claim counted too: the deaths are the claims before it.
    let deaths = row.attempts - 1;
    if deaths < CRASHES_BEFORE_PARKING {
        return Ok(None);
    }
    let error = format!(
        "the process died {deaths} times while processing this mail; parked, not tried again automatically (buzon retry {})",
        row.id
    );
    error!(
        inbound = row.id,
        uid = row.uid,
        deaths,
        "mail parked: it keeps killing the process"
    );
    store.fail_inbound(row.id, &error).await?;
    Ok(Some(Step::Failed {
        inbound_id: row.id,
        error,
    }))
}
