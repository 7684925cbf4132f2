//! The one place where connection, pool and query errors get their codes and lose their
//! secrets. SQLSTATEs are classified by [`ErrorCode::from_sqlstate`]; this module adds what to
//! check in the message, and removes what must never be printed: the password, and the row
//! values Postgres quotes in "Failing row contains (...)" (a bcrypt hash, a token).

use super::config::DbConfig;
use crate::core::error::{Error, ErrorCode, RedactedCause};
use deadpool_postgres::PoolError;

/// Removes the values of Postgres' "Failing row contains (...)" detail from `text`: it prints a
/// whole row, password hashes and tokens included. The row is found by its parentheses, outside
/// the double quotes Postgres puts around values that hold parentheses or commas.
pub fn strip_row_values(text: &str) -> String {
    const MARK: &str = "Failing row contains ";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(MARK) {
        let row = &rest[at + MARK.len()..];
        out.push_str(&rest[..at + MARK.len()]);
        out.push_str("(values hidden)");
        rest = &row[row_len(row)..];
    }
    out.push_str(rest);
    out
}

/// The length of the parenthesised row `row` starts with (all of it when unbalanced).
fn row_len(row: &str) -> usize {
    if !row.starts_with('(') {
        return 0;
    }
    let (mut depth, mut quoted) = (0usize, false);
    for (i, c) in row.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
    }
    row.len()
}

/// Everything that leaves pglane in an error goes through here: the password masked and row
/// values removed.
pub fn redact(cfg: &DbConfig, text: &str) -> String {
    cfg.redact(&strip_row_values(text))
}

fn cause(cfg: &DbConfig, e: &tokio_postgres::Error) -> RedactedCause {
    let mut text = e.to_string();
    if let Some(db) = e.as_db_error() {
        text = format!("{}: {}", db.severity(), db.message());
        if let Some(detail) = db.detail() {
            text.push_str("\nDETAIL: ");
            text.push_str(detail);
        }
    }
    RedactedCause(redact(cfg, &text))
}

/// Maps an error from a query on an open connection.
pub fn query_error(cfg: &DbConfig, e: &tokio_postgres::Error) -> Error {
    if let Some(db) = e.as_db_error() {
        let state = db.code().code();
        let mut message = db.message().to_string();
        if let Some(detail) = db.detail() {
            message.push_str(" (");
            message.push_str(detail);
            message.push(')');
        }
        let mut place = Vec::new();
        if let (Some(schema), Some(table)) = (db.schema(), db.table()) {
            place.push(format!("table {schema}.{table}"));
        }
        if let Some(c) = db.constraint() {
            place.push(format!("constraint {c}"));
        }
        if !place.is_empty() {
            message = format!("{message} [{}]", place.join(", "));
        }
        let mut err = Error::new(ErrorCode::from_sqlstate(state), redact(cfg, &message))
            .with_sqlstate(state)
            .with_source(cause(cfg, e));
        if let Some(c) = db.constraint() {
            err = err.with_constraint(c);
        }
        return err;
    }
    if e.is_closed() || source_io_error(e).is_some() {
        return Error::new(
            ErrorCode::DbConnectionLost,
            format!(
                "the connection to {} was lost: {}",
                cfg.describe(),
                redact(cfg, &e.to_string())
            ),
        )
        .with_source(cause(cfg, e));
    }
    Error::new(ErrorCode::DbQuery, redact(cfg, &e.to_string())).with_source(cause(cfg, e))
}

/// Whether a catalog query failed only because another session dropped a relation while it
/// ran: the query's rows come from its snapshot, but the functions that print expressions
/// (`pg_get_expr`, `pg_get_constraintdef`) open the relation as it is now, and Postgres reports
/// an internal error (XX000) when it is gone. Read again, the catalog no longer has it.
pub fn catalog_moved(err: &Error) -> bool {
    err.sqlstate() == Some("XX000")
        && (err.message().contains("could not open relation with OID")
            || err.message().contains("cache lookup failed"))
}

/// How often a catalog read is tried when [`catalog_moved`] says DDL ran beside it.
const CATALOG_ATTEMPTS: u64 = 5;

/// Runs the catalog query `read`, again while [`catalog_moved`] says another session's DDL
/// made it fail: its outcome, and how many times it ran (round trips).
pub async fn read_catalog<T, F, Fut>(mut read: F) -> (crate::core::error::Result<T>, u64)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = crate::core::error::Result<T>>,
{
    let mut attempts = 1;
    loop {
        match read().await {
            Err(e) if catalog_moved(&e) && attempts < CATALOG_ATTEMPTS => attempts += 1,
            outcome => return (outcome, attempts),
        }
    }
}

/// Maps a failure to get a connection from the pool.
pub fn pool_error(cfg: &DbConfig, e: PoolError) -> Error {
    match e {
        PoolError::Backend(pg) => connect_error(cfg, &pg),
        PoolError::Timeout(deadpool_postgres::TimeoutType::Wait) => Error::new(
            ErrorCode::DbTimeout,
            format!(
                "all {} connections of this process's pool to {} stayed busy for {} ms; \
                 raise PGLANE_POOL_SIZE or release held locks",
                cfg.pool_size,
                cfg.describe(),
                cfg.statement_timeout.as_millis()
            ),
        ),
        PoolError::Timeout(_) => Error::new(
            ErrorCode::DbUnreachable,
            format!(
                "could not connect to {} within {} ms: check the host, the port and that the server is running",
                cfg.describe(),
                cfg.connect_timeout.as_millis()
            ),
        ),
        PoolError::Closed => Error::new(
            ErrorCode::DbConnectionLost,
            format!("the connection pool to {} was closed", cfg.describe()),
        ),
        other => Error::internal(redact(cfg, &format!("connection pool failed: {other}"))),
    }
}

/// What a user should check, by the code an error opening a connection got.
fn connect_hint(code: ErrorCode, cfg: &DbConfig, said: &str) -> String {
    match code {
        ErrorCode::DbAuth => format!(
            "the server refused role {:?} ({said}): check the user and password in DATABASE_URL, and that pg_hba.conf lets the role in",
            cfg.user
        ),
        ErrorCode::DbTls => format!(
            "the server accepts only encrypted connections ({said}): use sslmode=require or stricter"
        ),
        ErrorCode::DbNotFound => format!(
            "database {:?} does not exist ({said}): create it or fix the database name",
            cfg.dbname
        ),
        ErrorCode::DbTooManyConnections => format!(
            "no connection slot left ({said}): lower the worker count or PGLANE_POOL_SIZE, or raise max_connections"
        ),
        _ => format!("the server refused the connection: {said}"),
    }
}

/// The code of an error Postgres (or a pooler) sent while a connection was being opened.
/// pgbouncer reports its own refusals as protocol violations (08P01): their text tells which.
fn connect_code(state: &str, said: &str) -> ErrorCode {
    match state {
        "28000" if said.contains("no encryption") => ErrorCode::DbTls,
        "08P01" if said.contains("no more connections") || said.contains("max_client_conn") => {
            ErrorCode::DbTooManyConnections
        }
        "08P01"
            if said.contains("authentication failed")
                || said.starts_with("server login failed") =>
        {
            ErrorCode::DbAuth
        }
        "08P01" if said.contains("no such database") => ErrorCode::DbNotFound,
        s if s.starts_with("08") => ErrorCode::DbUnreachable,
        s => ErrorCode::from_sqlstate(s),
    }
}

/// Maps an error from opening a connection to a code and a message that names host, port and
/// database and says what to check. The password never appears.
pub fn connect_error(cfg: &DbConfig, e: &tokio_postgres::Error) -> Error {
    let target = cfg.describe();
    let (code, message) = if let Some(db) = e.as_db_error() {
        let state = db.code().code();
        let code = connect_code(state, db.message());
        (
            code,
            format!(
                "{target}: {} (SQLSTATE {state})",
                connect_hint(code, cfg, db.message())
            ),
        )
    } else if let Some(tls) = source_tls_error(e) {
        (
            ErrorCode::DbTls,
            format!("{target}: the TLS handshake failed: {tls}: check sslmode and sslrootcert (sslmode={})", cfg.sslmode.as_str()),
        )
    } else if e.to_string().starts_with("error performing TLS handshake") {
        let why = std::error::Error::source(e)
            .map(|s| s.to_string())
            .unwrap_or_else(|| e.to_string());
        (
            ErrorCode::DbTls,
            format!("{target}: TLS failed: {why}: sslmode={} needs a server with TLS on; use sslmode=disable or prefer for a server without it", cfg.sslmode.as_str()),
        )
    } else if let Some(io) = source_io_error(e) {
        let why = match io.kind() {
            std::io::ErrorKind::ConnectionRefused => {
                "the connection was refused: is the server running on that host and port?"
                    .to_string()
            }
            std::io::ErrorKind::TimedOut => {
                "the connection timed out: check the host, port and firewall".to_string()
            }
            _ => format!("{io}: check the host and port"),
        };
        (
            ErrorCode::DbUnreachable,
            format!("could not reach {target}: {why}"),
        )
    } else if e.to_string().contains("timeout") {
        (
            ErrorCode::DbUnreachable,
            format!("could not reach {target} within {} ms: check the host, the port and that the server is running", cfg.connect_timeout.as_millis()),
        )
    } else {
        (
            ErrorCode::DbUnreachable,
            format!("could not connect to {target}: {e}"),
        )
    };
    let mut err = Error::new(code, redact(cfg, &message)).with_source(cause(cfg, e));
    if let Some(db) = e.as_db_error() {
        err = err.with_sqlstate(db.code().code());
    }
    err
}

fn source_io_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a std::io::Error> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return Some(io);
        }
        cur = err.source();
    }
    None
}

fn source_tls_error(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return Some(tls.to_string());
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if let Some(inner) = io.get_ref() {
                if let Some(tls) = inner.downcast_ref::<rustls::Error>() {
                    return Some(tls.to_string());
                }
            }
        }
        cur = err.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failing_rows_lose_their_values() {
        let text = "new row for relation \"users\" violates check constraint \"c\" \
                    (Failing row contains (1, $2a$04$abcdefghijklmnopqrstuv, secret-token)) [table auth.users]";
        let out = strip_row_values(text);
        assert!(!out.contains("$2a$04$"), "{out}");
        assert!(!out.contains("secret-token"), "{out}");
        assert!(
            out.ends_with("(Failing row contains (values hidden)) [table auth.users]"),
            "{out}"
        );
        assert_eq!(strip_row_values("no row here"), "no row here");
        let quoted = r#"DETAIL: Failing row contains (7, "a) tricky, value", ")(", x)."#;
        assert_eq!(
            strip_row_values(quoted),
            "DETAIL: Failing row contains (values hidden)."
        );
    }

    #[test]
    fn connection_refusals_are_classified_once() {
        assert_eq!(connect_code("28P01", "password"), ErrorCode::DbAuth);
        assert_eq!(
            connect_code("28000", "no pg_hba.conf entry ... no encryption"),
            ErrorCode::DbTls
        );
        assert_eq!(
            connect_code("08P01", "no more connections allowed (max_client_conn)"),
            ErrorCode::DbTooManyConnections
        );
        assert_eq!(
            connect_code("08P01", "server login failed: wrong password type"),
            ErrorCode::DbAuth
        );
        assert_eq!(connect_code("3D000", "x"), ErrorCode::DbNotFound);
        assert_eq!(connect_code("08006", "x"), ErrorCode::DbUnreachable);
    }
}
