//! The middle of the journey: take a stored mail, parse it, decide what it is (pure
//! `classify` and `thread`), and write its whole effect — case, history, attachments,
//! outgoing mail — in one transaction. [`Processor::process_batch`] is one step: the daemon
//! and `buzon import` loop over it.
//!
//! `batch.rs` runs a batch (its transaction, staged files, and the savepoint retry);
//! `staging.rs` reads and parses its mails; [`Processor::process`] here decides what a mail
//! is and hands it to one handler (`new_case.rs`, `reply.rs`, `self_service.rs`,
//! `guards.rs`' bounces, `record.rs`' log-only mail), having claimed it once. A handler is
//! a function of the mail and the batch that returns an [`Outcome`]; it may read and write
//! in any order, and never claims or finishes the mail itself.

mod agent_mail;
mod batch;
mod crash_only;
mod damaged;
mod desk;
mod desk_time;
mod fanout;
mod guards;
mod history;
mod limits;
mod new_case;
mod outcome;
mod outgoing;
mod people;
mod proofs;
mod record;
mod reply;
mod self_service;
mod staging;
mod threading;

use std::sync::Arc;

use crate::blobs::{BlobStore, Staged};
use crate::classify::{self, Route};
use crate::compose::Composer;
use crate::config::Config;
use crate::domain::CaseNumber;
use crate::parse::InboundMessage;
use crate::store::{CaseRow, InboundRow, Store, StoreError};
use crate::thread::ThreadRule;
pub(crate) use batch::Batch;
use classify::Facts;
pub use crash_only::CRASHES_BEFORE_PARKING;
pub(crate) use new_case::empty_case;
pub use outcome::{Outcome, RequestAnswer};
pub(crate) use outgoing::{facts_of, CaseRef, Outgoing};
use record::Entry;
pub(crate) use reply::thread_for_customers;

/// What one step did.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Nothing was waiting.
    Idle,
    /// The mail's effect is committed.
    Done { inbound_id: i64, outcome: Outcome },
    /// Kept raw and parked for `buzon failed` / `buzon retry`.
    Failed { inbound_id: i64, error: String },
    /// A passing problem (database busy, disk full); the mail stays pending, for later.
    Postponed { inbound_id: i64, error: String },
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum ApplyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Permanent(String),
    #[error("storage: {0}")]
    Io(#[from] std::io::Error),
    /// A batch run without savepoints cannot finish (a mail failed half-way, or another
    /// process applied one of its mails): run it again with a savepoint per mail.
    #[error("a mail failed half-way or was applied elsewhere; the batch runs again with a savepoint per mail")]
    NeedsSavepoints,
}

/// A blob that is not there is a permanent problem for its mail; an unreachable database
/// or an unreadable disk is a passing one.
fn missing_or_passing(e: std::io::Error) -> ApplyError {
    match e.kind() {
        std::io::ErrorKind::NotFound | std::io::ErrorKind::InvalidInput => {
            ApplyError::Permanent(format!("raw mail missing from storage: {e}"))
        }
        _ => ApplyError::Io(e),
    }
}

impl ApplyError {
    /// A database error that waiting will not cure (the database refuses this mail's
    /// data) parks the mail like any other permanent problem; busy, locked, unreachable
    /// and storage errors stay passing.
    fn into_permanent_unless_passing(self) -> ApplyError {
        match self {
            ApplyError::Store(e) if !e.is_retryable() => ApplyError::Permanent(e.to_string()),
            other => other,
        }
    }
}

/// What a handler returns.
type Applied = Result<Outcome, ApplyError>;

/// What [`Processor::decide`] found the mail to be.
enum Decision {
    /// Held for an operator: parked, not claimed.
    Hold(proofs::Held),
    Handle(Handler),
}

/// The handler a claimed mail goes to.
enum Handler {
    Bounce,
    /// Logged only, on its case when it threads into one.
    Ignore(classify::IgnoreReason, Option<crate::domain::CaseId>),
    Deny(crate::domain::Mailbox),
    /// Boxed: a case row is large beside the other handlers.
    OnCase(Box<CaseRow>),
    NewMail(classify::NewCase),
}

/// A claimed mail, as its handler sees it.
struct Mail<'a> {
    row: &'a InboundRow,
    message: &'a InboundMessage,
    facts: &'a Facts,
    skipped: &'a [limits::Skipped],
}

pub struct Processor {
    store: Store,
    blobs: BlobStore,
    composer: Arc<Composer>,
    config: Arc<Config>,
    /// False for archive imports: outgoing mail is recorded but never sent.
    send_mail: bool,
}

/// A mail read and parsed, with the attachments the limits kept out.
struct Parsed {
    message: InboundMessage,
    skipped: Vec<limits::Skipped>,
    /// The attachments' blobs, published with the batch.
    staged: Vec<Staged>,
}

impl Processor {
    pub fn new(
        store: Store,
        blobs: BlobStore,
        composer: Arc<Composer>,
        config: Arc<Config>,
    ) -> Self {
        Processor {
            store,
            blobs,
            composer,
            config,
            send_mail: true,
        }
    }

    /// A transaction for the scheduler's work, whose mail this processor composes and
    /// queues like a handler's. Its rows are dated by the real clock (the outbox sends
    /// what is due by it); the scheduler's own clock only decides what is due.
    pub(crate) async fn begin_scheduled(&self) -> Result<Batch, StoreError> {
        Batch::begin(
            &self.store,
            &self.blobs,
            crate::store::BatchMode::SavepointPerMail,
        )
        .await
    }

    /// Record outgoing mail without sending it (importing an archive from another desk).
    pub fn without_sending(mut self) -> Self {
        self.send_mail = false;
        self
    }

    /// Outgoing messages due and not yet taken by a sender.
    pub async fn outbox_waiting(&self) -> Result<i64, StoreError> {
        self.store.outbox_waiting().await
    }

    /// How many waiting outgoing messages keep every SMTP connection busy for a moment.
    pub fn outbox_high_water(&self) -> i64 {
        (self.config.smtp.connections as i64 * crate::send::CLAIM_BATCH * 4).max(32)
    }

    /// Decide what the mail is, claim it once, hand it to its handler, finish it once. Mail
    /// held for an operator is parked instead, so that `buzon retry` applies it.
    async fn process(&self, batch: &mut Batch, row: &InboundRow, parsed: Parsed) -> Applied {
        let Parsed {
            message, skipped, ..
        } = parsed;
        batch.serve(self.config.mailbox_fetched_as(&row.mailbox));
        let facts = self.facts(batch, &message).await?;
        let handler = match self.decide(batch, row, &message, &facts).await? {
            Decision::Hold(held) => return self.quarantine(batch, row, &message, held).await,
            Decision::Handle(handler) => handler,
        };
        if let Handler::OnCase(case) = &handler {
            // A reply belongs to its case's mailbox, whichever address it was written to.
            batch.serve(self.config.mailbox_named(&case.mailbox));
        }
        if !self.claim(batch, row).await? {
            return Ok(Outcome::Duplicate);
        }
        let mail = Mail {
            row,
            message: &message,
            facts: &facts,
            skipped: &skipped,
        };
        let outcome = self.handle(batch, &mail, handler).await?;
        // A handler may still hold the mail (a flood cap): it is parked, not finished.
        if outcome != Outcome::Quarantined {
            batch.finish_mail(outcome.name(), false).await?;
        }
        Ok(outcome)
    }

    /// Which handler the mail goes to; reads only.
    async fn decide(
        &self,
        batch: &mut Batch,
        row: &InboundRow,
        message: &InboundMessage,
        facts: &Facts,
    ) -> Result<Decision, ApplyError> {
        if let Some(held) = self.fails_authentication(row, message, facts) {
            return Ok(Decision::Hold(held));
        }
        if message.report.is_some() {
            return Ok(Decision::Handle(Handler::Bounce));
        }
        let route = classify::classify(message, facts);
        if let Some((case, named)) = self.threaded_case(batch, message, facts, &route).await? {
            tracing::Span::current().record("case", case.number);
            if let Route::Ignore(reason) = route {
                return Ok(Decision::Handle(Handler::Ignore(reason, Some(case.id))));
            }
            if let Some(held) = self.unproven_agent(row, message, facts, named) {
                return Ok(Decision::Hold(held));
            }
            return Ok(Decision::Handle(Handler::OnCase(Box::new(case))));
        }
        Ok(Decision::Handle(match route {
            Route::Ignore(reason) => Handler::Ignore(reason, None),
            Route::AccessDenied { sender } => Handler::Deny(sender),
            Route::NewCase(case) => match self.unproven_agent_request(row, message, facts, &case) {
                Some(held) => return Ok(Decision::Hold(held)),
                None => Handler::NewMail(case),
            },
        }))
    }

    /// The case the mail threads into, and the number the mail named (a merged case's
    /// mail lands on the case it was merged into, but proves an agent by its own), unless
    /// it is a new mail that asks for something although it names a case (`historial del
    /// caso #3`, `mis casos [Caso #3]`, an agent's `caso #3`).
    async fn threaded_case(
        &self,
        batch: &mut Batch,
        message: &InboundMessage,
        facts: &Facts,
        route: &Route,
    ) -> Result<Option<(CaseRow, CaseNumber)>, ApplyError> {
        let Some((number, rule)) = self.thread(batch, message, &facts.agents).await? else {
            return Ok(None);
        };
        let from_agent = message
            .from
            .as_ref()
            .is_some_and(|f| facts.agents.contains(&f.address));
        let request = rule == ThreadRule::SubjectTag
            && matches!(route, Route::NewCase(_))
            && (crate::requests::despite_tag(&message.subject, &message.text).is_some()
                || (from_agent && crate::requests::agent::despite_tag(&message.subject)));
        if request {
            return Ok(None);
        }
        let Some(mut case) = batch.case_by_number(number.0).await? else {
            return Ok(None);
        };
        // A merged case's mail goes on where it was merged (a short chain at most).
        for _ in 0..8 {
            let Some(into) = case.merged_into else { break };
            match batch.case_by_id(into).await? {
                Some(target) => case = target,
                None => break,
            }
        }
        Ok(Some((case, number)))
    }

    async fn handle(&self, batch: &mut Batch, mail: &Mail<'_>, handler: Handler) -> Applied {
        let (row, message) = (mail.row, mail.message);
        match handler {
            Handler::Bounce => self.bounce(batch, row, message).await,
            Handler::Ignore(reason, case) => self.log_only(batch, row, message, reason, case).await,
            Handler::Deny(sender) => self.deny(batch, row, message, &sender).await,
            Handler::OnCase(case) => {
                self.on_case(batch, row, message, &case, mail.facts, mail.skipped)
                    .await
            }
            Handler::NewMail(case) => {
                let agent_request = crate::requests::agent::parse(&message.subject)
                    .filter(|_| mail.facts.agents.contains(&case.requester.address));
                if let Some(request) = agent_request {
                    return self
                        .agent_request(batch, row, message, &case.requester, request)
                        .await;
                }
                if let Some(confirmed) = self.confirmed_profile(batch, row, message).await? {
                    return Ok(confirmed);
                }
                self.new_mail(batch, row, message, &case, mail.skipped)
                    .await
            }
        }
    }

    /// A new mail from a provisioned customer: a request, or a new case.
    async fn new_mail(
        &self,
        tx: &mut Batch,
        row: &InboundRow,
        message: &InboundMessage,
        case: &classify::NewCase,
        skipped: &[limits::Skipped],
    ) -> Applied {
        let request = crate::requests::despite_tag(&message.subject, &message.text)
            .or_else(|| crate::requests::parse(&message.subject, &message.text));
        match request {
            Some(request) => {
                self.self_service(tx, row, message, &case.requester, request)
                    .await
            }
            None => {
                let case = self.about_another_case(tx, message, case).await?;
                self.open_case(tx, row, message, &case, None, skipped).await
            }
        }
    }
}
