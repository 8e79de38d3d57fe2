//! `[[mailboxes]]`: the support addresses buzon watches, each a queue of its own with its
//! IMAP account, address, display name, language, products and agents. A configuration
//! with a single `[imap]` section is one mailbox named `default`, made of `[imap]` and
//! `[support]`, so configurations written before mailboxes existed keep working.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use serde::Deserialize;

use super::raw::{RawImap, RawSupport};
use super::validate::validate_imap;
use super::{address, ImapConfig};
use crate::domain::{EmailAddress, Language};

/// A mailbox's name, as `buzon cases --mailbox` and the cases' `mailbox` column spell it:
/// lower-case letters, digits, `-` and `_`, so it is safe on a command line and in a label.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MailboxName(String);

impl MailboxName {
    /// The name of the one mailbox an `[imap]` section makes.
    pub const DEFAULT: &'static str = "default";

    pub fn parse(name: &str) -> Result<MailboxName, String> {
        let good = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_';
        if name.is_empty() || name.len() > 64 || !name.chars().all(good) {
            return Err(format!(
                "'{}' is not a mailbox name (1 to 64 of a-z, 0-9, - and _)",
                crate::text::single_line(name)
            ));
        }
        Ok(MailboxName(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MailboxName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One support address as a queue: where its mail is fetched, and how its cases' mail goes
/// out (from `address` as `display_name`, in `language` when the customer has none).
#[derive(Debug, Clone)]
pub struct MailboxConfig {
    pub name: MailboxName,
    pub imap: ImapConfig,
    pub address: EmailAddress,
    /// The From display name of its cases' mail ("Soporte", "Ventas").
    pub display_name: String,
    pub language: Language,
    pub products: Vec<String>,
    /// The agents notified of its cases; None: every agent (or `agents.notify`). Any agent
    /// may still answer any case: this says who is told, not who may act.
    pub agents: Option<Vec<EmailAddress>>,
}

impl MailboxConfig {
    /// How the fetch cursor, the inbound rows and the sync records name this mailbox: its
    /// IMAP account and folder (so renaming a queue does not fetch its mail again).
    pub fn fetch_key(&self) -> String {
        crate::fetch::mailbox_key(&self.imap)
    }

    /// The From of its cases' mail.
    pub fn sender(&self) -> crate::domain::Mailbox {
        crate::domain::Mailbox {
            name: Some(self.display_name.clone()),
            address: self.address.clone(),
        }
    }
}

impl super::Config {
    /// The mailbox a fetched mail came in by, from its rows' fetch key; the first one for
    /// mail that came otherwise (`buzon import`) or by a mailbox no longer configured.
    pub fn mailbox_fetched_as(&self, fetch_key: &str) -> &Arc<MailboxConfig> {
        self.mailboxes
            .iter()
            .find(|m| m.fetch_key() == fetch_key)
            .unwrap_or(&self.mailboxes[0])
    }

    /// The mailbox of this name; the first one for a name no longer configured (its cases
    /// are then answered from the desk's first address rather than not at all).
    pub fn mailbox_named(&self, name: &str) -> &Arc<MailboxConfig> {
        self.mailboxes
            .iter()
            .find(|m| m.name.as_str() == name)
            .unwrap_or(&self.mailboxes[0])
    }

    /// Whether an address is one of the desk's own (any mailbox's).
    pub fn is_own_address(&self, address: &EmailAddress) -> bool {
        self.mailboxes.iter().any(|m| m.address == *address)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMailbox {
    name: String,
    address: String,
    display_name: Option<String>,
    language: Option<String>,
    products: Option<Vec<String>>,
    agents: Option<Vec<String>>,
    imap: RawImap,
}

/// What the mailboxes are checked against: the desk-wide defaults and the agents.
pub(super) struct Desk<'a> {
    pub support: &'a RawSupport,
    pub agents: &'a [EmailAddress],
}

/// `[imap]` alone → the `default` mailbox; `[[mailboxes]]` → each of them, checked.
pub(super) fn validate_mailboxes(
    imap: Option<RawImap>,
    mailboxes: Vec<RawMailbox>,
    desk: &Desk<'_>,
    p: &mut Vec<String>,
) -> Vec<Arc<MailboxConfig>> {
    match (imap, mailboxes.is_empty()) {
        (Some(_), false) => {
            p.push("[imap] and [[mailboxes]]: give one or the other (put [imap]'s keys in each mailbox's [mailboxes.imap])".into());
            Vec::new()
        }
        (None, true) => {
            p.push("[imap]: missing (or give [[mailboxes]])".into());
            Vec::new()
        }
        (Some(imap), true) => default_mailbox(imap, desk, p).into_iter().collect(),
        (None, false) => {
            if desk.support.address.is_some() {
                p.push(
                    "support.address: each of [[mailboxes]] has its own address (remove this one)"
                        .into(),
                );
            }
            let all: Vec<Arc<MailboxConfig>> = mailboxes
                .into_iter()
                .enumerate()
                .filter_map(|(i, m)| one_mailbox(i, m, desk, p))
                .collect();
            no_duplicates(&all, p);
            all
        }
    }
}

/// `[imap]` and `[support]` as they were before mailboxes: one queue named `default`.
fn default_mailbox(
    imap: RawImap,
    desk: &Desk<'_>,
    p: &mut Vec<String>,
) -> Option<Arc<MailboxConfig>> {
    let imap = validate_imap("imap", imap, p);
    let Some(raw) = &desk.support.address else {
        p.push("support.address: missing".into());
        return None;
    };
    let address = address("support.address", raw, p);
    let language = language("support.language", desk.support.language.as_deref(), p);
    Some(Arc::new(MailboxConfig {
        name: MailboxName(MailboxName::DEFAULT.into()),
        imap: imap?,
        address: address?,
        display_name: support_name(desk.support),
        language,
        products: desk.support.products.clone(),
        agents: None,
    }))
}

fn one_mailbox(
    i: usize,
    raw: RawMailbox,
    desk: &Desk<'_>,
    p: &mut Vec<String>,
) -> Option<Arc<MailboxConfig>> {
    let at = format!("mailboxes[{i}]");
    let name = MailboxName::parse(&raw.name)
        .map_err(|e| p.push(format!("{at}.name: {e}")))
        .ok();
    let imap = validate_imap(&format!("{at}.imap"), raw.imap, p);
    let own = address(&format!("{at}.address"), &raw.address, p);
    let language = language(
        &format!("{at}.language"),
        raw.language.as_deref().or(desk.support.language.as_deref()),
        p,
    );
    let products = raw
        .products
        .unwrap_or_else(|| desk.support.products.clone());
    if products.iter().any(|x| x.trim().is_empty()) {
        p.push(format!("{at}.products: a product name is empty"));
    }
    let agents = raw.agents.map(|list| mailbox_agents(&at, &list, desk, p));
    Some(Arc::new(MailboxConfig {
        name: name?,
        imap: imap?,
        address: own?,
        display_name: raw
            .display_name
            .unwrap_or_else(|| support_name(desk.support)),
        language,
        products,
        agents,
    }))
}

/// A mailbox's `agents`: each one of `agents.addresses`.
fn mailbox_agents(
    at: &str,
    list: &[String],
    desk: &Desk<'_>,
    p: &mut Vec<String>,
) -> Vec<EmailAddress> {
    let mut agents = Vec::new();
    for a in list {
        let Some(a) = address(&format!("{at}.agents"), a, p) else {
            continue;
        };
        if !desk.agents.contains(&a) {
            p.push(format!(
                "{at}.agents: {a} is not one of agents.addresses (add it there first)"
            ));
        }
        agents.push(a);
    }
    agents
}

fn support_name(support: &RawSupport) -> String {
    support
        .name
        .clone()
        .unwrap_or_else(|| "Soporte".to_string())
}

fn language(key: &str, code: Option<&str>, p: &mut Vec<String>) -> Language {
    code.unwrap_or("es").parse().unwrap_or_else(|e| {
        p.push(format!("{key}: {e}"));
        Language::Es
    })
}

/// Two mailboxes may not share a name, an address or an IMAP folder (the same mail would
/// be fetched twice under one cursor).
fn no_duplicates(all: &[Arc<MailboxConfig>], p: &mut Vec<String>) {
    let (mut names, mut addresses, mut folders) = (HashSet::new(), HashSet::new(), HashSet::new());
    for m in all {
        if !names.insert(&m.name) {
            p.push(format!("mailboxes: the name '{}' is used twice", m.name));
        }
        if !addresses.insert(&m.address) {
            p.push(format!(
                "mailboxes: the address {} is used twice",
                m.address
            ));
        }
        if !folders.insert(m.fetch_key()) {
            p.push(format!(
                "mailboxes: the IMAP folder {} is watched twice",
                m.fetch_key()
            ));
        }
    }
}

#[cfg(test)]
#[path = "mailboxes_tests.rs"]
mod tests;
