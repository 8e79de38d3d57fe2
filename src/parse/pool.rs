//! The threads mail is parsed on: a fixed pool with a stack sized for the work, not
//! tokio's blocking threads (2 MiB stacks shared with everything else).
//!
//! Parsing is bounded ([`super::MAX_NESTING_DEPTH`] levels of MIME, a bounded HTML
//! depth), but html5ever and mail-parser still recurse once per level, several frames of
//! a few hundred bytes each, more in a debug build. [`STACK_BYTES`] leaves two orders of
//! magnitude of room over that; it is address space, and only the pages a parse touches
//! become memory. A panic stays in its job: the caller gets an error, the thread lives.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Mutex, OnceLock};

/// Stack of each parsing thread.
pub const STACK_BYTES: usize = 64 * 1024 * 1024;

type Job = Box<dyn FnOnce() + Send>;

/// The job panicked (its message), so it has no result.
#[derive(Debug, thiserror::Error)]
#[error("the parser panicked: {0}")]
pub struct Panicked(pub String);

/// Start `job` on a parsing thread at once (so several run in parallel); the future
/// waits for its result without holding an async thread.
pub fn run<T, F>(job: F) -> impl std::future::Future<Output = Result<T, Panicked>>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    submit(Box::new(move || {
        let outcome = catch_unwind(AssertUnwindSafe(job)).map_err(|e| {
            let why = e
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| e.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Panicked(why)
        });
        let _ = tx.send(outcome);
    }));
    async move {
        rx.await
            .unwrap_or_else(|_| Err(Panicked("parsing thread gone".into())))
    }
}

/// Hand a job to the pool, started on first use with one thread per core.
fn submit(job: Job) {
    static POOL: OnceLock<Mutex<Sender<Job>>> = OnceLock::new();
    let pool = POOL.get_or_init(|| {
        let (tx, rx) = channel::<Job>();
        let rx = std::sync::Arc::new(Mutex::new(rx));
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        for i in 0..threads {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("buzon-parse-{i}"))
                .stack_size(STACK_BYTES)
                .spawn(move || loop {
                    let job = match rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(poisoned) => poisoned.into_inner().recv(),
                    };
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                })
                .expect("start a parsing thread");
        }
        Mutex::new(tx)
    });
    let sender = pool.lock().unwrap_or_else(|p| p.into_inner());
    // The threads never stop while the sender lives (it is static), so this cannot fail.
    let _ = sender.send(job);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_run_and_a_panic_stays_in_its_job() {
        assert_eq!(run(|| 2 + 2).await.unwrap(), 4);
        let err = run(|| -> u8 { panic!("boom") }).await.unwrap_err();
        assert!(err.0.contains("boom"), "{err}");
        assert_eq!(run(|| "still here").await.unwrap(), "still here");
    }

    #[tokio::test]
    async fn the_stack_holds_deep_recursion() {
        fn down(n: u32) -> u32 {
            let pad = std::hint::black_box([0u8; 512]);
            if n == 0 {
                pad[0] as u32
            } else {
                down(n - 1) + std::hint::black_box(1)
            }
        }
        // ~30 MiB of frames: 15 times a default thread's stack.
        assert_eq!(run(|| down(50_000)).await.unwrap(), 50_000);
    }
}
