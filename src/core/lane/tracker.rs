//! The resource tracker: every row a test created, as (table, primary key), checked against the
//! schema when tracked, exportable as JSON for debugging and for handing leaks to the sweeper.

use super::naming::{LaneScope, NameFormat};
use super::{LaneId, LanePattern, WorkerContext};
use crate::core::error::{excerpt, Error, ErrorCode, Result};
use crate::core::schema::resolve::split_qualified;
use crate::core::schema::{Column, SchemaGraph, Table, TableName};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use std::collections::HashSet;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use tokio::task::JoinHandle;

/// One tracked row: its table (schema and name as the catalog spells them, never parsed again)
/// and primary key values as text, in key order. An empty key stands for the test's rows of a
/// table without a primary key, found by the lane's name ([`TrackedRow::by_lane_name`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TrackedRow {
    /// The table; exported as text that reads back as the same table (`"Billing"."Invoice.Items"`).
    #[serde(serialize_with = "table_to_text", deserialize_with = "table_from_text")]
    pub table: TableName,
    /// Primary key values in key column order, as Postgres' text form.
    pub key: Vec<String>,
}

impl TrackedRow {
    /// The test's rows of a table without a primary key, found by the lane's name in their
    /// text columns (an empty key).
    pub fn by_lane_name(table: TableName) -> TrackedRow {
        TrackedRow {
            table,
            key: Vec::new(),
        }
    }

    /// Does this stand for the test's rows of a table without a primary key, by name?
    pub fn is_by_lane_name(&self) -> bool {
        self.key.is_empty()
    }
}

fn table_to_text<S: Serializer>(t: &TableName, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&t.qualified())
}

fn table_from_text<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<TableName, D::Error> {
    let text = String::deserialize(d)?;
    match split_qualified(&text) {
        Ok((Some(schema), name)) => Ok(TableName { schema, name }),
        _ => Err(serde::de::Error::custom(format!(
            "table {text:?} is not schema.table"
        ))),
    }
}

/// Which lane a tracker belongs to: its id and name format. The LIKE patterns of its test,
/// worker and run are exported for reading; pglane never deletes by them: every pattern it
/// uses is built again from the run id, the numbers and the format ([`LaneInfo::pattern`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LaneInfo {
    /// Run, worker and test.
    #[serde(flatten)]
    pub id: LaneId,
    /// The name format of the lane (an export without one used the default).
    #[serde(default)]
    pub name_format: String,
    /// LIKE pattern of the test's names (informative).
    pub test_pattern: String,
    /// LIKE pattern of the worker's names (informative).
    pub worker_pattern: String,
    /// LIKE pattern of the run's names (informative).
    pub run_pattern: String,
}

impl LaneInfo {
    /// The lane of a test's context.
    pub fn of(ctx: &WorkerContext) -> LaneInfo {
        LaneInfo {
            id: ctx.id().clone(),
            name_format: ctx.lane().format().text(),
            test_pattern: ctx.pattern(LaneScope::Test).to_string(),
            worker_pattern: ctx.pattern(LaneScope::Worker).to_string(),
            run_pattern: ctx.pattern(LaneScope::Run).to_string(),
        }
    }

    /// The name format of the lane.
    pub fn format(&self) -> Result<NameFormat> {
        if self.name_format.is_empty() {
            Ok(NameFormat::default())
        } else {
            NameFormat::parse(&self.name_format)
        }
    }

    /// The pattern of a scope, built from the lane's run id, numbers and format. A tracker
    /// imported without a lane, with an invalid run id, or with exported patterns that are not
    /// its lane's (`runPattern: "%"`) can never delete by pattern.
    pub fn pattern(&self, scope: LaneScope) -> Result<LanePattern> {
        if self.id.run_id.is_empty() {
            return Err(Error::invalid_config(
                "this tracker has no lane (it was imported without one)",
            ));
        }
        let format = self.format()?;
        let (worker, test) = (Some(self.id.worker_id), Some(self.id.test_index));
        let (pattern, exported) = match scope {
            LaneScope::Test => (
                LanePattern::of(&format, &self.id.run_id, worker, test)?,
                &self.test_pattern,
            ),
            LaneScope::Worker => (
                LanePattern::of(&format, &self.id.run_id, worker, None)?,
                &self.worker_pattern,
            ),
            LaneScope::Run => (
                LanePattern::of(&format, &self.id.run_id, None, None)?,
                &self.run_pattern,
            ),
        };
        if !exported.is_empty() && exported != pattern.as_str() {
            return Err(Error::invalid_config(format!(
                "this tracker's {} pattern {:?} is not its lane's ({}): it was edited or made by another version; pattern cleanup refuses it",
                scope.as_str(),
                exported.chars().take(80).collect::<String>(),
                pattern
            )));
        }
        Ok(pattern)
    }

    /// What a caller means by `"test"`, `"worker"`, `"run"` or a LIKE pattern: the pattern,
    /// which must be a lane of this tracker's run (a sweep of another run goes through the run
    /// registry, which checks the run is dead).
    pub fn resolve_pattern(&self, scope_or_pattern: &str) -> Result<LanePattern> {
        if let Ok(scope) = LaneScope::parse(scope_or_pattern) {
            return self.pattern(scope);
        }
        let run = self.pattern(LaneScope::Run)?;
        let pattern = LanePattern::parse(scope_or_pattern, &self.format()?)?;
        if pattern.run_id() != run.run_id() {
            return Err(Error::invalid_config(format!(
                "pattern {scope_or_pattern:?} is not within this run's lane {run}: pattern cleanup deletes this run's lanes only (sweep another run with RunRegistry.sweep)"
            )));
        }
        Ok(pattern)
    }
}

/// The exported form of a tracker (`version` 1).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrackerExport {
    /// Format version; 1.
    pub version: u32,
    /// The lane.
    pub lane: LaneInfo,
    /// Tracked rows in tracking order.
    pub rows: Vec<TrackedRow>,
}

/// Rows tracked by one test, in the order they were tracked, without duplicates.
#[derive(Debug, Default)]
pub struct ResourceTracker {
    lane: LaneInfo,
    rows: Mutex<(Vec<TrackedRow>, HashSet<TrackedRow>)>,
    /// Background writes about these rows (journal entries of rows tracked by hand), each
    /// resolving to whether it succeeded.
    background: Mutex<Vec<JoinHandle<bool>>>,
    background_failures: AtomicU32,
}

impl ResourceTracker {
    /// An empty tracker for a lane.
    pub fn new(lane: LaneInfo) -> ResourceTracker {
        ResourceTracker {
            lane,
            ..Default::default()
        }
    }

    /// The lane.
    pub fn lane(&self) -> &LaneInfo {
        &self.lane
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (Vec<TrackedRow>, HashSet<TrackedRow>)> {
        self.rows.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records a row that is already checked. Returns false when it was tracked before.
    pub fn add(&self, row: TrackedRow) -> bool {
        let mut guard = self.lock();
        let (list, set) = &mut *guard;
        if set.insert(row.clone()) {
            list.push(row);
            true
        } else {
            false
        }
    }

    /// Checks `key` against the primary key of `table` and records it. For a table without a
    /// primary key, `key` is the row itself, which must carry this test's name in a text
    /// column: the test's rows there are then tracked by name.
    pub fn track(&self, graph: &SchemaGraph, table: &str, key: &Value) -> Result<TrackedRow> {
        let t = &graph.tables[graph.resolve(table)?];
        let row = if t.pk.is_empty() && self.carries_lane_name(key) {
            TrackedRow::by_lane_name(t.table_name())
        } else {
            check_key(t, key)?
        };
        self.add(row.clone());
        Ok(row)
    }

    /// Does a text value of `row` (an object of columns) carry this test's lane name?
    pub fn carries_lane_name(&self, row: &Value) -> bool {
        let Ok(pattern) = self.lane.pattern(LaneScope::Test) else {
            return false;
        };
        row.as_object().is_some_and(|columns| {
            columns
                .values()
                .any(|v| v.as_str().is_some_and(|text| pattern.matches(text)))
        })
    }

    /// The tracked rows, in tracking order.
    pub fn list(&self) -> Vec<TrackedRow> {
        self.lock().0.clone()
    }

    /// How many rows are tracked.
    pub fn count(&self) -> usize {
        self.lock().0.len()
    }

    /// Forgets rows (after they were deleted).
    pub fn remove(&self, rows: &[TrackedRow]) {
        let mut guard = self.lock();
        let (list, set) = &mut *guard;
        if list.as_slice() == rows {
            // Everything listed went (the usual end of a cleanup): no hashing.
            list.clear();
            set.clear();
            return;
        }
        let gone: HashSet<&TrackedRow> = rows.iter().collect();
        list.retain(|r| !gone.contains(r));
        set.retain(|r| !gone.contains(r));
    }

    /// Keeps a background write about this tracker's rows, for [`ResourceTracker::settle`].
    pub fn defer(&self, write: JoinHandle<bool>) {
        self.background
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(write);
    }

    /// Waits for every deferred write; returns how many failed since the last call.
    pub async fn settle(&self) -> u32 {
        let writes: Vec<_> =
            std::mem::take(&mut *self.background.lock().unwrap_or_else(|p| p.into_inner()));
        for write in writes {
            if !write.await.unwrap_or(false) {
                self.background_failures.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.background_failures.swap(0, Ordering::Relaxed)
    }

    /// Forgets every row.
    pub fn clear(&self) {
        let mut guard = self.lock();
        guard.0.clear();
        guard.1.clear();
    }

    /// The tracker as JSON.
    pub fn export(&self) -> String {
        serde_json::to_string_pretty(&TrackerExport {
            version: 1,
            lane: self.lane.clone(),
            rows: self.list(),
        })
        .expect("tracker export serialises")
    }

    /// A tracker from [`ResourceTracker::export`]'s JSON.
    pub fn import(json: &str) -> Result<ResourceTracker> {
        let parsed: TrackerExport = serde_json::from_str(json)
            .map_err(|e| Error::invalid_config(format!("not a pglane tracker export: {e}")))?;
        if parsed.version != 1 {
            return Err(Error::invalid_config(format!(
                "tracker export version {} is not supported (expected 1)",
                parsed.version
            )));
        }
        let tracker = ResourceTracker::new(parsed.lane);
        for row in parsed.rows {
            tracker.add(row);
        }
        Ok(tracker)
    }
}

/// Converts `key` (a scalar, an array in key order, or an object keyed by column) to text values
/// that fit the primary key of `t`.
fn check_key(t: &Table, key: &Value) -> Result<TrackedRow> {
    if t.pk.is_empty() {
        return Err(Error::new(
            ErrorCode::BadKey,
            format!(
                "table {} has no primary key, so its rows are tracked by the lane's name: pass the \
                 row (an object of its columns) with a text column holding a name of this test",
                t.display_name()
            ),
        ));
    }
    let bad = |why: String| {
        Error::new(
            ErrorCode::BadKey,
            format!(
                "key {} does not fit the primary key of {} ({}): {why}",
                excerpt(&key.to_string(), 60),
                t.display_name(),
                t.pk.iter()
                    .map(|c| format!("{} {}", c.name, c.type_sql))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    };
    let parts: Vec<&Value> = match key {
        Value::Array(items) => items.iter().collect(),
        Value::Object(map) => {
            if map.len() != t.pk.len() {
                return Err(bad(format!("expected {} key columns", t.pk.len())));
            }
            let mut parts = Vec::with_capacity(t.pk.len());
            for c in &t.pk {
                parts.push(
                    map.get(&c.name)
                        .ok_or_else(|| bad(format!("column {} is missing", c.name)))?,
                );
            }
            parts
        }
        scalar => vec![scalar],
    };
    if parts.len() != t.pk.len() {
        return Err(bad(format!(
            "expected {} value(s), got {}",
            t.pk.len(),
            parts.len()
        )));
    }
    let mut out = Vec::with_capacity(parts.len());
    for (value, column) in parts.into_iter().zip(&t.pk) {
        out.push(key_text(value, column).map_err(&bad)?);
    }
    Ok(TrackedRow {
        table: t.table_name(),
        key: out,
    })
}

fn key_text(value: &Value, column: &Column) -> std::result::Result<String, String> {
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => return Err(format!("{} is null", column.name)),
        other => {
            return Err(format!(
                "{} is not a scalar: {}",
                column.name,
                excerpt(&other.to_string(), 60)
            ))
        }
    };
    let ty = column.type_sql.as_str();
    let ok = match ty {
        "uuid" => uuid::Uuid::parse_str(&text).is_ok(),
        "smallint" | "int2" => text.parse::<i16>().is_ok(),
        "integer" | "int4" => text.parse::<i32>().is_ok(),
        "bigint" | "int8" => text.parse::<i64>().is_ok(),
        _ => true,
    };
    if ok {
        Ok(text)
    } else {
        Err(format!(
            "{} {:?} is not a valid {ty}",
            column.name,
            excerpt(&text, 60)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::schema::tests::sample;
    use serde_json::json;

    #[test]
    fn removing_what_was_listed_forgets_it_and_keeps_rows_tracked_since() {
        let g = sample();
        let t = ResourceTracker::default();
        for n in 1..=3 {
            t.track(&g, "a", &json!(n)).unwrap();
        }
        let listed = t.list();
        t.remove(&listed);
        assert_eq!(t.count(), 0);
        // Forgotten for good: tracking again counts anew.
        assert!(t.track(&g, "a", &json!(1)).is_ok());
        assert_eq!(t.count(), 1);
        // A row tracked after the list was taken stays.
        let listed = t.list();
        t.track(&g, "a", &json!(9)).unwrap();
        t.remove(&listed);
        assert_eq!(t.list().len(), 1);
        assert_eq!(t.list()[0].key, vec!["9".to_string()]);
    }

    #[test]
    fn tracks_checked_keys_once_and_round_trips_through_json() {
        let g = sample();
        let t = ResourceTracker::new(LaneInfo {
            id: LaneId {
                run_id: "r".into(),
                ..Default::default()
            },
            ..Default::default()
        });
        let id = "0195f1c2-7b3a-7cde-8f00-0123456789ab";
        t.track(&g, "orgs", &json!(id)).unwrap();
        t.track(&g, "public.orgs", &json!([id])).unwrap();
        t.track(&g, "a", &json!(7)).unwrap();
        assert_eq!(t.count(), 2);
        let back = ResourceTracker::import(&t.export()).unwrap();
        assert_eq!(back.list(), t.list());
        assert_eq!(back.lane().id.run_id, "r");
    }

    #[test]
    fn keys_that_do_not_fit_are_rejected_with_bad_key() {
        let g = sample();
        let t = ResourceTracker::default();
        for (table, key) in [
            ("orgs", json!("not-a-uuid")),
            ("a", json!("seven")),
            ("a", json!(3_000_000_000i64)),
            ("orgs", json!(null)),
            (
                "orgs",
                json!(["0195f1c2-7b3a-7cde-8f00-0123456789ab", "extra"]),
            ),
            ("orgs", json!({"nope": 1})),
        ] {
            let err = t.track(&g, table, &key).unwrap_err();
            assert_eq!(err.code(), ErrorCode::BadKey, "{table} {key}");
        }
        assert_eq!(
            t.track(&g, "nope", &json!(1)).unwrap_err().code(),
            ErrorCode::UnknownTable
        );
        assert_eq!(t.count(), 0);
    }

    #[test]
    fn import_rejects_garbage() {
        assert_eq!(
            ResourceTracker::import("{").unwrap_err().code(),
            ErrorCode::InvalidConfig
        );
        assert_eq!(
            ResourceTracker::import(r#"{"version":9,"lane":{"runId":"r","workerId":0,"testIndex":0,"testPattern":"","workerPattern":"","runPattern":""},"rows":[]}"#)
                .unwrap_err()
                .code(),
            ErrorCode::InvalidConfig
        );
    }
}
