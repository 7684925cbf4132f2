//! Schema files (`schemaFiles` of the Playwright options): applied once per database, recorded
//! by name and SHA-256 of their content in `pglane.schema_files`, so the second run against a
//! real database does not fail on `relation "users" already exists`.
//!
//! - A file whose content is recorded is skipped (one round trip for all files when nothing
//!   is new). A file that changed since is an error unless its [`OnChange`] says otherwise:
//!   running a schema twice is only safe where its author made it so.
//! - New and changed files are applied in one transaction, under an advisory lock, with their
//!   records: shards starting at once apply each file once, and a file that fails leaves
//!   nothing behind (so it can be fixed and run again). A file must therefore not hold
//!   statements that refuse a transaction (`create index concurrently`, `vacuum`).
//! - A failure names the file, the line and the text of the statement (`PGLANE_SCHEMA_FILE`),
//!   with Postgres' SQLSTATE: the line Postgres' error position points to when it gives one
//!   (the statement around it), else the first line of the statement that fails when the
//!   file's statements run one by one inside the failed transaction's savepoint.
//! - Without the `pglane` schema (a role without `CREATE`), nothing can be recorded: files are
//!   applied on every run, and the caller says so.

use crate::core::db::catalog::Freshness;
use crate::core::db::errors::query_error;
use crate::core::db::sql_text::{self, Statement};
use crate::core::db::{Conn, Db};
use crate::core::error::{sql_excerpt, Error, ErrorCode, Result};
use sha2::{Digest, Sha256};
use tokio_postgres::types::Type;

/// The record table (part of the `pglane` schema's set-up).
pub(crate) const DDL: &str = r#"
create table if not exists pglane.schema_files (
  name text primary key,
  sha256 text not null,
  applied_at timestamptz not null default now(),
  run_id text
);
"#;

/// Serialises concurrent appliers (a transaction-scoped advisory lock).
const APPLY_LOCK_SQL: &str = "select pg_advisory_xact_lock(7095312440219086103)";

/// What to do with a file whose content changed since it was applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnChange {
    /// Fail with `PGLANE_SCHEMA_FILE` (the default: the database has the old schema).
    #[default]
    Error,
    /// Apply it again (for files written to run twice: `create or replace`, `if not exists`).
    Reapply,
    /// Leave the database as it is, and say so.
    Skip,
}

impl OnChange {
    /// `"error"`, `"reapply"` or `"skip"`.
    pub fn parse(text: &str) -> Result<OnChange> {
        match text {
            "error" => Ok(OnChange::Error),
            "reapply" => Ok(OnChange::Reapply),
            "skip" => Ok(OnChange::Skip),
            other => Err(Error::invalid_config(format!(
                "onChange of a schema file is \"error\", \"reapply\" or \"skip\"; got {other:?}"
            ))),
        }
    }
}

/// A schema file to apply.
#[derive(Debug, Clone)]
pub struct SchemaFile {
    /// Its name in the record and in messages: the path as the user gave it (relative to the
    /// config file), the same on every machine.
    pub name: String,
    /// Its SQL.
    pub sql: String,
    /// What to do when it changed since it was applied.
    pub on_change: OnChange,
}

impl SchemaFile {
    /// SHA-256 of the content, hex.
    pub fn sha256(&self) -> String {
        Sha256::digest(self.sql.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// What happened to one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileStatus {
    /// Applied now, for the first time on this database.
    Applied,
    /// Its content was applied before: skipped.
    Unchanged,
    /// Changed since it was applied, and applied again (`OnChange::Reapply`).
    Reapplied,
    /// Changed since it was applied, and left alone (`OnChange::Skip`).
    ChangedSkipped,
    /// Applied without a record (no `pglane` schema): it runs on every run.
    AppliedUnrecorded,
}

impl FileStatus {
    /// e.g. `"applied"`, `"unchanged"`.
    pub fn as_str(self) -> &'static str {
        match self {
            FileStatus::Applied => "applied",
            FileStatus::Unchanged => "unchanged",
            FileStatus::Reapplied => "reapplied",
            FileStatus::ChangedSkipped => "changed-skipped",
            FileStatus::AppliedUnrecorded => "applied-unrecorded",
        }
    }
}

/// The outcome for one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileOutcome {
    /// The file's name.
    pub name: String,
    /// What happened.
    pub status: FileStatus,
}

/// Applies what is new of `files`, in order, and records it (see the module docs). `recorded`
/// is false when the `pglane` schema is not available: every file is applied. The schema graph
/// is read again afterwards when anything was applied.
pub async fn apply(
    db: &Db,
    files: &[SchemaFile],
    run_id: &str,
    recorded: bool,
) -> Result<Vec<FileOutcome>> {
    if files.is_empty() {
        return Ok(Vec::new());
    }
    let conn = db.conn().await?;
    let outcomes = if recorded {
        // Nothing new (the usual second run): one round trip, no lock.
        let before = record_of(&conn, files).await?;
        match decide(files, &before)? {
            Some(outcomes) => return Ok(outcomes),
            None => apply_recorded(&conn, files, run_id).await?,
        }
    } else {
        in_transaction(&conn, async {
            let mut outcomes = Vec::new();
            for file in files {
                apply_one(&conn, file).await?;
                outcomes.push(FileOutcome {
                    name: file.name.clone(),
                    status: FileStatus::AppliedUnrecorded,
                });
            }
            Ok(outcomes)
        })
        .await?
    };
    drop(conn);
    db.graph_for(Freshness::Fresh).await?;
    Ok(outcomes)
}

/// The recorded hashes of `files`, by name.
async fn record_of(
    conn: &Conn,
    files: &[SchemaFile],
) -> Result<std::collections::HashMap<String, String>> {
    let names: Vec<String> = files.iter().map(|f| f.name.clone()).collect();
    let rows = conn
        .query(
            "select name, sha256 from pglane.schema_files where name = any($1)",
            &[(&names, Type::TEXT_ARRAY)],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// The outcomes when nothing needs applying; `None` when something does. A changed file with
/// `OnChange::Error` is the error.
fn decide(
    files: &[SchemaFile],
    recorded: &std::collections::HashMap<String, String>,
) -> Result<Option<Vec<FileOutcome>>> {
    let mut outcomes = Vec::new();
    for file in files {
        let status = match recorded.get(&file.name) {
            None => return Ok(None),
            Some(hash) if *hash == file.sha256() => FileStatus::Unchanged,
            Some(_) => match file.on_change {
                OnChange::Error => return Err(changed_error(file)),
                OnChange::Skip => FileStatus::ChangedSkipped,
                OnChange::Reapply => return Ok(None),
            },
        };
        outcomes.push(FileOutcome {
            name: file.name.clone(),
            status,
        });
    }
    Ok(Some(outcomes))
}

fn changed_error(file: &SchemaFile) -> Error {
    Error::new(
        ErrorCode::SchemaFile,
        format!(
            "{} changed since it was applied to this database; pglane applies a schema file once \
             per database, so the database still has the old version. Reset the database (or \
             delete the file's row from pglane.schema_files), or let pglane run it again where \
             that is safe: {{ path: {:?}, onChange: 'reapply' }} ('skip' keeps the old schema)",
            file.name, file.name
        ),
    )
}

/// Applies new and changed files in one transaction under the lock, deciding again under it
/// (another run may have applied them meanwhile), and records them.
async fn apply_recorded(
    conn: &Conn,
    files: &[SchemaFile],
    run_id: &str,
) -> Result<Vec<FileOutcome>> {
    in_transaction(conn, async {
        conn.query(APPLY_LOCK_SQL, &[]).await?;
        let recorded = record_of(conn, files).await?;
        let mut outcomes = Vec::new();
        for file in files {
            let hash = file.sha256();
            let status = match recorded.get(&file.name) {
                Some(h) if *h == hash => FileStatus::Unchanged,
                Some(_) if file.on_change == OnChange::Error => return Err(changed_error(file)),
                Some(_) if file.on_change == OnChange::Skip => FileStatus::ChangedSkipped,
                Some(_) => FileStatus::Reapplied,
                None => FileStatus::Applied,
            };
            if matches!(status, FileStatus::Applied | FileStatus::Reapplied) {
                apply_one(conn, file).await?;
                let (name, run) = (file.name.clone(), run_id.to_string());
                conn.query(
                    "insert into pglane.schema_files (name, sha256, run_id) values ($1, $2, $3) \
                     on conflict (name) do update set sha256 = excluded.sha256, \
                     applied_at = now(), run_id = excluded.run_id",
                    &[(&name, Type::TEXT), (&hash, Type::TEXT), (&run, Type::TEXT)],
                )
                .await?;
            }
            outcomes.push(FileOutcome {
                name: file.name.clone(),
                status,
            });
        }
        Ok(outcomes)
    })
    .await
}

/// Runs `work` between `begin` and `commit`; rolls back when it fails.
async fn in_transaction<T>(
    conn: &Conn,
    work: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    conn.batch("begin").await?;
    match work.await {
        Ok(value) => {
            conn.batch("commit").await?;
            Ok(value)
        }
        Err(e) => {
            let _ = conn.batch("rollback").await;
            Err(e)
        }
    }
}

/// Runs one file inside the caller's transaction, behind a savepoint; on failure, names the
/// file, line and statement. The caller's transaction is aborted after a failure.
async fn apply_one(conn: &Conn, file: &SchemaFile) -> Result<()> {
    conn.batch("savepoint pglane_schema_file").await?;
    let client = conn.client();
    // The file's own BEGIN/COMMIT would end this transaction: the file is atomic in it anyway.
    let sql = sql_text::without_transaction_control(&file.sql);
    let raw = conn
        .run(1, async {
            Ok::<_, tokio_postgres::Error>(client.batch_execute(&sql).await)
        })
        .await?;
    let Err(e) = raw else {
        return Ok(());
    };
    let mapped = query_error(conn.config(), &e);
    // Postgres points into the text when it can (syntax errors, unknown columns).
    let position = e.as_db_error().and_then(|d| match d.position() {
        Some(tokio_postgres::error::ErrorPosition::Original(p)) => Some(*p as usize),
        _ => None,
    });
    // Offsets and lines of the blanked text are the file's own.
    let statements = sql_text::split_statements(&sql);
    let at = position.and_then(|p| sql_text::char_offset(&sql, p));
    let failing = match at {
        Some(offset) => statements
            .iter()
            .find(|s| s.start <= offset && offset <= s.end)
            .cloned()
            .map(|s| (s, sql_text::line_of(&sql, offset))),
        None => locate(conn, &sql, &statements).await,
    };
    Err(file_error(file, failing, mapped))
}

/// The statement that fails when the file runs statement by statement from its savepoint.
async fn locate(conn: &Conn, sql: &str, statements: &[Statement]) -> Option<(Statement, usize)> {
    conn.batch("rollback to savepoint pglane_schema_file")
        .await
        .ok()?;
    for statement in statements {
        if conn.batch(statement.text(sql)).await.is_err() {
            return Some((statement.clone(), statement.line));
        }
    }
    None
}

fn file_error(file: &SchemaFile, failing: Option<(Statement, usize)>, cause: Error) -> Error {
    // One line: test runners print the first line of a setup error's message.
    let message = match &failing {
        Some((statement, line)) => format!(
            "{}:{line}: {} (in `{}`)",
            file.name,
            cause.message(),
            sql_excerpt(statement.text(&file.sql), 240)
        ),
        None => format!("{}: {}", file.name, cause.message()),
    };
    let mut err = Error::new(ErrorCode::SchemaFile, message);
    if let Some(state) = cause.sqlstate() {
        err = err.with_sqlstate(state);
    }
    err.with_source(cause)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, sql: &str, on_change: OnChange) -> SchemaFile {
        SchemaFile {
            name: name.into(),
            sql: sql.into(),
            on_change,
        }
    }

    #[test]
    fn recorded_files_are_skipped_and_changed_ones_follow_their_setting() {
        let a = file("db/a.sql", "create table a (x int);", OnChange::Error);
        let b = file("db/b.sql", "create table b (x int);", OnChange::Skip);
        let mut recorded = std::collections::HashMap::new();
        recorded.insert(a.name.clone(), a.sha256());
        assert_eq!(decide(&[a.clone(), b.clone()], &recorded).unwrap(), None);
        recorded.insert(b.name.clone(), "old".into());
        let outcomes = decide(&[a.clone(), b.clone()], &recorded).unwrap().unwrap();
        assert_eq!(
            outcomes.iter().map(|o| o.status).collect::<Vec<_>>(),
            vec![FileStatus::Unchanged, FileStatus::ChangedSkipped]
        );
        recorded.insert(a.name.clone(), "old".into());
        let err = decide(std::slice::from_ref(&a), &recorded).unwrap_err();
        assert_eq!(err.code(), ErrorCode::SchemaFile);
        assert!(err
            .message()
            .starts_with("db/a.sql changed since it was applied"));
        let reapply = file("db/a.sql", "create table a (x int);", OnChange::Reapply);
        assert_eq!(decide(&[reapply], &recorded).unwrap(), None);
    }

    #[test]
    fn a_failure_names_file_line_and_statement() {
        let f = file(
            "db/schema.sql",
            "create table a (x int);\n\ncreate table users (\n  id int\n);",
            OnChange::Error,
        );
        let statements = sql_text::split_statements(&f.sql);
        let cause = Error::new(ErrorCode::DbQuery, "relation \"users\" already exists")
            .with_sqlstate("42P07");
        let err = file_error(&f, Some((statements[1].clone(), 3)), cause);
        assert_eq!(err.code(), ErrorCode::SchemaFile);
        assert_eq!(err.sqlstate(), Some("42P07"));
        assert_eq!(
            err.message(),
            "db/schema.sql:3: relation \"users\" already exists (in `create table users ( id int )`)"
        );
    }

    #[test]
    fn long_statements_are_shortened_to_one_line() {
        let long = (0..60)
            .map(|i| format!("line {i}"))
            .collect::<Vec<_>>()
            .join("\n");
        let s = sql_excerpt(&long, 240);
        assert!(s.ends_with('…'), "{s}");
        assert_eq!(s.lines().count(), 1);
        assert_eq!(s.chars().count(), 241);
        assert_eq!(OnChange::parse("reapply").unwrap(), OnChange::Reapply);
        assert_eq!(
            OnChange::parse("again").unwrap_err().code(),
            ErrorCode::InvalidConfig
        );
    }
}
