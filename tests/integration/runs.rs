//! The run registry against a real PostgreSQL: each run judged by its own TTL, a run that finds
//! itself unregistered registers again, and registrations are checked.

use crate::support::db;
use pglane::core::input::Input;
use pglane::core::lane::naming::generate_run_id;
use pglane::core::runs::registry::{self, RegisterInput};
use pglane::core::ErrorCode;

fn no_env(_: &str) -> Option<String> {
    None
}

#[tokio::test]
async fn a_live_run_is_judged_by_its_own_ttl_and_registers_again_after_a_sweep() {
    let db = db();
    registry::ensure_schema(&db).await.unwrap();
    let run_id = generate_run_id();
    let input = RegisterInput::default();
    let live = input
        .registration(&run_id, "elsewhere", &Input::Number(7.0), None, &no_env)
        .unwrap();
    assert!(registry::register_run(&db, &live).await.unwrap(), "new");
    assert!(
        !registry::register_run(&db, &live).await.unwrap(),
        "already there"
    );
    // Its heartbeat is 30 s old: dead for a caller with a 5 s TTL, alive by its own 120 s.
    db.conn()
        .await
        .unwrap()
        .batch(&format!(
            "update pglane.runs set heartbeat_at = now() - interval '30 seconds' where run_id = '{run_id}'"
        ))
        .await
        .unwrap();
    let expired = registry::expired_runs(&db, 5.0).await.unwrap();
    assert!(!expired.iter().any(|r| r.run_id == run_id));
    let info = registry::find_run(&db, &run_id).await.unwrap();
    assert_eq!(
        (info.ttl_seconds, info.heartbeat_seconds),
        (Some(120.0), Some(20.0))
    );

    // A heartbeat records the interval and TTL as they are now.
    let beat = RegisterInput {
        heartbeat_seconds: Some(Input::Number(2.0)),
        ttl_seconds: Some(Input::Number(9.0)),
        ..Default::default()
    }
    .beat_liveness(&no_env)
    .unwrap();
    assert!(registry::heartbeat(&db, &run_id, beat).await.unwrap());
    let info = registry::find_run(&db, &run_id).await.unwrap();
    assert_eq!(
        (info.ttl_seconds, info.heartbeat_seconds),
        (Some(9.0), Some(2.0))
    );

    // Swept by another run: the heartbeat says so, and registering again works.
    registry::forget_run(&db, &run_id).await.unwrap();
    assert!(!registry::heartbeat(&db, &run_id, None).await.unwrap());
    assert!(
        registry::register_run(&db, &live).await.unwrap(),
        "registered again"
    );
    assert!(registry::find_run(&db, &run_id).await.is_ok());
    registry::forget_run(&db, &run_id).await.unwrap();
}

#[tokio::test]
async fn registrations_with_free_text_patterns_or_bad_numbers_are_refused() {
    let run_id = generate_run_id();
    let input = RegisterInput::default();
    let pid = Input::Number(7.0);
    let err = input
        .registration(&run_id, "h", &pid, Some("Acme Cor%"), &no_env)
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidConfig);
    for bad in [
        Input::Number(-1.0),
        Input::Number(f64::NAN),
        Input::String("7".into()),
    ] {
        let err = input
            .registration(&run_id, "h", &bad, None, &no_env)
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidArgument, "{bad:?}");
    }
    let err = registry::expired_runs(&db(), f64::INFINITY)
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidArgument);
}
