//! The factory statement: a planned call becomes one SQL statement (a chain of
//! `insert ... returning *` CTEs, parents before children, and the journal entries of what it
//! inserts), sent in one round trip; every inserted row is tracked and comes back as stored:
//! the values Postgres' `row_to_json` gives, the same as `lane.db.query` returns.
//!
//! A call with an adopting step (`adopt:`) after a row whose table has insert triggers is two
//! statements in one transaction, pipelined in the same round trip: row triggers of a
//! statement's inserts (such as Supabase's `on_auth_user_created`) run only when that statement
//! ends, so the row they make can only be seen, and adopted with `insert ... on conflict ... do
//! update`, by the next statement. Without such a trigger there is nothing to adopt: one
//! statement.

use super::check::Check;
use super::planner::{assemble, HashRoute, Plan, RouteSource, Val};
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
    /// How many values the statement of the rows in `range` sends: computed ones and the
    /// journal's.
    fn value_count(&self, range: &std::ops::Range<usize>) -> usize {
        let computed: usize = self.rows[range.clone()]
            .iter()
            .map(|r| {
                r.values
                    .iter()
                    .map(|(_, v)| match v {
                        Val::Ref { .. } | Val::Null | Val::Now(0) => 0,
                        Val::Routed(route) => match route.source {
                            RouteSource::Candidates(_) => 4,
                            RouteSource::Default(_) => 3,
                            RouteSource::Identity(_) => 5,
                        },
                        _ => 1,
                    })
                    .sum::<usize>()
            })
            .sum();
        let journal = if self.journal.is_some() {
            range.len() + 3
        } else {
            0
        };
        computed + journal
    }

    /// The statements and their values (all text, cast to each column's type): one, or two
    /// when a step adopts a row a trigger of an earlier row may have made (the rows from the
    /// first adopting one on go in the second).
    pub fn statements(&self, graph: &SchemaGraph) -> Result<Vec<(String, Values)>> {
        let split = self
            .rows
            .iter()
            .position(|r| r.adopt.is_some())
            .filter(|&at| {
                self.rows[..at]
                    .iter()
                    .any(|r| graph.tables[r.table].insert_triggers)
            })
            .unwrap_or(self.rows.len());
        let mut out = Vec::new();
        for range in [0..split, split..self.rows.len()] {
            if !range.is_empty() {
                out.push(self.sql(graph, range)?);
            }
        }
        Ok(out)
    }

    /// The statement of the rows in `range` (CTE `c{i}` for row `i`).
    fn sql(&self, graph: &SchemaGraph, range: std::ops::Range<usize>) -> Result<(String, Values)> {
        let mut params = Values::new(self.value_count(&range));
        let mut sql = String::from("with ");
        for i in range.clone() {
            let row = &self.rows[i];
            let table = &graph.tables[row.table];
            if i > range.start {
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
                    Val::Ref { row, column: source } if !range.contains(row) => {
                        return Err(Error::new(
                            crate::core::error::ErrorCode::FactoryDefinition,
                            format!(
                                "{}.{column} takes {source:?} of a row the database generates before an adopting step, which the adopting statement cannot see; give that row a value pglane computes (e.g. {{ uuid: true }})",
                                table.display_name(),
                            ),
                        ))
                    }
                    Val::Ref { row, column } => {
                        format!("(select {} from c{row})", quote_ident(column))
                    }
                    Val::Null => format!("null::{ty}"),
                    Val::Now(0) => format!("now()::{ty}"),
                    Val::Now(seconds) => format!(
                        "(now() + {}::interval)::{ty}",
                        params.push(format!("{seconds} seconds"))
                    ),
                    Val::Routed(route) => {
                        routed_key(route, graph, ty, &mut params)
                    }
                    v => format!("{}::{ty}", params.push(param_text(v, ty))),
                });
            }
            let upsert = match &row.adopt {
                None => String::new(),
                Some(by) => {
                    let key: Vec<String> = by.iter().map(|c| quote_ident(c)).collect();
                    // What inference filled stays as the trigger wrote it.
                    let mut set: Vec<String> = row
                        .values
                        .iter()
                        .filter(|(c, _)| !by.contains(c) && !row.inferred.contains(c))
                        .map(|(c, _)| format!("{0} = excluded.{0}", quote_ident(c)))
                        .collect();
                    if set.is_empty() {
                        // `do nothing` would return no row: a no-op update returns it.
                        set.push(format!("{0} = excluded.{0}", key[0]));
                    }
                    format!(
                        " on conflict ({}) do update set {}",
                        key.join(", "),
                        set.join(", ")
                    )
                }
            };
            let _ = write!(
                sql,
                "c{i} as (insert into {} ({}){} values ({}){upsert} returning *)",
                table.sql_name(),
                cols.join(", "),
                if row.overriding {
                    " overriding system value"
                } else {
                    ""
                },
                exprs.join(", ")
            );
        }
        // Each row's primary key as Postgres' text (`None` without one): what the journal
        // records and what is tracked, exact where JSON numbers are not (a numeric with more
        // digits than a double holds).
        // Read from the rows' JSON instead where every row's key can be (see below).
        let keys_in_rows = self.rows[range.clone()]
            .iter()
            .all(|r| keys_in_json(&graph.tables[r.table]));
        let keys: Vec<(usize, Option<String>)> = range
            .clone()
            .filter(|_| self.journal.is_some() || !keys_in_rows)
            .map(|i| {
                let table = &graph.tables[self.rows[i].table];
                let key = (!table.pk.is_empty()).then(|| {
                    let columns: Vec<String> = table
                        .pk
                        .iter()
                        .map(|c| format!("r.{}::text", quote_ident(&c.name)))
                        .collect();
                    format!("(select array[{}] from c{i} r)", columns.join(", "))
                });
                (i, key)
            })
            .collect();
        if let Some(lane) = &self.journal {
            let entries: Vec<FactoryEntry> = keys
                .iter()
                .filter_map(|(i, key)| {
                    Some(FactoryEntry {
                        table: graph.tables[self.rows[*i].table].table_name(),
                        key_sql: key.clone()?,
                    })
                })
                .collect();
            if let Some(cte) = journal::factory_entries_sql(lane, &entries, &mut |v| params.push(v))
            {
                let _ = write!(sql, ",\n{cte}");
            }
        }
        // An array constructor, not a function call: any number of rows (a function takes at
        // most 100 arguments). `r.*`: a whole row even when the table has a column named `r`.
        let rows: Vec<String> = range
            .clone()
            .map(|i| format!("(select row_to_json(r.*) from c{i} r)"))
            .collect();
        let _ = write!(
            sql,
            "\nselect array_to_json(array[{}]::json[])::text",
            rows.join(", ")
        );
        // A second column with the keys as Postgres' text, unless every row's key can be read
        // from its JSON (less for the server to build and send: a store and its account, sent
        // through `pg`, 17-31 us less a call).
        if !keys_in_rows {
            let keys: Vec<String> = keys
                .iter()
                .map(|(_, key)| match key {
                    Some(key) => format!("to_json({key})"),
                    None => "null::json".to_string(),
                })
                .collect();
            let _ = write!(
                sql,
                ", array_to_json(array[{}]::json[])::text",
                keys.join(", ")
            );
        }
        Ok((sql, params))
    }

    /// Inserts in one round trip (one statement, or two pipelined in one transaction when a
    /// step adopts), tracks every row (by its key, or by the lane's name in a table without
    /// one), and returns the rows as stored.
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
        let statements = self.statements(graph)?;
        let typed: Vec<Vec<(&(dyn ToSql + Sync), Type)>> = statements
            .iter()
            .map(|(_, values)| values.typed())
            .collect();
        let results = match statements.as_slice() {
            [(sql, _)] => vec![conn
                .query(sql, &typed[0])
                .await
                .map_err(|e| self.explain(e, graph, facts))?],
            [(first, _), (second, _)] => {
                let client = conn.client();
                // All four are sent before any answer is read (one round trip); after a failure
                // the rest fail too and `commit` rolls back, so nothing of the call stays.
                let (begin, a, b, commit) = conn
                    .run(1, async {
                        Ok(tokio::join!(
                            client.batch_execute("begin"),
                            client.query_typed(first, &typed[0]),
                            client.query_typed(second, &typed[1]),
                            client.batch_execute("commit"),
                        ))
                    })
                    .await?;
                let cfg = conn.config();
                let failed = |e: &tokio_postgres::Error| {
                    self.explain(crate::core::db::errors::query_error(cfg, e), graph, facts)
                };
                // The first failure is the cause; later ones only say the transaction aborted.
                begin.as_ref().map_err(failed)?;
                let a = a.map_err(|e| failed(&e))?;
                let b = b.map_err(|e| failed(&e))?;
                commit.as_ref().map_err(failed)?;
                vec![a, b]
            }
            _ => return Err(Error::internal("a factory call is one or two statements")),
        };
        let mut rows: Vec<Value> = Vec::with_capacity(self.rows.len());
        let mut keys: Vec<Option<Vec<String>>> = Vec::with_capacity(self.rows.len());
        for result in results {
            let row = result
                .first()
                .ok_or_else(|| Error::internal("factory statement returned no row"))?;
            let text: String = row.get(0);
            let part: Vec<Value> = serde_json::from_str(&text)
                .map_err(|e| Error::internal(format!("factory result: {e}")))?;
            if row.len() > 1 {
                let key_text: String = row.get(1);
                let part_keys: Vec<Option<Vec<String>>> = serde_json::from_str(&key_text)
                    .map_err(|e| Error::internal(format!("factory keys: {e}")))?;
                keys.extend(part_keys);
            } else {
                let planned = &self.rows[rows.len()..rows.len() + part.len()];
                for (planned, row) in planned.iter().zip(&part) {
                    keys.push(key_from_json(&graph.tables[planned.table], row));
                }
            }
            rows.extend(part);
        }
        if let Some(tracker) = tracker {
            for ((planned, row), key) in self.rows.iter().zip(&rows).zip(keys) {
                let table = &graph.tables[planned.table];
                if table.pk.is_empty() {
                    // No key to track it by: the test's rows of this table go by the lane's
                    // name, when the row carries it.
                    if tracker.carries_lane_name(row) {
                        tracker.add(TrackedRow::by_lane_name(table.table_name()));
                    }
                    continue;
                }
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
                        .iter()
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

/// The expression of a key the statement picks for a row bound for a hash partition: the first
/// value offered that `satisfies_hash_partition` (null when none does, which Postgres then
/// refuses by the column's `NOT NULL` or routes elsewhere).
/// Can a row's key be read from its `row_to_json` exactly as Postgres' text of it (what is
/// tracked and journaled)? For integers (JSON numbers, which serde_json reads exactly), text
/// and uuid (JSON strings of that text); a table without a key has nothing to read. Any other
/// type (numeric, timestamps, a domain, an array) is sent as `::text` by the statement.
fn keys_in_json(table: &crate::core::schema::Table) -> bool {
    table.pk.iter().all(|c| {
        matches!(
            c.type_sql.as_str(),
            "smallint" | "integer" | "bigint" | "uuid" | "text" | "character varying"
        ) || (c.type_sql.starts_with("character varying(") && c.type_sql.ends_with(')'))
    })
}

/// A row's key read from its JSON ([`keys_in_json`]); `None` for a table without a key, or a
/// row the statement did not return (a `before insert` trigger that skipped it).
fn key_from_json(table: &crate::core::schema::Table, row: &Value) -> Option<Vec<String>> {
    if table.pk.is_empty() {
        return None;
    }
    let row = row.as_object()?;
    table
        .pk
        .iter()
        .map(|c| match row.get(&c.name)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
            _ => None,
        })
        .collect()
}

fn routed_key(route: &HashRoute, graph: &SchemaGraph, ty: &str, params: &mut Values) -> String {
    let bound = &route.bound;
    let offered = HashRoute::offered(bound.modulus);
    let fits = format!(
        "pg_catalog.satisfies_hash_partition({}::regclass, {}::int4, {}::int4, pglane_k.v)",
        params.push(graph.tables[bound.parent].sql_name()),
        params.push(bound.modulus.to_string()),
        params.push(bound.remainder.to_string()),
    );
    let generated = |expr: String| {
        format!(
            "(select pglane_k.v from (select ({expr})::{ty} as v from pg_catalog.generate_series(1, {offered})) pglane_k where {fits} limit 1)"
        )
    };
    match &route.source {
        RouteSource::Candidates(values) => {
            let items: Vec<Value> = values
                .iter()
                .map(|v| Value::String(param_text(v, ty)))
                .collect();
            format!(
                "(select pglane_k.v from unnest({}::{ty}[]) with ordinality pglane_k(v, i) where {fits} order by pglane_k.i limit 1)",
                params.push(pg_array_literal(&items))
            )
        }
        // The catalog's own text of the column's default (`nextval('t_id_seq'::regclass)`):
        // schema, not a value, evaluated once per value offered.
        RouteSource::Default(expr) => generated(expr.clone()),
        RouteSource::Identity(table) => generated(format!(
            "pg_catalog.nextval(pg_catalog.pg_get_serial_sequence({}, {}))",
            params.push(graph.tables[*table].sql_name()),
            params.push(bound.column.clone()),
        )),
    }
}

fn param_text(v: &Val, ty: &str) -> String {
    match v {
        Val::Text(s) => s.clone(),
        Val::Json(j) if ty == "json" || ty == "jsonb" => j.to_string(),
        Val::Json(Value::Array(items)) if ty.ends_with("[]") => pg_array_literal(items),
        Val::Json(Value::String(s)) => s.clone(),
        Val::Json(j) => j.to_string(),
        Val::Null | Val::Ref { .. } | Val::Now(_) | Val::Routed(_) => String::new(),
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
