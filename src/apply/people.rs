//! Who a mail is about: the facts classify needs (provisioned addresses, agents,
//! products), who gets agent notifications, and a customer's profile.

use std::collections::HashSet;

use super::Processor;
use crate::apply::Batch;
use crate::classify::Facts;
use crate::config::MailboxConfig;
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
        for m in message.from.iter().chain(&message.to).chain(&message.cc) {
            if !self.config.is_own_address(&m.address)
                && !provisioned.contains(&m.address)
                && tx.is_provisioned(m.address.as_str()).await?
            {
                provisioned.insert(m.address.clone());
            }
        }
        Ok(Facts {
            support_addresses: self
                .config
                .mailboxes
                .iter()
                .map(|m| m.address.clone())
                .collect(),
            provisioned,
            agents: self
                .agents(tx)
                .await?
                .into_iter()
                .map(|m| m.address)
                .collect(),
            products: self.mailbox_of(tx).products.clone(),
        })
    }

    /// The mailbox (queue) the mail in hand belongs to: the case's, or the one it came in
    /// by. Its address, name and language are those of the mail that answers it.
    pub(crate) fn mailbox_of<'a>(&'a self, tx: &'a Batch) -> &'a MailboxConfig {
        tx.queue().unwrap_or(&self.config.mailboxes[0])
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

    /// Who gets agent notifications: the mailbox's own `agents`, else `agents.notify`, or
    /// else every agent.
    pub(crate) async fn notify_list(&self, tx: &mut Batch) -> Result<Vec<Mailbox>, StoreError> {
        if let Some(own) = self.mailbox_of(tx).agents.clone() {
            let known = self.agents(tx).await?;
            return Ok(own
                .into_iter()
                .map(|address| {
                    let name = known.iter().find(|k| k.address == address);
                    Mailbox {
                        name: name.and_then(|k| k.name.clone()),
                        address,
                    }
                })
                .collect());
        }
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

    /// Who gets a case's agent notifications: its owner first, then the others of
    /// [`Self::notify_list`]; the owner alone with `agents.notify_owner_only`.
    pub(super) async fn notify_for_case(
        &self,
        tx: &mut Batch,
        case: &crate::store::CaseRow,
    ) -> Result<Vec<Mailbox>, StoreError> {
        let mut everyone = self.notify_list(tx).await?;
        let Some(owner) = case
            .owner
            .as_deref()
            .and_then(|o| EmailAddress::parse(o).ok())
        else {
            return Ok(everyone);
        };
        let named = self
            .agents(tx)
            .await?
            .into_iter()
            .find(|a| a.address == owner);
        let owner = named.unwrap_or(Mailbox {
            name: None,
            address: owner,
        });
        if self.config.agents.notify_owner_only {
            return Ok(vec![owner]);
        }
        everyone.retain(|m| m.address != owner.address);
        everyone.insert(0, owner);
        Ok(everyone)
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
            .unwrap_or(self.mailbox_of(tx).language);
        Ok((language, stored.and_then(|c| c.name)))
    }
}
