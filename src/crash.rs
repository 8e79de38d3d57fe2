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

/// `buzon migrate`'s own point, not among [`POINTS`] (which `buzon run` passes): once a
/// blob file's rows are committed and before the file is deleted (src/blobs/move_in.rs).
pub const MIGRATE_BEFORE_DELETE: &str = "migrate.before_delete";

/// A mail-dependent crash, not among [`POINTS`]: with `BUZON_CRASH_AT=parse.poison`, the
/// process aborts while parsing any mail that carries this header, as a mail that
/// overflows the parser's stack would, every time it is tried (the crash-only tests).
pub const POISON_HEADER: &[u8] = b"X-Buzon-Test-Poison:";

pub fn poison(raw: &[u8]) {
    if target().as_deref() == Some("parse.poison")
        && raw.windows(POISON_HEADER.len()).any(|w| w == POISON_HEADER)
    {
        eprintln!("buzon: poisoned mail parsed: aborting");
        std::process::abort();
    }
}

fn target() -> &'static Option<String> {
    static TARGET: OnceLock<Option<String>> = OnceLock::new();
    TARGET.get_or_init(|| {
        std::env::var("BUZON_CRASH_AT")
            .ok()
            .filter(|s| !s.is_empty())
    })
}

pub fn point(name: &'static str) {
    if target().as_deref() == Some(name) {
        eprintln!("buzon: crash point {name} reached: aborting");
        std::process::abort();
    }
}
