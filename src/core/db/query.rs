//! Queries from tests (`lane.db.query`): any SQL with `$1, $2, ...` parameters, rows back as
//! JSON objects. One round trip, one unnamed statement, so it works through transaction-mode
//! poolers like everything else.
//!
//! - **Rows are what Postgres' `to_json` makes of them**, the same values a factory returns for
//!   the same columns: numbers for integer, float and numeric columns, strings for text, uuid,
//!   dates and times (ISO 8601), objects and arrays for json/jsonb, arrays for arrays, objects
//!   for composite types. A statement that gives rows (a query, or a data change with
//!   `RETURNING`) is wrapped as the last CTE of a statement that aggregates them with
//!   `json_agg`; Postgres converts every type, enums and extension types included, and no
//!   type lookup (a named statement of tokio-postgres) is needed.
//! - **Parameters are sent as text of unspecified type**, as the `pg` package sends them, so
//!   the server infers each one's type from where it is used: `null`, strings, numbers and
//!   booleans as themselves, arrays as Postgres array literals, objects as JSON.
//! - Other statements (DDL, a data change without `RETURNING`, `set`, `call`) run as written;
//!   their row count is the command's.

use super::sql_text;
use super::Db;
use crate::core::error::{sql_excerpt, Error, ErrorCode, Result};
use futures_util::{pin_mut, TryStreamExt};
use serde_json::Value;
use tokio_postgres::types::{to_sql_checked, Format, IsNull, Kind, ToSql, Type};

/// How many rows a caller expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Expect {
    /// Any number (`query`).
    #[default]
    Any,
    /// Exactly one (`one`).
    One,
    /// At least one (`many`).
    Many,
}

/// What a query gave.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryOutcome {
    /// The rows, as JSON objects keyed by column name.
    pub rows: Vec<Value>,
    /// Rows returned, or for a data change without `RETURNING`, rows changed.
    pub row_count: u64,
}

/// A parameter sent as text with an unspecified type: the server infers it.
#[derive(Debug, Clone, PartialEq)]
pub struct TextParam(pub(crate) Option<String>);

impl ToSql for TextParam {
    fn to_sql(
        &self,
        _ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match &self.0 {
            Some(text) => {
                out.extend_from_slice(text.as_bytes());
                Ok(IsNull::No)
            }
            None => Ok(IsNull::Yes),
        }
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }

    fn encode_format(&self, _ty: &Type) -> Format {
        Format::Text
    }

    to_sql_checked!();
}

/// Type OID 0: "let the server decide", as libpq sends a parameter without a type.
pub(crate) fn unspecified() -> Type {
    Type::new(
        "unspecified".to_string(),
        0,
        Kind::Simple,
        "pg_catalog".to_string(),
    )
}

/// The text a JSON parameter is sent as (`None` is SQL `null`).
pub fn param_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Array(items) => Some(array_literal(items)),
        Value::Object(_) => Some(value.to_string()),
    }
}

/// `{"a","b\"c",NULL,{"1","2"}}`: a Postgres array literal of JSON values.
fn array_literal(items: &[Value]) -> String {
    let inner: Vec<String> = items
        .iter()
        .map(|item| match item {
            Value::Null => "NULL".to_string(),
            Value::Array(nested) => array_literal(nested),
            other => {
                let text = param_text(other).unwrap_or_default();
                format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
            }
        })
        .collect();
    format!("{{{}}}", inner.join(","))
}

/// The statement that gives `sql`'s rows as one JSON array and their count, when `sql` gives
/// rows; `None` for a statement that is run as written.
pub fn wrapped(sql: &str) -> Option<String> {
    let shape = sql_text::shape(sql);
    if !shape.returns_rows() {
        return None;
    }
    // A line break before each `)`: the statement may end in a `--` comment.
    let main = sql_text::trim_end(&sql[shape.main_start..]);
    let ctes = if shape.with_clause {
        format!("{},\n", sql[..shape.main_start].trim_end())
    } else {
        "with ".to_string()
    };
    Some(format!(
        "{ctes}pglane_query as (\n{main}\n)\n\
         select coalesce(json_agg(pglane_row.*), '[]')::text, count(*) from pglane_query as pglane_row"
    ))
}

impl Db {
    /// Runs one statement with parameters and returns its rows as JSON objects (see the
    /// module docs for the values). One round trip. `expect` checks the number of rows:
    /// `PGLANE_ROW_COUNT` when it does not hold.
    pub async fn query_json(
        &self,
        sql: &str,
        params: &[Value],
        expect: Expect,
    ) -> Result<QueryOutcome> {
        if sql_text::has_several_statements(sql) {
            return Err(Error::new(
                ErrorCode::DbQuery,
                format!(
                    "a query is one statement; run several with executeScript: {}",
                    sql_excerpt(sql, 80)
                ),
            )
            .with_sqlstate("42601"));
        }
        let texts: Vec<TextParam> = params.iter().map(|v| TextParam(param_text(v))).collect();
        let ty = unspecified();
        let typed: Vec<(&(dyn ToSql + Sync), Type)> = texts
            .iter()
            .map(|p| (p as &(dyn ToSql + Sync), ty.clone()))
            .collect();
        let conn = self.conn().await?;
        let outcome = match wrapped(sql) {
            Some(statement) => {
                let rows = conn.query(&statement, &typed).await?;
                let row = rows
                    .first()
                    .ok_or_else(|| Error::internal("the wrapped query returned no row"))?;
                let json: String = row.get(0);
                let count: i64 = row.get(1);
                let rows: Vec<Value> = serde_json::from_str(&json)
                    .map_err(|e| Error::internal(format!("rows of a query: {e}")))?;
                QueryOutcome {
                    rows,
                    row_count: count as u64,
                }
            }
            None => {
                let client = conn.client();
                let (rows, affected) = conn
                    .run(1, async {
                        let stream = client.query_typed_raw(sql, typed).await?;
                        pin_mut!(stream);
                        let mut rows = Vec::new();
                        while let Some(row) = stream.try_next().await? {
                            rows.push(row);
                        }
                        Ok((rows, stream.rows_affected()))
                    })
                    .await?;
                let rows = rows.iter().map(plain_row).collect::<Result<Vec<Value>>>()?;
                let row_count = affected.unwrap_or(rows.len() as u64);
                QueryOutcome { rows, row_count }
            }
        };
        check_expectation(&outcome, expect, sql)?;
        Ok(outcome)
    }
}

fn check_expectation(outcome: &QueryOutcome, expect: Expect, sql: &str) -> Result<()> {
    let n = outcome.rows.len();
    let wanted = match expect {
        Expect::Any => return Ok(()),
        Expect::One if n == 1 => return Ok(()),
        Expect::Many if n >= 1 => return Ok(()),
        Expect::One => "exactly one row",
        Expect::Many => "at least one row",
    };
    Err(Error::new(
        ErrorCode::RowCount,
        format!(
            "expected {wanted}, the query returned {n}: {}",
            sql_excerpt(sql, 80)
        ),
    ))
}

/// A row of a statement run as written (`show`, `explain`, `call`): built-in types only.
fn plain_row(row: &tokio_postgres::Row) -> Result<Value> {
    let mut object = serde_json::Map::new();
    for (i, column) in row.columns().iter().enumerate() {
        let ty = column.type_();
        let value = match *ty {
            Type::BOOL => row.try_get::<_, Option<bool>>(i).map(|v| v.into()),
            Type::INT2 => row.try_get::<_, Option<i16>>(i).map(|v| v.into()),
            Type::INT4 => row.try_get::<_, Option<i32>>(i).map(|v| v.into()),
            Type::INT8 => row.try_get::<_, Option<i64>>(i).map(|v| v.into()),
            Type::FLOAT4 => row.try_get::<_, Option<f32>>(i).map(|v| v.into()),
            Type::FLOAT8 => row.try_get::<_, Option<f64>>(i).map(|v| v.into()),
            Type::JSON | Type::JSONB => row.try_get::<_, Option<Value>>(i).map(|v| v.into()),
            Type::UUID => row
                .try_get::<_, Option<uuid::Uuid>>(i)
                .map(|v| v.map(|u| u.to_string()).into()),
            _ if <String as tokio_postgres::types::FromSql>::accepts(ty) => {
                row.try_get::<_, Option<String>>(i).map(|v| v.into())
            }
            _ => {
                return Err(Error::new(
                    ErrorCode::DbQuery,
                    format!(
                        "column {:?} of type {} cannot be read from this statement; \
                         cast it to text (`{}::text`), or select it in a query",
                        column.name(),
                        ty.name(),
                        column.name()
                    ),
                ))
            }
        };
        let value = value.map_err(|e| Error::internal(format!("column {}: {e}", column.name())))?;
        object.insert(column.name().to_string(), value);
    }
    Ok(Value::Object(object))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parameters_become_text_postgres_reads() {
        assert_eq!(param_text(&json!(null)), None);
        assert_eq!(param_text(&json!("a'b")).as_deref(), Some("a'b"));
        assert_eq!(param_text(&json!(42)).as_deref(), Some("42"));
        assert_eq!(param_text(&json!(1.5)).as_deref(), Some("1.5"));
        assert_eq!(param_text(&json!(true)).as_deref(), Some("true"));
        assert_eq!(
            param_text(&json!(["a", "b\"c", null, 3, ["x\\y"]])).as_deref(),
            Some(r#"{"a","b\"c",NULL,"3",{"x\\y"}}"#)
        );
        assert_eq!(
            param_text(&json!({ "k": [1, "v"] })).as_deref(),
            Some(r#"{"k":[1,"v"]}"#)
        );
    }

    #[test]
    fn row_giving_statements_are_wrapped_as_the_last_cte() {
        let w = wrapped("select * from t where id = $1; -- the row").unwrap();
        assert!(
            w.starts_with("with pglane_query as (\nselect * from t where id = $1\n)"),
            "{w}"
        );
        let w = wrapped("with a as (delete from t returning id) select id from a").unwrap();
        assert!(
            w.starts_with(
                "with a as (delete from t returning id),\npglane_query as (\nselect id from a\n)"
            ),
            "{w}"
        );
        assert!(wrapped("insert into t (a) values ($1) returning id -- c").is_some());
        assert!(wrapped("insert into t (a) values ($1)").is_none());
        assert!(wrapped("create table t (x int)").is_none());
        assert!(wrapped("set statement_timeout = 0").is_none());
    }

    #[test]
    fn a_wrong_row_count_names_the_expectation_and_the_query() {
        let outcome = QueryOutcome {
            rows: vec![json!({}), json!({})],
            row_count: 2,
        };
        assert!(check_expectation(&outcome, Expect::Any, "select").is_ok());
        assert!(check_expectation(&outcome, Expect::Many, "select").is_ok());
        let err = check_expectation(&outcome, Expect::One, "select *\n  from tasks").unwrap_err();
        assert_eq!(err.code(), ErrorCode::RowCount);
        assert_eq!(
            err.message(),
            "expected exactly one row, the query returned 2: select * from tasks"
        );
        let none = QueryOutcome::default();
        let err = check_expectation(&none, Expect::Many, "select 1").unwrap_err();
        assert!(err
            .message()
            .starts_with("expected at least one row, the query returned 0"));
    }
}
