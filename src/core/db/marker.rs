//! The mark that makes a database a test database: a row in `pglane.meta` that `npx pglane
//! mark-test-db` writes (see [`crate::core::runs::registry::mark_test_database`]), and the check
//! every destructive operation by name makes before it deletes anything.

use super::Db;
use crate::core::error::{Error, ErrorCode, Result};

/// Is the database marked as a test database? False, not an error, on a database without
/// pglane's schema. Once seen marked, the answer is kept for the process (pglane never
/// removes the mark).
pub async fn is_test_database(db: &Db) -> Result<bool> {
    if db.known_test_database() {
        return Ok(true);
    }
    let conn = db.conn().await?;
    // A statement naming pglane.meta fails where it does not exist: ask the catalog first.
    let exists = conn
        .query("select to_regclass('pglane.meta') is not null", &[])
        .await?;
    if !exists.first().is_some_and(|r| r.get::<_, bool>(0)) {
        return Ok(false);
    }
    let rows = conn
        .query(
            "select coalesce((select value = 'true' from pglane.meta where key = 'test_database'), false)",
            &[],
        )
        .await?;
    let marked = rows.first().is_some_and(|r| r.get::<_, bool>(0));
    if marked {
        db.remember_test_database();
    }
    Ok(marked)
}

/// The check every destructive operation by name makes: the database must be marked as a test
/// database, unless `allow_unmarked` (the caller's explicit opt-in) or `PGLANE_ALLOW_SWEEP=1`.
pub async fn require_test_database(db: &Db, allow_unmarked: bool, what: &str) -> Result<()> {
    let env_allows = matches!(
        std::env::var("PGLANE_ALLOW_SWEEP").as_deref(),
        Ok("1") | Ok("true")
    );
    if allow_unmarked || env_allows || is_test_database(db).await? {
        return Ok(());
    }
    Err(Error::new(
        ErrorCode::NotTestDatabase,
        format!(
            "refusing to {what} on {}: the database is not marked as a test database \
             (run `npx pglane mark-test-db`, or set PGLANE_ALLOW_SWEEP=1, or pass allowUnmarked: true)",
            db.config().describe()
        ),
    ))
}
