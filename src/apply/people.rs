//! Who a mail is about: the facts classify needs (provisioned addresses, agents,
//! products), who gets agent notifications, and a customer's profile.

use std::collections::HashSet;

use super::Processor;
use crate::apply::Batch;
use crate::classify::Facts;
use crate::domain::{EmailAddress, Language, Mailbox};
use crate::parse::InboundMessage;
use crate::store::StoreError;

impl Processor {
    pub(super) async fn facts(
        &self,
        tx: &mut Batch,
        message: &InboundMessage,
    ) -> Result<Facts, StoreError> {
        let mut provisioned = HashSet::new();
        let support = &self.config.support.address;
        for m in message.from.iter().chain(&message.to).chain(&message.cc) {
            if m.address != *support
                && !provisioned.contains(&m.address)
                && tx.is_provisioned(m.address.as_str()).await?
            {
                provisioned.insert(m.address.clone());
            }
        }
        Ok(Facts {
            support_address: self.config.support.address.clone(),
            provisioned,
            agents: self
                .agents(tx)
                .await?
                .into_iter()
                .map(|m| m.address)
                .collect(),
            products: self.config.support.products.clone(),
        })
    }

    /// Agents from the configuration and from `buzon agent add`.
    pub(super) async fn agents(&self, tx: &mut Batch) -> Result<Vec<Mailbox>, StoreError> {
        let mut agents: Vec<Mailbox> = self
            .config
            .agents
            .addresses
            .iter()
            .map(|a| Mailbox {
                name: None,
                address: a.clone(),
            })
            .collect();
        for row in tx.agents().await? {
            if let Ok(address) = EmailAddress::parse(&row.email) {
                agents.retain(|m| m.address != address);
                agents.push(Mailbox {
                    name: row.name,
                    address,
                });
            }
        }
        Ok(agents)
    }

    /// Who gets agent notifications: `agents.notify`, or else every agent.
    pub(crate) async fn notify_list(&self, tx: &mut Batch) -> Result<Vec<Mailbox>, StoreError> {
        if self.config.agents.notify.is_empty() {
            return self.agents(tx).await;
        }
        Ok(self
            .config
            .agents
            .notify
            .iter()
            .map(|a| Mailbox {
                name: None,
                address: a.clone(),
            })
            .collect())
    }

    pub(super) async fn language_of(
        &self,
        tx: &mut Batch,
        address: &EmailAddress,
    ) -> Result<Language, StoreError> {
        Ok(self.profile_of(tx, address).await?.0)
    }

    /// The customer's language (or the support default) and the name their profile gives.
    pub(super) async fn profile_of(
        &self,
        tx: &mut Batch,
        address: &EmailAddress,
    ) -> Result<(Language, Option<String>), StoreError> {
        let stored = tx.customer(address.as_str()).await?;
        let language = stored
            .as_ref()
            .and_then(|c| c.language.as_deref())
            .and_then(|l| l.parse().ok())
            .unwrap_or(self.config.support.language);
        Ok((language, stored.and_then(|c| c.name)))
    }
}
