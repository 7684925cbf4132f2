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

use crate::core::cleanup::{self, CleanupOptions, CleanupReport};
use crate::core::cleanup_plan::{CleanupPlan, Seed};
use crate::core::db::Db;
use crate::core::error::{Error, ErrorCode, Result};
use crate::core::naming::check_lane_pattern;
use crate::core::schema_graph::TableId;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio_postgres::types::Type;

/// Creates the `pglane` schema if needed (serialised by an advisory lock; one round trip).
pub const SCHEMA_SQL: &str = r#"
begin;
select pg_advisory_xact_lock(7095312440219086102);
create schema if not exists pglane;
create table if not exists pglane.meta (key text primary key, value text not null);
create table if not exists pglane.runs (
  run_id text primary key,
  host text not null,
  pid int not null,
  lane_pattern text not null,
  started_at timestamptz not null default now(),
  heartbeat_at timestamptz not null default now()
);
create table if not exists pglane.journal (
  id bigserial primary key,
  run_id text not null,
  worker_id int not null,
  test_index int not null,
  table_name text not null,
  key text[] not null,
  created_at timestamptz not null default now()
);
create index if not exists journal_run_idx on pglane.journal (run_id);
commit;
"#;

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

/// Creates the schema.
pub async fn ensure_schema(db: &Db) -> Result<()> {
    db.conn().await?.batch(SCHEMA_SQL).await?;
    Ok(())
}

/// Marks the database as a test database (sweeps may run on it).
pub async fn mark_test_database(db: &Db) -> Result<()> {
    ensure_schema(db).await?;
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
    check_lane_pattern(lane_pattern)?;
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
    lane_columns: &[(String, Vec<String>)],
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
    check_lane_pattern(&run.lane_pattern)?;
    let graph = db.refresh_schema().await?;
    let conn = db.conn().await?;
    let keys = journal_keys(&conn, &graph, &run.run_id).await?;
    let mut seeds: Vec<(TableId, Seed)> =
        keys.into_iter().map(|(t, k)| (t, Seed::Keys(k))).collect();
    for (table, columns) in lane_columns {
        if let Ok(t) = graph.resolve(table) {
            if columns.iter().all(|c| graph.tables[t].column(c).is_some()) {
                seeds.push((
                    t,
                    Seed::Like {
                        columns: columns.clone(),
                        pattern: run.lane_pattern.clone(),
                    },
                ));
            }
        }
    }
    drop(conn);
    let report = if seeds.is_empty() {
        CleanupReport::default()
    } else {
        cleanup::plan_and_execute(db, &graph, &seeds, CleanupOptions::default()).await?
    };
    if report.failures.is_empty() {
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
            c.query_typed("delete from pglane.journal where run_id = $1", &p),
            c.query_typed("delete from pglane.runs where run_id = $1", &p),
        );
        a?;
        b?;
        Ok(())
    })
    .await
}

/// Runs whose heartbeat is older than `ttl`.
pub async fn expired_runs(db: &Db, ttl: Duration) -> Result<Vec<RunInfo>> {
    Ok(runs(db)
        .await?
        .into_iter()
        .filter(|r| r.idle_seconds > ttl.as_secs_f64())
        .collect())
}

/// The journaled keys of a run, per table (tables that no longer exist are skipped).
async fn journal_keys(
    conn: &crate::core::db::Conn,
    graph: &crate::core::schema_graph::SchemaGraph,
    run_id: &str,
) -> Result<BTreeMap<TableId, Vec<Vec<String>>>> {
    let rid = run_id.to_string();
    let rows = conn
        .query(
            "select table_name, key from pglane.journal where run_id = $1",
            &[(&rid, Type::TEXT)],
        )
        .await?;
    let mut keys: BTreeMap<TableId, Vec<Vec<String>>> = BTreeMap::new();
    for row in &rows {
        let table: String = row.get(0);
        if let Ok(t) = graph.resolve(&table) {
            keys.entry(t).or_default().push(row.get(1));
        }
    }
    Ok(keys)
}

/// Rows a run still has: per table, by journal keys and lane columns.
pub async fn leftovers(
    db: &Db,
    run: &RunInfo,
    lane_columns: &[(String, Vec<String>)],
) -> Result<Vec<cleanup::TableCount>> {
    let mut found = if lane_columns.is_empty() {
        Vec::new()
    } else {
        cleanup::find_leaks(db, &run.lane_pattern, lane_columns).await?
    };
    let conn = db.conn().await?;
    let graph = db.schema().await?;
    let keys = journal_keys(&conn, &graph, &run.run_id).await?;
    if keys.is_empty() {
        return Ok(found);
    }
    let seeds: Vec<(TableId, Seed)> = keys.into_iter().map(|(t, k)| (t, Seed::Keys(k))).collect();
    let plan = CleanupPlan::build(&graph, &seeds, false, false)?;
    if let Some(sql) = plan.verify_sql() {
        let counts = cleanup::counts_of(&conn, &sql, &plan.params).await?;
        for (t, n) in plan.seeded.iter().zip(counts) {
            if n == 0 {
                continue;
            }
            let name = graph.tables[*t].display_name();
            match found.iter_mut().find(|c| c.table == name) {
                Some(c) => c.rows = c.rows.max(n),
                None => found.push(cleanup::TableCount {
                    table: name,
                    rows: n,
                }),
            }
        }
    }
    Ok(found)
}

/// Journals a row tracked by hand (one round trip), so a crash cannot lose it. Does nothing
/// when the database has no run registry (no global setup ran).
pub async fn journal_row(
    db: &Db,
    lane: &crate::core::tracker::LaneInfo,
    row: &crate::core::tracker::TrackedRow,
) -> Result<()> {
    let has_journal = match db.cached_schema() {
        Some(g) => g.resolve("pglane.journal").is_ok(),
        None => false,
    };
    if !has_journal || lane.run_id.is_empty() {
        return Ok(());
    }
    let (worker, test) = (lane.worker_id as i32, lane.test_index as i32);
    db.conn()
        .await?
        .query(
            "insert into pglane.journal (run_id, worker_id, test_index, table_name, key) values ($1, $2, $3, $4, $5)",
            &[
                (&lane.run_id, Type::TEXT),
                (&worker, Type::INT4),
                (&test, Type::INT4),
                (&row.table, Type::TEXT),
                (&row.key, Type::TEXT_ARRAY),
            ],
        )
        .await?;
    Ok(())
}
