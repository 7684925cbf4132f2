//! `WorkerContext`: lane names for one test, from Playwright's `TestInfo`.

use super::args::{Arg, JsInput};
use super::error::guard;
use crate::core::lane::context::{self as core_ctx, ContextSettings, TestIdentity, TestInfoInput};
use crate::core::lane::naming::{self, LaneScope};
use crate::core::lane::pattern;
use napi::Env;
use napi_derive::napi;

/// The parts of Playwright's `TestInfo` pglane reads. A real `TestInfo` or a plain object.
/// Indexes must be integers from 0 to 2147483647; anything else is `PGLANE_INVALID_ARGUMENT`.
#[napi(object, object_to_js = false)]
pub struct TestInfoLike {
    /// Unique per worker process within a run.
    #[napi(ts_type = "number")]
    pub worker_index: Option<JsInput>,
    /// The worker slot (0..workers-1).
    #[napi(ts_type = "number")]
    pub parallel_index: Option<JsInput>,
    /// The retry number (0 on the first attempt).
    #[napi(ts_type = "number")]
    pub retry: Option<JsInput>,
    /// The `--repeat-each` index.
    #[napi(ts_type = "number")]
    pub repeat_each_index: Option<JsInput>,
    /// Playwright's stable test id.
    #[napi(ts_type = "string")]
    pub test_id: Option<JsInput>,
    /// The project the test runs in.
    #[napi(ts_type = "ProjectLike")]
    pub project: Option<Arg<ProjectLike>>,
}

/// The parts of a Playwright project pglane reads.
#[napi(object, object_to_js = false)]
pub struct ProjectLike {
    /// Project name.
    #[napi(ts_type = "string")]
    pub name: Option<JsInput>,
}

impl TestInfoLike {
    /// What was given, for core to check.
    pub(crate) fn input(self) -> TestInfoInput {
        TestInfoInput {
            worker_index: self.worker_index.map(|i| i.0),
            parallel_index: self.parallel_index.map(|i| i.0),
            retry: self.retry.map(|i| i.0),
            repeat_each_index: self.repeat_each_index.map(|i| i.0),
            test_id: self.test_id.map(|i| i.0),
            project_name: self.project.and_then(|p| p.0.name).map(|i| i.0),
        }
    }
}

/// Options of `WorkerContext.create`; each falls back to an environment variable.
#[napi(object)]
pub struct WorkerContextOptions {
    /// Run id (default: `PGLANE_RUN_ID`, set by the global setup, or one per process): 8 to 32
    /// characters of `0-9` and `a-z`.
    pub run_id: Option<String>,
    /// Name format (default `{run}-w{worker}-{test}-{name}`, or `PGLANE_NAME_FORMAT`); it must
    /// start with `{run}`.
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
    #[napi(factory, catch_unwind)]
    pub fn create(
        env: Env,
        #[napi(ts_arg_type = "TestInfoLike | undefined | null")] test_info: Option<
            Arg<TestInfoLike>,
        >,
        #[napi(ts_arg_type = "WorkerContextOptions | undefined | null")] options: Option<
            Arg<WorkerContextOptions>,
        >,
    ) -> napi::Result<WorkerContext> {
        let info = test_info.map(|t| t.0.input()).unwrap_or_default();
        let settings = options
            .map(|o| ContextSettings {
                run_id: o.0.run_id,
                name_format: o.0.name_format,
                email_domain: o.0.email_domain,
            })
            .unwrap_or_default();
        guard(&env, || {
            let identity = TestIdentity::from_input(&info)?;
            core_ctx::WorkerContext::create(identity, &settings)
        })
        .map(|inner| WorkerContext { inner })
    }

    /// The worker id in names: Playwright's `workerIndex`.
    #[napi(getter, catch_unwind)]
    pub fn worker_id(&self) -> u32 {
        self.inner.worker_id()
    }

    /// Same as `workerId`, for code written against the reference utilities.
    #[napi(catch_unwind)]
    pub fn get_worker_id(&self) -> u32 {
        self.inner.worker_id()
    }

    /// This test's index within its worker process.
    #[napi(getter, catch_unwind)]
    pub fn test_index(&self) -> u32 {
        self.inner.test_index()
    }

    /// Same as `testIndex`.
    #[napi(catch_unwind)]
    pub fn get_test_index(&self) -> u32 {
        self.inner.test_index()
    }

    /// The run id shared by every worker of this `playwright test` run.
    #[napi(getter, catch_unwind)]
    pub fn run_id(&self) -> String {
        self.inner.run_id().to_string()
    }

    /// The retry number of the test.
    #[napi(getter, catch_unwind)]
    pub fn retry(&self) -> u32 {
        self.inner.identity().retry
    }

    /// The `--repeat-each` index of the test.
    #[napi(getter, catch_unwind)]
    pub fn repeat_each_index(&self) -> u32 {
        self.inner.identity().repeat_each_index
    }

    /// The worker slot (`parallelIndex`), when known.
    #[napi(getter, catch_unwind)]
    pub fn parallel_index(&self) -> Option<u32> {
        self.inner.identity().parallel_index
    }

    /// Playwright's test id, when known.
    #[napi(getter, catch_unwind)]
    pub fn test_id(&self) -> Option<String> {
        self.inner.identity().test_id.clone()
    }

    /// The project name, when known.
    #[napi(getter, catch_unwind)]
    pub fn project_name(&self) -> Option<String> {
        self.inner.identity().project.clone()
    }

    /// A unique name: `{run}-w{worker}-{test}-{base}`. Throws `PGLANE_INVALID_NAME` for an
    /// empty base, one over 128 characters, or one with control characters.
    #[napi(catch_unwind)]
    pub fn name(
        &self,
        env: Env,
        #[napi(ts_arg_type = "string")] base: Arg<String>,
    ) -> napi::Result<String> {
        guard(&env, || self.inner.lane().name(&base))
    }

    /// A unique lowercase email in the lane, e.g. `{run}-w3-7-alice@pglane.test`.
    #[napi(catch_unwind)]
    pub fn email(
        &self,
        env: Env,
        #[napi(ts_arg_type = "string")] base: Arg<String>,
    ) -> napi::Result<String> {
        guard(&env, || self.inner.lane().email(&base))
    }

    /// A unique URL-safe slug (`a-z`, `0-9`, `-`).
    #[napi(catch_unwind)]
    pub fn slug(
        &self,
        env: Env,
        #[napi(ts_arg_type = "string")] base: Arg<String>,
    ) -> napi::Result<String> {
        guard(&env, || self.inner.lane().slug(&base))
    }

    /// A new time-ordered UUID (v7).
    #[napi(catch_unwind)]
    pub fn uuid(&self) -> String {
        uuid::Uuid::now_v7().to_string()
    }

    /// LIKE pattern of this test's names (`%`, `_` and `\` escaped).
    #[napi(catch_unwind)]
    pub fn test_pattern(&self) -> String {
        self.inner.pattern(LaneScope::Test).to_string()
    }

    /// LIKE pattern of this worker's names.
    #[napi(catch_unwind)]
    pub fn worker_pattern(&self) -> String {
        self.inner.pattern(LaneScope::Worker).to_string()
    }

    /// LIKE pattern of this run's names.
    #[napi(catch_unwind)]
    pub fn run_pattern(&self) -> String {
        self.inner.pattern(LaneScope::Run).to_string()
    }

    /// LIKE pattern of a scope: `"test"`, `"worker"` or `"run"`.
    #[napi(catch_unwind)]
    pub fn like_pattern(
        &self,
        env: Env,
        #[napi(ts_arg_type = "'test' | 'worker' | 'run'")] scope: Arg<String>,
    ) -> napi::Result<String> {
        guard(&env, || {
            Ok(self.inner.pattern(LaneScope::parse(&scope)?).to_string())
        })
    }

    /// The literal prefix of a scope's names (no escaping): `"test"`, `"worker"` or `"run"`.
    #[napi(catch_unwind)]
    pub fn prefix(
        &self,
        env: Env,
        #[napi(ts_arg_type = "'test' | 'worker' | 'run'")] scope: Arg<String>,
    ) -> napi::Result<String> {
        guard(&env, || {
            Ok(self
                .inner
                .lane()
                .prefix(LaneScope::parse(&scope)?)
                .to_string())
        })
    }
}

/// Escapes `\`, `%` and `_` so a string matches itself literally in a LIKE pattern.
#[napi(catch_unwind)]
pub fn escape_like(#[napi(ts_arg_type = "string")] text: Arg<String>) -> String {
    pattern::escape_like(&text)
}

/// A new run id: 10 characters, sortable by start time, random in the last four.
#[napi(catch_unwind)]
pub fn generate_run_id() -> String {
    naming::generate_run_id()
}
