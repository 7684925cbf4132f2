//! The factory engine: turns a factory call into one SQL statement (a chain of
//! `insert ... returning *` CTEs, parents before children), sends it in one round trip, tracks
//! every inserted row, and returns the rows as the database stored them.
//!
//! Values pglane can compute (lane names, UUIDs, parameters, bcrypt hashes) are sent as
//! parameters; values only the database knows (serial keys, defaults) are referenced from the
//! CTE that inserted them. A multi-row factory is therefore atomic: one statement.

use crate::core::db::{Conn, Db};
use crate::core::error::{Error, ErrorCode, Result};
use crate::core::factory_def::{FactoryDef, FactoryRegistry, StepDef};
use crate::core::naming::Lane;
use crate::core::schema_graph::{quote_ident, SchemaGraph, TableId};
use crate::core::tracker::{ResourceTracker, TrackedRow};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::sync::Mutex;
use tokio_postgres::types::{ToSql, Type};

/// Associations, steps and after-steps nest at most this deep.
const MAX_DEPTH: usize = 24;

/// What a factory call is made in: the lane (for names) and its counters.
pub struct FactoryScope<'a> {
    /// The test's lane.
    pub lane: &'a Lane,
    /// Run id, worker id and test index, for `{{run}}`, `{{worker}}`, `{{test}}`.
    pub run_id: &'a str,
    /// Worker id.
    pub worker_id: u32,
    /// Test index.
    pub test_index: u32,
    /// Per-factory sequence counters of the lane.
    pub sequences: &'a Sequences,
}

/// Per-factory counters behind `{{seq}}`, starting at 1.
#[derive(Debug, Default)]
pub struct Sequences(Mutex<HashMap<String, u64>>);

impl Sequences {
    fn next(&self, factory: &str) -> u64 {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let n = map.entry(factory.to_string()).or_insert(0);
        *n += 1;
        *n
    }
}

/// A factory call.
#[derive(Debug, Clone, Default)]
pub struct FactoryCall {
    /// Factory name.
    pub factory: String,
    /// Caller attributes: columns, parameters, associations, or (for a steps factory) steps.
    pub attrs: Map<String, Value>,
    /// Traits to apply.
    pub traits: Vec<String>,
    /// How many to create (`createList`); results come back as an array when set.
    pub count: Option<usize>,
}

/// A value being planned.
#[derive(Debug, Clone)]
enum Val {
    Text(String),
    Json(Value),
    Null,
    /// A column of a row inserted earlier in the same statement.
    Ref {
        row: usize,
        column: String,
    },
}

impl Val {
    fn from_json(v: &Value) -> Val {
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
            Val::Null | Val::Ref { .. } => Value::Null,
        }
    }
}

/// An attribute handed to a factory; `from_caller` values of scoped fields go through the
/// field's helper (so `{ name: 'Acme' }` becomes the lane's `…-Acme`).
#[derive(Debug, Clone)]
struct Attr {
    val: Val,
    from_caller: bool,
}

#[derive(Debug)]
struct PlannedRow {
    table: TableId,
    values: Vec<(String, Val)>,
}

#[derive(Debug)]
enum Shape {
    Row {
        row: usize,
        extras: Vec<(String, Shape)>,
    },
    Steps(Vec<(String, Shape)>),
    List(Vec<Shape>),
    Skipped,
}

impl Shape {
    fn row(&self) -> Option<usize> {
        match self {
            Shape::Row { row, .. } => Some(*row),
            _ => None,
        }
    }
}

/// A planned factory call: the statement, its parameters, and how to read the result.
pub struct Plan {
    rows: Vec<PlannedRow>,
    shape: Shape,
    journal: Option<(String, u32, u32)>,
}

struct Planner<'a> {
    registry: &'a FactoryRegistry,
    graph: &'a SchemaGraph,
    scope: &'a FactoryScope<'a>,
    rows: Vec<PlannedRow>,
    depth: usize,
    now: String,
}

/// Names visible to templates: parameters, and rows by name (`self`, associations, steps).
struct Env {
    factory: String,
    seq: u64,
    params: BTreeMap<String, Val>,
    rows: HashMap<String, usize>,
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
    fn instantiate(
        &mut self,
        name: &str,
        attrs: BTreeMap<String, Attr>,
        traits: &[String],
    ) -> Result<Shape> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(definition_error(
                name,
                "associations and steps nest too deep: do factories create each other in a loop?",
            ));
        }
        let def = self.merged(name, traits)?;
        let seq = self.scope.sequences.next(name);
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

    /// The factory with its traits applied.
    fn merged(&self, name: &str, traits: &[String]) -> Result<FactoryDef> {
        let mut def = self.registry.get(name)?.clone();
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
        mut attrs: BTreeMap<String, Attr>,
        env: &mut Env,
    ) -> Result<Shape> {
        let table_name = def.table.as_deref().expect("row factory");
        let table_id = self
            .graph
            .resolve(table_name)
            .map_err(|e| definition_error(name, e.message()))?;
        let table = &self.graph.tables[table_id];
        // Sort the caller's attributes into parameters, columns and associations.
        let mut columns: BTreeMap<String, Attr> = BTreeMap::new();
        let mut provided_assoc: HashMap<String, Attr> = HashMap::new();
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
            } else {
                let mut accepted: Vec<String> = def.transient.keys().cloned().collect();
                accepted.extend(def.associations.keys().cloned());
                accepted.extend(def.associations.values().filter_map(|a| a.param.clone()));
                accepted.extend(table.columns.iter().map(|c| c.name.clone()));
                return Err(field_error(
                    name,
                    format!(
                        "{key:?} is not a column of {}, a parameter or an association; accepted: {}",
                        table.display_name(),
                        accepted.join(", ")
                    ),
                ));
            }
        }
        let mut extras: Vec<(String, Shape)> = Vec::new();
        let mut values: BTreeMap<String, Val> = BTreeMap::new();
        // Parents first.
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
            if columns.contains_key(&field) {
                continue;
            }
            if let Some(given) = provided_assoc.remove(assoc_name) {
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
            values.insert(field, self.column_of(row, assoc.key_column(), name)?);
            env.rows.insert(assoc_name.clone(), row);
            extras.push((assoc_name.clone(), parent));
        }
        // Fields, with the caller's values on top.
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
                    self.apply_helper_to_caller_value(spec, attr.val, name)?
                }
                Some(attr) => attr.val,
                None => self.eval_spec(spec, env)?,
            };
            values.insert(column.clone(), v);
        }
        for (column, attr) in columns {
            values.insert(column, attr.val);
        }
        let row = self.rows.len();
        self.rows.push(PlannedRow {
            table: table_id,
            values: values.into_iter().collect(),
        });
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
        self.instantiate(&step.factory, with, &traits)
    }

    /// A column of a planned row: its value when pglane computed it, else a reference.
    fn column_of(&self, row: usize, column: &str, factory: &str) -> Result<Val> {
        let planned = &self.rows[row];
        if let Some((_, v)) = planned.values.iter().find(|(c, _)| c == column) {
            return Ok(v.clone());
        }
        let table = &self.graph.tables[planned.table];
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
            _ => return Ok(val),
        };
        self.helper_on_text(helper, &text, factory)
            .map(|v| v.unwrap_or(val))
    }

    /// `name`/`email`/`slug`/`bcrypt` applied to text; `None` for helpers that take no text.
    fn helper_on_text(&self, helper: &str, text: &str, factory: &str) -> Result<Option<Val>> {
        let lane = self.scope.lane;
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
                    Val::Ref { .. } => {
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
            "run" => Val::Text(self.scope.run_id.to_string()),
            "worker" => Val::Json(Value::from(self.scope.worker_id)),
            "test" => Val::Json(Value::from(self.scope.test_index)),
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

#[derive(Debug)]
enum Part {
    Text(String),
    Placeholder(String),
}

fn parse_template(s: &str) -> std::result::Result<Vec<Part>, String> {
    let mut parts = Vec::new();
    let mut rest = s;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            parts.push(Part::Text(rest[..start].to_string()));
        }
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| format!("unclosed {{{{ in {s:?}"))?;
        parts.push(Part::Placeholder(after[..end].to_string()));
        rest = &after[end + 2..];
    }
    if !rest.is_empty() || parts.is_empty() {
        parts.push(Part::Text(rest.to_string()));
    }
    Ok(parts)
}

/// bcrypt with the cost from `PGLANE_BCRYPT_COST` (default 4: fast, and any bcrypt verifier,
/// Supabase Auth included, accepts it), in the `$2a$` form Supabase stores.
pub fn bcrypt_hash(password: &str) -> Result<String> {
    let cost = std::env::var("PGLANE_BCRYPT_COST")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .unwrap_or(4)
        .clamp(4, 31);
    bcrypt::hash_with_result(password, cost)
        .map(|h| h.format_for_version(bcrypt::Version::TwoA))
        .map_err(|e| Error::internal(format!("bcrypt failed: {e}")))
}

fn token_length(arg: &Value) -> Option<usize> {
    arg.as_u64()
        .filter(|n| (1..=255).contains(n))
        .map(|n| n as usize)
}

/// `len` random characters of `[a-z0-9]` from the OS-seeded CSPRNG: the form Supabase Auth gives
/// refresh tokens (12 characters), usable for any secret token column.
pub fn random_token(len: usize) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Now, as an RFC 3339 UTC timestamp with microseconds.
fn now_rfc3339() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60,
        now.subsec_micros()
    )
}

impl Plan {
    /// Plans a call without touching the database.
    pub fn new(
        registry: &FactoryRegistry,
        graph: &SchemaGraph,
        scope: &FactoryScope<'_>,
        call: &FactoryCall,
    ) -> Result<Plan> {
        let mut planner = Planner {
            registry,
            graph,
            scope,
            rows: Vec::new(),
            depth: 0,
            now: now_rfc3339(),
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
        let journal = graph
            .resolve("pglane.journal")
            .ok()
            .map(|_| (scope.run_id.to_string(), scope.worker_id, scope.test_index));
        Ok(Plan {
            rows: planner.rows,
            shape,
            journal,
        })
    }

    /// Rows the statement inserts.
    pub fn row_count(&self) -> usize {
        self.rows.len()
    }

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
        if let Some((run_id, worker, test)) = &self.journal {
            let mut entries = Vec::new();
            for (i, row) in self.rows.iter().enumerate() {
                let table = &graph.tables[row.table];
                if table.pk.is_empty() {
                    continue;
                }
                params.push(Some(table.display_name()));
                let key: Vec<String> = table
                    .pk
                    .iter()
                    .map(|c| format!("r.{}::text", quote_ident(&c.name)))
                    .collect();
                entries.push(format!(
                    "(${}::text, (select array[{}] from c{i} r))",
                    params.len(),
                    key.join(", ")
                ));
            }
            if !entries.is_empty() {
                params.push(Some(run_id.clone()));
                let run = params.len();
                params.push(Some(worker.to_string()));
                params.push(Some(test.to_string()));
                let _ = write!(
                    sql,
                    ",\njournal as (insert into pglane.journal (run_id, worker_id, test_index, table_name, key) \
                     select ${run}::text, ${}::int4, ${}::int4, v.t, v.k from (values {}) v(t, k) where v.k is not null)",
                    run + 1,
                    run + 2,
                    entries.join(", ")
                );
            }
        }
        let rows: Vec<String> = (0..self.rows.len())
            .map(|i| format!("(select row_to_json(r) from c{i} r)"))
            .collect();
        let _ = write!(sql, "\nselect json_build_array({})::text", rows.join(", "));
        (sql, params)
    }

    /// The result without inserting (`build`): values pglane computed; database defaults absent.
    pub fn built(&self, graph: &SchemaGraph) -> Value {
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|r| {
                let _ = graph;
                Value::Object(
                    r.values
                        .iter()
                        .map(|(c, v)| (c.clone(), v.to_json()))
                        .collect(),
                )
            })
            .collect();
        assemble(&self.shape, &rows)
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
                        table: table.display_name(),
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

fn assemble(shape: &Shape, rows: &[Value]) -> Value {
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

/// Creates rows with a factory: one statement, one round trip; every row is tracked.
pub async fn create(
    db: &Db,
    registry: &FactoryRegistry,
    scope: &FactoryScope<'_>,
    tracker: &ResourceTracker,
    call: &FactoryCall,
) -> Result<Value> {
    let graph = db.schema().await?;
    let plan = match Plan::new(registry, &graph, scope, call) {
        Err(e) if e.code() == ErrorCode::FactoryDefinition => {
            // A table may have been created since the schema was read.
            let fresh = db.refresh_schema().await?;
            let plan = Plan::new(registry, &fresh, scope, call)?;
            let conn = db.conn().await?;
            return plan.execute(&conn, &fresh, Some(tracker)).await;
        }
        other => other?,
    };
    let conn = db.conn().await?;
    plan.execute(&conn, &graph, Some(tracker)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_split_into_text_and_placeholders() {
        let parts = parse_template("org-{{seq}}-{{ run }}").unwrap();
        assert_eq!(parts.len(), 4);
        assert!(parse_template("{{open").is_err());
        assert!(
            matches!(parse_template("plain").unwrap().as_slice(), [Part::Text(t)] if t == "plain")
        );
    }

    #[test]
    fn array_literals_quote_their_items() {
        assert_eq!(
            pg_array_literal(&[Value::from("a"), Value::from("b\"c"), Value::Null]),
            r#"{"a","b\"c",NULL}"#
        );
    }

    #[test]
    fn now_is_rfc3339() {
        let n = now_rfc3339();
        assert_eq!(n.len(), 27, "{n}");
        assert!(n.ends_with('Z') && n.as_bytes()[10] == b'T');
    }

    #[test]
    fn random_tokens_have_the_length_and_alphabet_asked_for() {
        let a = random_token(12);
        assert_eq!(a.len(), 12);
        assert!(a
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
        assert_ne!(a, random_token(12));
    }

    #[test]
    fn bcrypt_hashes_verify() {
        let h = bcrypt_hash("s3cret").unwrap();
        assert!(h.starts_with("$2a$04$"));
        assert!(bcrypt::verify("s3cret", &h).unwrap());
    }
}
