//! Cleanup on schema shapes real applications have and the reference app does not: foreign keys
//! declared on one partition, lane rows behind `ON DELETE SET NULL`, tables whose names hold
//! dots, tables dropped after their rows were tracked, lane-named rows no foreign key ties to
//! anything tracked, and statements big enough for Postgres to JIT-compile them.

use crate::support::{db, SchemaGuard};
use pglane::core::cleanup::{cleanup_pattern, cleanup_tracked, find_leaks, CleanupOptions};
use pglane::core::db::catalog::Freshness;
use pglane::core::db::Db;
use pglane::core::lane::context::{ContextSettings, TestIdentity};
use pglane::core::lane::naming::LaneScope;
use pglane::core::lane::tracker::{LaneInfo, ResourceTracker};
use pglane::core::lane::WorkerContext;
use pglane::core::ErrorCode;
use serde_json::json;

/// A fresh schema, and the guard that drops it.
async fn schema(db: &Db) -> (String, SchemaGuard) {
    let name = format!("shape_{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let guard = SchemaGuard::new(&[&name]);
    run(db, &format!("create schema {name}")).await;
    (name, guard)
}

/// A test's context in a run of its own.
fn context(test: &str) -> WorkerContext {
    let settings = ContextSettings {
        run_id: Some(pglane::core::lane::naming::generate_run_id()),
        ..Default::default()
    };
    let identity = TestIdentity {
        worker_index: Some(3),
        test_id: Some(test.into()),
        ..Default::default()
    };
    WorkerContext::create(identity, &settings).unwrap()
}

async fn run(db: &Db, sql: &str) {
    db.execute_script(sql).await.unwrap();
}

async fn count(db: &Db, sql: &str) -> i64 {
    db.conn().await.unwrap().query(sql, &[]).await.unwrap()[0].get(0)
}

async fn tracker_of(
    db: &Db,
    ctx: &WorkerContext,
    rows: &[(&str, serde_json::Value)],
) -> ResourceTracker {
    let tracker = ResourceTracker::new(LaneInfo::of(ctx));
    let (graph, _) = db.graph_for(Freshness::Fresh).await.unwrap();
    for (table, key) in rows {
        tracker.track(&graph, table, key).unwrap();
    }
    tracker
}

#[tokio::test]
async fn a_foreign_key_declared_on_one_partition_is_followed_and_the_partition_can_be_tracked() {
    let db = db();
    let (s, _guard) = schema(&db).await;
    run(
        &db,
        &format!(
            "create table {s}.p (id int primary key);
             create table {s}.e (id int, at date not null, p_id int not null, primary key (at, id)) partition by range (at);
             create table {s}.e22 partition of {s}.e for values from ('2022-01-01') to ('2023-01-01');
             create table {s}.e23 partition of {s}.e for values from ('2023-01-01') to ('2024-01-01');
             alter table {s}.e22 add foreign key (p_id) references {s}.p (id);
             insert into {s}.p values (1), (2);
             insert into {s}.e values (1, '2022-05-01', 1), (2, '2022-06-01', 2), (3, '2023-05-01', 1);"
        ),
    )
    .await;
    let ctx = context("partition");
    let tracker = tracker_of(&db, &ctx, &[(&format!("{s}.p"), json!(1))]).await;
    let report = cleanup_tracked(&db, &tracker, CleanupOptions::default())
        .await
        .unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert!(!report.fallback);
    assert_eq!(report.verified, Some(true));
    assert!(report.round_trips <= 2, "{}", report.round_trips);
    assert_eq!(count(&db, &format!("select count(*) from {s}.p")).await, 1);
    assert_eq!(
        count(
            &db,
            &format!("select count(*) from {s}.e where p_id = 1 and at < '2023-01-01'")
        )
        .await,
        0,
        "the row behind the partition's foreign key went"
    );
    assert_eq!(
        count(&db, &format!("select count(*) from {s}.e where p_id = 2")).await,
        1,
        "another lane's row stayed"
    );
    // A partition is a table of its own: its rows can be tracked by its name.
    let by_partition = tracker_of(
        &db,
        &ctx,
        &[(&format!("{s}.e22"), json!(["2022-06-01", 2]))],
    )
    .await;
    let report = cleanup_tracked(&db, &by_partition, CleanupOptions::default())
        .await
        .unwrap();
    assert_eq!(report.verified, Some(true), "{:?}", report);
    assert_eq!(
        count(&db, &format!("select count(*) from {s}.e22")).await,
        0
    );
}

#[tokio::test]
async fn a_lane_row_behind_set_null_goes_and_a_shared_one_stays() {
    let db = db();
    let (s, _guard) = schema(&db).await;
    run(
        &db,
        &format!(
            "create table {s}.projects (id int primary key, name text not null);
             create table {s}.notes (id int primary key, project_id int references {s}.projects (id) on delete set null, title text);
             create table {s}.pins (id int primary key, note_id int not null references {s}.notes (id), label text);"
        ),
    )
    .await;
    let ctx = context("set-null");
    let lane = ctx.lane();
    let conn = db.conn().await.unwrap();
    conn.query(
        &format!("insert into {s}.projects values (1, $1)"),
        &[(
            &lane.name("Project").unwrap(),
            tokio_postgres::types::Type::TEXT,
        )],
    )
    .await
    .unwrap();
    let mine = lane.name("made in the UI").unwrap();
    // An audit trigger's text: the name inside it, not at its start.
    let audit = format!("created {}", lane.name("Project").unwrap());
    // Another test's name inside a note of this project: not this lane's row.
    let other = format!(
        "see {}",
        context("set-null").lane().name("Project").unwrap()
    );
    conn.query(
        &format!(
            "insert into {s}.notes values (10, 1, $1), (11, 1, 'a shared note that points at it'), (12, 1, $2), (13, 1, $3)"
        ),
        &[
            (&mine, tokio_postgres::types::Type::TEXT),
            (&audit, tokio_postgres::types::Type::TEXT),
            (&other, tokio_postgres::types::Type::TEXT),
        ],
    )
    .await
    .unwrap();
    conn.batch(&format!("insert into {s}.pins values (100, 10, 'pinned')"))
        .await
        .unwrap();
    drop(conn);
    let tracker = tracker_of(&db, &ctx, &[(&format!("{s}.projects"), json!(1))]).await;
    let report = cleanup_tracked(&db, &tracker, CleanupOptions::default())
        .await
        .unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!(report.verified, Some(true));
    assert_eq!(report.round_trips, 1);
    assert_eq!(
        count(
            &db,
            &format!("select count(*) from {s}.notes where id = 10")
        )
        .await,
        0,
        "the lane's note went"
    );
    assert_eq!(
        count(
            &db,
            &format!("select count(*) from {s}.notes where id = 12")
        )
        .await,
        0,
        "so did the note with the lane's name inside its text"
    );
    assert_eq!(
        count(&db, &format!("select count(*) from {s}.pins")).await,
        0,
        "with what hangs on it"
    );
    assert_eq!(
        count(
            &db,
            &format!("select count(*) from {s}.notes where id in (11, 13) and project_id is null")
        )
        .await,
        2,
        "notes without the lane's name (another test's instead) outlive their project, as the schema says"
    );
}

#[tokio::test]
async fn a_table_name_with_a_dot_is_kept_exactly_and_a_dropped_table_fails_alone() {
    let db = db();
    let (s, _guard) = schema(&db).await;
    run(
        &db,
        &format!(
            "create table {s}.\"Invoice.Items\" (id int primary key);
             create table {s}.gone (id int primary key);
             create table {s}.plain (id int primary key);
             insert into {s}.\"Invoice.Items\" values (1); insert into {s}.gone values (1); insert into {s}.plain values (1);"
        ),
    )
    .await;
    let ctx = context("dotted");
    let tracker = tracker_of(
        &db,
        &ctx,
        &[
            (&format!("\"{s}\".\"Invoice.Items\""), json!(1)),
            (&format!("{s}.gone"), json!(1)),
            (&format!("{s}.plain"), json!(1)),
        ],
    )
    .await;
    assert_eq!(tracker.list()[0].table.name, "Invoice.Items");
    // It survives an export and an import.
    let tracker = ResourceTracker::import(&tracker.export()).unwrap();
    run(&db, &format!("drop table {s}.gone")).await;
    let report = cleanup_tracked(&db, &tracker, CleanupOptions::default())
        .await
        .unwrap();
    assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
    assert_eq!(report.failures[0].code, ErrorCode::UnknownTable);
    assert_eq!(report.failures[0].tables, vec![format!("{s}.gone")]);
    assert_eq!(report.verified, Some(false));
    assert_eq!(
        count(&db, &format!("select count(*) from {s}.\"Invoice.Items\"")).await,
        0
    );
    assert_eq!(
        count(&db, &format!("select count(*) from {s}.plain")).await,
        0
    );
    assert_eq!(
        tracker.count(),
        1,
        "only the row of the dropped table stays tracked"
    );
}

#[tokio::test]
async fn a_lane_named_row_nothing_tracked_is_found_and_swept_on_any_schema() {
    let db = db();
    let (s, _guard) = schema(&db).await;
    run(
        &db,
        &format!(
            "create table {s}.tags (id int primary key, label varchar(200) not null);
             create table {s}.audit (id bigint primary key, note text);"
        ),
    )
    .await;
    let ctx = context("untracked");
    let lane = ctx.lane();
    let conn = db.conn().await.unwrap();
    for (id, label) in [
        (1, lane.name("orphan").unwrap()),
        (2, "app data".to_string()),
    ] {
        conn.query(
            &format!("insert into {s}.tags values ($1, $2)"),
            &[
                (&id, tokio_postgres::types::Type::INT4),
                (&label, tokio_postgres::types::Type::TEXT),
            ],
        )
        .await
        .unwrap();
    }
    conn.query(
        &format!("insert into {s}.audit values (1, $1)"),
        &[(
            &lane.email("auditor").unwrap(),
            tokio_postgres::types::Type::TEXT,
        )],
    )
    .await
    .unwrap();
    drop(conn);
    db.graph_for(Freshness::Fresh).await.unwrap();
    let pattern = ctx.pattern(LaneScope::Test);
    let leaks = find_leaks(&db, &pattern, None).await.unwrap();
    let leaked = |t: &str| {
        leaks
            .iter()
            .find(|c| c.table == format!("{s}.{t}"))
            .map(|c| c.rows)
    };
    assert_eq!(leaked("tags"), Some(1), "{leaks:?}");
    assert_eq!(leaked("audit"), Some(1), "{leaks:?}");
    let report = cleanup_pattern(&db, &pattern, None, CleanupOptions::default(), true)
        .await
        .unwrap();
    assert_eq!(report.verified, Some(true));
    assert!(find_leaks(&db, &pattern, None).await.unwrap().is_empty());
    assert_eq!(
        count(&db, &format!("select count(*) from {s}.tags")).await,
        1,
        "the app's row stays"
    );
}

#[tokio::test]
async fn cleanup_statements_run_with_jit_off_and_leave_the_session_as_it_was() {
    let db = db();
    let (s, _guard) = schema(&db).await;
    // A trigger records the setting the cleanup statement runs with.
    run(
        &db,
        &format!(
            "create table {s}.seen (jit text);
             create table {s}.parents (id int primary key);
             create function {s}.record() returns trigger language plpgsql as $$
             begin
               insert into {s}.seen values (current_setting('jit'));
               return old;
             end $$;
             create trigger record before delete on {s}.parents for each row execute function {s}.record();
             insert into {s}.parents values (1);"
        ),
    )
    .await;
    let ctx = context("jit");
    let tracker = tracker_of(&db, &ctx, &[(&format!("{s}.parents"), json!(1))]).await;
    let report = cleanup_tracked(&db, &tracker, CleanupOptions::default())
        .await
        .unwrap();
    assert_eq!(report.verified, Some(true), "{report:?}");
    assert_eq!(report.round_trips, 1);
    let (a, b) = (db.conn().await.unwrap(), db.conn().await.unwrap());
    let jit: String = a
        .query(&format!("select jit from {s}.seen"), &[])
        .await
        .unwrap()[0]
        .get(0);
    // A server without a JIT provider (the embedded one) cannot compile: nothing to turn off,
    // and the statement goes alone. `__test__/jit.test.mjs` runs this on a server with one.
    let (graph, _) = db.graph_for(Freshness::Cached).await.unwrap();
    assert_eq!(jit, if graph.jit { "off" } else { "on" });
    // `set local` ended with the statement's transaction, on whichever connection ran it.
    for conn in [&a, &b] {
        let same: bool = conn
            .query(
                "select current_setting('jit') = (select reset_val from pg_settings where name = 'jit')",
                &[],
            )
            .await
            .unwrap()[0]
            .get(0);
        assert!(same, "a pooled connection kept the cleanup's setting");
    }
}

#[tokio::test]
async fn a_deferred_foreign_key_fails_its_own_group_in_the_fallback_and_the_rest_goes() {
    let db = db();
    let (s, _guard) = schema(&db).await;
    run(
        &db,
        &format!(
            "create table {s}.parents (id int primary key);
             create table {s}.kids (id int primary key,
               parent_id int not null references {s}.parents (id) deferrable initially deferred);
             create table {s}.loose (id int primary key);
             insert into {s}.parents values (1); insert into {s}.kids values (1, 1); insert into {s}.loose values (1);"
        ),
    )
    .await;
    let ctx = context("deferred");
    let tracker = tracker_of(
        &db,
        &ctx,
        &[
            (&format!("{s}.parents"), json!(1)),
            (&format!("{s}.loose"), json!(1)),
        ],
    )
    .await;
    let options = CleanupOptions {
        include_dependents: false,
        ..CleanupOptions::default()
    };
    let report = cleanup_tracked(&db, &tracker, options).await.unwrap();
    assert!(report.fallback);
    assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
    assert_eq!(report.failures[0].tables, vec![format!("{s}.parents")]);
    assert_eq!(report.failures[0].code, ErrorCode::ForeignKeyViolation);
    assert_eq!(
        count(&db, &format!("select count(*) from {s}.loose")).await,
        0,
        "the rest went"
    );
    assert_eq!(
        count(&db, &format!("select count(*) from {s}.parents")).await,
        1
    );
}
