//! The database layer every other part uses: a small pool per process, TLS per `sslmode`,
//! unnamed statements only (one round trip each, and safe behind transaction-mode poolers),
//! a client-side statement timeout that cancels on the server, a round-trip counter, the
//! schema graph read from the catalog and cached ([`catalog`]), the column facts factories
//! read lazily ([`table_facts`]), the one place where connection and query errors get their
//! codes ([`errors`]), queries from tests with rows as JSON ([`query`]), a reader of SQL text
//! that splits scripts and shapes statements ([`sql_text`]), and whether the database is marked
//! as a test database ([`marker`]).

pub mod catalog;
pub mod config;
pub mod errors;
pub mod marker;
pub mod query;
pub mod sql_text;
pub mod table_facts;
pub mod tls;

use crate::core::error::{Error, ErrorCode, Result};
use crate::core::schema::SchemaGraph;
use config::{DbConfig, DbOverrides, SslMode};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use errors::{pool_error, query_error};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tls::make_connector;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::Row;
use tokio_postgres_rustls::MakeRustlsConnect;

/// Opens connections for the pool, each driven by [`crate::core::runtime::drive`]: a call
/// started on the JS thread writes its statements to the socket there.
struct DrivenConnect {
    /// `None` where connections use no TLS ([`DbConfig::uses_tls`]): the connector would
    /// reject a socket directory as a server name before a byte is sent.
    tls: Option<MakeRustlsConnect>,
}

impl deadpool_postgres::Connect for DrivenConnect {
    fn connect(
        &self,
        pg_config: &tokio_postgres::Config,
    ) -> futures_util::future::BoxFuture<
        '_,
        std::result::Result<
            (tokio_postgres::Client, tokio::task::JoinHandle<()>),
            tokio_postgres::Error,
        >,
    > {
        let tls = self.tls.clone();
        let pg_config = pg_config.clone();
        Box::pin(async move {
            match tls {
                Some(tls) => open(&pg_config, tls).await,
                None => open(&pg_config, tokio_postgres::NoTls).await,
            }
        })
    }
}

/// Opens one connection and drives it ([`crate::core::runtime::drive`]). A connection that
/// fails ends; the pool sees its client closed.
async fn open<T>(
    pg_config: &tokio_postgres::Config,
    tls: T,
) -> std::result::Result<(tokio_postgres::Client, tokio::task::JoinHandle<()>), tokio_postgres::Error>
where
    T: tokio_postgres::tls::MakeTlsConnect<tokio_postgres::Socket>,
    T::Stream: Send + 'static,
{
    let (client, connection) = pg_config.connect(tls).await?;
    let task = crate::core::runtime::drive(async move {
        let _ = connection.await;
    });
    Ok((client, task))
}

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
    /// As [`DrivenConnect`]'s: query cancellation connects the same way.
    tls: Option<MakeRustlsConnect>,
    round_trips: AtomicU64,
    graph: std::sync::RwLock<Option<Arc<SchemaGraph>>>,
    /// Column facts for factories, with the graph they were read for ([`table_facts`]).
    table_facts: std::sync::RwLock<Option<(Arc<SchemaGraph>, Arc<table_facts::TableFacts>)>>,
    pooler: tokio::sync::OnceCell<bool>,
    /// Seen marked as a test database (pglane never removes the mark).
    test_database: std::sync::atomic::AtomicBool,
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
        let tls = config.uses_tls().then_some(tls);
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
                _ if !config.uses_tls() => tokio_postgres::config::SslMode::Disable,
                SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
                _ => tokio_postgres::config::SslMode::Require,
            });
        if let Some(pw) = &config.password {
            pg.password(pw.as_bytes());
        }
        let mut options: Vec<&str> = Vec::new();
        if config.named_statements() {
            // A prepared statement is planned once: its generic plan (index lookups on the
            // key arrays it is given) serves every call, where `auto` would plan each call
            // again because a custom plan looks cheaper. Only on pglane's own direct
            // connections, the only ones that prepare statements; a call with many rows asks
            // for a plan of its own (`Conn::query_guarded`).
            options.push("-c plan_cache_mode=force_generic_plan");
            // JIT off for the session, where session settings are safe: the catalog read then
            // finds `jit` off, and cleanups go alone instead of in a transaction of their own
            // with `set local jit = off` (a shop cleanup on a JIT-capable PostgreSQL 15: a/c
            // 0.83x with the transaction, 0.74-0.76x without).
            options.push("-c jit=off");
        }
        // The caller's own (`options` in the URL, `PGOPTIONS`) come last, so they win.
        options.extend(config.options.as_deref());
        if !options.is_empty() {
            pg.options(options.join(" "));
        }
        let manager = Manager::from_connect(
            pg,
            DrivenConnect { tls: tls.clone() },
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
                graph: std::sync::RwLock::new(None),
                table_facts: std::sync::RwLock::new(None),
                pooler: tokio::sync::OnceCell::new(),
                test_database: std::sync::atomic::AtomicBool::new(false),
            }),
        })
    }

    /// The settings (the password stays inside; print [`DbConfig::describe`]).
    pub fn config(&self) -> &DbConfig {
        &self.inner.config
    }

    /// Has this handle seen the database marked as a test database?
    pub fn known_test_database(&self) -> bool {
        self.inner.test_database.load(Ordering::Relaxed)
    }

    /// Remembers that the database is marked as a test database.
    pub fn remember_test_database(&self) {
        self.inner.test_database.store(true, Ordering::Relaxed);
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
    ///
    /// When the server has no connection slot left but this process already holds one, the
    /// caller waits for that connection (retrying, backing off, until the statement timeout)
    /// instead of failing: 50 workers with a pool of 2 each are 100 connections, more than a
    /// server of `max_connections = 100` gives (it keeps slots for superusers), yet each needs
    /// only one at a time.
    pub async fn conn(&self) -> Result<Conn> {
        let cfg = &self.inner.config;
        let started = std::time::Instant::now();
        let mut pause = std::time::Duration::from_millis(5);
        let client = loop {
            match self.inner.pool.get().await {
                Ok(client) => break client,
                Err(e) => {
                    let err = pool_error(cfg, e);
                    let waiting_helps = err.code() == ErrorCode::DbTooManyConnections
                        && self.inner.pool.status().size > 0
                        && started.elapsed() + pause < cfg.statement_timeout;
                    if !waiting_helps {
                        return Err(err);
                    }
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(std::time::Duration::from_millis(200));
                }
            }
        };
        Ok(Conn {
            client: std::mem::ManuallyDrop::new(client),
            db: self.clone(),
            round_trips: AtomicU64::new(0),
            broken: std::sync::atomic::AtomicBool::new(false),
        })
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

    /// Runs a SQL script (several statements, no parameters) with the simple query protocol,
    /// e.g. a schema file, then reads the schema graph again: the script may have changed it.
    /// Not for values: pglane never pastes values into SQL.
    pub async fn execute_script(&self, sql: &str) -> Result<()> {
        self.conn().await?.batch(sql).await?;
        self.graph_for(catalog::Freshness::Fresh).await.map(|_| ())
    }

    /// Closes the pool: open connections are dropped as they come back.
    pub fn close(&self) {
        self.inner.pool.close();
    }

    /// Was [`Db::close`] called?
    pub fn is_closed(&self) -> bool {
        self.inner.pool.is_closed()
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
}

/// One pooled connection. Every query goes through [`Conn::query`] or [`Conn::run`], which
/// count round trips, apply the statement timeout and map errors.
pub struct Conn {
    /// Dropped by hand ([`Drop`]): back to the pool, or away when the connection is broken.
    client: std::mem::ManuallyDrop<deadpool_postgres::Object>,
    db: Db,
    round_trips: AtomicU64,
    /// Did a statement find the connection lost? It then never goes back to the pool: the
    /// pool's check (is the client closed?) can run before the connection's own task has seen
    /// the socket close, and the next caller would be handed a dead connection.
    broken: std::sync::atomic::AtomicBool,
}

impl Drop for Conn {
    fn drop(&mut self) {
        // SAFETY: `client` is taken here once, and never used again.
        let client = unsafe { std::mem::ManuallyDrop::take(&mut self.client) };
        if self.broken.load(Ordering::Relaxed) {
            let _ = deadpool_postgres::Object::take(client);
        }
    }
}

impl Conn {
    /// Runs one statement with typed parameters. Unnamed by default: one round trip, no
    /// server-side prepared statement, so it also works through transaction-mode poolers. Where
    /// the settings allow named statements ([`DbConfig::named_statements`]), each statement
    /// shape is prepared once per connection (one more round trip the first time) and then
    /// only bound and executed: the server no longer plans it on every call.
    pub async fn query(&self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>> {
        match self.prepared(sql, params).await? {
            Some(statement) => {
                let values = values_of(params);
                self.run(1, self.client.query(&statement, &values)).await
            }
            None => self.run(1, self.client.query_typed(sql, params)).await,
        }
    }

    /// The named statement of `sql` on this connection, prepared now if it was not (counted as
    /// a round trip), or `None` when statements stay unnamed.
    async fn prepared(
        &self,
        sql: &str,
        params: &[Param<'_>],
    ) -> Result<Option<tokio_postgres::Statement>> {
        if !self.db.inner.config.named_statements() {
            return Ok(None);
        }
        let types: Vec<Type> = params.iter().map(|(_, t)| t.clone()).collect();
        let cached = self.client.statement_cache.size();
        let statement = self
            .run(0, self.client.prepare_typed_cached(sql, &types))
            .await?;
        if self.client.statement_cache.size() > cached {
            self.count(1);
        }
        Ok(Some(statement))
    }

    /// Runs one statement of a cleanup with the planner settings it needs, in one round trip,
    /// through transaction-mode poolers too:
    ///
    /// - `jit_possible` (the server can JIT-compile, from the catalog): JIT off. A test tool's
    ///   statements touch few rows, but on a big schema their plans are costly enough for
    ///   Postgres to JIT-compile them, which took seconds where the work took milliseconds.
    /// - `many_rows` on a connection that prepares statements: a plan made for this call's
    ///   parameters. Prepared statements otherwise run one generic plan (see [`Db::new`]),
    ///   right for a test's few keys and wrong for thousands. The statement is sent unnamed
    ///   (planned for its parameters) with `plan_cache_mode` back to `auto` for the
    ///   transaction, not `force_custom_plan`: that setting also reaches the foreign-key
    ///   triggers' own cached queries, which then planned again for every deleted row (a sweep
    ///   of 10,000 rows spent 3x longer in them).
    ///
    /// With either, the statement runs in a transaction of its own, pipelined: `begin; set
    /// local ...`, the statement, `commit` (`set local` ends with the transaction). Otherwise it
    /// is sent alone.
    ///
    /// The outer error is a broken connection or a timeout; the inner one is the statement's
    /// own (nothing of it stays), which callers may treat as data.
    pub async fn query_guarded(
        &self,
        sql: &str,
        params: &[Param<'_>],
        jit_possible: bool,
        many_rows: bool,
    ) -> Result<Result<Vec<Row>>> {
        let mut outcomes = self
            .query_guarded_all(&[sql], params, jit_possible, many_rows)
            .await?;
        Ok(outcomes.pop().expect("one statement, one outcome"))
    }

    /// [`Conn::query_guarded`] for several statements taking the same parameters, all sent at
    /// once (one round trip) and run in order, each in a transaction of its own: a statement
    /// sees what the ones before it committed, and one failing leaves theirs in place. The
    /// outcome of each, in order.
    pub async fn query_guarded_all(
        &self,
        sqls: &[&str],
        params: &[Param<'_>],
        jit_possible: bool,
        many_rows: bool,
    ) -> Result<Vec<Result<Vec<Row>>>> {
        let cfg = &self.db.inner.config;
        let c = &self.client;
        let statement = match sqls {
            [sql] if !many_rows => self.prepared(sql, params).await?,
            _ => None,
        };
        let values = values_of(params);
        let run_statement = |sql| run_one(c, statement.as_ref(), &values, sql, params);
        let mut settings = String::new();
        if jit_possible {
            settings.push_str("; set local jit = off");
        }
        if many_rows && cfg.named_statements() {
            settings.push_str("; set local plan_cache_mode = auto");
        }
        let fatal = |e: &tokio_postgres::Error| {
            let err = self.statement_error(e);
            matches!(
                err.code(),
                ErrorCode::DbConnectionLost | ErrorCode::DbTimeout
            )
            .then_some(err)
        };
        if settings.is_empty() {
            // Each statement alone is a transaction of its own.
            let outcomes = self
                .run(1, async {
                    Ok(
                        futures_util::future::join_all(sqls.iter().map(|sql| run_statement(sql)))
                            .await,
                    )
                })
                .await?;
            if let Some(err) = outcomes
                .iter()
                .filter_map(|o| o.as_ref().err())
                .find_map(fatal)
            {
                return Err(err);
            }
            return Ok(outcomes
                .into_iter()
                .map(|o| o.map_err(|e| query_error(cfg, &e)))
                .collect());
        }
        let begin = format!("begin{settings}; set constraints all immediate");
        let outcomes = self
            .run(1, async {
                Ok(futures_util::future::join_all(sqls.iter().map(|sql| async {
                    tokio::join!(
                        c.batch_execute(&begin),
                        run_statement(sql),
                        c.batch_execute("commit"),
                    )
                }))
                .await)
            })
            .await?;
        for (begin, statement, commit) in &outcomes {
            for result in [
                begin.as_ref().err(),
                statement.as_ref().err(),
                commit.as_ref().err(),
            ] {
                if let Some(err) = result.and_then(fatal) {
                    return Err(err);
                }
            }
        }
        outcomes
            .into_iter()
            .map(|(begin, statement, commit)| {
                begin.map_err(|e| query_error(cfg, &e))?;
                Ok(match (statement, commit) {
                    (Ok(rows), Ok(())) => Ok(rows),
                    (Err(e), _) | (Ok(_), Err(e)) => Err(query_error(cfg, &e)),
                })
            })
            .collect()
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
        self.count(round_trips);
        match tokio::time::timeout(limit, fut).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(self.statement_error(&e)),
            Err(_) => {
                let token = self.client.cancel_token();
                let _ = match &self.db.inner.tls {
                    Some(tls) => token.cancel_query(tls.clone()).await,
                    None => token.cancel_query(tokio_postgres::NoTls).await,
                };
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

    /// A statement's error as pglane's; a connection it found lost is marked broken, so that
    /// it never goes back to the pool.
    fn statement_error(&self, e: &tokio_postgres::Error) -> Error {
        let err = query_error(&self.db.inner.config, e);
        if e.is_closed() || err.code() == ErrorCode::DbConnectionLost {
            self.broken.store(true, Ordering::Relaxed);
        }
        err
    }

    fn count(&self, round_trips: u64) {
        self.db
            .inner
            .round_trips
            .fetch_add(round_trips, Ordering::Relaxed);
        self.round_trips.fetch_add(round_trips, Ordering::Relaxed);
    }

    /// The underlying client, for building pipelines passed to [`Conn::run`].
    pub fn client(&self) -> &tokio_postgres::Client {
        &self.client
    }

    /// The settings of the database this connection came from.
    pub fn config(&self) -> &DbConfig {
        &self.db.inner.config
    }

    /// Round trips made on this connection since it was taken from the pool.
    pub fn round_trips(&self) -> u64 {
        self.round_trips.load(Ordering::Relaxed)
    }

    /// Drops this connection instead of returning it to the pool (after a broken transaction).
    pub fn discard(self) {
        self.broken.store(true, Ordering::Relaxed);
    }
}

/// The values of typed parameters, for a prepared statement (which knows their types).
/// One statement: the named one when there is one, else `sql` unnamed.
async fn run_one(
    client: &tokio_postgres::Client,
    named: Option<&tokio_postgres::Statement>,
    values: &[&(dyn ToSql + Sync)],
    sql: &str,
    params: &[Param<'_>],
) -> std::result::Result<Vec<Row>, tokio_postgres::Error> {
    match named {
        Some(named) => client.query(named, values).await,
        None => client.query_typed(sql, params).await,
    }
}

fn values_of<'a>(params: &[Param<'a>]) -> Vec<&'a (dyn ToSql + Sync)> {
    params.iter().map(|(v, _)| *v).collect()
}

/// The process's default database: built from the environment ([`DbConfig::from_env`]) and
/// shared by everything that was given `null` for a database; built again once closed (a
/// global teardown closes it, and a second setup in the same process needs one).
pub fn default_db() -> Result<Db> {
    static DEFAULT: std::sync::Mutex<Option<Db>> = std::sync::Mutex::new(None);
    let mut slot = DEFAULT.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(db) = slot.as_ref().filter(|db| !db.is_closed()) {
        return Ok(db.clone());
    }
    let env = |k: &str| std::env::var(k).ok();
    let db = Db::new(DbConfig::from_env(&env)?)?;
    *slot = Some(db.clone());
    Ok(db)
}

/// A handle for `url` (or the environment's settings when `None`) with `overrides` on top;
/// with neither, the process's shared default handle.
pub fn connect(url: Option<&str>, overrides: Option<DbOverrides>) -> Result<Db> {
    let Some(overrides) = overrides else {
        return match url {
            None => default_db(),
            Some(u) => Db::new(DbConfig::from_url(u)?),
        };
    };
    let env = |k: &str| std::env::var(k).ok();
    let config = match url {
        Some(u) => DbConfig::from_url(u)?,
        None => DbConfig::from_env(&env)?,
    };
    Db::new(config.with_overrides(overrides)?)
}
