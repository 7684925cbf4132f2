//! `ResourceTracker`: the rows a test created.

use super::args::{Arg, JsInput};
use super::db::{db_or_default, Db};
use super::error::{guard, Outcome};
use super::worker_context::{TestInfoLike, WorkerContext};
use crate::core::db as core_db;
use crate::core::lane::naming::LaneScope;
use crate::core::lane::tracker::{self as core_tracker, LaneInfo};
use crate::core::preset::tables;
use crate::core::runs::journal;
use napi::Env;
use napi_derive::napi;
use std::sync::Arc;

/// A tracked row.
#[napi(object)]
pub struct TrackedRow {
    /// `schema.table`.
    pub table: String,
    /// Primary key values as text, in key column order. Empty for a table without a primary
    /// key: the entry stands for the test's rows of that table, which cleanup finds by the
    /// lane's name in their text columns.
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
    #[napi(factory, catch_unwind)]
    pub fn for_test(
        env: Env,
        #[napi(ts_arg_type = "TestInfoLike | undefined | null")] _test_info: Option<
            Arg<TestInfoLike>,
        >,
        #[napi(ts_arg_type = "WorkerContext")] ctx: Arg<&WorkerContext>,
        #[napi(ts_arg_type = "Db | undefined | null")] db: Option<Arg<&Db>>,
    ) -> napi::Result<ResourceTracker> {
        Ok(ResourceTracker {
            inner: Arc::new(core_tracker::ResourceTracker::new(LaneInfo::of(&ctx.inner))),
            db: db_or_default(&env, db.map(|d| d.0))?,
        })
    }

    /// A tracker from `export()`'s JSON (e.g. handed over by a crashed worker). Its patterns
    /// are never trusted: pattern cleanup builds them again from its run id and name format.
    #[napi(factory, js_name = "import", catch_unwind)]
    pub fn import_json(
        env: Env,
        #[napi(ts_arg_type = "string")] json: Arg<String>,
        #[napi(ts_arg_type = "Db | undefined | null")] db: Option<Arg<&Db>>,
    ) -> napi::Result<ResourceTracker> {
        Ok(ResourceTracker {
            inner: Arc::new(guard(&env, || {
                core_tracker::ResourceTracker::import(&json)
            })?),
            db: db_or_default(&env, db.map(|d| d.0))?,
        })
    }

    /// Tracks a row of any table: `key` is the primary key value, an array of values in key
    /// order, or an object keyed by column. Returns the row as tracked.
    /// When the run registry exists (pglane's global setup ran), the key is also journaled in
    /// the background, so a worker killed later still leaves a trail; `flush()` waits for it.
    #[napi(catch_unwind)]
    pub fn track(
        &self,
        env: Env,
        #[napi(ts_arg_type = "string")] table: Arg<String>,
        #[napi(ts_arg_type = "any")] key: JsInput,
    ) -> napi::Result<TrackedRow> {
        self.track_key(&env, &table, key)
    }

    fn track_key(&self, env: &Env, table: &str, key: JsInput) -> napi::Result<TrackedRow> {
        guard(env, || {
            let key = key.get().to_json("key")?;
            journal::track_by_hand(&self.db, &self.inner, table, &key).map(Into::into)
        })
    }

    /// Waits until every row tracked by hand is journaled. Resolves with how many could not be
    /// journaled (the rows stay tracked either way).
    #[napi(ts_return_type = "Promise<number>", catch_unwind)]
    pub async fn flush(&self) -> Outcome<u32> {
        Outcome(Ok(self.inner.settle().await))
    }

    /// Tracks a row of `auth.users`.
    #[napi(catch_unwind)]
    pub fn track_auth_user(
        &self,
        env: Env,
        #[napi(ts_arg_type = "any")] id: JsInput,
    ) -> napi::Result<TrackedRow> {
        self.track_key(&env, tables::AUTH_USER, id)
    }
    /// Tracks a row of `public.profiles`.
    #[napi(catch_unwind)]
    pub fn track_profile(
        &self,
        env: Env,
        #[napi(ts_arg_type = "any")] id: JsInput,
    ) -> napi::Result<TrackedRow> {
        self.track_key(&env, tables::PROFILE, id)
    }
    /// Tracks a row of `public.organizations`.
    #[napi(catch_unwind)]
    pub fn track_organization(
        &self,
        env: Env,
        #[napi(ts_arg_type = "any")] id: JsInput,
    ) -> napi::Result<TrackedRow> {
        self.track_key(&env, tables::ORGANIZATION, id)
    }
    /// Tracks a row of `public.organization_members`.
    #[napi(catch_unwind)]
    pub fn track_org_member(
        &self,
        env: Env,
        #[napi(ts_arg_type = "any")] id: JsInput,
    ) -> napi::Result<TrackedRow> {
        self.track_key(&env, tables::ORG_MEMBER, id)
    }
    /// Tracks a row of `public.groups`.
    #[napi(catch_unwind)]
    pub fn track_group(
        &self,
        env: Env,
        #[napi(ts_arg_type = "any")] id: JsInput,
    ) -> napi::Result<TrackedRow> {
        self.track_key(&env, tables::GROUP, id)
    }
    /// Tracks a row of `public.group_members`.
    #[napi(catch_unwind)]
    pub fn track_group_member(
        &self,
        env: Env,
        #[napi(ts_arg_type = "any")] id: JsInput,
    ) -> napi::Result<TrackedRow> {
        self.track_key(&env, tables::GROUP_MEMBER, id)
    }
    /// Tracks a row of `public.models`.
    #[napi(catch_unwind)]
    pub fn track_model(
        &self,
        env: Env,
        #[napi(ts_arg_type = "any")] id: JsInput,
    ) -> napi::Result<TrackedRow> {
        self.track_key(&env, tables::MODEL, id)
    }
    /// Tracks a row of `public.group_models`.
    #[napi(catch_unwind)]
    pub fn track_group_model(
        &self,
        env: Env,
        #[napi(ts_arg_type = "any")] id: JsInput,
    ) -> napi::Result<TrackedRow> {
        self.track_key(&env, tables::GROUP_MODEL, id)
    }
    /// Tracks a row of `public.invites`.
    #[napi(catch_unwind)]
    pub fn track_invite(
        &self,
        env: Env,
        #[napi(ts_arg_type = "any")] id: JsInput,
    ) -> napi::Result<TrackedRow> {
        self.track_key(&env, tables::INVITE, id)
    }
    /// Tracks a row of `public.conversations`.
    #[napi(catch_unwind)]
    pub fn track_conversation(
        &self,
        env: Env,
        #[napi(ts_arg_type = "any")] id: JsInput,
    ) -> napi::Result<TrackedRow> {
        self.track_key(&env, tables::CONVERSATION, id)
    }
    /// Tracks a row of `public.messages`.
    #[napi(catch_unwind)]
    pub fn track_message(
        &self,
        env: Env,
        #[napi(ts_arg_type = "any")] id: JsInput,
    ) -> napi::Result<TrackedRow> {
        self.track_key(&env, tables::MESSAGE, id)
    }

    /// The tracked rows, in tracking order.
    #[napi(catch_unwind)]
    pub fn list(&self) -> Vec<TrackedRow> {
        self.inner.list().into_iter().map(Into::into).collect()
    }

    /// How many rows are tracked (an entry of a table without a primary key counts once, for
    /// all the test's rows of that table).
    #[napi(catch_unwind)]
    pub fn count(&self) -> u32 {
        self.inner.count() as u32
    }

    /// Forgets every row (nothing is deleted).
    #[napi(catch_unwind)]
    pub fn clear(&self) {
        self.inner.clear();
    }

    /// The tracker as JSON: `{ version: 1, lane, rows }`.
    #[napi(catch_unwind)]
    pub fn export(&self) -> String {
        self.inner.export()
    }

    /// The run id of the lane.
    #[napi(getter, catch_unwind)]
    pub fn run_id(&self) -> String {
        self.inner.lane().id.run_id.clone()
    }

    /// LIKE pattern of the lane's test, worker or run names (`"test"` by default).
    #[napi(catch_unwind)]
    pub fn lane_pattern(
        &self,
        env: Env,
        #[napi(ts_arg_type = "'test' | 'worker' | 'run' | undefined | null")] scope: Option<
            Arg<String>,
        >,
    ) -> napi::Result<String> {
        guard(&env, || {
            let scope = LaneScope::parse(scope.as_ref().map_or("test", |s| s.0.as_str()))?;
            Ok(self.inner.lane().pattern(scope)?.to_string())
        })
    }
}
