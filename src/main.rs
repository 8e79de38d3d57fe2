//! The `buzon` binary: arguments, logging, then the library does the work.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = buzon::cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BUZON_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(buzon::cli::execute(cli))
}
