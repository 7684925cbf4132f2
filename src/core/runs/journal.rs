//! The journal (`pglane.journal`): keys of rows a run's tests created, so that a worker killed
//! mid-test still leaves a trail, even for rows that carry no lane name. Factories write it in
//! the same statement as their inserts ([`factory_entries_sql`]); a row tracked by hand is
//! journaled in the background ([`track_by_hand`]). This module owns the table, its SQL and the
//! check whether it exists.

use crate::core::db::catalog::Freshness;
use crate::core::db::{Conn, Db};
use crate::core::error::Result;
use crate::core::lane::tracker::{ResourceTracker, TrackedRow};
use crate::core::lane::LaneId;
use crate::core::runtime;
use crate::core::schema::{SchemaGraph, TableId, TableName};
use serde_json::Value;
use std::collections::BTreeMap;
use tokio_postgres::types::Type;

/// The journal's table and index (part of the `pglane` schema's set-up).
pub(crate) const DDL: &str = r#"
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
"#;

/// Deletes a run's entries (`$1`: the run id).
pub(crate) const FORGET_RUN_SQL: &str = "delete from pglane.journal where run_id = $1";

/// Did global setup find the `pglane` schema unusable for this run's role? It then exports
/// `PGLANE_WITHOUT_SCHEMA=1` to the workers: nothing is journaled, and the registry is left
/// alone, even where the tables exist (an admin made them, but granted nothing on them).
pub fn disabled() -> bool {
    std::env::var("PGLANE_WITHOUT_SCHEMA").is_ok_and(|v| v == "1")
}

/// Does the database have a journal this run may write (pglane's global setup ran)?
pub fn exists(graph: &SchemaGraph) -> bool {
    !disabled() && graph.find(&TableName::new("pglane", "journal")).is_some()
}

/// Journals one row (one round trip).
pub async fn record(db: &Db, lane: &LaneId, row: &TrackedRow) -> Result<()> {
    let (worker, test) = (lane.worker_id as i32, lane.test_index as i32);
    let table = row.table.qualified();
    db.conn()
        .await?
        .query(
            "insert into pglane.journal (run_id, worker_id, test_index, table_name, key) values ($1, $2, $3, $4, $5)",
            &[
                (&lane.run_id, Type::TEXT),
                (&worker, Type::INT4),
                (&test, Type::INT4),
                (&table, Type::TEXT),
                (&row.key, Type::TEXT_ARRAY),
            ],
        )
        .await?;
    Ok(())
}

/// Tracks a row of any table by hand, from a synchronous call: the schema graph is read if it
/// does not know the table yet, the key is checked and tracked, and, when the journal exists,
/// the key is journaled in the background ([`ResourceTracker::settle`] waits for it).
pub fn track_by_hand(
    db: &Db,
    tracker: &ResourceTracker,
    table: &str,
    key: &Value,
) -> Result<TrackedRow> {
    let knows = |g: &SchemaGraph| g.resolve(table).is_ok();
    let graph = db.graph_for_blocking(Freshness::Knowing(&knows))?;
    let row = tracker.track(&graph, table, key)?;
    let lane = tracker.lane().id.clone();
    // A row tracked by name has no key to journal; the run's sweep finds it by name.
    if exists(&graph) && !lane.run_id.is_empty() && !row.is_by_lane_name() {
        let (db, journaled) = (db.clone(), row.clone());
        tracker.defer(runtime::spawn(async move {
            record(&db, &lane, &journaled).await.is_ok()
        }));
    }
    Ok(row)
}

/// One row a factory statement inserts, to be journaled by that statement: the table, and the
/// SQL expression of its key as `text[]`.
pub struct FactoryEntry {
    /// The table.
    pub table: TableName,
    /// e.g. `(select array[r."id"::text] from c0 r)`.
    pub key_sql: String,
}

/// The CTE that journals a factory statement's rows (`journal as (insert ...)`); `param` takes
/// each value (text) and returns the SQL expression that reads it. `None` when there is nothing
/// to journal.
pub fn factory_entries_sql(
    lane: &LaneId,
    entries: &[FactoryEntry],
    param: &mut dyn FnMut(String) -> String,
) -> Option<String> {
    if entries.is_empty() {
        return None;
    }
    let values: Vec<String> = entries
        .iter()
        .map(|e| format!("({}::text, {})", param(e.table.qualified()), e.key_sql))
        .collect();
    let run = param(lane.run_id.clone());
    let worker = param(lane.worker_id.to_string());
    let test = param(lane.test_index.to_string());
    Some(format!(
        "journal as (insert into pglane.journal (run_id, worker_id, test_index, table_name, key) \
         select {run}::text, {worker}::int4, {test}::int4, v.t, v.k from (values {}) v(t, k) where v.k is not null)",
        values.join(", ")
    ))
}

/// The journaled keys of a run, per table (tables that no longer exist are skipped).
pub async fn keys_of_run(
    conn: &Conn,
    graph: &SchemaGraph,
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
