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
use crate::core::cleanup::{execute, CleanupOptions, CleanupReport, TableCount};
use crate::core::db::catalog::Freshness;
use crate::core::db::Db;
use crate::core::error::{Error, ErrorCode, Result};
use crate::core::lane::LanePattern;
use crate::core::schema::{SchemaGraph, TableName};
use tokio_postgres::types::Type;

/// The `pglane` schema's meta and run tables (the schema itself is created apart: that needs
/// `CREATE` on the database, which a restricted role lacks).
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
"#;

/// Serialises concurrent set-ups of the schema (a transaction-scoped advisory lock).
const SCHEMA_LOCK_SQL: &str = "select pg_advisory_xact_lock(7095312440219086102);";

/// A registered run.
#[derive(Debug, Clone)]
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
          where c.relnamespace = n.oid and c.relkind = 'r' and c.relname = any($1))
from (select 1) one left join pg_catalog.pg_namespace n on n.nspname = 'pglane'";

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
    let status = |missing: Option<String>| SchemaStatus {
        ready: missing.is_none(),
        role: role.clone(),
        database: database.clone(),
        missing,
    };
    if exists && usage && usable_tables as usize == TABLES.len() {
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
        .await
}

/// Is the database marked as a test database?
pub async fn is_test_database(db: &Db) -> Result<bool> {
    let rows = db
        .conn()
        .await?
        .query(
            "select coalesce((select value = 'true' from pglane.meta where key = 'test_database'), false) \
             where to_regclass('pglane.meta') is not null",
            &[],
        )
        .await?;
    Ok(rows.first().map(|r| r.get::<_, bool>(0)).unwrap_or(false))
}

/// Registers a run (or refreshes its heartbeat if it exists).
pub async fn register_run(
    db: &Db,
    run_id: &str,
    host: &str,
    pid: i32,
    lane_pattern: &str,
) -> Result<()> {
    LanePattern::parse(lane_pattern)?;
    let conn = db.conn().await?;
    let (r, h, p) = (
        run_id.to_string(),
        host.to_string(),
        lane_pattern.to_string(),
    );
    conn.query(
        "insert into pglane.runs (run_id, host, pid, lane_pattern) values ($1, $2, $3, $4) \
         on conflict (run_id) do update set heartbeat_at = now()",
        &[
            (&r, Type::TEXT),
            (&h, Type::TEXT),
            (&pid, Type::INT4),
            (&p, Type::TEXT),
        ],
    )
    .await?;
    Ok(())
}

/// Records that a run is alive.
pub async fn heartbeat(db: &Db, run_id: &str) -> Result<()> {
    let r = run_id.to_string();
    db.conn()
        .await?
        .query(
            "update pglane.runs set heartbeat_at = now() where run_id = $1",
            &[(&r, Type::TEXT)],
        )
        .await?;
    Ok(())
}

/// Every registered run.
pub async fn runs(db: &Db) -> Result<Vec<RunInfo>> {
    let rows = db
        .conn()
        .await?
        .query(
            "select run_id, host, pid, lane_pattern, extract(epoch from now() - heartbeat_at)::float8 \
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
            idle_seconds: r.get(4),
        })
        .collect())
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
    if !allow_unmarked && !is_test_database(db).await? {
        return Err(Error::new(
            ErrorCode::InvalidConfig,
            format!(
                "refusing to sweep run {} on {}: the database is not marked as a test database \
                 (run `npx pglane mark-test-db`, or set PGLANE_ALLOW_SWEEP=1)",
                run.run_id,
                db.config().describe()
            ),
        ));
    }
    let pattern = LanePattern::parse(&run.lane_pattern)?;
    let (graph, _) = db.graph_for(Freshness::Fresh).await?;
    let keys = if journal::exists(&graph) {
        journal::keys_of_run(&db.conn().await?, &graph, &run.run_id).await?
    } else {
        Default::default()
    };
    // Columns a caller named may be of tables this database lacks: those are left out.
    let named = lane_columns.map(|cols| lane_columns_present(&graph, cols));
    let seeds = match &named {
        Some(cols) if cols.is_empty() => Seeds::default(),
        Some(cols) => Seeds::from_lane(&graph, &pattern, Some(cols))?,
        None => Seeds::from_lane(&graph, &pattern, None).unwrap_or_default(),
    }
    .with_keys(keys);
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

/// The run `run_id`: with `lane_pattern`, as given (for a database without the registry);
/// else the registered one, or `PGLANE_INVALID_CONFIG` when there is none.
pub async fn run_info(db: &Db, run_id: &str, lane_pattern: Option<String>) -> Result<RunInfo> {
    match lane_pattern {
        Some(lane_pattern) => {
            LanePattern::parse(&lane_pattern)?;
            Ok(RunInfo {
                run_id: run_id.to_string(),
                host: String::new(),
                pid: 0,
                lane_pattern,
                idle_seconds: 0.0,
            })
        }
        None => find_run(db, run_id).await,
    }
}

/// The registered run `run_id`, or `PGLANE_INVALID_CONFIG` when there is none.
pub async fn find_run(db: &Db, run_id: &str) -> Result<RunInfo> {
    runs(db)
        .await?
        .into_iter()
        .find(|r| r.run_id == run_id)
        .ok_or_else(|| Error::invalid_config(format!("no run {run_id:?} is registered")))
}

/// Runs whose heartbeat is older than `ttl_seconds` (a finite number of seconds, 0 or more).
pub async fn expired_runs(db: &Db, ttl_seconds: f64) -> Result<Vec<RunInfo>> {
    if !ttl_seconds.is_finite() || ttl_seconds < 0.0 {
        return Err(Error::invalid_config(format!(
            "a heartbeat time-to-live must be a finite number of seconds, 0 or more; got {ttl_seconds}"
        )));
    }
    Ok(runs(db)
        .await?
        .into_iter()
        .filter(|r| r.idle_seconds > ttl_seconds)
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
    let pattern = LanePattern::parse(&run.lane_pattern)?;
    let (graph, _) = db.graph_for(Freshness::Fresh).await?;
    let keys = if journal::exists(&graph) {
        journal::keys_of_run(&db.conn().await?, &graph, &run.run_id).await?
    } else {
        Default::default()
    };
    let lane = match lane_columns {
        Some([]) => Seeds::default(),
        Some(cols) => Seeds::from_lane(&graph, &pattern, Some(cols))?,
        None => Seeds::from_lane(&graph, &pattern, None).unwrap_or_default(),
    };
    execute::count_left(db, &graph, &lane.with_keys(keys)).await
}
