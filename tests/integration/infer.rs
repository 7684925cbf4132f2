//! Inferred factories against a real PostgreSQL, on the hostile schema of the cleanup tests
//! and on schemas made to corner inference: every table with a foreign key is created with no
//! attributes, its required parents built in the same statement, and cleanup removes exactly
//! what was created.

use crate::cleanup::{names, schema_sql};
use crate::support::{db, SchemaGuard};
use pglane::core::cleanup::{cleanup_tracked, CleanupOptions};
use pglane::core::db::catalog::Freshness;
use pglane::core::db::Db;
use pglane::core::factory::definition::FactoryRegistry;
use pglane::core::factory::{self, CallOptions, FactoryCall, Fill};
use pglane::core::lane::context::{ContextSettings, TestIdentity};
use pglane::core::lane::naming::generate_run_id;
use pglane::core::lane::tracker::{LaneInfo, ResourceTracker};
use pglane::core::lane::WorkerContext;
use pglane::core::{ErrorCode, Result};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use tokio_postgres::types::Type;

fn context() -> WorkerContext {
    WorkerContext::create(
        TestIdentity {
            worker_index: Some(5),
            ..Default::default()
        },
        &ContextSettings {
            run_id: Some(generate_run_id()),
            ..Default::default()
        },
    )
    .unwrap()
}

async fn create(
    db: &Db,
    ctx: &WorkerContext,
    tracker: &ResourceTracker,
    name: &str,
    attrs: Value,
    options: CallOptions,
) -> Result<Value> {
    let call = FactoryCall::new(name.to_string(), Some(attrs), Vec::new(), None)?;
    factory::create_with(db, &FactoryRegistry::empty(), ctx, tracker, &call, &options).await
}

/// A fresh schema made by `ddl` (given its name), with a guard that drops it.
async fn schema_with(ddl: impl FnOnce(&str) -> String) -> (Db, String, SchemaGuard) {
    let db = db();
    let (s, _) = names();
    let guard = SchemaGuard::new(&[&s]);
    db.execute_script(&ddl(&s)).await.unwrap();
    (db, s, guard)
}

/// Rows per table (each table's own rows) of `schemas`.
async fn counts(db: &Db, schemas: &[&str]) -> BTreeMap<String, i64> {
    let conn = db.conn().await.unwrap();
    let schemas: Vec<String> = schemas.iter().map(|s| s.to_string()).collect();
    let tables = conn
        .query(
            "select format('%I.%I', n.nspname, c.relname), n.nspname || '.' || c.relname
             from pg_class c join pg_namespace n on n.oid = c.relnamespace
             where c.relkind = 'r' and n.nspname = any($1::text[]) order by 2",
            &[(&schemas, Type::TEXT_ARRAY)],
        )
        .await
        .unwrap();
    let mut out = BTreeMap::new();
    for t in tables {
        let (quoted, name): (String, String) = (t.get(0), t.get(1));
        let n: i64 = conn
            .query(&format!("select count(*) from only {quoted}"), &[])
            .await
            .unwrap()[0]
            .get(0);
        out.insert(name, n);
    }
    out
}

fn diff(before: &BTreeMap<String, i64>, after: &BTreeMap<String, i64>) -> BTreeMap<String, u64> {
    after
        .iter()
        .filter_map(|(t, n)| {
            let d = n - before.get(t).copied().unwrap_or(0);
            (d != 0).then_some((t.clone(), d as u64))
        })
        .collect()
}

/// A row created with no attributes, its tracker, and the row counts per table around it.
struct Created {
    tracker: ResourceTracker,
    before: BTreeMap<String, i64>,
    row: Value,
    created: BTreeMap<String, u64>,
}

/// Creates a row of `table` with no attributes, counting the rows of `schemas` before and after.
async fn create_counted(db: &Db, schemas: &[&str], table: &str) -> Created {
    let ctx = context();
    let tracker = ResourceTracker::new(LaneInfo::of(&ctx));
    let before = counts(db, schemas).await;
    let row = create(db, &ctx, &tracker, table, json!({}), CallOptions::default())
        .await
        .unwrap_or_else(|e| panic!("create {table}: {e:?}"));
    let created = diff(&before, &counts(db, schemas).await);
    Created {
        tracker,
        before,
        row,
        created,
    }
}

/// Creates `table` with no attributes and cleans up: the rows created per table, checked to be
/// exactly what cleanup deleted, and nothing left.
async fn create_and_clean(
    db: &Db,
    schemas: &[&str],
    table: &str,
) -> (Value, BTreeMap<String, u64>) {
    let made = create_counted(db, schemas, table).await;
    let report = cleanup_tracked(
        db,
        &made.tracker,
        CleanupOptions {
            count_dependents: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(report.failures.is_empty(), "{table}: {:?}", report.failures);
    assert_eq!(report.verified, Some(true), "{table}");
    let deleted: BTreeMap<String, u64> = report
        .deleted
        .iter()
        .map(|c| (c.table.clone(), c.rows))
        .collect();
    assert_eq!(
        deleted, made.created,
        "{table}: cleanup deleted exactly what create made"
    );
    assert_eq!(
        counts(db, schemas).await,
        made.before,
        "{table}: nothing left"
    );
    (made.row, made.created)
}

/// Creates one row of `table` (a partition) with no attributes: checks it went into `table`
/// itself, that cleanup verified and left nothing (the rows under it may be counted under the
/// partitioned table), and returns it.
async fn create_one_and_clean(db: &Db, schemas: &[&str], table: &str) -> Value {
    let made = create_counted(db, schemas, table).await;
    let created = &made.created;
    assert_eq!(created.get(table), Some(&1), "{table}: {created:?}");
    let report = cleanup_tracked(db, &made.tracker, CleanupOptions::default())
        .await
        .unwrap();
    assert_eq!(
        report.verified,
        Some(true),
        "{table}: {:?}",
        report.failures
    );
    assert_eq!(
        counts(db, schemas).await,
        made.before,
        "{table}: nothing left"
    );
    made.row
}

#[tokio::test]
async fn every_table_of_the_hostile_schema_is_created_with_its_parents_and_cleaned_exactly() {
    let db = db();
    let (s, s2) = names();
    let _guard = SchemaGuard::new(&[&s, &s2]);
    db.execute_script(&schema_sql(&s, &s2)).await.unwrap();
    let schemas = [s.as_str(), s2.as_str()];
    let expect = |pairs: &[(&str, u64)]| -> BTreeMap<String, u64> {
        pairs.iter().map(|(t, n)| (t.to_string(), *n)).collect()
    };
    let org = format!("{s}.orgs");
    let cases: Vec<(String, BTreeMap<String, u64>)> = vec![
        (
            format!("{s}.\"Weird Table\""),
            expect(&[(&org, 1), (&format!("{s}.Weird Table"), 1)]),
        ),
        (
            format!("{s2}.projects"),
            expect(&[(&org, 1), (&format!("{s2}.projects"), 1)]),
        ),
        (
            format!("{s}.tasks"),
            expect(&[
                (&org, 1),
                (&format!("{s2}.projects"), 1),
                (&format!("{s}.tasks"), 1),
            ]),
        ),
        (
            format!("{s}.orders"),
            expect(&[(&org, 1), (&format!("{s}.orders"), 1)]),
        ),
        (
            format!("{s}.order_lines"),
            expect(&[
                (&org, 1),
                (&format!("{s}.orders"), 1),
                (&format!("{s}.order_lines"), 1),
            ]),
        ),
        // A nullable foreign key: no parent.
        (format!("{s}.notes"), expect(&[(&format!("{s}.notes"), 1)])),
        // The NOT NULL, non-deferrable cycle a <-> b: one row each, closed in one statement.
        (
            format!("{s}.a"),
            expect(&[(&org, 1), (&format!("{s}.a"), 1), (&format!("{s}.b"), 1)]),
        ),
        (
            format!("{s}.b"),
            expect(&[(&org, 1), (&format!("{s}.a"), 1), (&format!("{s}.b"), 1)]),
        ),
    ];
    for (table, expected) in cases {
        let (row, created) = create_and_clean(&db, &schemas, &table).await;
        assert_eq!(created, expected, "{table}");
        assert!(row.is_object(), "{table}: {row}");
    }
}

#[tokio::test]
async fn a_required_cycle_is_closed_in_one_statement_and_one_the_database_keys_is_an_error_naming_it(
) {
    let db = db();
    let (s, s2) = names();
    let _guard = SchemaGuard::new(&[&s, &s2]);
    db.execute_script(&schema_sql(&s, &s2)).await.unwrap();
    db.execute_script(&format!(
        r#"
create table {s}.e (id uuid primary key, f_id uuid not null);
create table {s}.f (id uuid primary key, e_id uuid not null references {s}.e(id) deferrable initially deferred);
alter table {s}.e add foreign key (f_id) references {s}.f(id) deferrable initially deferred;
create table {s}.selfish (id int primary key, parent_id int not null references {s}.selfish(id), label text not null);
create table {s}.c (id int generated always as identity primary key, d_id int not null);
create table {s}.d (id int generated always as identity primary key, c_id int not null references {s}.c(id));
alter table {s}.c add constraint c_d_fk foreign key (d_id) references {s}.d(id);
create table {s}.plain_always (id int generated always as identity primary key, label text not null);
create table {s}.g (n int not null, id int generated always as (n * 2) stored primary key,
  parent_id int not null references {s}.g(id));
"#
    ))
    .await
    .unwrap();
    let ctx = context();
    let tracker = ResourceTracker::new(LaneInfo::of(&ctx));
    // Warm: graph and column facts read.
    create(
        &db,
        &ctx,
        &tracker,
        &format!("{s}.tags"),
        json!({}),
        CallOptions::default(),
    )
    .await
    .unwrap();
    let before = db.round_trips();
    let a = create(
        &db,
        &ctx,
        &tracker,
        &format!("{s}.a"),
        json!({}),
        CallOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        db.round_trips() - before,
        1,
        "one statement, parents and cycle included"
    );
    assert_eq!(a["b"]["a_id"], a["id"], "b references the a being built");
    assert_eq!(a["b_id"], a["b"]["id"]);
    assert_eq!(a["org_id"], a["org"]["id"]);

    let e = create(
        &db,
        &ctx,
        &tracker,
        &format!("{s}.e"),
        json!({}),
        CallOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        e["f"]["e_id"], e["id"],
        "a deferrable cycle closes the same way"
    );

    let selfish = create(
        &db,
        &ctx,
        &tracker,
        &format!("{s}.selfish"),
        json!({}),
        CallOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        selfish["parent_id"], selfish["id"],
        "a required self-reference points at itself"
    );

    // `generated always as identity` keys take the computed keys, inserted `overriding system
    // value` (before, such a cycle was refused).
    let c = create(
        &db,
        &ctx,
        &tracker,
        &format!("{s}.c"),
        json!({}),
        CallOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(c["d"]["c_id"], c["id"], "{c}");
    assert_eq!(c["d_id"], c["d"]["id"], "{c}");

    // A key the caller gives an always-identity column is kept, not refused by Postgres.
    let given = create(
        &db,
        &ctx,
        &tracker,
        &format!("{s}.plain_always"),
        json!({ "id": 424_242 }),
        CallOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(given["id"], 424_242);

    // A key a generated column computes cannot be known: an error naming the cycle.
    let err = create(
        &db,
        &ctx,
        &tracker,
        &format!("{s}.g"),
        json!({}),
        CallOptions::default(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), ErrorCode::FactoryInfer);
    assert!(
        err.message().contains(&format!("{s}.g -> {s}.g")),
        "{}",
        err.message()
    );
    assert!(
        err.message().contains("generated column"),
        "{}",
        err.message()
    );
    assert_eq!(
        counts(&db, &[&s]).await[&format!("{s}.g")],
        0,
        "nothing inserted"
    );

    let report = cleanup_tracked(&db, &tracker, CleanupOptions::default())
        .await
        .unwrap();
    assert_eq!(report.verified, Some(true));
    assert!(counts(&db, &[&s, &s2]).await.values().all(|n| *n == 0));
}

#[tokio::test]
async fn checks_domains_enums_and_unique_keys_are_satisfied_and_what_cannot_be_is_named() {
    let (db, s, _guard) = schema_with(|s| {
        format!(
        r#"
create schema {s};
create type {s}.mood as enum ('sad', 'ok', 'happy');
create domain {s}.year as int check (value >= 1901 and value <= 2155);
create domain {s}.short_text as text check (char_length(value) <= 40);
create domain {s}.currency as {s}.short_text check (value ~ '^[A-Z]{{3}}$');
create table {s}.things (
  cur {s}.currency not null unique,
  zip text not null check (zip ~ '^\d{{5}}(-\d{{4}})?$'),
  id bigserial primary key,
  qty int not null check (qty between 10 and 12),
  kind text not null check (kind in ('a', 'b')),
  grade text not null check (grade in ('x', 'y')) check (grade <> 'x'),
  code varchar(6) not null unique check (length(code) = 6),
  website text not null check (website like 'https://%'),
  handle text not null check (handle ~ '^[a-z0-9-]+$'),
  price numeric(5, 2) not null check (price > 0),
  mood {s}.mood not null,
  born {s}.year not null,
  tags text[] not null,
  meta jsonb not null check (jsonb_typeof(meta) = 'object'),
  starts timestamptz not null,
  ends timestamptz not null,
  slug text not null default '' unique,
  a text, b text,
  flag boolean not null default false,
  check (ends > starts),
  check (a is not null or b is not null),
  check ((flag = true and a is null) or (flag = false and b is null))
);
create table {s}.impossible (id serial primary key, x int not null, constraint x_between check (x > 5 and x < 3));
create table {s}.typed (id serial primary key, n int, t text, u uuid, m {s}.mood);
"#
        )
    })
    .await;
    db.graph_for(Freshness::Fresh).await.unwrap();
    let ctx = context();
    let tracker = ResourceTracker::new(LaneInfo::of(&ctx));
    let things = format!("{s}.things");
    let mut codes = std::collections::HashSet::new();
    for _ in 0..3 {
        let t = create(
            &db,
            &ctx,
            &tracker,
            &things,
            json!({}),
            CallOptions::default(),
        )
        .await
        .unwrap();
        assert!((10..=12).contains(&t["qty"].as_i64().unwrap()), "{t}");
        assert!(["a", "b"].contains(&t["kind"].as_str().unwrap()));
        // The value a check names first breaks another check: the others are tried.
        assert_eq!(t["grade"], "y", "{t}");
        let code = t["code"].as_str().unwrap().to_string();
        assert_eq!(code.len(), 6);
        assert!(codes.insert(code), "unique codes");
        assert!(t["website"].as_str().unwrap().starts_with("https://"));
        // Regular expressions alone (a domain over a domain, a table check): text made from
        // the pattern.
        let cur = t["cur"].as_str().unwrap();
        assert!(
            cur.len() == 3 && cur.chars().all(|c| c.is_ascii_uppercase()),
            "{t}"
        );
        let zip = t["zip"].as_str().unwrap();
        assert!(
            zip.len() >= 5 && zip[..5].chars().all(|c| c.is_ascii_digit()),
            "{t}"
        );
        assert!(
            t["id"].is_number(),
            "bigint comes back as to_json gives it: {t}"
        );
        assert!(t["price"].is_number(), "numeric as to_json gives it: {t}");
        assert_ne!(
            t["slug"], "",
            "a unique column with a constant default gets a value"
        );
        assert_eq!(t["b"], Value::Null, "flag false: b null, so a is filled");
        assert!(t["a"].is_string());
    }
    // Nullable columns stay null unless asked.
    let filled = create(
        &db,
        &ctx,
        &tracker,
        &format!("{s}.typed"),
        json!({}),
        CallOptions {
            fill: Fill::All,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(
        filled["n"].is_number()
            && filled["t"].is_string()
            && filled["u"].is_string()
            && filled["m"].is_string(),
        "{filled}"
    );
    let empty = create(
        &db,
        &ctx,
        &tracker,
        &format!("{s}.typed"),
        json!({}),
        CallOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(empty["n"], Value::Null);

    let err = create(
        &db,
        &ctx,
        &tracker,
        &format!("{s}.impossible"),
        json!({}),
        CallOptions::default(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), ErrorCode::FactoryInfer);
    assert!(err.message().contains("x_between"), "{}", err.message());
    assert!(
        err.message().contains("CHECK (((x > 5) AND (x < 3)))"),
        "{}",
        err.message()
    );
    assert!(err.message().contains("pass \"x\""), "{}", err.message());

    for (attrs, column, got) in [
        (json!({ "n": "abc" }), "n", "a string (\"abc\")"),
        (json!({ "t": 1 }), "t", "a number (1)"),
        (json!({ "u": "nope" }), "u", "a string"),
        (json!({ "m": "angry" }), "m", "not one of sad, ok, happy"),
    ] {
        let err = create(
            &db,
            &ctx,
            &tracker,
            &format!("{s}.typed"),
            attrs,
            CallOptions::default(),
        )
        .await
        .unwrap_err();
        assert_eq!(err.code(), ErrorCode::FactoryValue);
        assert!(
            err.message().contains(&format!("column {column:?}")) && err.message().contains(got),
            "{}",
            err.message()
        );
    }
    let report = cleanup_tracked(&db, &tracker, CleanupOptions::default())
        .await
        .unwrap();
    assert_eq!(report.verified, Some(true));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_lane_and_row_number_give_the_same_values() {
    let (db, s, _guard) = schema_with(|s| {
        format!(
        "create schema {s}; create table {s}.p (id uuid primary key, n int not null unique, name text not null);
         create table {s}.c (id uuid primary key, p_id uuid not null references {s}.p(id), title text not null);"
        )
    })
    .await;
    let settings = ContextSettings {
        run_id: Some(generate_run_id()),
        ..Default::default()
    };
    let identity = TestIdentity {
        worker_index: Some(2),
        test_id: Some(format!("same-{s}")),
        ..Default::default()
    };
    let build = || {
        let ctx = WorkerContext::create(identity.clone(), &settings).unwrap();
        let call = FactoryCall::new(format!("{s}.c"), None, Vec::new(), None).unwrap();
        let db = db.clone();
        tokio::task::spawn_blocking(move || {
            factory::build(
                &db,
                &FactoryRegistry::empty(),
                &ctx,
                &call,
                &CallOptions::default(),
            )
            .unwrap()
        })
    };
    let (first, second) = (build().await.unwrap(), build().await.unwrap());
    assert_eq!(first, second, "a test that runs again makes the same data");
    assert!(
        first["title"].as_str().unwrap().ends_with("-title 1"),
        "{first}"
    );
    assert_eq!(first["p_id"], first["p"]["id"]);
}

#[tokio::test]
async fn every_built_in_type_gets_a_value_and_comes_back_as_stored() {
    let (db, s, _guard) = schema_with(|s| {
        format!(
        r#"
create schema {s};
create table {s}.everything (
  id int generated always as identity primary key,
  r text not null, x xml not null,
  i2 smallint not null, i8 bigint not null, n numeric not null, f4 real not null, f8 double precision not null,
  m money not null, b boolean not null, c char(3) not null, qc "char" not null, nm name not null,
  u uuid not null, j json not null, jb jsonb not null, by bytea not null,
  d date not null, t time not null, tz timetz not null, ts timestamp not null, tstz timestamptz not null, iv interval not null,
  ip inet not null, net cidr not null, mac macaddr not null, mac8 macaddr8 not null, bt bit(4) not null, vb varbit(8) not null,
  tv tsvector not null, tq tsquery not null, pt point not null, bx box not null, cr circle not null,
  rg int4range not null, trg tstzrange not null, lsn pg_lsn not null,
  ta text[] not null, ia int8[] not null, ja jsonb[] not null
);
create table {s}.child (id serial primary key, everything_id int not null references {s}.everything(id));
"#
        )
    })
    .await;
    let (row, created) = create_and_clean(&db, &[&s], &format!("{s}.child")).await;
    assert_eq!(created.len(), 2, "{created:?}");
    let e = &row["everything"];
    assert!(
        e["r"].is_string() && e["x"].is_string(),
        "columns named like the statement's aliases: {e}"
    );
    assert!(
        e["i8"].is_number() && e["n"].is_number(),
        "bigint and numeric as to_json gives them: {e}"
    );
    assert!(
        e["i2"].is_number() && e["b"].is_boolean() && e["jb"].is_object(),
        "{e}"
    );
    assert_eq!(e["ia"], json!([]), "{e}");
}

/// A default partition named by the caller gets a key no other partition takes: past the last
/// range (dates, and integers with an open top: below the first), outside every list (text,
/// enum). Created directly in the partition, and cleaned exactly.
#[tokio::test]
async fn a_default_partition_is_given_a_key_no_other_partition_takes() {
    let (db, s, _guard) = schema_with(|s| {
        format!(
        r#"
create schema {s};
create type {s}.region as enum ('eu', 'us', 'apac');
create table {s}.owners (id serial primary key, name text not null);
create table {s}.events (id bigserial, at date not null, owner_id int not null references {s}.owners (id),
  primary key (id, at)) partition by range (at);
create table {s}.events_now partition of {s}.events for values from ('2000-01-01') to ('2999-01-01');
create table {s}.events_other partition of {s}.events default;
create table {s}.counters (id serial, n int not null, label text not null, primary key (id, n)) partition by range (n);
create table {s}.counters_top partition of {s}.counters for values from (100) to (maxvalue);
create table {s}.counters_mid partition of {s}.counters for values from (10) to (100);
create table {s}.counters_rest partition of {s}.counters default;
create table {s}.notes (id serial, lang text not null, body text not null, primary key (id, lang)) partition by list (lang);
create table {s}.notes_en partition of {s}.notes for values in ('en', 'other');
create table {s}.notes_rest partition of {s}.notes default;
create table {s}.sites (id serial, region {s}.region not null, name text not null, primary key (id, region)) partition by list (region);
create table {s}.sites_eu partition of {s}.sites for values in ('eu');
create table {s}.sites_rest partition of {s}.sites default;
"#
        )
    })
    .await;
    let schemas = [s.as_str()];
    let cases = [
        ("events_other", "at", "2999-01-01"),
        ("counters_rest", "n", "9"),
        ("notes_rest", "lang", "other1"),
        ("sites_rest", "region", "us"),
    ];
    for (partition, column, key) in cases {
        let table = format!("{s}.{partition}");
        let row = create_one_and_clean(&db, &schemas, &table).await;
        assert_eq!(
            row[column].to_string().trim_matches('"'),
            key,
            "{table}: {row}"
        );
    }
}

/// Rows of a table without a primary key cannot be tracked by key: a factory's row that carries
/// the lane's name is tracked by it, and cleanup deletes the test's rows of that table (found by
/// name) and no other lane's. Before, such rows were not tracked at all and stayed.
#[tokio::test]
async fn rows_of_a_table_without_a_primary_key_are_tracked_by_the_lane_name() {
    let (db, s, _guard) = schema_with(|s| {
        format!(
            "create schema {s};
         create table {s}.log (label text not null, n int not null default 0, note varchar(200));"
        )
    })
    .await;
    let table = format!("{s}.log");
    let (a, b) = (context(), context());
    let (ta, tb) = (
        ResourceTracker::new(LaneInfo::of(&a)),
        ResourceTracker::new(LaneInfo::of(&b)),
    );
    for _ in 0..2 {
        create(&db, &a, &ta, &table, json!({}), CallOptions::default())
            .await
            .unwrap();
    }
    create(&db, &b, &tb, &table, json!({}), CallOptions::default())
        .await
        .unwrap();
    let listed = ta.list();
    assert_eq!(listed.len(), 1, "one entry for the table: {listed:?}");
    assert!(listed[0].is_by_lane_name(), "{listed:?}");
    let exported = ResourceTracker::import(&ta.export()).unwrap();
    assert_eq!(exported.list(), listed, "the entry survives an export");

    let report = cleanup_tracked(&db, &exported, CleanupOptions::default())
        .await
        .unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!(report.total_deleted, 2, "{report:?}");
    assert_eq!(exported.count(), 0, "forgotten once gone");
    let left = counts(&db, &[&s]).await;
    assert_eq!(left.get(&table), Some(&1), "lane B's row stays: {left:?}");
    cleanup_tracked(&db, &tb, CleanupOptions::default())
        .await
        .unwrap();
    assert_eq!(counts(&db, &[&s]).await.get(&table), Some(&0));

    // By hand: the row, as inserted, with the test's name in a text column.
    let c = context();
    let tc = ResourceTracker::new(LaneInfo::of(&c));
    let label = c.lane().name("by hand").unwrap();
    db.conn()
        .await
        .unwrap()
        .query(
            &format!("insert into {table} (label) values ($1)"),
            &[(&label, Type::TEXT)],
        )
        .await
        .unwrap();
    let (graph, _) = db.graph_for(Freshness::Cached).await.unwrap();
    let tracked = tc
        .track(&graph, &table, &json!({ "label": label, "n": 0 }))
        .unwrap();
    assert!(tracked.is_by_lane_name());
    let nameless = tc.track(
        &graph,
        &table,
        &json!({ "label": "someone else's", "n": 0 }),
    );
    assert_eq!(nameless.unwrap_err().code(), ErrorCode::BadKey);
    let report = cleanup_tracked(&db, &tc, CleanupOptions::default())
        .await
        .unwrap();
    assert_eq!(report.total_deleted, 1, "{report:?}");
    assert_eq!(counts(&db, &[&s]).await.get(&table), Some(&0));
}

/// The key a factory tracks is Postgres' own text of the key columns: a numeric key with more
/// digits than a JSON number keeps (a double) is deleted by cleanup. Tracked from the JSON row
/// it was rounded, matched nothing, and the row stayed. Keys of integers, text and uuid are
/// read from the row's JSON (the statement sends no key column for them): a bigint beyond
/// 2^53, text with quotes, `%`, `_`, a backslash and unicode, and a composite key come back
/// exactly as Postgres' text.
#[tokio::test]
async fn keys_are_tracked_exactly_even_where_json_numbers_round() {
    let (db, s, _guard) = schema_with(|s| {
        format!(
            "create schema {s};
         create table {s}.amounts (k numeric(30, 10) primary key, note text not null);
         create table {s}.big (id bigint primary key, note text not null);
         create table {s}.labels (k text primary key, note text not null);
         create table {s}.tokens (id uuid primary key, note text not null);
         create table {s}.pairs (a smallint, b varchar(40), note text not null, primary key (a, b));"
        )
    })
    .await;
    let ctx = context();
    let tracker = ResourceTracker::new(LaneInfo::of(&ctx));
    let label = "it's 100%_\\ \"ünï\" 名前";
    let cases = [
        ("amounts", json!({ "k": "12345678901234567890.1234567891" })),
        ("big", json!({ "id": "9007199254740993" })),
        ("labels", json!({ "k": label })),
        (
            "tokens",
            json!({ "id": "0B5F5D5C-3E5A-4E3B-9E6C-2F1A0C9D8E7F" }),
        ),
        ("pairs", json!({ "a": -7, "b": label })),
    ];
    for (table, attrs) in cases {
        let table = format!("{s}.{table}");
        create(&db, &ctx, &tracker, &table, attrs, CallOptions::default())
            .await
            .unwrap();
    }
    let keys: Vec<Vec<String>> = tracker.list().into_iter().map(|r| r.key).collect();
    assert_eq!(
        keys,
        vec![
            vec!["12345678901234567890.1234567891".to_string()],
            vec!["9007199254740993".to_string()],
            vec![label.to_string()],
            // Postgres' text of a uuid: lower case.
            vec!["0b5f5d5c-3e5a-4e3b-9e6c-2f1a0c9d8e7f".to_string()],
            vec!["-7".to_string(), label.to_string()],
        ]
    );
    let report = cleanup_tracked(&db, &tracker, CleanupOptions::default())
        .await
        .unwrap();
    assert_eq!(report.total_deleted, 5, "{report:?}");
    assert!(counts(&db, &[&s]).await.values().all(|n| *n == 0));
}

/// A parent whose key a BEFORE INSERT trigger makes (from other columns): the child refers to
/// the key the insert returned, not the one pglane gave. With the given one, the foreign key
/// pointed at no row and the create failed.
#[tokio::test]
async fn a_child_refers_to_the_key_its_parent_stored_when_a_trigger_made_it() {
    let (db, s, _guard) = schema_with(|s| {
        format!(
        "create schema {s};
         create table {s}.codes (id text primary key, name text not null);
         create function {s}.make_code() returns trigger language plpgsql as $$
           begin new.id := 'C-' || md5(new.name); return new; end $$;
         create trigger codes_bi before insert on {s}.codes for each row execute function {s}.make_code();
         create table {s}.uses (id serial primary key, code_id text not null references {s}.codes (id), n int not null);"
        )
    })
    .await;
    let (row, created) = create_and_clean(&db, &[&s], &format!("{s}.uses")).await;
    assert!(
        row["code_id"].as_str().is_some_and(|k| k.starts_with("C-")),
        "the key the trigger made: {row}"
    );
    assert_eq!(created.len(), 2, "{created:?}");
}

/// A composite foreign key with a nullable column is not checked while that column is null
/// (`MATCH SIMPLE`): the row needs no parent for it, and `describe` calls the relation optional.
/// Under `MATCH FULL` one set column needs them all. Before, `describe` called the first
/// relation required (one of its columns is `NOT NULL`) while the factory left it null.
#[tokio::test]
async fn a_composite_key_with_a_nullable_column_needs_no_parent_unless_match_full() {
    let (db, s, _guard) = schema_with(|s| {
        format!(
            r#"
create schema {s};
create table {s}.tenants (id serial primary key, name text not null);
create table {s}.members (tenant_id int not null references {s}.tenants (id) on delete cascade, id serial,
  name text not null, primary key (tenant_id, id));
create table {s}.projects (tenant_id int not null references {s}.tenants (id) on delete cascade, id serial,
  lead_id int, name text not null, primary key (tenant_id, id),
  foreign key (tenant_id, lead_id) references {s}.members (tenant_id, id) on delete set null (lead_id));
create table {s}.pairs (id serial primary key, a int not null, b int, unique (a, b));
create table {s}.loose_child (id serial primary key, pa int not null, pb int,
  foreign key (pa, pb) references {s}.pairs (a, b));
create table {s}.full_child (id serial primary key, fa int not null, fb int,
  foreign key (fa, fb) references {s}.pairs (a, b) match full on delete cascade);
"#
        )
    })
    .await;
    let schemas = [s.as_str()];
    let (project, created) = create_and_clean(&db, &schemas, &format!("{s}.projects")).await;
    assert_eq!(project["lead_id"], Value::Null, "{project}");
    assert!(
        !created.contains_key(&format!("{s}.members")),
        "{created:?}"
    );
    // Only this foreign key holds `pa`: it gets a value, `pb` stays null, no parent is needed.
    let (loose, created) = create_and_clean(&db, &schemas, &format!("{s}.loose_child")).await;
    assert!(loose["pa"].is_number() && loose["pb"].is_null(), "{loose}");
    assert!(!created.contains_key(&format!("{s}.pairs")), "{created:?}");
    let (child, created) = create_and_clean(&db, &schemas, &format!("{s}.full_child")).await;
    assert!(
        child["fa"].is_number() && child["fb"].is_number(),
        "{child}"
    );
    assert_eq!(created.get(&format!("{s}.pairs")), Some(&1), "{created:?}");

    let (graph, _) = db.graph_for(Freshness::Fresh).await.unwrap();
    let (facts, _) = db.table_facts(&graph).await.unwrap();
    let tables = factory::describe::describe_tables(&FactoryRegistry::empty(), &graph, &facts);
    let required = |table: &str, parent: &str| {
        let t = tables
            .iter()
            .find(|t| t.qualified == format!("{s}.{table}"))
            .unwrap();
        let r = t
            .relations
            .iter()
            .find(|r| r.table.ends_with(parent))
            .unwrap();
        r.required
    };
    assert!(required("projects", "tenants"));
    assert!(!required("projects", "members"));
    assert!(required("full_child", "pairs"));
    assert!(!required("loose_child", "pairs"));
}

/// A table without a primary key but with a unique key of `NOT NULL` columns is keyed by it:
/// a factory's row there (no text column to carry the lane's name) is tracked by that key and
/// cleanup deletes it, with the rows under it. A unique key with a nullable column, a partial
/// one or one on an expression is no key. Before, such rows were not tracked and stayed.
#[tokio::test]
async fn a_unique_key_of_not_null_columns_keys_a_table_without_a_primary_key() {
    let (db, s, _guard) = schema_with(|s| {
        format!(
            r#"
create schema {s};
create table {s}.pairs (a int not null, b int not null, weight int);
create unique index pairs_loose on {s}.pairs (a, weight);
create unique index pairs_part on {s}.pairs (a) where weight > 0;
create unique index pairs_expr on {s}.pairs ((a::text || '-' || b::text));
alter table {s}.pairs add constraint pairs_ab unique (a, b);
create table {s}.uses (id serial primary key, a int not null, b int not null,
  foreign key (a, b) references {s}.pairs (a, b));
create table {s}.loose (a int, b int not null, unique (a, b));
"#
        )
    })
    .await;
    let (graph, _) = db.graph_for(Freshness::Fresh).await.unwrap();
    let key = |t: &str| -> Vec<String> {
        let table = graph
            .tables
            .iter()
            .find(|x| x.schema == s && x.name == t)
            .unwrap();
        table.pk.iter().map(|c| c.name.clone()).collect()
    };
    assert_eq!(key("pairs"), ["a", "b"]);
    assert!(key("loose").is_empty(), "a nullable column makes no key");

    let schemas = [s.as_str()];
    let (_, created) = create_and_clean(&db, &schemas, &format!("{s}.pairs")).await;
    assert_eq!(created.get(&format!("{s}.pairs")), Some(&1), "{created:?}");
    let (_, created) = create_and_clean(&db, &schemas, &format!("{s}.uses")).await;
    assert_eq!(created.get(&format!("{s}.pairs")), Some(&1), "{created:?}");
}

/// The hash-partitioned tables of the test below, by how their key is made.
const KEYS: [&str; 7] = [
    "computed",
    "serial_key",
    "identity_key",
    "uuid_key",
    "text_key",
    "always_key",
    "by_tenant",
];

/// A row created in a hash partition needs a key that hashes there, which only Postgres can
/// tell: the statement picks the first of several values that `satisfies_hash_partition`,
/// whether pglane computes the key or the column's default or identity makes it. Before, a
/// computed key landed in the named partition about one time in `modulus`.
#[tokio::test]
async fn rows_created_in_a_hash_partition_get_a_key_that_hashes_there() {
    let (db, s, _guard) = schema_with(|s| {
        let mut ddl = format!(
            r#"
create schema {s};
create table {s}.computed (id bigint primary key, note text not null) partition by hash (id);
create table {s}.serial_key (id bigserial primary key, note text not null) partition by hash (id);
create table {s}.identity_key (id int generated by default as identity primary key, note text not null)
  partition by hash (id);
create table {s}.uuid_key (id uuid primary key default gen_random_uuid(), note text not null)
  partition by hash (id);
create table {s}.text_key (code text primary key, note text not null) partition by hash (code);
create table {s}.child (id serial primary key, computed_id bigint not null references {s}.computed (id) on delete cascade);
create table {s}.always_key (id int generated always as identity primary key, note text not null)
  partition by hash (id);
create table {s}.tenants (id int generated always as identity primary key, name text not null);
create table {s}.by_tenant (tenant_id int not null references {s}.tenants (id) on delete cascade,
  id serial, note text not null, primary key (tenant_id, id)) partition by hash (tenant_id);
"#
        );
        for t in KEYS {
            for r in 0..4 {
                ddl.push_str(&format!(
                    "create table {s}.{t}_{r} partition of {s}.{t} for values with (modulus 4, remainder {r});\n"
                ));
            }
        }
        ddl
    })
    .await;
    let schemas = [s.as_str()];
    // `always_key`: an always identity, inserted `overriding system value`; `by_tenant`: the key
    // is a foreign key, so the tenant built for the row gets a key that hashes there.
    for t in KEYS.iter().filter(|t| **t != "by_tenant") {
        for r in 0..4 {
            for _ in 0..3 {
                let table = format!("{s}.{t}_{r}");
                let (_, created) = create_and_clean(&db, &schemas, &table).await;
                assert_eq!(created.get(&table), Some(&1), "{table}: {created:?}");
            }
        }
    }
    // The tenant's delete takes the row with it (cascade), counted under the partitioned table.
    for r in 0..4 {
        for _ in 0..3 {
            let table = format!("{s}.by_tenant_{r}");
            let row = create_one_and_clean(&db, &schemas, &table).await;
            assert_eq!(row["tenant_id"], row["tenant"]["id"], "{row}");
        }
    }
    // A child whose parent is created in a hash partition in the same statement refers to the
    // key the statement picked.
    let ctx = context();
    let tracker = ResourceTracker::new(LaneInfo::of(&ctx));
    let parent = create(
        &db,
        &ctx,
        &tracker,
        &format!("{s}.computed_2"),
        json!({}),
        CallOptions::default(),
    )
    .await
    .unwrap();
    let child = create(
        &db,
        &ctx,
        &tracker,
        &format!("{s}.child"),
        json!({ "computed": { "id": parent["id"] } }),
        CallOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(child["computed_id"], parent["id"]);
    let report = cleanup_tracked(&db, &tracker, CleanupOptions::default())
        .await
        .unwrap();
    assert_eq!(report.verified, Some(true), "{:?}", report.failures);
}

/// An "exclusive arc" (a CHECK that exactly one of two optional relations is set) gets one
/// parent; before, both stayed null and Postgres refused the row. Ranges are non-empty (a CHECK
/// of `not isempty(r)`) and differ by row, so two bookings do not overlap under an exclusion
/// constraint (here on the span alone: no `btree_gist` needed); before, every range was `empty`.
#[tokio::test]
async fn exclusive_arcs_get_one_parent_and_ranges_are_non_empty_and_differ_by_row() {
    let (db, s, _guard) = schema_with(|s| {
        format!(
            r#"
create schema {s};
create table {s}.orgs (id serial primary key, name text not null);
create table {s}.people (id serial primary key, name text not null);
create table {s}.notes (id serial primary key, body text not null,
  org_id int references {s}.orgs (id) on delete cascade,
  person_id int references {s}.people (id) on delete cascade,
  check (num_nonnulls(org_id, person_id) = 1));
create table {s}.tags (id serial primary key,
  org_id int references {s}.orgs (id) on delete cascade,
  person_id int references {s}.people (id) on delete cascade,
  check ((org_id is null) <> (person_id is null)));
create table {s}.rooms (id serial primary key, name text not null);
create table {s}.bookings (id serial primary key,
  room_id int not null references {s}.rooms (id) on delete cascade,
  span tstzrange not null check (not isempty(span)),
  days daterange not null check (not isempty(days)),
  seats int4range not null check (not isempty(seats)),
  price numrange not null check (not isempty(price)),
  exclude using gist (span with &&));
"#
        )
    })
    .await;
    let schemas = [s.as_str()];
    for table in ["notes", "tags"] {
        let (row, created) = create_and_clean(&db, &schemas, &format!("{s}.{table}")).await;
        assert!(
            row["org_id"].is_number() != row["person_id"].is_number(),
            "{table}: exactly one parent: {row}"
        );
        assert_eq!(
            created.len(),
            2,
            "{table}: the row and one parent: {created:?}"
        );
    }
    let (booking, _) = create_and_clean(&db, &schemas, &format!("{s}.bookings")).await;
    for column in ["span", "days", "seats", "price"] {
        let text = booking[column].as_str().unwrap_or_default();
        assert!(text.starts_with('['), "{column}: {booking}");
    }
    // Two bookings of one room in one test.
    let ctx = context();
    let tracker = ResourceTracker::new(LaneInfo::of(&ctx));
    let room = create(
        &db,
        &ctx,
        &tracker,
        &format!("{s}.rooms"),
        json!({}),
        CallOptions::default(),
    )
    .await
    .unwrap();
    for _ in 0..2 {
        create(
            &db,
            &ctx,
            &tracker,
            &format!("{s}.bookings"),
            json!({ "room": { "id": room["id"] } }),
            CallOptions::default(),
        )
        .await
        .unwrap();
    }
    let report = cleanup_tracked(&db, &tracker, CleanupOptions::default())
        .await
        .unwrap();
    assert_eq!(report.verified, Some(true), "{:?}", report.failures);
}
