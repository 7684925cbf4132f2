//! Runs cleanup plans against the database: the happy path is one statement that deletes the
//! whole closure and checks, in its own snapshot, that every tracked row was among the deleted
//! (one round trip); only when some were not does a second statement count what is left. When that
//! statement fails, a fallback deletes group by group, children first, inside one transaction
//! with a savepoint per group, so one failing group is reported and the rest still goes.

use crate::core::cleanup_plan::{CleanupPlan, Seed, SeedCheck, SqlParam};
use crate::core::db::{query_error, Conn, Db};
use crate::core::error::{Error, ErrorCode, Result};
use crate::core::factory_def::FactoryRegistry;
use crate::core::schema_graph::{SchemaGraph, TableId};
use crate::core::tracker::{ResourceTracker, TrackedRow};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_postgres::types::{ToSql, Type};

/// How to clean up.
#[derive(Debug, Clone, Copy)]
pub struct CleanupOptions {
    /// Prove afterwards that the seeded rows are gone (pipelined: no extra round trip).
    pub verify: bool,
    /// Also delete rows that reference the seeded rows (rows the app created through its UI).
    pub include_dependents: bool,
    /// Delete (and count) every dependent row in pglane's statement, even those an
    /// `ON DELETE CASCADE` would remove: exact per-table counts, at the cost of a larger
    /// statement. Off by default: such tables are listed in `cascaded` instead.
    pub count_dependents: bool,
}

impl Default for CleanupOptions {
    fn default() -> Self {
        CleanupOptions {
            verify: true,
            include_dependents: true,
            count_dependents: false,
        }
    }
}

/// Rows of one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableCount {
    /// `schema.table`.
    pub table: String,
    /// Row count.
    pub rows: u64,
}

/// A group of tables whose rows could not be deleted.
#[derive(Debug, Clone)]
pub struct CleanupFailure {
    /// `schema.table` of each table in the group (several for a cycle).
    pub tables: Vec<String>,
    /// Tracked keys of those tables (at most 20), as text values in key order.
    pub keys: Vec<Vec<String>>,
    /// pglane's code for the error.
    pub code: ErrorCode,
    /// Postgres' SQLSTATE.
    pub sqlstate: Option<String>,
    /// What Postgres said.
    pub message: String,
}

/// What a cleanup did.
#[derive(Debug, Clone, Default)]
pub struct CleanupReport {
    /// Rows deleted per table (tables with no row deleted are left out).
    pub deleted: Vec<TableCount>,
    /// Tables whose dependent rows Postgres deleted through `ON DELETE CASCADE` from rows the
    /// cleanup deleted; their rows are not in `deleted` (ask for `count_dependents`).
    pub cascaded: Vec<String>,
    /// Sum of `deleted`.
    pub total_deleted: u64,
    /// Groups that failed (empty on success).
    pub failures: Vec<CleanupFailure>,
    /// `Some(true)` when verification proved the seeded rows gone, `None` when not asked.
    pub verified: Option<bool>,
    /// Seeded rows still present per table, when verification ran.
    pub remaining: Vec<TableCount>,
    /// Round trips to Postgres (pipelined statements count once).
    pub round_trips: u64,
    /// Statements sent.
    pub statements: u64,
    /// Wall time.
    pub duration: Duration,
    /// Whether the group-by-group fallback ran.
    pub fallback: bool,
}

/// Deletes what `tracker` holds (and, by default, every row referencing it), then forgets the
/// rows that are gone. With nothing tracked it sends nothing. If the connection breaks, nothing
/// is half-deleted (one statement, or one transaction) and the tracker keeps its rows.
pub async fn cleanup_tracked(
    db: &Db,
    tracker: &ResourceTracker,
    options: CleanupOptions,
) -> Result<CleanupReport> {
    let started = Instant::now();
    let rows = tracker.list();
    if rows.is_empty() {
        return Ok(CleanupReport::default());
    }
    let mut extra_round_trips = 0;
    let mut graph = match db.cached_schema() {
        Some(g) => g,
        None => {
            extra_round_trips += 1;
            db.schema().await?
        }
    };
    if rows.iter().any(|r| graph.resolve(&r.table).is_err()) {
        extra_round_trips += 1;
        graph = db.refresh_schema().await?;
    }
    // Each row's table, resolved once.
    let tables: Vec<TableId> = rows
        .iter()
        .map(|r| graph.resolve(&r.table))
        .collect::<Result<_>>()?;
    let mut by_table: HashMap<TableId, Vec<Vec<String>>> = HashMap::new();
    for (row, &t) in rows.iter().zip(&tables) {
        by_table.entry(t).or_default().push(row.key.clone());
    }
    let mut seeds: Vec<(TableId, Seed)> = by_table
        .into_iter()
        .map(|(t, keys)| (t, Seed::Keys(keys)))
        .collect();
    seeds.sort_by_key(|(t, _)| *t);
    let mut report = plan_and_execute(db, &graph, &seeds, options).await?;
    report.round_trips += extra_round_trips;
    report.statements += extra_round_trips;

    // Forget rows whose table has none of its tracked rows left.
    let remaining: HashMap<&str, u64> = report
        .remaining
        .iter()
        .map(|c| (c.table.as_str(), c.rows))
        .collect();
    let failed: Vec<&String> = report
        .failures
        .iter()
        .flat_map(|f| f.tables.iter())
        .collect();
    let gone: Vec<TrackedRow> = rows
        .into_iter()
        .zip(tables)
        .filter(|(_, t)| {
            let name = graph.tables[*t].display_name();
            remaining.get(name.as_str()).copied().unwrap_or(0) == 0 && !failed.contains(&&name)
        })
        .map(|(r, _)| r)
        .collect();
    tracker.remove(&gone);
    report.duration = started.elapsed();
    Ok(report)
}

/// Deletes every row whose lane columns match `pattern` (a lane's LIKE pattern), plus, by
/// default, every row referencing them. `lane_columns` lists `(table, [columns])`.
///
/// It plans with the schema graph the process read already; when a table is unknown to it, or
/// a group fails (a table created since could hold references), it reads the catalog again and
/// goes once more over what is left.
pub async fn cleanup_pattern(
    db: &Db,
    pattern: &str,
    lane_columns: &[(String, Vec<String>)],
    options: CleanupOptions,
) -> Result<CleanupReport> {
    let started = Instant::now();
    let mut extra_round_trips = 0;
    let mut fresh = false;
    let mut graph = match db.cached_schema() {
        Some(g) => g,
        None => {
            extra_round_trips += 1;
            fresh = true;
            db.schema().await?
        }
    };
    let mut report = CleanupReport::default();
    loop {
        let seeds = match like_seeds(&graph, pattern, lane_columns) {
            Err(e) if e.code() == ErrorCode::UnknownTable && !fresh => {
                extra_round_trips += 1;
                fresh = true;
                graph = db.refresh_schema().await?;
                continue;
            }
            other => other?,
        };
        let pass = plan_and_execute(db, &graph, &seeds, options).await?;
        let retry = !pass.failures.is_empty() && !fresh;
        merge(&mut report, pass);
        if !retry {
            break;
        }
        extra_round_trips += 1;
        fresh = true;
        graph = db.refresh_schema().await?;
    }
    report.round_trips += extra_round_trips;
    report.statements += extra_round_trips;
    report.duration = started.elapsed();
    Ok(report)
}

/// Adds a later pass's report to an earlier one's; the later pass's failures and verification
/// are the ones that stand.
fn merge(into: &mut CleanupReport, pass: CleanupReport) {
    for c in pass.deleted {
        match into.deleted.iter_mut().find(|d| d.table == c.table) {
            Some(d) => d.rows += c.rows,
            None => into.deleted.push(c),
        }
    }
    into.total_deleted += pass.total_deleted;
    for t in pass.cascaded {
        if !into.cascaded.contains(&t) {
            into.cascaded.push(t);
        }
    }
    into.failures = pass.failures;
    into.verified = pass.verified;
    into.remaining = pass.remaining;
    into.round_trips += pass.round_trips;
    into.statements += pass.statements;
    into.fallback |= pass.fallback;
}

/// The lane columns to sweep by: `given` (sorted), or the preset's name and email columns of
/// the tables the database has. It uses the schema graph the process read already, and reads
/// the catalog again when that graph lacks a table of the preset (created since; or the schema
/// is another app's, which should pass its own columns).
pub async fn lane_columns(
    db: &Db,
    given: Option<HashMap<String, Vec<String>>>,
) -> Result<Vec<(String, Vec<String>)>> {
    if let Some(map) = given {
        let mut cols: Vec<(String, Vec<String>)> = map.into_iter().collect();
        cols.sort();
        return Ok(cols);
    }
    let preset = FactoryRegistry::preset();
    let cols = preset.lane_columns_in(&*db.schema().await?);
    if cols.len() < preset.lane_columns().len() {
        return Ok(preset.lane_columns_in(&*db.refresh_schema().await?));
    }
    Ok(cols)
}

/// Rows left behind in a lane: per table, how many rows' lane columns match `pattern`.
/// One statement; tables with no match are left out.
pub async fn find_leaks(
    db: &Db,
    pattern: &str,
    lane_columns: &[(String, Vec<String>)],
) -> Result<Vec<TableCount>> {
    let graph = db.schema().await?;
    let seeds = like_seeds(&graph, pattern, lane_columns)?;
    let plan = CleanupPlan::build(&graph, &seeds, false, false)?;
    let Some(sql) = plan.verify_sql() else {
        return Ok(Vec::new());
    };
    let conn = db.conn().await?;
    let counts = counts_of(&conn, &sql, &plan.params).await?;
    Ok(plan
        .seeded
        .iter()
        .zip(counts)
        .filter(|(_, n)| *n > 0)
        .map(|(t, n)| TableCount {
            table: graph.tables[*t].display_name(),
            rows: n,
        })
        .collect())
}

fn like_seeds(
    graph: &SchemaGraph,
    pattern: &str,
    lane_columns: &[(String, Vec<String>)],
) -> Result<Vec<(TableId, Seed)>> {
    if lane_columns.is_empty() {
        return Err(Error::invalid_config(
            "no lane columns: say which name and email columns hold lane names, e.g. { 'public.organizations': ['name'] }",
        ));
    }
    lane_columns
        .iter()
        .map(|(table, columns)| {
            Ok((
                graph.resolve(table)?,
                Seed::Like {
                    columns: columns.clone(),
                    pattern: pattern.to_string(),
                },
            ))
        })
        .collect()
}

fn typed(params: &[SqlParam]) -> Vec<(&(dyn ToSql + Sync), Type)> {
    params
        .iter()
        .map(|p| match p {
            SqlParam::TextArray(v) => (v as &(dyn ToSql + Sync), Type::TEXT_ARRAY),
            SqlParam::Text(s) => (s as &(dyn ToSql + Sync), Type::TEXT),
        })
        .collect()
}

fn counts_from(rows: &[tokio_postgres::Row]) -> Result<Vec<u64>> {
    let row = rows
        .first()
        .ok_or_else(|| Error::internal("cleanup statement returned no row"))?;
    array_column(row, 0)
}

fn array_column(row: &tokio_postgres::Row, index: usize) -> Result<Vec<u64>> {
    let counts: Vec<i64> = row
        .try_get(index)
        .map_err(|e| Error::internal(format!("cleanup counts: {e}")))?;
    Ok(counts.into_iter().map(|n| n.max(0) as u64).collect())
}

pub(crate) async fn counts_of(conn: &Conn, sql: &str, params: &[SqlParam]) -> Result<Vec<u64>> {
    let rows = conn.query(sql, &typed(params)).await?;
    counts_from(&rows)
}

fn is_connection_error(e: &Error) -> bool {
    matches!(e.code(), ErrorCode::DbConnectionLost | ErrorCode::DbTimeout)
}

/// Plans the cleanup of `seeds` with `options` and runs it: one statement, verified, with the
/// fallback.
pub async fn plan_and_execute(
    db: &Db,
    graph: &Arc<SchemaGraph>,
    seeds: &[(TableId, Seed)],
    options: CleanupOptions,
) -> Result<CleanupReport> {
    let started = Instant::now();
    let plan = CleanupPlan::build(
        graph,
        seeds,
        options.include_dependents,
        options.count_dependents,
    )?;
    let mut report = execute(db, graph, &plan, seeds, options).await?;
    report.duration = started.elapsed();
    Ok(report)
}

async fn execute(
    db: &Db,
    graph: &Arc<SchemaGraph>,
    plan: &CleanupPlan,
    seeds: &[(TableId, Seed)],
    options: CleanupOptions,
) -> Result<CleanupReport> {
    let verify = options.verify;
    let mut report = CleanupReport::default();
    if plan.is_empty() {
        return Ok(report);
    }
    let conn = db.conn().await?;
    let params = typed(&plan.params);
    let delete_sql = plan.delete_all_sql(verify);
    let client = conn.client();
    let cfg = db.config();

    // Happy path: one statement deletes the closure and, in the same snapshot, counts the
    // tracked rows it deleted: when that is all of them, verification is done in one round trip.
    let deleted = conn
        .run(1, async {
            Ok(client.query_typed(&delete_sql, &params).await)
        })
        .await?;
    report.statements = 1;
    match deleted {
        Ok(rows) => {
            let row = rows
                .first()
                .ok_or_else(|| Error::internal("cleanup statement returned no row"))?;
            let counts = array_column(row, 0)?;
            record_deleted(&mut report, graph, &plan.tables, &counts);
            report.cascaded = plan
                .cascaded
                .iter()
                .map(|&t| graph.tables[t].display_name())
                .collect();
            if verify {
                let checks = array_column(row, 1)?;
                let mut short = false;
                let left: Vec<u64> = plan
                    .seed_checks
                    .iter()
                    .map(|check| {
                        let (done, expected) = match *check {
                            SeedCheck::Deleted { table, expected } => (counts[table], expected),
                            SeedCheck::TrackedDeleted { check, expected } => {
                                (checks[check], expected)
                            }
                            SeedCheck::LikeLeft { check } => return checks[check],
                        };
                        short |= done < expected;
                        0
                    })
                    .collect();
                match plan.verify_sql() {
                    // Some tracked rows were not deleted by this statement (gone before it, or
                    // hidden from it): a second statement counts what is left.
                    Some(sql) if short => {
                        let left = counts_of(&conn, &sql, &plan.params).await?;
                        report.statements += 1;
                        record_remaining(&mut report, graph, plan, &left);
                    }
                    _ => record_remaining(&mut report, graph, plan, &left),
                }
            }
        }
        Err(e) => {
            let err = query_error(cfg, &e);
            if is_connection_error(&err) {
                return Err(err.context("cleanup"));
            }
            report.fallback = true;
            let plan = CleanupPlan::build_fallback(graph, seeds, options.include_dependents)?;
            fallback(&conn, &mut report, graph, &plan, seeds).await?;
        }
    }
    report.round_trips = conn.round_trips();
    Ok(report)
}

/// Group by group, children first, one savepoint each, in one transaction; then verification.
async fn fallback(
    conn: &Conn,
    report: &mut CleanupReport,
    graph: &Arc<SchemaGraph>,
    plan: &CleanupPlan,
    seeds: &[(TableId, Seed)],
) -> Result<()> {
    let params = typed(&plan.params);
    conn.batch("begin").await?;
    report.statements += 1;
    for group in plan.groups.iter().rev() {
        conn.batch("savepoint pglane_cleanup_group").await?;
        report.statements += 2;
        match conn.query(&plan.delete_sql(group), &params).await {
            Ok(rows) => {
                record_deleted(report, graph, group, &counts_from(&rows)?);
                conn.batch("release savepoint pglane_cleanup_group").await?;
            }
            Err(err) if is_connection_error(&err) => return Err(err.context("cleanup")),
            Err(err) => {
                conn.batch("rollback to savepoint pglane_cleanup_group")
                    .await?;
                let keys = seeds
                    .iter()
                    .filter(|(t, _)| group.contains(t))
                    .flat_map(|(_, s)| match s {
                        Seed::Keys(k) => k.clone(),
                        Seed::Like { .. } => Vec::new(),
                    })
                    .take(20)
                    .collect();
                report.failures.push(CleanupFailure {
                    tables: group
                        .iter()
                        .map(|&t| graph.tables[t].display_name())
                        .collect(),
                    keys,
                    code: err.code(),
                    sqlstate: err.sqlstate().map(str::to_string),
                    message: err.message().to_string(),
                });
            }
        }
        report.statements += 1;
    }
    conn.batch("commit").await?;
    report.statements += 1;
    if let Some(sql) = plan.verify_sql() {
        let counts = counts_of(conn, &sql, &plan.params).await?;
        report.statements += 1;
        record_remaining(report, graph, plan, &counts);
    }
    Ok(())
}

fn record_deleted(
    report: &mut CleanupReport,
    graph: &SchemaGraph,
    tables: &[TableId],
    counts: &[u64],
) {
    for (t, n) in tables.iter().zip(counts) {
        if *n > 0 {
            report.deleted.push(TableCount {
                table: graph.tables[*t].display_name(),
                rows: *n,
            });
            report.total_deleted += n;
        }
    }
}

fn record_remaining(
    report: &mut CleanupReport,
    graph: &SchemaGraph,
    plan: &CleanupPlan,
    counts: &[u64],
) {
    report.remaining = plan
        .seeded
        .iter()
        .zip(counts)
        .filter(|(_, n)| **n > 0)
        .map(|(t, n)| TableCount {
            table: graph.tables[*t].display_name(),
            rows: *n,
        })
        .collect();
    report.verified = Some(report.remaining.is_empty());
}
