//! The facts threading needs, read from the store for one mail: which of its references
//! buzon received on a case, who is on each case it could belong to, and the organisations
//! of its sender and of those cases' requesters. `thread::find_case` decides with them.

use std::collections::{HashMap, HashSet};

use super::Processor;
use crate::apply::Batch;
use crate::domain::{CaseNumber, EmailAddress};
use crate::parse::InboundMessage;
use crate::store::StoreError;
use crate::thread::{self, ThreadFacts, ThreadRule};

impl Processor {
    /// The case a reply belongs to, after SPEC.md's threading rules.
    pub(super) async fn thread(
        &self,
        tx: &mut Batch,
        message: &InboundMessage,
        agents: &HashSet<EmailAddress>,
    ) -> Result<Option<(CaseNumber, ThreadRule)>, StoreError> {
        let secrets = self.config.support.secrets();
        let mut received = HashMap::new();
        for id in thread::references(message) {
            if let Some(n) = tx.case_of_received(&id).await? {
                received.insert(id, CaseNumber(n));
            }
        }
        let mut participants = HashMap::new();
        let mut case_orgs = HashMap::new();
        for n in thread::candidates(message, &secrets, &received) {
            if let Some(case) = tx.case_by_number(n.0).await? {
                let people = tx.case_participants(case.id).await?;
                let set = people
                    .into_iter()
                    .filter_map(|(e, _)| EmailAddress::parse(&e).ok())
                    .collect();
                participants.insert(n, set);
                if let Some(org) = tx.organisation_of(&case.requester).await? {
                    case_orgs.insert(n, org);
                }
            }
        }
        let sender_org = match &message.from {
            Some(from) => tx.organisation_of(from.address.as_str()).await?,
            None => None,
        };
        let facts = ThreadFacts {
            received,
            participants,
            agents: agents.clone(),
            sender_org,
            case_orgs,
        };
        Ok(thread::find_case(message, &secrets, &facts))
    }
}
