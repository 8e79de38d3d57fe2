//! Business time on Madrid's clock: weekends, holidays, DST changes, days past midnight.

use std::time::Duration;

use jiff::civil::date;
use jiff::tz::TimeZone;
use jiff::Timestamp;

use super::*;
use crate::sla::{SlaClock, SlaConfig, SlaState, Target};

fn madrid() -> BusinessHours {
    BusinessHours::office(TimeZone::get("Europe/Madrid").unwrap())
}

/// A wall-clock instant in Madrid.
fn at(y: i16, mo: i8, d: i8, h: i8, mi: i8) -> Timestamp {
    date(y, mo, d)
        .at(h, mi, 0, 0)
        .to_zoned_datetime(TimeZone::get("Europe/Madrid").unwrap())
        .unwrap()
        .timestamp()
}

fn hours(n: u64) -> Duration {
    Duration::from_secs(n * 3600)
}

#[test]
fn adding_inside_one_working_day() {
    // Monday 2026-11-30, 10:00 + 3 h = 13:00.
    assert_eq!(
        madrid().add(at(2026, 11, 30, 10, 0), hours(3)),
        at(2026, 11, 30, 13, 0)
    );
}

#[test]
fn adding_carries_over_the_night_and_the_weekend() {
    // Friday 16:00 + 2 h: one hour on Friday, one on Monday from 09:00.
    assert_eq!(
        madrid().add(at(2026, 12, 4, 16, 0), hours(2)),
        at(2026, 12, 7, 10, 0)
    );
    // Saturday 11:00 + 30 min: Monday 09:30.
    let half = Duration::from_secs(1800);
    assert_eq!(
        madrid().add(at(2026, 12, 5, 11, 0), half),
        at(2026, 12, 7, 9, 30)
    );
    // Before opening counts from opening; after closing from the next morning.
    assert_eq!(
        madrid().add(at(2026, 12, 1, 7, 0), hours(1)),
        at(2026, 12, 1, 10, 0)
    );
    assert_eq!(
        madrid().add(at(2026, 12, 1, 20, 0), hours(1)),
        at(2026, 12, 2, 10, 0)
    );
}

#[test]
fn holidays_are_skipped() {
    let mut h = madrid();
    h.holidays.insert(date(2026, 12, 8));
    // Monday 16:00 + 3 h: 1 h Monday, Tuesday 8th is a holiday, 2 h Wednesday.
    assert_eq!(
        h.add(at(2026, 12, 7, 16, 0), hours(3)),
        at(2026, 12, 9, 11, 0)
    );
    assert_eq!(
        h.between(at(2026, 12, 7, 16, 0), at(2026, 12, 9, 11, 0)),
        hours(3)
    );
}

#[test]
fn elapsed_business_time_between_two_instants() {
    let h = madrid();
    // Friday 15:00 to Monday 10:00: 2 h Friday + 1 h Monday.
    assert_eq!(
        h.between(at(2026, 12, 4, 15, 0), at(2026, 12, 7, 10, 0)),
        hours(3)
    );
    // Over a whole week: five days of eight hours.
    assert_eq!(
        h.between(at(2026, 11, 30, 0, 0), at(2026, 12, 7, 0, 0)),
        hours(40)
    );
    // Backwards or inside a weekend: nothing.
    assert_eq!(
        h.between(at(2026, 12, 7, 10, 0), at(2026, 12, 4, 15, 0)),
        Duration::ZERO
    );
    assert_eq!(
        h.between(at(2026, 12, 5, 9, 0), at(2026, 12, 6, 18, 0)),
        Duration::ZERO
    );
}

#[test]
fn adding_then_measuring_gives_the_amount_back() {
    let h = madrid();
    let mut from = at(2026, 3, 20, 8, 17);
    for minutes in [1u64, 59, 480, 481, 2400, 10_000] {
        let amount = Duration::from_secs(minutes * 60);
        let due = h.add(from, amount);
        assert_eq!(h.between(from, due), amount, "{minutes} min from {from}");
        from = due;
    }
}

#[test]
fn a_dst_change_inside_working_hours_shortens_or_lengthens_the_day() {
    // A desk open around the clock sees Madrid's spring night (29 March 2026) last 23 hours
    // and the autumn one (25 October 2026) 25.
    let mut h = madrid();
    h.days = [true; 7];
    h.start = DayMinute::MIDNIGHT;
    h.end = DayMinute::END_OF_DAY;
    assert_eq!(
        h.between(at(2026, 3, 29, 0, 0), at(2026, 3, 30, 0, 0)),
        hours(23)
    );
    assert_eq!(
        h.between(at(2026, 10, 25, 0, 0), at(2026, 10, 26, 0, 0)),
        hours(25)
    );
    // 01:00 + 2 h of business time on the spring night is 04:00 on the clock.
    assert_eq!(
        h.add(at(2026, 3, 29, 1, 0), hours(2)),
        at(2026, 3, 29, 4, 0)
    );
}

#[test]
fn a_dst_change_outside_working_hours_changes_nothing() {
    // Friday 27 March 16:00 + 2 h crosses the spring change on Sunday: Monday 10:00.
    assert_eq!(
        madrid().add(at(2026, 3, 27, 16, 0), hours(2)),
        at(2026, 3, 30, 10, 0)
    );
    // A working day opening inside the skipped hour (02:30) opens at 03:30 on the clock.
    let mut h = madrid();
    h.days = [true; 7];
    h.start = DayMinute::parse("02:30").unwrap();
    assert_eq!(
        h.add(at(2026, 3, 29, 0, 0), hours(1)),
        at(2026, 3, 29, 4, 30)
    );
}

#[test]
fn day_minutes_are_read_strictly() {
    assert_eq!(DayMinute::parse("24:00"), Some(DayMinute::END_OF_DAY));
    assert_eq!(
        DayMinute::parse("9:05").map(|m| m.hour_minute()),
        Some((9, 5))
    );
    for bad in ["24:01", "12:60", "1200", "12:5", "", "x:00"] {
        assert_eq!(DayMinute::parse(bad), None, "{bad}");
    }
}

#[test]
fn a_week_without_working_days_saturates_instead_of_looping() {
    let mut h = madrid();
    h.days = [false; 7];
    assert_eq!(h.add(at(2026, 12, 1, 10, 0), hours(1)), Timestamp::MAX);
}

fn config() -> SlaConfig {
    let mut c = SlaConfig::defaults(TimeZone::get("Europe/Madrid").unwrap());
    c.first_response.0 = [Some(hours(1)), Some(hours(4)), Some(hours(8))];
    c.next_response.0 = [Some(hours(2)), None, None];
    c
}

#[test]
fn a_clock_warns_at_eighty_percent_and_is_due_at_the_target() {
    let start = at(2026, 12, 1, 10, 0);
    let clock = SlaClock::start(&config(), Target::FirstResponse, 2, start).unwrap();
    assert_eq!(clock.warn_at, at(2026, 12, 1, 13, 12));
    assert_eq!(clock.due_at, at(2026, 12, 1, 14, 0));
    let state = |t| SlaClock::state(Some(&clock), false, t);
    assert_eq!(state(at(2026, 12, 1, 13, 0)), SlaState::OnTime);
    assert_eq!(state(at(2026, 12, 1, 13, 30)), SlaState::AtRisk);
    assert_eq!(state(at(2026, 12, 1, 14, 0)), SlaState::Breached);
    assert_eq!(SlaClock::state(Some(&clock), true, start), SlaState::Paused);
}

#[test]
fn waiting_on_the_customer_stops_the_clock() {
    let c = config();
    let clock = SlaClock::start(&c, Target::FirstResponse, 2, at(2026, 12, 1, 10, 0)).unwrap();
    // Paused at 11:00 with 3 h left; the customer writes on Thursday at 09:00.
    let resumed = SlaClock::on_customer_mail(
        &c,
        Some(clock),
        Some(at(2026, 12, 1, 11, 0)),
        false,
        2,
        at(2026, 12, 3, 9, 0),
    )
    .unwrap();
    assert_eq!(resumed.due_at, at(2026, 12, 3, 12, 0));
    assert_eq!(
        resumed.started_at, clock.started_at,
        "the same target, warned once"
    );
}

#[test]
fn the_customer_writing_again_keeps_the_running_clock_or_starts_the_next_one() {
    let c = config();
    let first = SlaClock::start(&c, Target::FirstResponse, 1, at(2026, 12, 1, 10, 0));
    let later = at(2026, 12, 1, 10, 30);
    assert_eq!(
        SlaClock::on_customer_mail(&c, first, None, false, 1, later),
        first
    );
    let next = SlaClock::on_customer_mail(&c, None, None, true, 1, later).unwrap();
    assert_eq!(
        (next.target, next.due_at),
        (Target::NextResponse, at(2026, 12, 1, 12, 30))
    );
    assert_eq!(
        SlaClock::on_customer_mail(&c, None, None, true, 2, later),
        None,
        "no target set"
    );
}

#[test]
fn a_new_severity_gives_the_running_clock_its_target_from_the_same_start() {
    let c = config();
    let start = at(2026, 12, 1, 10, 0);
    let minor = SlaClock::start(&c, Target::FirstResponse, 3, start).unwrap();
    let critical = SlaClock::start(&c, Target::FirstResponse, 1, minor.started_at).unwrap();
    assert_eq!(critical.started_at, minor.started_at);
    assert_eq!(critical.due_at, at(2026, 12, 1, 11, 0));
    assert!(critical.due_at < minor.due_at);
}
