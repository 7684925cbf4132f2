//! The run registry and crash sweeper, in a small `pglane` schema:
//!
//! - `pglane.runs`: one row per `playwright test` run (id, host, pid, lane pattern, start,
//!   heartbeat). Global setup registers the run and beats; a run whose heartbeat is older than
//!   the time-to-live is dead, and only then may another run sweep its lanes.
//! - `pglane.journal`: keys of rows a run's tests created, written in the same statement as the
//!   insert (factories) so that a worker killed mid-test still leaves a trail, even for rows
//!   that carry no lane name.
//! - `pglane.meta`: marks the database as a test database. Sweeps (which delete whole lanes)
//!   refuse a database that is not marked, unless the caller opts in.
//! - `pglane.schema_files`: the schema files global setup applied ([`super::schema_files`]).
//!
//! A role without `CREATE` on the database cannot create the schema. [`ensure_schema`] then
//! uses one an admin created and granted (`create schema pglane authorization <role>`, or
//! `grant usage, create on schema pglane to <role>`), and otherwise reports
//! [`SchemaStatus::missing`]: the run goes on without the registry and the journal, and the
//! caller says what that loses. Sweeps and leftover checks work without them (by lane names).

use super::{journal, schema_files};
use crate::core::cleanup::seeds::{lane_columns_present, LaneColumns, Seeds};
use crate::core::cleanup::{execute, CleanupOptions, CleanupReport, PreviewTable, TableCount};
use crate::core::db::catalog::Freshness;
pub use crate::core::db::marker::{is_test_database, require_test_database};
use crate::core::db::Db;
use crate::core::error::{Error, Result};
use crate::core::input::{optional, Input};
use crate::core::lane::naming::{self, NameFormat};
use crate::core::lane::LanePattern;
use crate::core::schema::{SchemaGraph, TableName};
use tokio_postgres::types::Type;

/// The `pglane` schema's meta and run tables (the schema itself is created apart: that needs
/// `CREATE` on the database, which a restricted role lacks). Columns added after the first
/// release are added to older registries here too (`add column if not exists`).
const REGISTRY_DDL: &str = r#"
create table if not exists pglane.meta (key text primary key, value text not null);
create table if not exists pglane.runs (
  run_id text primary key,
  host text not null,
  pid int not null,
  lane_pattern text not null,
  started_at timestamptz not null default now(),
  heartbeat_at timestamptz not null default now()
);
alter table pglane.runs add column if not exists name_format text;
alter table pglane.runs add column if not exists heartbeat_seconds float8;
alter table pglane.runs add column if not exists ttl_seconds float8;
"#;

/// Serialises concurrent set-ups of the schema (a transaction-scoped advisory lock).
const SCHEMA_LOCK_SQL: &str = "select pg_advisory_xact_lock(7095312440219086102);";

/// Heartbeat interval a run records when it says none (`PGLANE_HEARTBEAT_SECONDS`, else 20 s).
pub const DEFAULT_HEARTBEAT_SECONDS: f64 = 20.0;
/// Time-to-live a run records when it says none (`PGLANE_HEARTBEAT_TTL`, else 120 s).
pub const DEFAULT_TTL_SECONDS: f64 = 120.0;
/// Longest heartbeat interval or time-to-live accepted: a week.
const MAX_SECONDS: f64 = 7.0 * 24.0 * 3600.0;
/// Longest fallback time-to-live [`expired_runs`] accepts (a week).
pub const MAX_FALLBACK_TTL: f64 = MAX_SECONDS;

/// A registered run.
#[derive(Debug, Clone)]
pub struct RunInfo {
    /// Run id.
    pub run_id: String,
    /// Host that started it.
    pub host: String,
    /// Process id of its Playwright runner.
    pub pid: i32,
    /// LIKE pattern of its names, as registered (informative: sweeps build the pattern again
    /// from the run id and the name format, see [`RunInfo::lane`]).
    pub lane_pattern: String,
    /// Its name format (`None`: registered by an older pglane, the default format).
    pub name_format: Option<String>,
    /// The heartbeat interval it recorded, in seconds.
    pub heartbeat_seconds: Option<f64>,
    /// The time-to-live it recorded, in seconds.
    pub ttl_seconds: Option<f64>,
    /// Seconds since its last heartbeat.
    pub idle_seconds: f64,
}

impl RunInfo {
    /// The pattern of the run's names, built from its run id (checked) and its name format:
    /// never the registered text, which anyone with access to the table could have written.
    pub fn lane(&self) -> Result<LanePattern> {
        let format = match &self.name_format {
            Some(f) => NameFormat::parse(f),
            None => Ok(NameFormat::default()),
        }
        .map_err(|e| e.context(format!("run {:?}", self.run_id)))?;
        LanePattern::of(&format, &self.run_id, None, None).map_err(|e| {
            e.context(format!(
                "run {:?} cannot be swept by name (remove its registration with forget)",
                self.run_id
            ))
        })
    }

    /// After how many idle seconds the run is dead: by its own time-to-live, and never before
    /// it missed two of its own heartbeats. `fallback` judges a run that recorded no TTL
    /// (registered by an older pglane).
    pub fn expires_after(&self, fallback_ttl: f64) -> f64 {
        match (self.ttl_seconds, self.heartbeat_seconds) {
            (Some(ttl), Some(beat)) => ttl.max(2.0 * beat),
            (Some(ttl), None) => ttl,
            (None, _) => fallback_ttl,
        }
    }

    /// Is the run dead (see [`RunInfo::expires_after`])?
    pub fn is_expired(&self, fallback_ttl: f64) -> bool {
        self.idle_seconds > self.expires_after(fallback_ttl)
    }
}

/// How a run keeps itself alive: its heartbeat interval and time-to-live, in seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Liveness {
    /// Seconds between heartbeats.
    pub heartbeat_seconds: f64,
    /// Seconds without a heartbeat after which the run is dead.
    pub ttl_seconds: f64,
}

impl Liveness {
    /// From what a caller gave, else `PGLANE_HEARTBEAT_SECONDS` / `PGLANE_HEARTBEAT_TTL` (from
    /// `env`), else the defaults. Each must be a finite number of seconds above 0 and at most a
    /// week; a value from the environment that is not is ignored, one from the caller refused.
    pub fn resolve(
        heartbeat_seconds: Option<f64>,
        ttl_seconds: Option<f64>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Liveness> {
        let from_env = |key: &str, default: f64| {
            env(key)
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|v| check_seconds(key, *v).is_ok())
                .unwrap_or(default)
        };
        let heartbeat = match heartbeat_seconds {
            Some(v) => check_seconds("heartbeatSeconds", v)?,
            None => from_env("PGLANE_HEARTBEAT_SECONDS", DEFAULT_HEARTBEAT_SECONDS),
        };
        let ttl = match ttl_seconds {
            Some(v) => check_seconds("ttlSeconds", v)?,
            None => from_env("PGLANE_HEARTBEAT_TTL", DEFAULT_TTL_SECONDS),
        };
        Ok(Liveness {
            heartbeat_seconds: heartbeat,
            ttl_seconds: ttl,
        })
    }
}

/// A number of seconds for a heartbeat interval or TTL: finite, above 0, at most a week.
pub fn check_seconds(what: &str, seconds: f64) -> Result<f64> {
    if seconds.is_finite() && seconds > 0.0 && seconds <= MAX_SECONDS {
        Ok(seconds)
    } else {
        Err(Error::invalid_argument(format!(
            "{what} must be a number of seconds above 0 and at most {MAX_SECONDS} (a week); got {seconds}"
        )))
    }
}

/// A run as it registers: who, where, its name format and how it keeps alive.
#[derive(Debug, Clone)]
pub struct Registration {
    /// Run id (checked).
    pub run_id: String,
    /// Host of its Playwright runner.
    pub host: String,
    /// Process id of its Playwright runner.
    pub pid: i32,
    /// Its name format.
    pub format: NameFormat,
    /// Its heartbeat interval and time-to-live.
    pub liveness: Liveness,
}

impl Registration {
    /// Checks a registration. `lane_pattern`, when given, must be the run's own pattern under
    /// `format` (older callers pass it; free text such as `'Acme Cor%'` is refused).
    pub fn new(
        run_id: &str,
        host: &str,
        pid: i32,
        format: NameFormat,
        lane_pattern: Option<&str>,
        liveness: Liveness,
    ) -> Result<Registration> {
        naming::validate_run_id(run_id)?;
        let own = LanePattern::of(&format, run_id, None, None)?;
        if let Some(given) = lane_pattern {
            if given != own.as_str() {
                return Err(Error::invalid_config(format!(
                    "lane pattern {:?} is not run {run_id}'s: its names match {own} (the pattern is derived from the run id and the name format, never taken as given)",
                    given.chars().take(80).collect::<String>()
                )));
            }
        }
        Ok(Registration {
            run_id: run_id.to_string(),
            host: host.to_string(),
            pid,
            format,
            liveness,
        })
    }
}

/// What a caller gives to register a run or to beat, before the checks: numbers arrive as JS
/// gave them.
#[derive(Debug, Clone, Default)]
pub struct RegisterInput {
    /// The run's name format (default `PGLANE_NAME_FORMAT`, else the default format).
    pub name_format: Option<String>,
    /// Heartbeat interval in seconds.
    pub heartbeat_seconds: Option<Input>,
    /// Time-to-live in seconds.
    pub ttl_seconds: Option<Input>,
}

impl RegisterInput {
    /// The liveness given, each number checked, else the environment's, else the defaults.
    pub fn liveness(&self, env: &dyn Fn(&str) -> Option<String>) -> Result<Liveness> {
        let seconds = |v: &Option<Input>, what: &str| {
            optional(v.as_ref())
                .map(|i| i.number(what, f64::MIN_POSITIVE, MAX_SECONDS))
                .transpose()
        };
        Liveness::resolve(
            seconds(&self.heartbeat_seconds, "heartbeatSeconds")?,
            seconds(&self.ttl_seconds, "ttlSeconds")?,
            env,
        )
    }

    /// The liveness to record at a heartbeat: `None` when the caller gave neither number.
    pub fn beat_liveness(&self, env: &dyn Fn(&str) -> Option<String>) -> Result<Option<Liveness>> {
        let given = optional(self.heartbeat_seconds.as_ref()).is_some()
            || optional(self.ttl_seconds.as_ref()).is_some();
        if given {
            self.liveness(env).map(Some)
        } else {
            Ok(None)
        }
    }

    /// A checked [`Registration`] of run `run_id` by `host`/`pid` (`pid` as JS gave it).
    pub fn registration(
        &self,
        run_id: &str,
        host: &str,
        pid: &Input,
        lane_pattern: Option<&str>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Registration> {
        let pid = pid.integer("pid", 0, i32::MAX.into())? as i32;
        let format = match self
            .name_format
            .clone()
            .or_else(|| env("PGLANE_NAME_FORMAT").filter(|f| !f.is_empty()))
        {
            Some(f) => NameFormat::parse(&f)?,
            None => NameFormat::default(),
        };
        Registration::new(run_id, host, pid, format, lane_pattern, self.liveness(env)?)
    }
}

/// The tables of the `pglane` schema.
const TABLES: &[&str] = &["meta", "runs", "journal", "schema_files"];

/// What the role can do with the `pglane` schema: one catalog query, no privilege needed.
const PROBE_SQL: &str = "\
select n.oid is not null,
       n.oid is not null and has_schema_privilege(n.oid, 'USAGE'),
       n.oid is not null and has_schema_privilege(n.oid, 'CREATE'),
       has_database_privilege(current_database(), 'CREATE'),
       (select count(*)::int4 from pg_catalog.pg_class c
          where c.relnamespace = n.oid and c.relkind = 'r' and c.relname = any($1)
            and has_table_privilege(c.oid, 'SELECT, INSERT, UPDATE, DELETE')),
       current_user::text, current_database()::text,
       (select count(*)::int4 from pg_catalog.pg_class c
          where c.relnamespace = n.oid and c.relkind = 'r' and c.relname = any($1)),
       (select count(*)::int4 from pg_catalog.pg_attribute a join pg_catalog.pg_class c on c.oid = a.attrelid
          where c.relnamespace = n.oid and c.relname = 'runs' and not a.attisdropped
            and a.attname = any('{name_format,heartbeat_seconds,ttl_seconds}'))
from (select 1) one left join pg_catalog.pg_namespace n on n.nspname = 'pglane'";

/// Columns of `pglane.runs` added after the first release (see [`REGISTRY_DDL`]).
const LATER_RUN_COLUMNS: i32 = 3;

/// Whether pglane's own schema is there for this role, and if not, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaStatus {
    /// The registry, journal and schema-file record can be used.
    pub ready: bool,
    /// The role pglane connects as.
    pub role: String,
    /// The database.
    pub database: String,
    /// Why the schema is not ready, and what an admin can do about it (`None` when ready).
    pub missing: Option<String>,
}

/// The statements that give `role` what pglane needs, for messages and docs.
pub fn grants_for(role: &str) -> String {
    let r = crate::core::schema::quote_ident(role);
    format!("create schema if not exists pglane authorization {r}; -- or: grant usage, create on schema pglane to {r};")
}

/// Creates the `pglane` schema and its tables when they are missing and the role may create
/// them (serialised by an advisory lock). Uses a schema an admin created and granted. When
/// neither works, nothing is created and the status says why. One round trip when everything
/// exists, two when something is created.
pub async fn ensure_schema(db: &Db) -> Result<SchemaStatus> {
    let conn = db.conn().await?;
    let tables: Vec<String> = TABLES.iter().map(|t| t.to_string()).collect();
    let rows = conn
        .query(PROBE_SQL, &[(&tables, Type::TEXT_ARRAY)])
        .await?;
    let row = rows
        .first()
        .ok_or_else(|| Error::internal("the schema probe returned no row"))?;
    let (exists, usage, create, create_db): (bool, bool, bool, bool) =
        (row.get(0), row.get(1), row.get(2), row.get(3));
    let usable_tables: i32 = row.get(4);
    let (role, database): (String, String) = (row.get(5), row.get(6));
    let existing_tables: i32 = row.get(7);
    let later_columns: i32 = row.get(8);
    let status = |missing: Option<String>| SchemaStatus {
        ready: missing.is_none(),
        role: role.clone(),
        database: database.clone(),
        missing,
    };
    let complete = usable_tables as usize == TABLES.len() && later_columns == LATER_RUN_COLUMNS;
    if exists && usage && complete {
        return Ok(status(None));
    }
    let ddl = format!("{REGISTRY_DDL}\n{}\n{}", journal::DDL, schema_files::DDL);
    // Tables someone else made and granted nothing on cannot be fixed by creating the others.
    let unusable = existing_tables > usable_tables;
    let sql = if exists && usage && create && !unusable {
        format!("begin;\n{SCHEMA_LOCK_SQL}\n{ddl}\ncommit;")
    } else if !exists && create_db {
        format!("begin;\n{SCHEMA_LOCK_SQL}\ncreate schema if not exists pglane;\n{ddl}\ncommit;")
    } else {
        let why = if !exists {
            format!("role {role:?} may not create schemas in database {database:?} and there is no pglane schema")
        } else if !usage {
            format!("role {role:?} has no USAGE privilege on schema pglane")
        } else if unusable {
            format!("role {role:?} may not read and write every table of schema pglane (meta, runs, journal, schema_files)")
        } else {
            format!("schema pglane lacks some of its tables and role {role:?} may not create them (no CREATE privilege on it)")
        };
        return Ok(status(Some(format!(
            "{why}; an admin can run once: {}",
            grants_for(&role)
        ))));
    };
    conn.batch(&sql).await?;
    Ok(status(None))
}

/// Does `graph` have the registry's run table, and may this run use it?
fn registry_exists(graph: &SchemaGraph) -> bool {
    !journal::disabled() && graph.find(&TableName::new("pglane", "runs")).is_some()
}

/// Marks the database as a test database (sweeps may run on it). Needs the `pglane` schema.
pub async fn mark_test_database(db: &Db) -> Result<()> {
    let status = ensure_schema(db).await?;
    if let Some(missing) = status.missing {
        return Err(Error::invalid_config(format!(
            "cannot mark {} as a test database: {missing}",
            db.config().describe()
        )));
    }
    db.conn()
        .await?
        .batch("insert into pglane.meta (key, value) values ('test_database', 'true') on conflict (key) do update set value = excluded.value")
        .await?;
    db.remember_test_database();
    Ok(())
}

/// Registers a run. Returns true when it was not registered (a new run, or one whose
/// registration another run swept: it re-registers with its own settings), false when it was
/// (its heartbeat is refreshed; its format and liveness stay as first registered).
pub async fn register_run(db: &Db, run: &Registration) -> Result<bool> {
    let conn = db.conn().await?;
    let pattern = LanePattern::of(&run.format, &run.run_id, None, None)?
        .as_str()
        .to_string();
    let format = run.format.text();
    let rows = conn
        .query(
            "insert into pglane.runs (run_id, host, pid, lane_pattern, name_format, heartbeat_seconds, ttl_seconds) \
             values ($1, $2, $3, $4, $5, $6, $7) \
             on conflict (run_id) do update set heartbeat_at = now() \
             returning (xmax = 0)",
            &[
                (&run.run_id, Type::TEXT),
                (&run.host, Type::TEXT),
                (&run.pid, Type::INT4),
                (&pattern, Type::TEXT),
                (&format, Type::TEXT),
                (&run.liveness.heartbeat_seconds, Type::FLOAT8),
                (&run.liveness.ttl_seconds, Type::FLOAT8),
            ],
        )
        .await?;
    Ok(rows.first().is_some_and(|r| r.get::<_, bool>(0)))
}

/// Records that a run is alive, and (when given) its heartbeat interval and TTL as they are
/// now. Returns false when the run is not registered (another run swept it, or it was
/// forgotten): the caller should register it again ([`register_run`]).
pub async fn heartbeat(db: &Db, run_id: &str, liveness: Option<Liveness>) -> Result<bool> {
    let r = run_id.to_string();
    let (beat, ttl) = (
        liveness.map(|l| l.heartbeat_seconds),
        liveness.map(|l| l.ttl_seconds),
    );
    let rows = db
        .conn()
        .await?
        .query(
            "update pglane.runs set heartbeat_at = now(), \
             heartbeat_seconds = coalesce($2, heartbeat_seconds), ttl_seconds = coalesce($3, ttl_seconds) \
             where run_id = $1 returning 1",
            &[(&r, Type::TEXT), (&beat, Type::FLOAT8), (&ttl, Type::FLOAT8)],
        )
        .await?;
    Ok(!rows.is_empty())
}

/// Every registered run.
pub async fn runs(db: &Db) -> Result<Vec<RunInfo>> {
    let rows = db
        .conn()
        .await?
        .query(
            "select run_id, host, pid, lane_pattern, name_format, heartbeat_seconds, ttl_seconds, \
             extract(epoch from now() - heartbeat_at)::float8 \
             from pglane.runs order by started_at",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| RunInfo {
            run_id: r.get(0),
            host: r.get(1),
            pid: r.get(2),
            lane_pattern: r.get(3),
            name_format: r.get(4),
            heartbeat_seconds: r.get(5),
            ttl_seconds: r.get(6),
            idle_seconds: r.get(7),
        })
        .collect())
}

/// The seeds of what a run left: the rows its journal names and the rows whose lane columns
/// hold its names (every text column of every table unless `lane_columns` names them; columns
/// of tables this database lacks are left out).
async fn run_seeds(
    db: &Db,
    graph: &SchemaGraph,
    run: &RunInfo,
    pattern: &LanePattern,
    lane_columns: Option<&LaneColumns>,
) -> Result<Seeds> {
    let keys = if journal::exists(graph) {
        journal::keys_of_run(&db.conn().await?, graph, &run.run_id).await?
    } else {
        Default::default()
    };
    let named = lane_columns.map(|cols| lane_columns_present(graph, cols));
    Ok(match &named {
        Some(cols) if cols.is_empty() => Seeds::default(),
        Some(cols) => Seeds::from_lane(graph, pattern, Some(cols))?,
        None => Seeds::from_lane(graph, pattern, None).unwrap_or_default(),
    }
    .with_keys(keys))
}

/// What a sweep of `run` would delete, per table with the foreign-key path to it, deleting
/// nothing (a dry run).
pub async fn plan_sweep(
    db: &Db,
    run: &RunInfo,
    lane_columns: Option<&LaneColumns>,
) -> Result<Vec<PreviewTable>> {
    let pattern = run.lane()?;
    let (graph, _) = db.graph_for(Freshness::Fresh).await?;
    let seeds = run_seeds(db, &graph, run, &pattern, lane_columns).await?;
    if seeds.is_empty() {
        return Ok(Vec::new());
    }
    execute::preview(db, &graph, &seeds, Some(&pattern)).await
}

/// Deletes what a run left: rows its journal names and rows in its lane (by the lane columns),
/// with everything referencing them. Then forgets the run. Refuses a database that is not
/// marked as a test database unless `allow_unmarked`.
pub async fn sweep_run(
    db: &Db,
    run: &RunInfo,
    lane_columns: Option<&LaneColumns>,
    allow_unmarked: bool,
) -> Result<CleanupReport> {
    require_test_database(db, allow_unmarked, &format!("sweep run {}", run.run_id)).await?;
    let pattern = run.lane()?;
    let (graph, _) = db.graph_for(Freshness::Fresh).await?;
    let seeds = run_seeds(db, &graph, run, &pattern, lane_columns).await?;
    let report = if seeds.is_empty() {
        CleanupReport::default()
    } else {
        let options = CleanupOptions::default().for_lane();
        execute::plan_and_run(db, &graph, &seeds, options, Some(&pattern)).await?
    };
    if report.failures.is_empty() && registry_exists(&graph) {
        forget_run(db, &run.run_id).await?;
    }
    Ok(report)
}

/// Removes a run and its journal.
pub async fn forget_run(db: &Db, run_id: &str) -> Result<()> {
    let r = run_id.to_string();
    let conn = db.conn().await?;
    let c = conn.client();
    let p: [(&(dyn tokio_postgres::types::ToSql + Sync), Type); 1] = [(&r, Type::TEXT)];
    conn.run(1, async {
        let (a, b) = tokio::join!(
            c.query_typed(journal::FORGET_RUN_SQL, &p),
            c.query_typed("delete from pglane.runs where run_id = $1", &p),
        );
        a?;
        b?;
        Ok(())
    })
    .await
}

/// The run `run_id`: the registered one, or `PGLANE_INVALID_CONFIG` when there is none; or,
/// for a database without the registry, the run `lane_pattern` names, which must be exactly the
/// pattern of run `run_id` under the name format (`PGLANE_NAME_FORMAT`, else the default):
/// never free text.
pub async fn run_info(db: &Db, run_id: &str, lane_pattern: Option<String>) -> Result<RunInfo> {
    let Some(lane_pattern) = lane_pattern else {
        return find_run(db, run_id).await;
    };
    let env = |k: &str| std::env::var(k).ok();
    let registration = RegisterInput::default().registration(
        run_id,
        "",
        &Input::Number(0.0),
        Some(&lane_pattern),
        &env,
    )?;
    Ok(RunInfo {
        run_id: registration.run_id,
        host: String::new(),
        pid: 0,
        lane_pattern,
        name_format: Some(registration.format.text()),
        heartbeat_seconds: None,
        ttl_seconds: None,
        idle_seconds: 0.0,
    })
}

/// The registered run `run_id`, or `PGLANE_INVALID_CONFIG` when there is none.
pub async fn find_run(db: &Db, run_id: &str) -> Result<RunInfo> {
    runs(db)
        .await?
        .into_iter()
        .find(|r| r.run_id == run_id)
        .ok_or_else(|| Error::invalid_config(format!("no run {run_id:?} is registered")))
}

/// Dead runs: each judged by the heartbeat interval and TTL it recorded itself
/// ([`RunInfo::is_expired`]), never by the caller's; `fallback_ttl` (seconds above 0) judges
/// only runs registered by an older pglane, which recorded none.
pub async fn expired_runs(db: &Db, fallback_ttl: f64) -> Result<Vec<RunInfo>> {
    check_seconds("the fallback time-to-live", fallback_ttl)?;
    Ok(runs(db)
        .await?
        .into_iter()
        .filter(|r| r.is_expired(fallback_ttl))
        .collect())
}

/// Rows a run still has: per table, the rows its journal names or its lane's names match (every
/// text column of every table unless `lane_columns` names them). Reads the catalog afresh: the
/// run may have created tables.
pub async fn leftovers(
    db: &Db,
    run: &RunInfo,
    lane_columns: Option<&LaneColumns>,
) -> Result<Vec<TableCount>> {
    let pattern = run.lane()?;
    let (graph, _) = db.graph_for(Freshness::Fresh).await?;
    let seeds = run_seeds(db, &graph, run, &pattern, lane_columns).await?;
    execute::count_left(db, &graph, &seeds).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::ErrorCode;

    fn run(idle: f64, ttl: Option<f64>, beat: Option<f64>) -> RunInfo {
        RunInfo {
            run_id: "abc123xyz0".into(),
            host: "h".into(),
            pid: 1,
            lane_pattern: "Acme Cor%".into(),
            name_format: None,
            heartbeat_seconds: beat,
            ttl_seconds: ttl,
            idle_seconds: idle,
        }
    }

    #[test]
    fn a_run_is_judged_by_its_own_ttl_never_by_the_callers() {
        // A caller started with PGLANE_HEARTBEAT_TTL=5 looks at a run beating every 20 s.
        let live = run(30.0, Some(120.0), Some(20.0));
        assert!(!live.is_expired(5.0));
        assert!(run(121.0, Some(120.0), Some(20.0)).is_expired(600.0));
        // A run whose own TTL is shorter than two heartbeats is not dead between two beats.
        assert!(!run(30.0, Some(5.0), Some(20.0)).is_expired(5.0));
        assert!(run(41.0, Some(5.0), Some(20.0)).is_expired(5.0));
        // Registered by an older pglane: the caller's TTL is all there is.
        assert!(run(30.0, None, None).is_expired(5.0));
    }

    #[test]
    fn the_lane_of_a_run_comes_from_its_id_never_from_the_registered_text() {
        let r = run(0.0, None, None);
        assert_eq!(r.lane().unwrap().as_str(), "abc123xyz0-w%");
        let mut bad = r.clone();
        bad.run_id = "x".into();
        assert!(bad.lane().is_err());
        bad.run_id = "abc123xyz0".into();
        bad.name_format = Some("x{run}-w{worker}-{test}-{name}".into());
        assert_eq!(bad.lane().unwrap_err().code(), ErrorCode::InvalidConfig);
    }

    #[test]
    fn a_registration_refuses_a_pattern_that_is_not_its_runs() {
        let live = Liveness {
            heartbeat_seconds: 20.0,
            ttl_seconds: 120.0,
        };
        let f = NameFormat::default;
        assert!(Registration::new("abc123xyz0", "h", 1, f(), Some("Acme Cor%"), live).is_err());
        assert!(Registration::new("abc123xyz0", "h", 1, f(), Some("abc123xyz0%"), live).is_err());
        assert!(Registration::new("Acme Cor%", "h", 1, f(), None, live).is_err());
        Registration::new("abc123xyz0", "h", 1, f(), Some("abc123xyz0-w%"), live).unwrap();
    }

    #[test]
    fn liveness_comes_from_the_caller_then_the_environment_and_is_checked() {
        let env = |k: &str| match k {
            "PGLANE_HEARTBEAT_TTL" => Some("5".to_string()),
            "PGLANE_HEARTBEAT_SECONDS" => Some("-3".to_string()),
            _ => None,
        };
        let l = Liveness::resolve(None, None, &env).unwrap();
        assert_eq!((l.heartbeat_seconds, l.ttl_seconds), (20.0, 5.0));
        assert_eq!(
            Liveness::resolve(Some(7.0), None, &env)
                .unwrap()
                .heartbeat_seconds,
            7.0
        );
        for bad in [f64::NAN, f64::INFINITY, -1.0, 0.0, 1e20] {
            assert_eq!(
                Liveness::resolve(None, Some(bad), &env).unwrap_err().code(),
                ErrorCode::InvalidArgument,
                "{bad}"
            );
        }
        let input = RegisterInput {
            ttl_seconds: Some(Input::String("2m".into())),
            ..Default::default()
        };
        assert_eq!(
            input.liveness(&env).unwrap_err().code(),
            ErrorCode::InvalidArgument
        );
    }
}
