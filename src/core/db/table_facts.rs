//! Column facts of user tables that the schema graph does not carry: types (enums, domains,
//! arrays, lengths, precision), defaults, identity and generated columns, CHECK constraints,
//! unique keys, named foreign keys with their deferrability, and partition bounds. Factories
//! need them to infer rows; cleanup never does, so they are read lazily, in one query of their
//! own, the first time a factory needs them ([`Db::table_facts`]), and kept beside the graph
//! they were read for.

use super::errors::read_catalog;
use super::Db;
use crate::core::error::{Error, Result};
use crate::core::schema::{SchemaGraph, TableId, TableName};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Arc;

/// The facts query: one round trip, one JSON document. The tables are those of the graph's
/// catalog query (same filter); types are every type a column uses, with the element, base and
/// range subtypes they are made of.
const FACTS_SQL: &str = r#"
with recursive tables as (
  select c.oid, n.nspname as schema, c.relname as name, c.relkind, c.relispartition, c.relpartbound
  from pg_catalog.pg_class c
  join pg_catalog.pg_namespace n on n.oid = c.relnamespace
  where c.relkind in ('r', 'p')
    and n.nspname not in ('pg_catalog', 'information_schema')
    and n.nspname not like 'pg\_%'
),
used(oid) as (
  select distinct a.atttypid from pg_catalog.pg_attribute a
  where a.attrelid in (select oid from tables) and a.attnum > 0 and not a.attisdropped
  union
  select x.oid from used u
  join pg_catalog.pg_type t on t.oid = u.oid
  cross join lateral (values
    (case when t.typcategory = 'A' and t.typelem <> 0 then t.typelem end),
    (nullif(t.typbasetype, 0)),
    ((select r.rngsubtype from pg_catalog.pg_range r where r.rngtypid = t.oid))
  ) x(oid)
  where x.oid is not null
)
select json_build_object(
  'tables', (select coalesce(json_agg(json_build_object(
      'oid', t.oid::int8, 'schema', t.schema, 'name', t.name, 'kind', t.relkind,
      'parent', (select i.inhparent::int8 from pg_catalog.pg_inherits i where i.inhrelid = t.oid and t.relispartition),
      'bound', case when t.relispartition then pg_catalog.pg_get_expr(t.relpartbound, t.oid) end,
      'partitionKey', (select json_build_object('strategy', pt.partstrat,
                 'columns', (select json_agg(coalesce(a.attname, '') order by k.ord)
                             from unnest(pt.partattrs::int2[]) with ordinality k(attnum, ord)
                             left join pg_catalog.pg_attribute a on a.attrelid = pt.partrelid and a.attnum = k.attnum))
             from pg_catalog.pg_partitioned_table pt where pt.partrelid = t.oid),
      'columns', (select coalesce(json_agg(json_build_object(
                   'name', a.attname, 'type', a.atttypid::int8, 'typmod', a.atttypmod, 'notNull', a.attnotnull,
                   'default', pg_catalog.pg_get_expr(d.adbin, d.adrelid), 'identity', a.attidentity,
                   'generated', a.attgenerated <> '') order by a.attnum), '[]')
             from pg_catalog.pg_attribute a
             left join pg_catalog.pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
             where a.attrelid = t.oid and a.attnum > 0 and not a.attisdropped),
      'checks', (select coalesce(json_agg(json_build_object('name', c.conname, 'def', pg_catalog.pg_get_constraintdef(c.oid))
                   order by c.conname), '[]')
             from pg_catalog.pg_constraint c where c.conrelid = t.oid and c.contype = 'c'),
      'beforeInsertTriggers', (select coalesce(json_agg(tg.tgname order by tg.tgname), '[]') from pg_catalog.pg_trigger tg
             where tg.tgrelid = t.oid and not tg.tgisinternal and tg.tgtype & 7 = 7),
      'uniques', (select coalesce(json_agg(json_build_object(
                   'name', ic.relname, 'primary', i.indisprimary, 'partial', i.indpred is not null,
                   'columns', (select coalesce(json_agg(distinct a.attname), '[]') from pg_catalog.pg_attribute a
                               where a.attrelid = i.indrelid and a.attnum > 0
                                 and (a.attnum = any (i.indkey::int2[])
                                      or exists (select 1 from pg_catalog.pg_depend dep
                                                 where dep.classid = 'pg_catalog.pg_class'::regclass and dep.objid = i.indexrelid
                                                   and dep.refobjid = i.indrelid and dep.refobjsubid = a.attnum
                                                   and i.indexprs is not null)))) order by ic.relname), '[]')
             from pg_catalog.pg_index i join pg_catalog.pg_class ic on ic.oid = i.indexrelid
             where i.indrelid = t.oid and i.indisunique),
      'fks', (select coalesce(json_agg(json_build_object(
                   'name', c.conname, 'parent', c.confrelid::int8, 'deferrable', c.condeferrable,
                   'matchFull', c.confmatchtype = 'f',
                   'childCols', (select json_agg(a.attname order by k.ord) from unnest(c.conkey) with ordinality k(attnum, ord)
                                 join pg_catalog.pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.attnum),
                   'parentCols', (select json_agg(a.attname order by k.ord) from unnest(c.confkey) with ordinality k(attnum, ord)
                                 join pg_catalog.pg_attribute a on a.attrelid = c.confrelid and a.attnum = k.attnum))
                   order by c.conname), '[]')
             from pg_catalog.pg_constraint c
             where c.conrelid = t.oid and c.contype = 'f' and c.conparentid = 0
               and c.confrelid in (select oid from tables))
    )), '[]') from tables t),
  'types', (select coalesce(json_agg(json_build_object(
      'oid', ty.oid::int8, 'name', ty.typname, 'schema', tn.nspname,
      'display', pg_catalog.format_type(ty.oid, null), 'kind', ty.typtype, 'category', ty.typcategory,
      'elem', case when ty.typcategory = 'A' and ty.typelem <> 0 then ty.typelem::int8 end,
      'base', nullif(ty.typbasetype, 0)::int8, 'baseTypmod', ty.typtypmod, 'notNull', ty.typnotnull,
      'default', coalesce(pg_catalog.pg_get_expr(ty.typdefaultbin, 0), ty.typdefault),
      'rangeSub', (select r.rngsubtype::int8 from pg_catalog.pg_range r where r.rngtypid = ty.oid),
      'labels', (select coalesce(json_agg(e.enumlabel order by e.enumsortorder), '[]')
                 from pg_catalog.pg_enum e where e.enumtypid = ty.oid),
      'checks', (select coalesce(json_agg(json_build_object('name', c.conname, 'def', pg_catalog.pg_get_constraintdef(c.oid))
                   order by c.conname), '[]')
                 from pg_catalog.pg_constraint c where c.contypid = ty.oid and c.contype = 'c'))), '[]')
    from pg_catalog.pg_type ty join pg_catalog.pg_namespace tn on tn.oid = ty.typnamespace
    where ty.oid in (select oid from used))
)::text
"#;

/// What kind of type a column has (`pg_type.typtype`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeKind {
    /// A base type: `int4`, `text`, `uuid`, ... (arrays are base types with an element).
    Base,
    /// An enum: its labels are in [`TypeFacts::labels`].
    Enum,
    /// A domain over [`TypeFacts::base`].
    Domain,
    /// A composite (row) type.
    Composite,
    /// A range over [`TypeFacts::range_sub`].
    Range,
    /// A multirange.
    Multirange,
    /// A pseudo-type or anything else.
    Other,
}

/// A type a column uses.
#[derive(Debug, Clone)]
pub struct TypeFacts {
    /// `pg_type.oid`.
    pub oid: u32,
    /// `typname`, e.g. `int4`, `citext`, `_text` (an array of text).
    pub name: String,
    /// The type's schema (`pg_catalog` for built-in types).
    pub schema: String,
    /// As `format_type` spells it without a modifier, e.g. `integer`, `"Role"`.
    pub display: String,
    /// Base, enum, domain, ...
    pub kind: TypeKind,
    /// `typcategory`: `A` array, `N` numeric, `S` string, `D` date/time, `B` boolean, ...
    pub category: char,
    /// The element type of an array.
    pub elem: Option<u32>,
    /// The type a domain is over.
    pub base: Option<u32>,
    /// The modifier of a domain's base type (e.g. a length), -1 for none.
    pub base_typmod: i32,
    /// A domain declared `NOT NULL`.
    pub not_null: bool,
    /// A domain's default expression.
    pub default: Option<String>,
    /// The subtype of a range.
    pub range_sub: Option<u32>,
    /// An enum's labels, in order.
    pub labels: Vec<String>,
    /// A domain's CHECK constraints (`VALUE` stands for the value).
    pub checks: Vec<CheckFacts>,
}

/// `attidentity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identity {
    /// Not an identity column.
    None,
    /// `GENERATED ALWAYS AS IDENTITY`: an insert cannot give it a value.
    Always,
    /// `GENERATED BY DEFAULT AS IDENTITY`: Postgres gives it one unless the insert does.
    ByDefault,
}

/// A column, with what the graph's [`crate::core::schema::Column`] leaves out.
#[derive(Debug, Clone)]
pub struct ColumnFacts {
    /// Column name.
    pub name: String,
    /// `atttypid`.
    pub type_oid: u32,
    /// `atttypmod`: a length, precision or -1.
    pub typmod: i32,
    /// `NOT NULL` on the column.
    pub not_null: bool,
    /// The default expression, as Postgres prints it.
    pub default: Option<String>,
    /// Identity column?
    pub identity: Identity,
    /// A generated column (stored or virtual): never inserted.
    pub generated: bool,
}

/// A CHECK constraint.
#[derive(Debug, Clone)]
pub struct CheckFacts {
    /// Its name.
    pub name: String,
    /// Its text, as `pg_get_constraintdef` prints it: `CHECK ((price >= (0)::numeric))`.
    pub definition: String,
}

/// A unique index (a primary key, a unique constraint, or a unique index with expressions or a
/// predicate).
#[derive(Debug, Clone)]
pub struct UniqueFacts {
    /// The index's name.
    pub name: String,
    /// The columns it covers (those inside expressions included).
    pub columns: Vec<String>,
    /// The primary key?
    pub primary: bool,
    /// Partial (`WHERE ...`)?
    pub partial: bool,
}

/// A foreign key with its name and deferrability.
#[derive(Debug, Clone)]
pub struct ForeignKeyFacts {
    /// The constraint's name.
    pub name: String,
    /// The referenced table.
    pub parent: TableId,
    /// Referencing columns.
    pub child_cols: Vec<String>,
    /// Referenced columns, in the same order.
    pub parent_cols: Vec<String>,
    /// `DEFERRABLE`?
    pub deferrable: bool,
    /// `MATCH FULL` (all columns null or none)?
    pub match_full: bool,
}

/// How a partitioned table routes rows.
#[derive(Debug, Clone)]
pub struct PartitionKey {
    /// `r` range, `l` list, `h` hash.
    pub strategy: char,
    /// The key's columns (empty names for expressions).
    pub columns: Vec<String>,
}

/// Everything inference needs to know about one table.
#[derive(Debug, Clone)]
pub struct TableFactsEntry {
    /// `r` table, `p` partitioned table.
    pub kind: char,
    /// Columns in order.
    pub columns: Vec<ColumnFacts>,
    /// CHECK constraints.
    pub checks: Vec<CheckFacts>,
    /// Unique indexes, the primary key's included.
    pub uniques: Vec<UniqueFacts>,
    /// Foreign keys declared on this table (not the copies on its partitions).
    pub fks: Vec<ForeignKeyFacts>,
    /// The key of a partitioned table.
    pub partition_key: Option<PartitionKey>,
    /// The table this one is a partition of (the immediate parent).
    pub partition_parent: Option<TableId>,
    /// A partition's bound: `FOR VALUES FROM (...) TO (...)`, `FOR VALUES IN (...)`, `DEFAULT`.
    pub bound: Option<String>,
    /// Partitions of this table (immediate children).
    pub partitions: Vec<TableId>,
    /// `BEFORE INSERT ... FOR EACH ROW` triggers: they may change what an insert gives.
    pub before_insert_triggers: Vec<String>,
}

impl TableFactsEntry {
    /// The column called `name`.
    pub fn column(&self, name: &str) -> Option<&ColumnFacts> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// The facts of every table of one [`SchemaGraph`], indexed like its tables.
#[derive(Debug, Clone)]
pub struct TableFacts {
    tables: Vec<TableFactsEntry>,
    types: HashMap<u32, TypeFacts>,
}

#[derive(Deserialize)]
struct RawFacts {
    tables: Vec<RawTable>,
    types: Vec<RawType>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTable {
    oid: i64,
    schema: String,
    name: String,
    kind: String,
    parent: Option<i64>,
    bound: Option<String>,
    partition_key: Option<RawPartitionKey>,
    columns: Vec<RawColumn>,
    checks: Vec<RawCheck>,
    before_insert_triggers: Vec<String>,
    uniques: Vec<RawUnique>,
    fks: Vec<RawFk>,
}

#[derive(Deserialize)]
struct RawPartitionKey {
    strategy: String,
    columns: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawColumn {
    name: String,
    #[serde(rename = "type")]
    type_oid: i64,
    typmod: i32,
    not_null: bool,
    default: Option<String>,
    identity: String,
    generated: bool,
}

/// A CHECK constraint as read: no text when its table was dropped while the query ran
/// (`pg_get_constraintdef` and `pg_get_expr` then print nothing).
#[derive(Deserialize)]
struct RawCheck {
    name: String,
    def: Option<String>,
}

/// The checks that still exist.
fn checks(raw: Vec<RawCheck>) -> Vec<CheckFacts> {
    raw.into_iter()
        .filter_map(|c| {
            Some(CheckFacts {
                name: c.name,
                definition: c.def?,
            })
        })
        .collect()
}

#[derive(Deserialize)]
struct RawUnique {
    name: String,
    primary: bool,
    partial: bool,
    columns: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawFk {
    name: String,
    parent: i64,
    deferrable: bool,
    match_full: bool,
    child_cols: Vec<String>,
    parent_cols: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawType {
    oid: i64,
    name: String,
    schema: String,
    display: String,
    kind: String,
    category: String,
    elem: Option<i64>,
    base: Option<i64>,
    base_typmod: i32,
    not_null: bool,
    default: Option<String>,
    range_sub: Option<i64>,
    labels: Vec<String>,
    checks: Vec<RawCheck>,
}

fn first_char(s: &str) -> char {
    s.chars().next().unwrap_or(' ')
}

impl TableFacts {
    /// Builds the facts from the facts query's JSON, indexed like `graph`'s tables. Tables the
    /// graph does not have (created after it was read) are left out.
    pub fn from_json(json: &str, graph: &SchemaGraph) -> Result<TableFacts> {
        let raw: RawFacts = serde_json::from_str(json)
            .map_err(|e| Error::internal(format!("unexpected column facts JSON: {e}")))?;
        let by_oid: HashMap<i64, TableId> = raw
            .tables
            .iter()
            .filter_map(|t| {
                graph
                    .find(&TableName::new(&t.schema, &t.name))
                    .map(|id| (t.oid, id))
            })
            .collect();
        let mut tables: Vec<TableFactsEntry> = (0..graph.tables.len())
            .map(|_| TableFactsEntry {
                kind: 'r',
                columns: Vec::new(),
                checks: Vec::new(),
                uniques: Vec::new(),
                fks: Vec::new(),
                partition_key: None,
                partition_parent: None,
                bound: None,
                partitions: Vec::new(),
                before_insert_triggers: Vec::new(),
            })
            .collect();
        for t in raw.tables {
            let Some(&id) = by_oid.get(&t.oid) else {
                continue;
            };
            let parent = t.parent.and_then(|p| by_oid.get(&p).copied());
            tables[id] = TableFactsEntry {
                kind: first_char(&t.kind),
                columns: t
                    .columns
                    .into_iter()
                    .map(|c| ColumnFacts {
                        name: c.name,
                        type_oid: c.type_oid as u32,
                        typmod: c.typmod,
                        not_null: c.not_null,
                        default: c.default,
                        identity: match c.identity.as_str() {
                            "a" => Identity::Always,
                            "d" => Identity::ByDefault,
                            _ => Identity::None,
                        },
                        generated: c.generated,
                    })
                    .collect(),
                checks: checks(t.checks),
                uniques: t
                    .uniques
                    .into_iter()
                    .map(|u| UniqueFacts {
                        name: u.name,
                        columns: u.columns,
                        primary: u.primary,
                        partial: u.partial,
                    })
                    .collect(),
                fks: t
                    .fks
                    .into_iter()
                    .filter_map(|f| {
                        Some(ForeignKeyFacts {
                            name: f.name,
                            parent: *by_oid.get(&f.parent)?,
                            child_cols: f.child_cols,
                            parent_cols: f.parent_cols,
                            deferrable: f.deferrable,
                            match_full: f.match_full,
                        })
                    })
                    .collect(),
                partition_key: t.partition_key.map(|k| PartitionKey {
                    strategy: first_char(&k.strategy),
                    columns: k.columns.unwrap_or_default(),
                }),
                partition_parent: parent,
                bound: t.bound,
                partitions: Vec::new(),
                before_insert_triggers: t.before_insert_triggers,
            };
        }
        for id in 0..tables.len() {
            if let Some(parent) = tables[id].partition_parent {
                tables[parent].partitions.push(id);
            }
        }
        let types = raw
            .types
            .into_iter()
            .map(|t| {
                let kind = match t.kind.as_str() {
                    "e" => TypeKind::Enum,
                    "d" => TypeKind::Domain,
                    "c" => TypeKind::Composite,
                    "r" => TypeKind::Range,
                    "m" => TypeKind::Multirange,
                    "b" => TypeKind::Base,
                    _ => TypeKind::Other,
                };
                (
                    t.oid as u32,
                    TypeFacts {
                        oid: t.oid as u32,
                        name: t.name,
                        schema: t.schema,
                        display: t.display,
                        kind,
                        category: first_char(&t.category),
                        elem: t.elem.map(|e| e as u32),
                        base: t.base.map(|b| b as u32),
                        base_typmod: t.base_typmod,
                        not_null: t.not_null,
                        default: t.default,
                        range_sub: t.range_sub.map(|r| r as u32),
                        labels: t.labels,
                        checks: checks(t.checks),
                    },
                )
            })
            .collect();
        Ok(TableFacts { tables, types })
    }

    /// The facts of a table of the graph they were read for.
    pub fn table(&self, id: TableId) -> &TableFactsEntry {
        &self.tables[id]
    }

    /// A type by oid.
    pub fn type_of(&self, oid: u32) -> Option<&TypeFacts> {
        self.types.get(&oid)
    }

    /// The type under any domains: `(type, typmod)` of the base, and the domains passed on the
    /// way (outermost first), whose checks, `NOT NULL` and defaults apply too.
    pub fn resolve_type(
        &self,
        oid: u32,
        typmod: i32,
    ) -> (Option<&TypeFacts>, i32, Vec<&TypeFacts>) {
        let mut domains = Vec::new();
        let mut current = self.type_of(oid);
        let mut typmod = typmod;
        while let Some(t) = current {
            if t.kind != TypeKind::Domain || domains.len() > 16 {
                break;
            }
            domains.push(t);
            if typmod < 0 {
                typmod = t.base_typmod;
            }
            current = t.base.and_then(|b| self.type_of(b));
        }
        (current, typmod, domains)
    }

    /// The table (and its CHECK text) that has a constraint or unique index called `name`, for
    /// explaining an error Postgres reported.
    pub fn constraint(&self, name: &str) -> Option<(TableId, ConstraintRef<'_>)> {
        self.tables.iter().enumerate().find_map(|(id, t)| {
            if let Some(c) = t.checks.iter().find(|c| c.name == name) {
                return Some((id, ConstraintRef::Check(c)));
            }
            if let Some(u) = t.uniques.iter().find(|u| u.name == name) {
                return Some((id, ConstraintRef::Unique(u)));
            }
            t.fks
                .iter()
                .find(|f| f.name == name)
                .map(|f| (id, ConstraintRef::ForeignKey(f)))
        })
    }
}

/// A constraint found by name.
#[derive(Debug, Clone, Copy)]
pub enum ConstraintRef<'a> {
    /// A CHECK constraint.
    Check(&'a CheckFacts),
    /// A unique index or constraint.
    Unique(&'a UniqueFacts),
    /// A foreign key.
    ForeignKey(&'a ForeignKeyFacts),
}

impl Db {
    /// The column facts of `graph`'s tables: read in one round trip the first time they are
    /// asked for with this graph (again after the graph was read again), then kept. Returns
    /// the facts and the round trips that cost (0 or 1; more when DDL of another session
    /// dropped a table while the query ran, see [`read_catalog`]).
    pub async fn table_facts(&self, graph: &Arc<SchemaGraph>) -> Result<(Arc<TableFacts>, u64)> {
        if let Some(facts) = self.cached_table_facts(graph) {
            return Ok((facts, 0));
        }
        let conn = self.conn().await?;
        // A large catalog makes the planner cost this query high enough to JIT-compile it,
        // which takes longer than running it.
        let (rows, attempts) = read_catalog(|| async {
            conn.query_guarded(FACTS_SQL, &[], graph.jit, false)
                .await
                .and_then(|outcome| outcome)
        })
        .await;
        let rows = rows.map_err(|e| e.context("reading column facts from pg_catalog"))?;
        let json: String = rows
            .first()
            .map(|r| r.get(0))
            .ok_or_else(|| Error::internal("the column facts query returned no row"))?;
        let facts = Arc::new(TableFacts::from_json(&json, graph)?);
        *self
            .inner
            .table_facts
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Some((graph.clone(), facts.clone()));
        Ok((facts, attempts))
    }

    /// [`Db::table_facts`] from a thread outside the runtime (a synchronous JS call).
    pub fn table_facts_blocking(&self, graph: &Arc<SchemaGraph>) -> Result<Arc<TableFacts>> {
        if let Some(facts) = self.cached_table_facts(graph) {
            return Ok(facts);
        }
        crate::core::runtime::block_on(self.table_facts(graph)).map(|(f, _)| f)
    }

    fn cached_table_facts(&self, graph: &Arc<SchemaGraph>) -> Option<Arc<TableFacts>> {
        let slot = self
            .inner
            .table_facts
            .read()
            .unwrap_or_else(|p| p.into_inner());
        match &*slot {
            Some((g, facts)) if Arc::ptr_eq(g, graph) => Some(facts.clone()),
            _ => None,
        }
    }
}
