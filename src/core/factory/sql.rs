//! The factory statement: a planned call becomes one SQL statement (a chain of
//! `insert ... returning *` CTEs, parents before children, and the journal entries of what it
//! inserts), sent in one round trip; every inserted row is tracked and comes back as stored,
//! with `bigint` and `numeric` values as strings (as `pg` gives them: a JS number cannot hold
//! every one).

use super::check::Check;
use super::planner::{assemble, Plan, Val};
use super::values::{shape_of, Shape};
use crate::core::db::table_facts::{ConstraintRef, TableFacts};
use crate::core::db::Conn;
use crate::core::error::{Error, Result};
use crate::core::lane::tracker::{ResourceTracker, TrackedRow};
use crate::core::runs::journal::{self, FactoryEntry};
use crate::core::schema::{quote_ident, SchemaGraph, TableId};
use serde_json::Value;
use std::fmt::Write;
use tokio_postgres::types::{ToSql, Type};

/// The most parameters one statement may have (the protocol counts them in 16 bits).
const MAX_PARAMS: usize = 65_535;

/// A factory statement's values: one text parameter each or, for a call with more values than
/// the protocol allows parameters, elements of one `jsonb` array parameter (`$1->>k` reads one
/// element without walking the others).
#[derive(Debug)]
pub enum Values {
    /// `$1`, `$2`, ... each a text value.
    Texts(Vec<Option<String>>),
    /// `$1` is a JSON array of the text values.
    Packed(Value),
}

impl Values {
    fn new(count: usize) -> Values {
        if count > MAX_PARAMS {
            Values::Packed(Value::Array(Vec::with_capacity(count)))
        } else {
            Values::Texts(Vec::with_capacity(count))
        }
    }

    /// Adds a value; returns the SQL expression that reads it, as `text`.
    fn push(&mut self, value: String) -> String {
        match self {
            Values::Texts(list) => {
                list.push(Some(value));
                format!("${}", list.len())
            }
            Values::Packed(packed) => {
                let list = packed.as_array_mut().expect("packed values are an array");
                list.push(Value::String(value));
                format!("($1->>{})", list.len() - 1)
            }
        }
    }

    /// The parameters with the types they are sent as.
    pub fn typed(&self) -> Vec<(&(dyn ToSql + Sync), Type)> {
        match self {
            Values::Texts(list) => list
                .iter()
                .map(|p| (p as &(dyn ToSql + Sync), Type::TEXT))
                .collect(),
            Values::Packed(packed) => vec![(packed as &(dyn ToSql + Sync), Type::JSONB)],
        }
    }
}

impl Plan {
    /// How many values the statement sends: computed ones and the journal's.
    fn value_count(&self) -> usize {
        let computed: usize = self
            .rows
            .iter()
            .map(|r| {
                r.values
                    .iter()
                    .filter(|(_, v)| !matches!(v, Val::Ref { .. } | Val::Null | Val::Now(0)))
                    .count()
            })
            .sum();
        let journal = if self.journal.is_some() {
            self.rows.len() + 3
        } else {
            0
        };
        computed + journal
    }

    /// The statement and its values (all text, cast to each column's type). With `facts`, the
    /// rows come back with `bigint` and `numeric` columns as text.
    pub fn sql(&self, graph: &SchemaGraph, facts: Option<&TableFacts>) -> (String, Values) {
        let mut params = Values::new(self.value_count());
        let mut sql = String::from("with ");
        for (i, row) in self.rows.iter().enumerate() {
            let table = &graph.tables[row.table];
            if i > 0 {
                sql.push_str(",\n");
            }
            if row.values.is_empty() {
                let _ = write!(
                    sql,
                    "c{i} as (insert into {} default values returning *)",
                    table.sql_name()
                );
                continue;
            }
            let cols: Vec<String> = row.values.iter().map(|(c, _)| quote_ident(c)).collect();
            let mut exprs = Vec::with_capacity(row.values.len());
            for (column, val) in &row.values {
                let ty = table
                    .column(column)
                    .map(|c| c.type_sql.as_str())
                    .unwrap_or("text");
                exprs.push(match val {
                    Val::Ref { row, column } => {
                        format!("(select {} from c{row})", quote_ident(column))
                    }
                    Val::Null => format!("null::{ty}"),
                    Val::Now(0) => format!("now()::{ty}"),
                    Val::Now(seconds) => format!(
                        "(now() + {}::interval)::{ty}",
                        params.push(format!("{seconds} seconds"))
                    ),
                    v => format!("{}::{ty}", params.push(param_text(v, ty))),
                });
            }
            let _ = write!(
                sql,
                "c{i} as (insert into {} ({}) values ({}) returning *)",
                table.sql_name(),
                cols.join(", "),
                exprs.join(", ")
            );
        }
        if let Some(lane) = &self.journal {
            let entries: Vec<FactoryEntry> = self
                .rows
                .iter()
                .enumerate()
                .filter(|(_, row)| !graph.tables[row.table].pk.is_empty())
                .map(|(i, row)| {
                    let table = &graph.tables[row.table];
                    let key: Vec<String> = table
                        .pk
                        .iter()
                        .map(|c| format!("r.{}::text", quote_ident(&c.name)))
                        .collect();
                    FactoryEntry {
                        table: table.table_name(),
                        key_sql: format!("(select array[{}] from c{i} r)", key.join(", ")),
                    }
                })
                .collect();
            if let Some(cte) = journal::factory_entries_sql(lane, &entries, &mut |v| params.push(v))
            {
                let _ = write!(sql, ",\n{cte}");
            }
        }
        // An array constructor, not a function call: any number of rows (a function takes at
        // most 100 arguments). `r.*`: a whole row even when the table has a column named `r`.
        let rows: Vec<String> = self
            .rows
            .iter()
            .enumerate()
            .map(
                |(i, row)| match facts.and_then(|f| as_text_columns(graph, f, row.table)) {
                    Some(select) => {
                        format!("(select row_to_json(x.*) from (select {select} from c{i} r) x)")
                    }
                    None => format!("(select row_to_json(r.*) from c{i} r)"),
                },
            )
            .collect();
        let _ = write!(
            sql,
            "\nselect array_to_json(array[{}]::json[])::text",
            rows.join(", ")
        );
        (sql, params)
    }

    /// Inserts in one round trip, tracks every row that has a primary key, and returns the
    /// rows as stored.
    pub async fn execute(
        &self,
        conn: &Conn,
        graph: &SchemaGraph,
        facts: Option<&TableFacts>,
        tracker: Option<&ResourceTracker>,
    ) -> Result<Value> {
        if self.rows.is_empty() {
            return Ok(assemble(&self.shape, &[]));
        }
        let (sql, params) = self.sql(graph, facts);
        let result = conn
            .query(&sql, &params.typed())
            .await
            .map_err(|e| self.explain(e, graph, facts))?;
        let text: String = result
            .first()
            .map(|r| r.get(0))
            .ok_or_else(|| Error::internal("factory statement returned no row"))?;
        let rows: Vec<Value> = serde_json::from_str(&text)
            .map_err(|e| Error::internal(format!("factory result: {e}")))?;
        if let Some(tracker) = tracker {
            for (planned, row) in self.rows.iter().zip(&rows) {
                let table = &graph.tables[planned.table];
                if table.pk.is_empty() {
                    continue;
                }
                let key: Option<Vec<String>> = table
                    .pk
                    .iter()
                    .map(|c| match row.get(&c.name) {
                        Some(Value::String(s)) => Some(s.clone()),
                        Some(Value::Null) | None => None,
                        Some(v) => Some(v.to_string()),
                    })
                    .collect();
                if let Some(key) = key {
                    tracker.add(TrackedRow {
                        table: table.table_name(),
                        key,
                    });
                }
            }
        }
        Ok(assemble(&self.shape, &rows))
    }

    /// The error of a failed statement, with the tables it inserted into (each once; the
    /// table at fault is in Postgres' own message) and, for a constraint pglane knows, its
    /// text and the attributes that choose the values.
    fn explain(&self, e: Error, graph: &SchemaGraph, facts: Option<&TableFacts>) -> Error {
        let hint = match (e.constraint(), facts) {
            (Some(name), Some(facts)) => match facts.constraint(name) {
                Some((table, ConstraintRef::Check(check))) => {
                    let columns: Vec<String> = Check::parse(&check.name, &check.definition, None)
                        .columns()
                        .into_iter()
                        .map(|c| format!("{c:?}"))
                        .collect();
                    format!(
                        " ({} of {} is {}; to choose the value, pass {})",
                        check.name,
                        graph.tables[table].display_name(),
                        check.definition,
                        if columns.is_empty() {
                            "the columns it reads".to_string()
                        } else {
                            columns.join(", ")
                        }
                    )
                }
                Some((table, ConstraintRef::Unique(unique))) => format!(
                    " ({} of {} covers {}: pass other values, or connect the row that exists)",
                    unique.name,
                    graph.tables[table].display_name(),
                    unique.columns.join(", ")
                ),
                _ => String::new(),
            },
            _ if e.sqlstate() == Some("23502") => self.not_null_hint(e.message(), graph, facts),
            _ => String::new(),
        };
        let e = if hint.is_empty() {
            e
        } else {
            let message = format!("{}{hint}", e.message());
            e.with_message(message)
        };
        let mut tables: Vec<TableId> = self.rows.iter().map(|r| r.table).collect();
        tables.sort_unstable();
        tables.dedup();
        let names: Vec<String> = tables
            .iter()
            .take(5)
            .map(|&t| graph.tables[t].display_name())
            .collect();
        let more = match tables.len().saturating_sub(names.len()) {
            0 => String::new(),
            n => format!(" and {n} more"),
        };
        e.context(format!(
            "factory insert into {}{more} failed, nothing was inserted",
            names.join(", ")
        ))
    }
}

impl Plan {
    /// For a NOT NULL violation: whether pglane gave the column a value (then a `BEFORE
    /// INSERT` trigger took it away), or which attribute to pass.
    fn not_null_hint(
        &self,
        message: &str,
        graph: &SchemaGraph,
        facts: Option<&TableFacts>,
    ) -> String {
        let quoted = |after: &str| {
            let rest = &message[message.find(after)? + after.len()..];
            let rest = rest.strip_prefix('"')?;
            Some(rest[..rest.find('"')?].to_string())
        };
        let (Some(column), Some(relation)) = (quoted("column "), quoted("relation ")) else {
            return String::new();
        };
        let Some(row) = self.rows.iter().find(|r| {
            graph.tables[r.table].name == relation
                && graph.tables[r.table].column(&column).is_some()
        }) else {
            return String::new();
        };
        let table = &graph.tables[row.table];
        let given = row
            .values
            .iter()
            .any(|(c, v)| *c == column && !matches!(v, Val::Null));
        let triggers = facts
            .map(|f| f.table(row.table).before_insert_triggers.clone())
            .unwrap_or_default();
        if given && !triggers.is_empty() {
            format!(
                " (pglane gave {column:?} a value; a BEFORE INSERT trigger of {} set it to null: {})",
                table.display_name(),
                triggers.join(", ")
            )
        } else if !given {
            format!(" (pass {column:?}, e.g. {{ {column}: ... }})")
        } else {
            String::new()
        }
    }
}

fn param_text(v: &Val, ty: &str) -> String {
    match v {
        Val::Text(s) => s.clone(),
        Val::Json(j) if ty == "json" || ty == "jsonb" => j.to_string(),
        Val::Json(Value::Array(items)) if ty.ends_with("[]") => pg_array_literal(items),
        Val::Json(Value::String(s)) => s.clone(),
        Val::Json(j) => j.to_string(),
        Val::Null | Val::Ref { .. } | Val::Now(_) => String::new(),
    }
}

/// The select list that reads a row with its `bigint` and `numeric` columns (and arrays of
/// them) as text, or `None` when the table has none.
fn as_text_columns(graph: &SchemaGraph, facts: &TableFacts, table: usize) -> Option<String> {
    let entry = facts.table(table);
    let wide = |shape: &Shape| match shape {
        Shape::Int { max, .. } => *max > i128::from(u32::MAX),
        Shape::Numeric { .. } => true,
        _ => false,
    };
    let mut any = false;
    let list: Vec<String> = graph.tables[table]
        .columns
        .iter()
        .map(|c| {
            let q = quote_ident(&c.name);
            let shape = entry
                .column(&c.name)
                .map(|f| shape_of(facts, f.type_oid, f.typmod));
            match shape {
                Some(s) if wide(&s) => {
                    any = true;
                    format!("r.{q}::text as {q}")
                }
                Some(Shape::Array(elem)) if wide(&elem) => {
                    any = true;
                    format!("r.{q}::text[] as {q}")
                }
                _ => format!("r.{q}"),
            }
        })
        .collect();
    any.then(|| list.join(", "))
}

/// `{"a","b\"c"}` for a JSON array (nested arrays become nested literals).
fn pg_array_literal(items: &[Value]) -> String {
    let inner: Vec<String> = items
        .iter()
        .map(|i| match i {
            Value::Null => "NULL".to_string(),
            Value::Array(a) => pg_array_literal(a),
            Value::String(s) => format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"")),
            other => format!(
                "\"{}\"",
                other.to_string().replace('\\', "\\\\").replace('"', "\\\"")
            ),
        })
        .collect();
    format!("{{{}}}", inner.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_literals_quote_their_items() {
        assert_eq!(
            pg_array_literal(&[Value::from("a"), Value::from("b\"c"), Value::Null]),
            r#"{"a","b\"c",NULL}"#
        );
    }
}
