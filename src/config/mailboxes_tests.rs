use super::super::{from_toml, tests::MINIMAL, Config, ConfigErrors};
use super::MailboxName;
use crate::domain::Language;

/// A desk of two mailboxes: soporte in Spanish for everyone, ventas in English for Ana.
const TWO: &str = r#"
[smtp]
host = "127.0.0.1"
[support]
name = "Soporte"
products = ["Harmony", "API Manager"]
secret = "0123456789abcdef0123"
[agents]
addresses = ["ana@example.test", "luis@example.test"]

[[mailboxes]]
name = "soporte"
address = "soporte@example.test"
[mailboxes.imap]
host = "127.0.0.1"
username = "soporte@example.test"
password = "secret"

[[mailboxes]]
name = "ventas"
address = "ventas@example.test"
display_name = "Sales"
language = "en"
products = ["Licencias"]
agents = ["ana@example.test"]
[mailboxes.imap]
host = "127.0.0.1"
username = "ventas@example.test"
password = "secret"
"#;

fn problems(text: &str) -> Vec<String> {
    match from_toml(text, &[]) {
        Ok(_) => Vec::new(),
        Err(ConfigErrors(lines)) => lines,
    }
}

fn two() -> Config {
    from_toml(TWO, &[]).expect("two mailboxes are valid")
}

#[test]
fn an_imap_section_is_one_mailbox_named_default() {
    let c = from_toml(MINIMAL, &[]).unwrap();
    assert_eq!(c.mailboxes.len(), 1);
    let m = &c.mailboxes[0];
    assert_eq!(m.name.as_str(), MailboxName::DEFAULT);
    assert_eq!(m.address.as_str(), "soporte@example.test");
    assert_eq!(m.display_name, "Soporte");
    assert_eq!(m.language, Language::Es);
    assert_eq!(m.imap.username, c.imap.username);
    assert!(m.agents.is_none(), "every agent is told");
    assert_eq!(m.fetch_key(), "soporte@example.test/INBOX");
}

#[test]
fn each_mailbox_has_its_own_address_language_products_and_agents() {
    let c = two();
    let (soporte, ventas) = (&c.mailboxes[0], &c.mailboxes[1]);
    assert_eq!(
        soporte.display_name, "Soporte",
        "[support] name is the default"
    );
    assert_eq!(soporte.language, Language::Es);
    assert_eq!(soporte.products, ["Harmony", "API Manager"]);
    assert_eq!(ventas.display_name, "Sales");
    assert_eq!(ventas.language, Language::En);
    assert_eq!(ventas.products, ["Licencias"]);
    let agents: Vec<&str> = ventas.agents.iter().flatten().map(|a| a.as_str()).collect();
    assert_eq!(agents, ["ana@example.test"]);
    // The desk's own address (admin notices) and `imap` are the first mailbox's.
    assert_eq!(c.support.address.as_str(), "soporte@example.test");
    assert_eq!(c.imap.username, "soporte@example.test");
    assert_eq!(
        c.mailbox_fetched_as("ventas@example.test/INBOX")
            .name
            .as_str(),
        "ventas"
    );
    assert_eq!(c.mailbox_named("gone").name.as_str(), "soporte");
}

#[test]
fn imap_and_mailboxes_together_are_refused() {
    let text = format!("{TWO}\n[imap]\nhost = \"h\"\nusername = \"u\"\npassword = \"p\"\n");
    let p = problems(&text);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].starts_with("[imap] and [[mailboxes]]"), "{p:?}");
}

#[test]
fn duplicate_names_and_addresses_are_one_line_each() {
    let text = TWO
        .replace("name = \"ventas\"", "name = \"soporte\"")
        .replace(
            "address = \"ventas@example.test\"",
            "address = \"soporte@example.test\"",
        );
    let p = problems(&text);
    assert_eq!(
        p,
        [
            "mailboxes: the name 'soporte' is used twice",
            "mailboxes: the address soporte@example.test is used twice",
        ]
    );
}

#[test]
fn the_same_imap_folder_twice_is_refused() {
    let text = TWO.replace(
        "username = \"ventas@example.test\"",
        "username = \"soporte@example.test\"",
    );
    assert_eq!(
        problems(&text),
        ["mailboxes: the IMAP folder soporte@example.test/INBOX is watched twice"]
    );
}

#[test]
fn an_unknown_agent_is_named() {
    let text = TWO.replace(
        "agents = [\"ana@example.test\"]",
        "agents = [\"pepe@example.test\"]",
    );
    assert_eq!(
        problems(&text),
        ["mailboxes[1].agents: pepe@example.test is not one of agents.addresses (add it there first)"]
    );
}

#[test]
fn problems_inside_a_mailbox_name_where_they_are() {
    let text = TWO
        .replace("name = \"ventas\"", "name = \"Ventas!\"")
        .replace("language = \"en\"", "language = \"fr\"")
        .replace(
            "username = \"ventas@example.test\"\npassword = \"secret\"",
            "username = \"ventas@example.test\"",
        );
    let p = problems(&text);
    assert_eq!(p.len(), 3, "{p:?}");
    assert!(
        p.iter()
            .any(|l| l.starts_with("mailboxes[1].name: 'Ventas!'")),
        "{p:?}"
    );
    assert!(
        p.iter().any(|l| l.starts_with("mailboxes[1].language:")),
        "{p:?}"
    );
    assert!(
        p.contains(&"mailboxes[1].imap.password: missing (set password or password_file)".into()),
        "{p:?}"
    );
}

#[test]
fn a_support_address_beside_mailboxes_is_refused_and_none_at_all_too() {
    let text = TWO.replace("[support]\n", "[support]\naddress = \"x@example.test\"\n");
    assert_eq!(
        problems(&text),
        ["support.address: each of [[mailboxes]] has its own address (remove this one)"]
    );
    let none = MINIMAL.replace(
        "[imap]\nhost = \"127.0.0.1\"\nusername = \"soporte@example.test\"\npassword = \"secret\"\n",
        "",
    );
    assert_eq!(problems(&none), ["[imap]: missing (or give [[mailboxes]])"]);
}

#[test]
fn the_shipped_example_of_two_mailboxes_parses() {
    let example = include_str!("../../config/buzon.example.toml");
    let (head, tail) = example.split_at(example.find("# [[mailboxes]]").unwrap());
    // Without [imap] and support.address, and with the commented entries taken in.
    let without_imap = &head[head.find("[smtp]").unwrap()..];
    let without_address = without_imap.replacen("address = \"soporte@example.test\"", "", 1);
    let entries: String = tail
        .lines()
        .map(|l| l.strip_prefix("# ").unwrap_or(l.trim_start_matches('#')))
        .map(|l| format!("{l}\n"))
        .collect();
    let entries = entries.replace("password_file = \"/run/secrets/imap-", "password = \"");
    let secret = [(
        "BUZON_SUPPORT__SECRET".into(),
        "5e884898da28047151d0e56f8dc62927".into(),
    )];
    let c = from_toml(&format!("{without_address}{entries}"), &secret).unwrap();
    let names: Vec<&str> = c.mailboxes.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["soporte", "ventas"]);
    assert_eq!(c.mailboxes[1].language, Language::En);
}
