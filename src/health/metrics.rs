//! Prometheus metrics (`/metrics`, OpenMetrics text), with `prometheus-client`: the
//! Prometheus project's own Rust client, with an explicit registry (no global recorder, so
//! each test's daemon has its own) and typed label sets.
//!
//! Two kinds of figures. Counters and the histogram count what this process did since it
//! started (mails fetched, applied, sent; errors; acknowledgement latency). Gauges are read
//! from the database at each scrape (mail by state, outbox by state, last sync, oldest
//! pending mail), so they are the desk's truth whichever process did the work.

use std::fmt::Write as _;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::config::Config;
use crate::store::conflicts::{self, Conflict};
use crate::store::Store;

/// Where an error happened, for `buzon_errors_total{component}`.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum Component {
    Imap,
    Smtp,
    Database,
    /// The raw-mail and attachment files (`storage.dir`).
    Storage,
}

impl EncodeLabelValue for Component {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        encoder.write_str(match self {
            Component::Imap => "imap",
            Component::Smtp => "smtp",
            Component::Database => "database",
            Component::Storage => "storage",
        })
    }
}

/// What one delivery attempt came to, for `buzon_deliveries_total{result}`.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum Delivery {
    /// Accepted by the SMTP server.
    Sent,
    /// Failed for now; retried with backoff.
    Deferred,
    /// Refused for good, or given up on after `smtp.max_age_hours`: `buzon failed`.
    Parked,
}

impl EncodeLabelValue for Delivery {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        encoder.write_str(match self {
            Delivery::Sent => "sent",
            Delivery::Deferred => "deferred",
            Delivery::Parked => "parked",
        })
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeliveryLabel {
    result: Delivery,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ComponentLabel {
    component: Component,
}

/// What became of a mail (`case_created`, `comment`, …, `failed`, `deferred`) or which
/// state rows are in: the store's own names.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: String,
}

/// `40P01` or `40001`, for `buzon_database_conflicts_total{code}`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabel {
    code: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MailboxLabel {
    mailbox: String,
}

/// Every metric buzon serves; cheap to update from any task (atomics behind `Arc`s).
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    fetched: Counter,
    applied: Family<OutcomeLabel, Counter>,
    deliveries: Family<DeliveryLabel, Counter>,
    errors: Family<ComponentLabel, Counter>,
    ack_latency: Histogram,
    conflicts: Family<CodeLabel, Counter>,
    inbound: Family<StateLabel, Gauge>,
    outbox: Family<StateLabel, Gauge>,
    last_sync: Family<MailboxLabel, Gauge>,
    oldest_pending: Gauge,
    healthy: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut m = Metrics {
            registry: Registry::with_prefix("buzon"),
            fetched: Counter::default(),
            applied: Family::default(),
            deliveries: Family::default(),
            errors: Family::default(),
            // 0.1 s to about 14 min, doubling.
            ack_latency: Histogram::new(exponential_buckets(0.1, 2.0, 14)),
            conflicts: Family::default(),
            inbound: Family::default(),
            outbox: Family::default(),
            last_sync: Family::default(),
            oldest_pending: Gauge::default(),
            healthy: Gauge::default(),
        };
        m.register_events();
        m.register_readings();
        m
    }

    /// What this process counts as it works.
    fn register_events(&mut self) {
        let r = &mut self.registry;
        let fetched = "Mails fetched from IMAP and stored, by this process";
        r.register("mails_fetched", fetched, self.fetched.clone());
        let applied = "Mails processed by this process, by outcome (failed: parked for buzon failed; deferred: retried later)";
        r.register("mails_applied", applied, self.applied.clone());
        let deliveries = "Delivery attempts by result: sent (accepted by SMTP), deferred (retried later), parked (refused for good or given up on)";
        r.register("deliveries", deliveries, self.deliveries.clone());
        let errors = "IMAP, SMTP, database and storage errors, by component";
        r.register("errors", errors, self.errors.clone());
        let latency =
            "From a new case's mail being fetched to its acknowledgement being accepted by SMTP";
        r.register("ack_latency_seconds", latency, self.ack_latency.clone());
        let conflicts = "Transactions PostgreSQL aborted to settle a conflict between processes, retried: deadlocks (40P01) and serialization failures (40001)";
        r.register("database_conflicts", conflicts, self.conflicts.clone());
    }

    /// What is read from the database at each scrape.
    fn register_readings(&mut self) {
        let r = &mut self.registry;
        let inbound =
            "Fetched mails in the database, by state (pending, done, failed, quarantined, ...)";
        r.register("inbound_mails", inbound, self.inbound.clone());
        let outbox =
            "Outgoing mails in the database, by state (pending, sent, failed, held, suppressed)";
        r.register("outbox_mails", outbox, self.outbox.clone());
        let synced = "When each mailbox was last synced in full (Unix time)";
        r.register(
            "last_sync_timestamp_seconds",
            synced,
            self.last_sync.clone(),
        );
        let oldest = "Age of the oldest outgoing mail not yet sent (0: none waits)";
        r.register(
            "outbox_oldest_pending_seconds",
            oldest,
            self.oldest_pending.clone(),
        );
        let healthy = "1 when /health answers 200, else 0";
        r.register("healthy", healthy, self.healthy.clone());
    }

    pub fn fetched(&self, mails: u64) {
        self.fetched.inc_by(mails);
    }

    pub fn applied(&self, outcome: &str) {
        let label = OutcomeLabel {
            outcome: outcome.to_string(),
        };
        self.applied.get_or_create(&label).inc();
    }

    pub fn delivered(&self, result: Delivery) {
        self.deliveries
            .get_or_create(&DeliveryLabel { result })
            .inc();
    }

    pub fn error(&self, component: Component) {
        self.errors
            .get_or_create(&ComponentLabel { component })
            .inc();
    }

    /// An acknowledgement was accepted `millis` after its mail was fetched.
    pub fn acknowledged_after(&self, millis: i64) {
        self.ack_latency.observe(millis.max(0) as f64 / 1000.0);
    }

    /// The OpenMetrics text of every metric, the gauges read from the database first.
    pub async fn render(&self, store: &Store, config: &Config) -> String {
        if let Err(e) = self.read_gauges(store).await {
            tracing::warn!(error = %e, "metrics: could not read the database");
            self.error(Component::Database);
        }
        let report = super::assess(store, config).await;
        self.healthy.set(i64::from(report.healthy));
        self.oldest_pending
            .set(report.oldest_pending_outbox_secs.unwrap_or(0) as i64);
        for m in &report.mailboxes {
            let label = MailboxLabel {
                mailbox: m.mailbox.clone(),
            };
            self.last_sync
                .get_or_create(&label)
                .set(m.last_sync_unix.unwrap_or(0));
        }
        // Counted by the store as they happen; brought up to date here.
        for conflict in Conflict::ALL {
            let counter = self.conflicts.get_or_create(&CodeLabel {
                code: conflict.code(),
            });
            counter.inc_by(conflicts::met(conflict).saturating_sub(counter.get()));
        }
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }

    /// Counts by state, replaced whole: a state with no rows left disappears.
    async fn read_gauges(&self, store: &Store) -> crate::store::Result<()> {
        let inbound = store.inbound_counts().await?;
        let outbox = store.outbox_counts().await?;
        for (family, counts) in [(&self.inbound, inbound), (&self.outbox, outbox)] {
            family.clear();
            for (state, n) in counts {
                family.get_or_create(&StateLabel { state }).set(n);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_show_in_the_text_with_their_labels() {
        let m = Metrics::new();
        m.fetched(3);
        m.applied("case_created");
        m.applied("case_created");
        m.error(Component::Smtp);
        m.acknowledged_after(1500);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &m.registry).unwrap();
        assert!(text.contains("buzon_mails_fetched_total 3"), "{text}");
        assert!(text.contains("buzon_mails_applied_total{outcome=\"case_created\"} 2"));
        assert!(text.contains("buzon_errors_total{component=\"smtp\"} 1"));
        assert!(text.contains("buzon_ack_latency_seconds_bucket{le=\"1.6\"} 1"));
        assert!(text.contains("buzon_ack_latency_seconds_bucket{le=\"0.8\"} 0"));
        assert!(text.ends_with("# EOF\n"));
    }
}
