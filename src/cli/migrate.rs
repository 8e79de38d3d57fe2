//! `buzon migrate`: the database's migrations (every command applies them as it starts),
//! then, on PostgreSQL, the blob files of a store from before moved into the database
//! (src/blobs/move_in.rs). Safe to interrupt and to run again; exit 1 when a file had to
//! stay (damaged or unreadable), named on its own line.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use super::say;
use crate::daemon::App;

const MB: f64 = 1024.0 * 1024.0;

pub async fn migrate(app: &App) -> anyhow::Result<ExitCode> {
    say(format_args!("database is up to date"))?;
    if !app.blobs.all_in_database() {
        say(format_args!(
            "blobs: up to 64 KiB in the database, larger ones as files under {} (SQLite)",
            app.blobs.root().display()
        ))?;
        return Ok(ExitCode::SUCCESS);
    }
    let started = Instant::now();
    let mut shown = Instant::now();
    let moved = app
        .blobs
        .move_files_in(|m| {
            if shown.elapsed() > Duration::from_secs(2) {
                eprintln!(
                    "blobs: {} files moved ({:.1} MB)…",
                    m.files,
                    m.bytes as f64 / MB
                );
                shown = Instant::now();
            }
        })
        .await?;
    say(format_args!(
        "blobs: {} files moved into the database ({:.1} MB) in {:.1} s, {} left",
        moved.files,
        moved.bytes as f64 / MB,
        started.elapsed().as_secs_f64(),
        moved.kept.len()
    ))?;
    for (path, why) in &moved.kept {
        say(format_args!("blobs: kept {}: {why}", path.display()))?;
    }
    Ok(match moved.kept.is_empty() {
        true => ExitCode::SUCCESS,
        false => ExitCode::FAILURE,
    })
}
