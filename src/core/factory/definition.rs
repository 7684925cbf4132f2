//! Factory definitions as data: the YAML / JS-object format, parsed and checked for the mistakes
//! that need no database (unknown factories, steps, traits; cycles). Columns are checked against
//! the schema when a factory is first used.
//!
//! ```yaml
//! version: 1
//! laneColumns:                       # name/email columns pattern cleanup matches lanes against
//!   public.organizations: [name, slug]
//! factories:
//!   organization:
//!     table: public.organizations
//!     transient: { ownerId: null }   # parameters: given by the caller, never inserted
//!     fields:
//!       id: { uuid: true }           # a UUID v7
//!       name: { name: "Org {{seq}}" } # ctx.name(...): unique in the lane
//!       slug: { slug: "org-{{seq}}" }
//!       created_by: "{{ownerId}}"
//!     associations:                  # parents created when the caller gives none
//!       creator: { factory: user, field: created_by, param: creatorId }
//!     after:                         # rows created after this one, in the same statement
//!       - { as: owner, factory: organization_member, if: ownerId,
//!           with: { organization_id: "{{self.id}}", user_id: "{{ownerId}}", role: owner } }
//!       # a row a trigger of this one may already have made: upserted by key (`true`: the
//!       # primary key), tracked either way
//!       - { as: profile, factory: profile, adopt: true, with: { id: "{{self.id}}" } }
//!     traits:
//!       archived: { fields: { archived_at: "{{now}}" } }
//!   setup:                           # a multi-row factory: one atomic statement
//!     steps:                         # (a factory may be a table: `factory: public.models`)
//!       - { as: org, factory: organization }
//!       - { as: model, factory: model, with: { organization_id: "{{org.id}}" } }
//! ```

use crate::core::error::{Error, ErrorCode, Result};
use crate::core::schema::TableId;
use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// A file of factories.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FactoryFile {
    /// Format version (1).
    #[serde(default)]
    pub version: Option<u32>,
    /// `schema.table` → columns holding lane names, for pattern cleanup.
    #[serde(default)]
    pub lane_columns: BTreeMap<String, Vec<String>>,
    /// Factories by name.
    pub factories: BTreeMap<String, FactoryDef>,
}

impl FactoryFile {
    /// Parses YAML (or JSON, which is YAML), unchecked: see [`FactoryRegistry::from_files`].
    pub fn from_yaml(text: &str) -> Result<FactoryFile> {
        serde_norway::from_str(text)
            .map_err(|e| definition_error(format!("factory definitions are not valid: {e}")))
    }

    /// Takes a JS object (as JSON), unchecked.
    pub fn from_json(value: Value) -> Result<FactoryFile> {
        serde_json::from_value(value)
            .map_err(|e| definition_error(format!("factory definitions are not valid: {e}")))
    }
}

/// One factory: a table row (with associations and after-steps), or a list of steps.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FactoryDef {
    /// The table a row goes into (absent for a steps factory).
    #[serde(default)]
    pub table: Option<String>,
    /// Parameters and their defaults.
    #[serde(default)]
    pub transient: BTreeMap<String, Value>,
    /// Column values: literals, templates, or helpers (`name`, `email`, `slug`, `uuid`, `json`,
    /// `bcrypt`, `now`, `token`).
    #[serde(default)]
    pub fields: BTreeMap<String, Value>,
    /// Parents, created when the caller gives none.
    #[serde(default)]
    pub associations: BTreeMap<String, AssociationDef>,
    /// Rows created after this one.
    #[serde(default)]
    pub after: Vec<StepDef>,
    /// Rows of a multi-row factory, in order.
    #[serde(default)]
    pub steps: Vec<StepDef>,
    /// Named variations.
    #[serde(default)]
    pub traits: BTreeMap<String, TraitDef>,
}

/// A parent row.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssociationDef {
    /// The factory that creates the parent.
    pub factory: String,
    /// The foreign key column (default `{association}_id`).
    #[serde(default)]
    pub field: Option<String>,
    /// The parent's referenced column (default `id`).
    #[serde(default)]
    pub key: Option<String>,
    /// A caller parameter that gives the parent's key (e.g. `organizationId`).
    #[serde(default)]
    pub param: Option<String>,
    /// Attributes for the parent when it is created.
    #[serde(default)]
    pub with: BTreeMap<String, Value>,
}

impl AssociationDef {
    /// The foreign key column.
    pub fn field_for(&self, name: &str) -> String {
        self.field.clone().unwrap_or_else(|| format!("{name}_id"))
    }
    /// The referenced column of the parent.
    pub fn key_column(&self) -> &str {
        self.key.as_deref().unwrap_or("id")
    }
}

/// A row created by another factory as a step or after-step.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepDef {
    /// The name the row gets in templates (`{{name.column}}`) and in the result.
    #[serde(rename = "as")]
    pub name: String,
    /// The factory.
    pub factory: String,
    /// Attributes (templates are evaluated).
    #[serde(default)]
    pub with: BTreeMap<String, Value>,
    /// Traits of the step's factory.
    #[serde(default)]
    pub traits: Vec<String>,
    /// Only when this parameter is truthy.
    #[serde(default, rename = "if")]
    pub condition: Option<String>,
    /// Adopt the row when it exists already (a trigger of an earlier row made it, as Supabase's
    /// `on_auth_user_created` makes profiles): `true` upserts by the primary key, a column or a
    /// list of columns by that unique key. The row is tracked either way.
    #[serde(default)]
    pub adopt: Option<Adopt>,
}

/// How an adopting step finds the existing row.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Adopt {
    /// `true`: by the primary key (`false`: no adoption).
    PrimaryKey(bool),
    /// By one unique column.
    Column(String),
    /// By a unique key of several columns.
    Columns(Vec<String>),
}

impl Adopt {
    /// The key columns, `Some(empty)` for the primary key, `None` when not adopting.
    pub fn columns(&self) -> Option<Vec<String>> {
        match self {
            Adopt::PrimaryKey(true) => Some(Vec::new()),
            Adopt::PrimaryKey(false) => None,
            Adopt::Column(c) => Some(vec![c.clone()]),
            Adopt::Columns(c) => Some(c.clone()),
        }
    }
}

/// A named variation of a factory.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraitDef {
    /// Field values replacing the factory's.
    #[serde(default)]
    pub fields: BTreeMap<String, Value>,
    /// Parameter defaults replacing the factory's.
    #[serde(default)]
    pub transient: BTreeMap<String, Value>,
    /// More after-steps.
    #[serde(default)]
    pub after: Vec<StepDef>,
}

/// Parsed, checked factories.
#[derive(Debug, Clone)]
pub struct FactoryRegistry {
    factories: BTreeMap<String, FactoryDef>,
    lane_columns: Vec<(String, Vec<String>)>,
    /// Which factory builds each table's rows on the last schema graph asked about.
    pub(super) by_table: ByTable,
}

/// The factory of each table (`planner::table_factories`) for one schema graph, kept for the
/// next call on the same graph: every call planned it again, resolving every definition's
/// table name (7% of planning a two-row factory). A clone starts empty.
#[derive(Default)]
pub(super) struct ByTable(Mutex<Option<(u64, TableFactories)>>);

/// The factory of each table, by table.
pub(super) type TableFactories = Arc<HashMap<TableId, String>>;

impl Clone for ByTable {
    fn clone(&self) -> Self {
        ByTable::default()
    }
}

impl std::fmt::Debug for ByTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ByTable")
    }
}

impl ByTable {
    /// The map for graph `generation`, made by `make` unless it is kept. Generation 0 (a graph
    /// not read from the catalog) is never kept.
    pub(super) fn get_or(
        &self,
        generation: u64,
        make: impl FnOnce() -> HashMap<TableId, String>,
    ) -> TableFactories {
        if generation == 0 {
            return Arc::new(make());
        }
        let mut kept = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match &*kept {
            Some((g, map)) if *g == generation => map.clone(),
            _ => {
                let map = Arc::new(make());
                *kept = Some((generation, map.clone()));
                map
            }
        }
    }
}

fn definition_error(message: impl Into<String>) -> Error {
    Error::new(ErrorCode::FactoryDefinition, message)
}

/// The helpers whose values carry the lane's prefix (the columns they fill are lane columns).
pub const LANE_HELPERS: &[&str] = &["name", "email", "slug"];

/// The field helpers a `{ helper: argument }` object may name.
pub const HELPERS: &[&str] = &[
    "name", "email", "slug", "uuid", "json", "bcrypt", "now", "token",
];

impl FactoryRegistry {
    /// No factories: every table is one, inferred.
    pub fn empty() -> FactoryRegistry {
        FactoryRegistry {
            factories: BTreeMap::new(),
            lane_columns: Vec::new(),
            by_table: ByTable::default(),
        }
    }

    /// Parses YAML (or JSON, which is YAML).
    pub fn from_yaml(text: &str) -> Result<FactoryRegistry> {
        FactoryRegistry::from_file(FactoryFile::from_yaml(text)?)
    }

    /// Takes a JS object (as JSON).
    pub fn from_json(value: Value) -> Result<FactoryRegistry> {
        FactoryRegistry::from_file(FactoryFile::from_json(value)?)
    }

    fn from_file(file: FactoryFile) -> Result<FactoryRegistry> {
        FactoryRegistry::from_files(vec![(String::new(), file)])
    }

    /// One registry of several files (a user's files, the preset), each labelled by where it
    /// came from. A factory of one file may use those of another; a name defined twice is an
    /// error naming both files. Lane columns are united, with every column a factory fills
    /// with the `name`, `email` or `slug` helper.
    pub fn from_files(files: Vec<(String, FactoryFile)>) -> Result<FactoryRegistry> {
        let mut factories: BTreeMap<String, FactoryDef> = BTreeMap::new();
        let mut origin: BTreeMap<String, String> = BTreeMap::new();
        let mut lane_columns: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (label, file) in files {
            let within = |m: String| {
                if label.is_empty() {
                    definition_error(m)
                } else {
                    definition_error(format!("{label}: {m}"))
                }
            };
            if let Some(v) = file.version {
                if v != 1 {
                    return Err(within(format!(
                        "factory file version {v} is not supported (expected 1)"
                    )));
                }
            }
            for (name, def) in file.factories {
                if let Some(first) = origin.get(&name) {
                    return Err(within(format!(
                        "factory {name:?} is defined in {first} too; give one of them another name"
                    )));
                }
                origin.insert(name.clone(), label.clone());
                factories.insert(name, def);
            }
            for (table, columns) in file.lane_columns {
                let known = lane_columns.entry(table).or_default();
                for c in columns {
                    if !known.contains(&c) {
                        known.push(c);
                    }
                }
            }
        }
        // A column a factory fills with a lane-scoped helper holds lane names.
        for def in factories.values() {
            let Some(table) = &def.table else { continue };
            let specs = def
                .fields
                .iter()
                .chain(def.traits.values().flat_map(|t| t.fields.iter()));
            for (column, spec) in specs {
                let lane_scoped = matches!(spec, Value::Object(m)
                    if m.keys().any(|k| LANE_HELPERS.contains(&k.as_str())));
                let known = lane_columns.entry(table.clone()).or_default();
                if lane_scoped && !known.contains(column) {
                    known.push(column.clone());
                }
            }
        }
        lane_columns.retain(|_, columns| !columns.is_empty());
        let registry = FactoryRegistry {
            factories,
            lane_columns: lane_columns.into_iter().collect(),
            by_table: ByTable::default(),
        };
        registry.check()?;
        Ok(registry)
    }

    /// Every factory name.
    pub fn names(&self) -> Vec<String> {
        self.factories.keys().cloned().collect()
    }

    /// The columns holding lane names, per table.
    pub fn lane_columns(&self) -> &[(String, Vec<String>)] {
        &self.lane_columns
    }

    /// Every table a call of factory `name` may insert into (through associations, steps,
    /// after-steps and traits), as written in the definitions.
    pub fn tables_of(&self, name: &str) -> Vec<String> {
        let mut seen = std::collections::BTreeSet::new();
        let mut tables = Vec::new();
        let mut todo = vec![name.to_string()];
        while let Some(n) = todo.pop() {
            let Some(def) = self.factories.get(&n) else {
                // A table used as a factory.
                if n.contains('.') && seen.insert(n.clone()) {
                    tables.push(n);
                }
                continue;
            };
            if !seen.insert(n) {
                continue;
            }
            tables.extend(def.table.clone());
            todo.extend(def.associations.values().map(|a| a.factory.clone()));
            todo.extend(
                def.steps
                    .iter()
                    .chain(&def.after)
                    .chain(def.traits.values().flat_map(|t| &t.after))
                    .map(|s| s.factory.clone()),
            );
        }
        tables
    }

    /// A factory by name, or `PGLANE_FACTORY_UNKNOWN` listing the known ones.
    pub fn get(&self, name: &str) -> Result<&FactoryDef> {
        self.factories.get(name).ok_or_else(|| {
            Error::new(
                ErrorCode::FactoryUnknown,
                format!(
                    "no factory named {name:?}; known factories: {}",
                    self.names().join(", ")
                ),
            )
        })
    }

    /// A factory a definition may use: one of the registry, or a table named `schema.table`
    /// (an inferred factory, resolved against the schema when used).
    fn known(&self, name: &str) -> Result<()> {
        if name.contains('.') && !self.factories.contains_key(name) {
            return Ok(());
        }
        self.get(name).map(|_| ())
    }

    fn check(&self) -> Result<()> {
        for (name, def) in &self.factories {
            let what = |m: String| definition_error(format!("factory {name:?}: {m}"));
            match (&def.table, def.steps.is_empty()) {
                (Some(_), false) => return Err(what("has both `table` and `steps`".into())),
                (None, true) => return Err(what("needs `table` or `steps`".into())),
                (None, false)
                    if !def.fields.is_empty()
                        || !def.associations.is_empty()
                        || !def.after.is_empty() =>
                {
                    return Err(what(
                        "a steps factory has no `fields`, `associations` or `after`".into(),
                    ))
                }
                _ => {}
            }
            let mut step_names = std::collections::HashSet::new();
            for step in def
                .steps
                .iter()
                .chain(&def.after)
                .chain(def.traits.values().flat_map(|t| &t.after))
            {
                self.known(&step.factory)
                    .map_err(|e| what(e.message().to_string()))?;
                if step.name.is_empty() || step.name.contains('.') {
                    return Err(what(format!(
                        "step name {:?} must be a non-empty name without dots",
                        step.name
                    )));
                }
                if !def.steps.is_empty() && !step_names.insert(step.name.clone()) {
                    return Err(what(format!("two steps are named {:?}", step.name)));
                }
            }
            for (a, assoc) in &def.associations {
                self.known(&assoc.factory)
                    .map_err(|e| what(format!("association {a:?}: {}", e.message())))?;
            }
            for spec in def
                .fields
                .values()
                .chain(def.traits.values().flat_map(|t| t.fields.values()))
            {
                check_spec(spec).map_err(what)?;
            }
        }
        Ok(())
    }
}

fn check_spec(spec: &Value) -> std::result::Result<(), String> {
    if let Value::Object(map) = spec {
        if map.len() != 1 {
            return Err(format!(
                "a field helper is an object with one key of {}; got {spec}",
                HELPERS.join(", ")
            ));
        }
        let key = map.keys().next().expect("one key");
        if !HELPERS.contains(&key.as_str()) {
            return Err(format!(
                "unknown field helper {key:?}; use one of {}",
                HELPERS.join(", ")
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_preset_parses() {
        let p = crate::core::preset::registry();
        for name in [
            "user",
            "organization",
            "group",
            "model",
            "invite",
            "completeSetup",
        ] {
            p.get(name).unwrap();
        }
        assert!(!p.lane_columns().is_empty());
    }

    #[test]
    fn definition_mistakes_are_reported_with_the_factory_name() {
        let cases = [
            ("factories: { a: { } }", "needs `table` or `steps`"),
            (
                "factories: { a: { table: t, fields: { x: { nmae: y } } } }",
                "unknown field helper",
            ),
            (
                "factories: { a: { table: t, after: [ { as: b, factory: nope } ] } }",
                "no factory named",
            ),
            ("factories: { a: { table: t, bogus: 1 } }", "unknown field"),
            ("factories: [", "not valid"),
        ];
        for (yaml, expect) in cases {
            let err = FactoryRegistry::from_yaml(yaml).unwrap_err();
            assert_eq!(err.code(), ErrorCode::FactoryDefinition, "{yaml}");
            assert!(err.message().contains(expect), "{yaml}: {}", err.message());
        }
    }

    #[test]
    fn a_factory_names_the_tables_of_its_parents_and_steps() {
        let r = FactoryRegistry::from_yaml(
            "factories: { a: { table: ta, associations: { b: { factory: b } } }, b: { table: tb, after: [ { as: c, factory: c } ] }, c: { table: tc }, s: { steps: [ { as: x, factory: a } ] } }",
        )
        .unwrap();
        let mut tables = r.tables_of("s");
        tables.sort();
        assert_eq!(tables, vec!["ta", "tb", "tc"]);
    }

    #[test]
    fn steps_and_associations_may_name_tables() {
        let r = FactoryRegistry::from_yaml(
            "factories: { a: { table: ta, associations: { p: { factory: public.projects } } }, s: { steps: [ { as: x, factory: a }, { as: t, factory: public.tasks } ] } }",
        )
        .unwrap();
        let mut tables = r.tables_of("s");
        tables.sort();
        assert_eq!(tables, vec!["public.projects", "public.tasks", "ta"]);
        let err =
            FactoryRegistry::from_yaml("factories: { s: { steps: [ { as: x, factory: nope } ] } }")
                .unwrap_err();
        assert!(
            err.message().contains("no factory named \"nope\""),
            "{}",
            err.message()
        );
    }

    #[test]
    fn adopting_steps_name_their_key() {
        let r = FactoryRegistry::from_yaml(
            "factories: { u: { table: tu, after: [ { as: p, factory: p, adopt: true }, { as: q, factory: p, adopt: email }, { as: r, factory: p, adopt: [a, b] }, { as: s, factory: p } ] }, p: { table: tp } }",
        )
        .unwrap();
        let after = &r.get("u").unwrap().after;
        let keys: Vec<Option<Vec<String>>> = after
            .iter()
            .map(|s| s.adopt.as_ref().and_then(Adopt::columns))
            .collect();
        assert_eq!(
            keys,
            vec![
                Some(vec![]),
                Some(vec!["email".to_string()]),
                Some(vec!["a".to_string(), "b".to_string()]),
                None
            ]
        );
    }

    #[test]
    fn files_are_merged_and_may_use_each_others_factories() {
        let app = FactoryFile::from_yaml(
            "laneColumns: { public.projects: [name] }\nfactories: { project: { table: public.projects, associations: { owner: { factory: user } } } }",
        )
        .unwrap();
        let users = FactoryFile::from_yaml(
            "laneColumns: { public.projects: [slug], public.users: [email] }\nfactories: { user: { table: public.users } }",
        )
        .unwrap();
        let r = FactoryRegistry::from_files(vec![
            ("e2e/projects.yaml".into(), app.clone()),
            ("e2e/users.yaml".into(), users.clone()),
        ])
        .unwrap();
        assert_eq!(r.names(), vec!["project", "user"]);
        assert_eq!(
            r.lane_columns(),
            &[
                (
                    "public.projects".to_string(),
                    vec!["name".to_string(), "slug".to_string()]
                ),
                ("public.users".to_string(), vec!["email".to_string()]),
            ]
        );
        let err = FactoryRegistry::from_files(vec![("e2e/projects.yaml".into(), app)]).unwrap_err();
        assert!(
            err.message().contains("no factory named \"user\""),
            "{}",
            err.message()
        );
        let err = FactoryRegistry::from_files(vec![
            ("e2e/users.yaml".into(), users.clone()),
            ("e2e/more.yaml".into(), users),
        ])
        .unwrap_err();
        assert_eq!(
            err.message(),
            "e2e/more.yaml: factory \"user\" is defined in e2e/users.yaml too; give one of them another name"
        );
    }

    #[test]
    fn unknown_factories_list_the_known_ones() {
        let r = FactoryRegistry::from_yaml("factories: { thing: { table: t } }").unwrap();
        let err = r.get("thign").unwrap_err();
        assert_eq!(err.code(), ErrorCode::FactoryUnknown);
        assert!(err.message().contains("thing"));
    }
}
