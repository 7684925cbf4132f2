//! Factory steps that adopt a row a trigger already made (`adopt:`), against a real PostgreSQL:
//! a trigger on `accounts` makes each account's `settings` row (by primary key) and its `handles`
//! row (by a unique column), as Supabase's `on_auth_user_created` makes profiles.

use crate::support::{db, SchemaGuard};
use pglane::core::factory::definition::FactoryRegistry;
use pglane::core::factory::{self, FactoryCall};
use pglane::core::lane::context::{ContextSettings, TestIdentity};
use pglane::core::lane::tracker::{LaneInfo, ResourceTracker};
use pglane::core::lane::WorkerContext;
use pglane::core::ErrorCode;
use serde_json::{json, Value};

fn schema_sql(s: &str) -> String {
    format!(
        r#"
create schema {s};
create table {s}.accounts (id uuid primary key, name text not null, serial_no bigserial);
create table {s}.settings (account_id uuid primary key references {s}.accounts (id) on delete cascade,
  theme text not null default 'light', made_by text not null default 'trigger');
create table {s}.handles (id bigserial primary key, handle text not null unique,
  account_id uuid not null references {s}.accounts (id) on delete cascade, verified boolean not null default false);
create table {s}.notes (id bigserial primary key, account_id uuid not null references {s}.accounts (id) on delete cascade, body text not null);
create function {s}.on_account() returns trigger language plpgsql as $$
begin
  insert into {s}.settings (account_id) values (new.id);
  insert into {s}.handles (handle, account_id) values (lower(new.name), new.id);
  return new;
end $$;
create trigger on_account after insert on {s}.accounts for each row execute procedure {s}.on_account();
"#
    )
}

fn registry(s: &str) -> FactoryRegistry {
    FactoryRegistry::from_json(json!({ "factories": {
        "account": {
            "table": format!("{s}.accounts"),
            "transient": { "theme": "dark" },
            "fields": { "id": { "uuid": true }, "name": "Account{{seq}}" },
            "after": [
                { "as": "settings", "factory": "settings", "adopt": true,
                  "with": { "account_id": "{{self.id}}", "theme": "{{theme}}", "made_by": "pglane" } },
                { "as": "handle", "factory": "handle", "adopt": "handle",
                  "with": { "handle": "account{{seq}}", "account_id": "{{self.id}}", "verified": true } },
                { "as": "note", "factory": "note", "with": { "account_id": "{{self.id}}" } }
            ]
        },
        "settings": { "table": format!("{s}.settings"), "fields": {} },
        "handle": { "table": format!("{s}.handles"), "fields": {} },
        "note": { "table": format!("{s}.notes"), "fields": { "body": "hello" } },
        "serialParent": { "table": format!("{s}.accounts"),
            "fields": { "id": { "uuid": true }, "name": "Parent{{seq}}" },
            "after": [ { "as": "later", "factory": "note", "adopt": true,
                "with": { "id": "{{self.serial_no}}", "account_id": "{{self.id}}" } } ] },
        "handleWithNote": { "table": format!("{s}.handles"),
            "fields": { "handle": "plain{{seq}}", "account_id": "{{accountId}}" },
            "transient": { "accountId": null },
            "after": [ { "as": "later", "factory": "note", "adopt": true,
                "with": { "id": "{{self.id}}", "account_id": "{{accountId}}" } } ] }
    }}))
    .unwrap()
}

fn context() -> WorkerContext {
    WorkerContext::create(
        TestIdentity {
            worker_index: Some(3),
            test_id: Some(uuid::Uuid::new_v4().to_string()),
            ..Default::default()
        },
        &ContextSettings {
            run_id: Some("adoptrun01".into()),
            ..Default::default()
        },
    )
    .unwrap()
}

#[tokio::test]
async fn adopts_rows_a_trigger_made_by_primary_key_and_by_unique_column_in_one_round_trip() {
    let db = db();
    let s = format!("adopt_{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let _guard = SchemaGuard::new(&[&s]);
    db.execute_script(&schema_sql(&s)).await.unwrap();
    let registry = registry(&s);
    let ctx = context();
    let tracker = ResourceTracker::new(LaneInfo::of(&ctx));
    let call = FactoryCall::new("account".into(), None, vec![], None).unwrap();
    factory::create(&db, &registry, &ctx, &tracker, &call)
        .await
        .unwrap();
    let before = db.round_trips();
    let account = factory::create(&db, &registry, &ctx, &tracker, &call)
        .await
        .unwrap();
    assert_eq!(db.round_trips() - before, 1, "two statements, pipelined");

    // The trigger's rows, taken over with the step's values.
    assert_eq!(account["settings"]["theme"], "dark");
    assert_eq!(account["settings"]["made_by"], "pglane");
    assert_eq!(account["handle"]["verified"], true);
    assert_eq!(account["note"]["body"], "hello");
    let id = account["id"].as_str().unwrap().to_string();
    let conn = db.conn().await.unwrap();
    let rows = conn
        .query(
            &format!(
                "select (select count(*) from {s}.settings where account_id = $1::uuid)::int, \
                 (select count(*) from {s}.handles where account_id = $1::uuid)::int"
            ),
            &[(&id, tokio_postgres::types::Type::TEXT)],
        )
        .await
        .unwrap();
    assert_eq!(
        (rows[0].get::<_, i32>(0), rows[0].get::<_, i32>(1)),
        (1, 1),
        "one settings row and one handle: the trigger's, adopted"
    );
    // The handle the trigger made (lower(name) = "account2") is the one the step asked for, so
    // it was taken over by its unique column. Both adopted rows are tracked.
    let tracked: Vec<(String, Vec<String>)> = tracker
        .list()
        .into_iter()
        .map(|r| (r.table.name.clone(), r.key))
        .collect();
    assert!(tracked.contains(&("settings".into(), vec![id.clone()])));
    let handle_id = match &account["handle"]["id"] {
        Value::Number(n) => n.to_string(),
        other => panic!("{other}"),
    };
    assert!(tracked.contains(&("handles".into(), vec![handle_id])));
}

#[tokio::test]
async fn a_failing_adopting_statement_leaves_nothing_of_the_call() {
    let db = db();
    let s = format!("adopt_{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let _guard = SchemaGuard::new(&[&s]);
    db.execute_script(&schema_sql(&s)).await.unwrap();
    let registry = registry(&s);
    let ctx = context();
    let tracker = ResourceTracker::new(LaneInfo::of(&ctx));
    // theme is NOT NULL: the second statement fails, the first is rolled back with it.
    let call = FactoryCall::new(
        "account".into(),
        Some(json!({ "theme": null, "name": "Doomed" })),
        vec![],
        None,
    )
    .unwrap();
    let err = factory::create(&db, &registry, &ctx, &tracker, &call)
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::DbQuery, "{}", err.message());
    assert!(
        err.message().contains("nothing was inserted"),
        "{}",
        err.message()
    );
    let conn = db.conn().await.unwrap();
    let left = conn
        .query(&format!("select count(*)::int from {s}.accounts"), &[])
        .await
        .unwrap();
    assert_eq!(left[0].get::<_, i32>(0), 0);
    assert_eq!(tracker.count(), 0);

    // After a table with no insert trigger there is nothing to adopt: one statement, in
    // which a row after the adopting step may use a value the database generates.
    let account = factory::create(
        &db,
        &registry,
        &ctx,
        &tracker,
        &FactoryCall::new("account".into(), None, vec![], None).unwrap(),
    )
    .await
    .unwrap();
    let plain = FactoryCall::new(
        "handleWithNote".into(),
        Some(json!({ "accountId": account["id"] })),
        vec![],
        None,
    )
    .unwrap();
    let before = db.round_trips();
    let made = factory::create(&db, &registry, &ctx, &tracker, &plain)
        .await
        .unwrap();
    assert_eq!(db.round_trips() - before, 1);
    assert_eq!(made["later"]["id"], made["id"]);

    // After a table with a trigger, a row after the adopting step cannot use a value the
    // database generates before it: the adopting statement cannot see it.
    let call = FactoryCall::new("serialParent".into(), None, vec![], None).unwrap();
    let err = factory::create(&db, &registry, &ctx, &tracker, &call)
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::FactoryDefinition);
    assert!(
        err.message().contains("database generates"),
        "{}",
        err.message()
    );
}
