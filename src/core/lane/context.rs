//! The worker context: who is running (run, worker process, test, retry) and the lane names
//! that follow from it.

use super::naming::{self, Lane, LaneScope, NameFormat};
use super::{LaneId, LanePattern};
use crate::core::error::Result;
use crate::core::input::{optional, Input};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::{Mutex, OnceLock};

/// What Playwright's `TestInfo` tells about the running test (all optional, so a plain object
/// works too).
#[derive(Debug, Clone, Default)]
pub struct TestIdentity {
    /// `testInfo.workerIndex`: unique per worker process within a run (restarted workers get new ones).
    pub worker_index: Option<u32>,
    /// `testInfo.parallelIndex`: the worker slot, 0..workers-1, reused by restarted workers.
    pub parallel_index: Option<u32>,
    /// `testInfo.retry`.
    pub retry: u32,
    /// `testInfo.repeatEachIndex`.
    pub repeat_each_index: u32,
    /// `testInfo.testId`.
    pub test_id: Option<String>,
    /// `testInfo.project.name`.
    pub project: Option<String>,
}

/// Largest worker index, test index, retry or repeat index: they are stored as `int4`.
pub const MAX_INDEX: u32 = i32::MAX as u32;

/// What a caller passed as `testInfo`, before its checks.
#[derive(Debug, Clone, Default)]
pub struct TestInfoInput {
    /// `workerIndex`.
    pub worker_index: Option<Input>,
    /// `parallelIndex`.
    pub parallel_index: Option<Input>,
    /// `retry`.
    pub retry: Option<Input>,
    /// `repeatEachIndex`.
    pub repeat_each_index: Option<Input>,
    /// `testId`.
    pub test_id: Option<Input>,
    /// `project.name`.
    pub project_name: Option<Input>,
}

impl TestIdentity {
    /// Checks what a caller passed: indexes are integers from 0 to [`MAX_INDEX`] (never wrapped
    /// or truncated: `2**40` or `NaN` would have made every worker worker 0), ids are strings.
    pub fn from_input(info: &TestInfoInput) -> Result<TestIdentity> {
        let index = |v: &Option<Input>, what: &str| {
            optional(v.as_ref())
                .map(|i| i.index(&format!("testInfo.{what}"), MAX_INDEX))
                .transpose()
        };
        let text = |v: &Option<Input>, what: &str| {
            optional(v.as_ref())
                .map(|i| i.text(&format!("testInfo.{what}")))
                .transpose()
        };
        Ok(TestIdentity {
            worker_index: index(&info.worker_index, "workerIndex")?,
            parallel_index: index(&info.parallel_index, "parallelIndex")?,
            retry: index(&info.retry, "retry")?.unwrap_or(0),
            repeat_each_index: index(&info.repeat_each_index, "repeatEachIndex")?.unwrap_or(0),
            test_id: text(&info.test_id, "testId")?,
            project: text(&info.project_name, "project.name")?,
        })
    }
}

/// Settings that shape names; each falls back to the environment, then to the default.
#[derive(Debug, Clone, Default)]
pub struct ContextSettings {
    /// Run id (`PGLANE_RUN_ID`, exported by global setup; else one per process).
    pub run_id: Option<String>,
    /// Name format (`PGLANE_NAME_FORMAT`).
    pub name_format: Option<String>,
    /// Email domain (`PGLANE_EMAIL_DOMAIN`).
    pub email_domain: Option<String>,
}

struct ProcessState {
    run_id: String,
    next_test_index: Mutex<(u32, HashMap<String, u32>)>,
}

fn process() -> &'static ProcessState {
    static STATE: OnceLock<ProcessState> = OnceLock::new();
    STATE.get_or_init(|| ProcessState {
        run_id: std::env::var("PGLANE_RUN_ID")
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(naming::generate_run_id),
        next_test_index: Mutex::new((0, HashMap::new())),
    })
}

/// The run id of this process: `PGLANE_RUN_ID` or one generated at first use.
pub fn process_run_id() -> &'static str {
    &process().run_id
}

/// Per-factory counters behind `{{seq}}`, starting at 1: one set per test's context.
#[derive(Debug, Default)]
pub struct Sequences(Mutex<HashMap<String, u64>>);

impl Sequences {
    /// The next number of `factory`'s sequence.
    pub fn next(&self, factory: &str) -> u64 {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let n = map.entry(factory.to_string()).or_insert(0);
        *n += 1;
        *n
    }
}

/// One test's view of its lane.
#[derive(Debug, Clone)]
pub struct WorkerContext {
    identity: TestIdentity,
    id: LaneId,
    lane: Lane,
    sequences: Arc<Sequences>,
}

impl WorkerContext {
    /// The context of a test. The same test (same id, retry and repeat index) gets the same
    /// test index within a process; every other call takes the next one.
    pub fn create(identity: TestIdentity, settings: &ContextSettings) -> Result<WorkerContext> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let run_id = settings
            .run_id
            .clone()
            .unwrap_or_else(|| process_run_id().to_string());
        let format = match settings
            .name_format
            .clone()
            .or_else(|| env("PGLANE_NAME_FORMAT"))
        {
            Some(f) => NameFormat::parse(&f)?,
            None => NameFormat::default(),
        };
        let domain = settings
            .email_domain
            .clone()
            .or_else(|| env("PGLANE_EMAIL_DOMAIN"))
            .unwrap_or_else(|| naming::DEFAULT_EMAIL_DOMAIN.to_string());
        let worker_id = identity
            .worker_index
            .or_else(|| {
                env("TEST_WORKER_INDEX")
                    .and_then(|v| v.parse().ok())
                    .filter(|w| *w <= MAX_INDEX)
            })
            .unwrap_or(0);
        let test_index = next_test_index(&identity);
        let lane = Lane::new(&format, &run_id, worker_id, test_index, &domain)?;
        Ok(WorkerContext {
            identity,
            id: LaneId {
                run_id,
                worker_id,
                test_index,
            },
            lane,
            sequences: Arc::new(Sequences::default()),
        })
    }

    /// Run, worker and test of this lane.
    pub fn id(&self) -> &LaneId {
        &self.id
    }
    /// The worker id used in names (Playwright's `workerIndex`).
    pub fn worker_id(&self) -> u32 {
        self.id.worker_id
    }
    /// This test's index within its worker process.
    pub fn test_index(&self) -> u32 {
        self.id.test_index
    }
    /// The run id.
    pub fn run_id(&self) -> &str {
        &self.id.run_id
    }
    /// What the test runner said about the test.
    pub fn identity(&self) -> &TestIdentity {
        &self.identity
    }
    /// The lane, for names and patterns.
    pub fn lane(&self) -> &Lane {
        &self.lane
    }
    /// Factory sequence counters of this test (`{{seq}}`).
    pub fn sequences(&self) -> &Sequences {
        &self.sequences
    }

    /// The LIKE pattern of a scope.
    pub fn pattern(&self, scope: LaneScope) -> LanePattern {
        self.lane.pattern(scope)
    }
}

fn next_test_index(identity: &TestIdentity) -> u32 {
    let mut guard = process()
        .next_test_index
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    let (next, seen) = &mut *guard;
    let key = identity.test_id.as_ref().map(|id| {
        format!(
            "{id}\u{0}{}\u{0}{}\u{0}{}",
            identity.retry,
            identity.repeat_each_index,
            identity.project.as_deref().unwrap_or("")
        )
    });
    if let Some(key) = &key {
        if let Some(index) = seen.get(key) {
            return *index;
        }
    }
    let index = *next;
    *next += 1;
    if let Some(key) = key {
        seen.insert(key, index);
    }
    index
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> ContextSettings {
        ContextSettings {
            run_id: Some("testrun001".into()),
            ..Default::default()
        }
    }

    #[test]
    fn the_same_test_keeps_its_index_and_others_get_new_ones() {
        let t = |id: &str, retry: u32| TestIdentity {
            worker_index: Some(4),
            test_id: Some(id.into()),
            retry,
            ..Default::default()
        };
        let a1 = WorkerContext::create(t("same-test-a", 0), &settings()).unwrap();
        let a2 = WorkerContext::create(t("same-test-a", 0), &settings()).unwrap();
        let a_retry = WorkerContext::create(t("same-test-a", 1), &settings()).unwrap();
        let b = WorkerContext::create(t("same-test-b", 0), &settings()).unwrap();
        assert_eq!(a1.test_index(), a2.test_index());
        assert_ne!(a1.test_index(), a_retry.test_index());
        assert_ne!(a1.test_index(), b.test_index());
        assert_eq!(
            a1.lane().name("x").unwrap(),
            format!("testrun001-w4-{}-x", a1.test_index())
        );
    }

    #[test]
    fn indexes_that_napi_would_wrap_are_refused() {
        for bad in [
            Input::Number(2f64.powi(40)),
            Input::Number(f64::NAN),
            Input::Number(-1.0),
            Input::Number(1.5),
            Input::String("3".into()),
        ] {
            let info = TestInfoInput {
                worker_index: Some(bad.clone()),
                ..Default::default()
            };
            let err = TestIdentity::from_input(&info).unwrap_err();
            assert_eq!(
                err.code(),
                crate::core::ErrorCode::InvalidArgument,
                "{bad:?}"
            );
        }
        let ok = TestIdentity::from_input(&TestInfoInput {
            worker_index: Some(Input::Number(3.0)),
            retry: Some(Input::Undefined),
            test_id: Some(Input::String("t1".into())),
            ..Default::default()
        })
        .unwrap();
        assert_eq!((ok.worker_index, ok.retry), (Some(3), 0));
    }

    #[test]
    fn anonymous_contexts_never_share_an_index() {
        let a = WorkerContext::create(TestIdentity::default(), &settings()).unwrap();
        let b = WorkerContext::create(TestIdentity::default(), &settings()).unwrap();
        assert_ne!(a.test_index(), b.test_index());
    }
}
