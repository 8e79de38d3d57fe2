//! SIGHUP: re-read the configuration file and take, without a restart, what can change
//! between two batches: agents, products, templates, limits and health ages. The new
//! [`App`] is published on the watch channel; the processor and `/health` pick it up.
//!
//! A file with problems is refused, one log line per problem, and the running
//! configuration stays. Changes to what only a restart can apply (servers, accounts,
//! database, storage, the support address and secret, logging, `http.listen`) are named in
//! the log and left for the next start.

use std::fmt::Debug;
use std::path::Path;
use std::sync::Arc;

use sd_notify::NotifyState;
use tokio::sync::watch;
use tracing::{info, warn};

use super::{composer_for, service, App, Control};
use crate::config::{self, Config, MailboxConfig, MailboxName};
use crate::domain::EmailAddress;

pub(super) async fn on_request(control: Control, publish: watch::Sender<App>) {
    loop {
        tokio::select! {
            _ = control.reload.notified() => {}
            _ = control.shutdown.cancelled() => return,
        }
        let Some(path) = &control.config_path else {
            warn!("reload asked for, but buzon was not started from a configuration file");
            continue;
        };
        service::tell(&[NotifyState::Reloading]);
        reload(path, &publish);
        service::tell(&[NotifyState::Ready]);
    }
}

fn reload(path: &Path, publish: &watch::Sender<App>) {
    let running = publish.borrow().clone();
    let fresh = match config::load(path) {
        Ok(fresh) => fresh,
        Err(errors) => return refuse(&errors.0),
    };
    let (merged, changes) = merge(&running.config, fresh);
    let composer = match composer_for(&merged) {
        Ok(composer) => composer,
        Err(e) => return refuse(&[format!("templates: {e:#}")]),
    };
    for change in &changes {
        info!(change = %change, "reloaded");
    }
    info!(changes = changes.len(), "configuration reloaded");
    publish.send_replace(App {
        config: Arc::new(merged),
        composer: Arc::new(composer),
        ..running
    });
}

fn refuse(problems: &[String]) {
    for problem in problems.iter().flat_map(|p| p.lines()) {
        warn!(problem = %problem, "reload refused");
    }
    warn!("configuration not reloaded: keeping the running one");
}

/// The running configuration with the reloadable parts of `fresh`, and one line for each
/// difference (taken, or left for a restart).
fn merge(running: &Config, fresh: Config) -> (Config, Vec<String>) {
    let mut changes = Vec::new();
    list_changes(
        "agents.addresses",
        &running.agents.addresses,
        &fresh.agents.addresses,
        &mut changes,
    );
    list_changes(
        "agents.notify",
        &running.agents.notify,
        &fresh.agents.notify,
        &mut changes,
    );
    let (old, new) = (&running.support.products, &fresh.support.products);
    list_changes("support.products", old, new, &mut changes);
    field_changes("limits", &running.limits, &fresh.limits, &mut changes);
    field_changes("health", &running.health, &fresh.health, &mut changes);
    changes.push(match &fresh.support.templates_dir {
        Some(dir) => format!("templates: read again from {}", dir.display()),
        None => "templates: the shipped ones".to_string(),
    });
    for (section, differs) in [
        ("imap", differs(&running.imap, &fresh.imap)),
        ("smtp", differs(&running.smtp, &fresh.smtp)),
        ("database", running.database_url != fresh.database_url),
        ("storage", differs(&running.storage, &fresh.storage)),
        ("security", differs(&running.security, &fresh.security)),
        ("log", differs(&running.log, &fresh.log)),
        ("http", differs(&running.http, &fresh.http)),
        ("support (address, name, language, secret, timezone)", {
            let mut same = fresh.support.clone();
            same.products.clone_from(&running.support.products);
            same.templates_dir
                .clone_from(&running.support.templates_dir);
            differs(&running.support, &same)
        }),
    ] {
        if differs {
            changes.push(format!(
                "{section}: changed; takes effect at the next restart"
            ));
        }
    }
    let mut merged = running.clone();
    merged.mailboxes = merge_mailboxes(&running.mailboxes, &fresh.mailboxes, &mut changes);
    merged.agents = fresh.agents;
    merged.support.products = fresh.support.products;
    merged.support.templates_dir = fresh.support.templates_dir;
    merged.limits = fresh.limits;
    merged.health = fresh.health;
    (merged, changes)
}

/// Each running mailbox with its fresh products and agents (matched by name); any other
/// change to a mailbox, and a mailbox added or removed, waits for the next restart (its
/// fetcher would have to start or stop). The `default` mailbox's products are
/// `support.products`, already named.
fn merge_mailboxes(
    running: &[Arc<MailboxConfig>],
    fresh: &[Arc<MailboxConfig>],
    changes: &mut Vec<String>,
) -> Vec<Arc<MailboxConfig>> {
    let names = |list: &[Arc<MailboxConfig>]| list.iter().map(|m| m.name.clone()).collect();
    let (old, new): (Vec<_>, Vec<_>) = (names(running), names(fresh));
    if old != new {
        changes.push("mailboxes: added or removed; takes effect at the next restart".into());
    }
    let mut merged = Vec::new();
    for m in running {
        let Some(f) = fresh.iter().find(|f| f.name == m.name) else {
            merged.push(m.clone());
            continue;
        };
        if m.name.as_str() != MailboxName::DEFAULT {
            let key = format!("mailboxes.{}.products", m.name);
            list_changes(&key, &m.products, &f.products, changes);
        }
        let mut taken = (**m).clone();
        taken.products.clone_from(&f.products);
        taken.agents.clone_from(&f.agents);
        if differs(&taken, &**f) && m.name.as_str() != MailboxName::DEFAULT {
            let what = format!("mailbox {}", m.name);
            changes.push(format!("{what}: changed; takes effect at the next restart"));
        }
        merged.push(Arc::new(taken));
    }
    merged
}

/// Whether two sections differ, by their `Debug` form: secrets show as `***` there, so a
/// changed password alone goes unnoticed (it needs a restart all the same).
fn differs(old: &impl Debug, new: &impl Debug) -> bool {
    format!("{old:?}") != format!("{new:?}")
}

/// `key: added a, b; removed c` for a list of names or addresses.
fn list_changes<T: ListItem>(key: &str, old: &[T], new: &[T], changes: &mut Vec<String>) {
    let names = |from: &[T], without: &[T]| {
        from.iter()
            .filter(|x| !without.contains(x))
            .map(ListItem::text)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (added, removed) = (names(new, old), names(old, new));
    match (added.is_empty(), removed.is_empty()) {
        (true, true) => {}
        (false, true) => changes.push(format!("{key}: added {added}")),
        (true, false) => changes.push(format!("{key}: removed {removed}")),
        (false, false) => changes.push(format!("{key}: added {added}; removed {removed}")),
    }
}

trait ListItem: PartialEq {
    fn text(&self) -> &str;
}

impl ListItem for String {
    fn text(&self) -> &str {
        self
    }
}

impl ListItem for EmailAddress {
    fn text(&self) -> &str {
        self.as_str()
    }
}

/// `section.key: old → new` for each field of a flat section that changed, read from its
/// pretty `Debug` form (one `key: value,` line per field).
fn field_changes(section: &str, old: &impl Debug, new: &impl Debug, changes: &mut Vec<String>) {
    let fields = |x: &dyn Debug| -> Vec<(String, String)> {
        format!("{x:#?}")
            .lines()
            .filter_map(|l| l.strip_prefix("    ")?.split_once(": "))
            .map(|(k, v)| (k.to_string(), v.trim_end_matches(',').to_string()))
            .collect()
    };
    for ((key, was), (_, now)) in fields(old).into_iter().zip(fields(new)) {
        if was != now {
            changes.push(format!("{section}.{key}: {was} → {now}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra: &str) -> Config {
        let text = format!("[imap]\nhost = \"h\"\nusername = \"u\"\npassword = \"p\"\n[smtp]\nhost = \"h\"\n[support]\naddress = \"s@example.test\"\nsecret = \"0123456789abcdef0123\"\n{extra}");
        config::from_toml(&text, &[]).unwrap()
    }

    #[test]
    fn reloadable_parts_are_taken_and_named() {
        let running =
            config("products = [\"A\", \"B\"]\n[agents]\naddresses = [\"ana@example.test\"]\n");
        let fresh = config("products = [\"B\", \"C\"]\n[agents]\naddresses = [\"ana@example.test\", \"luis@example.test\"]\n[limits]\nauto_replies_per_hour = 5\n");
        let (merged, changes) = merge(&running, fresh);
        assert_eq!(merged.support.products, ["B", "C"]);
        assert_eq!(merged.agents.addresses.len(), 2);
        assert_eq!(merged.limits.auto_replies_per_hour, 5);
        assert!(
            changes.contains(&"support.products: added C; removed A".to_string()),
            "{changes:?}"
        );
        assert!(changes.contains(&"agents.addresses: added luis@example.test".to_string()));
        assert!(changes.contains(&"limits.auto_replies_per_hour: 20 → 5".to_string()));
        assert!(
            !changes.iter().any(|c| c.contains("restart")),
            "{changes:?}"
        );
    }

    #[test]
    fn the_rest_waits_for_a_restart() {
        let running = config("");
        let fresh = config("[http]\nlisten = \"127.0.0.1:9999\"\n[log]\nformat = \"json\"\n");
        let (merged, changes) = merge(&running, fresh);
        assert_eq!(merged.http.listen, None, "the running listener stays");
        assert!(changes.contains(&"http: changed; takes effect at the next restart".to_string()));
        assert!(changes.contains(&"log: changed; takes effect at the next restart".to_string()));
        assert!(
            !changes.iter().any(|c| c.starts_with("support (")),
            "{changes:?}"
        );
    }

    /// Two mailboxes, ventas' products and IMAP host as given.
    fn two_mailboxes(products: &str, host: &str) -> Config {
        let mailbox = |name: &str, extra: &str, host: &str| {
            format!("[[mailboxes]]\nname = \"{name}\"\naddress = \"{name}@example.test\"\n{extra}[mailboxes.imap]\nhost = \"{host}\"\nusername = \"{name}\"\npassword = \"p\"\n")
        };
        let text = format!(
            "[smtp]\nhost = \"h\"\n[support]\nsecret = \"0123456789abcdef0123\"\n{}{}",
            mailbox("soporte", "", "h"),
            mailbox("ventas", &format!("products = {products}\n"), host),
        );
        config::from_toml(&text, &[]).unwrap()
    }

    #[test]
    fn a_mailbox_takes_new_products_and_the_rest_waits() {
        let running = two_mailboxes("[\"A\"]", "h");
        let (merged, changes) = merge(&running, two_mailboxes("[\"A\", \"B\"]", "h"));
        assert_eq!(merged.mailboxes[1].products, ["A", "B"]);
        assert!(
            changes.contains(&"mailboxes.ventas.products: added B".into()),
            "{changes:?}"
        );
        assert!(
            !changes.iter().any(|c| c.contains("restart")),
            "{changes:?}"
        );
        let (merged, changes) = merge(&running, two_mailboxes("[\"A\"]", "otro"));
        assert_eq!(
            merged.mailboxes[1].imap.host, "h",
            "the running fetcher's server"
        );
        assert!(
            changes.contains(&"mailbox ventas: changed; takes effect at the next restart".into()),
            "{changes:?}"
        );
    }
}
