//! The one error type of pglane's core, with stable codes that JS callers can match on.

use std::fmt;

/// Stable error codes. The string form (`PGLANE_*`) is public API: never rename one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// A base name given to `name()`, `email()` or `slug()` is empty, too long or has control characters.
    InvalidName,
    /// A setting (URL, sslmode, timeout, name format, ...) is malformed; found before any connection.
    InvalidConfig,
    /// An argument has the wrong type or is out of range (`createList(-1)`, a `NaN` key,
    /// `workerIndex: '3'`), whatever checked it.
    InvalidArgument,
    /// A destructive operation (a sweep, a pattern cleanup) on a database that is not marked as
    /// a test database, without the opt-in.
    NotTestDatabase,
    /// The server rejected the user or password, or no `pg_hba.conf` entry lets the user in.
    DbAuth,
    /// The host could not be reached, refused the connection, or did not answer in time.
    DbUnreachable,
    /// The database named in the settings does not exist.
    DbNotFound,
    /// TLS failed: the server does not offer it, requires it, or its certificate was rejected.
    DbTls,
    /// The server (or pooler) has no connection slot left.
    DbTooManyConnections,
    /// A query ran longer than the configured statement timeout and was cancelled.
    DbTimeout,
    /// The connection broke while pglane was using it.
    DbConnectionLost,
    /// Any other error Postgres reported for a query.
    DbQuery,
    /// A unique constraint was violated (SQLSTATE 23505).
    Conflict,
    /// A foreign key constraint was violated (SQLSTATE 23503).
    ForeignKeyViolation,
    /// A lock could not be taken in time.
    LockTimeout,
    /// Postgres detected a deadlock (SQLSTATE 40P01).
    Deadlock,
    /// A lock was not available (SQLSTATE 55P03).
    LockNotAvailable,
    /// `unlock` of a lock this holder does not hold.
    LockNotHeld,
    /// The operation cannot work through a transaction-mode connection pooler.
    PoolerUnsupported,
    /// A table name that the database does not have.
    UnknownTable,
    /// A key that does not fit the table's primary key.
    BadKey,
    /// No factory has that name.
    FactoryUnknown,
    /// A field, column or parameter given to a factory does not exist.
    FactoryField,
    /// A trait given to a factory does not exist.
    FactoryTrait,
    /// A factory definition is invalid (bad YAML, unknown table or column, a cycle).
    FactoryDefinition,
    /// A value given to a factory does not fit its column's type.
    FactoryValue,
    /// Inference found no value for a column: a type it cannot make, a CHECK it cannot
    /// satisfy, a cycle of required foreign keys it cannot close.
    FactoryInfer,
    /// Supabase Auth's API refused a sign-in or could not be reached (the password grant).
    AuthApi,
    /// Supabase Auth's API answered 429: its rate limit for this IP was reached.
    AuthRateLimited,
    /// A query gave another number of rows than the caller expected (`one`: exactly one,
    /// `many`: at least one).
    RowCount,
    /// A schema file given to global setup failed (its file, line and statement are named), or
    /// changed since it was applied.
    SchemaFile,
    /// A per-test fixture (`lane`) was used where no test's lane can live, such as a
    /// `beforeAll` hook (raised by the TypeScript layer).
    FixtureScope,
    /// The embedded PostgreSQL could not be set up (raised by the TypeScript layer).
    EmbeddedSetup,
    /// A bug in pglane: an invariant did not hold.
    Internal,
}

/// `text` for a message: at most `max` characters, cut with `…` when longer (a name, key or
/// statement a caller gave may be any length).
pub fn excerpt(text: &str, max: usize) -> String {
    if text.chars().count() > max {
        format!("{}…", text.chars().take(max).collect::<String>())
    } else {
        text.to_string()
    }
}

/// A statement's text for a message: on one line (whitespace runs become one space), cut as
/// [`excerpt`].
pub fn sql_excerpt(sql: &str, max: usize) -> String {
    excerpt(&sql.split_whitespace().collect::<Vec<_>>().join(" "), max)
}

impl ErrorCode {
    /// The stable string form, e.g. `PGLANE_DB_AUTH`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidName => "PGLANE_INVALID_NAME",
            ErrorCode::InvalidConfig => "PGLANE_INVALID_CONFIG",
            ErrorCode::InvalidArgument => "PGLANE_INVALID_ARGUMENT",
            ErrorCode::NotTestDatabase => "PGLANE_NOT_TEST_DATABASE",
            ErrorCode::DbAuth => "PGLANE_DB_AUTH",
            ErrorCode::DbUnreachable => "PGLANE_DB_UNREACHABLE",
            ErrorCode::DbNotFound => "PGLANE_DB_NOT_FOUND",
            ErrorCode::DbTls => "PGLANE_DB_TLS",
            ErrorCode::DbTooManyConnections => "PGLANE_DB_TOO_MANY_CONNECTIONS",
            ErrorCode::DbTimeout => "PGLANE_DB_TIMEOUT",
            ErrorCode::DbConnectionLost => "PGLANE_DB_CONNECTION_LOST",
            ErrorCode::DbQuery => "PGLANE_DB_QUERY",
            ErrorCode::Conflict => "PGLANE_CONFLICT",
            ErrorCode::ForeignKeyViolation => "PGLANE_FOREIGN_KEY_VIOLATION",
            ErrorCode::LockTimeout => "PGLANE_LOCK_TIMEOUT",
            ErrorCode::Deadlock => "PGLANE_DEADLOCK",
            ErrorCode::LockNotAvailable => "PGLANE_LOCK_NOT_AVAILABLE",
            ErrorCode::LockNotHeld => "PGLANE_LOCK_NOT_HELD",
            ErrorCode::PoolerUnsupported => "PGLANE_POOLER_UNSUPPORTED",
            ErrorCode::UnknownTable => "PGLANE_UNKNOWN_TABLE",
            ErrorCode::BadKey => "PGLANE_BAD_KEY",
            ErrorCode::FactoryUnknown => "PGLANE_FACTORY_UNKNOWN",
            ErrorCode::FactoryField => "PGLANE_FACTORY_FIELD",
            ErrorCode::FactoryTrait => "PGLANE_FACTORY_TRAIT",
            ErrorCode::FactoryDefinition => "PGLANE_FACTORY_DEFINITION",
            ErrorCode::FactoryValue => "PGLANE_FACTORY_VALUE",
            ErrorCode::FactoryInfer => "PGLANE_FACTORY_INFER",
            ErrorCode::AuthApi => "PGLANE_AUTH_API",
            ErrorCode::AuthRateLimited => "PGLANE_AUTH_RATE_LIMITED",
            ErrorCode::RowCount => "PGLANE_ROW_COUNT",
            ErrorCode::SchemaFile => "PGLANE_SCHEMA_FILE",
            ErrorCode::FixtureScope => "PGLANE_FIXTURE_SCOPE",
            ErrorCode::EmbeddedSetup => "PGLANE_EMBEDDED_SETUP",
            ErrorCode::Internal => "PGLANE_INTERNAL",
        }
    }

    /// Every code, for documentation and the generated TypeScript union.
    pub const ALL: &'static [ErrorCode] = &[
        ErrorCode::InvalidName,
        ErrorCode::InvalidConfig,
        ErrorCode::InvalidArgument,
        ErrorCode::NotTestDatabase,
        ErrorCode::DbAuth,
        ErrorCode::DbUnreachable,
        ErrorCode::DbNotFound,
        ErrorCode::DbTls,
        ErrorCode::DbTooManyConnections,
        ErrorCode::DbTimeout,
        ErrorCode::DbConnectionLost,
        ErrorCode::DbQuery,
        ErrorCode::Conflict,
        ErrorCode::ForeignKeyViolation,
        ErrorCode::LockTimeout,
        ErrorCode::Deadlock,
        ErrorCode::LockNotAvailable,
        ErrorCode::LockNotHeld,
        ErrorCode::PoolerUnsupported,
        ErrorCode::UnknownTable,
        ErrorCode::BadKey,
        ErrorCode::FactoryUnknown,
        ErrorCode::FactoryField,
        ErrorCode::FactoryTrait,
        ErrorCode::FactoryDefinition,
        ErrorCode::FactoryValue,
        ErrorCode::FactoryInfer,
        ErrorCode::AuthApi,
        ErrorCode::AuthRateLimited,
        ErrorCode::RowCount,
        ErrorCode::SchemaFile,
        ErrorCode::FixtureScope,
        ErrorCode::EmbeddedSetup,
        ErrorCode::Internal,
    ];

    /// Classifies a Postgres SQLSTATE. This is the only place SQLSTATEs are interpreted.
    pub fn from_sqlstate(sqlstate: &str) -> ErrorCode {
        match sqlstate {
            "23505" => ErrorCode::Conflict,
            "23503" => ErrorCode::ForeignKeyViolation,
            "40P01" => ErrorCode::Deadlock,
            "55P03" => ErrorCode::LockNotAvailable,
            "57014" => ErrorCode::DbTimeout,
            "28P01" | "28000" => ErrorCode::DbAuth,
            "3D000" => ErrorCode::DbNotFound,
            "53300" => ErrorCode::DbTooManyConnections,
            s if s.starts_with("08") => ErrorCode::DbConnectionLost,
            // admin_shutdown, crash_shutdown, cannot_connect_now: the session is gone.
            "57P01" | "57P02" | "57P03" => ErrorCode::DbConnectionLost,
            _ => ErrorCode::DbQuery,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A pglane error: a stable code, a message that names what is at fault (never a secret),
/// the Postgres SQLSTATE and constraint when there are some, and the cause.
pub struct Error {
    code: ErrorCode,
    message: String,
    sqlstate: Option<String>,
    constraint: Option<String>,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

/// The text of an underlying error, already stripped of secrets: what [`Error::source`] gives
/// when the original could carry row values or a password.
#[derive(Debug)]
pub struct RedactedCause(pub String);

impl fmt::Display for RedactedCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RedactedCause {}

/// Result with pglane's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A new error with a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Error {
        Error {
            code,
            message: message.into(),
            sqlstate: None,
            constraint: None,
            source: None,
        }
    }

    /// Attaches the underlying cause.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Error {
        self.source = Some(Box::new(source));
        self
    }

    /// Attaches the Postgres SQLSTATE.
    pub fn with_sqlstate(mut self, sqlstate: impl Into<String>) -> Error {
        self.sqlstate = Some(sqlstate.into());
        self
    }

    /// The stable code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The message, without the code.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Attaches the name of the constraint Postgres reported.
    pub fn with_constraint(mut self, constraint: impl Into<String>) -> Error {
        self.constraint = Some(constraint.into());
        self
    }

    /// The Postgres SQLSTATE, when Postgres reported the error.
    pub fn sqlstate(&self) -> Option<&str> {
        self.sqlstate.as_deref()
    }

    /// The constraint Postgres named, e.g. `users_email_partial_key`.
    pub fn constraint(&self) -> Option<&str> {
        self.constraint.as_deref()
    }

    /// The same error with another message (code, SQLSTATE, constraint and cause kept).
    pub fn with_message(mut self, message: impl Into<String>) -> Error {
        self.message = message.into();
        self
    }

    /// Prefixes the message with context, e.g. the operation that failed.
    pub fn context(mut self, context: impl fmt::Display) -> Error {
        self.message = format!("{context}: {}", self.message);
        self
    }

    pub(crate) fn internal(message: impl Into<String>) -> Error {
        Error::new(ErrorCode::Internal, message)
    }

    pub(crate) fn invalid_config(message: impl Into<String>) -> Error {
        Error::new(ErrorCode::InvalidConfig, message)
    }

    pub(crate) fn invalid_argument(message: impl Into<String>) -> Error {
        Error::new(ErrorCode::InvalidArgument, message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)?;
        if let Some(state) = &self.sqlstate {
            write!(f, " (SQLSTATE {state})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Panics turned into errors, for the boundary with JS: a panic must never unwind into napi-rs
/// (it would abort the process, or reach JS without a code).
pub mod panic {
    use super::{Error, ErrorCode, Result};
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    /// The error of a panic: `PGLANE_INTERNAL`, with the first line of its message.
    pub fn error(payload: Box<dyn std::any::Any + Send>) -> Error {
        let text = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("no message");
        let line: String = text
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(200)
            .collect();
        Error::new(
            ErrorCode::Internal,
            format!("pglane panicked ({line}): this is a bug in pglane, please report it"),
        )
    }

    /// Runs `body`; a panic becomes [`error`].
    pub fn catch<T>(body: impl FnOnce() -> Result<T>) -> Result<T> {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(body))
            .unwrap_or_else(|p| Err(error(p)))
    }

    /// A future whose panics become [`error`].
    pub struct CatchPanic<F>(Pin<Box<F>>);

    impl<F> CatchPanic<F> {
        /// Wraps `fut`.
        pub fn new(fut: F) -> CatchPanic<F> {
            CatchPanic(Box::pin(fut))
        }
    }

    impl<T, F: Future<Output = Result<T>>> Future for CatchPanic<F> {
        type Output = Result<T>;
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
            let fut = self.0.as_mut();
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| fut.poll(cx))) {
                Ok(poll) => poll,
                Err(p) => Poll::Ready(Err(error(p))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panics_become_internal_errors_sync_and_async() {
        let err = panic::catch::<()>(|| panic!("index out of bounds\nat somewhere")).unwrap_err();
        assert_eq!(err.code(), ErrorCode::Internal);
        assert!(
            err.message().contains("index out of bounds"),
            "{}",
            err.message()
        );
        assert!(!err.message().contains("somewhere"), "first line only");
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let err = rt
            .block_on(panic::CatchPanic::new(async {
                if err.code() == ErrorCode::Internal {
                    panic!("in a future");
                }
                Ok(())
            }))
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::Internal);
        assert_eq!(panic::catch(|| Ok(7)).unwrap(), 7);
    }

    #[test]
    fn codes_are_unique_and_prefixed() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            assert!(code.as_str().starts_with("PGLANE_"), "{code}");
            assert!(seen.insert(code.as_str()), "duplicate {code}");
        }
    }

    #[test]
    fn the_typescript_union_lists_every_code() {
        let header = include_str!("../binding/header.d.ts");
        let union: Vec<&str> = header
            .lines()
            .filter_map(|l| l.trim().strip_prefix("| '"))
            .map(|l| l.trim_end_matches('\''))
            .collect();
        let codes: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(
            union, codes,
            "src/binding/header.d.ts must list ErrorCode::ALL in order"
        );
    }

    #[test]
    fn sqlstates_map_to_codes() {
        assert_eq!(ErrorCode::from_sqlstate("23505"), ErrorCode::Conflict);
        assert_eq!(ErrorCode::from_sqlstate("40P01"), ErrorCode::Deadlock);
        assert_eq!(
            ErrorCode::from_sqlstate("08006"),
            ErrorCode::DbConnectionLost
        );
        assert_eq!(ErrorCode::from_sqlstate("42P01"), ErrorCode::DbQuery);
    }
}
