//! Where the scheduler reads the time. The daemon reads the system clock; tests move a
//! [`ManualClock`]; `BUZON_TEST_CLOCK=2026-12-07T08:31:00Z` starts the real binary's
//! scheduler at a chosen instant, from which its clock runs on in real time.

use std::sync::atomic::{AtomicI64, Ordering};

use jiff::Timestamp;

/// The scheduler's notion of now (the apply stage keeps the real time).
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> Timestamp;
}

#[derive(Debug)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// The real clock moved by a fixed amount.
#[derive(Debug)]
pub struct ShiftedClock {
    offset_ms: i64,
}

impl ShiftedClock {
    /// A clock that reads `start` now and runs on from there.
    pub fn starting_at(start: Timestamp) -> ShiftedClock {
        ShiftedClock {
            offset_ms: start.as_millisecond() - Timestamp::now().as_millisecond(),
        }
    }
}

impl Clock for ShiftedClock {
    fn now(&self) -> Timestamp {
        let ms = Timestamp::now().as_millisecond() + self.offset_ms;
        Timestamp::from_millisecond(ms).unwrap_or(Timestamp::MAX)
    }
}

/// A clock that stands still until set: tests move it instead of sleeping for days.
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn at(start: Timestamp) -> ManualClock {
        ManualClock(AtomicI64::new(start.as_millisecond()))
    }

    pub fn set(&self, to: Timestamp) {
        self.0.store(to.as_millisecond(), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millisecond(self.0.load(Ordering::SeqCst)).unwrap_or(Timestamp::MAX)
    }
}

/// `BUZON_TEST_CLOCK` when set (a test hook, like `BUZON_CRASH_AT`), else the system clock.
pub fn from_env() -> std::sync::Arc<dyn Clock> {
    match std::env::var("BUZON_TEST_CLOCK") {
        Ok(text) if !text.is_empty() => match text.parse::<Timestamp>() {
            Ok(start) => {
                tracing::warn!(%start, "BUZON_TEST_CLOCK: the scheduler's clock is moved");
                std::sync::Arc::new(ShiftedClock::starting_at(start))
            }
            Err(e) => {
                tracing::warn!(error = %e, "BUZON_TEST_CLOCK is not an instant; using the system clock");
                std::sync::Arc::new(SystemClock)
            }
        },
        _ => std::sync::Arc::new(SystemClock),
    }
}
