//! What the integration tests share: the database they run against, and a guard that drops a
//! test's schemas when the test ends, also when it panics.

use pglane::core::db::config::DbConfig;
use pglane::core::db::Db;

/// The settings of the test database.
pub fn config() -> DbConfig {
    let env = |k: &str| std::env::var(k).ok();
    DbConfig::from_env(&env).expect(
        "these tests need a database: run `npm test`, or set DATABASE_URL to a PostgreSQL 13+ server",
    )
}

/// A handle on the test database.
pub fn db() -> Db {
    Db::new(config()).unwrap()
}

/// Schemas a test created; dropped (with everything in them) when the guard goes out of scope.
pub struct SchemaGuard {
    schemas: Vec<String>,
}

impl SchemaGuard {
    /// Guards `schemas` (created by the caller).
    pub fn new(schemas: &[&str]) -> SchemaGuard {
        SchemaGuard {
            schemas: schemas.iter().map(|s| s.to_string()).collect(),
        }
    }
}

impl Drop for SchemaGuard {
    fn drop(&mut self) {
        // Drop may run inside the test's runtime (or while a panic unwinds through it): the
        // schemas are dropped on a thread of their own, with a runtime and a connection of its
        // own, and the guard waits for it.
        let sql: String = self
            .schemas
            .iter()
            .map(|s| format!("drop schema if exists {s} cascade;"))
            .collect();
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async { db().conn().await?.batch(&sql).await })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) && !std::thread::panicking() {
            panic!("could not drop the test's schemas: {dropped:?}");
        }
    }
}
