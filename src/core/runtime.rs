//! The tokio runtime pglane's work runs on. Every Playwright worker is its own process, and the
//! work is waiting on Postgres, not computing: one worker thread is plenty. The binding hands
//! the runtime built here to napi; core keeps its handle so that synchronous calls (tracking a
//! row from JS) can start background work and wait for a first catalog read.

use std::future::Future;
use std::sync::OnceLock;
use tokio::runtime::{Handle, Runtime};
use tokio::task::JoinHandle;

static HANDLE: OnceLock<Handle> = OnceLock::new();

/// Builds the process's runtime (one worker thread) and remembers its handle.
pub fn build() -> std::io::Result<Runtime> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .thread_name("pglane")
        .build()?;
    let _ = HANDLE.set(rt.handle().clone());
    Ok(rt)
}

/// The runtime built by [`build`], or the one the caller runs in (Rust tests).
fn handle() -> Handle {
    HANDLE.get().cloned().unwrap_or_else(Handle::current)
}

/// Runs `fut` in the background.
pub fn spawn<F>(fut: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    handle().spawn(fut)
}

/// Runs `fut` to completion from a thread outside the runtime (the JS thread).
pub fn block_on<F: Future>(fut: F) -> F::Output {
    handle().block_on(fut)
}
