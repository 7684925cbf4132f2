//! `ResourceTracker`: the rows a test created.

use super::db::{db_or_default, Db};
use super::error::{OrThrow, Outcome};
use super::worker_context::{TestInfoLike, WorkerContext};
use crate::core::db as core_db;
use crate::core::lane::naming::LaneScope;
use crate::core::lane::tracker::{self as core_tracker, LaneInfo};
use crate::core::preset::tables;
use crate::core::runs::journal;
use napi::Env;
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
            table: r.table.to_string(),
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
}

#[napi]
impl ResourceTracker {
    /// The tracker of a test. `db` defaults to the process's default database.
    #[napi(factory)]
    pub fn for_test(
        env: Env,
        _test_info: Option<TestInfoLike>,
        ctx: &WorkerContext,
        db: Option<&Db>,
    ) -> napi::Result<ResourceTracker> {
        Ok(ResourceTracker {
            inner: Arc::new(core_tracker::ResourceTracker::new(LaneInfo::of(&ctx.inner))),
            db: db_or_default(&env, db)?,
        })
    }

    /// A tracker from `export()`'s JSON (e.g. handed over by a crashed worker).
    #[napi(factory, js_name = "import")]
    pub fn import_json(env: Env, json: String, db: Option<&Db>) -> napi::Result<ResourceTracker> {
        Ok(ResourceTracker {
            inner: Arc::new(core_tracker::ResourceTracker::import(&json).or_throw(&env)?),
            db: db_or_default(&env, db)?,
        })
    }

    /// Tracks a row of any table: `key` is the primary key value, an array of values in key
    /// order, or an object keyed by column. Returns the row as tracked.
    /// When the run registry exists (pglane's global setup ran), the key is also journaled in
    /// the background, so a worker killed later still leaves a trail; `flush()` waits for it.
    #[napi]
    pub fn track(&self, env: Env, table: String, key: Value) -> napi::Result<TrackedRow> {
        journal::track_by_hand(&self.db, &self.inner, &table, &key)
            .map(Into::into)
            .or_throw(&env)
    }

    /// Waits until every row tracked by hand is journaled. Resolves with how many could not be
    /// journaled (the rows stay tracked either way).
    #[napi(ts_return_type = "Promise<number>")]
    pub async fn flush(&self) -> Outcome<u32> {
        Outcome(Ok(self.inner.settle().await))
    }

    /// Tracks a row of `auth.users`.
    #[napi]
    pub fn track_auth_user(&self, env: Env, id: Value) -> napi::Result<TrackedRow> {
        self.track(env, tables::AUTH_USER.into(), id)
    }
    /// Tracks a row of `public.profiles`.
    #[napi]
    pub fn track_profile(&self, env: Env, id: Value) -> napi::Result<TrackedRow> {
        self.track(env, tables::PROFILE.into(), id)
    }
    /// Tracks a row of `public.organizations`.
    #[napi]
    pub fn track_organization(&self, env: Env, id: Value) -> napi::Result<TrackedRow> {
        self.track(env, tables::ORGANIZATION.into(), id)
    }
    /// Tracks a row of `public.organization_members`.
    #[napi]
    pub fn track_org_member(&self, env: Env, id: Value) -> napi::Result<TrackedRow> {
        self.track(env, tables::ORG_MEMBER.into(), id)
    }
    /// Tracks a row of `public.groups`.
    #[napi]
    pub fn track_group(&self, env: Env, id: Value) -> napi::Result<TrackedRow> {
        self.track(env, tables::GROUP.into(), id)
    }
    /// Tracks a row of `public.group_members`.
    #[napi]
    pub fn track_group_member(&self, env: Env, id: Value) -> napi::Result<TrackedRow> {
        self.track(env, tables::GROUP_MEMBER.into(), id)
    }
    /// Tracks a row of `public.models`.
    #[napi]
    pub fn track_model(&self, env: Env, id: Value) -> napi::Result<TrackedRow> {
        self.track(env, tables::MODEL.into(), id)
    }
    /// Tracks a row of `public.group_models`.
    #[napi]
    pub fn track_group_model(&self, env: Env, id: Value) -> napi::Result<TrackedRow> {
        self.track(env, tables::GROUP_MODEL.into(), id)
    }
    /// Tracks a row of `public.invites`.
    #[napi]
    pub fn track_invite(&self, env: Env, id: Value) -> napi::Result<TrackedRow> {
        self.track(env, tables::INVITE.into(), id)
    }
    /// Tracks a row of `public.conversations`.
    #[napi]
    pub fn track_conversation(&self, env: Env, id: Value) -> napi::Result<TrackedRow> {
        self.track(env, tables::CONVERSATION.into(), id)
    }
    /// Tracks a row of `public.messages`.
    #[napi]
    pub fn track_message(&self, env: Env, id: Value) -> napi::Result<TrackedRow> {
        self.track(env, tables::MESSAGE.into(), id)
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
        self.inner.lane().id.run_id.clone()
    }

    /// LIKE pattern of the lane's test, worker or run names (`"test"` by default).
    #[napi]
    pub fn lane_pattern(&self, env: Env, scope: Option<String>) -> napi::Result<String> {
        let scope = LaneScope::parse(scope.as_deref().unwrap_or("test")).or_throw(&env)?;
        let pattern = self.inner.lane().pattern(scope).or_throw(&env)?;
        Ok(pattern.to_string())
    }
}
