//! `Db`: a handle on one database (settings, a small pool, counters).

use super::args::{Arg, JsInput};
use super::error::{caught, guard, spawn, Outcome};
use super::json::Json;
use crate::core::db::query::{Expect, QueryOutcome};
use crate::core::db::{self as core_db, config::DbOverrides};
use crate::core::doctor;
use napi::bindgen_prelude::{PromiseRaw, ToNapiValue};
use napi::Env;
use napi_derive::napi;
use serde_json::Value;
use std::collections::HashMap;

/// Options of `Db.connect`; each overrides the URL and the environment.
#[napi(object, object_to_js = false)]
pub struct DbOptions {
    /// Connections per process (default 2; 1 to 100).
    #[napi(ts_type = "number")]
    pub pool_size: Option<JsInput>,
    /// Time allowed to open a connection, in ms (default 10000).
    #[napi(ts_type = "number")]
    pub connect_timeout_ms: Option<JsInput>,
    /// Time allowed for one operation before pglane cancels it, in ms (default 60000).
    #[napi(ts_type = "number")]
    pub statement_timeout_ms: Option<JsInput>,
    /// `application_name` of pglane's sessions (default `pglane`).
    pub application_name: Option<String>,
    /// `"auto"`, `"none"` or `"transaction"`: whether a transaction-mode pooler is in front.
    pub pooler: Option<String>,
    /// `"auto"` (default: prepared where the settings declare a direct connection, `pooler:
    /// "none"`), `"on"` or `"off"`: whether statements are prepared once per connection.
    pub prepare: Option<String>,
}

impl DbOptions {
    fn overrides(self) -> crate::core::Result<DbOverrides> {
        DbOverrides::checked(
            self.pool_size.as_ref().map(JsInput::get),
            self.connect_timeout_ms.as_ref().map(JsInput::get),
            self.statement_timeout_ms.as_ref().map(JsInput::get),
            self.application_name,
            self.pooler,
            self.prepare,
        )
    }
}

/// What the server says about pglane's session.
#[napi(object)]
pub struct ServerInfo {
    /// e.g. 180001
    pub server_version_num: i32,
    /// e.g. "18.1"
    pub server_version: String,
    /// The backend process id.
    pub backend_pid: i32,
    /// `application_name` as the server sees it.
    pub application_name: String,
    /// Whether the server's backend session is encrypted. Behind a pooler this describes the
    /// pooler's link to the server.
    pub ssl: bool,
    /// `current_database()`
    pub database: String,
    /// `current_user`
    pub user: String,
}

impl From<core_db::ServerInfo> for ServerInfo {
    fn from(info: core_db::ServerInfo) -> Self {
        ServerInfo {
            server_version_num: info.server_version_num,
            server_version: info.server_version,
            backend_pid: info.backend_pid,
            application_name: info.application_name,
            ssl: info.ssl,
            database: info.database,
            user: info.user,
        }
    }
}

/// What the role may do on the database.
#[napi(object)]
pub struct DoctorPermissions {
    /// May it create schemas (pglane's own, at the first run)?
    pub create_schema: bool,
    /// Does the `pglane` schema exist?
    pub pglane_schema: bool,
    /// May it use the `pglane` schema?
    pub pglane_usage: bool,
    /// Tables it may not delete from (cleanup cannot remove their rows).
    pub no_delete: Vec<String>,
}

/// The schema graph in numbers.
#[napi(object)]
pub struct DoctorGraph {
    /// User schemas with tables.
    pub schemas: Vec<String>,
    /// Tables.
    pub tables: u32,
    /// Foreign keys.
    pub foreign_keys: u32,
    /// Groups of tables referencing each other in a cycle.
    pub cycles: Vec<Vec<String>>,
    /// Tables without a primary key or a unique key of `NOT NULL` columns (their rows cannot be
    /// tracked by key).
    pub without_primary_key: Vec<String>,
}

/// What `db.doctor()` (and `npx pglane doctor`) found.
#[napi(object)]
pub struct Diagnosis {
    /// The server and the session.
    pub server: ServerInfo,
    /// The `sslmode` pglane connects with.
    pub sslmode: String,
    /// Is a transaction-mode pooler in front?
    pub transaction_pooler: bool,
    /// What the role may do.
    pub permissions: DoctorPermissions,
    /// The schema graph.
    pub graph: DoctorGraph,
    /// Foreign keys whose referencing columns have no index (`child(cols) → parent`): every
    /// cleanup that deletes a parent row scans the child table.
    pub unindexed_foreign_keys: Vec<String>,
    /// Where lane names are looked for by default: `{ 'schema.table': [text columns] }`.
    pub lane_columns: HashMap<String, Vec<String>>,
    /// Is the database marked as a test database?
    pub test_database: bool,
}

impl From<doctor::Diagnosis> for Diagnosis {
    fn from(d: doctor::Diagnosis) -> Self {
        Diagnosis {
            server: d.server.into(),
            sslmode: d.sslmode,
            transaction_pooler: d.transaction_pooler,
            permissions: DoctorPermissions {
                create_schema: d.permissions.create_schema,
                pglane_schema: d.permissions.pglane_schema,
                pglane_usage: d.permissions.pglane_usage,
                no_delete: d.permissions.no_delete,
            },
            graph: DoctorGraph {
                schemas: d.graph.schemas,
                tables: d.graph.tables as u32,
                foreign_keys: d.graph.foreign_keys as u32,
                cycles: d.graph.cycles,
                without_primary_key: d.graph.without_primary_key,
            },
            unindexed_foreign_keys: d.unindexed_foreign_keys,
            lane_columns: d.lane_columns.into_iter().collect(),
            test_database: d.test_database,
        }
    }
}

/// A database handle: its settings and a small connection pool. `Db.connect(null)` and
/// `Db.default()` use `DATABASE_URL`, else the embedded server started by the global setup,
/// else libpq's `PG*` variables.
#[napi]
pub struct Db {
    pub(crate) inner: core_db::Db,
}

impl Db {
    /// `query`, `one`, `many` and `execute`: the statement, and what the caller gets of it.
    fn run<'env, T: ToNapiValue + Send + 'static>(
        &self,
        env: &'env Env,
        sql: Arg<String>,
        params: Option<JsInput>,
        expect: Expect,
        give: fn(QueryOutcome) -> T,
    ) -> napi::Result<PromiseRaw<'env, Outcome<T>>> {
        let db = self.inner.clone();
        spawn(env, async move {
            let params = match params {
                Some(p) => p.get().optional_json_array("params")?,
                None => None,
            };
            db.query_json(&sql, params.as_deref().unwrap_or(&[]), expect)
                .await
                .map(give)
        })
    }
}

/// The handle given, or the process's default one.
pub(crate) fn db_or_default(env: &Env, db: Option<&Db>) -> napi::Result<core_db::Db> {
    match db {
        Some(d) => Ok(d.inner.clone()),
        None => guard(env, core_db::default_db),
    }
}

#[napi]
impl Db {
    /// A handle for `url` (or the default settings when `null`), with options on top. Settings
    /// are checked now; the first connection opens on first use.
    #[napi(factory, catch_unwind)]
    pub fn connect(
        env: Env,
        #[napi(ts_arg_type = "string | undefined | null")] url: Option<Arg<String>>,
        #[napi(ts_arg_type = "DbOptions | undefined | null")] options: Option<Arg<DbOptions>>,
    ) -> napi::Result<Db> {
        let inner = guard(&env, || {
            let overrides = options.map(|o| o.0.overrides()).transpose()?;
            core_db::connect(url.as_ref().map(|u| u.0.as_str()), overrides)
        })?;
        Ok(Db { inner })
    }

    /// The process's shared default handle.
    #[napi(factory, js_name = "default", catch_unwind)]
    pub fn default_db(env: Env) -> napi::Result<Db> {
        Ok(Db {
            inner: guard(&env, core_db::default_db)?,
        })
    }

    /// Connects (if needed) and asks the server about the session. One round trip.
    #[napi(ts_return_type = "Promise<ServerInfo>", catch_unwind)]
    pub async fn server_info(&self) -> Outcome<ServerInfo> {
        caught(self.inner.server_info())
            .await
            .map(Into::into)
            .into()
    }

    /// Runs a SQL script (several statements, no parameters) with the simple query protocol,
    /// e.g. a schema file in global setup. Not for values: pglane never pastes values into SQL.
    #[napi(ts_return_type = "Promise<void>", catch_unwind)]
    pub async fn execute_script(
        &self,
        #[napi(ts_arg_type = "string")] sql: Arg<String>,
    ) -> Outcome<()> {
        caught(self.inner.execute_script(&sql)).await.into()
    }

    /// What pglane finds on this database: connection and TLS, pooler, permissions, the schema
    /// graph, foreign keys without an index (slow cleanups), lane columns. Reads only.
    #[napi(ts_return_type = "Promise<Diagnosis>", catch_unwind)]
    pub async fn doctor(&self) -> Outcome<Diagnosis> {
        caught(doctor::diagnose(&self.inner))
            .await
            .map(Into::into)
            .into()
    }

    /// Runs one statement with `$1, $2, ...` parameters and resolves with its rows, as JSON
    /// objects keyed by column: the values Postgres' `to_json` gives (the same a factory
    /// returns). Parameters go as text and the server infers their types, as with the `pg`
    /// package: strings, numbers, booleans, `null`, arrays (array literals), objects (JSON);
    /// `Date`, `Buffer` and `bigint` are converted by pglane's JS entry. One round trip, an
    /// unnamed statement: safe through transaction-mode poolers.
    #[napi(
        ts_generic_types = "T = Row",
        ts_args_type = "sql: string, params?: readonly unknown[] | null",
        ts_return_type = "Promise<T[]>",
        catch_unwind
    )]
    pub fn query<'env>(
        &self,
        env: &'env Env,
        sql: Arg<String>,
        params: Option<JsInput>,
    ) -> napi::Result<PromiseRaw<'env, Outcome<Json<Vec<Value>>>>> {
        self.run(env, sql, params, Expect::Any, |o| Json(o.rows))
    }

    /// `query` for exactly one row: resolves with it, or rejects with `PGLANE_ROW_COUNT`.
    #[napi(
        ts_generic_types = "T = Row",
        ts_args_type = "sql: string, params?: readonly unknown[] | null",
        ts_return_type = "Promise<T>",
        catch_unwind
    )]
    pub fn one<'env>(
        &self,
        env: &'env Env,
        sql: Arg<String>,
        params: Option<JsInput>,
    ) -> napi::Result<PromiseRaw<'env, Outcome<Json<Value>>>> {
        self.run(env, sql, params, Expect::One, |o| {
            Json(o.rows.into_iter().next().unwrap_or(Value::Null))
        })
    }

    /// `query` for at least one row: rejects with `PGLANE_ROW_COUNT` when there is none.
    #[napi(
        ts_generic_types = "T = Row",
        ts_args_type = "sql: string, params?: readonly unknown[] | null",
        ts_return_type = "Promise<T[]>",
        catch_unwind
    )]
    pub fn many<'env>(
        &self,
        env: &'env Env,
        sql: Arg<String>,
        params: Option<JsInput>,
    ) -> napi::Result<PromiseRaw<'env, Outcome<Json<Vec<Value>>>>> {
        self.run(env, sql, params, Expect::Many, |o| Json(o.rows))
    }

    /// Runs one statement with parameters and resolves with the number of rows it returned or
    /// changed (`update ... where ...` without `RETURNING`: the rows updated).
    #[napi(
        ts_args_type = "sql: string, params?: readonly unknown[] | null",
        ts_return_type = "Promise<number>",
        catch_unwind
    )]
    pub fn execute<'env>(
        &self,
        env: &'env Env,
        sql: Arg<String>,
        params: Option<JsInput>,
    ) -> napi::Result<PromiseRaw<'env, Outcome<f64>>> {
        self.run(env, sql, params, Expect::Any, |o| o.row_count as f64)
    }

    /// Round trips made through this handle so far (pipelined requests count once).
    #[napi(getter, catch_unwind)]
    pub fn round_trips(&self) -> f64 {
        self.inner.round_trips() as f64
    }

    /// Connections open now.
    #[napi(getter, catch_unwind)]
    pub fn open_connections(&self) -> u32 {
        self.inner.pool_status().0 as u32
    }

    /// The pool's limit.
    #[napi(getter, catch_unwind)]
    pub fn pool_size(&self) -> u32 {
        self.inner.pool_status().1 as u32
    }

    /// The settings as a URL with the password masked.
    #[napi(getter, catch_unwind)]
    pub fn url(&self) -> String {
        self.inner.config().redacted_url()
    }

    /// `user@host:port/database`.
    #[napi(catch_unwind)]
    pub fn describe(&self) -> String {
        self.inner.config().describe()
    }

    /// Closes the pool.
    #[napi(catch_unwind)]
    pub fn close(&self) {
        self.inner.close();
    }
}
