//! The schema graph: tables, primary keys and foreign keys of every user schema (`public`,
//! `auth`, ...), read from `pg_catalog` in one query, and the dependency order derived from it.
//!
//! Edges point from a child table (the one holding the foreign key) to its parent. Deleting a
//! parent row requires deleting (or letting Postgres null) the child rows that reference it, so
//! cleanup follows edges backwards: from tracked rows to the rows that reference them.

use crate::core::db::Conn;
use crate::core::error::{Error, ErrorCode, Result};
use serde::Deserialize;
use std::collections::HashMap;

/// Index of a table in [`SchemaGraph::tables`].
pub type TableId = usize;

/// A column: name, SQL type (as `format_type` spells it) and nullability.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Column {
    /// Column name, unquoted.
    pub name: String,
    /// Type as Postgres spells it, e.g. `uuid`, `character varying(255)`.
    #[serde(rename = "type")]
    pub type_sql: String,
    /// `NOT NULL`?
    pub not_null: bool,
}

/// A table of a user schema.
#[derive(Debug, Clone)]
pub struct Table {
    /// Schema name, unquoted.
    pub schema: String,
    /// Table name, unquoted.
    pub name: String,
    /// Primary key columns in key order (empty when the table has none).
    pub pk: Vec<Column>,
    /// Every column.
    pub columns: Vec<Column>,
}

impl Table {
    /// `schema.name`, unquoted, for messages and reports.
    pub fn display_name(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }

    /// `"schema"."name"`, quoted for SQL.
    pub fn sql_name(&self) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(&self.name))
    }

    /// The column called `name`.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// What Postgres does to referencing rows when a referenced row is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnDelete {
    /// `NO ACTION` (the default): the delete fails if references remain at check time.
    NoAction,
    /// `RESTRICT`: like NO ACTION, never deferred.
    Restrict,
    /// `CASCADE`: referencing rows are deleted too.
    Cascade,
    /// `SET NULL`: referencing columns are set to null; the rows stay.
    SetNull,
    /// `SET DEFAULT`: referencing columns are set to their default; the rows stay.
    SetDefault,
}

impl OnDelete {
    fn from_catalog(code: &str) -> OnDelete {
        match code {
            "r" => OnDelete::Restrict,
            "c" => OnDelete::Cascade,
            "n" => OnDelete::SetNull,
            "d" => OnDelete::SetDefault,
            _ => OnDelete::NoAction,
        }
    }

    /// Must a referencing row go when its parent goes? (For SET NULL / SET DEFAULT the schema
    /// says the row outlives its parent, so cleanup leaves it to Postgres.)
    pub fn child_goes_with_parent(self) -> bool {
        matches!(
            self,
            OnDelete::NoAction | OnDelete::Restrict | OnDelete::Cascade
        )
    }
}

/// A foreign key: `child(child_cols)` references `parent(parent_cols)`.
#[derive(Debug, Clone)]
pub struct ForeignKey {
    /// Constraint name.
    pub name: String,
    /// The referencing table.
    pub child: TableId,
    /// The referenced table.
    pub parent: TableId,
    /// Referencing columns.
    pub child_cols: Vec<String>,
    /// Referenced columns (the parent's primary key or a unique key), in the same order.
    pub parent_cols: Vec<String>,
    /// ON DELETE action.
    pub on_delete: OnDelete,
    /// DEFERRABLE?
    pub deferrable: bool,
    /// Can the referencing columns be null?
    pub nullable: bool,
}

/// Tables and foreign keys of the database, with lookups by name and by parent.
#[derive(Debug, Clone, Default)]
pub struct SchemaGraph {
    /// Every user table.
    pub tables: Vec<Table>,
    /// Every foreign key between user tables.
    pub fks: Vec<ForeignKey>,
    by_name: HashMap<(String, String), TableId>,
    referenced_by: Vec<Vec<usize>>,
}

/// The catalog query: one round trip, one JSON document.
const CATALOG_SQL: &str = r#"
with tables as (
  select c.oid, n.nspname as schema, c.relname as name
  from pg_catalog.pg_class c
  join pg_catalog.pg_namespace n on n.oid = c.relnamespace
  where c.relkind in ('r', 'p') and not c.relispartition
    and n.nspname not in ('pg_catalog', 'information_schema')
    and n.nspname not like 'pg\_%'
)
select json_build_object(
  'tables', (select coalesce(json_agg(json_build_object(
      'oid', t.oid::int8, 'schema', t.schema, 'name', t.name,
      'pk', (select coalesce(json_agg(json_build_object('name', a.attname,
                 'type', format_type(a.atttypid, a.atttypmod), 'notNull', a.attnotnull) order by k.ord), '[]')
             from pg_catalog.pg_constraint pc
             cross join unnest(pc.conkey) with ordinality k(attnum, ord)
             join pg_catalog.pg_attribute a on a.attrelid = pc.conrelid and a.attnum = k.attnum
             where pc.conrelid = t.oid and pc.contype = 'p'),
      'columns', (select coalesce(json_agg(json_build_object('name', a.attname,
                 'type', format_type(a.atttypid, a.atttypmod), 'notNull', a.attnotnull) order by a.attnum), '[]')
             from pg_catalog.pg_attribute a
             where a.attrelid = t.oid and a.attnum > 0 and not a.attisdropped)
    )), '[]') from tables t),
  'fks', (select coalesce(json_agg(json_build_object(
      'name', c.conname, 'child', c.conrelid::int8, 'parent', c.confrelid::int8,
      'childCols', (select json_agg(a.attname order by k.ord) from unnest(c.conkey) with ordinality k(attnum, ord)
                    join pg_catalog.pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.attnum),
      'parentCols', (select json_agg(a.attname order by k.ord) from unnest(c.confkey) with ordinality k(attnum, ord)
                    join pg_catalog.pg_attribute a on a.attrelid = c.confrelid and a.attnum = k.attnum),
      'onDelete', c.confdeltype, 'deferrable', c.condeferrable)), '[]')
    from pg_catalog.pg_constraint c
    where c.contype = 'f' and c.conparentid = 0
      and c.conrelid in (select oid from tables) and c.confrelid in (select oid from tables))
)::text
"#;

#[derive(Deserialize)]
struct RawCatalog {
    tables: Vec<RawTable>,
    fks: Vec<RawFk>,
}

#[derive(Deserialize)]
struct RawTable {
    oid: i64,
    schema: String,
    name: String,
    pk: Vec<Column>,
    columns: Vec<Column>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawFk {
    name: String,
    child: i64,
    parent: i64,
    child_cols: Vec<String>,
    parent_cols: Vec<String>,
    on_delete: String,
    deferrable: bool,
}

impl SchemaGraph {
    /// Reads the graph from `pg_catalog`: one round trip.
    pub async fn load(conn: &Conn) -> Result<SchemaGraph> {
        let rows = conn
            .query(CATALOG_SQL, &[])
            .await
            .map_err(|e| e.context("reading the schema from pg_catalog"))?;
        let json: String = rows
            .first()
            .map(|r| r.get(0))
            .ok_or_else(|| Error::internal("the catalog query returned no row"))?;
        SchemaGraph::from_catalog_json(&json)
    }

    /// Builds the graph from the catalog query's JSON.
    pub fn from_catalog_json(json: &str) -> Result<SchemaGraph> {
        let raw: RawCatalog = serde_json::from_str(json)
            .map_err(|e| Error::internal(format!("unexpected catalog JSON: {e}")))?;
        let mut by_oid = HashMap::new();
        let mut graph = SchemaGraph::default();
        for t in raw.tables {
            by_oid.insert(t.oid, graph.tables.len());
            graph.tables.push(Table {
                schema: t.schema,
                name: t.name,
                pk: t.pk,
                columns: t.columns,
            });
        }
        for fk in raw.fks {
            let (Some(&child), Some(&parent)) = (by_oid.get(&fk.child), by_oid.get(&fk.parent))
            else {
                continue;
            };
            let nullable = fk.child_cols.iter().any(|c| {
                graph.tables[child]
                    .column(c)
                    .is_some_and(|col| !col.not_null)
            });
            graph.fks.push(ForeignKey {
                name: fk.name,
                child,
                parent,
                child_cols: fk.child_cols,
                parent_cols: fk.parent_cols,
                on_delete: OnDelete::from_catalog(&fk.on_delete),
                deferrable: fk.deferrable,
                nullable,
            });
        }
        graph.index();
        Ok(graph)
    }

    /// Builds a graph from parts (tests, and schemas described in code).
    pub fn from_parts(tables: Vec<Table>, fks: Vec<ForeignKey>) -> SchemaGraph {
        let mut graph = SchemaGraph {
            tables,
            fks,
            ..Default::default()
        };
        graph.index();
        graph
    }

    fn index(&mut self) {
        self.by_name = self
            .tables
            .iter()
            .enumerate()
            .map(|(i, t)| ((t.schema.clone(), t.name.clone()), i))
            .collect();
        self.referenced_by = vec![Vec::new(); self.tables.len()];
        for (i, fk) in self.fks.iter().enumerate() {
            self.referenced_by[fk.parent].push(i);
        }
    }

    /// Foreign keys that reference `table` (edges from its children).
    pub fn referenced_by(&self, table: TableId) -> impl Iterator<Item = &ForeignKey> {
        self.referenced_by[table].iter().map(move |&i| &self.fks[i])
    }

    /// Finds a table by name: `schema.table`, `"Quoted"."Name"`, or a bare name looked up in
    /// `public` first and then in any schema where it is unique. Exact spelling first, then
    /// the lower-case form (as SQL folds unquoted names).
    pub fn resolve(&self, name: &str) -> Result<TableId> {
        let (schema, table) = split_qualified(name)?;
        let candidates = |t: &str| -> Vec<TableId> {
            match &schema {
                Some(s) => self
                    .by_name
                    .get(&(s.clone(), t.to_string()))
                    .into_iter()
                    .copied()
                    .collect(),
                None => {
                    if let Some(&id) = self.by_name.get(&("public".to_string(), t.to_string())) {
                        return vec![id];
                    }
                    self.tables
                        .iter()
                        .enumerate()
                        .filter(|(_, tb)| tb.name == t)
                        .map(|(i, _)| i)
                        .collect()
                }
            }
        };
        let mut found = candidates(&table);
        if found.is_empty() && table.to_lowercase() != table {
            found = candidates(&table.to_lowercase());
        }
        match found.len() {
            1 => Ok(found[0]),
            0 => Err(Error::new(
                ErrorCode::UnknownTable,
                format!("table {name:?} does not exist{}", self.suggest(&table)),
            )),
            _ => Err(Error::new(
                ErrorCode::UnknownTable,
                format!(
                    "table {name:?} exists in several schemas ({}): qualify it as schema.table",
                    found
                        .iter()
                        .map(|&i| self.tables[i].display_name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
        }
    }

    fn suggest(&self, table: &str) -> String {
        let lower = table.to_lowercase();
        let mut close: Vec<(usize, String)> = self
            .tables
            .iter()
            .filter_map(|t| {
                let n = t.name.to_lowercase();
                let distance = edit_distance(&n, &lower);
                let overlap =
                    n.len().min(lower.len()) >= 4 && (n.contains(&lower) || lower.contains(&n));
                (distance <= 2 || overlap).then(|| (distance, t.display_name()))
            })
            .collect();
        close.sort();
        close.truncate(3);
        if close.is_empty() {
            String::new()
        } else {
            let names: Vec<String> = close.into_iter().map(|(_, n)| n).collect();
            format!(" (did you mean {}?)", names.join(", "))
        }
    }

    /// Strongly connected components of the "child references parent" graph restricted to
    /// `members`, in dependency order: a component comes after every component it references
    /// (parents first). Each component is a set of tables that reference each other in a cycle,
    /// or a single table.
    pub fn components_parents_first(&self, members: &[bool]) -> Vec<Vec<TableId>> {
        // Tarjan's algorithm over edges child -> parent; it emits components in reverse
        // topological order of that relation, i.e. parents before children.
        let n = self.tables.len();
        let mut index = vec![usize::MAX; n];
        let mut low = vec![0usize; n];
        let mut on_stack = vec![false; n];
        let mut stack = Vec::new();
        let mut next = 0usize;
        let mut out = Vec::new();
        let mut parents: Vec<Vec<TableId>> = vec![Vec::new(); n];
        for fk in &self.fks {
            if members[fk.child] && members[fk.parent] {
                parents[fk.child].push(fk.parent);
            }
        }
        for start in 0..n {
            if !members[start] || index[start] != usize::MAX {
                continue;
            }
            // Iterative DFS: (node, next edge position).
            let mut work: Vec<(TableId, usize)> = vec![(start, 0)];
            while let Some(&mut (v, ref mut pos)) = work.last_mut() {
                if *pos == 0 && index[v] == usize::MAX {
                    index[v] = next;
                    low[v] = next;
                    next += 1;
                    stack.push(v);
                    on_stack[v] = true;
                }
                if *pos < parents[v].len() {
                    let w = parents[v][*pos];
                    *pos += 1;
                    if index[w] == usize::MAX {
                        work.push((w, 0));
                    } else if on_stack[w] {
                        low[v] = low[v].min(index[w]);
                    }
                } else {
                    work.pop();
                    if let Some(&(u, _)) = work.last() {
                        low[u] = low[u].min(low[v]);
                    }
                    if low[v] == index[v] {
                        let mut comp = Vec::new();
                        while let Some(w) = stack.pop() {
                            on_stack[w] = false;
                            comp.push(w);
                            if w == v {
                                break;
                            }
                        }
                        comp.sort_unstable();
                        out.push(comp);
                    }
                }
            }
        }
        out
    }

    /// Is this component a cycle (several tables, or one table referencing itself)?
    pub fn is_cyclic(&self, component: &[TableId]) -> bool {
        component.len() > 1
            || self
                .fks
                .iter()
                .any(|fk| fk.child == component[0] && fk.parent == component[0])
    }

    /// The delete order for a whole schema (children first), as groups: each group is deleted
    /// in one statement, so a cycle inside a group needs no breaking.
    pub fn delete_order(&self) -> Vec<Vec<TableId>> {
        let mut order = self.components_parents_first(&vec![true; self.tables.len()]);
        order.reverse();
        order
    }
}

/// Quotes an identifier for SQL: `"name"`, with inner quotes doubled.
pub fn quote_ident(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// Splits `schema.table`, honouring double quotes (`"my.schema"."Table"`).
fn split_qualified(name: &str) -> Result<(Option<String>, String)> {
    let bad = || {
        Error::new(
            ErrorCode::UnknownTable,
            format!("table name {name:?} is not a valid table or schema.table name"),
        )
    };
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = name.chars().peekable();
    let mut was_quoted = false;
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                cur.push('"');
            }
            '"' => {
                quoted = !quoted;
                was_quoted = true;
            }
            '.' if !quoted => {
                parts.push(std::mem::take(&mut cur));
            }
            c => cur.push(c),
        }
    }
    if quoted {
        return Err(bad());
    }
    parts.push(cur);
    let _ = was_quoted;
    if parts.iter().any(|p| p.is_empty()) || parts.len() > 2 {
        return Err(bad());
    }
    Ok(if parts.len() == 2 {
        let table = parts.pop().unwrap();
        (parts.pop(), table)
    } else {
        (None, parts.pop().unwrap())
    })
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn col(name: &str, ty: &str, not_null: bool) -> Column {
        Column {
            name: name.into(),
            type_sql: ty.into(),
            not_null,
        }
    }

    pub(crate) fn table(schema: &str, name: &str, cols: &[(&str, &str)]) -> Table {
        let columns: Vec<Column> = cols.iter().map(|(n, t)| col(n, t, *n == "id")).collect();
        Table {
            schema: schema.into(),
            name: name.into(),
            pk: vec![columns[0].clone()],
            columns,
        }
    }

    pub(crate) fn fk(
        child: TableId,
        parent: TableId,
        col: &str,
        on_delete: OnDelete,
    ) -> ForeignKey {
        ForeignKey {
            name: format!("fk_{child}_{parent}_{col}"),
            child,
            parent,
            child_cols: vec![col.into()],
            parent_cols: vec!["id".into()],
            on_delete,
            deferrable: false,
            nullable: true,
        }
    }

    /// users <- orgs(owner) <- members(org, user); a <-> b cycle; m self-reference.
    pub(crate) fn sample() -> SchemaGraph {
        let tables = vec![
            table("auth", "users", &[("id", "uuid")]),
            table("public", "orgs", &[("id", "uuid"), ("owner_id", "uuid")]),
            table(
                "public",
                "members",
                &[("id", "uuid"), ("org_id", "uuid"), ("user_id", "uuid")],
            ),
            table("public", "a", &[("id", "int4"), ("b_id", "int4")]),
            table("public", "b", &[("id", "int4"), ("a_id", "int4")]),
            table("public", "m", &[("id", "int4"), ("parent_id", "int4")]),
            table("other", "Mixed Case", &[("id", "int4")]),
        ];
        let fks = vec![
            fk(1, 0, "owner_id", OnDelete::NoAction),
            fk(2, 1, "org_id", OnDelete::Cascade),
            fk(2, 0, "user_id", OnDelete::Restrict),
            fk(3, 4, "b_id", OnDelete::NoAction),
            fk(4, 3, "a_id", OnDelete::NoAction),
            fk(5, 5, "parent_id", OnDelete::NoAction),
        ];
        SchemaGraph::from_parts(tables, fks)
    }

    #[test]
    fn resolves_bare_qualified_quoted_and_mixed_case_names() {
        let g = sample();
        assert_eq!(g.resolve("orgs").unwrap(), 1);
        assert_eq!(g.resolve("public.orgs").unwrap(), 1);
        assert_eq!(g.resolve("users").unwrap(), 0);
        assert_eq!(g.resolve("auth.users").unwrap(), 0);
        assert_eq!(g.resolve("\"other\".\"Mixed Case\"").unwrap(), 6);
        assert_eq!(g.resolve("Mixed Case").unwrap(), 6);
        assert_eq!(g.resolve("ORGS").unwrap(), 1);
        let err = g.resolve("org").unwrap_err();
        assert_eq!(err.code(), ErrorCode::UnknownTable);
        assert!(err.message().contains("public.orgs"), "{}", err.message());
        assert_eq!(
            g.resolve("a.b.c").unwrap_err().code(),
            ErrorCode::UnknownTable
        );
        assert_eq!(
            g.resolve("\"unterminated").unwrap_err().code(),
            ErrorCode::UnknownTable
        );
    }

    #[test]
    fn components_come_parents_first_and_group_cycles() {
        let g = sample();
        let order = g.components_parents_first(&[true; 7]);
        let pos = |t: TableId| order.iter().position(|c| c.contains(&t)).unwrap();
        assert!(pos(0) < pos(1) && pos(1) < pos(2), "{order:?}");
        assert!(order.contains(&vec![3, 4]), "{order:?}");
        assert!(g.is_cyclic(&[3, 4]));
        assert!(g.is_cyclic(&[5]));
        assert!(!g.is_cyclic(&[1]));
        let delete = g.delete_order();
        let dpos = |t: TableId| delete.iter().position(|c| c.contains(&t)).unwrap();
        assert!(dpos(2) < dpos(1) && dpos(1) < dpos(0));
    }

    #[test]
    fn quoting_doubles_inner_quotes() {
        assert_eq!(quote_ident("we\"ird"), "\"we\"\"ird\"");
    }
}
