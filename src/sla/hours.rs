//! Business time: the working hours of the desk in its own time zone, less weekends and
//! holidays. Pure arithmetic on instants; every loop walks at most [`MAX_DAYS`] days, so
//! no configuration makes it run long.

use std::collections::BTreeSet;
use std::time::Duration;

use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use jiff::Timestamp;

/// Ten years of days: past this a sum saturates (a target no desk sets).
const MAX_DAYS: usize = 3660;

/// A minute of the day, 0 (00:00) to 1440 (24:00, the end of the day).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct DayMinute(u16);

impl DayMinute {
    pub const MIDNIGHT: DayMinute = DayMinute(0);
    pub const END_OF_DAY: DayMinute = DayMinute(1440);

    /// `"09:00"`, `"17:30"`, `"24:00"`.
    pub fn parse(text: &str) -> Option<DayMinute> {
        let (h, m) = text.split_once(':')?;
        if h.is_empty() || h.len() > 2 || m.len() != 2 {
            return None;
        }
        let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
        let minute = h.checked_mul(60)? + m;
        (m < 60 && minute <= 1440).then_some(DayMinute(minute))
    }

    /// Minutes since midnight.
    pub fn minutes(self) -> i32 {
        i32::from(self.0)
    }

    fn hour_minute(self) -> (i8, i8) {
        ((self.0 / 60) as i8, (self.0 % 60) as i8)
    }
}

/// When the desk works: the days of the week, one span of hours each such day, and the
/// dates it does not, all read on `zone`'s clock.
#[derive(Debug, Clone)]
pub struct BusinessHours {
    pub zone: TimeZone,
    /// Monday first.
    pub days: [bool; 7],
    pub start: DayMinute,
    pub end: DayMinute,
    pub holidays: BTreeSet<Date>,
}

impl BusinessHours {
    /// Monday to Friday, 09:00 to 17:00, no holidays.
    pub fn office(zone: TimeZone) -> BusinessHours {
        BusinessHours {
            zone,
            days: [true, true, true, true, true, false, false],
            start: DayMinute(9 * 60),
            end: DayMinute(17 * 60),
            holidays: BTreeSet::new(),
        }
    }

    /// The length of a working day on the wall clock: what a target of "1d" means.
    pub fn day_length(&self) -> Duration {
        Duration::from_secs(u64::from(self.end.0.saturating_sub(self.start.0)) * 60)
    }

    /// `from` plus `amount` of business time: the instant the desk has worked `amount`
    /// since `from`. A DST change inside the working hours counts as the wall clock says
    /// it lasted (a window that loses an hour is an hour shorter).
    pub fn add(&self, from: Timestamp, amount: Duration) -> Timestamp {
        let mut left = amount.as_millis() as i64;
        if left == 0 {
            return from;
        }
        let mut date = self.date_of(from);
        for _ in 0..MAX_DAYS {
            if let Some((start, end)) = self.window(date) {
                let start = start.max(from.as_millisecond());
                if end > start {
                    if left <= end - start {
                        return ms(start + left);
                    }
                    left -= end - start;
                }
            }
            let Ok(next) = date.tomorrow() else { break };
            date = next;
        }
        Timestamp::MAX
    }

    /// The business time between `from` and `to` (zero when `to` is not later).
    pub fn between(&self, from: Timestamp, to: Timestamp) -> Duration {
        let (from, to) = (from.as_millisecond(), to.as_millisecond());
        let mut total = 0i64;
        let mut date = self.date_of(ms(from));
        for _ in 0..MAX_DAYS {
            let Some(day_start) = self.day_start(date) else {
                break;
            };
            if day_start >= to {
                break;
            }
            if let Some((start, end)) = self.window(date) {
                total += (end.min(to) - start.max(from)).max(0);
            }
            let Ok(next) = date.tomorrow() else { break };
            date = next;
        }
        Duration::from_millis(total.max(0) as u64)
    }

    /// Whether `at` falls in working hours.
    pub fn is_working(&self, at: Timestamp) -> bool {
        let at_ms = at.as_millisecond();
        self.window(self.date_of(at))
            .is_some_and(|(s, e)| s <= at_ms && at_ms < e)
    }

    fn date_of(&self, at: Timestamp) -> Date {
        at.to_zoned_datetime(self.zone.clone()).date()
    }

    /// The working span of `date` in Unix ms, if it is a working day.
    fn window(&self, date: Date) -> Option<(i64, i64)> {
        let weekday = date.weekday();
        if !self.days[monday_index(weekday)] || self.holidays.contains(&date) {
            return None;
        }
        let start = self.instant(date, self.start)?;
        let end = self.instant(date, self.end)?;
        (end > start).then_some((start, end))
    }

    /// 00:00 of `date`, in Unix ms.
    fn day_start(&self, date: Date) -> Option<i64> {
        self.instant(date, DayMinute::MIDNIGHT)
    }

    /// The instant `date` at `minute` on the zone's clock; a time skipped by a DST change
    /// is taken as the clock shows it after the change (jiff's "compatible" rule), and
    /// 24:00 is the next day's 00:00.
    fn instant(&self, date: Date, minute: DayMinute) -> Option<i64> {
        let (date, minute) = match minute == DayMinute::END_OF_DAY {
            true => (date.tomorrow().ok()?, DayMinute::MIDNIGHT),
            false => (date, minute),
        };
        let (h, m) = minute.hour_minute();
        let at = self
            .zone
            .to_ambiguous_timestamp(date.at(h, m, 0, 0))
            .compatible()
            .ok()?;
        Some(at.as_millisecond())
    }
}

fn monday_index(day: Weekday) -> usize {
    day.to_monday_zero_offset() as usize
}

fn ms(value: i64) -> Timestamp {
    Timestamp::from_millisecond(value).unwrap_or(Timestamp::MAX)
}

#[cfg(test)]
#[path = "hours_tests.rs"]
mod tests;
