//! `[sla]` and `[sla.hours]`: response targets per severity in business time, the desk's
//! working hours, and how long a case waiting on the customer stays quiet before a reminder
//! and before it closes. `agents.digest_at` is read here too: it is time-driven work.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::Deserialize;

use crate::sla::{parse_business_time, BusinessHours, DayMinute, PerSeverity, SlaConfig};

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSla {
    #[serde(default)]
    first_response: BTreeMap<String, String>,
    #[serde(default)]
    next_response: BTreeMap<String, String>,
    remind_after_days: Option<i64>,
    close_after_days: Option<i64>,
    #[serde(default)]
    hours: RawHours,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawHours {
    timezone: Option<String>,
    days: Option<Vec<String>>,
    start: Option<String>,
    end: Option<String>,
    #[serde(default)]
    holidays: Vec<String>,
}

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// `support_zone` is the default for `sla.hours.timezone`.
pub(super) fn validate_sla(
    raw: RawSla,
    support_zone: &jiff::tz::TimeZone,
    p: &mut Vec<String>,
) -> SlaConfig {
    let hours = validate_hours(raw.hours, support_zone, p);
    let day = hours.day_length();
    SlaConfig {
        first_response: targets("sla.first_response", &raw.first_response, day, p),
        next_response: targets("sla.next_response", &raw.next_response, day, p),
        hours,
        remind_after: days("sla.remind_after_days", raw.remind_after_days, p),
        close_after: days("sla.close_after_days", raw.close_after_days, p),
    }
}

/// `{ 1 = "4h", 2 = "1d" }`: severities 1 to 3, each a business time.
fn targets(
    key: &str,
    raw: &BTreeMap<String, String>,
    day: Duration,
    p: &mut Vec<String>,
) -> PerSeverity {
    let mut out = PerSeverity::default();
    for (severity, text) in raw {
        let Some(index) = ["1", "2", "3"].iter().position(|s| s == severity) else {
            p.push(format!("{key}: '{severity}' is not a severity (1, 2 or 3)"));
            continue;
        };
        match parse_business_time(text, day) {
            Some(d) => out.0[index] = Some(d),
            None => p.push(format!(
                "{key}.{severity}: '{text}' is not a business time (like \"30m\", \"4h\", \"2d\")"
            )),
        }
    }
    out
}

/// Whole days, default 5; 0 turns the step off.
fn days(key: &str, raw: Option<i64>, p: &mut Vec<String>) -> Option<Duration> {
    let value = raw.unwrap_or(SlaConfig::DEFAULT_DAYS as i64);
    match u64::try_from(value) {
        Ok(0) => None,
        Ok(d) if d <= 365 => Some(Duration::from_secs(d * 86_400)),
        _ => {
            p.push(format!(
                "{key}: {value} is not between 0 (off) and 365 days"
            ));
            None
        }
    }
}

fn validate_hours(
    raw: RawHours,
    support_zone: &jiff::tz::TimeZone,
    p: &mut Vec<String>,
) -> BusinessHours {
    let mut hours = BusinessHours::office(support_zone.clone());
    if let Some(name) = raw.timezone {
        match jiff::tz::TimeZone::get(&name) {
            Ok(zone) => hours.zone = zone,
            Err(_) => p.push(format!(
                "sla.hours.timezone: '{}' is not an IANA time zone name (like Europe/Madrid)",
                crate::text::single_line(&name)
            )),
        }
    }
    if let Some(days) = raw.days {
        hours.days = [false; 7];
        for day in &days {
            match DAY_NAMES.iter().position(|d| d.eq_ignore_ascii_case(day)) {
                Some(i) => hours.days[i] = true,
                None => p.push(format!(
                    "sla.hours.days: '{day}' is not one of mon, tue, wed, thu, fri, sat, sun"
                )),
            }
        }
        if !hours.days.contains(&true) {
            p.push("sla.hours.days: at least one working day".into());
        }
    }
    hours.start = minute("sla.hours.start", raw.start, hours.start, p);
    hours.end = minute("sla.hours.end", raw.end, hours.end, p);
    if hours.end <= hours.start {
        p.push("sla.hours.end: must be later than sla.hours.start".into());
    }
    hours.holidays = holidays(&raw.holidays, p);
    hours
}

fn minute(key: &str, raw: Option<String>, default: DayMinute, p: &mut Vec<String>) -> DayMinute {
    let Some(text) = raw else { return default };
    DayMinute::parse(&text).unwrap_or_else(|| {
        p.push(format!(
            "{key}: '{text}' is not a time of day (like \"09:00\" or \"24:00\")"
        ));
        default
    })
}

fn holidays(raw: &[String], p: &mut Vec<String>) -> BTreeSet<jiff::civil::Date> {
    raw.iter()
        .filter_map(|text| {
            text.parse()
                .map_err(|_| {
                    p.push(format!(
                        "sla.hours.holidays: '{text}' is not a date (like \"2026-12-25\")"
                    ))
                })
                .ok()
        })
        .collect()
}

/// `agents.digest_at`: `"08:30"` on the support time zone's clock; unset, no digest.
pub(super) fn digest_at(raw: Option<String>, p: &mut Vec<String>) -> Option<DayMinute> {
    let text = raw?;
    match DayMinute::parse(&text).filter(|m| *m < DayMinute::END_OF_DAY) {
        Some(m) => Some(m),
        None => {
            p.push(format!(
                "agents.digest_at: '{text}' is not a time of day (like \"08:30\")"
            ));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::from_toml;

    const MINIMAL: &str = "[imap]\nhost = \"h\"\nusername = \"u\"\npassword = \"p\"\n[smtp]\nhost = \"h\"\n[support]\naddress = \"s@example.test\"\nsecret = \"0123456789abcdef0123\"\ntimezone = \"Europe/Madrid\"\n";

    #[test]
    fn without_a_section_there_are_no_targets_and_five_days_each() {
        let c = from_toml(MINIMAL, &[]).unwrap();
        assert_eq!(c.sla.first_response.get(1), None);
        assert_eq!(c.sla.remind_after.map(|d| d.as_secs()), Some(5 * 86_400));
        assert_eq!(c.sla.close_after.map(|d| d.as_secs()), Some(5 * 86_400));
        assert_eq!(c.sla.hours.zone.iana_name(), Some("Europe/Madrid"));
        assert_eq!(c.agents.digest_at, None);
    }

    #[test]
    fn targets_hours_and_days_are_read() {
        let text = format!("{MINIMAL}[agents]\ndigest_at = \"08:30\"\n[sla]\nfirst_response = {{ 1 = \"1h\", 3 = \"2d\" }}\nnext_response = {{ 2 = \"90m\" }}\nremind_after_days = 0\n[sla.hours]\ntimezone = \"America/Mexico_City\"\ndays = [\"mon\", \"sat\"]\nstart = \"08:00\"\nend = \"14:00\"\nholidays = [\"2026-12-25\"]\n");
        let env = [("BUZON_SLA__CLOSE_AFTER_DAYS".into(), "3".into())];
        let c = from_toml(&text, &env).unwrap();
        let h = |n: u64| std::time::Duration::from_secs(n * 3600);
        assert_eq!(c.sla.first_response.0, [Some(h(1)), None, Some(h(12))]);
        assert_eq!(c.sla.next_response.get(2), Some(h(1) + h(1) / 2));
        assert_eq!(c.sla.remind_after, None, "0 turns it off");
        assert_eq!(c.sla.close_after, Some(h(72)));
        assert_eq!(
            c.sla.hours.days,
            [true, false, false, false, false, true, false]
        );
        assert_eq!(c.sla.hours.holidays.len(), 1);
        assert!(c.agents.digest_at.is_some());
    }

    #[test]
    fn each_bad_sla_key_is_one_line() {
        let text = format!("{MINIMAL}[agents]\ndigest_at = \"25:00\"\n[sla]\nfirst_response = {{ 4 = \"1h\", 1 = \"soon\" }}\nclose_after_days = -1\n[sla.hours]\ntimezone = \"Mars/Olympus\"\ndays = [\"lunes\"]\nstart = \"18:00\"\nend = \"9\"\nholidays = [\"25/12\"]\n");
        let lines = from_toml(&text, &[]).unwrap_err().0;
        for key in [
            "agents.digest_at",
            "sla.first_response: '4'",
            "sla.first_response.1",
            "sla.close_after_days",
            "sla.hours.timezone",
            "sla.hours.days: 'lunes'",
            "sla.hours.days: at least",
            "sla.hours.end: '9'",
            "sla.hours.end: must be later",
            "sla.hours.holidays",
        ] {
            assert!(
                lines
                    .iter()
                    .any(|l| l.starts_with(key) && !l.contains('\n')),
                "{key}: {lines:?}"
            );
        }
        assert_eq!(lines.len(), 10, "{lines:?}");
    }
}
