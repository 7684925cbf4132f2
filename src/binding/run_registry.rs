//! `RunRegistry`: runs, heartbeats and crash sweeps in the `pglane` schema.

use super::cleanup::{CleanupReport, LeakedRows};
use super::db::{db_or_default, Db};
use super::error::Outcome;
use crate::core::cleanup::given_lane_columns;
use crate::core::db as core_db;
use crate::core::runs::registry::{self as core_runs, RunInfo as CoreRun};
use napi::Env;
use napi_derive::napi;
use std::collections::HashMap;

/// A registered run.
#[napi(object)]
pub struct RunInfo {
    /// Run id.
    pub run_id: String,
    /// Host that started it.
    pub host: String,
    /// Process id of its Playwright runner.
    pub pid: i32,
    /// LIKE pattern of its names.
    pub lane_pattern: String,
    /// Seconds since its last heartbeat.
    pub idle_seconds: f64,
}

impl From<CoreRun> for RunInfo {
    fn from(r: CoreRun) -> Self {
        RunInfo {
            run_id: r.run_id,
            host: r.host,
            pid: r.pid,
            lane_pattern: r.lane_pattern,
            idle_seconds: r.idle_seconds,
        }
    }
}

/// Options of sweeps and leftover checks.
#[napi(object)]
pub struct SweepOptions {
    /// `{ 'schema.table': ['name'] }`; default: every text column of every table.
    pub lane_columns: Option<HashMap<String, Vec<String>>>,
    /// Sweep even if the database is not marked as a test database.
    pub allow_unmarked: Option<bool>,
}

/// Runs of `playwright test` registered in the database, and the sweeper that removes what a
/// dead run left behind. Used by pglane's global setup and teardown.
#[napi]
pub struct RunRegistry {
    db: core_db::Db,
}

#[napi]
impl RunRegistry {
    /// The registry on `db` (or the default database).
    #[napi(constructor)]
    pub fn new(env: Env, db: Option<&Db>) -> napi::Result<RunRegistry> {
        Ok(RunRegistry {
            db: db_or_default(&env, db)?,
        })
    }

    /// Creates the `pglane` schema if it does not exist (safe from many processes at once).
    #[napi(ts_return_type = "Promise<void>")]
    pub async fn ensure_schema(&self) -> Outcome<()> {
        core_runs::ensure_schema(&self.db).await.into()
    }

    /// Marks the database as a test database, which allows sweeps.
    #[napi(ts_return_type = "Promise<void>")]
    pub async fn mark_test_database(&self) -> Outcome<()> {
        core_runs::mark_test_database(&self.db).await.into()
    }

    /// Whether the database is marked as a test database.
    #[napi(ts_return_type = "Promise<boolean>")]
    pub async fn is_test_database(&self) -> Outcome<bool> {
        core_runs::is_test_database(&self.db).await.into()
    }

    /// Registers a run with its lane pattern (or beats, when it exists).
    #[napi(ts_return_type = "Promise<void>")]
    pub async fn register(
        &self,
        run_id: String,
        host: String,
        pid: i32,
        lane_pattern: String,
    ) -> Outcome<()> {
        core_runs::register_run(&self.db, &run_id, &host, pid, &lane_pattern)
            .await
            .into()
    }

    /// Records that the run is alive.
    #[napi(ts_return_type = "Promise<void>")]
    pub async fn heartbeat(&self, run_id: String) -> Outcome<()> {
        core_runs::heartbeat(&self.db, &run_id).await.into()
    }

    /// Every registered run.
    #[napi(ts_return_type = "Promise<RunInfo[]>")]
    pub async fn runs(&self) -> Outcome<Vec<RunInfo>> {
        core_runs::runs(&self.db)
            .await
            .map(|v| v.into_iter().map(Into::into).collect())
            .into()
    }

    /// Runs whose heartbeat is older than `ttlSeconds`.
    #[napi(ts_return_type = "Promise<RunInfo[]>")]
    pub async fn expired(&self, ttl_seconds: f64) -> Outcome<Vec<RunInfo>> {
        core_runs::expired_runs(&self.db, ttl_seconds)
            .await
            .map(|v| v.into_iter().map(Into::into).collect())
            .into()
    }

    /// Rows a run still has in the database, per table (journal keys and lane names).
    #[napi(ts_return_type = "Promise<LeakedRows[]>")]
    pub async fn leftovers(
        &self,
        run_id: String,
        options: Option<SweepOptions>,
    ) -> Outcome<Vec<LeakedRows>> {
        let run = async {
            let r = core_runs::find_run(&self.db, &run_id).await?;
            let cols = given_lane_columns(options.and_then(|o| o.lane_columns));
            core_runs::leftovers(&self.db, &r, cols.as_deref()).await
        };
        run.await
            .map(|v| v.into_iter().map(Into::into).collect())
            .into()
    }

    /// Deletes what a run left (journal keys and lane names, with their dependents) and forgets
    /// the run. Refuses an unmarked database unless `allowUnmarked`.
    #[napi(ts_return_type = "Promise<CleanupReport>")]
    pub async fn sweep(
        &self,
        run_id: String,
        options: Option<SweepOptions>,
    ) -> Outcome<CleanupReport> {
        let run = async {
            let (cols, allow) = match options {
                Some(o) => (o.lane_columns, o.allow_unmarked.unwrap_or(false)),
                None => (None, false),
            };
            let r = core_runs::find_run(&self.db, &run_id).await?;
            let cols = given_lane_columns(cols);
            core_runs::sweep_run(&self.db, &r, cols.as_deref(), allow).await
        };
        run.await.map(Into::into).into()
    }

    /// Forgets a run and its journal without deleting rows.
    #[napi(ts_return_type = "Promise<void>")]
    pub async fn forget(&self, run_id: String) -> Outcome<()> {
        core_runs::forget_run(&self.db, &run_id).await.into()
    }
}
