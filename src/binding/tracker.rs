//! `ResourceTracker`: the rows a test created.

use super::db::Db;
use super::error::{to_js, JsError};
use super::worker_context::{TestInfoLike, WorkerContext};
use crate::core::db as core_db;
use crate::core::naming::LaneScope;
use crate::core::schema_graph::SchemaGraph;
use crate::core::tracker::{self as core_tracker, LaneInfo};
use crate::core::{Error, ErrorCode};
use napi_derive::napi;
use serde_json::Value;
use std::sync::Arc;

/// A tracked row.
#[napi(object)]
pub struct TrackedRow {
    /// `schema.table`.
    pub table: String,
    /// Primary key values as text, in key column order.
    pub key: Vec<String>,
}

impl From<core_tracker::TrackedRow> for TrackedRow {
    fn from(r: core_tracker::TrackedRow) -> Self {
        TrackedRow {
            table: r.table,
            key: r.key,
        }
    }
}

/// Records every row a test created (table and primary key), checked against the schema at
/// once: an unknown table throws `PGLANE_UNKNOWN_TABLE`, a key that does not fit the primary
/// key throws `PGLANE_BAD_KEY`.
#[napi]
pub struct ResourceTracker {
    pub(crate) inner: Arc<core_tracker::ResourceTracker>,
    pub(crate) db: core_db::Db,
    /// Journal writes of rows tracked by hand, still in flight.
    pending: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    journal_failures: Arc<std::sync::atomic::AtomicU32>,
}

fn db_or_default(db: Option<&Db>) -> Result<core_db::Db, JsError> {
    match db {
        Some(d) => Ok(d.inner.clone()),
        None => core_db::default_db().map_err(to_js),
    }
}

/// The schema graph, read synchronously the first time (one query per process), and again
/// when a table is not found (it may have been created since).
fn graph_for(db: &core_db::Db, table: &str) -> Result<Arc<SchemaGraph>, JsError> {
    if let Some(g) = db.cached_schema() {
        if g.resolve(table).is_ok() {
            return Ok(g);
        }
    }
    let fresh = napi::bindgen_prelude::block_on(db.refresh_schema());
    fresh.map_err(to_js)
}

#[napi]
impl ResourceTracker {
    /// The tracker of a test. `db` defaults to the process's default database.
    #[napi(factory)]
    pub fn for_test(
        _test_info: Option<TestInfoLike>,
        ctx: &WorkerContext,
        db: Option<&Db>,
    ) -> Result<ResourceTracker, JsError> {
        let c = &ctx.inner;
        Ok(ResourceTracker {
            inner: Arc::new(core_tracker::ResourceTracker::new(LaneInfo {
                run_id: c.run_id().to_string(),
                worker_id: c.worker_id(),
                test_index: c.test_index(),
                test_pattern: c.like_pattern(LaneScope::Test),
                worker_pattern: c.like_pattern(LaneScope::Worker),
                run_pattern: c.like_pattern(LaneScope::Run),
            })),
            db: db_or_default(db)?,
            pending: Default::default(),
            journal_failures: Default::default(),
        })
    }

    /// A tracker from `export()`'s JSON (e.g. handed over by a crashed worker).
    #[napi(factory, js_name = "import")]
    pub fn import_json(json: String, db: Option<&Db>) -> Result<ResourceTracker, JsError> {
        Ok(ResourceTracker {
            inner: Arc::new(core_tracker::ResourceTracker::import(&json).map_err(to_js)?),
            db: db_or_default(db)?,
            pending: Default::default(),
            journal_failures: Default::default(),
        })
    }

    /// Tracks a row of any table: `key` is the primary key value, an array of values in key
    /// order, or an object keyed by column. Returns the row as tracked.
    /// When the run registry exists (pglane's global setup ran), the key is also journaled in
    /// the background, so a worker killed later still leaves a trail; `flush()` waits for it.
    #[napi]
    pub fn track(&self, table: String, key: Value) -> Result<TrackedRow, JsError> {
        let graph = graph_for(&self.db, &table)?;
        let row = self.inner.track(&graph, &table, &key).map_err(to_js)?;
        if graph.resolve("pglane.journal").is_ok() {
            let (db, lane, journaled) = (self.db.clone(), self.inner.lane().clone(), row.clone());
            let failures = self.journal_failures.clone();
            let handle = napi::bindgen_prelude::spawn(async move {
                if crate::core::run_registry::journal_row(&db, &lane, &journaled)
                    .await
                    .is_err()
                {
                    failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            });
            self.pending
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(handle);
        }
        Ok(row.into())
    }

    /// Waits until every row tracked by hand is journaled. Resolves with how many could not be
    /// journaled (the rows stay tracked either way).
    #[napi(ts_return_type = "Promise<number>")]
    pub async fn flush(&self) -> crate::binding::error::Outcome<u32> {
        let handles: Vec<_> =
            std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
        for h in handles {
            let _ = h.await;
        }
        let failed = self
            .journal_failures
            .swap(0, std::sync::atomic::Ordering::Relaxed);
        crate::binding::error::Outcome(Ok(failed))
    }

    /// Tracks a row of `auth.users`.
    #[napi]
    pub fn track_auth_user(&self, id: Value) -> Result<TrackedRow, JsError> {
        self.track("auth.users".into(), id)
    }
    /// Tracks a row of `public.profiles`.
    #[napi]
    pub fn track_profile(&self, id: Value) -> Result<TrackedRow, JsError> {
        self.track("public.profiles".into(), id)
    }
    /// Tracks a row of `public.organizations`.
    #[napi]
    pub fn track_organization(&self, id: Value) -> Result<TrackedRow, JsError> {
        self.track("public.organizations".into(), id)
    }
    /// Tracks a row of `public.organization_members`.
    #[napi]
    pub fn track_org_member(&self, id: Value) -> Result<TrackedRow, JsError> {
        self.track("public.organization_members".into(), id)
    }
    /// Tracks a row of `public.groups`.
    #[napi]
    pub fn track_group(&self, id: Value) -> Result<TrackedRow, JsError> {
        self.track("public.groups".into(), id)
    }
    /// Tracks a row of `public.group_members`.
    #[napi]
    pub fn track_group_member(&self, id: Value) -> Result<TrackedRow, JsError> {
        self.track("public.group_members".into(), id)
    }
    /// Tracks a row of `public.models`.
    #[napi]
    pub fn track_model(&self, id: Value) -> Result<TrackedRow, JsError> {
        self.track("public.models".into(), id)
    }
    /// Tracks a row of `public.group_models`.
    #[napi]
    pub fn track_group_model(&self, id: Value) -> Result<TrackedRow, JsError> {
        self.track("public.group_models".into(), id)
    }
    /// Tracks a row of `public.invites`.
    #[napi]
    pub fn track_invite(&self, id: Value) -> Result<TrackedRow, JsError> {
        self.track("public.invites".into(), id)
    }
    /// Tracks a row of `public.conversations`.
    #[napi]
    pub fn track_conversation(&self, id: Value) -> Result<TrackedRow, JsError> {
        self.track("public.conversations".into(), id)
    }
    /// Tracks a row of `public.messages`.
    #[napi]
    pub fn track_message(&self, id: Value) -> Result<TrackedRow, JsError> {
        self.track("public.messages".into(), id)
    }

    /// The tracked rows, in tracking order.
    #[napi]
    pub fn list(&self) -> Vec<TrackedRow> {
        self.inner.list().into_iter().map(Into::into).collect()
    }

    /// How many rows are tracked.
    #[napi]
    pub fn count(&self) -> u32 {
        self.inner.count() as u32
    }

    /// Forgets every row (nothing is deleted).
    #[napi]
    pub fn clear(&self) {
        self.inner.clear();
    }

    /// The tracker as JSON: `{ version: 1, lane, rows }`.
    #[napi]
    pub fn export(&self) -> String {
        self.inner.export()
    }

    /// The run id of the lane.
    #[napi(getter)]
    pub fn run_id(&self) -> String {
        self.inner.lane().run_id.clone()
    }

    /// LIKE pattern of the lane's test, worker or run names (`"test"` by default).
    #[napi]
    pub fn lane_pattern(&self, scope: Option<String>) -> Result<String, JsError> {
        lane_pattern(self.inner.lane(), scope.as_deref().unwrap_or("test")).map_err(to_js)
    }
}

pub(crate) fn lane_pattern(lane: &LaneInfo, scope: &str) -> crate::core::Result<String> {
    let pattern = match LaneScope::parse(scope)? {
        LaneScope::Test => &lane.test_pattern,
        LaneScope::Worker => &lane.worker_pattern,
        LaneScope::Run => &lane.run_pattern,
    };
    if pattern.is_empty() {
        return Err(Error::new(
            ErrorCode::InvalidConfig,
            "this tracker has no lane (it was imported without one)",
        ));
    }
    Ok(pattern.clone())
}
