//! The scheduler: time-driven work as a stage of its own — SLA warnings and breaches
//! (`sla.rs`), reminders and closing cases that wait on a silent customer (`waiting.rs`),
//! and the agents' morning digest (`digest.rs`).
//!
//! It is driven by the database. Each tick asks the store what is due at the clock's `now`
//! ([`Scheduler::run_due`], the step function the daemon's loop and the tests call), and
//! each due item is claimed by inserting its key into `scheduled_done` in the same
//! transaction that queues its mail in the outbox (and closes the case, for an
//! auto-close). A second process finds the key taken; a process killed before its commit
//! left nothing, and the item is due again at the next tick. So a restart or a second
//! process neither repeats nor loses one; sending is the outbox's business, with its
//! at-most-one duplicate per kill per SMTP connection.

pub mod clock;
mod digest;
mod sla;
mod waiting;

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::{watch, Notify};
use tokio_util::sync::CancellationToken;
use tracing::warn;

use crate::apply::{ApplyError, Batch, Processor};
use crate::config::Config;
use crate::daemon::App;
use crate::domain::CaseId;
use crate::store::Store;
pub use clock::{Clock, ManualClock, ShiftedClock, SystemClock};

/// How often the daemon looks for due work: SLA targets are minutes, reminders days.
pub const TICK: Duration = Duration::from_secs(5);

/// Items of one kind handled per tick; the rest wait for the next.
const PER_TICK: i64 = 100;

/// What one tick did: mails queued by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tick {
    pub warnings: usize,
    pub breaches: usize,
    pub reminders: usize,
    pub closed: usize,
    pub digests: usize,
}

impl Tick {
    pub fn queued(&self) -> usize {
        self.warnings + self.breaches + self.reminders + self.closed + self.digests
    }
}

/// A due item's key in `scheduled_done`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Item {
    SlaWarning(crate::sla::Target),
    SlaBreach(crate::sla::Target),
    Reminder,
    AutoClose,
    Digest,
}

impl Item {
    fn key(self) -> String {
        match self {
            Item::SlaWarning(t) => format!("sla_warning:{}", t.name()),
            Item::SlaBreach(t) => format!("sla_breach:{}", t.name()),
            Item::Reminder => "reminder".into(),
            Item::AutoClose => "auto_close".into(),
            Item::Digest => "digest".into(),
        }
    }
}

pub struct Scheduler {
    processor: Processor,
    config: Arc<Config>,
    store: Store,
}

impl Scheduler {
    pub fn new(app: &App) -> Scheduler {
        Scheduler {
            processor: app.processor(),
            config: app.config.clone(),
            store: app.store.clone(),
        }
    }

    /// Everything due at `now`, each item in its own transaction. An item that fails is
    /// logged and stays due (its claim was not committed): it is tried again next tick.
    pub async fn run_due(&self, now: Timestamp) -> Result<Tick, crate::store::StoreError> {
        let mut tick = Tick::default();
        self.sla_due(now, &mut tick).await?;
        self.waiting_due(now, &mut tick).await?;
        self.digest_due(now, &mut tick).await?;
        Ok(tick)
    }

    /// Open the item's transaction and claim it, done at `now` on the scheduler's clock (a
    /// reminder's close counts from it): `None` when it was done already.
    async fn claim(
        &self,
        now: Timestamp,
        item: Item,
        case: CaseId,
        period: i64,
    ) -> Result<Option<Batch>, ApplyError> {
        let mut tx = self.processor.begin_scheduled().await?;
        match tx
            .claim_scheduled(&item.key(), case, period, now.as_millisecond())
            .await?
        {
            true => Ok(Some(tx)),
            false => Ok(None),
        }
    }
}

/// Count a handled item, or log why it failed (it stays due).
fn counted(result: Result<bool, ApplyError>, what: &str, case: i64, count: &mut usize) {
    match result {
        Ok(true) => *count += 1,
        Ok(false) => {}
        Err(e) => warn!(error = %e, case, what, "scheduled item failed; it stays due"),
    }
}

/// The daemon's scheduler task: a tick every [`TICK`] on the app's clock, the sender
/// poked when mail was queued, the configuration taken anew after a reload.
pub(crate) async fn run(
    mut current: watch::Receiver<App>,
    ready: Arc<Notify>,
    shutdown: CancellationToken,
) {
    let mut app = current.borrow_and_update().clone();
    let mut scheduler = Scheduler::new(&app);
    while !shutdown.is_cancelled() {
        if current.has_changed().unwrap_or(false) {
            app = current.borrow_and_update().clone();
            scheduler = Scheduler::new(&app);
        }
        match scheduler.run_due(app.clock.now()).await {
            Ok(tick) if tick.queued() > 0 => {
                tracing::info!(?tick, "scheduled mail queued");
                ready.notify_one();
            }
            Ok(_) => {}
            Err(e) => warn!(error = %e, "scheduler: the database did not answer"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(TICK) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Item;
    use crate::sla::Target;

    /// The store's due queries name these keys in SQL (`'sla_breach:' || sla_target`,
    /// `'reminder'`): a renamed key would make every item due again.
    #[test]
    fn item_keys_are_the_ones_the_due_queries_name() {
        assert_eq!(
            Item::SlaWarning(Target::FirstResponse).key(),
            "sla_warning:first_response"
        );
        assert_eq!(
            Item::SlaBreach(Target::NextResponse).key(),
            "sla_breach:next_response"
        );
        assert_eq!(Item::Reminder.key(), "reminder");
        assert_eq!(Item::AutoClose.key(), "auto_close");
        assert_eq!(Item::Digest.key(), "digest");
    }
}
