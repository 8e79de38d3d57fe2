use super::*;

/// The least a configuration says: also the base of other modules' test configurations.
pub(crate) const MINIMAL: &str = r#"
[imap]
host = "127.0.0.1"
username = "soporte@example.test"
password = "secret"
[smtp]
host = "127.0.0.1"
[support]
address = "soporte@example.test"
secret = "0123456789abcdef0123"
"#;

#[test]
fn shipped_example_parses() {
    let text = include_str!("../../config/buzon.example.toml");
    let err = from_toml(text, &[]).unwrap_err();
    assert_eq!(
        err.0.len(),
        1,
        "only its placeholder secret is refused: {err}"
    );
    assert!(err.0[0].contains("placeholder"), "{err}");
    let own = [(
        "BUZON_SUPPORT__SECRET".into(),
        "5e884898da28047151d0e56f8dc62927".into(),
    )];
    let config = from_toml(text, &own).expect("example config must be valid");
    assert_eq!(config.support.address.as_str(), "soporte@example.test");
    assert_eq!(config.support.products.len(), 3);
}

#[test]
fn defaults_fill_the_gaps() {
    let c = from_toml(MINIMAL, &[]).unwrap();
    assert_eq!(c.imap.port, 143);
    assert_eq!(c.smtp.port, 587);
    assert_eq!(c.imap.mailbox, "INBOX");
    assert_eq!(c.database_url, "sqlite://buzon.db");
    assert_eq!(c.imap.on_processed, OnProcessed::Flag);
    assert_eq!(c.support.language, Language::Es);
}

#[test]
fn environment_overrides_keys() {
    let env = vec![
        ("BUZON_IMAP__PORT".to_string(), "10143".to_string()),
        ("BUZON_IMAP__PASSWORD".to_string(), "12345".to_string()),
        (
            "BUZON_SUPPORT__PRODUCTS".to_string(),
            r#"["A", "B"]"#.to_string(),
        ),
        (
            "BUZON_DATABASE__URL".to_string(),
            "postgres://x@h/db".to_string(),
        ),
    ];
    let c = from_toml(MINIMAL, &env).unwrap();
    assert_eq!(c.imap.port, 10143);
    assert_eq!(c.imap.password.expose(), "12345");
    assert_eq!(c.support.products, vec!["A", "B"]);
    assert_eq!(c.database_url, "postgres://x@h/db");
}

#[test]
fn unknown_keys_are_rejected() {
    let text = format!("{MINIMAL}\nsurprise = 1\n");
    let err = from_toml(&text, &[]).unwrap_err();
    assert!(err.to_string().contains("surprise"), "{err}");
    assert_eq!(err.0.len(), 1);
}

#[test]
fn every_problem_is_one_line() {
    let text = r#"
[imap]
host = ""
username = "x"
security = "starttls"
on_processed = "delete"
[smtp]
host = "h"
username = "u"
[support]
address = "not-an-address"
secret = "short"
language = "fr"
timezone = "Europe/Madird"
"#;
    let err = from_toml(text, &[]).unwrap_err();
    let lines = &err.0;
    for expected in [
        "imap.password: missing",
        "imap.host: empty",
        "imap.on_processed",
        "smtp: username and password go together",
        "support.address",
        "support.secret: too short",
        "support.language",
        "support.timezone: 'Europe/Madird' is not an IANA time zone name",
    ] {
        assert!(
            lines.iter().any(|l| l.contains(expected)),
            "missing '{expected}' in {lines:?}"
        );
    }
    assert!(lines.iter().all(|l| !l.contains('\n')));
}

#[test]
fn secrets_come_from_files_and_hide_in_debug() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("imap");
    std::fs::write(&file, "from-file\n").unwrap();
    let text = MINIMAL.replace(
        "password = \"secret\"",
        &format!("password_file = \"{}\"", file.display()),
    );
    let c = from_toml(&text, &[]).unwrap();
    assert_eq!(c.imap.password.expose(), "from-file");
    assert!(!format!("{:?}", c.imap).contains("from-file"));
}

#[test]
fn agents_attachment_budget_defaults_to_10_mib_and_refuses_nonsense() {
    let c = from_toml(MINIMAL, &[]).unwrap();
    assert_eq!(c.agents.attach_max_bytes, 10 * 1024 * 1024);
    let small = format!("{MINIMAL}[agents]\nattach_max_bytes = 0\n");
    assert_eq!(from_toml(&small, &[]).unwrap().agents.attach_max_bytes, 0);
    for bad in ["-1", "2000000000"] {
        let text = format!("{MINIMAL}[agents]\nattach_max_bytes = {bad}\n");
        let err = from_toml(&text, &[]).unwrap_err();
        assert_eq!(err.0.len(), 1, "{err}");
        assert!(
            err.0[0].starts_with("agents.attach_max_bytes: ") && err.0[0].contains(bad),
            "{err}"
        );
    }
}

#[test]
fn notify_owner_only_is_off_unless_set_and_must_be_a_boolean() {
    assert!(!from_toml(MINIMAL, &[]).unwrap().agents.notify_owner_only);
    let on = format!("{MINIMAL}[agents]\nnotify_owner_only = true\n");
    assert!(from_toml(&on, &[]).unwrap().agents.notify_owner_only);
    let bad = format!("{MINIMAL}[agents]\nnotify_owner_only = \"yes\"\n");
    let err = from_toml(&bad, &[]).unwrap_err();
    assert!(err.to_string().contains("notify_owner_only"), "{err}");
}
