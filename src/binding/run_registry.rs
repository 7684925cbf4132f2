//! `RunRegistry`: runs, heartbeats and crash sweeps in the `pglane` schema.

use super::args::{Arg, JsInput};
use super::cleanup::{CleanupReport, LeakedRows};
use super::db::{db_or_default, Db};
use super::error::{caught, Outcome};
use super::json::Json;
use crate::core::cleanup::{given_lane_columns, PreviewTable};
use crate::core::db as core_db;
use crate::core::runs::registry::{
    self as core_runs, RegisterInput, RunInfo as CoreRun, MAX_FALLBACK_TTL,
};
use crate::core::runs::schema_files::{self, OnChange};
use napi::Env;
use napi_derive::napi;
use std::collections::HashMap;

fn process_env(key: &str) -> Option<String> {
    std::env::var(key).ok()
}

/// A registered run.
#[napi(object)]
pub struct RunInfo {
    /// Run id.
    pub run_id: String,
    /// Host that started it.
    pub host: String,
    /// Process id of its Playwright runner.
    pub pid: i32,
    /// LIKE pattern of its names (derived from the run id and the name format).
    pub lane_pattern: String,
    /// Its name format (null: registered by an older pglane, the default format).
    pub name_format: Option<String>,
    /// The heartbeat interval it recorded, in seconds.
    pub heartbeat_seconds: Option<f64>,
    /// The time-to-live it recorded, in seconds: others judge it by this, not by their own.
    pub ttl_seconds: Option<f64>,
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
            name_format: r.name_format,
            heartbeat_seconds: r.heartbeat_seconds,
            ttl_seconds: r.ttl_seconds,
            idle_seconds: r.idle_seconds,
        }
    }
}

/// Options of sweeps, plans and leftover checks.
#[napi(object)]
pub struct SweepOptions {
    /// `{ 'schema.table': ['name'] }`; default: every text column of every table.
    pub lane_columns: Option<HashMap<String, Vec<String>>>,
    /// Sweep even if the database is not marked as a test database.
    pub allow_unmarked: Option<bool>,
    /// The run's lane pattern, for a run the registry does not know (a database without the
    /// `pglane` schema): its rows are then found by lane names alone. It must be exactly the
    /// run's own pattern (derived from the run id and the name format), never free text.
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

/// How a run registers or beats: its name format, heartbeat interval and time-to-live.
#[napi(object, object_to_js = false)]
pub struct RegisterOptions {
    /// The run's name format (default `PGLANE_NAME_FORMAT`, else `{run}-w{worker}-{test}-{name}`).
    pub name_format: Option<String>,
    /// Seconds between the run's heartbeats (default `PGLANE_HEARTBEAT_SECONDS`, else 20).
    #[napi(ts_type = "number")]
    pub heartbeat_seconds: Option<JsInput>,
    /// Seconds without a heartbeat after which the run is dead (default
    /// `PGLANE_HEARTBEAT_TTL`, else 120). Other runs judge it by this (and never before it
    /// missed two heartbeats), not by their own setting.
    #[napi(ts_type = "number")]
    pub ttl_seconds: Option<JsInput>,
}

impl RegisterOptions {
    fn input(options: Option<Arg<RegisterOptions>>) -> RegisterInput {
        options
            .map(|o| RegisterInput {
                name_format: o.0.name_format,
                heartbeat_seconds: o.0.heartbeat_seconds.map(|i| i.0),
                ttl_seconds: o.0.ttl_seconds.map(|i| i.0),
            })
            .unwrap_or_default()
    }
}

/// One table of a dry run: what a sweep would delete there.
#[napi(object)]
pub struct PlannedTable {
    /// `schema.table`.
    pub table: String,
    /// Rows that would be deleted.
    pub rows: f64,
    /// What seeds the table itself: `lane names`, `tracked or journaled keys` (empty when only
    /// foreign keys lead there).
    pub seeds: Vec<String>,
    /// The shortest foreign-key path to it from another seeded table: that table, then each
    /// hop as `child.column → parent` (empty when none leads there).
    pub path: Vec<String>,
}

impl From<PreviewTable> for PlannedTable {
    fn from(p: PreviewTable) -> Self {
        PlannedTable {
            table: p.table,
            rows: p.rows as f64,
            seeds: p.seeds,
            path: p.path,
        }
    }
}

/// Runs of `playwright test` registered in the database, and the sweeper that removes what a
/// dead run left behind. Used by pglane's global setup and teardown.
#[napi]
pub struct RunRegistry {
    db: core_db::Db,
}

/// Lane columns as given (in a stable order), the unmarked-database opt-in, and the lane
/// pattern of a run the registry does not know.
type SweepArgs = (Option<Vec<(String, Vec<String>)>>, bool, Option<String>);

fn sweep_options(options: Option<Arg<SweepOptions>>) -> SweepArgs {
    match options {
        Some(Arg(o)) => (
            given_lane_columns(o.lane_columns),
            o.allow_unmarked.unwrap_or(false),
            o.lane_pattern,
        ),
        None => (None, false, None),
    }
}

#[napi]
impl RunRegistry {
    /// The registry on `db` (or the default database).
    #[napi(constructor, catch_unwind)]
    pub fn new(
        env: Env,
        #[napi(ts_arg_type = "Db | undefined | null")] db: Option<Arg<&Db>>,
    ) -> napi::Result<RunRegistry> {
        Ok(RunRegistry {
            db: db_or_default(&env, db.map(|d| d.0))?,
        })
    }

    /// Creates the `pglane` schema and its tables if they do not exist (safe from many
    /// processes at once), or uses the ones an admin created and granted. A role that may do
    /// neither gets `ready: false` and what is `missing`, not an error.
    #[napi(ts_return_type = "Promise<SchemaStatus>", catch_unwind)]
    pub async fn ensure_schema(&self) -> Outcome<SchemaStatus> {
        caught(core_runs::ensure_schema(&self.db))
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
    #[napi(ts_return_type = "Promise<SchemaFileOutcome[]>", catch_unwind)]
    pub async fn apply_schema_files(
        &self,
        #[napi(ts_arg_type = "SchemaFileInput[]")] files: Arg<Vec<SchemaFileInput>>,
        #[napi(ts_arg_type = "string")] run_id: Arg<String>,
        #[napi(ts_arg_type = "boolean")] recorded: Arg<bool>,
    ) -> Outcome<Vec<SchemaFileOutcome>> {
        let (files, run_id, recorded) = (files.0, run_id.0, recorded.0);
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
        caught(run)
            .await
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

    /// Marks the database as a test database, which allows sweeps and pattern cleanups.
    #[napi(ts_return_type = "Promise<void>", catch_unwind)]
    pub async fn mark_test_database(&self) -> Outcome<()> {
        caught(core_runs::mark_test_database(&self.db)).await.into()
    }

    /// Whether the database is marked as a test database (false on a database without
    /// pglane's schema).
    #[napi(ts_return_type = "Promise<boolean>", catch_unwind)]
    pub async fn is_test_database(&self) -> Outcome<bool> {
        caught(core_runs::is_test_database(&self.db)).await.into()
    }

    /// Registers a run with its name format, heartbeat interval and time-to-live. `lanePattern`
    /// may be left out; when given it must be the run's own pattern (it is derived from the run
    /// id, 8 to 32 characters of `0-9a-z`, and the name format, never taken as given). Resolves
    /// true when the run was not registered (new, or swept by another run and registered
    /// again), false when it was (its heartbeat is refreshed).
    #[napi(
        ts_args_type = "runId: string, host: string, pid: number, lanePattern?: string | null, options?: RegisterOptions",
        ts_return_type = "Promise<boolean>",
        catch_unwind
    )]
    pub async fn register(
        &self,
        run_id: Arg<String>,
        host: Arg<String>,
        pid: JsInput,
        lane_pattern: Option<Arg<String>>,
        options: Option<Arg<RegisterOptions>>,
    ) -> Outcome<bool> {
        let input = RegisterOptions::input(options);
        let run = async {
            let registration = input.registration(
                &run_id,
                &host,
                pid.get(),
                lane_pattern.as_ref().map(|p| p.0.as_str()),
                &process_env,
            )?;
            core_runs::register_run(&self.db, &registration).await
        };
        caught(run).await.into()
    }

    /// Records that the run is alive (and, when given, its heartbeat interval and TTL as they
    /// are now). Resolves false when the run is not registered (another run swept it, or it
    /// was forgotten): register it again, and its teardown can clean its rows.
    #[napi(
        ts_args_type = "runId: string, options?: RegisterOptions",
        ts_return_type = "Promise<boolean>",
        catch_unwind
    )]
    pub async fn heartbeat(
        &self,
        run_id: Arg<String>,
        options: Option<Arg<RegisterOptions>>,
    ) -> Outcome<bool> {
        let input = RegisterOptions::input(options);
        let run = async {
            let liveness = input.beat_liveness(&process_env)?;
            core_runs::heartbeat(&self.db, &run_id, liveness).await
        };
        caught(run).await.into()
    }

    /// Every registered run.
    #[napi(ts_return_type = "Promise<RunInfo[]>", catch_unwind)]
    pub async fn runs(&self) -> Outcome<Vec<RunInfo>> {
        caught(core_runs::runs(&self.db))
            .await
            .map(|v| v.into_iter().map(Into::into).collect())
            .into()
    }

    /// Dead runs: each judged by the heartbeat interval and time-to-live it recorded itself;
    /// `fallbackTtlSeconds` (a number of seconds above 0) judges only runs registered by an
    /// older pglane, which recorded none.
    #[napi(
        ts_args_type = "fallbackTtlSeconds: number",
        ts_return_type = "Promise<RunInfo[]>",
        catch_unwind
    )]
    pub async fn expired(&self, fallback_ttl_seconds: JsInput) -> Outcome<Vec<RunInfo>> {
        let run = async {
            let ttl = fallback_ttl_seconds.get().number(
                "fallbackTtlSeconds",
                f64::MIN_POSITIVE,
                MAX_FALLBACK_TTL,
            )?;
            core_runs::expired_runs(&self.db, ttl).await
        };
        caught(run)
            .await
            .map(|v| v.into_iter().map(Into::into).collect())
            .into()
    }

    /// Rows a run still has in the database, per table (journal keys and lane names).
    #[napi(ts_return_type = "Promise<LeakedRows[]>", catch_unwind)]
    pub async fn leftovers(
        &self,
        #[napi(ts_arg_type = "string")] run_id: Arg<String>,
        #[napi(ts_arg_type = "SweepOptions | undefined | null")] options: Option<Arg<SweepOptions>>,
    ) -> Outcome<Vec<LeakedRows>> {
        let (cols, _, pattern) = sweep_options(options);
        let run = async {
            let r = core_runs::run_info(&self.db, &run_id, pattern).await?;
            core_runs::leftovers(&self.db, &r, cols.as_deref()).await
        };
        caught(run)
            .await
            .map(|v| v.into_iter().map(Into::into).collect())
            .into()
    }

    /// What `sweep(runId)` would delete, per table with the foreign-key path to it, deleting
    /// nothing (a dry run).
    #[napi(ts_return_type = "Promise<PlannedTable[]>", catch_unwind)]
    pub async fn plan(
        &self,
        #[napi(ts_arg_type = "string")] run_id: Arg<String>,
        #[napi(ts_arg_type = "SweepOptions | undefined | null")] options: Option<Arg<SweepOptions>>,
    ) -> Outcome<Vec<PlannedTable>> {
        let (cols, _, pattern) = sweep_options(options);
        let run = async {
            let r = core_runs::run_info(&self.db, &run_id, pattern).await?;
            core_runs::plan_sweep(&self.db, &r, cols.as_deref()).await
        };
        caught(run)
            .await
            .map(|v| v.into_iter().map(Into::into).collect())
            .into()
    }

    /// Deletes what a run left (journal keys and lane names, with their dependents) and forgets
    /// the run. Refuses an unmarked database (`PGLANE_NOT_TEST_DATABASE`) unless
    /// `allowUnmarked` or `PGLANE_ALLOW_SWEEP=1`.
    #[napi(ts_return_type = "Promise<CleanupReport>", catch_unwind)]
    pub async fn sweep(
        &self,
        #[napi(ts_arg_type = "string")] run_id: Arg<String>,
        #[napi(ts_arg_type = "SweepOptions | undefined | null")] options: Option<Arg<SweepOptions>>,
    ) -> Outcome<Json<CleanupReport>> {
        let (cols, allow, pattern) = sweep_options(options);
        let run = async {
            let r = core_runs::run_info(&self.db, &run_id, pattern).await?;
            core_runs::sweep_run(&self.db, &r, cols.as_deref(), allow).await
        };
        caught(run).await.map(|r| Json(r.into())).into()
    }

    /// Forgets a run and its journal without deleting rows.
    #[napi(ts_return_type = "Promise<void>", catch_unwind)]
    pub async fn forget(&self, #[napi(ts_arg_type = "string")] run_id: Arg<String>) -> Outcome<()> {
        caught(core_runs::forget_run(&self.db, &run_id))
            .await
            .into()
    }
}
