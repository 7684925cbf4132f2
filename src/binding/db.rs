//! `Db`: a handle on one database (settings, a small pool, counters).

use super::error::{to_js, JsError, Outcome};
use crate::core::db::{self as core_db, default_db};
use crate::core::db_config::{DbConfig, PoolerMode};
use napi_derive::napi;
use std::time::Duration;

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

/// A database handle: its settings and a small connection pool. `Db.connect(null)` and
/// `Db.default()` use `DATABASE_URL`, else the embedded server started by the global setup,
/// else libpq's `PG*` variables.
#[napi]
pub struct Db {
    pub(crate) inner: core_db::Db,
}

#[napi]
impl Db {
    /// A handle for `url` (or the default settings when `null`), with options on top. Settings
    /// are checked now; the first connection opens on first use.
    #[napi(factory)]
    pub fn connect(url: Option<String>, options: Option<DbOptions>) -> Result<Db, JsError> {
        if url.is_none() && options.is_none() {
            return Db::default_db();
        }
        let env = |k: &str| std::env::var(k).ok();
        let mut cfg = match url {
            Some(u) => DbConfig::from_url(&u),
            None => DbConfig::from_env(&env),
        }
        .map_err(to_js)?;
        if let Some(o) = options {
            if let Some(n) = o.pool_size {
                cfg.pool_size = n as usize;
            }
            if let Some(ms) = o.connect_timeout_ms {
                cfg.connect_timeout = Duration::from_millis(ms.into());
            }
            if let Some(ms) = o.statement_timeout_ms {
                cfg.statement_timeout = Duration::from_millis(ms.into());
            }
            if let Some(name) = o.application_name {
                cfg.application_name = name;
            }
            if let Some(p) = o.pooler {
                cfg.pooler = PoolerMode::parse(&p).map_err(to_js)?;
            }
        }
        let cfg = cfg.finish().map_err(to_js)?;
        Ok(Db {
            inner: core_db::Db::new(cfg).map_err(to_js)?,
        })
    }

    /// The process's shared default handle.
    #[napi(factory, js_name = "default")]
    pub fn default_db() -> Result<Db, JsError> {
        Ok(Db {
            inner: default_db().map_err(to_js)?,
        })
    }

    /// Connects (if needed) and asks the server about the session. One round trip.
    #[napi(ts_return_type = "Promise<ServerInfo>")]
    pub async fn server_info(&self) -> Outcome<ServerInfo> {
        Outcome(self.inner.server_info().await.map(|info| ServerInfo {
            server_version_num: info.server_version_num,
            server_version: info.server_version,
            backend_pid: info.backend_pid,
            application_name: info.application_name,
            ssl: info.ssl,
            database: info.database,
            user: info.user,
        }))
    }

    /// Runs a SQL script (several statements, no parameters) with the simple query protocol,
    /// e.g. a schema file in global setup. Not for values: pglane never pastes values into SQL.
    #[napi(ts_return_type = "Promise<void>")]
    pub async fn execute_script(&self, sql: String) -> Outcome<()> {
        let run = async {
            let conn = self.inner.conn().await?;
            conn.batch(&sql).await?;
            drop(conn);
            self.inner.refresh_schema().await.map(|_| ())
        };
        Outcome(run.await)
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
