//! The database layer against a real PostgreSQL.

use crate::support::config;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use pglane::core::db::catalog::Freshness;
use pglane::core::db::Db;
use pglane::core::ErrorCode;
use std::time::{Duration, Instant};
use tokio_postgres::types::Type;

#[tokio::test]
async fn one_unnamed_statement_is_one_round_trip_and_leaves_no_prepared_statement() {
    let mut cfg = config();
    cfg.prepare = pglane::core::db::config::PrepareMode::Off;
    let db = Db::new(cfg).unwrap();
    let conn = db.conn().await.unwrap();
    let before = db.round_trips();
    let n: i64 = 41;
    let rows = conn
        .query("select $1::int8 + 1", &[(&n, Type::INT8)])
        .await
        .unwrap();
    assert_eq!(rows[0].get::<_, i64>(0), 42);
    assert_eq!(db.round_trips() - before, 1);
    let prepared = conn
        .query("select count(*) from pg_prepared_statements", &[])
        .await
        .unwrap();
    assert_eq!(
        prepared[0].get::<_, i64>(0),
        0,
        "no named statement may stay on the server"
    );
}

#[tokio::test]
async fn pipelined_requests_count_as_one_round_trip() {
    let db = Db::new(config()).unwrap();
    let conn = db.conn().await.unwrap();
    let before = db.round_trips();
    let c = conn.client();
    let (a, b) = conn
        .run(1, async {
            let (a, b) = tokio::join!(
                c.query_typed("select 1", &[]),
                c.query_typed("select 2", &[])
            );
            Ok((a?, b?))
        })
        .await
        .unwrap();
    assert_eq!(a[0].get::<_, i32>(0) + b[0].get::<_, i32>(0), 3);
    assert_eq!(db.round_trips() - before, 1);
}

#[tokio::test]
async fn a_query_over_the_statement_timeout_is_cancelled_on_the_server() {
    let mut cfg = config();
    cfg.statement_timeout = Duration::from_millis(300);
    let db = Db::new(cfg).unwrap();
    let conn = db.conn().await.unwrap();
    let started = Instant::now();
    let err = conn
        .query("select pg_sleep(30) /* pglane-timeout-probe */", &[])
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::DbTimeout, "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    // The cancel request went to the server: the sleep is gone, and the connection still works.
    let mut still_running = 1;
    for _ in 0..50 {
        let rows = conn
            .query(
                "select count(*) from pg_stat_activity where query like '%pglane-timeout-probe%' and state = 'active' and pid <> pg_backend_pid()",
                &[],
            )
            .await
            .unwrap();
        still_running = rows[0].get::<_, i64>(0);
        if still_running == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(still_running, 0);
}

#[tokio::test]
async fn sql_errors_carry_their_code_sqlstate_and_table() {
    let db = Db::new(config()).unwrap();
    let conn = db.conn().await.unwrap();
    conn.batch(
        "create temporary table pglane_conflict_probe (email text primary key); \
         insert into pglane_conflict_probe values ('a@x.test')",
    )
    .await
    .unwrap();
    let email = "a@x.test".to_string();
    let err = conn
        .query(
            "insert into pglane_conflict_probe values ($1)",
            &[(&email, Type::TEXT)],
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Conflict);
    assert_eq!(err.sqlstate(), Some("23505"));
    assert!(
        err.message().contains("pglane_conflict_probe"),
        "{}",
        err.message()
    );
    let missing = conn
        .query("select * from pglane_no_such_table", &[])
        .await
        .unwrap_err();
    assert_eq!(missing.code(), ErrorCode::DbQuery);
    assert_eq!(missing.sqlstate(), Some("42P01"));
}

#[tokio::test]
async fn prepared_statements_are_planned_once_per_connection_and_only_where_allowed() {
    let db = preparing(config());
    let conn = db.conn().await.unwrap();
    let n: i64 = 1;
    let sql = "select $1::int8 + 1 /* pglane-prepared-probe */";
    let before = db.round_trips();
    conn.query(sql, &[(&n, Type::INT8)]).await.unwrap();
    assert_eq!(
        db.round_trips() - before,
        2,
        "prepare, then bind and execute"
    );
    let before = db.round_trips();
    let rows = conn.query(sql, &[(&n, Type::INT8)]).await.unwrap();
    assert_eq!(rows[0].get::<_, i64>(0), 2);
    assert_eq!(
        db.round_trips() - before,
        1,
        "the second call only binds and executes"
    );
    let prepared: i64 = conn
        .query(
            "select count(*) from pg_prepared_statements where strpos(statement, 'pglane-prepared' || '-probe') > 0",
            &[],
        )
        .await
        .unwrap()[0]
        .get(0);
    assert_eq!(prepared, 1);
    // Declared behind a transaction-mode pooler, `auto` never names a statement.
    let mut pooled = config();
    pooled.prepare = pglane::core::db::config::PrepareMode::Auto;
    pooled.pooler = pglane::core::db::config::PoolerMode::Transaction;
    assert!(!pooled.named_statements());
    pooled.pooler = pglane::core::db::config::PoolerMode::Auto;
    assert!(
        !pooled.named_statements(),
        "an undeclared pooler may be there"
    );
    pooled.pooler = pglane::core::db::config::PoolerMode::None;
    assert!(pooled.named_statements());
}

#[tokio::test]
async fn with_no_slot_left_a_second_connection_waits_for_the_first_instead_of_failing() {
    // A role that may hold one connection: its second one is refused (SQLSTATE 53300), as a
    // server out of slots refuses the 101st.
    let admin = Db::new(config()).unwrap();
    let role = format!(
        "pglane_one_slot_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    admin
        .execute_script(&format!(
            "create role {role} login password 'one-slot-pw' connection limit 1"
        ))
        .await
        .unwrap();
    let mut cfg = config();
    cfg.user = role.clone();
    cfg.password = Some("one-slot-pw".into());
    cfg.pool_size = 2;
    let db = Db::new(cfg).unwrap();
    let first = db.conn().await.unwrap();
    let waiter = {
        let db = db.clone();
        tokio::spawn(async move {
            let conn = db.conn().await?;
            conn.query("select 1", &[]).await.map(|_| ())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiter.is_finished(), "the second caller waits");
    drop(first);
    waiter.await.unwrap().unwrap();
    assert_eq!(db.pool_status().0, 1, "one connection served both");
    db.close();
    admin
        .execute_script(&format!("drop role {role}"))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_cleanup_of_many_rows_gets_its_own_plan_without_replanning_the_foreign_key_triggers() {
    // What the statement's triggers see of `plan_cache_mode`, one row per deleted row: the
    // setting reaches every cached query run inside the statement (foreign-key triggers
    // among them), so `force_custom_plan` there planned each of them again for every row.
    let db = preparing(config());
    let conn = db.conn().await.unwrap();
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let (table, seen) = (
        format!("pglane_pcm_{suffix}"),
        format!("pglane_pcm_seen_{suffix}"),
    );
    conn.batch(&format!(
        "create table {table} (id int primary key);
         create table {seen} (mode text);
         create function {table}_probe() returns trigger language plpgsql as $$
           begin insert into {seen} values (current_setting('plan_cache_mode')); return old; end $$;
         create trigger probe before delete on {table} for each row execute function {table}_probe();
         insert into {table} select generate_series(1, 200);"
    ))
    .await
    .unwrap();
    let sql = format!("delete from {table} where id = any($1) returning id");
    let few: Vec<i32> = vec![1, 2];
    let deleted = conn
        .query_guarded(&sql, &[(&few, Type::INT4_ARRAY)], false, false)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(deleted.len(), 2);
    assert_eq!(
        seen_modes(&conn, &seen).await,
        ["force_generic_plan"],
        "a test's few keys: the generic plan"
    );
    conn.batch(&format!("truncate {seen}")).await.unwrap();
    let many: Vec<i32> = (3..=200).collect();
    let deleted = conn
        .query_guarded(&sql, &[(&many, Type::INT4_ARRAY)], false, true)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(deleted.len(), 198);
    assert_eq!(
        seen_modes(&conn, &seen).await,
        ["auto"],
        "many rows: planned for them, triggers keep their plans"
    );
    let named: i64 = conn
        .query(
            "select count(*) from pg_prepared_statements where strpos(statement, $1) > 0",
            &[(&table, Type::TEXT)],
        )
        .await
        .unwrap()[0]
        .get(0);
    assert_eq!(
        named, 1,
        "only the few-keys call prepared the statement; many rows went unnamed"
    );
    conn.batch(&format!(
        "drop table {table}, {seen}; drop function {table}_probe()"
    ))
    .await
    .unwrap();
}

/// A handle that prepares statements, on one connection.
fn preparing(mut cfg: pglane::core::db::config::DbConfig) -> Db {
    cfg.prepare = pglane::core::db::config::PrepareMode::On;
    cfg.pool_size = 1;
    Db::new(cfg).unwrap()
}

/// `jit` on a connection of `db` and where its value came from (`pg_settings.source`); closes
/// `db`.
async fn jit_setting(db: Db) -> (String, String) {
    let rows = db
        .conn()
        .await
        .unwrap()
        .query(
            "select setting, source from pg_settings where name = 'jit'",
            &[],
        )
        .await
        .unwrap();
    db.close();
    (rows[0].get(0), rows[0].get(1))
}

/// The distinct values the probe trigger recorded.
async fn seen_modes(conn: &pglane::core::db::Conn, seen: &str) -> Vec<String> {
    let rows = conn
        .query(&format!("select distinct mode from {seen}"), &[])
        .await
        .unwrap();
    rows.iter().map(|r| r.get::<_, String>(0)).collect()
}

/// A URL's `options` reach the server with pglane's own (named statements' plan setting) and
/// win over them; a Unix socket directory written as libpq writes it in a URL connects.
#[tokio::test]
async fn url_options_and_a_socket_directory_reach_the_server() {
    let base = config();
    let mut cfg = base.clone();
    cfg.options = Some("-c search_path=pglane_probe,public -c work_mem=5MB".into());
    let db = preparing(cfg);
    let conn = db.conn().await.unwrap();
    let rows = conn
        .query(
            "select current_setting('search_path'), current_setting('work_mem'), current_setting('plan_cache_mode'), current_setting('jit')",
            &[],
        )
        .await
        .unwrap();
    let got: (String, String, String, String) = (
        rows[0].get(0),
        rows[0].get(1),
        rows[0].get(2),
        rows[0].get(3),
    );
    assert_eq!(
        got,
        (
            "pglane_probe,public".to_string(),
            "5MB".to_string(),
            "force_generic_plan".to_string(),
            "off".to_string()
        )
    );
    // JIT is off on connections declared direct, so the catalog read finds it off and
    // cleanups need no transaction to turn it off; the caller's `options` still win.
    let direct = preparing(base.clone());
    let (graph, _) = direct.graph_for(Freshness::Cached).await.unwrap();
    assert!(!graph.jit);
    direct.close();
    let mut jit_on = base.clone();
    jit_on.options = Some("-c jit=on".into());
    assert_eq!(jit_setting(preparing(jit_on)).await.0, "on");
    let mut undeclared = base.clone();
    undeclared.prepare = pglane::core::db::config::PrepareMode::Off;
    undeclared.pooler = pglane::core::db::config::PoolerMode::Auto;
    let (_, source) = jit_setting(Db::new(undeclared).unwrap()).await;
    assert_ne!(
        source, "client",
        "a connection that may be pooled keeps the server's setting"
    );
    // A relative directory is the data directory's (the test server's: `npm test` has it
    // listen on `.` besides TCP); reading `data_directory` takes a superuser.
    let row = &conn
        .query(
            "select current_setting('unix_socket_directories'), \
                    case when pg_has_role('pg_read_all_settings', 'member') \
                         then current_setting('data_directory') end",
            &[],
        )
        .await
        .unwrap()[0];
    let (dirs, data_dir): (String, Option<String>) = (row.get(0), row.get(1));
    let Some(dir) = dirs
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty() && !d.starts_with('@'))
        .find_map(|d| match (d.starts_with('/'), &data_dir) {
            (true, _) => Some(d.to_string()),
            (false, Some(data)) => Some(format!("{data}/{d}")),
            (false, None) => None,
        })
    else {
        eprintln!("skipped the socket half: the server listens on no Unix socket");
        return;
    };
    let dir = dir.as_str();
    if !base.host.starts_with("127.") && base.host != "localhost" {
        eprintln!("skipped the socket half: the server is not on this machine");
        return;
    }
    let user = utf8_percent_encode(&base.user, NON_ALPHANUMERIC);
    let password = base
        .password
        .as_deref()
        .map(|p| format!(":{}", utf8_percent_encode(p, NON_ALPHANUMERIC)))
        .unwrap_or_default();
    let encoded_dir = utf8_percent_encode(dir, NON_ALPHANUMERIC);
    let urls = [
        format!(
            "postgres://{user}{password}@/{}?host={encoded_dir}&port={}&sslmode=disable",
            base.dbname, base.port
        ),
        // `sslmode` as a URL or PGSSLMODE gives it: the default, and `require` (meant for a
        // hosted database), which a socket ignores as libpq's do.
        format!(
            "postgres://{user}{password}@{encoded_dir}:{}/{}",
            base.port, base.dbname
        ),
        format!(
            "postgres://{user}{password}@/{}?host={encoded_dir}&port={}&sslmode=require",
            base.dbname, base.port
        ),
    ];
    for url in urls {
        let cfg = pglane::core::db::config::DbConfig::from_url(&url).unwrap();
        assert!(cfg.is_unix_socket());
        let info = Db::new(cfg).unwrap().server_info().await.unwrap();
        assert_eq!(info.user, base.user);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_reads_hold_while_another_session_creates_and_drops_tables() {
    // The catalog queries' rows come from their snapshot, but `pg_get_constraintdef` (CHECK
    // constraints; `pg_get_expr` before PostgreSQL 17) opens each table as it is now: a table dropped in between made the
    // whole read fail with XX000 "could not open relation with OID" (seen in CI, where tests
    // create and drop schemas side by side).
    let s = format!("churn_{}", uuid::Uuid::new_v4().simple());
    let _guard = crate::support::SchemaGuard::new(&[&s]);
    let db = Db::new(config()).unwrap();
    db.execute_script(&format!("create schema {s}"))
        .await
        .unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let churn = {
        let (stop, s) = (stop.clone(), s.clone());
        tokio::spawn(async move {
            let other = Db::new(config()).unwrap();
            let conn = other.conn().await.unwrap();
            let mut made = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let batch: String = (0..20)
                    .map(|i| {
                        format!(
                            "create table {s}.p{i} (a int not null default 1 + 1 check (a > 0), b text check (b <> '')) \
                             partition by range (a); \
                             create table {s}.c{i} partition of {s}.p{i} for values from (0) to (10);"
                        )
                    })
                    .collect();
                // The drop holds its lock a while before it commits: a catalog read that
                // still sees the tables waits for it, then finds them gone.
                let dropped: String = (0..20).map(|i| format!("drop table {s}.p{i};")).collect();
                conn.batch(&batch).await.unwrap();
                conn.batch(&format!("begin; {dropped} select pg_sleep(0.02); commit"))
                    .await
                    .unwrap();
                made += 40;
            }
            made
        })
    };
    for _ in 0..60 {
        let (graph, _) = db.graph_for(Freshness::Fresh).await.unwrap();
        db.table_facts(&graph).await.unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let made = churn.await.unwrap();
    assert!(
        made > 0,
        "the other session made no tables while the catalog was read"
    );
}
