//! `DbLocks`: advisory locks for critical sections across workers and processes.

use super::db::{db_or_default, Db};
use super::error::Outcome;
use crate::core::db as core_db;
use crate::core::locks::{LockHolder, LockKey, DEFAULT_LOCK_TIMEOUT, DEFAULT_NAMESPACE};
use napi::Env;
use napi_derive::napi;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// Options of `new DbLocks(db, options)`.
#[napi(object)]
pub struct DbLocksOptions {
    /// Namespace mixed into string keys (default `pglane`).
    pub namespace: Option<String>,
    /// Default wait of `lock` in ms (default 10000).
    pub timeout_ms: Option<u32>,
}

/// Options of one lock call.
#[napi(object)]
pub struct LockOptions {
    /// How long to wait, in ms.
    pub timeout_ms: Option<u32>,
    /// `"session"` (default for `lock`), `"transaction"`, or `"auto"` (session, or transaction
    /// through a transaction-mode pooler; the default of `withLock`).
    pub scope: Option<String>,
}

/// A lock held now.
#[napi(object)]
pub struct HeldLock {
    /// The key as given (a string, or `"a,b"` for a pair).
    pub name: String,
    /// The Postgres key (`pg_locks.objid`-style text).
    pub key: String,
    /// `"session"` or `"transaction"`.
    pub scope: String,
    /// Times taken (locks are re-entrant).
    pub count: u32,
}

/// PostgreSQL advisory locks, no database functions needed. Keys are strings (hashed to a
/// stable 64-bit key in pglane's namespace) or `[int, int]` pairs.
#[napi]
pub struct DbLocks {
    holder: Arc<LockHolder>,
    db: core_db::Db,
    namespace: String,
    timeout: Duration,
}

#[napi]
impl DbLocks {
    /// Locks on `db` (or the default database).
    #[napi(constructor)]
    pub fn new(
        env: Env,
        db: Option<&Db>,
        options: Option<DbLocksOptions>,
    ) -> napi::Result<DbLocks> {
        let db = db_or_default(&env, db)?;
        let (namespace, timeout) = match options {
            Some(o) => (
                o.namespace.unwrap_or_else(|| DEFAULT_NAMESPACE.into()),
                o.timeout_ms
                    .map(|ms| Duration::from_millis(ms.into()))
                    .unwrap_or(DEFAULT_LOCK_TIMEOUT),
            ),
            None => (DEFAULT_NAMESPACE.into(), DEFAULT_LOCK_TIMEOUT),
        };
        Ok(DbLocks {
            holder: Arc::new(LockHolder::new(db.clone())),
            db,
            namespace,
            timeout,
        })
    }

    /// The 64-bit key a string maps to (FNV-1a 64 of `namespace + "\0" + key`), as text.
    #[napi]
    pub fn key_of(&self, key: String) -> String {
        LockKey::hashed(&self.namespace, &key).display()
    }

    /// Waits for the lock (default 10 s). Throws `PGLANE_LOCK_TIMEOUT`, `PGLANE_DEADLOCK`, or
    /// `PGLANE_POOLER_UNSUPPORTED` for a session lock through a transaction-mode pooler.
    #[napi(
        ts_args_type = "key: string | [number, number], options?: LockOptions",
        ts_return_type = "Promise<void>"
    )]
    pub async fn lock(&self, key: Value, options: Option<LockOptions>) -> Outcome<()> {
        let run = async {
            let (name, k) = LockKey::from_json(&self.namespace, &key)?;
            let (timeout, scope) = match &options {
                Some(o) => (
                    o.timeout_ms.map(|ms| Duration::from_millis(ms.into())),
                    o.scope.clone(),
                ),
                None => (None, None),
            };
            let scope = self
                .holder
                .resolve_scope(scope.as_deref(), "session")
                .await?;
            self.holder
                .lock(&name, k, scope, timeout.unwrap_or(self.timeout))
                .await
        };
        run.await.into()
    }

    /// Takes the lock if free; resolves false at once when another holder has it.
    #[napi(
        ts_args_type = "key: string | [number, number], options?: LockOptions",
        ts_return_type = "Promise<boolean>"
    )]
    pub async fn try_lock(&self, key: Value, options: Option<LockOptions>) -> Outcome<bool> {
        let run = async {
            let (name, k) = LockKey::from_json(&self.namespace, &key)?;
            let scope = self
                .holder
                .resolve_scope(options.as_ref().and_then(|o| o.scope.as_deref()), "session")
                .await?;
            self.holder.try_lock(&name, k, scope).await
        };
        run.await.into()
    }

    /// Releases one hold. Throws `PGLANE_LOCK_NOT_HELD` for a lock this holder does not hold.
    #[napi(
        ts_args_type = "key: string | [number, number]",
        ts_return_type = "Promise<void>"
    )]
    pub async fn unlock(&self, key: Value) -> Outcome<()> {
        let run = async {
            let (name, k) = LockKey::from_json(&self.namespace, &key)?;
            self.holder.unlock(&name, k).await
        };
        run.await.into()
    }

    /// The locks held now.
    #[napi(ts_return_type = "Promise<HeldLock[]>")]
    pub async fn held(&self) -> Outcome<Vec<HeldLock>> {
        let list = self.holder.held().await;
        Outcome(Ok(list
            .into_iter()
            .map(|h| HeldLock {
                name: h.name,
                key: h.key.display(),
                scope: LockHolder::scope_name(h.scope).to_string(),
                count: h.count,
            })
            .collect()))
    }

    /// Releases every lock (the Playwright fixture calls this at the end of each test).
    /// Resolves with how many were held.
    #[napi(ts_return_type = "Promise<number>")]
    pub async fn release_all(&self) -> Outcome<u32> {
        self.holder.release_all().await.map(|n| n as u32).into()
    }

    /// Whether the database is reached through a transaction-mode pooler.
    #[napi(ts_return_type = "Promise<boolean>")]
    pub async fn behind_transaction_pooler(&self) -> Outcome<bool> {
        self.db.is_transaction_pooler().await.into()
    }
}
