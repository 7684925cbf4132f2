//! The factory statement: a planned call becomes one SQL statement (a chain of
//! `insert ... returning *` CTEs, parents before children, and the journal entries of what it
//! inserts), sent in one round trip; every inserted row is tracked and comes back as stored.

use super::planner::{assemble, Plan, Val};
use crate::core::db::Conn;
use crate::core::error::{Error, Result};
use crate::core::lane::tracker::{ResourceTracker, TrackedRow};
use crate::core::runs::journal::{self, FactoryEntry};
use crate::core::schema::{quote_ident, SchemaGraph};
use serde_json::Value;
use std::fmt::Write;
use tokio_postgres::types::{ToSql, Type};

impl Plan {
    /// The statement and its parameters (all text, cast to each column's type).
    pub fn sql(&self, graph: &SchemaGraph) -> (String, Vec<Option<String>>) {
        let mut params: Vec<Option<String>> = Vec::new();
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
                    v => {
                        params.push(Some(param_text(v, ty)));
                        format!("${}::{ty}", params.len())
                    }
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
            if let Some(cte) = journal::factory_entries_sql(lane, &entries, &mut params) {
                let _ = write!(sql, ",\n{cte}");
            }
        }
        let rows: Vec<String> = (0..self.rows.len())
            .map(|i| format!("(select row_to_json(r) from c{i} r)"))
            .collect();
        let _ = write!(sql, "\nselect json_build_array({})::text", rows.join(", "));
        (sql, params)
    }

    /// Inserts in one round trip, tracks every row that has a primary key, and returns the
    /// rows as stored.
    pub async fn execute(
        &self,
        conn: &Conn,
        graph: &SchemaGraph,
        tracker: Option<&ResourceTracker>,
    ) -> Result<Value> {
        if self.rows.is_empty() {
            return Ok(assemble(&self.shape, &[]));
        }
        let (sql, params) = self.sql(graph);
        let typed: Vec<(&(dyn ToSql + Sync), Type)> = params
            .iter()
            .map(|p| (p as &(dyn ToSql + Sync), Type::TEXT))
            .collect();
        let result = conn
            .query(&sql, &typed)
            .await
            .map_err(|e| self.explain(e, graph))?;
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

    fn explain(&self, e: Error, graph: &SchemaGraph) -> Error {
        let tables: Vec<String> = self
            .rows
            .iter()
            .map(|r| graph.tables[r.table].display_name())
            .collect();
        let mut unique = tables.clone();
        unique.dedup();
        e.context(format!(
            "factory insert into {} failed, nothing was inserted",
            unique.join(", ")
        ))
    }
}

fn param_text(v: &Val, ty: &str) -> String {
    match v {
        Val::Text(s) => s.clone(),
        Val::Json(j) if ty == "json" || ty == "jsonb" => j.to_string(),
        Val::Json(Value::Array(items)) if ty.ends_with("[]") => pg_array_literal(items),
        Val::Json(Value::String(s)) => s.clone(),
        Val::Json(j) => j.to_string(),
        Val::Null | Val::Ref { .. } => String::new(),
    }
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
