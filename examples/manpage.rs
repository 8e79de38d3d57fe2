//! Writes buzon's man pages from the command line's own definition (clap_mangen), so they
//! never drift from `buzon --help`: buzon(1), and buzon-<command>(1) for each command it
//! lists (buzon-customer-add(1) and so on). Used by scripts/package.sh:
//! `cargo run --example manpage -- DIR`.

use std::path::Path;

use clap::{Command, CommandFactory};

fn main() -> std::io::Result<()> {
    let dir = std::env::args().nth(1).unwrap_or_else(|| ".".into());
    let mut command = buzon::cli::Cli::command();
    command.build();
    write_pages(command, Path::new(&dir))
}

/// This command's page, then its commands' pages under `<name>-<command>`.
fn write_pages(command: Command, dir: &Path) -> std::io::Result<()> {
    let name = command
        .get_display_name()
        .unwrap_or(command.get_name())
        .to_string();
    let mut page = Vec::new();
    clap_mangen::Man::new(command.clone()).render(&mut page)?;
    std::fs::write(dir.join(format!("{name}.1")), page)?;
    for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
        let sub_name = format!("{name}-{}", sub.get_name());
        write_pages(sub.clone().display_name(&sub_name), dir)?;
    }
    Ok(())
}
