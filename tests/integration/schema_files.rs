//! Schema files against a real PostgreSQL: applied once per database and recorded, changed
//! files refused or re-applied as asked, failures named by file, line and statement with
//! nothing left behind, and concurrent appliers applying each file once.

use crate::support::{db, SchemaGuard};
use pglane::core::db::Db;
use pglane::core::runs::registry::ensure_schema;
use pglane::core::runs::schema_files::{apply, FileStatus, OnChange, SchemaFile};
use pglane::core::ErrorCode;

fn file(name: &str, sql: &str) -> SchemaFile {
    SchemaFile {
        name: name.into(),
        sql: sql.into(),
        on_change: OnChange::Error,
    }
}

async fn forget(db: &Db, prefix: &str) {
    ensure_schema(db).await.unwrap();
    db.conn()
        .await
        .unwrap()
        .batch(&format!(
            "delete from pglane.schema_files where name like '{prefix}%'"
        ))
        .await
        .unwrap();
}

async fn tables_in(db: &Db, schema: &str) -> i64 {
    let conn = db.conn().await.unwrap();
    let s = schema.to_string();
    conn.query(
        "select count(*) from pg_tables where schemaname = $1",
        &[(&s, tokio_postgres::types::Type::TEXT)],
    )
    .await
    .unwrap()[0]
        .get(0)
}

#[tokio::test]
async fn a_file_is_applied_once_per_database_and_the_second_run_costs_one_round_trip() {
    let db = db();
    let _guard = SchemaGuard::new(&["sf_once"]);
    forget(&db, "sf_once/").await;
    let files = [
        file("sf_once/schema.sql", "create schema sf_once;\ncreate table sf_once.users (id int primary key);"),
        file("sf_once/more.sql", "create table sf_once.projects (id int primary key, owner int references sf_once.users);"),
    ];
    let first = apply(&db, &files, "run-a", true).await.unwrap();
    assert!(
        first.iter().all(|o| o.status == FileStatus::Applied),
        "{first:?}"
    );
    assert_eq!(tables_in(&db, "sf_once").await, 2);

    let before = db.round_trips();
    let second = apply(&db, &files, "run-b", true).await.unwrap();
    assert!(
        second.iter().all(|o| o.status == FileStatus::Unchanged),
        "{second:?}"
    );
    assert_eq!(db.round_trips() - before, 1);
}

#[tokio::test]
async fn a_changed_file_is_refused_unless_it_may_run_again() {
    let db = db();
    let _guard = SchemaGuard::new(&["sf_change"]);
    forget(&db, "sf_change/").await;
    let v1 = file(
        "sf_change/schema.sql",
        "create schema if not exists sf_change;\ncreate or replace view sf_change.v as select 1 as one;",
    );
    apply(&db, std::slice::from_ref(&v1), "run-a", true)
        .await
        .unwrap();
    let mut v2 = v1.clone();
    v2.sql = "create schema if not exists sf_change;\ncreate or replace view sf_change.v as select 1 as one, 2 as two;".into();
    let err = apply(&db, &[v2.clone()], "run-b", true).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::SchemaFile);
    assert!(
        err.message()
            .contains("sf_change/schema.sql changed since it was applied"),
        "{}",
        err.message()
    );
    assert!(
        err.message().contains("onChange: 'reapply'"),
        "{}",
        err.message()
    );

    v2.on_change = OnChange::Skip;
    let skipped = apply(&db, &[v2.clone()], "run-b", true).await.unwrap();
    assert_eq!(skipped[0].status, FileStatus::ChangedSkipped);

    v2.on_change = OnChange::Reapply;
    let again = apply(&db, &[v2.clone()], "run-b", true).await.unwrap();
    assert_eq!(again[0].status, FileStatus::Reapplied);
    let two = db
        .conn()
        .await
        .unwrap()
        .query("select two from sf_change.v", &[])
        .await
        .unwrap();
    assert_eq!(two[0].get::<_, i32>(0), 2);
    let unchanged = apply(&db, &[v2], "run-c", true).await.unwrap();
    assert_eq!(unchanged[0].status, FileStatus::Unchanged);
}

#[tokio::test]
async fn a_failing_file_names_its_line_and_statement_and_leaves_nothing_behind() {
    let db = db();
    let _guard = SchemaGuard::new(&["sf_fail"]);
    forget(&db, "sf_fail/").await;
    let good = file(
        "sf_fail/a.sql",
        "create schema sf_fail;\ncreate table sf_fail.kept (id int);",
    );
    // No error position: "already exists" is found by running the statements one by one.
    let bad = file(
        "sf_fail/b.sql",
        "-- tables\ncreate table sf_fail.users (id int);\n\ncreate table sf_fail.users (\n  id int\n);\ncreate table sf_fail.after (id int);",
    );
    let err = apply(&db, &[good.clone(), bad], "run-a", true)
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::SchemaFile);
    assert_eq!(err.sqlstate(), Some("42P07"));
    assert!(
        err.message().starts_with(
            "sf_fail/b.sql:4: relation \"users\" already exists (in `create table sf_fail.users ( id int )`)"
        ),
        "{}",
        err.message()
    );
    assert_eq!(
        tables_in(&db, "sf_fail").await,
        0,
        "the first file went too"
    );

    // A syntax error: Postgres gives the position.
    let typo = file(
        "sf_fail/c.sql",
        "create schema sf_fail;\nselect 1;\ncreate tabel sf_fail.t (id int);",
    );
    let err = apply(&db, &[typo], "run-a", true).await.unwrap_err();
    assert_eq!(err.sqlstate(), Some("42601"));
    assert!(
        err.message()
            .starts_with("sf_fail/c.sql:3: syntax error at or near \"tabel\" (in `create tabel sf_fail.t (id int)`)"),
        "{}",
        err.message()
    );

    // Fixed, it applies; the file that failed was never recorded.
    let fixed = file("sf_fail/b.sql", "create table sf_fail.users (id int);");
    let outcomes = apply(&db, &[good, fixed], "run-a", true).await.unwrap();
    assert!(outcomes.iter().all(|o| o.status == FileStatus::Applied));
    assert_eq!(tables_in(&db, "sf_fail").await, 2);
}

#[tokio::test]
async fn two_runs_starting_at_once_apply_a_file_once() {
    let (a, b) = (db(), db());
    let _guard = SchemaGuard::new(&["sf_race"]);
    forget(&a, "sf_race/").await;
    // Not idempotent: a second application would fail.
    let files = [file(
        "sf_race/schema.sql",
        "create schema sf_race;\ncreate table sf_race.t (id int);",
    )];
    let (x, y) = tokio::join!(
        apply(&a, &files, "run-x", true),
        apply(&b, &files, "run-y", true)
    );
    let mut statuses = vec![x.unwrap()[0].status, y.unwrap()[0].status];
    statuses.sort_by_key(|s| s.as_str());
    assert_eq!(statuses, vec![FileStatus::Applied, FileStatus::Unchanged]);
}

#[tokio::test]
async fn without_a_record_every_run_applies_the_files() {
    let db = db();
    let _guard = SchemaGuard::new(&["sf_unrecorded"]);
    ensure_schema(&db).await.unwrap();
    let files = [file(
        "sf_unrecorded/schema.sql",
        "create schema if not exists sf_unrecorded;\ncreate table if not exists sf_unrecorded.t (id int);",
    )];
    for _ in 0..2 {
        let o = apply(&db, &files, "run", false).await.unwrap();
        assert_eq!(o[0].status, FileStatus::AppliedUnrecorded);
    }
    let conn = db.conn().await.unwrap();
    let n: i64 = conn
        .query(
            "select count(*) from pglane.schema_files where name like 'sf_unrecorded/%'",
            &[],
        )
        .await
        .unwrap()[0]
        .get(0);
    assert_eq!(n, 0);
}

#[tokio::test]
async fn once_the_pglane_schema_exists_checking_it_costs_one_round_trip() {
    let db = db();
    let status = ensure_schema(&db).await.unwrap();
    assert!(status.ready, "{status:?}");
    let before = db.round_trips();
    let again = ensure_schema(&db).await.unwrap();
    assert_eq!((again.ready, again.missing), (true, None));
    assert_eq!(db.round_trips() - before, 1);
}
