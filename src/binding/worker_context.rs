//! `WorkerContext`: lane names for one test, from Playwright's `TestInfo`.

use super::error::OrThrow;
use crate::core::lane::context::{self as core_ctx, ContextSettings, TestIdentity};
use crate::core::lane::naming::{self, LaneScope};
use crate::core::lane::pattern;
use napi::Env;
use napi_derive::napi;

/// The parts of Playwright's `TestInfo` pglane reads. A real `TestInfo` or a plain object.
#[napi(object)]
pub struct TestInfoLike {
    /// Unique per worker process within a run.
    pub worker_index: Option<u32>,
    /// The worker slot (0..workers-1).
    pub parallel_index: Option<u32>,
    /// The retry number (0 on the first attempt).
    pub retry: Option<u32>,
    /// The `--repeat-each` index.
    pub repeat_each_index: Option<u32>,
    /// Playwright's stable test id.
    pub test_id: Option<String>,
    /// The project the test runs in.
    pub project: Option<ProjectLike>,
}

/// The parts of a Playwright project pglane reads.
#[napi(object)]
pub struct ProjectLike {
    /// Project name.
    pub name: Option<String>,
}

/// Options of `WorkerContext.create`; each falls back to an environment variable.
#[napi(object)]
pub struct WorkerContextOptions {
    /// Run id (default: `PGLANE_RUN_ID`, set by the global setup, or one per process).
    pub run_id: Option<String>,
    /// Name format (default `{run}-w{worker}-{test}-{name}`, or `PGLANE_NAME_FORMAT`).
    pub name_format: Option<String>,
    /// Domain of lane emails (default `pglane.test`, or `PGLANE_EMAIL_DOMAIN`).
    pub email_domain: Option<String>,
}

/// One test's lane: unique names, emails, slugs and UUIDs, and LIKE patterns that match
/// exactly this test's (or worker's, or run's) names.
#[napi]
pub struct WorkerContext {
    pub(crate) inner: core_ctx::WorkerContext,
}

#[napi]
impl WorkerContext {
    /// The context of the test described by `testInfo` (Playwright's `TestInfo` or a plain
    /// object). Calling it again for the same test returns the same lane.
    #[napi(factory)]
    pub fn create(
        env: Env,
        test_info: Option<TestInfoLike>,
        options: Option<WorkerContextOptions>,
    ) -> napi::Result<WorkerContext> {
        let identity = test_info
            .map(|t| TestIdentity {
                worker_index: t.worker_index,
                parallel_index: t.parallel_index,
                retry: t.retry.unwrap_or(0),
                repeat_each_index: t.repeat_each_index.unwrap_or(0),
                test_id: t.test_id,
                project: t.project.and_then(|p| p.name),
            })
            .unwrap_or_default();
        let settings = options
            .map(|o| ContextSettings {
                run_id: o.run_id,
                name_format: o.name_format,
                email_domain: o.email_domain,
            })
            .unwrap_or_default();
        Ok(WorkerContext {
            inner: core_ctx::WorkerContext::create(identity, &settings).or_throw(&env)?,
        })
    }

    /// The worker id in names: Playwright's `workerIndex`.
    #[napi(getter)]
    pub fn worker_id(&self) -> u32 {
        self.inner.worker_id()
    }

    /// Same as `workerId`, for code written against the reference utilities.
    #[napi]
    pub fn get_worker_id(&self) -> u32 {
        self.inner.worker_id()
    }

    /// This test's index within its worker process.
    #[napi(getter)]
    pub fn test_index(&self) -> u32 {
        self.inner.test_index()
    }

    /// Same as `testIndex`.
    #[napi]
    pub fn get_test_index(&self) -> u32 {
        self.inner.test_index()
    }

    /// The run id shared by every worker of this `playwright test` run.
    #[napi(getter)]
    pub fn run_id(&self) -> String {
        self.inner.run_id().to_string()
    }

    /// The retry number of the test.
    #[napi(getter)]
    pub fn retry(&self) -> u32 {
        self.inner.identity().retry
    }

    /// The `--repeat-each` index of the test.
    #[napi(getter)]
    pub fn repeat_each_index(&self) -> u32 {
        self.inner.identity().repeat_each_index
    }

    /// The worker slot (`parallelIndex`), when known.
    #[napi(getter)]
    pub fn parallel_index(&self) -> Option<u32> {
        self.inner.identity().parallel_index
    }

    /// Playwright's test id, when known.
    #[napi(getter)]
    pub fn test_id(&self) -> Option<String> {
        self.inner.identity().test_id.clone()
    }

    /// The project name, when known.
    #[napi(getter)]
    pub fn project_name(&self) -> Option<String> {
        self.inner.identity().project.clone()
    }

    /// A unique name: `{run}-w{worker}-{test}-{base}`. Throws `PGLANE_INVALID_NAME` for an
    /// empty base, one over 128 characters, or one with control characters.
    #[napi]
    pub fn name(&self, env: Env, base: String) -> napi::Result<String> {
        self.inner.lane().name(&base).or_throw(&env)
    }

    /// A unique lowercase email in the lane, e.g. `{run}-w3-7-alice@pglane.test`.
    #[napi]
    pub fn email(&self, env: Env, base: String) -> napi::Result<String> {
        self.inner.lane().email(&base).or_throw(&env)
    }

    /// A unique URL-safe slug (`a-z`, `0-9`, `-`).
    #[napi]
    pub fn slug(&self, env: Env, base: String) -> napi::Result<String> {
        self.inner.lane().slug(&base).or_throw(&env)
    }

    /// A new time-ordered UUID (v7).
    #[napi]
    pub fn uuid(&self) -> String {
        uuid::Uuid::now_v7().to_string()
    }

    /// LIKE pattern of this test's names (`%`, `_` and `\` escaped).
    #[napi]
    pub fn test_pattern(&self) -> String {
        self.inner.pattern(LaneScope::Test).to_string()
    }

    /// LIKE pattern of this worker's names.
    #[napi]
    pub fn worker_pattern(&self) -> String {
        self.inner.pattern(LaneScope::Worker).to_string()
    }

    /// LIKE pattern of this run's names.
    #[napi]
    pub fn run_pattern(&self) -> String {
        self.inner.pattern(LaneScope::Run).to_string()
    }

    /// LIKE pattern of a scope: `"test"`, `"worker"` or `"run"`.
    #[napi]
    pub fn like_pattern(&self, env: Env, scope: String) -> napi::Result<String> {
        let scope = LaneScope::parse(&scope).or_throw(&env)?;
        Ok(self.inner.pattern(scope).to_string())
    }

    /// The literal prefix of a scope's names (no escaping): `"test"`, `"worker"` or `"run"`.
    #[napi]
    pub fn prefix(&self, env: Env, scope: String) -> napi::Result<String> {
        let scope = LaneScope::parse(&scope).or_throw(&env)?;
        Ok(self.inner.lane().prefix(scope).to_string())
    }
}

/// Escapes `\`, `%` and `_` so a string matches itself literally in a LIKE pattern.
#[napi]
pub fn escape_like(text: String) -> String {
    pattern::escape_like(&text)
}

/// A new run id: 10 characters, sortable by start time, random in the last four.
#[napi]
pub fn generate_run_id() -> String {
    naming::generate_run_id()
}
