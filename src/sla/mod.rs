//! Service levels (SPEC "Agents work from their mail client", SLA): how long the desk may
//! take to answer a customer, counted in business time (`hours.rs`), and the clock each
//! case carries (`clock.rs`). Pure: the apply stage moves a case's clock when mail comes
//! and goes, the scheduler (`src/schedule/`) reads it to warn the agents.

mod clock;
mod hours;

use std::time::Duration;

pub use clock::{SlaClock, SlaState};
pub use hours::{BusinessHours, DayMinute};

/// Which answer a running clock waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    /// The first answer an agent sends on a case.
    FirstResponse,
    /// An answer to a customer's later mail.
    NextResponse,
}

impl Target {
    pub fn name(self) -> &'static str {
        match self {
            Target::FirstResponse => "first_response",
            Target::NextResponse => "next_response",
        }
    }

    pub fn parse(name: &str) -> Option<Target> {
        [Target::FirstResponse, Target::NextResponse]
            .into_iter()
            .find(|t| t.name() == name)
    }
}

/// Business time allowed per severity (1 critical … 3 minor); `None`: no target.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PerSeverity(pub [Option<Duration>; 3]);

impl PerSeverity {
    pub fn get(&self, severity: i64) -> Option<Duration> {
        let index = usize::try_from(severity.clamp(1, 3) - 1).ok()?;
        self.0[index]
    }
}

/// `[sla]` as validated.
#[derive(Debug, Clone)]
pub struct SlaConfig {
    pub first_response: PerSeverity,
    pub next_response: PerSeverity,
    pub hours: BusinessHours,
    /// Silence while waiting on the customer before `case_reminder`; `None`: no reminder.
    pub remind_after: Option<Duration>,
    /// Further silence after the reminder before the case closes; `None`: never closes.
    pub close_after: Option<Duration>,
}

impl SlaConfig {
    pub const DEFAULT_DAYS: u64 = 5;

    /// No targets; reminders and closing after the default five days each.
    pub fn defaults(zone: jiff::tz::TimeZone) -> SlaConfig {
        let five_days = Some(Duration::from_secs(Self::DEFAULT_DAYS * 86_400));
        SlaConfig {
            first_response: PerSeverity::default(),
            next_response: PerSeverity::default(),
            hours: BusinessHours::office(zone),
            remind_after: five_days,
            close_after: five_days,
        }
    }

    pub fn target(&self, target: Target, severity: i64) -> Option<Duration> {
        match target {
            Target::FirstResponse => self.first_response.get(severity),
            Target::NextResponse => self.next_response.get(severity),
        }
    }
}

/// `"4h"`, `"30m"`, `"2d"`, `"1h30m"`: business time, where a day is one working day
/// (`day` long). Zero, an unknown unit or a bare number is refused.
pub fn parse_business_time(text: &str, day: Duration) -> Option<Duration> {
    let mut total = Duration::ZERO;
    let mut digits = String::new();
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let n: u32 = digits.parse().ok()?;
        digits.clear();
        let unit = match c {
            'm' => Duration::from_secs(60),
            'h' => Duration::from_secs(3600),
            'd' => day,
            _ => return None,
        };
        total = total.checked_add(unit.checked_mul(n)?)?;
    }
    (digits.is_empty() && !total.is_zero()).then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn business_times_read_with_a_working_day() {
        let day = Duration::from_secs(8 * 3600);
        let h = |n: u64| Duration::from_secs(n * 3600);
        assert_eq!(parse_business_time("4h", day), Some(h(4)));
        assert_eq!(parse_business_time("2d", day), Some(h(16)));
        assert_eq!(
            parse_business_time("1h30m", day),
            Some(h(1) + Duration::from_secs(1800))
        );
        for bad in ["", "4", "0h", "4x", "h", "-1h", "1.5h"] {
            assert_eq!(parse_business_time(bad, day), None, "{bad}");
        }
    }

    #[test]
    fn severities_outside_the_scale_take_the_nearest() {
        let t = PerSeverity([
            Some(Duration::from_secs(60)),
            None,
            Some(Duration::from_secs(3)),
        ]);
        assert_eq!(t.get(1), Some(Duration::from_secs(60)));
        assert_eq!(t.get(0), Some(Duration::from_secs(60)));
        assert_eq!(t.get(2), None);
        assert_eq!(t.get(7), Some(Duration::from_secs(3)));
    }
}
