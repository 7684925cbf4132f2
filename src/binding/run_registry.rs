//! `RunRegistry`: runs, heartbeats and crash sweeps in the `pglane` schema.

use super::cleanup::{CleanupReport, LeakedRows};
use super::db::{db_or_default, Db};
use super::error::Outcome;
use crate::core::cleanup::given_lane_columns;
use crate::core::db as core_db;
use crate::core::runs::registry::{self as core_runs, RunInfo as CoreRun};
use crate::core::runs::schema_files::{self, OnChange};
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
    /// The run's lane pattern, for a run the registry does not know (a database without the
    /// `pglane` schema): its rows are then found by lane names alone.
    pub lane_pattern: Option<String>,
}

/// Whether pglane's own schema (registry, journal, schema-file record) is there for this role.
#[napi(object)]
pub struct SchemaStatus {
    /// Everything can be used.
    pub ready: bool,
    /// The role pglane connects as.
    pub role: String,
    /// The database.
    pub database: String,
    /// Why it is not ready and the statements an admin can run (absent when ready).
    pub missing: Option<String>,
}

/// A schema file for `applySchemaFiles`.
#[napi(object)]
pub struct SchemaFileInput {
    /// Its name in the record and in messages (the path relative to the config file).
    pub name: String,
    /// Its SQL.
    pub sql: String,
    /// When it changed since it was applied: `"error"` (default), `"reapply"` or `"skip"`.
    pub on_change: Option<String>,
}

/// What `applySchemaFiles` did with one file.
#[napi(object)]
pub struct SchemaFileOutcome {
    /// The file's name.
    pub name: String,
    /// `"applied"`, `"unchanged"`, `"reapplied"`, `"changed-skipped"` or `"applied-unrecorded"`.
    pub status: String,
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

    /// Creates the `pglane` schema and its tables if they do not exist (safe from many
    /// processes at once), or uses the ones an admin created and granted. A role that may do
    /// neither gets `ready: false` and what is `missing`, not an error.
    #[napi(ts_return_type = "Promise<SchemaStatus>")]
    pub async fn ensure_schema(&self) -> Outcome<SchemaStatus> {
        core_runs::ensure_schema(&self.db)
            .await
            .map(|s| SchemaStatus {
                ready: s.ready,
                role: s.role,
                database: s.database,
                missing: s.missing,
            })
            .into()
    }

    /// Applies the schema files that are new to this database, in order, in one transaction,
    /// and records each by name and SHA-256 in `pglane.schema_files`; recorded ones are skipped.
    /// A failure is `PGLANE_SCHEMA_FILE` naming file, line and statement; a file changed since
    /// it was applied is one too, unless its `onChange` says `"reapply"` or `"skip"`. With
    /// `recorded: false` (no `pglane` schema) every file is applied.
    #[napi(ts_return_type = "Promise<SchemaFileOutcome[]>")]
    pub async fn apply_schema_files(
        &self,
        files: Vec<SchemaFileInput>,
        run_id: String,
        recorded: bool,
    ) -> Outcome<Vec<SchemaFileOutcome>> {
        let run = async {
            let files = files
                .into_iter()
                .map(|f| {
                    Ok(schema_files::SchemaFile {
                        name: f.name,
                        sql: f.sql,
                        on_change: match f.on_change {
                            Some(text) => OnChange::parse(&text)?,
                            None => OnChange::default(),
                        },
                    })
                })
                .collect::<crate::core::Result<Vec<_>>>()?;
            schema_files::apply(&self.db, &files, &run_id, recorded).await
        };
        run.await
            .map(|v| {
                v.into_iter()
                    .map(|o| SchemaFileOutcome {
                        name: o.name,
                        status: o.status.as_str().to_string(),
                    })
                    .collect()
            })
            .into()
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
            let (cols, pattern) = match options {
                Some(o) => (o.lane_columns, o.lane_pattern),
                None => (None, None),
            };
            let r = core_runs::run_info(&self.db, &run_id, pattern).await?;
            let cols = given_lane_columns(cols);
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
            let (cols, allow, pattern) = match options {
                Some(o) => (
                    o.lane_columns,
                    o.allow_unmarked.unwrap_or(false),
                    o.lane_pattern,
                ),
                None => (None, false, None),
            };
            let r = core_runs::run_info(&self.db, &run_id, pattern).await?;
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
