//! `CleanupManager`: deletes what a tracker holds, or a whole lane by name.

use super::args::Arg;
use super::db::Db;
use super::error::{caught, spawn, Outcome};
use super::json::{json_parse, Json};
use super::tracker::ResourceTracker;
use crate::core::cleanup::{self as core_cleanup, CleanupOptions, TableCount};
use crate::core::db as core_db;
use crate::core::lane::tracker::ResourceTracker as CoreTracker;
use napi::bindgen_prelude::{PromiseRaw, ToNapiValue};
use napi::{sys, Env};
use napi_derive::napi;
use std::collections::HashMap;
use std::sync::Arc;

/// Options of `new CleanupManager(db, tracker, options)`.
#[napi(object)]
pub struct CleanupManagerOptions {
    /// Prove afterwards that the tracked rows are gone (default true; costs no extra round trip).
    pub verify_cleanup: Option<bool>,
    /// Also delete rows that reference tracked rows, e.g. created through the UI (default true).
    pub include_dependents: Option<bool>,
    /// Delete and count every dependent row in pglane's statement, even those an
    /// `ON DELETE CASCADE` removes anyway (default false: faster; such tables are listed in
    /// `report.cascaded`, uncounted).
    pub count_dependents: Option<bool>,
}

/// Options of pattern cleanup and leak checks.
#[napi(object)]
#[derive(Default)]
pub struct LaneOptions {
    /// `{ 'schema.table': ['name', 'email'] }`: columns holding lane names. Default: every text
    /// column of every table.
    pub lane_columns: Option<HashMap<String, Vec<String>>>,
    /// Also delete rows referencing the matched rows (default true).
    pub include_dependents: Option<bool>,
    /// Delete and count every dependent row, cascading ones included (default false).
    pub count_dependents: Option<bool>,
    /// Delete by name even if the database is not marked as a test database (default false:
    /// such a database is refused with `PGLANE_NOT_TEST_DATABASE`; `PGLANE_ALLOW_SWEEP=1`
    /// allows it too).
    pub allow_unmarked: Option<bool>,
}

/// A group of tables that could not be cleaned.
#[napi(object)]
pub struct CleanupFailure {
    /// `schema.table` of each table in the group (several for a cycle).
    pub tables: Vec<String>,
    /// Tracked keys of those tables (at most 20).
    pub keys: Vec<Vec<String>>,
    /// pglane error code.
    pub code: String,
    /// Postgres SQLSTATE.
    pub sqlstate: Option<String>,
    /// What Postgres said.
    pub message: String,
}

/// What a cleanup did.
#[napi(object)]
pub struct CleanupReport {
    /// Rows deleted per `schema.table` by pglane's statement.
    pub deleted: HashMap<String, u32>,
    /// Tables whose rows referencing deleted rows Postgres removed through `ON DELETE CASCADE`
    /// (not counted in `deleted`; set `countDependents` to count them).
    pub cascaded: Vec<String>,
    /// Sum of `deleted`.
    pub total_deleted: u32,
    /// Groups that failed; empty on success.
    pub failures: Vec<CleanupFailure>,
    /// True when verification proved the tracked rows gone; null when not asked.
    pub verified: Option<bool>,
    /// Tracked rows still present per table, when verification ran.
    pub remaining: HashMap<String, u32>,
    /// Round trips to Postgres (pipelined statements count once).
    pub round_trips: u32,
    /// Statements sent.
    pub statements: u32,
    /// Wall time in milliseconds.
    pub duration_ms: f64,
    /// Whether the group-by-group fallback ran (after the one-statement delete failed).
    pub fallback: bool,
}

/// Rows of one table left in a lane.
#[napi(object)]
pub struct LeakedRows {
    /// `schema.table`.
    pub table: String,
    /// How many rows match the lane.
    pub rows: u32,
}

impl From<TableCount> for LeakedRows {
    fn from(c: TableCount) -> Self {
        LeakedRows {
            table: c.table,
            rows: c.rows as u32,
        }
    }
}

fn counts(list: Vec<TableCount>) -> HashMap<String, u32> {
    list.into_iter().map(|c| (c.table, c.rows as u32)).collect()
}

impl From<core_cleanup::CleanupReport> for CleanupReport {
    fn from(r: core_cleanup::CleanupReport) -> Self {
        CleanupReport {
            deleted: counts(r.deleted),
            cascaded: r.cascaded,
            total_deleted: r.total_deleted as u32,
            failures: r
                .failures
                .into_iter()
                .map(|f| CleanupFailure {
                    tables: f.tables,
                    keys: f.keys,
                    code: f.code.as_str().to_string(),
                    sqlstate: f.sqlstate,
                    message: f.message,
                })
                .collect(),
            verified: r.verified,
            remaining: counts(r.remaining),
            round_trips: r.round_trips as u32,
            statements: r.statements as u32,
            duration_ms: r.duration.as_secs_f64() * 1000.0,
            fallback: r.fallback,
        }
    }
}

/// A report as JS gets it, in one `JSON.parse` (napi-rs would set each field and each table's
/// count with a call of its own: about 20 us for a cleanup of 11 tables). The same object:
/// the same names, `verified` and `sqlstate` left out when there are none, and the fields in
/// napi-rs' order (those always set, then those only set when present). All values are
/// strings, booleans and numbers JSON gives exactly (counts, a duration).
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct ReportJson<'a> {
    deleted: &'a HashMap<String, u32>,
    cascaded: &'a [String],
    total_deleted: u32,
    failures: Vec<FailureJson<'a>>,
    remaining: &'a HashMap<String, u32>,
    round_trips: u32,
    statements: u32,
    duration_ms: f64,
    fallback: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    verified: Option<bool>,
}

#[derive(serde::Serialize)]
struct FailureJson<'a> {
    tables: &'a [String],
    keys: &'a [Vec<String>],
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    sqlstate: Option<&'a str>,
}

impl ToNapiValue for Json<CleanupReport> {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        let r = &val.0;
        let json = ReportJson {
            deleted: &r.deleted,
            cascaded: &r.cascaded,
            total_deleted: r.total_deleted,
            failures: r
                .failures
                .iter()
                .map(|f| FailureJson {
                    tables: &f.tables,
                    keys: &f.keys,
                    code: &f.code,
                    message: &f.message,
                    sqlstate: f.sqlstate.as_deref(),
                })
                .collect(),
            remaining: &r.remaining,
            round_trips: r.round_trips,
            statements: r.statements,
            duration_ms: r.duration_ms,
            fallback: r.fallback,
            verified: r.verified,
        };
        let text = serde_json::to_string(&json)
            .map_err(|e| napi::Error::from_reason(format!("a cleanup report as JSON: {e}")))?;
        unsafe { json_parse(env, &text) }
    }
}

/// Deletes a test's rows in foreign-key order, with the rows that reference them, verified.
#[napi]
pub struct CleanupManager {
    db: core_db::Db,
    tracker: Arc<CoreTracker>,
    options: CleanupOptions,
}

#[napi]
impl CleanupManager {
    /// `db`: a `Db`, or `null` for the tracker's database.
    #[napi(constructor, catch_unwind)]
    pub fn new(
        #[napi(ts_arg_type = "Db | undefined | null")] db: Option<Arg<&Db>>,
        #[napi(ts_arg_type = "ResourceTracker")] tracker: Arg<&ResourceTracker>,
        #[napi(ts_arg_type = "CleanupManagerOptions | undefined | null")] options: Option<
            Arg<CleanupManagerOptions>,
        >,
    ) -> CleanupManager {
        let defaults = CleanupOptions::default();
        let options = options.map_or(defaults, |Arg(o)| CleanupOptions {
            verify: o.verify_cleanup.unwrap_or(defaults.verify),
            include_dependents: o.include_dependents.unwrap_or(defaults.include_dependents),
            count_dependents: o.count_dependents.unwrap_or(defaults.count_dependents),
        });
        CleanupManager {
            db: db.map_or_else(|| tracker.db.clone(), |d| d.inner.clone()),
            tracker: tracker.inner.clone(),
            options,
        }
    }

    /// Deletes the tracked rows and their dependents; forgets them once gone. A second call is
    /// a no-op. Partial failures are in `report.failures`; it throws only when nothing could be
    /// done (the database is unreachable or the connection broke), and then the tracker keeps
    /// its rows, so a retry works.
    #[napi(ts_return_type = "Promise<CleanupReport>", catch_unwind)]
    pub fn cleanup<'env>(
        &self,
        env: &'env Env,
    ) -> napi::Result<PromiseRaw<'env, Outcome<Json<CleanupReport>>>> {
        let (db, tracker, options) = (self.db.clone(), self.tracker.clone(), self.options);
        spawn(env, async move {
            core_cleanup::cleanup_tracked(&db, &tracker, options)
                .await
                .map(|r| Json(r.into()))
        })
    }

    /// Deletes a whole lane by name: `"test"`, `"worker"` or `"run"` (this tracker's lane), or
    /// a LIKE pattern of this run such as `ctx.workerPattern()`; plus the rows referencing it.
    /// A pattern that is not a lane's own (`'%'`, `'abcd%'`, another run's) rejects with
    /// `PGLANE_INVALID_CONFIG` and deletes nothing; so does a database not marked as a test
    /// database (`PGLANE_NOT_TEST_DATABASE`) unless `allowUnmarked`.
    #[napi(ts_return_type = "Promise<CleanupReport>", catch_unwind)]
    pub fn cleanup_pattern<'env>(
        &self,
        env: &'env Env,
        #[napi(ts_arg_type = "string")] scope_or_pattern: Arg<String>,
        #[napi(ts_arg_type = "LaneOptions | undefined | null")] options: Option<Arg<LaneOptions>>,
    ) -> napi::Result<PromiseRaw<'env, Outcome<Json<CleanupReport>>>> {
        let options = options.map(|o| o.0).unwrap_or_default();
        let (db, tracker, defaults) = (self.db.clone(), self.tracker.clone(), self.options);
        spawn(env, async move {
            let pattern = tracker.lane().resolve_pattern(&scope_or_pattern)?;
            let columns = core_cleanup::given_lane_columns(options.lane_columns);
            let opts = CleanupOptions {
                verify: defaults.verify,
                include_dependents: options.include_dependents.unwrap_or(true),
                count_dependents: options
                    .count_dependents
                    .unwrap_or(defaults.count_dependents),
            };
            core_cleanup::cleanup_pattern(
                &db,
                &pattern,
                columns.as_deref(),
                opts,
                options.allow_unmarked.unwrap_or(false),
            )
            .await
            .map(|r| Json(r.into()))
        })
    }

    /// Lists rows left in a lane (`"test"`, `"worker"`, `"run"` or a LIKE pattern), per table.
    /// An empty list proves the lane clean.
    #[napi(ts_return_type = "Promise<LeakedRows[]>", catch_unwind)]
    pub async fn verify_no_leaked_data(
        &self,
        #[napi(ts_arg_type = "string")] scope_or_pattern: Arg<String>,
        #[napi(ts_arg_type = "LaneOptions | undefined | null")] options: Option<Arg<LaneOptions>>,
    ) -> Outcome<Vec<LeakedRows>> {
        let run = async {
            let pattern = self.tracker.lane().resolve_pattern(&scope_or_pattern)?;
            let columns = core_cleanup::given_lane_columns(options.and_then(|o| o.0.lane_columns));
            core_cleanup::find_leaks(&self.db, &pattern, columns.as_deref()).await
        };
        caught(run)
            .await
            .map(|list| list.into_iter().map(Into::into).collect())
            .into()
    }
}
