//! Tables and factories as the TypeScript types generator sees them: every column with the
//! JavaScript value it comes back as and whether an insert may give it, every relation by the
//! name factories accept, every factory with its table, traits, parameters and steps. The
//! generator (`ts/types.ts`) turns this into declarations; the mapping from Postgres types to
//! JavaScript values is decided here, beside the code that makes the values.

use super::definition::FactoryRegistry;
use super::infer::{needs_parent, relations};
use crate::core::db::table_facts::{Identity, TableFacts, TypeKind};
use crate::core::schema::SchemaGraph;

/// What a column's values are in JavaScript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsKind {
    /// A JS number: integers, floats and `numeric` (what Postgres' `to_json` gives).
    Number,
    /// A string: text, uuid, dates and times, `money`, bytea (`\x...`), network addresses,
    /// ranges, ...
    String,
    /// `true` or `false`.
    Boolean,
    /// Any JSON value (`json`, `jsonb`, composite types).
    Json,
    /// One of the enum's labels.
    Enum(Vec<String>),
    /// A type pglane does not map (an extension's): `unknown`.
    Unknown,
}

/// A column's type for TypeScript.
#[derive(Debug, Clone)]
pub struct ColumnType {
    /// The element's kind (the column's for a scalar).
    pub kind: JsKind,
    /// Array dimensions (0 for a scalar).
    pub array: u32,
    /// What an insert takes besides the row's type: text for `int8` and `numeric` (values a JS
    /// number cannot hold exactly), a number for `money`.
    pub insert_also: Option<JsKind>,
}

/// A column.
#[derive(Debug, Clone)]
pub struct ColumnDescription {
    /// Column name.
    pub name: String,
    /// Type as Postgres spells it.
    pub pg_type: String,
    /// Its TypeScript shape.
    pub ty: ColumnType,
    /// Can it be null?
    pub nullable: bool,
    /// Can an insert give it a value (not generated, not an identity `ALWAYS`)?
    pub insertable: bool,
    /// Does Postgres give it a value when the insert does not (default, identity, serial)?
    pub has_default: bool,
}

/// A foreign key by the name factories accept (`project` for `project_id`).
#[derive(Debug, Clone)]
pub struct RelationDescription {
    /// The relation's name.
    pub name: String,
    /// The referenced table, `schema.table`.
    pub table: String,
    /// The referencing columns.
    pub columns: Vec<String>,
    /// The referenced columns.
    pub parent_columns: Vec<String>,
    /// Does inference build a parent when the caller gives none?
    pub required: bool,
}

/// A table.
#[derive(Debug, Clone)]
pub struct TableDescription {
    /// `schema.table`, unquoted.
    pub name: String,
    /// The name that `create` reads back as this table (quoted where needed).
    pub qualified: String,
    /// Schema.
    pub schema: String,
    /// Table name.
    pub table: String,
    /// The partitioned table it is a partition of, `schema.table`.
    pub partition_of: Option<String>,
    /// The key its rows are tracked by: the primary key, else a unique key whose columns are
    /// all `NOT NULL` (empty: neither, so its rows are not tracked by key).
    pub primary_key: Vec<String>,
    /// Columns in order.
    pub columns: Vec<ColumnDescription>,
    /// Foreign keys, named.
    pub relations: Vec<RelationDescription>,
    /// The definition that builds its rows when a call names the table, if one does.
    pub factory: Option<String>,
}

/// A step or after-step of a factory.
#[derive(Debug, Clone)]
pub struct StepDescription {
    /// Its name in the result.
    pub name: String,
    /// The factory it calls.
    pub factory: String,
    /// Made only sometimes (an `if:`, or a trait's after-step)?
    pub optional: bool,
}

/// An association of a factory.
#[derive(Debug, Clone)]
pub struct AssociationDescription {
    /// Its name (an attribute and a key of the result).
    pub name: String,
    /// The factory of the parent.
    pub factory: String,
    /// The parameter giving the parent's key, if any.
    pub param: Option<String>,
}

/// A factory of a registry.
#[derive(Debug, Clone)]
pub struct FactoryDescription {
    /// Its name.
    pub name: String,
    /// The table of a row factory, `schema.table` (as the schema has it, when it resolves).
    pub table: Option<String>,
    /// Trait names.
    pub traits: Vec<String>,
    /// Parameter names (`transient`).
    pub params: Vec<String>,
    /// Associations.
    pub associations: Vec<AssociationDescription>,
    /// After-steps (traits' included, as optional).
    pub after: Vec<StepDescription>,
    /// Steps of a multi-row factory.
    pub steps: Vec<StepDescription>,
}

/// The schema's tables (not pglane's own, in schema `pglane`), with the definition of
/// `registry` that builds each, when one does.
pub fn describe_tables(
    registry: &FactoryRegistry,
    graph: &SchemaGraph,
    facts: &TableFacts,
) -> Vec<TableDescription> {
    let definitions = super::planner::table_factories(registry, graph);
    graph
        .tables
        .iter()
        .enumerate()
        .filter(|(_, table)| table.schema != "pglane")
        .map(|(id, table)| {
            let entry = facts.table(id);
            let columns = table
                .columns
                .iter()
                .map(|c| {
                    let f = entry.column(&c.name);
                    let (oid, typmod) = f.map(|f| (f.type_oid, f.typmod)).unwrap_or((0, -1));
                    let (_, _, domains) = facts.resolve_type(oid, typmod);
                    let has_default = f
                        .is_some_and(|f| f.default.is_some() || f.identity != Identity::None)
                        || domains.iter().any(|d| d.default.is_some());
                    ColumnDescription {
                        name: c.name.clone(),
                        pg_type: c.type_sql.clone(),
                        ty: column_type(facts, oid, typmod),
                        nullable: !c.not_null && !domains.iter().any(|d| d.not_null),
                        insertable: f
                            .is_some_and(|f| !f.generated && f.identity != Identity::Always),
                        has_default,
                    }
                })
                .collect();
            let relations = relations(facts, graph, id)
                .into_iter()
                .map(|r| {
                    let required = needs_parent(facts, id, r.fk, |_| None);
                    RelationDescription {
                        name: r.name,
                        table: graph.tables[r.fk.parent].display_name(),
                        columns: r.fk.child_cols.clone(),
                        parent_columns: r.fk.parent_cols.clone(),
                        required,
                    }
                })
                .collect();
            TableDescription {
                name: table.display_name(),
                qualified: table.table_name().qualified(),
                schema: table.schema.clone(),
                table: table.name.clone(),
                partition_of: table.partition_of.map(|p| graph.tables[p].display_name()),
                primary_key: table.pk.iter().map(|c| c.name.clone()).collect(),
                columns,
                relations,
                factory: definitions.get(&id).cloned(),
            }
        })
        .collect()
}

/// The TypeScript shape of a type.
pub fn column_type(facts: &TableFacts, oid: u32, typmod: i32) -> ColumnType {
    let (ty, _, _) = facts.resolve_type(oid, typmod);
    let Some(t) = ty else {
        return ColumnType {
            kind: JsKind::Unknown,
            array: 0,
            insert_also: None,
        };
    };
    if t.category == 'A' {
        if let Some(elem) = t.elem {
            let mut inner = column_type(facts, elem, -1);
            inner.array += 1;
            return inner;
        }
    }
    let builtin = t.schema == "pg_catalog";
    let (kind, insert_also) = match t.kind {
        TypeKind::Enum => (JsKind::Enum(t.labels.clone()), None),
        TypeKind::Composite => (JsKind::Json, None),
        TypeKind::Range | TypeKind::Multirange => (JsKind::String, None),
        _ => match t.name.as_str() {
            "int2" | "int4" | "oid" | "float4" | "float8" if builtin => (JsKind::Number, None),
            "int8" | "numeric" if builtin => (JsKind::Number, Some(JsKind::String)),
            "money" if builtin => (JsKind::String, Some(JsKind::Number)),
            "bool" if builtin => (JsKind::Boolean, None),
            "json" | "jsonb" if builtin => (JsKind::Json, None),
            _ if builtin => (JsKind::String, None),
            "citext" => (JsKind::String, None),
            _ if t.category == 'S' => (JsKind::String, None),
            _ => (JsKind::Unknown, None),
        },
    };
    ColumnType {
        kind,
        array: 0,
        insert_also,
    }
}

/// The factories of a registry, tables resolved against `graph` where they can be.
pub fn describe_factories(
    registry: &FactoryRegistry,
    graph: &SchemaGraph,
) -> Vec<FactoryDescription> {
    registry
        .names()
        .into_iter()
        .filter_map(|name| {
            let def = registry.get(&name).ok()?;
            let table = def.table.as_deref().map(|t| {
                graph
                    .resolve(t)
                    .map(|id| graph.tables[id].display_name())
                    .unwrap_or_else(|_| t.to_string())
            });
            let mut after: Vec<StepDescription> = def
                .after
                .iter()
                .map(|s| StepDescription {
                    name: s.name.clone(),
                    factory: s.factory.clone(),
                    optional: s.condition.is_some(),
                })
                .collect();
            for tr in def.traits.values() {
                for s in &tr.after {
                    if !after.iter().any(|a| a.name == s.name) {
                        after.push(StepDescription {
                            name: s.name.clone(),
                            factory: s.factory.clone(),
                            optional: true,
                        });
                    }
                }
            }
            let mut params: Vec<String> = def.transient.keys().cloned().collect();
            for tr in def.traits.values() {
                for p in tr.transient.keys() {
                    if !params.contains(p) {
                        params.push(p.clone());
                    }
                }
            }
            Some(FactoryDescription {
                name: name.clone(),
                table,
                traits: def.traits.keys().cloned().collect(),
                params,
                associations: def
                    .associations
                    .iter()
                    .map(|(a, d)| AssociationDescription {
                        name: a.clone(),
                        factory: d.factory.clone(),
                        param: d.param.clone(),
                    })
                    .collect(),
                after,
                steps: def
                    .steps
                    .iter()
                    .map(|s| StepDescription {
                        name: s.name.clone(),
                        factory: s.factory.clone(),
                        optional: s.condition.is_some(),
                    })
                    .collect(),
            })
        })
        .collect()
}
