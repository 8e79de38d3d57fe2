//! What one apply batch knows without asking the database again, and what it must forget
//! when a mail's writes are undone: one place, so a new cache cannot be forgotten there.

use std::collections::HashMap;

use super::read_ahead::ReadAhead;
use crate::store::{AgentRow, CustomerRow};

#[derive(Default)]
pub(in crate::store) struct BatchCache {
    /// The agents, read once per batch (mail never changes them).
    pub(in crate::store) agents: Option<Vec<AgentRow>>,
    /// Addresses this transaction took off the failing list: known not to be failing
    /// without asking again (the acknowledgement to a sender who just wrote).
    pub(in crate::store) cleared: Vec<String>,
    /// Whether the failing list has any address (None: not asked yet in this batch).
    pub(in crate::store) any_failing: Option<bool>,
    /// Customer rows read in this batch, by address.
    pub(in crate::store) customers: HashMap<String, Option<CustomerRow>>,
    /// What the batch read up front ([`super::read_ahead`]).
    pub(in crate::store) ahead: ReadAhead,
}

impl BatchCache {
    /// A mail failed: what it may have changed is read again. The read-ahead goes only when
    /// its savepoint was undone (`undone`); an all-or-nothing batch has none, and its mail
    /// changed nothing the read-ahead holds. The agents stay: mail never changes them.
    pub(in crate::store) fn forget_mail(&mut self, undone: bool) {
        self.cleared.clear();
        self.any_failing = None;
        self.customers.clear();
        if undone {
            self.ahead = ReadAhead::default();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_mail_forgets_what_it_may_have_changed() {
        let mut cache = BatchCache {
            agents: Some(Vec::new()),
            cleared: vec!["a@x.test".into()],
            any_failing: Some(true),
            ..Default::default()
        };
        cache.customers.insert("b@x.test".into(), None);
        cache.ahead.dedupe_keys.insert("<k@x.test>".into(), true);
        cache.forget_mail(false);
        assert!(cache.cleared.is_empty() && cache.customers.is_empty());
        assert_eq!(cache.any_failing, None);
        assert!(cache.agents.is_some(), "mail never changes the agents");
        assert!(
            !cache.ahead.dedupe_keys.is_empty(),
            "an all-or-nothing batch's mail changed nothing read ahead"
        );
        cache.forget_mail(true);
        assert!(
            cache.ahead.dedupe_keys.is_empty(),
            "an undone savepoint drops the read-ahead"
        );
    }
}
