//! `BUZON_<SECTION>__<KEY>` variables: each overrides one key of the file.

use super::ConfigErrors;

/// Keys whose override values are TOML literals (numbers, booleans, lists); every other
/// override is taken as a string, so a password of digits stays a string.
const LITERAL_KEYS: &[&str] = &[
    "port",
    "idle",
    "poll_interval_secs",
    "connections",
    "retry_initial_secs",
    "retry_max_secs",
    "products",
    "addresses",
    "notify",
    "fsync",
    "previous_secrets",
    "auto_replies_per_hour",
    "max_message_bytes",
    "max_attachment_bytes",
    "max_attachments",
    "history_mail_bytes",
    "refusals_per_hour",
    "new_cases_per_hour",
    "requests_per_hour",
    "timeout_secs",
    "max_recipients",
    "max_age_hours",
    "max_participants_per_case",
    "max_participants_per_mail",
    "relays_per_case_per_hour",
    "scopes",
    "max_sync_age_secs",
    "max_outbox_age_secs",
    "remind_after_days",
    "close_after_days",
];

pub(super) fn apply_env_overrides(
    table: &mut toml::Table,
    env: &[(String, String)],
) -> Result<(), ConfigErrors> {
    let mut problems = Vec::new();
    for (name, value) in env {
        let Some(rest) = name.strip_prefix("BUZON_") else {
            continue;
        };
        let Some((section, key)) = rest.split_once("__") else {
            continue;
        };
        let (section, key) = (section.to_lowercase(), key.to_lowercase());
        let parsed = if LITERAL_KEYS.contains(&key.as_str()) {
            match format!("v = {value}").parse::<toml::Table>() {
                Ok(mut t) => t.remove("v").unwrap_or(toml::Value::String(value.clone())),
                Err(_) => {
                    problems.push(format!("{name}: '{value}' is not a valid value for {key}"));
                    continue;
                }
            }
        } else {
            toml::Value::String(value.clone())
        };
        let entry = table
            .entry(section.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        match entry.as_table_mut() {
            Some(section_table) => {
                section_table.insert(key, parsed);
            }
            None => problems.push(format!("{name}: [{section}] is not a section")),
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ConfigErrors(problems))
    }
}
