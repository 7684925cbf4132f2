//! Lanes: who is running (run, worker process, test), the names that follow from it, the
//! patterns that match them, and the rows a test created.
//!
//! - [`naming`]: run ids, the name format, names, slugs, emails.
//! - [`pattern`]: [`LanePattern`], the one guard every delete by name goes through.
//! - [`context`]: a test's [`WorkerContext`] (identity, lane, factory sequences).
//! - [`tracker`]: the rows a test created.

pub mod context;
pub mod naming;
pub mod pattern;
pub mod tracker;

pub use context::WorkerContext;
pub use pattern::LanePattern;

use serde::{Deserialize, Serialize};

/// Which lane: the run, the worker process within it, and the test within the worker.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LaneId {
    /// The run id shared by every worker of a `playwright test` run.
    pub run_id: String,
    /// Playwright's `workerIndex`.
    pub worker_id: u32,
    /// The test's index within its worker process.
    pub test_index: u32,
}
