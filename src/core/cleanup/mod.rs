//! Cleanup: delete a test's tracked rows, or a lane's rows by name, with every row that
//! references them, in foreign-key order, verified, in as few round trips as possible.
//!
//! - [`seeds`]: where a cleanup starts (tracked keys, a lane's names).
//! - [`closure`]: which tables' rows go, in which order, and what `ON DELETE CASCADE` takes.
//! - [`sql`]: every statement cleanup sends.
//! - [`plan`]: the delete, select (fallback) and count plans.
//! - [`execute`]: running them, and the fallback.

pub mod closure;
pub mod execute;
pub mod plan;
pub mod seeds;
pub mod sql;

use crate::core::db::catalog::Freshness;
use crate::core::db::marker;
use crate::core::db::Db;
use crate::core::error::{ErrorCode, Result};
use crate::core::lane::naming::LaneScope;
use crate::core::lane::tracker::{ResourceTracker, TrackedRow};
use crate::core::lane::LanePattern;
use crate::core::schema::{SchemaGraph, TableId};
use closure::Dependents;
use plan::PlanOptions;
use seeds::{LaneColumns, Seeds};
use sql::Scale;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How to clean up.
#[derive(Debug, Clone, Copy)]
pub struct CleanupOptions {
    /// Prove afterwards that the seeded rows are gone (no extra round trip on success).
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

impl CleanupOptions {
    /// The plan of a test's cleanup: its few tracked rows.
    fn for_test(self) -> PlanOptions {
        PlanOptions {
            dependents: match (self.include_dependents, self.count_dependents) {
                (false, _) => Dependents::Skip,
                (true, false) => Dependents::LeaveCascades,
                (true, true) => Dependents::DeleteAll,
            },
            scale: Scale::Test,
            verify: self.verify,
        }
    }

    /// The plan of a lane's cleanup by name, possibly thousands of rows: every dependent is
    /// deleted by set in the statement, which beats Postgres' foreign-key triggers deleting
    /// them parent by parent.
    pub(crate) fn for_lane(self) -> PlanOptions {
        PlanOptions {
            dependents: if self.include_dependents {
                Dependents::DeleteAll
            } else {
                Dependents::Skip
            },
            scale: Scale::Lane,
            verify: self.verify,
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

impl CleanupReport {
    /// Adds a later pass's report; the later pass's failures and verification stand.
    fn merge(&mut self, pass: CleanupReport) {
        for c in pass.deleted {
            match self.deleted.iter_mut().find(|d| d.table == c.table) {
                Some(d) => d.rows += c.rows,
                None => self.deleted.push(c),
            }
        }
        self.total_deleted += pass.total_deleted;
        for t in pass.cascaded {
            if !self.cascaded.contains(&t) {
                self.cascaded.push(t);
            }
        }
        self.failures = pass.failures;
        self.verified = pass.verified;
        self.remaining = pass.remaining;
        self.round_trips += pass.round_trips;
        self.statements += pass.statements;
        self.fallback |= pass.fallback;
    }

    /// Counts catalog reads made for this cleanup.
    fn add_catalog_reads(&mut self, reads: u64) {
        self.round_trips += reads;
        self.statements += reads;
    }
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
    let knows_all = |g: &SchemaGraph| seeds::table_ids(g, &rows).iter().all(Option::is_some);
    let (graph, reads) = db.graph_for(Freshness::Knowing(&knows_all)).await?;
    // The test's own names: rows it made that outlive their parents by SET NULL go by them,
    // and so do its rows of tables without a primary key.
    let lane = tracker.lane().pattern(LaneScope::Test).ok();
    let (seeds, tables) = Seeds::from_tracked(&graph, &rows, lane.as_ref());
    let mut report = if seeds.is_empty() {
        CleanupReport::default()
    } else {
        execute::plan_and_run(db, &graph, &seeds, options.for_test(), lane.as_ref()).await?
    };
    report.add_catalog_reads(reads);
    report_missing_tables(&mut report, &rows, &tables);

    // Forget rows whose table has none of its tracked rows left.
    let remaining: HashMap<&str, u64> = report
        .remaining
        .iter()
        .map(|c| (c.table.as_str(), c.rows))
        .collect();
    let failed: Vec<&String> = report.failures.iter().flat_map(|f| &f.tables).collect();
    let mut table_gone: HashMap<TableId, bool> = HashMap::new();
    let gone: Vec<TrackedRow> = rows
        .into_iter()
        .zip(tables)
        .filter(|(_, t)| {
            t.is_some_and(|t| {
                *table_gone.entry(t).or_insert_with(|| {
                    let name = graph.tables[t].display_name();
                    remaining.get(name.as_str()).copied().unwrap_or(0) == 0
                        && !failed.contains(&&name)
                })
            })
        })
        .map(|(r, _)| r)
        .collect();
    tracker.remove(&gone);
    report.duration = started.elapsed();
    Ok(report)
}

/// Rows of tables the database no longer has (dropped after they were tracked) cannot be
/// deleted or checked: each table is a failure of its own, and the rest of the cleanup stands.
fn report_missing_tables(
    report: &mut CleanupReport,
    rows: &[TrackedRow],
    tables: &[Option<TableId>],
) {
    let mut missing: Vec<(String, Vec<Vec<String>>)> = Vec::new();
    for (row, _) in rows.iter().zip(tables).filter(|(_, t)| t.is_none()) {
        let name = row.table.to_string();
        match missing.iter_mut().find(|(t, _)| *t == name) {
            Some((_, keys)) => keys.push(row.key.clone()),
            None => missing.push((name, vec![row.key.clone()])),
        }
    }
    for (table, mut keys) in missing {
        keys.truncate(20);
        report.failures.push(CleanupFailure {
            message: format!(
                "table {table} does not exist any more (dropped after its rows were tracked): its tracked rows cannot be deleted"
            ),
            tables: vec![table],
            keys,
            code: ErrorCode::UnknownTable,
            sqlstate: None,
        });
        report.verified = report.verified.map(|_| false);
    }
}

/// The lane columns a caller gave (`{ 'schema.table': ['name'] }`), in a stable order; `None`
/// means every text column of every table.
pub fn given_lane_columns(
    given: Option<HashMap<String, Vec<String>>>,
) -> Option<Vec<(String, Vec<String>)>> {
    given.map(|map| {
        let mut cols: Vec<(String, Vec<String>)> = map.into_iter().collect();
        cols.sort();
        cols
    })
}

/// One table of a dry run: how many of its rows a cleanup would delete, and how it reaches
/// them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewTable {
    /// `schema.table`.
    pub table: String,
    /// Rows that would go.
    pub rows: u64,
    /// What seeds the table itself: `lane names` (its text columns), `tracked or journaled
    /// keys`; empty when only foreign keys lead there.
    pub seeds: Vec<String>,
    /// The shortest foreign-key path to it from another seeded table: that table, then each
    /// hop as `child.column → parent`; empty when none leads there.
    pub path: Vec<String>,
}

/// Deletes every row whose lane columns match `pattern` (every text column of every table
/// unless `lane_columns` names them), plus, by default, every row
/// referencing them. Refuses a database not marked as a test database unless
/// `allow_unmarked` (or `PGLANE_ALLOW_SWEEP=1`).
///
/// It plans with the schema graph the process read already; when a table is unknown to it, or
/// a group fails (a table created since could hold references), it reads the catalog again and
/// goes once more over what is left.
pub async fn cleanup_pattern(
    db: &Db,
    pattern: &LanePattern,
    lane_columns: Option<&LaneColumns>,
    options: CleanupOptions,
    allow_unmarked: bool,
) -> Result<CleanupReport> {
    let started = Instant::now();
    marker::require_test_database(
        db,
        allow_unmarked,
        &format!("delete lane {pattern} by name"),
    )
    .await?;
    let knows_all = |g: &SchemaGraph| {
        lane_columns.is_none_or(|cols| cols.iter().all(|(t, _)| g.resolve(t).is_ok()))
    };
    let (mut graph, mut reads) = db.graph_for(Freshness::Knowing(&knows_all)).await?;
    let mut fresh = reads > 0;
    let mut report = CleanupReport::default();
    loop {
        let seeds = Seeds::from_lane(&graph, pattern, lane_columns)?;
        let pass =
            execute::plan_and_run(db, &graph, &seeds, options.for_lane(), Some(pattern)).await?;
        let retry = !pass.failures.is_empty() && !fresh;
        report.merge(pass);
        if !retry {
            break;
        }
        let (g, r) = db.graph_for(Freshness::Fresh).await?;
        (graph, fresh) = (g, true);
        reads += r;
    }
    report.add_catalog_reads(reads);
    report.duration = started.elapsed();
    Ok(report)
}

/// What [`cleanup_pattern`] would delete, per table with the foreign-key path, deleting
/// nothing.
pub async fn preview_pattern(
    db: &Db,
    pattern: &LanePattern,
    lane_columns: Option<&LaneColumns>,
) -> Result<Vec<PreviewTable>> {
    let (graph, _) = db.graph_for(Freshness::Fresh).await?;
    let seeds = Seeds::from_lane(&graph, pattern, lane_columns)?;
    execute::preview(db, &graph, &seeds, Some(pattern)).await
}

/// Rows left behind in a lane: per table, how many rows' lane columns match `pattern`.
/// One statement; tables with no match are left out.
pub async fn find_leaks(
    db: &Db,
    pattern: &LanePattern,
    lane_columns: Option<&LaneColumns>,
) -> Result<Vec<TableCount>> {
    let (graph, _) = db.graph_for(Freshness::Cached).await?;
    let seeds = Seeds::from_lane(&graph, pattern, lane_columns)?;
    execute::count_left(db, &graph, &seeds).await
}
