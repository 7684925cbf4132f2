//! Advisory locks straight over the connection, no database functions needed.
//!
//! Keys: a string is hashed to a stable signed 64-bit key, FNV-1a 64 over the UTF-8 bytes of
//! `namespace + "\0" + key` (namespace `pglane` unless set), so the same string gives the same
//! key in every process and version, and pglane's keys live apart from the application's own.
//! An explicit pair of 32-bit integers uses Postgres' two-key form as given.
//!
//! Scopes: a *session* lock is held by a connection taken from the pool for as long as the
//! holder holds any lock (the pool cannot hand it to anyone else), until `unlock` or
//! `release_all`, or until the process dies and Postgres drops the connection. A *transaction*
//! lock is taken inside a transaction the holder keeps open; all of a holder's transaction locks
//! are released together when the last one is unlocked. Through a transaction-mode pooler a
//! session lock would land on whichever server connection runs the statement, so pglane refuses
//! it (`PGLANE_POOLER_UNSUPPORTED`) and transaction locks are the way: the open transaction pins
//! one server connection.

use crate::core::db::{Conn, Db};
use crate::core::error::{Error, ErrorCode, Result};
use crate::core::fnv::fnv1a_64;
use crate::core::input::Input;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio_postgres::types::{ToSql, Type};

/// The default namespace of string keys.
pub const DEFAULT_NAMESPACE: &str = "pglane";
/// How long `lock` waits by default.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest wait `lock` accepts: a day, in ms.
pub const MAX_LOCK_TIMEOUT_MS: u32 = 86_400_000;

/// A lock wait as JS gave it (`timeoutMs`): an integer number of ms from 0 to a day. A negative
/// or fractional number is refused, never wrapped into 49 days.
pub fn lock_timeout(timeout_ms: &Input) -> Result<Duration> {
    timeout_ms
        .index("timeoutMs", MAX_LOCK_TIMEOUT_MS)
        .map(|ms| Duration::from_millis(ms.into()))
}

/// Checks a namespace of string keys: it may not hold a NUL character, which separates it from
/// the key (`'a\0' + 'b'` and `'a' + '\0b'` would be one key).
pub fn check_namespace(namespace: &str) -> Result<()> {
    if namespace.contains('\0') {
        return Err(Error::invalid_argument(format!(
            "lock namespace {:?} may not contain a NUL character: it separates the namespace from the key",
            namespace.chars().take(40).collect::<String>()
        )));
    }
    Ok(())
}

/// An advisory lock key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LockKey {
    /// A 64-bit key (from a string).
    Single(i64),
    /// Postgres' two-key form.
    Pair(i32, i32),
}

impl LockKey {
    /// The stable key of a string in a namespace.
    pub fn hashed(namespace: &str, key: &str) -> LockKey {
        LockKey::Single(fnv1a_64([namespace.as_bytes(), &[0], key.as_bytes()]) as i64)
    }

    /// A key as JS gives it: a non-empty string (hashed in `namespace`) or a pair of 32-bit
    /// integers (`NaN`, fractions and other types are refused with `PGLANE_INVALID_ARGUMENT`).
    /// Returns the name it is reported under and the key.
    pub fn from_input(namespace: &str, key: &Input) -> Result<(String, LockKey)> {
        LockKey::from_json(namespace, &key.to_json("lock key")?)
    }

    /// [`LockKey::from_input`] of a key already in JSON.
    pub fn from_json(namespace: &str, key: &Value) -> Result<(String, LockKey)> {
        match key {
            Value::String(s) if !s.is_empty() => Ok((s.clone(), LockKey::hashed(namespace, s))),
            Value::Array(pair) if pair.len() == 2 => {
                let part = |v: &Value| v.as_i64().and_then(|n| i32::try_from(n).ok());
                match (part(&pair[0]), part(&pair[1])) {
                    (Some(a), Some(b)) => Ok((format!("{a},{b}"), LockKey::Pair(a, b))),
                    _ => Err(Error::invalid_argument(format!(
                        "lock key {key} must be two 32-bit integers"
                    ))),
                }
            }
            other => Err(Error::invalid_argument(format!(
                "lock key {} must be a non-empty string or a pair of 32-bit integers",
                other.to_string().chars().take(60).collect::<String>()
            ))),
        }
    }

    fn args(&self) -> (&'static str, Vec<KeyParam>) {
        match *self {
            LockKey::Single(k) => ("$1::int8", vec![(Box::new(k), Type::INT8)]),
            LockKey::Pair(a, b) => (
                "$1::int4, $2::int4",
                vec![(Box::new(a), Type::INT4), (Box::new(b), Type::INT4)],
            ),
        }
    }

    /// `123` or `1,2`, as Postgres shows it.
    pub fn display(&self) -> String {
        match self {
            LockKey::Single(k) => k.to_string(),
            LockKey::Pair(a, b) => format!("{a},{b}"),
        }
    }
}

/// A key value and the Postgres type it is sent as.
type KeyParam = (Box<dyn ToSql + Sync + Send>, Type);

/// Lock scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockScope {
    /// Held by the connection until unlocked.
    Session,
    /// Held by an open transaction until it ends.
    Transaction,
}

impl LockScope {
    /// Parses `session` or `transaction`.
    pub fn parse(s: &str) -> Result<LockScope> {
        match s {
            "session" => Ok(LockScope::Session),
            "transaction" => Ok(LockScope::Transaction),
            other => Err(Error::invalid_config(format!(
                "unknown lock scope {other:?}: use \"session\" or \"transaction\""
            ))),
        }
    }
    fn as_str(self) -> &'static str {
        match self {
            LockScope::Session => "session",
            LockScope::Transaction => "transaction",
        }
    }
}

/// A lock a holder holds.
#[derive(Debug, Clone)]
pub struct HeldLock {
    /// The name it was taken with.
    pub name: String,
    /// The key.
    pub key: LockKey,
    /// Its scope.
    pub scope: LockScope,
    /// How many times it was taken (locks are re-entrant).
    pub count: u32,
}

#[derive(Default)]
struct State {
    conn: Option<Conn>,
    in_transaction: bool,
    held: BTreeMap<(LockKey, bool), HeldLock>,
}

impl State {
    /// Records a lock just taken.
    fn record(&mut self, name: &str, key: LockKey, scope: LockScope) {
        if scope == LockScope::Transaction {
            self.in_transaction = true;
        }
        let held = HeldLock {
            name: name.to_string(),
            key,
            scope,
            count: 1,
        };
        self.held
            .insert((key, scope == LockScope::Transaction), held);
    }
}

/// One holder of advisory locks (one per test, typically).
pub struct LockHolder {
    db: Db,
    state: tokio::sync::Mutex<State>,
}

fn lock_error(code: ErrorCode, name: &str, message: String) -> Error {
    Error::new(code, format!("lock {name:?}: {message}"))
}

impl LockHolder {
    /// A holder on `db`; takes no connection until the first lock.
    pub fn new(db: Db) -> LockHolder {
        LockHolder {
            db,
            state: tokio::sync::Mutex::new(State::default()),
        }
    }

    /// The scope asked for (`session`, `transaction`, or `auto`: session, or transaction through
    /// a transaction-mode pooler), or `default` when none was.
    pub async fn resolve_scope(&self, requested: Option<&str>, default: &str) -> Result<LockScope> {
        match requested.unwrap_or(default) {
            "auto" => Ok(if self.db.is_transaction_pooler().await? {
                LockScope::Transaction
            } else {
                LockScope::Session
            }),
            s => LockScope::parse(s),
        }
    }

    async fn check_scope(&self, scope: LockScope, name: &str) -> Result<()> {
        if scope == LockScope::Session && self.db.is_transaction_pooler().await? {
            return Err(lock_error(
                ErrorCode::PoolerUnsupported,
                name,
                "session locks cannot work through a transaction-mode pooler (each statement may run on another \
                 server connection); use { scope: 'transaction' } or withLock, which hold a transaction open"
                    .into(),
            ));
        }
        Ok(())
    }

    async fn ensure_conn<'a>(&self, state: &'a mut State) -> Result<&'a Conn> {
        if state.conn.is_none() {
            state.conn = Some(self.db.conn().await?);
        }
        Ok(state.conn.as_ref().expect("just set"))
    }

    /// Waits up to `timeout` for the lock. Re-entrant: taking a held lock again only counts.
    /// Fails with `PGLANE_LOCK_TIMEOUT`, or `PGLANE_DEADLOCK` when Postgres finds two holders
    /// waiting for each other.
    pub async fn lock(
        &self,
        name: &str,
        key: LockKey,
        scope: LockScope,
        timeout: Duration,
    ) -> Result<()> {
        self.check_scope(scope, name).await?;
        let mut state = self.state.lock().await;
        let slot = (key, scope == LockScope::Transaction);
        if let Some(h) = state.held.get_mut(&slot) {
            h.count += 1;
            return Ok(());
        }
        let timeout_ms = timeout.as_millis().max(1).to_string();
        let was_in_transaction = state.in_transaction;
        let conn = self.ensure_conn(&mut state).await?;
        let (args, params) = key.args();
        let func = match scope {
            LockScope::Session => "pg_advisory_lock",
            LockScope::Transaction => "pg_advisory_xact_lock",
        };
        let lock_sql = format!("select {func}({args})::text");
        let typed: Vec<(&(dyn ToSql + Sync), Type)> = params
            .iter()
            .map(|(v, t)| (v.as_ref() as &(dyn ToSql + Sync), t.clone()))
            .collect();
        // Lock wait limited on the server by a transaction-local lock_timeout; the whole exchange
        // is pipelined into one round trip. Inside an open transaction a savepoint keeps a
        // failed wait from aborting the transaction (and dropping the locks it holds).
        let (open, close, undo) = if was_in_transaction {
            (
                "savepoint pglane_lock",
                "select set_config('lock_timeout', '0', true); release savepoint pglane_lock",
                "rollback to savepoint pglane_lock",
            )
        } else if scope == LockScope::Transaction {
            (
                "begin",
                "select set_config('lock_timeout', '0', true)",
                "rollback",
            )
        } else {
            ("begin", "commit", "rollback")
        };
        let client = conn.client();
        let wait = timeout + Duration::from_secs(5);
        let timeout_param: [(&(dyn ToSql + Sync), Type); 1] = [(&timeout_ms, Type::TEXT)];
        let outcome = conn
            .run_with_timeout(1, wait, async {
                let (a, b, c) = tokio::join!(
                    client.batch_execute(open),
                    client.query_typed(
                        "select set_config('lock_timeout', $1, true)",
                        &timeout_param
                    ),
                    client.query_typed(&lock_sql, &typed),
                );
                Ok((a, b, c))
            })
            .await;
        let result = match outcome {
            Ok((Ok(()), Ok(_), Ok(_))) => conn.batch(close).await,
            Ok((a, b, c)) => {
                let err = a.err().or(b.err()).or(c.err()).expect("one failed");
                let _ = conn.batch(undo).await;
                Err(crate::core::db::errors::query_error(self.db.config(), &err))
            }
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => {
                state.record(name, key, scope);
                Ok(())
            }
            Err(e) => {
                let e = match e.code() {
                    ErrorCode::LockNotAvailable | ErrorCode::DbTimeout => lock_error(
                        ErrorCode::LockTimeout,
                        name,
                        format!("not acquired within {} ms: another holder has it", timeout.as_millis()),
                    ),
                    ErrorCode::Deadlock => lock_error(
                        ErrorCode::Deadlock,
                        name,
                        "Postgres detected a deadlock: another holder waits for a lock this holder has".into(),
                    ),
                    _ => e,
                };
                if state.held.is_empty() && !state.in_transaction {
                    state.conn = None;
                }
                Err(e)
            }
        }
    }

    /// Takes the lock if it is free; returns false at once when someone else holds it.
    pub async fn try_lock(&self, name: &str, key: LockKey, scope: LockScope) -> Result<bool> {
        self.check_scope(scope, name).await?;
        let mut state = self.state.lock().await;
        let slot = (key, scope == LockScope::Transaction);
        if let Some(h) = state.held.get_mut(&slot) {
            h.count += 1;
            return Ok(true);
        }
        let in_transaction = state.in_transaction;
        let conn = self.ensure_conn(&mut state).await?;
        let (args, params) = key.args();
        let typed: Vec<(&(dyn ToSql + Sync), Type)> = params
            .iter()
            .map(|(v, t)| (v.as_ref() as &(dyn ToSql + Sync), t.clone()))
            .collect();
        let got = match scope {
            LockScope::Session => {
                let rows = conn
                    .query(&format!("select pg_try_advisory_lock({args})"), &typed)
                    .await?;
                rows[0].get::<_, bool>(0)
            }
            LockScope::Transaction => {
                if !in_transaction {
                    conn.batch("begin").await?;
                }
                let rows = conn
                    .query(&format!("select pg_try_advisory_xact_lock({args})"), &typed)
                    .await?;
                let got = rows[0].get::<_, bool>(0);
                if !got && !in_transaction {
                    conn.batch("rollback").await?;
                }
                got
            }
        };
        if got {
            state.record(name, key, scope);
        } else if state.held.is_empty() && !state.in_transaction {
            state.conn = None;
        }
        Ok(got)
    }

    /// Releases one hold of a lock. `PGLANE_LOCK_NOT_HELD` when this holder does not hold it.
    pub async fn unlock(&self, name: &str, key: LockKey) -> Result<()> {
        let mut state = self.state.lock().await;
        let slot = if state.held.contains_key(&(key, false)) {
            (key, false)
        } else if state.held.contains_key(&(key, true)) {
            (key, true)
        } else {
            return Err(lock_error(
                ErrorCode::LockNotHeld,
                name,
                "this holder does not hold it".into(),
            ));
        };
        let held = state.held.get_mut(&slot).expect("present");
        if held.count > 1 {
            held.count -= 1;
            return Ok(());
        }
        let scope = held.scope;
        state.held.remove(&slot);
        let conn = state
            .conn
            .as_ref()
            .ok_or_else(|| Error::internal("a held lock without a connection"))?;
        match scope {
            LockScope::Session => {
                let (args, params) = key.args();
                let typed: Vec<(&(dyn ToSql + Sync), Type)> = params
                    .iter()
                    .map(|(v, t)| (v.as_ref() as &(dyn ToSql + Sync), t.clone()))
                    .collect();
                let rows = conn
                    .query(&format!("select pg_advisory_unlock({args})"), &typed)
                    .await?;
                if !rows[0].get::<_, bool>(0) {
                    return Err(lock_error(
                        ErrorCode::LockNotHeld,
                        name,
                        "the server says this session does not hold it".into(),
                    ));
                }
            }
            LockScope::Transaction => {
                if !state
                    .held
                    .values()
                    .any(|h| h.scope == LockScope::Transaction)
                {
                    conn.batch("commit").await?;
                    state.in_transaction = false;
                }
            }
        }
        if state.held.is_empty() && !state.in_transaction {
            state.conn = None;
        }
        Ok(())
    }

    /// The locks held now.
    pub async fn held(&self) -> Vec<HeldLock> {
        self.state.lock().await.held.values().cloned().collect()
    }

    /// Releases everything (end of test): returns how many locks were held. The connection goes
    /// back to the pool; if releasing fails, the connection is dropped, which releases too.
    pub async fn release_all(&self) -> Result<usize> {
        let mut state = self.state.lock().await;
        let n = state.held.len();
        if let Some(conn) = state.conn.take() {
            let sql = if state.in_transaction {
                "rollback; select pg_advisory_unlock_all()"
            } else {
                "select pg_advisory_unlock_all()"
            };
            if conn.batch(sql).await.is_err() {
                conn.discard();
            }
        }
        state.held.clear();
        state.in_transaction = false;
        Ok(n)
    }

    /// Scope name, for reports.
    pub fn scope_name(scope: LockScope) -> &'static str {
        scope.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_from_js_are_strings_or_pairs_of_32_bit_integers() {
        let (name, key) = LockKey::from_json("pglane", &serde_json::json!("job:a")).unwrap();
        assert_eq!(
            (name.as_str(), key),
            ("job:a", LockKey::hashed("pglane", "job:a"))
        );
        let (name, key) = LockKey::from_json("pglane", &serde_json::json!([1, -2])).unwrap();
        assert_eq!((name.as_str(), key), ("1,-2", LockKey::Pair(1, -2)));
        for bad in [
            serde_json::json!(""),
            serde_json::json!([1]),
            serde_json::json!([1, 3_000_000_000i64]),
            serde_json::json!(7),
        ] {
            assert_eq!(
                LockKey::from_json("pglane", &bad).unwrap_err().code(),
                ErrorCode::InvalidArgument,
                "{bad}"
            );
        }
    }

    #[test]
    fn nan_keys_negative_timeouts_and_nul_namespaces_are_refused() {
        let nan = Input::Array(vec![Input::Number(f64::NAN), Input::Number(0.0)]);
        let err = LockKey::from_input("pglane", &nan).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidArgument);
        for bad in [-5.0, 1.5, f64::NAN, 1e20] {
            assert_eq!(
                lock_timeout(&Input::Number(bad)).unwrap_err().code(),
                ErrorCode::InvalidArgument,
                "{bad}"
            );
        }
        assert_eq!(
            lock_timeout(&Input::Number(250.0)).unwrap(),
            Duration::from_millis(250)
        );
        // 'a\0' + 'b' and 'a' + '\0b' hash the same bytes: the NUL namespace is refused.
        assert_eq!(LockKey::hashed("a\0", "b"), LockKey::hashed("a", "\0b"));
        assert!(check_namespace("a\0").is_err());
        check_namespace("pglane").unwrap();
    }

    #[test]
    fn string_keys_are_stable_and_namespaced() {
        // Fixed values: changing the hash would break locks shared across pglane versions.
        assert_eq!(
            LockKey::hashed("pglane", "user:alice@x.test"),
            LockKey::hashed("pglane", "user:alice@x.test")
        );
        assert_ne!(
            LockKey::hashed("pglane", "a"),
            LockKey::hashed("other", "a")
        );
        assert_ne!(
            LockKey::hashed("pglane", "ab"),
            LockKey::hashed("pglanea", "b")
        );
        // Computed independently (FNV-1a 64 of b"pglane\0" and b"pglane\0user:alice@x.test").
        assert_eq!(
            LockKey::hashed("pglane", ""),
            LockKey::Single(-5_424_851_892_182_474_018)
        );
        assert_eq!(
            LockKey::hashed("pglane", "user:alice@x.test"),
            LockKey::Single(4_764_534_327_335_055_819)
        );
    }
}
