//! Reading the schema graph from `pg_catalog` (one query, one JSON document) and keeping it per
//! [`Db`]: [`Db::graph_for`] is the one place the catalog is read again.

use super::errors::read_catalog;
use super::Db;
use crate::core::error::{Error, Result};
use crate::core::schema::{Column, ForeignKey, OnDelete, SchemaGraph, Table};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Arc;

/// How current the graph must be.
pub enum Freshness<'a> {
    /// The process's graph, read once (one round trip the first time).
    Cached,
    /// The process's graph when `knows` holds for it (every table the caller needs is in it),
    /// else read again: a table may have been created since.
    Knowing(&'a (dyn Fn(&SchemaGraph) -> bool + Sync)),
    /// Read again now (after DDL, or before a sweep of what crashed runs left).
    Fresh,
}

/// The catalog query: one round trip, one JSON document. Partitions are tables of their own
/// (a foreign key may be declared on one partition only), marked with their root; foreign keys
/// are those declared, not the copies Postgres makes on each partition. A foreign key is
/// `indexed` when an index leads with its referencing columns (in any order): Postgres' check of
/// it, for each parent row deleted, then looks the child rows up instead of reading the table.
const CATALOG_SQL: &str = r#"
with tables as (
  select c.oid, n.nspname as schema, c.relname as name,
         case when c.relispartition then pg_catalog.pg_partition_root(c.oid) end as root
  from pg_catalog.pg_class c
  join pg_catalog.pg_namespace n on n.oid = c.relnamespace
  where c.relkind in ('r', 'p')
    and n.nspname not in ('pg_catalog', 'information_schema')
    and n.nspname not like 'pg\_%'
)
select json_build_object(
  'jit', current_setting('jit')::bool and pg_catalog.pg_jit_available(),
  'regexpLike', current_setting('server_version_num')::int4 >= 150000,
  'tables', (select coalesce(json_agg(json_build_object(
      'oid', t.oid::int8, 'schema', t.schema, 'name', t.name, 'partitionOf', t.root::int8,
      'insertTriggers', exists(select 1 from pg_catalog.pg_trigger tg
                               where tg.tgrelid = t.oid and not tg.tgisinternal and tg.tgtype & 4 <> 0),
      'pk', (select coalesce(json_agg(json_build_object('name', a.attname,
                 'type', format_type(a.atttypid, a.atttypmod), 'notNull', a.attnotnull,
                 'delim', (select ty.typdelim from pg_catalog.pg_type ty where ty.oid = a.atttypid))
                 order by k.ord), '[]')
             from (select i.indkey, i.indnkeyatts from pg_catalog.pg_index i
                   where i.indrelid = t.oid and i.indisunique and i.indisvalid and i.indpred is null
                     and i.indexprs is null
                     and not exists (select 1 from pg_catalog.pg_attribute na
                                     where na.attrelid = t.oid and na.attnum = any(i.indkey) and not na.attnotnull)
                   order by i.indisprimary desc, i.indnkeyatts, i.indexrelid limit 1) key
             cross join unnest(key.indkey::int2[]) with ordinality k(attnum, ord)
             join pg_catalog.pg_attribute a on a.attrelid = t.oid and a.attnum = k.attnum
             where k.ord <= key.indnkeyatts),
      'columns', (select coalesce(json_agg(json_build_object('name', a.attname,
                 'type', format_type(a.atttypid, a.atttypmod), 'notNull', a.attnotnull) order by a.attnum), '[]')
             from pg_catalog.pg_attribute a
             where a.attrelid = t.oid and a.attnum > 0 and not a.attisdropped)
    )), '[]') from tables t),
  'fks', (select coalesce(json_agg(json_build_object(
      'child', c.conrelid::int8, 'parent', c.confrelid::int8,
      'childCols', (select json_agg(a.attname order by k.ord) from unnest(c.conkey) with ordinality k(attnum, ord)
                    join pg_catalog.pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.attnum),
      'parentCols', (select json_agg(a.attname order by k.ord) from unnest(c.confkey) with ordinality k(attnum, ord)
                    join pg_catalog.pg_attribute a on a.attrelid = c.confrelid and a.attnum = k.attnum),
      'onDelete', c.confdeltype,
      'indexed', exists (
        select 1 from pg_catalog.pg_index i
        where i.indrelid = c.conrelid and i.indisvalid and i.indpred is null
          and i.indnkeyatts >= cardinality(c.conkey)
          and (select array_agg(x) from unnest(i.indkey::int2[]) with ordinality u(x, o)
               where u.o <= cardinality(c.conkey)) @> c.conkey
          and (select array_agg(x) from unnest(i.indkey::int2[]) with ordinality u(x, o)
               where u.o <= cardinality(c.conkey)) <@ c.conkey))), '[]')
    from pg_catalog.pg_constraint c
    where c.contype = 'f' and c.conparentid = 0
      and c.conrelid in (select oid from tables) and c.confrelid in (select oid from tables))
)::text
"#;

#[derive(Deserialize)]
struct RawCatalog {
    jit: bool,
    #[serde(rename = "regexpLike", default)]
    regexp_like: bool,
    tables: Vec<RawTable>,
    fks: Vec<RawFk>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTable {
    oid: i64,
    schema: String,
    name: String,
    partition_of: Option<i64>,
    insert_triggers: bool,
    pk: Vec<Column>,
    columns: Vec<Column>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawFk {
    child: i64,
    parent: i64,
    child_cols: Vec<String>,
    parent_cols: Vec<String>,
    on_delete: String,
    indexed: bool,
}

/// Builds the graph from the catalog query's JSON.
pub fn graph_from_catalog_json(json: &str) -> Result<SchemaGraph> {
    let raw: RawCatalog = serde_json::from_str(json)
        .map_err(|e| Error::internal(format!("unexpected catalog JSON: {e}")))?;
    let by_oid: HashMap<i64, usize> = raw
        .tables
        .iter()
        .enumerate()
        .map(|(i, t)| (t.oid, i))
        .collect();
    let tables = raw
        .tables
        .into_iter()
        .map(|t| Table {
            schema: t.schema,
            name: t.name,
            partition_of: t.partition_of.and_then(|root| by_oid.get(&root).copied()),
            insert_triggers: t.insert_triggers,
            pk: t.pk,
            columns: t.columns,
        })
        .collect();
    let fks = raw
        .fks
        .into_iter()
        .filter_map(|fk| {
            Some(ForeignKey {
                child: *by_oid.get(&fk.child)?,
                parent: *by_oid.get(&fk.parent)?,
                child_cols: fk.child_cols,
                parent_cols: fk.parent_cols,
                on_delete: OnDelete::from_catalog(&fk.on_delete),
                indexed: fk.indexed,
            })
        })
        .collect();
    let mut graph = SchemaGraph::from_parts(tables, fks);
    graph.jit = raw.jit;
    graph.regexp_like = raw.regexp_like;
    Ok(graph)
}

impl Db {
    /// The graph read last, if any.
    pub fn cached_graph(&self) -> Option<Arc<SchemaGraph>> {
        self.inner
            .graph
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The schema graph, as current as `freshness` asks, and the round trips that cost (0 or
    /// 1; more when DDL of another session ran beside it, see [`read_catalog`]). The only
    /// place pglane reads the catalog.
    pub async fn graph_for(&self, freshness: Freshness<'_>) -> Result<(Arc<SchemaGraph>, u64)> {
        if let Some(g) = self.cached_graph() {
            match freshness {
                Freshness::Cached => return Ok((g, 0)),
                Freshness::Knowing(knows) if knows(&g) => return Ok((g, 0)),
                _ => {}
            }
        }
        let conn = self.conn().await?;
        let (rows, attempts) = read_catalog(|| conn.query(CATALOG_SQL, &[])).await;
        let rows = rows.map_err(|e| e.context("reading the schema from pg_catalog"))?;
        let json: String = rows
            .first()
            .map(|r| r.get(0))
            .ok_or_else(|| Error::internal("the catalog query returned no row"))?;
        let graph = Arc::new(graph_from_catalog_json(&json)?);
        *self.inner.graph.write().unwrap_or_else(|p| p.into_inner()) = Some(graph.clone());
        // The schema may have changed: statements prepared for the old one go.
        self.inner.pool.manager().statement_caches.clear();
        Ok((graph, attempts))
    }

    /// [`Db::graph_for`] from a thread outside the runtime (a synchronous JS call).
    pub fn graph_for_blocking(&self, freshness: Freshness<'_>) -> Result<Arc<SchemaGraph>> {
        if let Some(g) = self.cached_graph() {
            match freshness {
                Freshness::Cached => return Ok(g),
                Freshness::Knowing(knows) if knows(&g) => return Ok(g),
                _ => {}
            }
        }
        crate::core::runtime::block_on(self.graph_for(freshness)).map(|(g, _)| g)
    }
}
