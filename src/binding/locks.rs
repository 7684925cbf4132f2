//! `DbLocks`: advisory locks for critical sections across workers and processes.

use super::args::{Arg, JsInput};
use super::db::{db_or_default, Db};
use super::error::{caught, guard, spawn, Outcome};
use crate::core::db as core_db;
use crate::core::input::optional;
use crate::core::locks::{
    check_namespace, lock_timeout, LockHolder, LockKey, DEFAULT_LOCK_TIMEOUT, DEFAULT_NAMESPACE,
};
use napi::bindgen_prelude::PromiseRaw;
use napi::Env;
use napi_derive::napi;
use std::sync::Arc;
use std::time::Duration;

/// Options of `new DbLocks(db, options)`.
#[napi(object, object_to_js = false)]
pub struct DbLocksOptions {
    /// Namespace mixed into string keys (default `pglane`; no NUL character).
    pub namespace: Option<String>,
    /// Default wait of `lock` in ms (default 10000; an integer from 0 to 86400000).
    #[napi(ts_type = "number")]
    pub timeout_ms: Option<JsInput>,
}

/// Options of one lock call.
#[napi(object, object_to_js = false)]
pub struct LockOptions {
    /// How long to wait, in ms (an integer from 0 to 86400000).
    #[napi(ts_type = "number")]
    pub timeout_ms: Option<JsInput>,
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
    #[napi(constructor, catch_unwind)]
    pub fn new(
        env: Env,
        #[napi(ts_arg_type = "Db | undefined | null")] db: Option<Arg<&Db>>,
        #[napi(ts_arg_type = "DbLocksOptions | undefined | null")] options: Option<
            Arg<DbLocksOptions>,
        >,
    ) -> napi::Result<DbLocks> {
        let db = db_or_default(&env, db.map(|d| d.0))?;
        let (namespace, timeout) = guard(&env, || {
            let Some(Arg(o)) = options else {
                return Ok((DEFAULT_NAMESPACE.to_string(), DEFAULT_LOCK_TIMEOUT));
            };
            let namespace = o.namespace.unwrap_or_else(|| DEFAULT_NAMESPACE.into());
            check_namespace(&namespace)?;
            let timeout = match optional(o.timeout_ms.as_ref().map(JsInput::get)) {
                Some(ms) => lock_timeout(ms)?,
                None => DEFAULT_LOCK_TIMEOUT,
            };
            Ok((namespace, timeout))
        })?;
        Ok(DbLocks {
            holder: Arc::new(LockHolder::new(db.clone())),
            db,
            namespace,
            timeout,
        })
    }

    /// The 64-bit key a string maps to (FNV-1a 64 of `namespace + "\0" + key`), as text.
    #[napi(catch_unwind)]
    pub fn key_of(&self, #[napi(ts_arg_type = "string")] key: Arg<String>) -> String {
        LockKey::hashed(&self.namespace, &key).display()
    }

    /// Waits for the lock (default 10 s). Throws `PGLANE_LOCK_TIMEOUT`, `PGLANE_DEADLOCK`, or
    /// `PGLANE_POOLER_UNSUPPORTED` for a session lock through a transaction-mode pooler.
    #[napi(
        ts_args_type = "key: string | [number, number], options?: LockOptions",
        ts_return_type = "Promise<void>",
        catch_unwind
    )]
    pub async fn lock(&self, key: JsInput, options: Option<Arg<LockOptions>>) -> Outcome<()> {
        let run = async {
            let (name, k) = LockKey::from_input(&self.namespace, key.get())?;
            let (timeout, scope) = match &options {
                Some(Arg(o)) => (
                    optional(o.timeout_ms.as_ref().map(JsInput::get))
                        .map(lock_timeout)
                        .transpose()?,
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
        caught(run).await.into()
    }

    /// Takes the lock if free; resolves false at once when another holder has it.
    #[napi(
        ts_args_type = "key: string | [number, number], options?: LockOptions",
        ts_return_type = "Promise<boolean>",
        catch_unwind
    )]
    pub async fn try_lock(&self, key: JsInput, options: Option<Arg<LockOptions>>) -> Outcome<bool> {
        let run = async {
            let (name, k) = LockKey::from_input(&self.namespace, key.get())?;
            let scope = self
                .holder
                .resolve_scope(
                    options.as_ref().and_then(|o| o.0.scope.as_deref()),
                    "session",
                )
                .await?;
            self.holder.try_lock(&name, k, scope).await
        };
        caught(run).await.into()
    }

    /// Releases one hold. Throws `PGLANE_LOCK_NOT_HELD` for a lock this holder does not hold.
    #[napi(
        ts_args_type = "key: string | [number, number]",
        ts_return_type = "Promise<void>",
        catch_unwind
    )]
    pub async fn unlock(&self, key: JsInput) -> Outcome<()> {
        let run = async {
            let (name, k) = LockKey::from_input(&self.namespace, key.get())?;
            self.holder.unlock(&name, k).await
        };
        caught(run).await.into()
    }

    /// The locks held now.
    #[napi(ts_return_type = "Promise<HeldLock[]>", catch_unwind)]
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
    #[napi(ts_return_type = "Promise<number>", catch_unwind)]
    pub fn release_all<'env>(
        &self,
        env: &'env Env,
    ) -> napi::Result<PromiseRaw<'env, Outcome<u32>>> {
        // Started on the JS thread: a test that took no lock (most) is answered without waking
        // the runtime's thread.
        let holder = self.holder.clone();
        spawn(
            env,
            async move { holder.release_all().await.map(|n| n as u32) },
        )
    }

    /// Whether the database is reached through a transaction-mode pooler.
    #[napi(ts_return_type = "Promise<boolean>", catch_unwind)]
    pub async fn behind_transaction_pooler(&self) -> Outcome<bool> {
        caught(self.db.is_transaction_pooler()).await.into()
    }
}
