//! Inference: the columns of a row that neither the caller nor a definition gave, filled from
//! the catalog. For each row the planner makes:
//!
//! 1. A partitioned table gets its partition key from one of its partitions' bounds (the one
//!    that holds `now()` for a time range, else a default partition, else the first), and that
//!    partition's foreign keys apply too. A default partition named by the caller gets a key
//!    none of its siblings takes.
//! 2. Each required foreign key (a `NOT NULL` column without a constant default) is connected
//!    to the row the caller named (`{ project: p }`, `connect: { project: p }`, or the column
//!    itself), or gets a new parent row from the parent table's definition or inferred factory,
//!    recursively, in the same statement. A parent already being built further up (a cycle, a
//!    self-reference) is referenced instead: the row that closes the cycle takes the key
//!    pglane computes for it, and Postgres checks the foreign keys when the statement ends
//!    (deferrable or not).
//! 3. The other columns: identity, generated and defaulted columns are left to Postgres,
//!    nullable ones stay null (unless `fill: 'all'`), and `NOT NULL` ones get the first value
//!    of their candidates ([`super::values`]) that satisfies the CHECK constraints
//!    ([`super::check`]); a failing check is repaired by trying other candidates, defaults and
//!    nulls for the columns it reads.
//!
//! Values the caller gave are checked against their column's type first.

use super::check::{parse_partition_bound, Check, Hint, PartitionBound, V};
use super::planner::{Attr, HashRoute, Planner, RouteSource, Shape, Val};
use super::values::{
    candidates, first_candidate, named_first, shape_of, Candidate, Seed, Shape as TypeShape,
};
use crate::core::db::table_facts::{ForeignKeyFacts, Identity, TableFacts, TableFactsEntry};
use crate::core::error::{Error, ErrorCode, Result};
use crate::core::schema::{SchemaGraph, Table, TableId};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// Which columns inference fills.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Fill {
    /// Only what the row needs: `NOT NULL` columns without a default (the default).
    #[default]
    Required,
    /// Nullable columns too (nullable foreign keys stay null).
    All,
}

impl Fill {
    /// `"required"` or `"all"`.
    pub fn parse(s: &str) -> Result<Fill> {
        match s {
            "required" => Ok(Fill::Required),
            "all" => Ok(Fill::All),
            other => Err(Error::new(
                ErrorCode::FactoryField,
                format!("fill must be \"required\" or \"all\"; got {other:?}"),
            )),
        }
    }
}

fn infer_error(message: impl Into<String>) -> Error {
    Error::new(ErrorCode::FactoryInfer, message)
}

/// A foreign key of a table with the name callers use for it: `project` for `project_id`,
/// `user` for `userId`, else the parent table's name, else the constraint's name.
#[derive(Debug, Clone)]
pub struct Relation<'a> {
    /// The relation's name.
    pub name: String,
    /// The foreign key.
    pub fk: &'a ForeignKeyFacts,
}

fn strip_id(column: &str) -> Option<&str> {
    for suffix in ["_id", "_Id", "_ID", " id", " Id", " ID", "Id", "ID"] {
        if let Some(base) = column.strip_suffix(suffix) {
            if !base.is_empty() {
                return Some(base.trim_end_matches(['_', ' ']));
            }
        }
    }
    None
}

/// The relations (foreign keys, named) of a table: its own, and, for a partition, those of
/// the tables it is a partition of.
pub fn relations<'a>(
    facts: &'a TableFacts,
    graph: &SchemaGraph,
    table: TableId,
) -> Vec<Relation<'a>> {
    let mut fks: Vec<&ForeignKeyFacts> = Vec::new();
    let mut t = Some(table);
    let mut guard = 0;
    while let Some(id) = t {
        fks.extend(facts.table(id).fks.iter());
        t = facts.table(id).partition_parent;
        guard += 1;
        if guard > 32 {
            break;
        }
    }
    name_relations(facts.table(table), graph, fks)
}

/// Does a row of `table` need a parent row for `fk`? `given(column)` says whether the row
/// already has a value for a key column (`Some(true)`), an explicit null (`Some(false)`) or
/// none yet (`None`). A key with a null column is not checked under `MATCH SIMPLE` (the
/// default), so the row needs a parent only when every column it lacks must be set; under
/// `MATCH FULL` the key is all null or all set, so one set or required column needs them all.
/// A column must be set when it is `NOT NULL` (its own or a domain's) and Postgres does not
/// fill it (identity, generated). A default does not make a parent optional: such defaults are
/// session functions (`auth.uid()`, null in a test's connection) or name rows a test database
/// may not have (`'en'` of an empty languages table).
pub fn needs_parent(
    facts: &TableFacts,
    table: TableId,
    fk: &ForeignKeyFacts,
    given: impl Fn(&str) -> Option<bool>,
) -> bool {
    let entry = facts.table(table);
    let must_be_set = |c: &str| {
        entry.column(c).is_some_and(|col| {
            let (_, _, domains) = facts.resolve_type(col.type_oid, col.typmod);
            let not_null = col.not_null || domains.iter().any(|d| d.not_null);
            not_null && col.identity == Identity::None && !col.generated
        })
    };
    let cols = &fk.child_cols;
    if cols.iter().any(|c| given(c) == Some(false)) && !fk.match_full {
        return false;
    }
    let missing: Vec<&String> = cols.iter().filter(|c| given(c).is_none()).collect();
    if missing.is_empty() {
        return false;
    }
    if fk.match_full {
        missing.len() < cols.len() || missing.iter().any(|c| must_be_set(c))
    } else {
        missing.iter().all(|c| must_be_set(c))
    }
}

fn name_relations<'a>(
    entry: &TableFactsEntry,
    graph: &SchemaGraph,
    fks: Vec<&'a ForeignKeyFacts>,
) -> Vec<Relation<'a>> {
    let is_column = |n: &str| entry.column(n).is_some();
    let parent_name = |fk: &ForeignKeyFacts| graph.tables[fk.parent].name.clone();
    let first: Vec<Option<String>> = fks
        .iter()
        .map(|fk| match fk.child_cols.as_slice() {
            [one] => strip_id(one).map(str::to_string),
            _ => None,
        })
        .collect();
    let mut names: Vec<String> = fks
        .iter()
        .zip(&first)
        .map(|(fk, n)| {
            n.clone()
                .filter(|n| !is_column(n))
                .unwrap_or_else(|| parent_name(fk))
        })
        .collect();
    // Names taken twice, or by a column, fall back to the constraint's name.
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for n in &names {
        *counts.entry(n.clone()).or_default() += 1;
    }
    for (i, fk) in fks.iter().enumerate() {
        if counts[&names[i]] > 1 || is_column(&names[i]) {
            names[i] = fk.name.clone();
        }
    }
    let mut seen = HashSet::new();
    fks.into_iter()
        .zip(names)
        .filter(|(fk, _)| seen.insert(fk.name.clone()))
        .map(|(fk, name)| Relation { name, fk })
        .collect()
}

/// A row bound for a hash partition whose key column it lacks: the hash-partitioned table, the
/// key column, and the partition's bound.
#[derive(Debug, Clone)]
pub(super) struct HashBound {
    pub(super) parent: TableId,
    pub(super) column: String,
    pub(super) modulus: u32,
    pub(super) remainder: u32,
}

/// What a child being built asks of the next row of its parent's table.
#[derive(Debug)]
pub(super) struct ParentRequest {
    /// The parent table.
    pub(super) table: TableId,
    /// Columns the row must set, nullable or not: the child's foreign key refers to them, and
    /// one left null would leave the child's key half null (which `MATCH FULL` refuses, and a
    /// `NOT NULL` key column cannot take).
    pub(super) columns: Vec<String>,
    /// The child goes to a hash partition whose key is its foreign key: the parent's key
    /// column (`column` here) must hash there.
    pub(super) hash: Option<HashBound>,
}

/// The values a partition bound routes by: a range's lower bound, a list's first value.
fn bound_literals(bound: &str) -> Option<Vec<Option<String>>> {
    match parse_partition_bound(bound)? {
        PartitionBound::Range { from, .. } => Some(from),
        PartitionBound::List(values) => values.into_iter().flatten().next().map(|v| vec![Some(v)]),
        PartitionBound::Default | PartitionBound::Hash { .. } => None,
    }
}

/// Where a literal of `shape` falls in its type's order (numbers, dates, times), as the checks read it.
fn order_of(literal: &str, shape: &TypeShape) -> Option<f64> {
    match text_to_v(literal, shape) {
        V::Num(n) | V::Time(n) if n.is_finite() => Some(n),
        _ => None,
    }
}

/// A one-column range key that no range of `siblings` holds: the highest upper bound (bounds
/// are exclusive) when none is open-ended above; else, for integers, one below the lowest
/// lower bound. `None` when both ends are open or the type has no order pglane reads.
fn key_outside_ranges(siblings: &[PartitionBound], shape: &TypeShape) -> Option<String> {
    let mut highest: Option<(f64, &str)> = None;
    let mut lowest: Option<(f64, &str)> = None;
    let (mut open_above, mut open_below) = (false, false);
    for bound in siblings {
        let PartitionBound::Range { from, to } = bound else {
            continue;
        };
        match to.first() {
            Some(Some(t)) => {
                let o = order_of(t, shape)?;
                if highest.is_none_or(|(h, _)| o > h) {
                    highest = Some((o, t));
                }
            }
            _ => open_above = true,
        }
        match from.first() {
            Some(Some(f)) => {
                let o = order_of(f, shape)?;
                if lowest.is_none_or(|(l, _)| o < l) {
                    lowest = Some((o, f));
                }
            }
            _ => open_below = true,
        }
    }
    if !open_above {
        if let Some((_, t)) = highest {
            return Some(t.to_string());
        }
    }
    match (open_below, lowest, shape) {
        (false, Some((_, f)), TypeShape::Int { min, .. }) => {
            let below = f.trim().parse::<i128>().ok()? - 1;
            (below >= *min).then(|| below.to_string())
        }
        _ => None,
    }
}

/// A one-column list key in no list of `siblings`: past the highest number, the first enum
/// label or boolean left, or a text no list holds.
fn key_outside_lists(siblings: &[PartitionBound], shape: &TypeShape) -> Option<String> {
    let taken: HashSet<&str> = siblings
        .iter()
        .filter_map(|b| match b {
            PartitionBound::List(values) => Some(values),
            _ => None,
        })
        .flatten()
        .flatten()
        .map(String::as_str)
        .collect();
    match shape {
        TypeShape::Int { max, .. } => {
            let mut highest = 0i128;
            for t in &taken {
                highest = highest.max(t.trim().parse::<i128>().ok()?);
            }
            (highest < *max).then(|| (highest + 1).to_string())
        }
        TypeShape::Enum(labels) => labels.iter().find(|l| !taken.contains(l.as_str())).cloned(),
        TypeShape::Bool => ["true", "false"]
            .into_iter()
            .find(|b| !taken.iter().any(|t| t.eq_ignore_ascii_case(b)))
            .map(String::from),
        TypeShape::Text { max } => (0..)
            .map(|i| {
                if i == 0 {
                    "other".to_string()
                } else {
                    format!("other{i}")
                }
            })
            .take(1000)
            .find(|v| !taken.contains(v.as_str()))
            .filter(|v| max.is_none_or(|m| v.chars().count() <= m)),
        _ => None,
    }
}

/// A column's value as the checks see it.
fn val_to_v(val: &Val, shape: &TypeShape, now: f64) -> V {
    match val {
        Val::Null => V::Null,
        Val::Ref { .. } | Val::Routed(_) => V::Unknown,
        Val::Now(s) => V::Time(now + *s as f64),
        Val::Json(j) => json_to_v(j, shape),
        Val::Text(t) => text_to_v(t, shape),
    }
}

fn text_to_v(t: &str, shape: &TypeShape) -> V {
    match shape {
        TypeShape::Int { .. } | TypeShape::Numeric { .. } | TypeShape::Float | TypeShape::Money => {
            t.trim().parse::<f64>().map(V::Num).unwrap_or(V::Unknown)
        }
        TypeShape::Bool => match t.to_ascii_lowercase().as_str() {
            "t" | "true" | "yes" | "on" | "1" => V::Bool(true),
            "f" | "false" | "no" | "off" | "0" => V::Bool(false),
            _ => V::Unknown,
        },
        TypeShape::Timestamp | TypeShape::Date => super::check::parse_time(t)
            .map(V::Time)
            .unwrap_or(V::Unknown),
        TypeShape::Interval => super::check::parse_interval(t)
            .map(V::Interval)
            .unwrap_or(V::Unknown),
        TypeShape::Json => serde_json::from_str(t).map(V::Json).unwrap_or(V::Unknown),
        TypeShape::Array(_) => V::Unknown,
        _ => V::Text(t.to_string()),
    }
}

fn json_to_v(j: &Value, shape: &TypeShape) -> V {
    match (j, shape) {
        (Value::Null, _) => V::Null,
        (_, TypeShape::Json) => V::Json(j.clone()),
        (Value::Array(items), TypeShape::Array(elem)) => {
            V::Array(items.iter().map(|i| json_to_v(i, elem)).collect())
        }
        (Value::Number(n), _) => n.as_f64().map(V::Num).unwrap_or(V::Unknown),
        (Value::Bool(b), _) => V::Bool(*b),
        (Value::String(s), _) => text_to_v(s, shape),
        _ => V::Unknown,
    }
}

/// The default expression's value when it is a constant (`false`, `'member'::text`, `0`),
/// `now()`-like, or else unknown.
fn default_value(expr: &str, now: f64) -> V {
    let check = Check::parse("", &format!("CHECK ({expr})"), None);
    super::check::eval(&check.expr, &|_| V::Unknown, now)
}

fn describe_json(v: &Value) -> String {
    let shown = |s: String| {
        if s.len() > 40 {
            format!(
                "{}...",
                &s[..s.char_indices().nth(37).map(|(i, _)| i).unwrap_or(s.len())]
            )
        } else {
            s
        }
    };
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("a boolean ({b})"),
        Value::Number(n) => format!("a number ({n})"),
        Value::String(s) => format!("a string ({})", shown(format!("{s:?}"))),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

/// Does a caller's value fit a column of this shape? `Err` says what it got.
fn fits(shape: &TypeShape, v: &Value) -> std::result::Result<(), String> {
    let bad = || Err(describe_json(v));
    match (shape, v) {
        (_, Value::Null) => Ok(()),
        (TypeShape::Json, _) => Ok(()),
        (TypeShape::Int { min, max }, Value::Number(n)) => {
            match (n.as_i64(), n.as_u64(), n.as_f64()) {
                (Some(i), _, _) if (*min..=*max).contains(&i128::from(i)) => Ok(()),
                (_, Some(u), _) if i128::from(u) <= *max => Ok(()),
                (_, _, Some(f)) if f.fract() == 0.0 && f >= *min as f64 && f <= *max as f64 => {
                    Ok(())
                }
                _ => bad(),
            }
        }
        (TypeShape::Int { .. }, Value::String(s)) => {
            s.trim().parse::<i128>().map(|_| ()).or_else(|_| bad())
        }
        (TypeShape::Numeric { .. } | TypeShape::Float | TypeShape::Money, Value::Number(_)) => {
            Ok(())
        }
        (TypeShape::Numeric { .. } | TypeShape::Float | TypeShape::Money, Value::String(s)) => {
            let t = s.trim();
            if t.parse::<f64>().is_ok()
                || matches!(
                    t.to_ascii_lowercase().as_str(),
                    "nan" | "infinity" | "-infinity"
                )
                || t.starts_with('$')
            {
                Ok(())
            } else {
                bad()
            }
        }
        (TypeShape::Bool, Value::Bool(_)) => Ok(()),
        (TypeShape::Bool, Value::String(s)) => match s.to_ascii_lowercase().as_str() {
            "t" | "true" | "yes" | "on" | "1" | "f" | "false" | "no" | "off" | "0" | "y" | "n" => {
                Ok(())
            }
            _ => bad(),
        },
        (TypeShape::Uuid, Value::String(s)) => uuid::Uuid::parse_str(s.trim())
            .map(|_| ())
            .or_else(|_| bad()),
        (TypeShape::Enum(labels), Value::String(s)) => {
            if labels.contains(s) {
                Ok(())
            } else {
                Err(format!(
                    "{} (not one of {})",
                    describe_json(v),
                    labels.join(", ")
                ))
            }
        }
        (TypeShape::Array(elem), Value::Array(items)) => {
            for i in items {
                if let Value::Array(_) = i {
                    fits(shape, i)?;
                } else {
                    fits(elem, i).map_err(|e| format!("an array holding {e}"))?;
                }
            }
            Ok(())
        }
        (TypeShape::Array(_), Value::String(s)) if s.trim_start().starts_with('{') => Ok(()),
        (TypeShape::Unsupported(_) | TypeShape::Fixed(_) | TypeShape::Range(_), _) => Ok(()),
        (
            TypeShape::Text { .. }
            | TypeShape::Char
            | TypeShape::Bytea
            | TypeShape::Timestamp
            | TypeShape::Date
            | TypeShape::Time
            | TypeShape::Interval
            | TypeShape::Inet
            | TypeShape::Cidr
            | TypeShape::MacAddr(_)
            | TypeShape::Bits { .. },
            Value::String(_),
        ) => Ok(()),
        _ => bad(),
    }
}

/// A column while solving: where its value comes from and what it is now.
struct Slot {
    column: String,
    shape: TypeShape,
    unique: bool,
    nullable: bool,
    state: State,
    /// The options tried for it: `None` keeps the default or the null.
    options: Vec<Option<Candidate>>,
    choice: usize,
    /// Options built yet? (Built when a check needs them, or for a value it must have.)
    built: bool,
}

enum State {
    /// Given by the caller, a definition, a parent or a partition bound.
    Fixed(V),
    /// Left to its default (its value when known).
    Default(V),
    /// Left null.
    Null,
    /// Needs a value.
    Generate,
}

impl Slot {
    fn value(&self) -> V {
        match (&self.state, self.options.get(self.choice)) {
            (State::Fixed(v), _) => v.clone(),
            (_, Some(Some(c))) => c.check.clone(),
            (State::Default(v), _) => v.clone(),
            _ => V::Null,
        }
    }
    fn changeable(&self) -> bool {
        !matches!(self.state, State::Fixed(_))
    }
}

impl Planner<'_> {
    /// The factory a parent table is built with: its definition (one named after the table,
    /// or the only one inserting into it), else the table itself (inferred).
    fn factory_for_table(&self, table: TableId) -> String {
        self.table_factories
            .get(&table)
            .cloned()
            .unwrap_or_else(|| self.graph.tables[table].table_name().qualified())
    }

    /// Checks the caller's value for `column` against the column's type.
    pub(super) fn check_caller_value(
        &self,
        factory: &str,
        table: TableId,
        column: &str,
        val: &Val,
    ) -> Result<()> {
        let Some(col) = self.facts.table(table).column(column) else {
            return Ok(());
        };
        let json = match val {
            Val::Json(j) => j.clone(),
            Val::Text(t) => Value::String(t.clone()),
            _ => return Ok(()),
        };
        let shape = shape_of(self.facts, col.type_oid, col.typmod);
        fits(&shape, &json).map_err(|got| {
            let ty = &self.graph.tables[table]
                .column(column)
                .map(|c| c.type_sql.clone())
                .unwrap_or_default();
            Error::new(
                ErrorCode::FactoryValue,
                format!(
                    "factory {factory:?}: column {column:?} of {} is {ty}; got {got}",
                    self.graph.tables[table].display_name()
                ),
            )
        })
    }

    /// Relation names of a table, for the caller's attributes and the result.
    pub(super) fn relation_names(&self, table: TableId) -> Vec<String> {
        relations(self.facts, self.graph, table)
            .into_iter()
            .map(|r| r.name)
            .collect()
    }

    /// Fills what the row still needs: partition key, required parents, then columns. `given`
    /// are the caller's relation attributes (`{ project: p }`). Returns the parents it created,
    /// by relation name, for the result.
    pub(super) fn infer_row(
        &mut self,
        factory: &str,
        table_id: TableId,
        values: &mut BTreeMap<String, Val>,
        mut given: BTreeMap<String, Attr>,
        caller_columns: &BTreeSet<String>,
    ) -> Result<Vec<(String, Shape)>> {
        let facts = self.facts;
        let entry = facts.table(table_id);
        let table = &self.graph.tables[table_id];
        // Definition values of null on NOT NULL columns without a default mean "not given".
        values.retain(|c, v| {
            !(matches!(v, Val::Null)
                && !caller_columns.contains(c)
                && entry
                    .column(c)
                    .is_some_and(|col| col.not_null && col.default.is_none()))
        });

        // What a child being built asks of this row.
        let request = self
            .requests
            .iter()
            .rposition(|r| r.table == table_id)
            .map(|i| self.requests.remove(i));
        let (referenced, requested_hash): (HashSet<String>, _) = match request {
            Some(r) => (r.columns.into_iter().collect(), r.hash),
            None => (HashSet::new(), None),
        };

        // 1. The partition the row goes to.
        let (path, hash_route) = self.partition_path(table_id, values);
        if let Some(frame) = self.frames.last_mut() {
            frame.hash = hash_route.clone();
        }

        // 2. Parents.
        let mut fks: Vec<&ForeignKeyFacts> = Vec::new();
        for t in &path {
            fks.extend(facts.table(*t).fks.iter());
        }
        let rels = name_relations(entry, self.graph, fks);
        let mut extras = self.infer_parents(factory, table_id, &rels, &mut given, values)?;
        if let Some((name, _)) = given.into_iter().next() {
            return Err(Error::new(
                ErrorCode::FactoryField,
                format!(
                    "factory {factory:?}: {name:?} names no relation of {}; its relations: {}",
                    table.display_name(),
                    if rels.is_empty() {
                        "none".to_string()
                    } else {
                        rels.iter()
                            .map(|r| r.name.clone())
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                ),
            ));
        }

        // Parents a CHECK asks for (`num_nonnulls(org_id, user_id) = 1`).
        extras.extend(self.parents_for_checks(factory, table_id, &path, &rels, values)?);

        // 3. Columns.
        let fk_columns: HashSet<&String> =
            rels.iter().flat_map(|r| r.fk.child_cols.iter()).collect();
        self.fill_columns(table_id, &path, values, &fk_columns, &referenced)?;
        // A key that is also a foreign key takes its parent's value: a parent built here was
        // given a key that hashes to the partition (`requested_hash` of that parent's row).
        if let Some(route) = hash_route.filter(|r| !fk_columns.contains(&r.column)) {
            self.route_to_hash_partition(table_id, route, values);
        }
        if let Some(route) = requested_hash {
            self.route_to_hash_partition(table_id, route, values);
        }
        Ok(extras)
    }

    /// Makes the key column of a row bound for a hash partition a [`Val::Routed`]: the statement
    /// picks the first of several values that hashes to the partition (`column` has the value
    /// inference gave it, or gets its default or identity again and again). A key the database
    /// always generates, or one left null, stays as it is.
    fn route_to_hash_partition(
        &self,
        table_id: TableId,
        bound: HashBound,
        values: &mut BTreeMap<String, Val>,
    ) {
        let facts = self.facts;
        let (parent, column) = (bound.parent, bound.column.as_str());
        let Some(col) = facts.table(table_id).column(column) else {
            return;
        };
        let offered = HashRoute::offered(bound.modulus);
        let source = match values.get(column) {
            Some(first @ (Val::Text(_) | Val::Json(_))) => {
                let table = &self.graph.tables[table_id];
                let display = table.display_name();
                let shape = shape_of(facts, col.type_oid, col.typmod);
                // Numbers of their own (far above any row number), so no other row is offered
                // the same values.
                let k = self.ctx.sequences().next(&format!("\u{0}hash:{display}"));
                let mut offer = vec![first.clone()];
                for i in 1..offered as u64 {
                    let seed = Seed {
                        lane: self.ctx.lane(),
                        table: &display,
                        table_name: &table.name,
                        n: (1 << 40) + k * offered as u64 + i,
                        now: self.now_secs,
                    };
                    if let Some(c) = first_candidate(&seed, column, &shape, true) {
                        offer.push(c.val);
                    }
                }
                RouteSource::Candidates(offer)
            }
            Some(_) => return,
            // An `always` identity too: the row is then inserted `overriding system value`.
            // The sequence belongs to the partitioned table when the row's table is a partition.
            None if col.identity != Identity::None => {
                RouteSource::Identity(if facts.table(table_id).partition_parent.is_some() {
                    parent
                } else {
                    table_id
                })
            }
            // A partition's own default, else its partitioned table's.
            None => match col.default.clone().or_else(|| {
                let entry = facts.table(table_id);
                entry.partition_parent?;
                facts.table(parent).column(column)?.default.clone()
            }) {
                Some(expr) => RouteSource::Default(expr),
                None => return,
            },
        };
        values.insert(
            bound.column.clone(),
            Val::Routed(Box::new(HashRoute { bound, source })),
        );
    }

    /// The tables whose foreign keys and checks apply to the row: `table_id`, the tables it is a
    /// partition of, and the partitions it goes to; the key values that route it there are added
    /// to `values`. A partition named by the caller routes by its own bound (and its parents'); a
    /// partitioned table picks one of its partitions.
    ///
    /// A hash partition's key cannot be given a literal (the hash is Postgres'): the partition,
    /// its hash-partitioned parent and the one key column the row lacks come back, for
    /// [`Planner::route_to_hash_partition`] once the row's columns have values.
    fn partition_path(
        &self,
        table_id: TableId,
        values: &mut BTreeMap<String, Val>,
    ) -> (Vec<TableId>, Option<HashBound>) {
        let facts = self.facts;
        let mut path = vec![table_id];
        let mut child = table_id;
        let mut route = None;
        while let Some(parent) = facts.table(child).partition_parent {
            if let (Some(key), Some(bound)) = (
                &facts.table(parent).partition_key,
                &facts.table(child).bound,
            ) {
                if let (Some(PartitionBound::Hash { modulus, remainder }), [column]) =
                    (parse_partition_bound(bound), key.columns.as_slice())
                {
                    if route.is_none() && !column.is_empty() && !values.contains_key(column) {
                        route = Some(HashBound {
                            parent,
                            column: column.clone(),
                            modulus,
                            remainder,
                        });
                    }
                }
                let literals = bound_literals(bound).or_else(|| {
                    // A default partition named by the caller: a key no sibling takes.
                    self.default_partition_key(parent, child)
                        .map(|v| vec![Some(v)])
                });
                if let Some(literals) = literals {
                    for (c, v) in key.columns.iter().zip(literals) {
                        if let (false, Some(v)) = (c.is_empty() || values.contains_key(c), v) {
                            values.insert(c.clone(), Val::Text(v));
                        }
                    }
                }
            }
            path.push(parent);
            child = parent;
            if path.len() > 32 {
                break;
            }
        }
        let mut leaf = table_id;
        while let Some(key) = &facts.table(leaf).partition_key {
            if key
                .columns
                .iter()
                .any(|c| c.is_empty() || values.contains_key(c))
            {
                break;
            }
            let Some((child, bound)) = self.choose_partition(leaf) else {
                break;
            };
            if let Some(bound) = bound {
                for (c, v) in key.columns.iter().zip(bound) {
                    if let Some(v) = v {
                        values.insert(c.clone(), Val::Text(v));
                    }
                }
            }
            path.push(child);
            leaf = child;
        }
        (path, route)
    }

    /// Gives each required foreign key of the row its parent: the one the caller named (taken
    /// out of `given`), a row being built further up (a cycle), or a new one. Returns the
    /// parents it created, by relation name.
    fn infer_parents(
        &mut self,
        factory: &str,
        table_id: TableId,
        rels: &[Relation<'_>],
        given: &mut BTreeMap<String, Attr>,
        values: &mut BTreeMap<String, Val>,
    ) -> Result<Vec<(String, Shape)>> {
        let mut extras = Vec::new();
        for rel in rels {
            let fk = rel.fk;
            if let Some(attr) = given.remove(&rel.name) {
                if let Some(shape) = self.connect(factory, table_id, rel, attr, values)? {
                    extras.push((rel.name.clone(), shape));
                }
                continue;
            }
            if !self.parent_required(table_id, fk, values) {
                continue;
            }
            if let Some(k) = self.frames.iter().rposition(|f| f.table == fk.parent) {
                self.close_cycle(factory, table_id, rel, k, values)?;
                continue;
            }
            let shape = self.new_parent(factory, table_id, rel, values)?;
            extras.push((rel.name.clone(), shape));
        }
        Ok(extras)
    }

    /// Parents no foreign key requires but a CHECK does: an "exclusive arc" such as
    /// `num_nonnulls(org_id, user_id) = 1` or `(a_id is null) <> (b_id is null)` fails while
    /// every optional relation is null. For each check that certainly fails so (the columns of
    /// relations without a parent null, the others not yet known), the first relation it reads
    /// whose parent makes it no longer certainly fail gets one.
    fn parents_for_checks(
        &mut self,
        factory: &str,
        table_id: TableId,
        path: &[TableId],
        rels: &[Relation<'_>],
        values: &mut BTreeMap<String, Val>,
    ) -> Result<Vec<(String, Shape)>> {
        let mut extras = Vec::new();
        let now = self.now_secs;
        for check in self.path_checks(path) {
            let read = check.columns();
            // Relations without a parent whose columns the check reads.
            let open: Vec<&Relation<'_>> = rels
                .iter()
                .filter(|r| {
                    r.fk.child_cols.iter().any(|c| read.contains(c))
                        && r.fk.child_cols.iter().all(|c| !values.contains_key(c))
                })
                .collect();
            if open.is_empty() {
                continue;
            }
            // A column's value as far as it is known, with the relations in `open` null except
            // `linked` (by constraint name).
            let known = |linked: Option<&str>, c: &str| -> V {
                let unlinked = open.iter().any(|r| {
                    r.fk.child_cols.iter().any(|x| x == c) && linked != Some(r.fk.name.as_str())
                });
                match values.get(c) {
                    Some(Val::Null) => V::Null,
                    Some(_) => V::Unknown,
                    None if unlinked => V::Null,
                    None => V::Unknown,
                }
            };
            if check.holds(&|c| known(None, c), now) {
                continue;
            }
            let Some(rel) = open
                .iter()
                .find(|r| check.holds(&|c| known(Some(r.fk.name.as_str()), c), now))
                .copied()
            else {
                continue;
            };
            if let Some(k) = self.frames.iter().rposition(|f| f.table == rel.fk.parent) {
                self.close_cycle(factory, table_id, rel, k, values)?;
                continue;
            }
            let shape = self.new_parent(factory, table_id, rel, values)?;
            extras.push((rel.name.clone(), shape));
        }
        Ok(extras)
    }

    /// Does the row need a parent for `fk`? See [`needs_parent`].
    fn parent_required(
        &self,
        table_id: TableId,
        fk: &ForeignKeyFacts,
        values: &BTreeMap<String, Val>,
    ) -> bool {
        needs_parent(self.facts, table_id, fk, |c| {
            values.get(c).map(|v| !matches!(v, Val::Null))
        })
    }

    /// A new parent row for a relation, from the parent table's factory; the row takes its key.
    fn new_parent(
        &mut self,
        factory: &str,
        table_id: TableId,
        rel: &Relation<'_>,
        values: &mut BTreeMap<String, Val>,
    ) -> Result<Shape> {
        let fk = rel.fk;
        let table = &self.graph.tables[table_id];
        // The parent takes the values this row already has for the key's other columns.
        let mut attrs = BTreeMap::new();
        for (c, pc) in fk.child_cols.iter().zip(&fk.parent_cols) {
            if let Some(v) = values.get(c) {
                attrs.insert(
                    pc.clone(),
                    Attr {
                        val: v.clone(),
                        from_caller: false,
                    },
                );
            }
        }
        let parent_factory = self.factory_for_table(fk.parent);
        self.sync_frame(values);
        // The row goes to a hash partition keyed by this foreign key: the parent's key must
        // hash there.
        let hash = self
            .frames
            .last()
            .and_then(|f| f.hash.clone())
            .and_then(|h| {
                let at = fk.child_cols.iter().position(|c| *c == h.column)?;
                Some(HashBound {
                    column: fk.parent_cols.get(at)?.clone(),
                    ..h
                })
            });
        let pending = self.requests.len();
        self.requests.push(ParentRequest {
            table: fk.parent,
            columns: fk.parent_cols.clone(),
            hash,
        });
        let shape = self.instantiate(&parent_factory, attrs, &[]);
        self.requests.truncate(pending);
        let shape = shape?;
        self.read_frame(values);
        let row = shape.row().ok_or_else(|| {
            infer_error(format!(
                "{}: the parent of {} ({}) must come from a factory of one table row",
                table.display_name(),
                rel.name,
                parent_factory
            ))
        })?;
        for (c, pc) in fk.child_cols.iter().zip(&fk.parent_cols) {
            if !values.contains_key(c) {
                values.insert(c.clone(), self.key_of(row, pc, factory)?);
            }
        }
        Ok(shape)
    }

    /// Connects a relation to the row (or key) the caller gave; an object without the key
    /// columns is the attributes of a new parent instead.
    fn connect(
        &mut self,
        factory: &str,
        table_id: TableId,
        rel: &Relation<'_>,
        attr: Attr,
        values: &mut BTreeMap<String, Val>,
    ) -> Result<Option<Shape>> {
        let fk = rel.fk;
        let table = &self.graph.tables[table_id];
        let keys: Vec<Val> = match &attr.val {
            Val::Json(Value::Object(obj)) if fk.parent_cols.iter().all(|c| obj.contains_key(c)) => {
                fk.parent_cols
                    .iter()
                    .map(|c| Val::from_json(&obj[c]))
                    .collect()
            }
            Val::Json(Value::Object(obj)) => {
                // Attributes for a new parent.
                let attrs = obj
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            Attr {
                                val: Val::from_json(v),
                                from_caller: true,
                            },
                        )
                    })
                    .collect();
                let parent_factory = self.factory_for_table(fk.parent);
                self.sync_frame(values);
                let shape = self.instantiate(&parent_factory, attrs, &[])?;
                self.read_frame(values);
                let row = shape
                    .row()
                    .ok_or_else(|| infer_error(format!("{parent_factory} makes no table row")))?;
                for (c, pc) in fk.child_cols.iter().zip(&fk.parent_cols) {
                    values.insert(c.clone(), self.key_of(row, pc, factory)?);
                }
                return Ok(Some(shape));
            }
            Val::Json(Value::Array(items)) if items.len() == fk.parent_cols.len() => {
                items.iter().map(Val::from_json).collect()
            }
            v if fk.parent_cols.len() == 1 => vec![v.clone()],
            _ => {
                return Err(Error::new(
                    ErrorCode::FactoryField,
                    format!(
                        "factory {factory:?}: {:?} of {} takes a row with {} or the key itself",
                        rel.name,
                        table.display_name(),
                        fk.parent_cols.join(", ")
                    ),
                ))
            }
        };
        for (c, v) in fk.child_cols.iter().zip(keys) {
            values.insert(c.clone(), v);
        }
        Ok(None)
    }

    /// A required parent that is already being built (a cycle): reference it. A row already
    /// inserted earlier in the statement is referenced as it is; one not inserted yet gets the
    /// key pglane computes for it now, which this row takes as a value.
    fn close_cycle(
        &mut self,
        factory: &str,
        table_id: TableId,
        rel: &Relation<'_>,
        k: usize,
        values: &mut BTreeMap<String, Val>,
    ) -> Result<()> {
        let fk = rel.fk;
        let cycle: Vec<String> = self.frames[k..]
            .iter()
            .map(|f| self.graph.tables[f.table].display_name())
            .collect();
        let cycle_text = format!(
            "{} -> {}",
            cycle.join(" -> "),
            self.graph.tables[fk.parent].display_name()
        );
        if k + 1 == self.frames.len() && self.frames[k].row.is_none() && fk.parent == table_id {
            // A self-reference of the row being built: the row references itself.
            for (c, pc) in fk.child_cols.iter().zip(&fk.parent_cols) {
                let v = match values.get(pc) {
                    Some(v) if !matches!(v, Val::Ref { .. } | Val::Null) => v.clone(),
                    _ => {
                        let v = self.cycle_key(table_id, pc, &cycle_text, &fk.name)?;
                        values.insert(pc.clone(), v.clone());
                        v
                    }
                };
                values.insert(c.clone(), v);
            }
            return Ok(());
        }
        if let Some(row) = self.frames[k].row {
            for (c, pc) in fk.child_cols.iter().zip(&fk.parent_cols) {
                let v = self.key_of(row, pc, factory)?;
                values.insert(c.clone(), v);
            }
            return Ok(());
        }
        let parent = self.frames[k].table;
        for (c, pc) in fk.child_cols.iter().zip(&fk.parent_cols) {
            let v = match self.frames[k].values.get(pc) {
                Some(Val::Ref { .. }) => {
                    return Err(infer_error(format!(
                        "the required foreign keys {cycle_text} form a cycle, and the key {}.{pc} is generated by the database while the row that needs it comes first: give {} a value for {:?}, or connect {:?} to an existing row",
                        self.graph.tables[parent].display_name(),
                        self.graph.tables[parent].display_name(),
                        pc,
                        rel.name
                    )))
                }
                Some(v) if !matches!(v, Val::Null) => v.clone(),
                _ => {
                    let v = self.cycle_key(parent, pc, &cycle_text, &fk.name)?;
                    self.frames[k].values.insert(pc.clone(), v.clone());
                    v
                }
            };
            values.insert(c.clone(), v);
        }
        Ok(())
    }

    /// A key value pglane computes for a row of a cycle (its default, if any, is overridden).
    fn cycle_key(
        &self,
        table_id: TableId,
        column: &str,
        cycle: &str,
        constraint: &str,
    ) -> Result<Val> {
        let table = &self.graph.tables[table_id];
        let col = self.facts.table(table_id).column(column);
        let fail = |why: &str| {
            infer_error(format!(
                "the required foreign keys {cycle} form a cycle ({constraint}), and pglane cannot compute {}.{column}: {why}; pass it, or connect one of the rows to an existing one",
                table.display_name()
            ))
        };
        let col = col.ok_or_else(|| fail("no such column"))?;
        // An identity `GENERATED ALWAYS` takes the computed key too: the row is inserted
        // `overriding system value`.
        if col.generated {
            return Err(fail("it is a generated column"));
        }
        let shape = shape_of(self.facts, col.type_oid, col.typmod);
        let n = self
            .ctx
            .sequences()
            .next(&format!("\u{0}cycle:{}", table.display_name()));
        let seed = Seed {
            lane: self.ctx.lane(),
            table: &table.display_name(),
            table_name: &table.name,
            n,
            now: self.now_secs,
        };
        candidates(&seed, column, &shape, true, &[])
            .into_iter()
            .next()
            .map(|c| c.val)
            .ok_or_else(|| {
                fail(&format!(
                    "its type {} has no inferred values",
                    table
                        .column(column)
                        .map(|c| c.type_sql.as_str())
                        .unwrap_or("?")
                ))
            })
    }

    fn sync_frame(&mut self, values: &BTreeMap<String, Val>) {
        if let Some(f) = self.frames.last_mut() {
            f.values = values.clone();
        }
    }

    fn read_frame(&mut self, values: &mut BTreeMap<String, Val>) {
        if let Some(f) = self.frames.last() {
            for (c, v) in &f.values {
                values.entry(c.clone()).or_insert_with(|| v.clone());
            }
        }
    }

    /// A key that routes a row of `parent` to its default partition `child`: a value none of
    /// the other partitions takes, for a one-column key of a type with an order (numbers,
    /// dates, times) or with few values (enums, booleans), or text. `None` when there is no
    /// such key or none was found: the column then gets its usual value, and Postgres names the
    /// partition constraint that failed.
    fn default_partition_key(&self, parent: TableId, child: TableId) -> Option<String> {
        let entry = self.facts.table(parent);
        let key = entry.partition_key.as_ref()?;
        let [column] = key.columns.as_slice() else {
            return None;
        };
        let col = entry.column(column)?;
        let shape = shape_of(self.facts, col.type_oid, col.typmod);
        let siblings: Vec<PartitionBound> = entry
            .partitions
            .iter()
            .filter(|&&p| p != child)
            .filter_map(|&p| self.facts.table(p).bound.as_deref())
            .filter_map(parse_partition_bound)
            .collect();
        match key.strategy {
            'r' => key_outside_ranges(&siblings, &shape),
            'l' => key_outside_lists(&siblings, &shape),
            _ => None,
        }
    }

    /// A partition of `table` to insert into, and the literal of each key column that routes a
    /// row there (`None` for a default or hash partition).
    fn choose_partition(&self, table: TableId) -> Option<(TableId, Option<Vec<Option<String>>>)> {
        let entry = self.facts.table(table);
        let key = entry.partition_key.as_ref()?;
        let mut first = None;
        let mut default = None;
        let mut containing_now = None;
        for &child in &entry.partitions {
            let bound = self
                .facts
                .table(child)
                .bound
                .as_deref()
                .map(parse_partition_bound);
            match bound {
                Some(Some(PartitionBound::Default)) => default = default.or(Some(child)),
                Some(Some(PartitionBound::Range { from, to })) => {
                    if from.iter().all(Option::is_some) {
                        first = first.or(Some((child, from.clone())));
                    }
                    if key.strategy == 'r' && from.len() == 1 {
                        let t =
                            |v: &Option<String>| v.as_deref().and_then(super::check::parse_time);
                        let lo = t(&from[0]).map(|l| l <= self.now_secs);
                        let hi = to
                            .first()
                            .map(|v| t(v).map(|h| self.now_secs < h).unwrap_or(v.is_none()));
                        if lo == Some(true) && hi == Some(true) {
                            containing_now = containing_now.or(Some((child, from.clone())));
                        }
                    }
                }
                Some(Some(PartitionBound::List(values))) => {
                    if let Some(v) = values.into_iter().flatten().next() {
                        first = first.or(Some((child, vec![Some(v)])));
                    }
                }
                Some(Some(PartitionBound::Hash { .. })) => {
                    first = first.or(Some((child, Vec::new())))
                }
                _ => {}
            }
        }
        if let Some((child, from)) = containing_now {
            return Some((child, Some(from)));
        }
        if key.strategy == 'r' {
            if let Some(d) = default {
                return Some((d, None));
            }
        }
        match first {
            Some((child, from)) if from.is_empty() => Some((child, None)),
            Some((child, from)) => Some((child, Some(from))),
            None => default.map(|d| (d, None)),
        }
    }

    /// Gives every column that needs one a value, satisfying the CHECK constraints.
    fn fill_columns(
        &mut self,
        table_id: TableId,
        path: &[TableId],
        values: &mut BTreeMap<String, Val>,
        fk_columns: &HashSet<&String>,
        referenced: &HashSet<String>,
    ) -> Result<()> {
        let entry = self.facts.table(table_id);
        let table = &self.graph.tables[table_id];
        let now = self.now_secs;
        // The checks of the table and of the partitions the row goes to, and of the columns'
        // domains.
        let mut checks = self.path_checks(path);
        let (mut slots, mut any_generated) =
            self.column_slots(entry, values, fk_columns, referenced, &mut checks);
        any_generated |= vary_constant_unique_keys(entry, &mut slots);
        let relevant: Vec<usize> = (0..checks.len())
            .filter(|&i| {
                let cols = checks[i].columns();
                slots
                    .iter()
                    .any(|s| s.changeable() && cols.contains(&s.column))
            })
            .collect();
        if !any_generated && relevant.is_empty() {
            return Ok(());
        }
        let n = self
            .ctx
            .sequences()
            .next(&format!("\u{0}infer:{}", table.display_name()));
        let display = table.display_name();
        let solver = Solver {
            checks: &checks,
            relevant: &relevant,
            index: slots
                .iter()
                .enumerate()
                .map(|(i, s)| (s.column.clone(), i))
                .collect(),
            seed: Seed {
                lane: self.ctx.lane(),
                table: &display,
                table_name: &table.name,
                n,
                now,
            },
            now,
        };
        solver.generated_options(&mut slots, table, &display)?;
        solver.repair(&mut slots);
        solver.ensure_satisfied(&slots, &display)?;
        for slot in slots {
            let chosen = slot.options.get(slot.choice).cloned().flatten();
            match (&slot.state, chosen) {
                (State::Fixed(_), _) => {}
                (_, Some(c)) => {
                    values.insert(slot.column, c.val);
                }
                (State::Generate, None) => unreachable!("generated columns have candidates"),
                _ => {}
            }
        }
        Ok(())
    }

    /// The checks of the tables on the row's path ([`Self::partition_path`]), each once.
    fn path_checks(&self, path: &[TableId]) -> Vec<Check> {
        let mut checks: Vec<Check> = Vec::new();
        let mut names = HashSet::new();
        for t in path {
            for c in &self.facts.table(*t).checks {
                if names.insert(c.name.clone()) {
                    checks.push(self.parsed_check(&c.name, &c.definition, None));
                }
            }
        }
        checks
    }

    /// A slot for each column of the table, where its value comes from, and the checks of the
    /// columns' domains added to `checks`. The flag: does any column need a value?
    fn column_slots(
        &self,
        entry: &TableFactsEntry,
        values: &BTreeMap<String, Val>,
        fk_columns: &HashSet<&String>,
        referenced: &HashSet<String>,
        checks: &mut Vec<Check>,
    ) -> (Vec<Slot>, bool) {
        let facts = self.facts;
        let now = self.now_secs;
        let unique: HashSet<&String> = entry
            .uniques
            .iter()
            .flat_map(|u| u.columns.iter())
            .collect();
        let mut slots: Vec<Slot> = Vec::new();
        let mut any_generated = false;
        for col in &entry.columns {
            let (_, _, domains) = facts.resolve_type(col.type_oid, col.typmod);
            for d in &domains {
                for c in &d.checks {
                    checks.push(self.parsed_check(
                        &format!("{} (domain {})", c.name, d.display),
                        &c.definition,
                        Some(&col.name),
                    ));
                }
            }
            let shape = shape_of(facts, col.type_oid, col.typmod);
            let not_null = col.not_null || domains.iter().any(|d| d.not_null);
            let default = col
                .default
                .clone()
                .or_else(|| domains.iter().find_map(|d| d.default.clone()));
            let state = if let Some(v) = values.get(&col.name) {
                State::Fixed(val_to_v(v, &shape, now))
            } else if col.generated || col.identity == Identity::Always {
                State::Fixed(V::Unknown)
            } else if col.identity == Identity::ByDefault {
                State::Default(V::Unknown)
            } else if let Some(d) = &default {
                State::Default(default_value(d, now))
            } else if fk_columns.contains(&col.name) && !not_null {
                // A foreign key column left null (a nullable relation nobody asked for). A
                // `NOT NULL` one of a composite key that needs no parent (another of its
                // columns is null, see `needs_parent`) gets a value like any column.
                State::Fixed(V::Null)
            } else if not_null || self.fill == Fill::All || referenced.contains(&col.name) {
                any_generated = true;
                State::Generate
            } else {
                State::Null
            };
            slots.push(Slot {
                column: col.name.clone(),
                shape,
                unique: unique.contains(&col.name),
                nullable: !not_null,
                state,
                options: vec![None],
                choice: 0,
                built: false,
            });
        }
        (slots, any_generated)
    }

    fn parsed_check(&self, name: &str, text: &str, value_column: Option<&str>) -> Check {
        Check::parse(name, text, value_column)
    }
}

/// A unique key whose every column would take the same constant default in each row
/// (`display_name text not null default ''`) gets a value for its first such column. Returns
/// whether any column now needs a value.
fn vary_constant_unique_keys(entry: &TableFactsEntry, slots: &mut [Slot]) -> bool {
    let mut any_generated = false;
    for u in &entry.uniques {
        let all_constant = !u.columns.is_empty()
            && u.columns.iter().all(|c| {
                slots.iter().find(|s| s.column == *c).is_some_and(
                    |s| matches!(&s.state, State::Default(v) if !matches!(v, V::Unknown | V::Null)),
                )
            });
        if all_constant {
            if let Some(slot) = slots.iter_mut().find(|s| u.columns.contains(&s.column)) {
                slot.state = State::Generate;
                slot.options = Vec::new();
                any_generated = true;
            }
        }
    }
    any_generated
}

/// What satisfying a row's CHECK constraints works with: the checks, those that read a column
/// inference may change, each column's slot by name, and the seed of the row's values.
struct Solver<'s> {
    checks: &'s [Check],
    relevant: &'s [usize],
    index: BTreeMap<String, usize>,
    seed: Seed<'s>,
    now: f64,
}

impl Solver<'_> {
    /// Does check `ci` hold for the slots' current values?
    fn holds(&self, slots: &[Slot], ci: usize) -> bool {
        let env = |c: &str| {
            self.index
                .get(c)
                .map(|&i| slots[i].value())
                .unwrap_or(V::Unknown)
        };
        self.checks[ci].holds(&env, self.now)
    }

    /// A slot's options, made once: its candidates, given what the checks hint about it.
    fn build(&self, slot: &mut Slot) {
        if !slot.built {
            let hints = self.hints(&slot.column);
            self.build_with(slot, &hints);
        }
    }

    /// [`Self::build`] with the checks' `hints` about the slot's column already at hand.
    fn build_with(&self, slot: &mut Slot, hints: &[Hint]) {
        if slot.built {
            return;
        }
        slot.built = true;
        let made = candidates(&self.seed, &slot.column, &slot.shape, slot.unique, hints);
        match slot.state {
            State::Generate => slot.options = made.into_iter().map(Some).collect(),
            State::Default(_) => {
                slot.options.extend(made.into_iter().map(Some));
                if slot.nullable {
                    slot.options.push(Some(Candidate::null()));
                }
            }
            State::Null => slot.options.extend(made.into_iter().map(Some)),
            State::Fixed(_) => {}
        }
    }

    /// What the checks say about `column`.
    fn hints(&self, column: &str) -> Vec<Hint> {
        self.checks.iter().flat_map(|c| c.hints(column)).collect()
    }

    /// The options of every column that needs a value; an error for one inference has none for.
    fn generated_options(&self, slots: &mut [Slot], table: &Table, display: &str) -> Result<()> {
        // Columns no relevant check reads need only their first candidate.
        let read: HashSet<&String> = self
            .relevant
            .iter()
            .flat_map(|&i| self.checks[i].columns())
            .collect();
        for slot in slots.iter_mut() {
            if !matches!(slot.state, State::Generate) {
                continue;
            }
            if read.contains(&slot.column) {
                // A value a check names comes first among the candidates: the others are made
                // only if a check fails with it (`repair` builds them).
                let hints = self.hints(&slot.column);
                match named_first(&self.seed, &slot.shape, slot.unique, &hints) {
                    Some(first) => slot.options = vec![Some(first)],
                    None => self.build_with(slot, &hints),
                }
            } else {
                slot.built = true;
                slot.options = first_candidate(&self.seed, &slot.column, &slot.shape, slot.unique)
                    .into_iter()
                    .map(Some)
                    .collect();
            }
            if slot.options.is_empty() {
                let ty = table
                    .column(&slot.column)
                    .map(|c| c.type_sql.clone())
                    .unwrap_or_default();
                return Err(infer_error(format!(
                    "cannot infer a value for {display}.{} (type {ty}, NOT NULL, no default): pass one, e.g. {{ {}: ... }}",
                    slot.column, slot.column
                )));
            }
        }
        Ok(())
    }

    /// Two passes over the relevant checks, repairing each one that fails.
    fn repair(&self, slots: &mut [Slot]) {
        for _pass in 0..2 {
            for &ci in self.relevant {
                if self.holds(slots, ci) {
                    continue;
                }
                self.repair_check(slots, ci);
            }
        }
    }

    /// Tries the options of the columns check `ci` reads, as an odometer (at most 4096 tries),
    /// for a choice that satisfies it and keeps every relevant check that held; else keeps the
    /// choices as they were.
    fn repair_check(&self, slots: &mut [Slot], ci: usize) {
        let cols: Vec<usize> = self.checks[ci]
            .columns()
            .iter()
            .filter_map(|c| self.index.get(c).copied())
            .filter(|&i| slots[i].changeable())
            .collect();
        for &i in &cols {
            self.build(&mut slots[i]);
        }
        let before: Vec<bool> = self
            .relevant
            .iter()
            .map(|&cj| self.holds(slots, cj))
            .collect();
        let saved: Vec<usize> = cols.iter().map(|&i| slots[i].choice).collect();
        let mut odometer = vec![0usize; cols.len()];
        let mut found = false;
        let mut tries = 0;
        'search: loop {
            for (k, &i) in cols.iter().enumerate() {
                slots[i].choice = odometer[k];
            }
            if self.holds(slots, ci)
                && self
                    .relevant
                    .iter()
                    .zip(&before)
                    .all(|(&cj, &was)| !was || self.holds(slots, cj))
            {
                found = true;
                break;
            }
            tries += 1;
            if tries > 4096 {
                break;
            }
            for k in 0..cols.len() {
                odometer[k] += 1;
                if odometer[k] < slots[cols[k]].options.len() {
                    continue 'search;
                }
                odometer[k] = 0;
            }
            break;
        }
        if !found {
            for (k, &i) in cols.iter().enumerate() {
                slots[i].choice = saved[k];
            }
        }
    }

    /// An error naming the first relevant check that still fails, and the columns to pass.
    fn ensure_satisfied(&self, slots: &[Slot], display: &str) -> Result<()> {
        for &ci in self.relevant {
            if !self.holds(slots, ci) {
                let check = &self.checks[ci];
                let cols: Vec<String> = check
                    .columns()
                    .iter()
                    .filter(|c| self.index.get(*c).is_some_and(|&i| slots[i].changeable()))
                    .cloned()
                    .collect();
                return Err(infer_error(format!(
                    "cannot satisfy {} of {display}: {}; pass {}",
                    check.name,
                    check.text,
                    cols.iter()
                        .map(|c| format!("{c:?}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relation_names_strip_id_suffixes() {
        assert_eq!(strip_id("project_id"), Some("project"));
        assert_eq!(strip_id("userId"), Some("user"));
        assert_eq!(strip_id("Org Id"), Some("Org"));
        assert_eq!(strip_id("id"), None);
        assert_eq!(strip_id("owner"), None);
    }

    #[test]
    fn caller_values_must_fit_the_column_type() {
        let int4 = TypeShape::Int {
            min: -2_147_483_648,
            max: 2_147_483_647,
        };
        assert!(fits(&int4, &serde_json::json!(3)).is_ok());
        assert!(fits(&int4, &serde_json::json!("42")).is_ok());
        assert_eq!(
            fits(&int4, &serde_json::json!("abc")).unwrap_err(),
            "a string (\"abc\")"
        );
        assert!(fits(&int4, &serde_json::json!(1.5)).is_err());
        assert!(fits(&TypeShape::Text { max: None }, &serde_json::json!(1)).is_err());
        assert!(fits(&TypeShape::Bool, &serde_json::json!(true)).is_ok());
        assert!(fits(&TypeShape::Uuid, &serde_json::json!("nope")).is_err());
        let e = TypeShape::Enum(vec!["a".into(), "b".into()]);
        assert!(fits(&e, &serde_json::json!("c"))
            .unwrap_err()
            .contains("not one of a, b"));
        let arr = TypeShape::Array(Box::new(int4));
        assert!(fits(&arr, &serde_json::json!([1, 2])).is_ok());
        assert!(fits(&arr, &serde_json::json!(["x"])).is_err());
        assert!(fits(&TypeShape::Json, &serde_json::json!({ "a": 1 })).is_ok());
    }

    #[test]
    fn defaults_that_are_constants_are_known() {
        assert_eq!(default_value("false", 0.0), V::Bool(false));
        assert_eq!(
            default_value("'member'::text", 0.0),
            V::Text("member".into())
        );
        assert_eq!(default_value("now()", 5.0), V::Time(5.0));
        assert_eq!(
            default_value("(now() + '00:03:00'::interval)", 5.0),
            V::Time(185.0)
        );
        assert_eq!(
            default_value("nextval('t_id_seq'::regclass)", 0.0),
            V::Unknown
        );
        assert_eq!(default_value("auth.uid()", 0.0), V::Unknown);
    }
}
