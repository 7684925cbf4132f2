//! Cleanup against a real PostgreSQL, on a schema that is hostile on purpose: a NOT NULL cycle
//! that cannot be broken by nulling or deferring, a self-reference, a composite foreign key,
//! tables in two schemas, a quoted mixed-case table, ON DELETE RESTRICT, CASCADE and SET NULL.

use crate::support::{db, SchemaGuard};
use pglane::core::cleanup::sql::{LaneParams, Params};
use pglane::core::cleanup::{cleanup_pattern, cleanup_tracked, find_leaks, CleanupOptions};
use pglane::core::db::catalog::Freshness;
use pglane::core::db::config::PrepareMode;
use pglane::core::db::Db;
use pglane::core::lane::naming::NameFormat;
use pglane::core::lane::tracker::{LaneInfo, ResourceTracker};
use pglane::core::lane::LanePattern;
use pglane::core::ErrorCode;
use serde_json::json;
use tokio_postgres::types::Type;

fn lane(pattern: &str) -> LanePattern {
    LanePattern::parse(pattern, &NameFormat::default()).unwrap()
}

/// The hostile schema in schemas `s` and `s2` (also used by the inference tests).
pub(crate) fn schema_sql(s: &str, s2: &str) -> String {
    format!(
        r#"
create schema {s}; create schema {s2};
create table {s}.orgs (id uuid primary key, name text not null unique);
create table {s}."Weird Table" ("Id" int primary key, "Org Id" uuid not null references {s}.orgs(id));
create table {s2}.projects (id bigint primary key, org_id uuid not null references {s}.orgs(id) on delete restrict, name text);
create table {s}.tasks (id int primary key, project_id bigint not null references {s2}.projects(id) on delete cascade,
                        parent_id int references {s}.tasks(id));
create table {s}.orders (region text, no int, org_id uuid not null references {s}.orgs(id), primary key (region, no));
create table {s}.order_lines (id int primary key, region text not null, no int not null,
                              foreign key (region, no) references {s}.orders(region, no));
create table {s}.notes (id int primary key, org_id uuid references {s}.orgs(id) on delete set null, body text);
create table {s}.a (id int primary key, org_id uuid not null references {s}.orgs(id), b_id int not null);
create table {s}.b (id int primary key, a_id int not null references {s}.a(id));
alter table {s}.a add constraint a_b_fk foreign key (b_id) references {s}.b(id);
create table {s}.tags (id int primary key, label text not null);
"#
    )
}

/// Inserts one lane's rows: an org and, "through the UI", rows in every other table.
async fn insert_lane(db: &Db, s: &str, s2: &str, org: uuid::Uuid, name: &str, base: i32) {
    let conn = db.conn().await.unwrap();
    let b = base;
    let sql = format!(
        r#"with o as (insert into {s}.orgs values ($1, $2) returning id),
  w as (insert into {s}."Weird Table" select $3, id from o),
  p as (insert into {s2}.projects select $3::int8, id, 'p' from o returning id),
  t as (insert into {s}.tasks select * from (values ($3, $3::int8, null::int), ($3 + 1, $3::int8, $3), ($3 + 2, $3::int8, $3 + 1)) v
        where exists (select 1 from p)),
  ord as (insert into {s}.orders select 'eu', $3, id from o returning region, no),
  ol as (insert into {s}.order_lines select $3, region, no from ord),
  n as (insert into {s}.notes select $3, id, 'kept' from o),
  a as (insert into {s}.a select $3, id, $3 from o returning id),
  bb as (insert into {s}.b select $3, id from a)
select 1"#
    );
    conn.query(
        &sql,
        &[
            (&org, Type::UUID),
            (&name.to_string(), Type::TEXT),
            (&b, Type::INT4),
        ],
    )
    .await
    .unwrap();
}

/// A tracker holding one org and one tag, checked against the schema graph as it is now.
async fn track_org_and_tag(db: &Db, s: &str, org: uuid::Uuid, tag: i32) -> ResourceTracker {
    let tracker = ResourceTracker::new(LaneInfo::default());
    let (graph, _) = db.graph_for(Freshness::Fresh).await.unwrap();
    tracker
        .track(&graph, &format!("{s}.orgs"), &json!(org.to_string()))
        .unwrap();
    tracker
        .track(&graph, &format!("{s}.tags"), &json!(tag))
        .unwrap();
    tracker
}

/// Sweeps lane `pattern` found by its names in one column of one table.
async fn sweep_by_one_column(
    db: &Db,
    pattern: &str,
    table: &str,
    column: &str,
) -> pglane::core::cleanup::CleanupReport {
    let columns = vec![(table.to_string(), vec![column.to_string()])];
    cleanup_pattern(
        db,
        &lane(pattern),
        Some(&columns),
        CleanupOptions::default(),
        true,
    )
    .await
    .unwrap()
}

async fn count(db: &Db, sql: &str) -> i64 {
    let conn = db.conn().await.unwrap();
    conn.query(sql, &[]).await.unwrap()[0].get(0)
}

pub(crate) fn names() -> (String, String) {
    let tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
    (format!("hostile_{tag}"), format!("hostile_{tag}_two"))
}

/// Creates the hostile schemas; they are dropped when the returned guard goes.
async fn setup() -> (Db, String, String, SchemaGuard) {
    let db = db();
    let (s, s2) = names();
    let guard = SchemaGuard::new(&[&s, &s2]);
    db.execute_script(&schema_sql(&s, &s2)).await.unwrap();
    (db, s, s2, guard)
}

#[tokio::test]
async fn deletes_the_whole_closure_of_a_tracked_org_in_one_round_trip_and_spares_the_other_lane() {
    let (db, s, s2, _schemas) = setup().await;
    let (mine, theirs) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    insert_lane(&db, &s, &s2, mine, "lane-a-org", 100).await;
    insert_lane(&db, &s, &s2, theirs, "lane-b-org", 200).await;
    db.conn()
        .await
        .unwrap()
        .batch(&format!("insert into {s}.tags values (1, 'one')"))
        .await
        .unwrap();

    let tracker = track_org_and_tag(&db, &s, mine, 1).await;

    let report = cleanup_tracked(&db, &tracker, CleanupOptions::default())
        .await
        .unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!(report.verified, Some(true));
    assert_eq!(
        report.round_trips, 1,
        "the delete statement verifies itself"
    );
    assert!(!report.fallback);
    let deleted = |t: &str| {
        report
            .deleted
            .iter()
            .find(|c| c.table == t)
            .map(|c| c.rows)
            .unwrap_or(0)
    };
    assert_eq!(deleted(&format!("{s}.orgs")), 1);
    assert_eq!(deleted(&format!("{s}.Weird Table")), 1);
    assert_eq!(deleted(&format!("{s2}.projects")), 1);
    assert_eq!(deleted(&format!("{s}.tasks")), 3, "self-referencing chain");
    assert_eq!(
        deleted(&format!("{s}.order_lines")),
        1,
        "composite foreign key"
    );
    assert_eq!(deleted(&format!("{s}.a")), 1, "NOT NULL cycle");
    assert_eq!(deleted(&format!("{s}.b")), 1, "NOT NULL cycle");
    assert_eq!(deleted(&format!("{s}.notes")), 0, "SET NULL children stay");
    assert_eq!(deleted(&format!("{s}.tags")), 1);
    assert_eq!(report.total_deleted, 11);

    // Lane B is untouched; lane A's note survives with its org nulled.
    for table in [
        "orgs",
        "\"Weird Table\"",
        "tasks",
        "orders",
        "order_lines",
        "notes",
        "a",
        "b",
    ] {
        assert_eq!(
            count(&db, &format!("select count(*) from {s}.{table}")).await,
            if table == "tasks" {
                3
            } else if table == "notes" {
                2
            } else {
                1
            },
            "{table}"
        );
    }
    assert_eq!(
        count(&db, &format!("select count(*) from {s2}.projects")).await,
        1
    );
    assert_eq!(
        count(
            &db,
            &format!("select count(*) from {s}.notes where org_id is null and id = 100")
        )
        .await,
        1
    );

    // Everything is forgotten, and a second cleanup sends nothing.
    assert_eq!(tracker.count(), 0);
    let again = cleanup_tracked(&db, &tracker, CleanupOptions::default())
        .await
        .unwrap();
    assert_eq!((again.round_trips, again.total_deleted), (0, 0));
}

#[tokio::test]
async fn tracked_rows_already_gone_cost_one_more_statement_and_still_verify() {
    let (db, s, s2, _schemas) = setup().await;
    let org = uuid::Uuid::now_v7();
    insert_lane(&db, &s, &s2, org, "lane-gone-org", 800).await;
    // Tag 77 was deleted by the test itself (or never inserted): the delete statement cannot
    // account for it, so a second statement proves it is not there.
    let tracker = track_org_and_tag(&db, &s, org, 77).await;
    let report = cleanup_tracked(&db, &tracker, CleanupOptions::default())
        .await
        .unwrap();
    assert_eq!(report.verified, Some(true), "{:?}", report.remaining);
    assert_eq!(report.round_trips, 2);
    assert_eq!(report.statements, 2);
    assert_eq!(report.total_deleted, 10);
    assert_eq!(tracker.count(), 0);
}

#[tokio::test]
async fn without_dependents_a_restricted_parent_fails_and_is_reported_while_the_rest_goes() {
    let (db, s, s2, _schemas) = setup().await;
    let mine = uuid::Uuid::now_v7();
    insert_lane(&db, &s, &s2, mine, "lane-a-org", 300).await;
    db.conn()
        .await
        .unwrap()
        .batch(&format!("insert into {s}.tags values (7, 'x')"))
        .await
        .unwrap();
    let tracker = track_org_and_tag(&db, &s, mine, 7).await;

    let options = CleanupOptions {
        include_dependents: false,
        ..CleanupOptions::default()
    };
    let report = cleanup_tracked(&db, &tracker, options).await.unwrap();
    assert!(report.fallback);
    assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
    let failure = &report.failures[0];
    assert_eq!(failure.tables, vec![format!("{s}.orgs")]);
    assert_eq!(failure.keys, vec![vec![mine.to_string()]]);
    assert_eq!(failure.code, ErrorCode::ForeignKeyViolation);
    assert_eq!(failure.sqlstate.as_deref(), Some("23503"));
    assert_eq!(report.verified, Some(false));
    assert_eq!(
        count(&db, &format!("select count(*) from {s}.tags")).await,
        0,
        "the rest still went"
    );
    // The org stays tracked, so a retry with dependents finishes the job.
    assert_eq!(tracker.count(), 1);
    let retry = cleanup_tracked(&db, &tracker, CleanupOptions::default())
        .await
        .unwrap();
    assert_eq!(retry.verified, Some(true));
    assert_eq!(
        count(&db, &format!("select count(*) from {s}.orgs")).await,
        0
    );
}

#[tokio::test]
async fn a_failing_trigger_is_reported_with_its_table_and_message() {
    let (db, s, s2, _schemas) = setup().await;
    let mine = uuid::Uuid::now_v7();
    insert_lane(&db, &s, &s2, mine, "lane-a-org", 400).await;
    db.conn()
        .await
        .unwrap()
        .batch(&format!(
            "insert into {s}.tags values (9, 'x');
             create function {s}.no_delete() returns trigger language plpgsql as $$ begin raise exception 'orders are archived, not deleted'; end $$;
             create trigger keep before delete on {s}.orders for each row execute function {s}.no_delete();"
        ))
        .await
        .unwrap();
    let tracker = track_org_and_tag(&db, &s, mine, 9).await;
    let report = cleanup_tracked(&db, &tracker, CleanupOptions::default())
        .await
        .unwrap();
    let orders = report
        .failures
        .iter()
        .find(|f| f.tables == vec![format!("{s}.orders")])
        .expect("orders reported");
    assert_eq!(orders.sqlstate.as_deref(), Some("P0001"));
    assert!(orders.message.contains("archived"), "{}", orders.message);
    assert_eq!(
        count(&db, &format!("select count(*) from {s}.tags")).await,
        0
    );
    assert_eq!(
        count(&db, &format!("select count(*) from {s}.order_lines")).await,
        0,
        "children of the failing table still went"
    );
}

#[tokio::test]
async fn pattern_cleanup_removes_a_lane_by_name_and_leak_check_lists_what_is_left() {
    let (db, s, s2, _schemas) = setup().await;
    insert_lane(
        &db,
        &s,
        &s2,
        uuid::Uuid::now_v7(),
        "lanerun1-w1-3-acme",
        500,
    )
    .await;
    insert_lane(
        &db,
        &s,
        &s2,
        uuid::Uuid::now_v7(),
        "lanerun1-w1-30-acme",
        600,
    )
    .await;
    insert_lane(
        &db,
        &s,
        &s2,
        uuid::Uuid::now_v7(),
        "lanerun1-w10-3-acme",
        700,
    )
    .await;
    let columns = vec![(format!("{s}.orgs"), vec!["name".to_string()])];
    let leaks = find_leaks(&db, &lane("lanerun1-w1-3-%"), Some(&columns))
        .await
        .unwrap();
    assert_eq!(leaks.len(), 1);
    assert_eq!(leaks[0].rows, 1);
    let report = cleanup_pattern(
        &db,
        &lane("lanerun1-w1-3-%"),
        Some(&columns),
        CleanupOptions::default(),
        true,
    )
    .await
    .unwrap();
    assert_eq!(report.verified, Some(true));
    assert_eq!(report.total_deleted, 10);
    assert!(find_leaks(&db, &lane("lanerun1-w1-3-%"), Some(&columns))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        count(&db, &format!("select count(*) from {s}.orgs")).await,
        2,
        "neighbour lanes survive"
    );
    let worker = cleanup_pattern(
        &db,
        &lane("lanerun1-w1-%"),
        Some(&columns),
        CleanupOptions::default(),
        true,
    )
    .await
    .unwrap();
    assert_eq!(
        worker.total_deleted, 10,
        "worker 1's other test, not worker 10's"
    );
    assert_eq!(
        count(
            &db,
            &format!("select count(*) from {s}.orgs where name = 'lanerun1-w10-3-acme'")
        )
        .await,
        1
    );
}

#[tokio::test]
async fn a_run_sweep_by_name_takes_the_lane_shape_not_an_app_row_that_starts_like_it() {
    let (db, s, s2, _schemas) = setup().await;
    insert_lane(
        &db,
        &s,
        &s2,
        uuid::Uuid::now_v7(),
        "lanerun2-w1-3-acme",
        500,
    )
    .await;
    // An app row that starts with the run's LIKE prefix `lanerun2-w` but is no lane's name.
    insert_lane(
        &db,
        &s,
        &s2,
        uuid::Uuid::now_v7(),
        "lanerun2-weekly report",
        600,
    )
    .await;
    let columns = vec![(format!("{s}.orgs"), vec!["name".to_string()])];
    let run = lane("lanerun2-w%");
    assert_eq!(
        find_leaks(&db, &run, Some(&columns)).await.unwrap()[0].rows,
        1
    );
    let report = cleanup_pattern(&db, &run, Some(&columns), CleanupOptions::default(), true)
        .await
        .unwrap();
    assert_eq!(report.verified, Some(true));
    // No foreign key of this schema has an index: the cycle, the self-reference and the
    // composite key go in stages before the orgs, and the same rows go.
    assert!(report.statements > 1, "{report:?}");
    assert!(!report.fallback);
    assert_eq!(report.total_deleted, 10, "{:?}", report.deleted);
    assert_eq!(
        count(
            &db,
            &format!("select count(*) from {s}.orgs where name = 'lanerun2-weekly report'")
        )
        .await,
        1,
        "the app's row stays"
    );
}

#[tokio::test]
async fn regexp_like_and_the_regex_operator_take_the_same_lane_names() {
    // PostgreSQL 15+ matches lane shapes with `regexp_like` (planned without estimating the
    // expression from statistics); older servers with `~`. Both must take the same names.
    let (db, _s, _s2, _schemas) = setup().await;
    let (graph, _) = db.graph_for(Freshness::Cached).await.unwrap();
    let version: i32 = db.server_info().await.unwrap().server_version_num;
    assert_eq!(graph.regexp_like, version >= 150_000, "server {version}");
    let names: Vec<String> = [
        "lanerun3-w1-3-acme",
        "lanerun3-w10-0-",
        "lanerun3-weekly report",
        "lanerun3-w01-3-leading zero",
        "lanerun3-w1-x-acme",
        "xlanerun3-w1-3-acme",
        "created lanerun3-w2-7-Org by a trigger",
        "LANERUN3-W1-3-acme",
        "lanerun3-w1-3-ünïcødé 100%_'\"",
    ]
    .iter()
    .map(|n| n.to_string())
    .collect();
    let run = lane("lanerun3-w%");
    let mut results = Vec::new();
    for regexp_like in [false, true] {
        if regexp_like && version < 150_000 {
            continue;
        }
        let mut g = (*graph).clone();
        g.regexp_like = regexp_like;
        let mut params = Params::default();
        let p = LaneParams::push(&g, &run, &mut params);
        let names_p = format!("${}", params.0.len() + 1);
        let sql = format!(
            "select coalesce(array_agg(n) filter (where {}), '{{}}'), \
                    coalesce(array_agg(n) filter (where {}), '{{}}') \
             from unnest({names_p}::text[]) n",
            p.matching("n"),
            p.somewhere_in("n")
        );
        assert_eq!(sql.contains("regexp_like("), regexp_like, "{sql}");
        let mut typed = params.typed();
        typed.push((&names, Type::TEXT_ARRAY));
        let rows = db.conn().await.unwrap().query(&sql, &typed).await.unwrap();
        let (mut exact, mut anywhere): (Vec<String>, Vec<String>) =
            (rows[0].get(0), rows[0].get(1));
        exact.sort();
        anywhere.sort();
        results.push((exact, anywhere));
    }
    let (exact, anywhere) = &results[0];
    assert_eq!(
        exact,
        &vec![
            "lanerun3-w1-3-acme".to_string(),
            "lanerun3-w1-3-ünïcødé 100%_'\"".to_string(),
            "lanerun3-w10-0-".to_string(),
        ]
    );
    // Anywhere in the text: also after other words (an audit trigger's), never another shape.
    let mut expected = exact.clone();
    expected.push("created lanerun3-w2-7-Org by a trigger".into());
    expected.push("xlanerun3-w1-3-acme".into());
    expected.sort();
    assert_eq!(anywhere, &expected);
    for other in &results[1..] {
        assert_eq!(other, &results[0]);
    }
}

#[tokio::test]
async fn unknown_tables_and_bad_keys_fail_at_once() {
    let (db, s, _s2, _schemas) = setup().await;
    let tracker = ResourceTracker::new(LaneInfo::default());
    let (graph, _) = db.graph_for(Freshness::Cached).await.unwrap();
    assert_eq!(
        tracker
            .track(&graph, &format!("{s}.nope"), &json!(1))
            .unwrap_err()
            .code(),
        ErrorCode::UnknownTable
    );
    assert_eq!(
        tracker
            .track(&graph, &format!("{s}.orgs"), &json!("not-a-uuid"))
            .unwrap_err()
            .code(),
        ErrorCode::BadKey
    );
    assert_eq!(
        tracker
            .track(&graph, &format!("{s}.orders"), &json!(["eu"]))
            .unwrap_err()
            .code(),
        ErrorCode::BadKey
    );
    tracker
        .track(
            &graph,
            &format!("{s}.orders"),
            &json!({"region": "eu", "no": 5}),
        )
        .unwrap();
}

#[tokio::test]
async fn pattern_cleanup_reads_the_catalog_again_when_a_table_created_since_holds_references() {
    let (db, s, s2, _schemas) = setup().await;
    insert_lane(
        &db,
        &s,
        &s2,
        uuid::Uuid::now_v7(),
        "lanerun9-w2-1-late",
        900,
    )
    .await;
    // The process's graph, read before the new table exists.
    db.graph_for(Freshness::Cached).await.unwrap();
    db.conn()
        .await
        .unwrap()
        .batch(&format!(
            "create table {s}.late (id int primary key, org_id uuid not null references {s}.orgs(id));
             insert into {s}.late select 1, id from {s}.orgs where name = 'lanerun9-w2-1-late';"
        ))
        .await
        .unwrap();
    let report = sweep_by_one_column(&db, "lanerun9-w2-1-%", &format!("{s}.orgs"), "name").await;
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!(report.verified, Some(true));
    assert!(
        report
            .deleted
            .iter()
            .any(|c| c.table == format!("{s}.late")),
        "{:?}",
        report.deleted
    );
    assert_eq!(
        count(&db, &format!("select count(*) from {s}.late")).await,
        0
    );
    assert_eq!(
        count(&db, &format!("select count(*) from {s}.orgs")).await,
        0
    );
}

/// users <- orgs(owner, no index) <- projects(org, indexed), with `n` lane users each owning
/// an org with a project (names `lanerun7-w1-{i}-...`), and one user of another run.
async fn unindexed_owner_schema(db: &Db, s: &str, n: i32) {
    db.execute_script(&format!(
        r#"create schema {s};
create table {s}.users (id int primary key, email text not null);
create table {s}.orgs (id int primary key, owner int not null references {s}.users(id), name text not null);
create table {s}.projects (id int primary key, org int not null references {s}.orgs(id), name text not null);
create index on {s}.projects (org);
insert into {s}.users select i, 'lanerun7-w1-' || i || '-user@x.test' from generate_series(1, {n}) i;
insert into {s}.orgs select i, i, 'lanerun7-w1-' || i || '-Org' from generate_series(1, {n}) i;
insert into {s}.projects select i, i, 'lanerun7-w1-' || i || '-Project' from generate_series(1, {n}) i;
insert into {s}.users values (0, 'otherrun-w1-0-user@x.test');
insert into {s}.orgs values (0, 0, 'otherrun-w1-0-Org');"#
    ))
    .await
    .unwrap();
}

/// Sweeps worker 1 of run `lanerun7` from that schema, by its lane columns only: other
/// tests' tables stay out of the sweep.
async fn sweep_lanerun7(db: &Db, s: &str) -> pglane::core::cleanup::CleanupReport {
    let columns = vec![
        (format!("{s}.users"), vec!["email".to_string()]),
        (format!("{s}.orgs"), vec!["name".to_string()]),
        (format!("{s}.projects"), vec!["name".to_string()]),
    ];
    cleanup_pattern(
        db,
        &lane("lanerun7-w1-%"),
        Some(&columns),
        CleanupOptions::default(),
        true,
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn a_sweep_of_many_rows_goes_in_stages_children_first_in_one_round_trip() {
    for prepare in [PrepareMode::Auto, PrepareMode::Off] {
        let mut cfg = crate::support::config();
        cfg.prepare = prepare;
        let db = Db::new(cfg).unwrap();
        let s = format!("staged_{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let _guard = SchemaGuard::new(&[&s]);
        unindexed_owner_schema(&db, &s, 150).await;
        let report = sweep_lanerun7(&db, &s).await;
        assert!(report.failures.is_empty(), "{:?}", report.failures);
        assert!(!report.fallback);
        assert_eq!(report.verified, Some(true), "{prepare:?}");
        assert_eq!(report.total_deleted, 450, "{:?}", report.deleted);
        // orgs.owner has no index: orgs and projects go first, users in a second statement,
        // both sent at once.
        assert_eq!(report.statements, 2, "{prepare:?}");
        assert_eq!(report.round_trips, 1, "{prepare:?}");
        assert_eq!(
            count(&db, &format!("select count(*) from {s}.users")).await,
            1,
            "the other run's user stays"
        );
        assert_eq!(
            count(&db, &format!("select count(*) from {s}.orgs")).await,
            1
        );
    }
}

#[tokio::test]
async fn a_failing_stage_keeps_what_the_stages_before_it_deleted_and_the_fallback_names_it() {
    let db = db();
    let s = format!("staged_{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let _guard = SchemaGuard::new(&[&s]);
    unindexed_owner_schema(&db, &s, 120).await;
    // The app refuses to lose user 7: the users' stage fails, after orgs and projects went.
    db.execute_script(&format!(
        r#"create function {s}.keep_seven() returns trigger language plpgsql as $$
begin
  if old.id = 7 then raise exception 'user 7 stays'; end if;
  return old;
end $$;
create trigger keep_seven before delete on {s}.users for each row execute function {s}.keep_seven();"#
    ))
    .await
    .unwrap();
    let report = sweep_lanerun7(&db, &s).await;
    assert!(report.fallback);
    assert_eq!(report.verified, Some(false));
    let failed: Vec<&String> = report.failures.iter().flat_map(|f| &f.tables).collect();
    assert_eq!(failed, vec![&format!("{s}.users")], "{:?}", report.failures);
    assert!(report.failures[0].message.contains("user 7 stays"));
    assert_eq!(
        report.remaining.iter().map(|c| c.rows).sum::<u64>(),
        120,
        "the users' group failed whole: {:?}",
        report.remaining
    );
    assert_eq!(
        count(&db, &format!("select count(*) from {s}.orgs")).await,
        1,
        "the first stage's orgs are gone, committed; the other run's stays"
    );
    assert_eq!(
        count(&db, &format!("select count(*) from {s}.projects")).await,
        0
    );
    assert_eq!(
        report.total_deleted, 240,
        "orgs and projects counted once: {:?}",
        report.deleted
    );
}

#[tokio::test]
async fn the_catalog_knows_which_foreign_keys_an_index_leads_with() {
    let db = db();
    let s = format!("fkidx_{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let _guard = SchemaGuard::new(&[&s]);
    db.execute_script(&format!(
        r#"create schema {s};
create table {s}.p (a int, b int, primary key (a, b));
create table {s}.leading_any_order (x int, a int, b int, foreign key (a, b) references {s}.p);
create index on {s}.leading_any_order (b, a, x);
create table {s}.first_column_only (a int, b int, foreign key (a, b) references {s}.p);
create index on {s}.first_column_only (a);
create table {s}.not_leading (x int, a int, b int, foreign key (a, b) references {s}.p);
create index on {s}.not_leading (x, a, b);
create table {s}.partial (a int, b int, foreign key (a, b) references {s}.p);
create index on {s}.partial (a, b) where a > 0;
create table {s}.by_primary_key (a int, b int, primary key (a, b), foreign key (a, b) references {s}.p);"#
    ))
    .await
    .unwrap();
    let (graph, _) = db.graph_for(Freshness::Fresh).await.unwrap();
    let indexed = |table: &str| {
        let t = graph.resolve(&format!("{s}.{table}")).unwrap();
        graph.fks.iter().find(|fk| fk.child == t).unwrap().indexed
    };
    assert!(indexed("leading_any_order"));
    assert!(indexed("by_primary_key"));
    assert!(!indexed("first_column_only"));
    assert!(!indexed("not_leading"));
    assert!(!indexed("partial"));
}

#[tokio::test]
async fn keys_with_quotes_backslashes_commas_braces_and_unicode_are_matched_exactly() {
    let db = db();
    let (s, _) = names();
    let _schema = SchemaGuard::new(&[&s]);
    db.execute_script(&format!(
        r#"create schema "{s}";
           create table "{s}".words (id text primary key);
           create table "{s}".pairs (a text, b int, primary key (a, b));"#
    ))
    .await
    .unwrap();
    let hostile = [
        r#"say "hi""#,
        r"back\slash",
        "a,b",
        "{braces}",
        "NULL",
        "",
        " spaced ",
        "ünïcödé ✓",
        "%_",
    ];
    let conn = db.conn().await.unwrap();
    for (i, word) in hostile.iter().enumerate() {
        let word = word.to_string();
        let n = i as i32;
        conn.query(
            &format!(r#"insert into "{s}".words values ($1), ($1 || '-kept')"#),
            &[(&word, Type::TEXT)],
        )
        .await
        .unwrap();
        conn.query(
            &format!(r#"insert into "{s}".pairs values ($1, $2), ($1, $2 + 100)"#),
            &[(&word, Type::TEXT), (&n, Type::INT4)],
        )
        .await
        .unwrap();
    }
    drop(conn);
    let tracker = ResourceTracker::new(LaneInfo::default());
    let (graph, _) = db.graph_for(Freshness::Fresh).await.unwrap();
    for (i, word) in hostile.iter().enumerate() {
        tracker
            .track(&graph, &format!("{s}.words"), &json!(word))
            .unwrap();
        tracker
            .track(&graph, &format!("{s}.pairs"), &json!({"a": word, "b": i}))
            .unwrap();
    }
    let report = cleanup_tracked(&db, &tracker, CleanupOptions::default())
        .await
        .unwrap();
    assert_eq!(report.verified, Some(true), "{report:?}");
    assert!(report.failures.is_empty(), "{report:?}");
    assert_eq!(report.round_trips, 1);
    assert_eq!(tracker.count(), 0);
    // Exactly the tracked rows went: the neighbours differ by a suffix or a number.
    assert_eq!(
        count(&db, &format!(r#"select count(*) from "{s}".words"#)).await,
        hostile.len() as i64
    );
    assert_eq!(
        count(
            &db,
            &format!(r#"select count(*) from "{s}".words where id not like '%-kept'"#)
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &db,
            &format!(r#"select count(*) from "{s}".pairs where b < 100"#)
        )
        .await,
        0
    );
    assert_eq!(
        count(&db, &format!(r#"select count(*) from "{s}".pairs"#)).await,
        hostile.len() as i64
    );
}

#[tokio::test]
async fn a_lane_row_a_trigger_quietly_keeps_is_left_and_an_app_row_that_starts_like_the_lane_is_not(
) {
    let db = db();
    let s = format!("kept_{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let _guard = SchemaGuard::new(&[&s]);
    unindexed_owner_schema(&db, &s, 20).await;
    // Project 3 is kept without an error (its trigger returns null); an app's project starts
    // with the lane's LIKE prefix `lanerun7-w1-` but is no lane's name, and is not the sweep's.
    db.execute_script(&format!(
        r#"insert into {s}.projects values (1000, 1, 'lanerun7-w1-x-weekly');
update {s}.projects set org = 0 where id = 1000;
create function {s}.keep_three() returns trigger language plpgsql as $$
begin
  if old.id = 3 then return null; end if;
  return old;
end $$;
create trigger keep_three before delete on {s}.projects for each row execute function {s}.keep_three();"#
    ))
    .await
    .unwrap();
    let report = sweep_by_one_column(&db, "lanerun7-w1-%", &format!("{s}.projects"), "name").await;
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert!(!report.fallback);
    assert_eq!(report.total_deleted, 19, "{:?}", report.deleted);
    assert_eq!(report.verified, Some(false), "{report:?}");
    let left: Vec<(String, u64)> = report
        .remaining
        .iter()
        .map(|c| (c.table.clone(), c.rows))
        .collect();
    assert_eq!(
        left,
        vec![(format!("{s}.projects"), 1)],
        "only the kept lane row"
    );
    assert_eq!(
        count(&db, &format!("select count(*) from {s}.projects")).await,
        2,
        "the kept lane row and the app's row"
    );
}
