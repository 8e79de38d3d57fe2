//! The `buzon` binary: arguments, then the library does the work (logging is set up once
//! the configuration, which chooses its format, is loaded).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    return_large_buffers_to_the_system();
    let cli = buzon::cli::Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(buzon::cli::execute(cli))
}

/// glibc raises its mmap threshold to the size of the last large block freed (up to 32 MB),
/// after which a 20 MB attachment is carved from a thread's arena and its pages stay
/// resident. A fixed threshold gives every large buffer back to the system when it is
/// freed, and two arenas are plenty for a process that mostly waits on the network.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn return_large_buffers_to_the_system() {
    extern "C" {
        fn mallopt(param: i32, value: i32) -> i32;
    }
    const M_MMAP_THRESHOLD: i32 = -3;
    const M_ARENA_MAX: i32 = -8;
    // SAFETY: mallopt only sets allocator parameters; called before any other thread runs.
    unsafe {
        mallopt(M_MMAP_THRESHOLD, 256 * 1024);
        mallopt(M_ARENA_MAX, 2);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn return_large_buffers_to_the_system() {}
