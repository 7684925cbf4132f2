//! Queries from tests (`Db::query_json`) against a real PostgreSQL: rows as `to_json` makes
//! them, parameters whose types the server infers, one round trip, no named statement.

use crate::support::{db, SchemaGuard};
use pglane::core::db::query::Expect;
use pglane::core::ErrorCode;
use serde_json::json;

async fn setup(schema: &str) -> (pglane::core::db::Db, SchemaGuard) {
    let db = db();
    let guard = SchemaGuard::new(&[schema]);
    db.conn()
        .await
        .unwrap()
        .batch(&format!(
            "drop schema if exists {schema} cascade; create schema {schema};
             create type {schema}.mood as enum ('calm', 'busy');
             create table {schema}.tasks (
               id bigserial primary key,
               ref uuid not null default gen_random_uuid(),
               title text not null,
               mood {schema}.mood not null default 'calm',
               tags text[] not null default '{{}}',
               points numeric(6,2),
               meta jsonb,
               due date,
               done_at timestamptz
             );"
        ))
        .await
        .unwrap();
    (db, guard)
}

#[tokio::test]
async fn rows_come_back_as_to_json_makes_them_in_one_round_trip_without_named_statements() {
    let (db, _guard) = setup("pglane_q_rows").await;
    let before = db.round_trips();
    let inserted = db
        .query_json(
            "insert into pglane_q_rows.tasks (title, mood, tags, points, meta, due, done_at)
             values ($1, $2, $3, $4, $5, $6, $7) returning *",
            &[
                json!("Write docs"),
                json!("busy"),
                json!(["a", "b,c", "d\"e"]),
                json!(12.5),
                json!({ "k": [1, 2] }),
                json!("2024-05-01"),
                json!("2024-05-01T10:00:00Z"),
            ],
            Expect::One,
        )
        .await
        .unwrap();
    assert_eq!(db.round_trips() - before, 1, "one round trip");
    assert_eq!(inserted.row_count, 1);
    let row = &inserted.rows[0];
    assert_eq!(row["title"], "Write docs");
    assert_eq!(row["mood"], "busy", "an enum, with no type lookup");
    assert_eq!(row["tags"], json!(["a", "b,c", "d\"e"]));
    assert_eq!(row["points"], json!(12.5));
    assert_eq!(row["meta"], json!({ "k": [1, 2] }));
    assert_eq!(row["due"], "2024-05-01");
    assert!(row["done_at"].as_str().unwrap().starts_with("2024-05-01T"));
    assert!(row["id"].is_number());

    // Parameters are inferred from their use: a uuid, a bigint, a text[] for `any`.
    let by_ref = db
        .query_json(
            "select id, title from pglane_q_rows.tasks where ref = $1 and id = $2 and title = any($3)",
            &[row["ref"].clone(), row["id"].clone(), json!(["Write docs", "x"])],
            Expect::One,
        )
        .await
        .unwrap();
    assert_eq!(
        by_ref.rows,
        vec![json!({ "id": row["id"], "title": "Write docs" })]
    );

    let conn = db.conn().await.unwrap();
    let prepared = conn
        .query("select count(*) from pg_prepared_statements", &[])
        .await
        .unwrap();
    assert_eq!(prepared[0].get::<_, i64>(0), 0);
}

#[tokio::test]
async fn statements_that_give_no_rows_report_what_they_changed() {
    let (db, _guard) = setup("pglane_q_count").await;
    for title in ["a", "b", "c"] {
        db.query_json(
            "insert into pglane_q_count.tasks (title) values ($1)",
            &[json!(title)],
            Expect::Any,
        )
        .await
        .unwrap();
    }
    let updated = db
        .query_json(
            "update pglane_q_count.tasks set points = $1 where title <> $2",
            &[json!(1), json!("a")],
            Expect::Any,
        )
        .await
        .unwrap();
    assert_eq!((updated.rows.len(), updated.row_count), (0, 2));
    let with_cte = db
        .query_json(
            "with gone as (delete from pglane_q_count.tasks where title = $1 returning id) \
             select count(*)::int as n from gone",
            &[json!("c")],
            Expect::One,
        )
        .await
        .unwrap();
    assert_eq!(with_cte.rows, vec![json!({ "n": 1 })]);
    let shown = db
        .query_json("show server_version_num", &[], Expect::One)
        .await
        .unwrap();
    assert!(shown.rows[0]["server_version_num"].is_string());
    let none = db
        .query_json(
            "select * from pglane_q_count.tasks where title = $1",
            &[json!("nope")],
            Expect::Any,
        )
        .await
        .unwrap();
    assert_eq!((none.rows.len(), none.row_count), (0, 0));
}

#[tokio::test]
async fn expectations_and_mistakes_have_codes() {
    let (db, _guard) = setup("pglane_q_err").await;
    let err = db
        .query_json("select * from pglane_q_err.tasks", &[], Expect::One)
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::RowCount);
    assert!(err.message().contains("returned 0"), "{}", err.message());
    let err = db
        .query_json(
            "select * from pglane_q_err.missing where id = $1",
            &[json!(1)],
            Expect::Any,
        )
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), err.sqlstate()),
        (ErrorCode::DbQuery, Some("42P01"))
    );
    let err = db
        .query_json(
            "insert into pglane_q_err.tasks (title) values (null) returning id",
            &[],
            Expect::Any,
        )
        .await
        .unwrap_err();
    assert_eq!(err.sqlstate(), Some("23502"));
    let err = db
        .query_json("select 1; select 2", &[], Expect::Any)
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::DbQuery);
    assert!(err.message().contains("one statement"), "{}", err.message());
}
