//! Deterministic crash points for the durability tests: with `BUZON_CRASH_AT=<point>` in the
//! environment, the process aborts at that point, as if killed there. Unset (always, in
//! production), each point costs one cached comparison.

use std::sync::OnceLock;

/// Where a crash can be asked for, in the order a mail passes them.
pub const POINTS: [&str; 4] = [
    "fetch.before_commit",
    "fetch.after_commit",
    "apply.after_commit",
    "send.after_accept",
];

pub fn point(name: &'static str) {
    static TARGET: OnceLock<Option<String>> = OnceLock::new();
    let target = TARGET.get_or_init(|| {
        std::env::var("BUZON_CRASH_AT")
            .ok()
            .filter(|s| !s.is_empty())
    });
    if target.as_deref() == Some(name) {
        eprintln!("buzon: crash point {name} reached: aborting");
        std::process::abort();
    }
}
