//! The database layer every other part uses: a small pool per process, TLS per `sslmode`,
//! unnamed statements only (one round trip each, and safe behind transaction-mode poolers),
//! a client-side statement timeout that cancels on the server, a round-trip counter, and the
//! one place where connection and query errors get their codes.

use crate::core::db_config::{DbConfig, SslMode};
use crate::core::error::{Error, ErrorCode, Result};
use crate::core::schema_graph::SchemaGraph;
use crate::core::tls::make_connector;
use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::Row;
use tokio_postgres_rustls::MakeRustlsConnect;

/// A typed parameter: the value and the Postgres type it is sent as.
pub type Param<'a> = (&'a (dyn ToSql + Sync), Type);

/// A process's handle on one database: settings, pool, TLS connector and counters.
/// Cheap to clone.
#[derive(Clone)]
pub struct Db {
    inner: Arc<DbInner>,
}

struct DbInner {
    config: DbConfig,
    pool: Pool,
    tls: MakeRustlsConnect,
    round_trips: AtomicU64,
    schema: std::sync::RwLock<Option<Arc<SchemaGraph>>>,
    pooler: tokio::sync::OnceCell<bool>,
}

/// What the server says about the session pglane got.
#[derive(Debug, Clone)]
pub struct ServerInfo {
    /// `server_version_num`, e.g. 180001.
    pub server_version_num: i32,
    /// `server_version`, e.g. "18.1".
    pub server_version: String,
    /// The backend process id.
    pub backend_pid: i32,
    /// `application_name` as the server sees it.
    pub application_name: String,
    /// Whether the server's backend session is encrypted (`pg_stat_ssl`). Behind a pooler this
    /// describes the pooler's link to the server, not pglane's link to the pooler.
    pub ssl: bool,
    /// `current_database()`.
    pub database: String,
    /// `current_user`.
    pub user: String,
}

impl Db {
    /// A handle for these settings. Opens no connection yet; the TLS settings (root
    /// certificates) are read now so that a bad file fails at once.
    pub fn new(config: DbConfig) -> Result<Db> {
        let tls = make_connector(&config)?;
        let mut pg = tokio_postgres::Config::new();
        if config.is_unix_socket() {
            // Unix sockets exist only on Unix; elsewhere the path is an error of the settings.
            #[cfg(unix)]
            pg.host_path(&config.host);
            #[cfg(not(unix))]
            return Err(Error::invalid_config(format!(
                "host {:?} is a Unix socket directory, which this platform does not have: use a host name",
                config.host
            )));
        } else {
            pg.host(&config.host);
        }
        pg.port(config.port)
            .user(&config.user)
            .dbname(&config.dbname)
            .application_name(&config.application_name)
            .connect_timeout(config.connect_timeout)
            .keepalives(true)
            .ssl_mode(match config.sslmode {
                SslMode::Disable => tokio_postgres::config::SslMode::Disable,
                SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
                _ => tokio_postgres::config::SslMode::Require,
            });
        if let Some(pw) = &config.password {
            pg.password(pw.as_bytes());
        }
        let manager = Manager::from_config(
            pg,
            tls.clone(),
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(config.pool_size)
            .runtime(Runtime::Tokio1)
            .create_timeout(Some(config.connect_timeout + config.connect_timeout / 2))
            .wait_timeout(Some(config.statement_timeout))
            .build()
            .map_err(|e| Error::internal(format!("cannot build the connection pool: {e}")))?;
        Ok(Db {
            inner: Arc::new(DbInner {
                config,
                pool,
                tls,
                round_trips: AtomicU64::new(0),
                schema: std::sync::RwLock::new(None),
                pooler: tokio::sync::OnceCell::new(),
            }),
        })
    }

    /// The settings (the password stays inside; print [`DbConfig::describe`]).
    pub fn config(&self) -> &DbConfig {
        &self.inner.config
    }

    /// Round trips to Postgres made through this handle so far (pipelined requests count once).
    pub fn round_trips(&self) -> u64 {
        self.inner.round_trips.load(Ordering::Relaxed)
    }

    /// Connections open in the pool now, and the pool's limit.
    pub fn pool_status(&self) -> (usize, usize) {
        let s = self.inner.pool.status();
        (s.size, s.max_size)
    }

    /// A connection from the pool, opening one if needed.
    pub async fn conn(&self) -> Result<Conn> {
        match self.inner.pool.get().await {
            Ok(client) => Ok(Conn {
                client,
                db: self.clone(),
                round_trips: AtomicU64::new(0),
            }),
            Err(e) => Err(self.pool_error(e)),
        }
    }

    /// The schema graph, read once and cached (one round trip the first time).
    pub async fn schema(&self) -> Result<Arc<SchemaGraph>> {
        if let Some(g) = self.cached_schema() {
            return Ok(g);
        }
        self.refresh_schema().await
    }

    /// The cached schema graph, if it was read already.
    pub fn cached_schema(&self) -> Option<Arc<SchemaGraph>> {
        self.inner
            .schema
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Reads the schema graph again (after tables were created or changed).
    pub async fn refresh_schema(&self) -> Result<Arc<SchemaGraph>> {
        let conn = self.conn().await?;
        let graph = Arc::new(SchemaGraph::load(&conn).await?);
        *self.inner.schema.write().unwrap_or_else(|p| p.into_inner()) = Some(graph.clone());
        Ok(graph)
    }

    /// Is a transaction-mode pooler in front (no session state survives a transaction)?
    /// The settings decide when they can (`pglane_pooler`, `PGLANE_POOLER`, port 6543);
    /// otherwise one best-effort probe per process: transactions on one client connection that
    /// land on different server backends can only come through a pooler. pgbouncer often hands
    /// the same server connection back, so the probe can miss it: declare a pooler on another
    /// port with `pglane_pooler=transaction` (or `pgbouncer=true`, or `PGLANE_POOLER`).
    pub async fn is_transaction_pooler(&self) -> Result<bool> {
        if let Some(known) = self.inner.config.pooler_by_settings() {
            return Ok(known);
        }
        self.inner
            .pooler
            .get_or_try_init(|| async {
                let conn = self.conn().await?;
                let mut pids = std::collections::HashSet::new();
                for _ in 0..4 {
                    let rows = conn.query("select pg_backend_pid()", &[]).await?;
                    pids.insert(rows[0].get::<_, i32>(0));
                }
                Ok(pids.len() > 1)
            })
            .await
            .copied()
    }

    /// Closes the pool: open connections are dropped as they come back.
    pub fn close(&self) {
        self.inner.pool.close();
    }

    /// Asks the server who we are: version, pid, application name, TLS. One round trip.
    pub async fn server_info(&self) -> Result<ServerInfo> {
        let conn = self.conn().await?;
        let rows = conn
            .query(
                "select current_setting('server_version_num')::int4, current_setting('server_version'), \
                 pg_backend_pid(), current_setting('application_name'), \
                 coalesce((select ssl from pg_stat_ssl where pid = pg_backend_pid()), false), \
                 current_database()::text, current_user::text",
                &[],
            )
            .await?;
        let row = rows
            .first()
            .ok_or_else(|| Error::internal("server info query returned no row"))?;
        Ok(ServerInfo {
            server_version_num: row.get(0),
            server_version: row.get(1),
            backend_pid: row.get(2),
            application_name: row.get(3),
            ssl: row.get(4),
            database: row.get(5),
            user: row.get(6),
        })
    }

    fn pool_error(&self, e: PoolError) -> Error {
        let cfg = &self.inner.config;
        match e {
            PoolError::Backend(pg) => classify_connect_error(cfg, &pg),
            PoolError::Timeout(deadpool_postgres::TimeoutType::Wait) => Error::new(
                ErrorCode::DbTimeout,
                format!(
                    "all {} connections of this process's pool to {} stayed busy for {} ms; \
                     raise PGLANE_POOL_SIZE or release held locks",
                    cfg.pool_size,
                    cfg.describe(),
                    cfg.statement_timeout.as_millis()
                ),
            ),
            PoolError::Timeout(_) => Error::new(
                ErrorCode::DbUnreachable,
                format!(
                    "could not connect to {} within {} ms: check the host, the port and that the server is running",
                    cfg.describe(),
                    cfg.connect_timeout.as_millis()
                ),
            ),
            PoolError::Closed => Error::new(
                ErrorCode::DbConnectionLost,
                format!("the connection pool to {} was closed", cfg.describe()),
            ),
            other => Error::internal(cfg.redact(&format!("connection pool failed: {other}"))),
        }
    }
}

/// One pooled connection. Every query goes through [`Conn::query`] or [`Conn::run`], which
/// count round trips, apply the statement timeout and map errors.
pub struct Conn {
    client: deadpool_postgres::Object,
    db: Db,
    round_trips: AtomicU64,
}

impl Conn {
    /// Runs one unnamed statement with typed parameters: exactly one round trip, no server-side
    /// prepared statement, so it also works through transaction-mode poolers.
    pub async fn query(&self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>> {
        self.run(1, self.client.query_typed(sql, params)).await
    }

    /// Runs SQL text with the simple query protocol (several statements, no parameters): one
    /// round trip. Only for fixed SQL such as `begin` or schema set-up, never for values.
    pub async fn batch(&self, sql: &str) -> Result<()> {
        self.run(1, self.client.batch_execute(sql)).await
    }

    /// Awaits a future made of requests on this connection (several issued at once are
    /// pipelined), counting `round_trips`, with the statement timeout: when it passes, the query
    /// is cancelled on the server and `PGLANE_DB_TIMEOUT` is returned.
    pub async fn run<T, F>(&self, round_trips: u64, fut: F) -> Result<T>
    where
        F: Future<Output = std::result::Result<T, tokio_postgres::Error>>,
    {
        self.run_with_timeout(round_trips, self.db.inner.config.statement_timeout, fut)
            .await
    }

    /// [`Conn::run`] with another time limit (e.g. a lock wait).
    pub async fn run_with_timeout<T, F>(
        &self,
        round_trips: u64,
        limit: std::time::Duration,
        fut: F,
    ) -> Result<T>
    where
        F: Future<Output = std::result::Result<T, tokio_postgres::Error>>,
    {
        let cfg = &self.db.inner.config;
        self.db
            .inner
            .round_trips
            .fetch_add(round_trips, Ordering::Relaxed);
        self.round_trips.fetch_add(round_trips, Ordering::Relaxed);
        match tokio::time::timeout(limit, fut).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(query_error(cfg, &e)),
            Err(_) => {
                let _ = self
                    .client
                    .cancel_token()
                    .cancel_query(self.db.inner.tls.clone())
                    .await;
                Err(Error::new(
                    ErrorCode::DbTimeout,
                    format!(
                        "query on {} took longer than {} ms and was cancelled",
                        cfg.describe(),
                        limit.as_millis()
                    ),
                ))
            }
        }
    }

    /// The underlying client, for building pipelines passed to [`Conn::run`].
    pub fn client(&self) -> &tokio_postgres::Client {
        &self.client
    }

    /// Round trips made on this connection since it was taken from the pool.
    pub fn round_trips(&self) -> u64 {
        self.round_trips.load(Ordering::Relaxed)
    }

    /// The handle this connection came from.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Drops this connection instead of returning it to the pool (after a broken transaction).
    pub fn discard(self) {
        let _ = deadpool_postgres::Object::take(self.client);
    }
}

/// Maps an error from a query on an open connection.
pub fn query_error(cfg: &DbConfig, e: &tokio_postgres::Error) -> Error {
    if let Some(db) = e.as_db_error() {
        let state = db.code().code();
        let mut message = db.message().to_string();
        if let Some(detail) = db.detail() {
            message.push_str(" (");
            message.push_str(detail);
            message.push(')');
        }
        let mut place = Vec::new();
        if let (Some(schema), Some(table)) = (db.schema(), db.table()) {
            place.push(format!("table {schema}.{table}"));
        }
        if let Some(c) = db.constraint() {
            place.push(format!("constraint {c}"));
        }
        if !place.is_empty() {
            message = format!("{message} [{}]", place.join(", "));
        }
        return Error::new(ErrorCode::from_sqlstate(state), cfg.redact(&message))
            .with_sqlstate(state);
    }
    if e.is_closed() || source_io_error(e).is_some() {
        return Error::new(
            ErrorCode::DbConnectionLost,
            format!(
                "the connection to {} was lost: {}",
                cfg.describe(),
                cfg.redact(&e.to_string())
            ),
        );
    }
    Error::new(ErrorCode::DbQuery, cfg.redact(&e.to_string()))
}

fn source_io_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a std::io::Error> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return Some(io);
        }
        cur = err.source();
    }
    None
}

fn source_tls_error(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return Some(tls.to_string());
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if let Some(inner) = io.get_ref() {
                if let Some(tls) = inner.downcast_ref::<rustls::Error>() {
                    return Some(tls.to_string());
                }
            }
        }
        cur = err.source();
    }
    None
}

/// Maps an error from opening a connection to a code and a message that names host, port and
/// database and says what to check. The password never appears.
pub fn classify_connect_error(cfg: &DbConfig, e: &tokio_postgres::Error) -> Error {
    let target = cfg.describe();
    let (code, message) = if let Some(db) = e.as_db_error() {
        let state = db.code().code();
        let said = db.message();
        match state {
            "28P01" => (
                ErrorCode::DbAuth,
                format!("{target}: the server rejected the password for role {:?}: check the user and password in DATABASE_URL", cfg.user),
            ),
            "28000" if said.contains("no encryption") => (
                ErrorCode::DbTls,
                format!("{target}: the server accepts only encrypted connections ({said}): use sslmode=require or stricter"),
            ),
            "28000" => (
                ErrorCode::DbAuth,
                format!("{target}: the server refused role {:?} ({said}): check the role exists and pg_hba.conf lets it in", cfg.user),
            ),
            "3D000" => (
                ErrorCode::DbNotFound,
                format!("{target}: database {:?} does not exist: create it or fix the database name", cfg.dbname),
            ),
            "53300" => (
                ErrorCode::DbTooManyConnections,
                format!("{target}: no connection slot left ({said}): lower the worker count or PGLANE_POOL_SIZE, or raise max_connections"),
            ),
            "08P01" if said.contains("no more connections") || said.contains("max_client_conn") => (
                ErrorCode::DbTooManyConnections,
                format!("{target}: the pooler has no connection slot left ({said})"),
            ),
            // pgbouncer reports its own refusals as protocol violations.
            "08P01" if said.contains("authentication failed") || said.starts_with("server login failed") => (
                ErrorCode::DbAuth,
                format!("{target}: the pooler rejected role {:?} ({said}): check the user and password", cfg.user),
            ),
            "08P01" if said.contains("no such database") => (
                ErrorCode::DbNotFound,
                format!("{target}: the pooler knows no database {:?} ({said})", cfg.dbname),
            ),
            s if s.starts_with("08") => (
                ErrorCode::DbUnreachable,
                format!("{target}: the server refused the connection: {said} (SQLSTATE {state})"),
            ),
            _ => (
                ErrorCode::from_sqlstate(state),
                format!("{target}: the server refused the connection: {said} (SQLSTATE {state})"),
            ),
        }
    } else if let Some(tls) = source_tls_error(e) {
        (
            ErrorCode::DbTls,
            format!("{target}: the TLS handshake failed: {tls}: check sslmode and sslrootcert (sslmode={})", cfg.sslmode.as_str()),
        )
    } else if e.to_string().starts_with("error performing TLS handshake") {
        let why = std::error::Error::source(e)
            .map(|s| s.to_string())
            .unwrap_or_else(|| e.to_string());
        (
            ErrorCode::DbTls,
            format!("{target}: TLS failed: {why}: sslmode={} needs a server with TLS on; use sslmode=disable or prefer for a server without it", cfg.sslmode.as_str()),
        )
    } else if let Some(io) = source_io_error(e) {
        let why = match io.kind() {
            std::io::ErrorKind::ConnectionRefused => {
                "the connection was refused: is the server running on that host and port?"
                    .to_string()
            }
            std::io::ErrorKind::TimedOut => {
                "the connection timed out: check the host, port and firewall".to_string()
            }
            _ => format!("{io}: check the host and port"),
        };
        (
            ErrorCode::DbUnreachable,
            format!("could not reach {target}: {why}"),
        )
    } else if e.to_string().contains("timeout") {
        (
            ErrorCode::DbUnreachable,
            format!("could not reach {target} within {} ms: check the host, the port and that the server is running", cfg.connect_timeout.as_millis()),
        )
    } else {
        (
            ErrorCode::DbUnreachable,
            format!("could not connect to {target}: {e}"),
        )
    };
    let mut err = Error::new(code, cfg.redact(&message));
    if let Some(db) = e.as_db_error() {
        err = err.with_sqlstate(db.code().code());
    }
    err
}

/// The process's default database: built once from the environment
/// ([`DbConfig::from_env`]) and shared by everything that was given `null` for a database.
pub fn default_db() -> Result<Db> {
    static DEFAULT: std::sync::Mutex<Option<Db>> = std::sync::Mutex::new(None);
    let mut slot = DEFAULT.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(db) = slot.as_ref() {
        return Ok(db.clone());
    }
    let env = |k: &str| std::env::var(k).ok();
    let db = Db::new(DbConfig::from_env(&env)?)?;
    *slot = Some(db.clone());
    Ok(db)
}
