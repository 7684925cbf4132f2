//! The schema graph: tables, primary keys and foreign keys of every user schema (`public`,
//! `auth`, ...), as plain data. Loading it from `pg_catalog` is the database layer's job
//! (`core::db::catalog`); this module only holds it and answers questions about it: which table
//! a name means ([`resolve`]), which tables form cycles and in which order they depend on each
//! other ([`components`]).
//!
//! Edges point from a child table (the one holding the foreign key) to its parent. Deleting a
//! parent row requires deleting (or letting Postgres null) the child rows that reference it, so
//! cleanup follows edges backwards: from tracked rows to the rows that reference them.

pub mod components;
pub mod resolve;

use serde::Deserialize;
use std::collections::HashMap;

pub use resolve::TableName;

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
    /// What separates the elements of the type's array literals (`typdelim`: `,` for all but
    /// a few types such as `box`). Read for key columns only.
    #[serde(default = "comma")]
    pub delim: char,
}

fn comma() -> char {
    ','
}

impl Column {
    /// Does the column hold text a lane name can be stored in (`text`, `varchar`, `char`,
    /// `citext`)?
    pub fn is_text(&self) -> bool {
        let t = self.type_sql.as_str();
        !t.ends_with("[]")
            && (t == "text"
                || t.starts_with("character")
                || t == "citext"
                || t.ends_with(".citext"))
    }
}

/// A table of a user schema.
#[derive(Debug, Clone)]
pub struct Table {
    /// Schema name, unquoted.
    pub schema: String,
    /// Table name, unquoted.
    pub name: String,
    /// The key rows are tracked by, in key order: the primary key, else the unique key (fewest
    /// columns first) whose columns are all `NOT NULL`, without predicate or expressions; empty
    /// when the table has neither.
    pub pk: Vec<Column>,
    /// Every column.
    pub columns: Vec<Column>,
    /// The partitioned table this one is a partition of (its root), if any.
    pub partition_of: Option<TableId>,
    /// Has it user-defined triggers on insert (which may write rows of other tables)?
    pub insert_triggers: bool,
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

    /// The table's exact identity (schema and name as the catalog spells them).
    pub fn table_name(&self) -> TableName {
        TableName::new(&self.schema, &self.name)
    }

    /// The column called `name`.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Its text columns (`text`, `varchar`, `char`, `citext`): where lane names can be.
    pub fn text_columns(&self) -> impl Iterator<Item = &Column> {
        self.columns.iter().filter(|c| c.is_text())
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
    /// The action of `pg_constraint.confdeltype`.
    pub fn from_catalog(code: &str) -> OnDelete {
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
    /// Does an index lead with the referencing columns? Without one, Postgres' check of this
    /// key reads the whole child table for every parent row deleted.
    pub indexed: bool,
}

/// Tables and foreign keys of the database, with lookups by name and by parent.
#[derive(Debug, Clone, Default)]
pub struct SchemaGraph {
    /// Every user table.
    pub tables: Vec<Table>,
    /// Every foreign key between user tables.
    pub fks: Vec<ForeignKey>,
    /// Could the server JIT-compile a statement (`jit` on, and its JIT provider installed)?
    pub jit: bool,
    /// Does the server have `regexp_like` (PostgreSQL 15+)? Lane names are matched with it
    /// rather than `~`, which the planner estimates by running the expression over the
    /// column's statistics: for every text column of a sweep, half its planning time.
    pub regexp_like: bool,
    /// Unique to this graph in the process (0 for a default graph): what is derived from it,
    /// such as cleanup statements, can be kept under this number.
    pub generation: u64,
    by_name: HashMap<(String, String), TableId>,
    referenced_by: Vec<Vec<usize>>,
}

impl SchemaGraph {
    /// Builds a graph from its tables and foreign keys.
    pub fn from_parts(tables: Vec<Table>, fks: Vec<ForeignKey>) -> SchemaGraph {
        let by_name = tables
            .iter()
            .enumerate()
            .map(|(i, t)| ((t.schema.clone(), t.name.clone()), i))
            .collect();
        let mut referenced_by = vec![Vec::new(); tables.len()];
        for (i, fk) in fks.iter().enumerate() {
            referenced_by[fk.parent].push(i);
        }
        static GENERATION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        SchemaGraph {
            tables,
            fks,
            jit: false,
            regexp_like: false,
            generation: GENERATION.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            by_name,
            referenced_by,
        }
    }

    /// Foreign keys that reference `table` (edges from its children).
    pub fn referenced_by(&self, table: TableId) -> impl Iterator<Item = &ForeignKey> {
        self.referenced_by[table].iter().map(move |&i| &self.fks[i])
    }

    /// The table with exactly this schema and name, if the graph has it.
    pub fn find(&self, name: &TableName) -> Option<TableId> {
        self.by_name
            .get(&(name.schema.clone(), name.name.clone()))
            .copied()
    }
}

/// Quotes an identifier for SQL: `"name"`, with inner quotes doubled.
pub fn quote_ident(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn col(name: &str, ty: &str, not_null: bool) -> Column {
        Column {
            name: name.into(),
            type_sql: ty.into(),
            not_null,
            delim: ',',
        }
    }

    pub(crate) fn table(schema: &str, name: &str, cols: &[(&str, &str)]) -> Table {
        let columns: Vec<Column> = cols.iter().map(|(n, t)| col(n, t, *n == "id")).collect();
        Table {
            schema: schema.into(),
            name: name.into(),
            pk: vec![columns[0].clone()],
            columns,
            partition_of: None,
            insert_triggers: false,
        }
    }

    pub(crate) fn fk(
        child: TableId,
        parent: TableId,
        col: &str,
        on_delete: OnDelete,
    ) -> ForeignKey {
        ForeignKey {
            child,
            parent,
            child_cols: vec![col.into()],
            parent_cols: vec!["id".into()],
            on_delete,
            indexed: true,
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
    fn quoting_doubles_inner_quotes() {
        assert_eq!(quote_ident("we\"ird"), "\"we\"\"ird\"");
    }

    #[test]
    fn children_are_found_through_their_parent() {
        let g = sample();
        let mut children: Vec<TableId> = g.referenced_by(0).map(|fk| fk.child).collect();
        children.sort();
        assert_eq!(children, vec![1, 2]);
    }
}
