//! The factory planner: turns a factory call into the rows to insert, parents before children,
//! in memory. Values pglane can compute (lane names, UUIDs, parameters, bcrypt hashes) are kept
//! as values; values only the database knows (serial keys, defaults) are references to the
//! row that will insert them. [`super::sql`] turns the plan into one statement.
//!
//! A factory name that no definition has but a table does is a factory too: its rows are
//! inferred ([`super::infer`]). Every row a definition makes is completed the same way, so a
//! definition only says what differs from what the catalog implies.

use super::definition::{FactoryDef, FactoryRegistry, StepDef, TableFactories};
use super::infer::{Fill, HashBound, ParentRequest};
use super::template::{bcrypt_hash, now_rfc3339, parse_template, random_token, token_length, Part};
use super::{CallOptions, FactoryCall};
use crate::core::db::table_facts::{Identity, TableFacts};
use crate::core::error::{excerpt, Error, ErrorCode, Result};
use crate::core::lane::{LaneId, WorkerContext};
use crate::core::runs::journal;
use crate::core::schema::{SchemaGraph, TableId};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write;

/// How deep factories may nest (parents of parents, steps, after-steps).
const MAX_DEPTH: usize = 64;

/// A value being planned.
#[derive(Debug, Clone)]
pub(super) enum Val {
    Text(String),
    Json(Value),
    Null,
    /// A column of a row inserted earlier in the same statement.
    Ref {
        row: usize,
        column: String,
    },
    /// The statement's `now()`, moved by this many seconds.
    Now(i64),
    /// A partition key the statement picks: the row goes to a hash partition.
    Routed(Box<HashRoute>),
}

/// How the statement picks a key that routes a row to a hash partition: the first value of
/// `source` that `satisfies_hash_partition(parent, modulus, remainder, value)`. Which partition
/// a value hashes to is Postgres' to say (its hash functions, per type and collation); pglane
/// offers enough values that one of them fits.
#[derive(Debug, Clone)]
pub(super) struct HashRoute {
    /// The hash-partitioned table, the key column and the partition's bound.
    pub(super) bound: HashBound,
    pub(super) source: RouteSource,
}

impl HashRoute {
    /// How many values a row bound for one of `modulus` hash partitions is offered: enough that
    /// none fitting is as unlikely as 16 coin flips all failing per partition (the statement
    /// stops at the first that fits).
    pub(super) fn offered(modulus: u32) -> usize {
        (modulus as usize).saturating_mul(16).clamp(16, 4096)
    }
}

/// Where the values offered for a hash-routed key come from.
#[derive(Debug, Clone)]
pub(super) enum RouteSource {
    /// Values pglane computed, in order of preference.
    Candidates(Vec<Val>),
    /// The column's default, evaluated again for each value (a sequence, `gen_random_uuid()`):
    /// the expression as the catalog prints it.
    Default(String),
    /// The next values of the column's identity sequence, of this table's column.
    Identity(TableId),
}

impl Val {
    pub(super) fn from_json(v: &Value) -> Val {
        match v {
            Value::Null => Val::Null,
            Value::String(s) => Val::Text(s.clone()),
            other => Val::Json(other.clone()),
        }
    }

    fn truthy(&self) -> bool {
        match self {
            Val::Null => false,
            Val::Text(s) => !s.is_empty(),
            Val::Json(Value::Bool(b)) => *b,
            Val::Json(Value::Number(n)) => n.as_f64() != Some(0.0),
            _ => true,
        }
    }

    fn to_json(&self) -> Value {
        match self {
            Val::Text(s) => Value::String(s.clone()),
            Val::Json(v) => v.clone(),
            Val::Null | Val::Ref { .. } | Val::Routed(_) => Value::Null,
            Val::Now(_) => Value::Null,
        }
    }
}

/// An attribute handed to a factory; `from_caller` values of scoped fields go through the
/// field's helper (so `{ name: 'Acme' }` becomes the lane's `…-Acme`).
#[derive(Debug, Clone)]
pub(super) struct Attr {
    pub(super) val: Val,
    pub(super) from_caller: bool,
}

#[derive(Debug)]
pub(super) struct PlannedRow {
    pub(super) table: TableId,
    pub(super) values: Vec<(String, Val)>,
    /// The key an adopting step upserts by (the primary key's columns when the step said
    /// `adopt: true`); `None` for a plain insert.
    pub(super) adopt: Option<Vec<String>>,
    /// Columns inference filled: an adopted row keeps what its trigger wrote for them.
    pub(super) inferred: Vec<String>,
    /// The row gives a `GENERATED ALWAYS` identity column a value (the caller's, or the key
    /// that closes a cycle of required references): inserted `overriding system value`.
    pub(super) overriding: bool,
}

#[derive(Debug)]
pub(super) enum Shape {
    Row {
        row: usize,
        extras: Vec<(String, Shape)>,
    },
    Steps(Vec<(String, Shape)>),
    List(Vec<Shape>),
    Skipped,
}

impl Shape {
    pub(super) fn row(&self) -> Option<usize> {
        match self {
            Shape::Row { row, .. } => Some(*row),
            _ => None,
        }
    }
}

/// A planned factory call: the rows to insert, and how to assemble the result from them.
pub struct Plan {
    pub(super) rows: Vec<PlannedRow>,
    pub(super) shape: Shape,
    /// The lane whose journal the statement writes, when the journal exists.
    pub(super) journal: Option<LaneId>,
    /// The time `build` shows for `now()`.
    now: String,
}

/// Helpers that make a field from text (`name`, `email`, `slug`, `bcrypt`): a caller's value
/// for such a field must be text too.
fn is_text_helper(helper: &str) -> bool {
    matches!(helper, "name" | "email" | "slug" | "bcrypt")
}

pub(super) struct Planner<'a> {
    pub(super) registry: &'a FactoryRegistry,
    pub(super) graph: &'a SchemaGraph,
    pub(super) facts: &'a TableFacts,
    pub(super) ctx: &'a WorkerContext,
    pub(super) rows: Vec<PlannedRow>,
    depth: usize,
    now: String,
    /// `now` in seconds since 1970, for checks of times.
    pub(super) now_secs: f64,
    pub(super) fill: Fill,
    /// The rows being built, outermost first: where a cycle of required parents closes.
    pub(super) frames: Vec<Frame>,
    /// The definition that builds a table's rows when the table is named or is a parent.
    pub(super) table_factories: TableFactories,
    /// What a child being built asks of the next row of a parent table: see [`ParentRequest`].
    pub(super) requests: Vec<ParentRequest>,
}

/// A row being built: its table, the values it has so far, and its index once planned.
#[derive(Debug)]
pub(super) struct Frame {
    pub(super) table: TableId,
    pub(super) values: BTreeMap<String, Val>,
    pub(super) row: Option<usize>,
    /// The hash partition the row goes to and the key column it lacks, when it does: a parent
    /// built for a foreign key on that column is given a key that hashes there.
    pub(super) hash: Option<HashBound>,
}

/// Names visible to templates: parameters, and rows by name (`self`, associations, steps).
struct Env {
    factory: String,
    seq: u64,
    params: BTreeMap<String, Val>,
    rows: HashMap<String, usize>,
}

/// A row factory's attributes by what they name (parameters go straight into the `Env`).
struct SortedAttrs {
    columns: BTreeMap<String, Attr>,
    /// By association name.
    associations: HashMap<String, Attr>,
    relations: BTreeMap<String, Attr>,
}

fn field_error(factory: &str, message: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorCode::FactoryField,
        format!("factory {factory:?}: {message}"),
    )
}

fn definition_error(factory: &str, message: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorCode::FactoryDefinition,
        format!("factory {factory:?}: {message}"),
    )
}

impl<'a> Planner<'a> {
    pub(super) fn instantiate(
        &mut self,
        name: &str,
        attrs: BTreeMap<String, Attr>,
        traits: &[String],
    ) -> Result<Shape> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(definition_error(
                name,
                "associations, parents and steps nest too deep: do factories create each other in a loop?",
            ));
        }
        let (name, def) = self.definition(name)?;
        let name = name.as_str();
        let def = self.merged(name, def, traits)?;
        let seq = self.ctx.sequences().next(name);
        let mut env = Env {
            factory: name.to_string(),
            seq,
            params: BTreeMap::new(),
            rows: HashMap::new(),
        };
        for (param, default) in &def.transient {
            let v = self.eval_value(default, &env)?;
            env.params.insert(param.clone(), v);
        }
        let shape = if def.steps.is_empty() {
            self.instantiate_row(name, &def, attrs, &mut env)?
        } else {
            self.instantiate_steps(name, &def, attrs, &mut env)?
        };
        self.depth -= 1;
        Ok(shape)
    }

    /// The factory a name means: a definition of that name; else a table of that name, built by
    /// its definition if it has one, or inferred (a definition with only `table`).
    /// Borrowed from the registry: cloning every definition a call uses was 4% of planning.
    fn definition(&self, name: &str) -> Result<(String, Cow<'a, FactoryDef>)> {
        let registry: &'a FactoryRegistry = self.registry;
        if let Ok(def) = registry.get(name) {
            return Ok((name.to_string(), Cow::Borrowed(def)));
        }
        match self.graph.resolve(name) {
            Ok(table) => {
                if let Some(factory) = self.table_factories.get(&table) {
                    return Ok((factory.clone(), Cow::Borrowed(registry.get(factory)?)));
                }
                let t = &self.graph.tables[table];
                Ok((
                    t.display_name(),
                    Cow::Owned(FactoryDef {
                        table: Some(t.table_name().qualified()),
                        ..FactoryDef::default()
                    }),
                ))
            }
            Err(table_error) => Err(unknown_factory_or_table(self.registry, name, table_error)),
        }
    }

    /// The factory with its traits applied.
    fn merged(
        &self,
        name: &str,
        mut def: Cow<'a, FactoryDef>,
        traits: &[String],
    ) -> Result<Cow<'a, FactoryDef>> {
        for t in traits {
            let tr = def.traits.get(t).cloned().ok_or_else(|| {
                Error::new(
                    ErrorCode::FactoryTrait,
                    format!(
                        "factory {name:?} has no trait {t:?}; its traits: {}",
                        if def.traits.is_empty() {
                            "none".to_string()
                        } else {
                            def.traits.keys().cloned().collect::<Vec<_>>().join(", ")
                        }
                    ),
                )
            })?;
            let def = def.to_mut();
            def.fields.extend(tr.fields);
            def.transient.extend(tr.transient);
            def.after.extend(tr.after);
        }
        Ok(def)
    }

    fn instantiate_row(
        &mut self,
        name: &str,
        def: &FactoryDef,
        attrs: BTreeMap<String, Attr>,
        env: &mut Env,
    ) -> Result<Shape> {
        let table_name = def.table.as_deref().expect("row factory");
        let table_id = self
            .graph
            .resolve(table_name)
            .map_err(|e| definition_error(name, e.message()))?;
        self.frames.push(Frame {
            table: table_id,
            values: BTreeMap::new(),
            row: None,
            hash: None,
        });
        let result = self.instantiate_row_in_frame(name, def, attrs, env, table_id);
        self.frames.pop();
        result
    }

    /// The row of a row factory, in its frame: the caller's attributes sorted, associations,
    /// fields, then what the catalog implies; the after-steps follow the row.
    fn instantiate_row_in_frame(
        &mut self,
        name: &str,
        def: &FactoryDef,
        attrs: BTreeMap<String, Attr>,
        env: &mut Env,
        table_id: TableId,
    ) -> Result<Shape> {
        let graph = self.graph;
        let table = &graph.tables[table_id];
        let mut sorted = self.sort_attrs(name, def, attrs, env, table_id)?;
        let mut values: BTreeMap<String, Val> = BTreeMap::new();
        // Parents first.
        let mut extras =
            self.fill_associations(name, def, table_id, &mut sorted, env, &mut values)?;
        // Fields, with the caller's values on top.
        let caller_columns =
            self.field_values(name, def, table_id, sorted.columns, env, &mut values)?;
        // What neither gave: from the catalog.
        let given: BTreeSet<String> = values.keys().cloned().collect();
        let parents = self.infer_row(
            name,
            table_id,
            &mut values,
            sorted.relations,
            &caller_columns,
        )?;
        let inferred: Vec<String> = values
            .keys()
            .filter(|c| !given.contains(*c))
            .cloned()
            .collect();
        for (relation, parent) in parents {
            if table.column(&relation).is_none() && !extras.iter().any(|(n, _)| *n == relation) {
                extras.push((relation, parent));
            }
        }
        let entry = self.facts.table(table_id);
        let overriding = values.keys().any(|c| {
            entry
                .column(c)
                .is_some_and(|col| col.identity == Identity::Always)
        });
        let row = self.rows.len();
        self.rows.push(PlannedRow {
            table: table_id,
            values: values.into_iter().collect(),
            adopt: None,
            inferred,
            overriding,
        });
        if let Some(frame) = self.frames.last_mut() {
            frame.row = Some(row);
        }
        env.rows.insert("self".into(), row);
        for step in def.after.clone() {
            if table.column(&step.name).is_some() {
                return Err(definition_error(
                    name,
                    format!("after-step {:?} has the name of a column", step.name),
                ));
            }
            let shape = self.instantiate_step(&step, None, env)?;
            extras.push((step.name.clone(), shape));
        }
        Ok(Shape::Row { row, extras })
    }

    /// Sorts the caller's attributes into parameters (into `env`), columns, associations and
    /// relations; any other name is an error that lists the accepted ones.
    fn sort_attrs(
        &self,
        name: &str,
        def: &FactoryDef,
        mut attrs: BTreeMap<String, Attr>,
        env: &mut Env,
        table_id: TableId,
    ) -> Result<SortedAttrs> {
        let table = &self.graph.tables[table_id];
        let relation_names = self.relation_names(table_id);
        let mut columns: BTreeMap<String, Attr> = BTreeMap::new();
        let mut provided_assoc: HashMap<String, Attr> = HashMap::new();
        let mut relations: BTreeMap<String, Attr> = BTreeMap::new();
        for (key, attr) in std::mem::take(&mut attrs) {
            if def.transient.contains_key(&key) {
                env.params.insert(key, attr.val);
            } else if table.column(&key).is_some() {
                columns.insert(key, attr);
            } else if let Some((assoc, _)) = def
                .associations
                .iter()
                .find(|(a, d)| **a == key || d.param.as_deref() == Some(key.as_str()))
            {
                provided_assoc.insert(assoc.clone(), attr);
            } else if relation_names.contains(&key) {
                relations.insert(key, attr);
            } else {
                let mut accepted: Vec<String> = def.transient.keys().cloned().collect();
                accepted.extend(def.associations.keys().cloned());
                accepted.extend(def.associations.values().filter_map(|a| a.param.clone()));
                accepted.extend(relation_names.iter().cloned());
                accepted.extend(table.columns.iter().map(|c| c.name.clone()));
                return Err(field_error(
                    name,
                    format!(
                        "{key:?} is not a column of {}, a parameter, an association or a relation; accepted: {}",
                        table.display_name(),
                        accepted.join(", ")
                    ),
                ));
            }
        }
        Ok(SortedAttrs {
            columns,
            associations: provided_assoc,
            relations,
        })
    }

    /// Gives each association column of the definition the caller did not give as a column
    /// its value: the key the caller passed for the association (taken out of `sorted`), else
    /// that of a new parent row, named in `env`. Returns the new parents, for the result.
    fn fill_associations(
        &mut self,
        name: &str,
        def: &FactoryDef,
        table_id: TableId,
        sorted: &mut SortedAttrs,
        env: &mut Env,
        values: &mut BTreeMap<String, Val>,
    ) -> Result<Vec<(String, Shape)>> {
        let table = &self.graph.tables[table_id];
        let mut extras: Vec<(String, Shape)> = Vec::new();
        for (assoc_name, assoc) in &def.associations {
            let field = assoc.field_for(assoc_name);
            if table.column(&field).is_none() {
                return Err(definition_error(
                    name,
                    format!(
                        "association {assoc_name:?}: {} has no column {field:?}",
                        table.display_name()
                    ),
                ));
            }
            if sorted.columns.contains_key(&field) {
                continue;
            }
            if let Some(given) = sorted.associations.remove(assoc_name) {
                let key = match given.val {
                    Val::Json(Value::Object(obj)) => obj
                        .get(assoc.key_column())
                        .map(Val::from_json)
                        .ok_or_else(|| {
                            field_error(
                                name,
                                format!(
                                    "{assoc_name:?} is an object without {:?}",
                                    assoc.key_column()
                                ),
                            )
                        })?,
                    other => other,
                };
                values.insert(field, key);
                continue;
            }
            let mut with = BTreeMap::new();
            for (k, v) in &assoc.with {
                with.insert(
                    k.clone(),
                    Attr {
                        val: self.eval_value(v, env)?,
                        from_caller: false,
                    },
                );
            }
            let parent = self.instantiate(&assoc.factory, with, &[])?;
            let row = parent.row().ok_or_else(|| {
                definition_error(
                    name,
                    format!("association {assoc_name:?} must use a table factory"),
                )
            })?;
            values.insert(field, self.key_of(row, assoc.key_column(), name)?);
            env.rows.insert(assoc_name.clone(), row);
            extras.push((assoc_name.clone(), parent));
        }
        Ok(extras)
    }

    /// Adds the definition's fields, then the other columns, with the caller's values checked
    /// against the column types and put on top. Returns the columns the caller gave.
    fn field_values(
        &mut self,
        name: &str,
        def: &FactoryDef,
        table_id: TableId,
        mut columns: BTreeMap<String, Attr>,
        env: &mut Env,
        values: &mut BTreeMap<String, Val>,
    ) -> Result<BTreeSet<String>> {
        let table = &self.graph.tables[table_id];
        let mut caller_columns: BTreeSet<String> = BTreeSet::new();
        for (column, spec) in &def.fields {
            if table.column(column).is_none() {
                return Err(definition_error(
                    name,
                    format!("{} has no column {column:?}", table.display_name()),
                ));
            }
            if values.contains_key(column) {
                continue;
            }
            let v = match columns.remove(column) {
                Some(attr) if attr.from_caller => {
                    caller_columns.insert(column.clone());
                    if !matches!(spec, Value::Object(_)) {
                        self.check_caller_value(name, table_id, column, &attr.val)?;
                    }
                    self.apply_helper_to_caller_value(spec, attr.val, name)?
                }
                Some(attr) => attr.val,
                None => self.eval_spec(spec, env)?,
            };
            values.insert(column.clone(), v);
        }
        for (column, attr) in columns {
            if attr.from_caller {
                self.check_caller_value(name, table_id, &column, &attr.val)?;
                caller_columns.insert(column.clone());
            }
            values.insert(column, attr.val);
        }
        Ok(caller_columns)
    }

    fn instantiate_steps(
        &mut self,
        name: &str,
        def: &FactoryDef,
        attrs: BTreeMap<String, Attr>,
        env: &mut Env,
    ) -> Result<Shape> {
        let mut per_step: HashMap<String, Map<String, Value>> = HashMap::new();
        for (key, attr) in attrs {
            if def.transient.contains_key(&key) {
                env.params.insert(key, attr.val);
            } else if def.steps.iter().any(|s| s.name == key) {
                match attr.val {
                    Val::Json(Value::Object(obj)) => {
                        per_step.insert(key, obj);
                    }
                    _ => {
                        return Err(field_error(
                            name,
                            format!("attributes for step {key:?} must be an object"),
                        ))
                    }
                }
            } else {
                let mut accepted: Vec<String> = def.transient.keys().cloned().collect();
                accepted.extend(def.steps.iter().map(|s| s.name.clone()));
                return Err(field_error(
                    name,
                    format!(
                        "{key:?} is neither a parameter nor a step; accepted: {}",
                        accepted.join(", ")
                    ),
                ));
            }
        }
        let mut out = Vec::new();
        for step in def.steps.clone() {
            let caller = per_step.remove(&step.name);
            let shape = self.instantiate_step(&step, caller, env)?;
            if let Some(row) = shape.row() {
                env.rows.insert(step.name.clone(), row);
            }
            out.push((step.name.clone(), shape));
        }
        Ok(Shape::Steps(out))
    }

    fn instantiate_step(
        &mut self,
        step: &StepDef,
        caller: Option<Map<String, Value>>,
        env: &Env,
    ) -> Result<Shape> {
        if let Some(cond) = &step.condition {
            let on = env.params.get(cond).map(Val::truthy).unwrap_or(false);
            if !on {
                return Ok(Shape::Skipped);
            }
        }
        let mut with = BTreeMap::new();
        for (k, v) in &step.with {
            with.insert(
                k.clone(),
                Attr {
                    val: self.eval_value(v, env)?,
                    from_caller: false,
                },
            );
        }
        let mut traits = step.traits.clone();
        if let Some(mut obj) = caller {
            if let Some(Value::Array(extra)) = obj.remove("traits") {
                traits.extend(
                    extra
                        .into_iter()
                        .filter_map(|t| t.as_str().map(str::to_string)),
                );
            }
            for (k, v) in obj {
                with.insert(
                    k,
                    Attr {
                        val: Val::from_json(&v),
                        from_caller: true,
                    },
                );
            }
        }
        let shape = self.instantiate(&step.factory, with, &traits)?;
        if let Some(by) = step.adopt.as_ref().and_then(|a| a.columns()) {
            self.mark_adopted(step, &shape, by)?;
        }
        Ok(shape)
    }

    /// Marks the row of an adopting step, checking its key: the primary key, or columns of the
    /// table that the step gives values for.
    fn mark_adopted(&mut self, step: &StepDef, shape: &Shape, by: Vec<String>) -> Result<()> {
        let row = shape.row().ok_or_else(|| {
            definition_error(
                &step.factory,
                format!(
                    "step {:?} adopts, so its factory must make one table row",
                    step.name
                ),
            )
        })?;
        let table = &self.graph.tables[self.rows[row].table];
        let by = if by.is_empty() {
            table.pk.iter().map(|c| c.name.clone()).collect()
        } else {
            by
        };
        if by.is_empty() {
            return Err(definition_error(
                &step.factory,
                format!(
                    "step {:?} adopts by the primary key, but {} has none: name the unique columns (adopt: [column, ...])",
                    step.name,
                    table.display_name()
                ),
            ));
        }
        for column in &by {
            let given = self.rows[row]
                .values
                .iter()
                .any(|(c, v)| c == column && !matches!(v, Val::Null));
            if !given {
                return Err(definition_error(
                    &step.factory,
                    format!(
                        "step {:?} adopts by {column:?}, so it must give {} a value for it",
                        step.name,
                        table.display_name()
                    ),
                ));
            }
        }
        self.rows[row].adopt = Some(by);
        Ok(())
    }

    /// A column of a planned row: its value when pglane computed it, else a reference.
    pub(super) fn column_of(&self, row: usize, column: &str, factory: &str) -> Result<Val> {
        let planned = &self.rows[row];
        match planned.values.iter().find(|(c, _)| c == column) {
            // A key the statement picks is known only as the row's.
            Some((_, Val::Routed(_))) | None => self.reference(row, column, factory),
            Some((_, v)) => Ok(v.clone()),
        }
    }

    /// A parent's key column for a foreign key: as [`Planner::column_of`], but always what the
    /// insert returned for a table with insert triggers, which may have changed the value
    /// pglane gave (a key made from other columns).
    pub(super) fn key_of(&self, row: usize, column: &str, factory: &str) -> Result<Val> {
        if self.graph.tables[self.rows[row].table].insert_triggers {
            return self.reference(row, column, factory);
        }
        self.column_of(row, column, factory)
    }

    fn reference(&self, row: usize, column: &str, factory: &str) -> Result<Val> {
        let table = &self.graph.tables[self.rows[row].table];
        if table.column(column).is_none() {
            return Err(definition_error(
                factory,
                format!("{} has no column {column:?}", table.display_name()),
            ));
        }
        Ok(Val::Ref {
            row,
            column: column.to_string(),
        })
    }

    fn apply_helper_to_caller_value(&self, spec: &Value, val: Val, factory: &str) -> Result<Val> {
        let Value::Object(map) = spec else {
            return Ok(val);
        };
        let Some((helper, _)) = map.iter().next() else {
            return Ok(val);
        };
        let text = match &val {
            Val::Text(s) => s.clone(),
            // A null leaves the column empty: no name, nothing to collide with.
            Val::Null => return Ok(val),
            Val::Json(v) if is_text_helper(helper) => {
                // `{ slug: 4242 }` would be stored without the lane's prefix, and two lanes
                // would collide on it.
                return Err(Error::new(
                    ErrorCode::InvalidArgument,
                    format!(
                        "factory {factory:?}: this field is made by the {helper} helper, which takes a string; got {}",
                        v.to_string().chars().take(40).collect::<String>()
                    ),
                ));
            }
            _ => return Ok(val),
        };
        self.helper_on_text(helper, &text, factory)
            .map(|v| v.unwrap_or(val))
    }

    /// `name`/`email`/`slug`/`bcrypt` applied to text; `None` for helpers that take no text
    /// (see [`is_text_helper`]).
    fn helper_on_text(&self, helper: &str, text: &str, factory: &str) -> Result<Option<Val>> {
        let lane = self.ctx.lane();
        Ok(Some(match helper {
            "name" => Val::Text(
                lane.name(text)
                    .map_err(|e| e.context(format!("factory {factory:?}")))?,
            ),
            "email" => Val::Text(
                lane.email(text)
                    .map_err(|e| e.context(format!("factory {factory:?}")))?,
            ),
            "slug" => Val::Text(
                lane.slug(text)
                    .map_err(|e| e.context(format!("factory {factory:?}")))?,
            ),
            "bcrypt" => Val::Text(bcrypt_hash(text)?),
            _ => return Ok(None),
        }))
    }

    fn eval_spec(&mut self, spec: &Value, env: &Env) -> Result<Val> {
        match spec {
            Value::Object(map) => {
                let (helper, arg) = map
                    .iter()
                    .next()
                    .ok_or_else(|| definition_error(&env.factory, "empty field helper"))?;
                match helper.as_str() {
                    "uuid" => Ok(Val::Text(uuid::Uuid::now_v7().to_string())),
                    "now" => Ok(Val::Text(self.now.clone())),
                    "token" => {
                        let len = token_length(arg).ok_or_else(|| {
                            definition_error(
                                &env.factory,
                                format!("the token helper takes a length of 1 to 255; got {arg}"),
                            )
                        })?;
                        Ok(Val::Text(random_token(len)))
                    }
                    "json" => Ok(Val::Json(self.eval_json(arg, env)?)),
                    h => {
                        let text = match self.eval_value(arg, env)? {
                            Val::Text(s) => s,
                            Val::Json(v) => v.to_string(),
                            _ => {
                                return Err(definition_error(
                                    &env.factory,
                                    format!("the {h} helper needs text"),
                                ))
                            }
                        };
                        self.helper_on_text(h, &text, &env.factory)?.ok_or_else(|| {
                            definition_error(&env.factory, format!("unknown field helper {h:?}"))
                        })
                    }
                }
            }
            other => self.eval_value(other, env),
        }
    }

    /// A JSON value with templates in its strings evaluated.
    fn eval_json(&mut self, v: &Value, env: &Env) -> Result<Value> {
        Ok(match v {
            Value::String(_) => match self.eval_value(v, env)? {
                Val::Ref { .. } => {
                    return Err(definition_error(
                        &env.factory,
                        "a database-generated column cannot be used inside json",
                    ))
                }
                Val::Now(_) => Value::String(self.now.clone()),
                other => other.to_json(),
            },
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|i| self.eval_json(i, env))
                    .collect::<Result<_>>()?,
            ),
            Value::Object(map) => {
                let mut out = Map::new();
                for (k, v) in map {
                    out.insert(k.clone(), self.eval_json(v, env)?);
                }
                Value::Object(out)
            }
            other => other.clone(),
        })
    }

    /// A literal, or a string template: `{{uuid}}`, `{{seq}}`, `{{now}}`, `{{run}}`,
    /// `{{worker}}`, `{{test}}`, `{{param}}`, `{{row.column}}`. A string that is exactly one
    /// placeholder keeps the value's type (a number stays a number, null stays null).
    fn eval_value(&mut self, v: &Value, env: &Env) -> Result<Val> {
        let Value::String(s) = v else {
            if let Value::Object(_) = v {
                return self.eval_spec(v, env);
            }
            return Ok(Val::from_json(v));
        };
        let parts = parse_template(s).map_err(|m| definition_error(&env.factory, m))?;
        if let [Part::Placeholder(p)] = parts.as_slice() {
            return self.resolve(p, env);
        }
        let mut out = String::new();
        for part in parts {
            match part {
                Part::Text(t) => out.push_str(&t),
                Part::Placeholder(p) => match self.resolve(&p, env)? {
                    Val::Text(t) => out.push_str(&t),
                    Val::Json(Value::String(t)) => out.push_str(&t),
                    Val::Json(j) => {
                        let _ = write!(out, "{j}");
                    }
                    Val::Null => {}
                    Val::Now(_) => out.push_str(&self.now),
                    Val::Ref { .. } | Val::Routed(_) => {
                        return Err(definition_error(
                            &env.factory,
                            format!("{{{{{p}}}}} is a database-generated value and can only be used as a whole field value"),
                        ))
                    }
                },
            }
        }
        Ok(Val::Text(out))
    }

    fn resolve(&mut self, placeholder: &str, env: &Env) -> Result<Val> {
        let p = placeholder.trim();
        Ok(match p {
            "uuid" => Val::Text(uuid::Uuid::now_v7().to_string()),
            "seq" => Val::Json(Value::from(env.seq)),
            "now" => Val::Text(self.now.clone()),
            "run" => Val::Text(self.ctx.run_id().to_string()),
            "worker" => Val::Json(Value::from(self.ctx.worker_id())),
            "test" => Val::Json(Value::from(self.ctx.test_index())),
            _ => {
                if let Some((row_name, column)) = p.split_once('.') {
                    let row = *env.rows.get(row_name).ok_or_else(|| {
                        definition_error(
                            &env.factory,
                            format!("{{{{{p}}}}}: no row named {row_name:?} here"),
                        )
                    })?;
                    return self.column_of(row, column, &env.factory);
                }
                env.params.get(p).cloned().ok_or_else(|| {
                    definition_error(
                        &env.factory,
                        format!("{{{{{p}}}}} names no parameter of this factory"),
                    )
                })?
            }
        })
    }
}

impl Plan {
    /// Plans a call without touching the database: `facts` are the graph's column facts.
    pub fn new(
        registry: &FactoryRegistry,
        graph: &SchemaGraph,
        facts: &TableFacts,
        ctx: &WorkerContext,
        call: &FactoryCall,
        options: &CallOptions,
    ) -> Result<Plan> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let mut planner = Planner {
            registry,
            graph,
            facts,
            ctx,
            rows: Vec::new(),
            depth: 0,
            now: now_rfc3339(),
            now_secs: now.as_secs_f64(),
            fill: options.fill,
            frames: Vec::new(),
            table_factories: registry
                .by_table
                .get_or(graph.generation, || table_factories(registry, graph)),
            requests: Vec::new(),
        };
        let mut traits = call.traits.clone();
        let mut attrs = BTreeMap::new();
        for (k, v) in &call.attrs {
            if k == "traits" {
                if let Value::Array(t) = v {
                    traits.extend(t.iter().filter_map(|x| x.as_str().map(str::to_string)));
                    continue;
                }
            }
            attrs.insert(
                k.clone(),
                Attr {
                    val: Val::from_json(v),
                    from_caller: true,
                },
            );
        }
        for (k, v) in &options.connect {
            if attrs.contains_key(k) {
                return Err(field_error(
                    &call.factory,
                    format!("{k:?} is given both as an attribute and in connect"),
                ));
            }
            attrs.insert(
                k.clone(),
                Attr {
                    val: Val::from_json(v),
                    from_caller: true,
                },
            );
        }
        let shape = match call.count {
            None => planner.instantiate(&call.factory, attrs, &traits)?,
            Some(n) => {
                let mut list = Vec::with_capacity(n);
                for _ in 0..n {
                    list.push(planner.instantiate(&call.factory, attrs.clone(), &traits)?);
                }
                Shape::List(list)
            }
        };
        // When the run registry's schema exists, the statement also journals the keys it inserts
        // (crash safety: a killed worker's rows can be found without its memory).
        let journal = journal::exists(graph).then(|| ctx.id().clone());
        Ok(Plan {
            rows: planner.rows,
            shape,
            journal,
            now: planner.now,
        })
    }

    /// The result without inserting (`build`): values pglane computed; database defaults absent.
    pub fn built(&self) -> Value {
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|r| {
                Value::Object(
                    r.values
                        .iter()
                        .map(|(c, v)| {
                            let shown = match v {
                                Val::Now(_) => Value::String(self.now.clone()),
                                other => other.to_json(),
                            };
                            (c.clone(), shown)
                        })
                        .collect(),
                )
            })
            .collect();
        assemble(&self.shape, &rows)
    }
}

/// The definition that builds each table's rows when a call names the table or needs it as a
/// parent: one named after the table (`public.tasks` or `tasks`), else the only one inserting
/// into it.
pub(super) fn table_factories(
    registry: &FactoryRegistry,
    graph: &SchemaGraph,
) -> HashMap<TableId, String> {
    let mut by_table: HashMap<TableId, Vec<String>> = HashMap::new();
    for name in registry.names() {
        let Ok(def) = registry.get(&name) else {
            continue;
        };
        if let Some(table) = def.table.as_deref().and_then(|t| graph.resolve(t).ok()) {
            by_table.entry(table).or_default().push(name);
        }
    }
    by_table
        .into_iter()
        .filter_map(|(table, names)| {
            let t = &graph.tables[table];
            let named = names.iter().find(|n| {
                **n == t.display_name() || **n == t.table_name().qualified() || **n == t.name
            });
            match (named, names.len()) {
                (Some(n), _) => Some((table, n.clone())),
                (None, 1) => Some((table, names[0].clone())),
                _ => None,
            }
        })
        .collect()
}

/// The error for a name that is neither a factory nor a table: `PGLANE_UNKNOWN_TABLE` (with the
/// tables it may mean) for a qualified or quoted name, which can only mean a table; else
/// `PGLANE_FACTORY_UNKNOWN`, listing the factories and the tables it may mean.
fn unknown_factory_or_table(registry: &FactoryRegistry, name: &str, table_error: Error) -> Error {
    let m = table_error.message();
    let suggestion = m.find(" (did you mean").map(|i| &m[i..]).unwrap_or("");
    if name.contains(['.', '"']) {
        let message = if m.contains("several schemas") || m.contains("not a valid") {
            m.to_string()
        } else {
            format!(
                "no factory or table named {:?}{suggestion}",
                excerpt(name, 100)
            )
        };
        return Error::new(ErrorCode::UnknownTable, message);
    }
    let names = registry.names();
    Error::new(
        ErrorCode::FactoryUnknown,
        format!(
            "no factory or table named {:?}{suggestion}; known factories: {}",
            excerpt(name, 100),
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        ),
    )
}

/// The call's result from the rows as stored: a row with its associations and after-steps, a
/// steps object, or a list.
pub(super) fn assemble(shape: &Shape, rows: &[Value]) -> Value {
    match shape {
        Shape::Row { row, extras } => {
            let mut v = rows.get(*row).cloned().unwrap_or(Value::Null);
            if let Value::Object(obj) = &mut v {
                for (name, s) in extras {
                    if !matches!(s, Shape::Skipped) {
                        obj.insert(name.clone(), assemble(s, rows));
                    }
                }
            }
            v
        }
        Shape::Steps(steps) => Value::Object(
            steps
                .iter()
                .filter(|(_, s)| !matches!(s, Shape::Skipped))
                .map(|(n, s)| (n.clone(), assemble(s, rows)))
                .collect(),
        ),
        Shape::List(items) => Value::Array(items.iter().map(|s| assemble(s, rows)).collect()),
        Shape::Skipped => Value::Null,
    }
}
