//! Runs cleanup plans: the happy path is one statement that deletes the whole closure and
//! checks, in its own snapshot, that every tracked row was among the deleted (one round trip;
//! a cleanup of many rows may go in stages, one statement each, sent together);
//! only when some were not does a second statement count what is left. When that statement
//! fails, a fallback deletes group by group, children first, inside one transaction with a
//! savepoint per group, so one failing group is reported and the rest still goes.

use super::plan::{CountPlan, DeletePlan, PlanOptions, PreviewPlan, SeedCheck, SelectPlan};
use super::seeds::Seeds;
use super::sql::{self, Params};
use super::{CleanupFailure, CleanupReport, PreviewTable, TableCount};
use crate::core::db::{Conn, Db};
use crate::core::error::{Error, ErrorCode, Result};
use crate::core::lane::LanePattern;
use crate::core::schema::{SchemaGraph, TableId};
use std::time::Instant;

/// Plans the cleanup of `seeds` and runs it: one statement, verified, with the fallback. With
/// `lane`, rows behind SET NULL / SET DEFAULT foreign keys that carry its names go too.
pub async fn plan_and_run(
    db: &Db,
    graph: &SchemaGraph,
    seeds: &Seeds,
    options: PlanOptions,
    lane: Option<&LanePattern>,
) -> Result<CleanupReport> {
    let started = Instant::now();
    let plan = DeletePlan::build(graph, seeds, options, lane)?;
    if plan.is_empty() {
        return Ok(CleanupReport::default());
    }
    let conn = db.conn().await?;
    let mut report = CleanupReport::default();
    run_delete(&conn, &mut report, graph, &plan, seeds, options, lane).await?;
    report.round_trips = conn.round_trips();
    report.duration = started.elapsed();
    Ok(report)
}

/// What deleting `seeds` with every dependent would remove, per table with the path to it,
/// deleting nothing (one statement of selects). Tables with no row are left out.
pub async fn preview(
    db: &Db,
    graph: &SchemaGraph,
    seeds: &Seeds,
    lane: Option<&LanePattern>,
) -> Result<Vec<PreviewTable>> {
    let plan = PreviewPlan::build(graph, seeds, lane)?;
    let Some(sql) = &plan.sql else {
        return Ok(Vec::new());
    };
    let conn = db.conn().await?;
    let rows = conn
        .query_guarded(sql, &plan.params.typed(), graph.jit, true)
        .await??;
    let row = rows
        .first()
        .ok_or_else(|| Error::internal("dry-run statement returned no row"))?;
    let counts = array_column(row, 0)?;
    Ok(plan
        .tables
        .iter()
        .zip(counts)
        .zip(plan.paths.into_iter().zip(plan.seeds))
        .filter(|((_, n), _)| *n > 0)
        .map(|((t, rows), (path, seeds))| PreviewTable {
            table: graph.tables[*t].display_name(),
            rows,
            seeds,
            path,
        })
        .collect())
}

/// Counts, per seeded table, the rows `seeds` still match; tables with none are left out.
pub async fn count_left(db: &Db, graph: &SchemaGraph, seeds: &Seeds) -> Result<Vec<TableCount>> {
    let (plan, params) = CountPlan::build(graph, seeds)?;
    if plan.sql.is_none() {
        return Ok(Vec::new());
    }
    let conn = db.conn().await?;
    let counts = counts_of(&conn, graph, &plan, &params).await?;
    Ok(table_counts(graph, &plan.seeded, &counts))
}

#[allow(clippy::too_many_arguments)]
async fn run_delete(
    conn: &Conn,
    report: &mut CleanupReport,
    graph: &SchemaGraph,
    plan: &DeletePlan,
    seeds: &Seeds,
    options: PlanOptions,
    lane: Option<&LanePattern>,
) -> Result<()> {
    // A statement's own error is data here (it sends the fallback); a broken connection or a
    // timeout is not.
    let sqls: Vec<&str> = plan.stages.iter().map(|s| s.sql.as_str()).collect();
    let outcomes = conn
        .query_guarded_all(&sqls, &plan.params.typed(), graph.jit, seeds.many_rows())
        .await
        .map_err(|e| e.context("cleanup"))?;
    report.statements = sqls.len() as u64;
    // Per stage: its deleted counts and its check array.
    let mut results: Vec<(Vec<u64>, Vec<u64>)> = Vec::new();
    let mut failed = false;
    for (stage, outcome) in plan.stages.iter().zip(outcomes) {
        let Ok(rows) = outcome else {
            failed = true;
            results.push(Default::default());
            continue;
        };
        let row = rows
            .first()
            .ok_or_else(|| Error::internal("cleanup statement returned no row"))?;
        let counts = array_column(row, 0)?;
        record_deleted(report, graph, &stage.tables, &counts);
        let checks = if options.verify {
            array_column(row, 1)?
        } else {
            Vec::new()
        };
        results.push((counts, checks));
    }
    if failed {
        // What the stages before a failing one deleted is committed and counted; the fallback
        // finds what is left.
        report.fallback = true;
        let include = options.dependents != super::closure::Dependents::Skip;
        let fallback = SelectPlan::build(graph, seeds, include, options.scale, lane)?;
        return run_fallback(conn, report, graph, &fallback, seeds).await;
    }
    report.cascaded = plan
        .cascaded
        .iter()
        .map(|&t| graph.tables[t].display_name())
        .collect();
    if !options.verify {
        return Ok(());
    }
    let mut short = false;
    let left: Vec<u64> = plan
        .checks
        .iter()
        .map(|&(stage, check)| {
            let (counts, checks) = &results[stage];
            let (done, expected) = match check {
                SeedCheck::Deleted { table, expected } => (counts[table], expected),
                SeedCheck::TrackedDeleted { check, expected } => (checks[check], expected),
                SeedCheck::LaneLeft { check } => return checks[check],
            };
            short |= done < expected;
            0
        })
        .collect();
    if short {
        // Some tracked rows were not deleted by this statement (gone before it, or hidden
        // from it): a second statement counts what is left.
        let left = counts_of(conn, graph, &plan.count, &plan.params).await?;
        report.statements += 1;
        record_remaining(report, graph, &plan.count.seeded, &left);
    } else {
        record_remaining(report, graph, &plan.count.seeded, &left);
    }
    Ok(())
}

/// Group by group, children first, one savepoint each, in one transaction; then verification.
async fn run_fallback(
    conn: &Conn,
    report: &mut CleanupReport,
    graph: &SchemaGraph,
    plan: &SelectPlan,
    seeds: &Seeds,
) -> Result<()> {
    let params = plan.params.typed();
    conn.batch(sql::BEGIN).await?;
    report.statements += 1;
    for group in plan.groups.iter().rev() {
        conn.batch(sql::SAVEPOINT).await?;
        report.statements += 2;
        match conn
            .query(&plan.delete_group_sql(graph, group), &params)
            .await
        {
            Ok(rows) => {
                let row = rows
                    .first()
                    .ok_or_else(|| Error::internal("cleanup statement returned no row"))?;
                record_deleted(report, graph, group, &array_column(row, 0)?);
                conn.batch(sql::RELEASE).await?;
            }
            Err(err) if is_connection_error(&err) => return Err(err.context("cleanup")),
            Err(err) => {
                conn.batch(sql::ROLLBACK_TO).await?;
                report.failures.push(CleanupFailure {
                    tables: group
                        .iter()
                        .map(|&t| graph.tables[t].display_name())
                        .collect(),
                    keys: seeds.keys_in(group, 20),
                    code: err.code(),
                    sqlstate: err.sqlstate().map(str::to_string),
                    message: err.message().to_string(),
                });
            }
        }
        report.statements += 1;
    }
    conn.batch(sql::COMMIT).await?;
    report.statements += 1;
    if plan.count.sql.is_some() {
        let counts = counts_of(conn, graph, &plan.count, &plan.params).await?;
        report.statements += 1;
        record_remaining(report, graph, &plan.count.seeded, &counts);
    }
    Ok(())
}

fn is_connection_error(e: &Error) -> bool {
    matches!(e.code(), ErrorCode::DbConnectionLost | ErrorCode::DbTimeout)
}

async fn counts_of(
    conn: &Conn,
    graph: &SchemaGraph,
    plan: &CountPlan,
    params: &Params,
) -> Result<Vec<u64>> {
    let Some(sql) = &plan.sql else {
        return Ok(Vec::new());
    };
    let rows = conn
        .query_guarded(sql, &params.typed(), graph.jit, true)
        .await??;
    let row = rows
        .first()
        .ok_or_else(|| Error::internal("count statement returned no row"))?;
    array_column(row, 0)
}

fn array_column(row: &tokio_postgres::Row, index: usize) -> Result<Vec<u64>> {
    let counts: Vec<i64> = row
        .try_get(index)
        .map_err(|e| Error::internal(format!("cleanup counts: {e}")))?;
    Ok(counts.into_iter().map(|n| n.max(0) as u64).collect())
}

fn table_counts(graph: &SchemaGraph, tables: &[TableId], counts: &[u64]) -> Vec<TableCount> {
    tables
        .iter()
        .zip(counts)
        .filter(|(_, n)| **n > 0)
        .map(|(t, n)| TableCount {
            table: graph.tables[*t].display_name(),
            rows: *n,
        })
        .collect()
}

fn record_deleted(
    report: &mut CleanupReport,
    graph: &SchemaGraph,
    tables: &[TableId],
    counts: &[u64],
) {
    for c in table_counts(graph, tables, counts) {
        report.total_deleted += c.rows;
        report.deleted.push(c);
    }
}

fn record_remaining(
    report: &mut CleanupReport,
    graph: &SchemaGraph,
    seeded: &[TableId],
    counts: &[u64],
) {
    report.remaining = table_counts(graph, seeded, counts);
    report.verified = Some(report.remaining.is_empty());
}
