//! `Db`: a handle on one database (settings, a small pool, counters).

use super::error::{OrThrow, Outcome};
use crate::core::db::query::{Expect, QueryOutcome};
use crate::core::db::{self as core_db, config::DbOverrides};
use napi::Env;
use napi_derive::napi;
use serde_json::Value;

/// Options of `Db.connect`; each overrides the URL and the environment.
#[napi(object)]
pub struct DbOptions {
    /// Connections per process (default 2).
    pub pool_size: Option<u32>,
    /// Time allowed to open a connection, in ms (default 10000).
    pub connect_timeout_ms: Option<u32>,
    /// Time allowed for one operation before pglane cancels it, in ms (default 60000).
    pub statement_timeout_ms: Option<u32>,
    /// `application_name` of pglane's sessions (default `pglane`).
    pub application_name: Option<String>,
    /// `"auto"`, `"none"` or `"transaction"`: whether a transaction-mode pooler is in front.
    pub pooler: Option<String>,
    /// `"auto"` (default: prepared where the settings declare a direct connection, `pooler:
    /// "none"`), `"on"` or `"off"`: whether statements are prepared once per connection.
    pub prepare: Option<String>,
}

impl From<DbOptions> for DbOverrides {
    fn from(o: DbOptions) -> Self {
        DbOverrides {
            pool_size: o.pool_size,
            connect_timeout_ms: o.connect_timeout_ms,
            statement_timeout_ms: o.statement_timeout_ms,
            application_name: o.application_name,
            pooler: o.pooler,
            prepare: o.prepare,
        }
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

/// A database handle: its settings and a small connection pool. `Db.connect(null)` and
/// `Db.default()` use `DATABASE_URL`, else the embedded server started by the global setup,
/// else libpq's `PG*` variables.
#[napi]
pub struct Db {
    pub(crate) inner: core_db::Db,
}

impl Db {
    async fn run(
        &self,
        sql: String,
        params: Option<Vec<Value>>,
        expect: Expect,
    ) -> crate::core::Result<QueryOutcome> {
        self.inner
            .query_json(&sql, params.as_deref().unwrap_or(&[]), expect)
            .await
    }
}

/// The handle given, or the process's default one.
pub(crate) fn db_or_default(env: &Env, db: Option<&Db>) -> napi::Result<core_db::Db> {
    match db {
        Some(d) => Ok(d.inner.clone()),
        None => core_db::default_db().or_throw(env),
    }
}

#[napi]
impl Db {
    /// A handle for `url` (or the default settings when `null`), with options on top. Settings
    /// are checked now; the first connection opens on first use.
    #[napi(factory)]
    pub fn connect(env: Env, url: Option<String>, options: Option<DbOptions>) -> napi::Result<Db> {
        let inner = core_db::connect(url.as_deref(), options.map(Into::into)).or_throw(&env)?;
        Ok(Db { inner })
    }

    /// The process's shared default handle.
    #[napi(factory, js_name = "default")]
    pub fn default_db(env: Env) -> napi::Result<Db> {
        Ok(Db {
            inner: core_db::default_db().or_throw(&env)?,
        })
    }

    /// Connects (if needed) and asks the server about the session. One round trip.
    #[napi(ts_return_type = "Promise<ServerInfo>")]
    pub async fn server_info(&self) -> Outcome<ServerInfo> {
        self.inner.server_info().await.map(Into::into).into()
    }

    /// Runs a SQL script (several statements, no parameters) with the simple query protocol,
    /// e.g. a schema file in global setup. Not for values: pglane never pastes values into SQL.
    #[napi(ts_return_type = "Promise<void>")]
    pub async fn execute_script(&self, sql: String) -> Outcome<()> {
        self.inner.execute_script(&sql).await.into()
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
        ts_return_type = "Promise<T[]>"
    )]
    pub async fn query(&self, sql: String, params: Option<Vec<Value>>) -> Outcome<Vec<Value>> {
        self.run(sql, params, Expect::Any)
            .await
            .map(|o| o.rows)
            .into()
    }

    /// `query` for exactly one row: resolves with it, or rejects with `PGLANE_ROW_COUNT`.
    #[napi(
        ts_generic_types = "T = Row",
        ts_args_type = "sql: string, params?: readonly unknown[] | null",
        ts_return_type = "Promise<T>"
    )]
    pub async fn one(&self, sql: String, params: Option<Vec<Value>>) -> Outcome<Value> {
        self.run(sql, params, Expect::One)
            .await
            .map(|o| o.rows.into_iter().next().unwrap_or(Value::Null))
            .into()
    }

    /// `query` for at least one row: rejects with `PGLANE_ROW_COUNT` when there is none.
    #[napi(
        ts_generic_types = "T = Row",
        ts_args_type = "sql: string, params?: readonly unknown[] | null",
        ts_return_type = "Promise<T[]>"
    )]
    pub async fn many(&self, sql: String, params: Option<Vec<Value>>) -> Outcome<Vec<Value>> {
        self.run(sql, params, Expect::Many)
            .await
            .map(|o| o.rows)
            .into()
    }

    /// Runs one statement with parameters and resolves with the number of rows it returned or
    /// changed (`update ... where ...` without `RETURNING`: the rows updated).
    #[napi(
        ts_args_type = "sql: string, params?: readonly unknown[] | null",
        ts_return_type = "Promise<number>"
    )]
    pub async fn execute(&self, sql: String, params: Option<Vec<Value>>) -> Outcome<f64> {
        self.run(sql, params, Expect::Any)
            .await
            .map(|o| o.row_count as f64)
            .into()
    }

    /// Round trips made through this handle so far (pipelined requests count once).
    #[napi(getter)]
    pub fn round_trips(&self) -> f64 {
        self.inner.round_trips() as f64
    }

    /// Connections open now.
    #[napi(getter)]
    pub fn open_connections(&self) -> u32 {
        self.inner.pool_status().0 as u32
    }

    /// The pool's limit.
    #[napi(getter)]
    pub fn pool_size(&self) -> u32 {
        self.inner.pool_status().1 as u32
    }

    /// The settings as a URL with the password masked.
    #[napi(getter)]
    pub fn url(&self) -> String {
        self.inner.config().redacted_url()
    }

    /// `user@host:port/database`.
    #[napi]
    pub fn describe(&self) -> String {
        self.inner.config().describe()
    }

    /// Closes the pool.
    #[napi]
    pub fn close(&self) {
        self.inner.close();
    }
}
