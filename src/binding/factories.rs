//! `Factories` and the `createWorkerScoped*` functions of the preset.

use super::args::{Arg, JsInput};
use super::db::{db_or_default, Db};
use super::error::{guard, spawn, Outcome};
use super::json::Json;
use super::tracker::ResourceTracker;
use super::worker_context::WorkerContext;
use crate::core::db as core_db;
use crate::core::error::{Error as CoreError, ErrorCode};
use crate::core::factory::definition::{FactoryFile, FactoryRegistry};
use crate::core::factory::describe as core_describe;
use crate::core::factory::{self, CallOptions, FactoryCall, Fill};
use crate::core::lane::WorkerContext as CoreContext;
use crate::core::preset;
use napi::bindgen_prelude::PromiseRaw;
use napi::Env;
use napi_derive::napi;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// Options of a factory call.
#[napi(object)]
pub struct FactoryOptions {
    /// Traits to apply, e.g. `['unconfirmed']`.
    pub traits: Option<Vec<String>>,
    /// Which columns inference fills: `'required'` (default: `NOT NULL` columns without a
    /// default) or `'all'` (nullable ones too; nullable foreign keys stay null).
    #[napi(ts_type = "'required' | 'all'")]
    pub fill: Option<String>,
    /// Relations connected to existing rows instead of new parents: `{ project: projectRow }`
    /// (a row with the referenced columns, or the key itself).
    #[napi(ts_type = "Record<string, any>")]
    pub connect: Option<Value>,
}

/// A column of a table, as `describe` gives it.
#[napi(object)]
pub struct ColumnDescription {
    /// Column name.
    pub name: String,
    /// Type as Postgres spells it.
    pub pg_type: String,
    /// What the values are in JS: `number`, `string`, `boolean`, `json`, `enum` or `unknown`.
    #[napi(ts_type = "'number' | 'string' | 'boolean' | 'json' | 'enum' | 'unknown'")]
    pub kind: String,
    /// An enum's labels.
    pub labels: Vec<String>,
    /// Array dimensions (0: not an array).
    pub array: u32,
    /// What an insert takes besides: `'string'` for `int8` and `numeric`, `'number'` for `money`.
    #[napi(ts_type = "'string' | 'number'")]
    pub insert_also: Option<String>,
    /// Can it be null?
    pub nullable: bool,
    /// Can an insert give it a value (not generated, not identity `ALWAYS`)?
    pub insertable: bool,
    /// Does Postgres give it a value when an insert does not?
    pub has_default: bool,
}

/// A foreign key by the name factories accept.
#[napi(object)]
pub struct RelationDescription {
    /// The relation's name (`project` for `project_id`).
    pub name: String,
    /// The referenced table, `schema.table`.
    pub table: String,
    /// Referencing columns.
    pub columns: Vec<String>,
    /// Referenced columns.
    pub parent_columns: Vec<String>,
    /// Does inference build a parent when none is given?
    pub required: bool,
}

/// A table, as `describe` gives it.
#[napi(object)]
pub struct TableDescription {
    /// `schema.table`.
    pub name: String,
    /// The name `create` reads back as this table (quoted where needed).
    pub qualified: String,
    /// Schema.
    pub schema: String,
    /// Table name.
    pub table: String,
    /// The partitioned table it is a partition of.
    pub partition_of: Option<String>,
    /// The key its rows are tracked by: the primary key, else a unique key whose columns are
    /// all `NOT NULL` (empty: neither, so its rows are not tracked by key).
    pub primary_key: Vec<String>,
    /// Columns in order.
    pub columns: Vec<ColumnDescription>,
    /// Foreign keys, named.
    pub relations: Vec<RelationDescription>,
    /// The definition that builds its rows when a call names the table.
    pub factory: Option<String>,
}

/// A step or after-step of a factory.
#[napi(object)]
pub struct StepDescription {
    /// Its name in the result.
    pub name: String,
    /// The factory it calls.
    pub factory: String,
    /// Made only sometimes (`if:`, or a trait's after-step)?
    pub optional: bool,
}

/// An association of a factory.
#[napi(object)]
pub struct AssociationDescription {
    /// Its name.
    pub name: String,
    /// The parent's factory.
    pub factory: String,
    /// The parameter that gives the parent's key.
    pub param: Option<String>,
}

/// A factory, as `describe` gives it.
#[napi(object)]
pub struct FactoryDescription {
    /// Its name.
    pub name: String,
    /// The table of a row factory, `schema.table`.
    pub table: Option<String>,
    /// Trait names.
    pub traits: Vec<String>,
    /// Parameter names.
    pub params: Vec<String>,
    /// Associations.
    pub associations: Vec<AssociationDescription>,
    /// After-steps.
    pub after: Vec<StepDescription>,
    /// Steps of a multi-row factory.
    pub steps: Vec<StepDescription>,
}

/// The live schema and the factories of a registry (`describe`).
#[napi(object)]
pub struct SchemaDescription {
    /// Every table of the user schemas.
    pub tables: Vec<TableDescription>,
    /// Every factory of the registry.
    pub factories: Vec<FactoryDescription>,
}

fn step(s: core_describe::StepDescription) -> StepDescription {
    StepDescription {
        name: s.name,
        factory: s.factory,
        optional: s.optional,
    }
}

fn schema_description(
    (tables, factories): (
        Vec<core_describe::TableDescription>,
        Vec<core_describe::FactoryDescription>,
    ),
) -> SchemaDescription {
    SchemaDescription {
        tables: tables
            .into_iter()
            .map(|t| TableDescription {
                name: t.name,
                qualified: t.qualified,
                schema: t.schema,
                table: t.table,
                partition_of: t.partition_of,
                primary_key: t.primary_key,
                columns: t
                    .columns
                    .into_iter()
                    .map(|c| {
                        let (kind, labels) = match c.ty.kind {
                            core_describe::JsKind::Number => ("number", Vec::new()),
                            core_describe::JsKind::String => ("string", Vec::new()),
                            core_describe::JsKind::Boolean => ("boolean", Vec::new()),
                            core_describe::JsKind::Json => ("json", Vec::new()),
                            core_describe::JsKind::Enum(labels) => ("enum", labels),
                            core_describe::JsKind::Unknown => ("unknown", Vec::new()),
                        };
                        ColumnDescription {
                            name: c.name,
                            pg_type: c.pg_type,
                            kind: kind.to_string(),
                            labels,
                            array: c.ty.array,
                            insert_also: c.ty.insert_also.map(|k| {
                                match k {
                                    core_describe::JsKind::Number => "number",
                                    _ => "string",
                                }
                                .to_string()
                            }),
                            nullable: c.nullable,
                            insertable: c.insertable,
                            has_default: c.has_default,
                        }
                    })
                    .collect(),
                relations: t
                    .relations
                    .into_iter()
                    .map(|r| RelationDescription {
                        name: r.name,
                        table: r.table,
                        columns: r.columns,
                        parent_columns: r.parent_columns,
                        required: r.required,
                    })
                    .collect(),
                factory: t.factory,
            })
            .collect(),
        factories: factories
            .into_iter()
            .map(|f| FactoryDescription {
                name: f.name,
                table: f.table,
                traits: f.traits,
                params: f.params,
                associations: f
                    .associations
                    .into_iter()
                    .map(|a| AssociationDescription {
                        name: a.name,
                        factory: a.factory,
                        param: a.param,
                    })
                    .collect(),
                after: f.after.into_iter().map(step).collect(),
                steps: f.steps.into_iter().map(step).collect(),
            })
            .collect(),
    }
}

/// One source of `Factories.fromSources`: YAML text, a JS object, or a preset by name.
#[napi(object)]
pub struct FactorySource {
    /// Where it comes from, for messages (e.g. the file's path).
    pub name: String,
    /// YAML text.
    pub yaml: Option<String>,
    /// A JS object of the same shape.
    pub object: Option<Value>,
    /// A preset shipped with pglane: `"reference"`.
    pub preset: Option<String>,
}

/// Factories defined as data (YAML or a JS object). Every row they insert is tracked and comes
/// back as the database stored it (ids, defaults). One call is one statement: a multi-row
/// factory is atomic.
#[napi]
pub struct Factories {
    registry: Arc<FactoryRegistry>,
    db: Option<core_db::Db>,
}

fn call(
    name: String,
    attrs: Option<JsInput>,
    options: Option<Arg<FactoryOptions>>,
    count: Option<&JsInput>,
) -> crate::core::Result<(FactoryCall, CallOptions)> {
    let attrs = match attrs {
        Some(a) => a.get().optional_json("attrs")?,
        None => None,
    };
    let count = count.map(|c| factory::list_count(c.get())).transpose()?;
    let (traits, fill, connect) = match options {
        Some(Arg(o)) => (o.traits.unwrap_or_default(), o.fill, o.connect),
        None => (Vec::new(), None, None),
    };
    let call = FactoryCall::new(name, attrs, traits, count)?;
    let fill = fill
        .as_deref()
        .map(Fill::parse)
        .transpose()?
        .unwrap_or_default();
    let connect = match connect {
        None | Some(Value::Null) => serde_json::Map::new(),
        Some(Value::Object(m)) => m,
        Some(_) => {
            return Err(crate::core::Error::new(
                crate::core::ErrorCode::FactoryField,
                "connect must be an object: { relation: row }",
            ))
        }
    };
    Ok((call, CallOptions { fill, connect }))
}

/// Creates with `registry` in a spawned future that owns copies of everything it needs.
fn spawn_create<'env>(
    env: &'env Env,
    registry: Arc<FactoryRegistry>,
    db: core_db::Db,
    ctx: CoreContext,
    tracker: Arc<crate::core::lane::tracker::ResourceTracker>,
    call: crate::core::Result<(FactoryCall, CallOptions)>,
) -> napi::Result<PromiseRaw<'env, Outcome<Json<Value>>>> {
    spawn(env, async move {
        let (call, options) = call?;
        factory::create_with(&db, &registry, &ctx, &tracker, &call, &options)
            .await
            .map(Json)
    })
}

#[napi]
impl Factories {
    /// The reference application's preset (the factories behind `createWorkerScoped*`).
    #[napi(factory, catch_unwind)]
    pub fn preset(
        #[napi(ts_arg_type = "Db | undefined | null")] db: Option<Arg<&Db>>,
    ) -> Factories {
        Factories {
            registry: preset::registry(),
            db: db.map(|d| d.inner.clone()),
        }
    }

    /// Factories from YAML text. Throws `PGLANE_FACTORY_DEFINITION` naming the mistake.
    #[napi(factory, catch_unwind)]
    pub fn from_yaml(
        env: Env,
        #[napi(ts_arg_type = "string")] yaml: Arg<String>,
        #[napi(ts_arg_type = "Db | undefined | null")] db: Option<Arg<&Db>>,
    ) -> napi::Result<Factories> {
        Ok(Factories {
            registry: Arc::new(guard(&env, || FactoryRegistry::from_yaml(&yaml))?),
            db: db.map(|d| d.inner.clone()),
        })
    }

    /// No definitions: every table is a factory, its rows inferred from the schema
    /// (`create('public.tasks', ctx, tracker)`).
    #[napi(factory, catch_unwind)]
    pub fn from_schema(
        #[napi(ts_arg_type = "Db | undefined | null")] db: Option<Arg<&Db>>,
    ) -> Factories {
        Factories {
            registry: Arc::new(FactoryRegistry::empty()),
            db: db.map(|d| d.inner.clone()),
        }
    }

    /// Factories from a JS object of the same shape as the YAML.
    #[napi(factory, catch_unwind)]
    pub fn from_object(
        env: Env,
        #[napi(ts_arg_type = "any")] definitions: JsInput,
        #[napi(ts_arg_type = "Db | undefined | null")] db: Option<Arg<&Db>>,
    ) -> napi::Result<Factories> {
        let registry = guard(&env, || {
            FactoryRegistry::from_json(definitions.get().to_json("definitions")?)
        })?;
        Ok(Factories {
            registry: Arc::new(registry),
            db: db.map(|d| d.inner.clone()),
        })
    }

    /// Factories of several sources in one registry (a factory of one may use another's); a
    /// name defined twice is `PGLANE_FACTORY_DEFINITION` naming both sources.
    #[napi(factory, catch_unwind)]
    pub fn from_sources(
        env: Env,
        #[napi(ts_arg_type = "FactorySource[]")] sources: Arg<Vec<FactorySource>>,
        #[napi(ts_arg_type = "Db | undefined | null")] db: Option<Arg<&Db>>,
    ) -> napi::Result<Factories> {
        let files = guard(&env, || {
            sources
                .0
                .into_iter()
                .map(|s| {
                    let file = match (s.yaml, s.object, s.preset) {
                        (Some(yaml), None, None) => FactoryFile::from_yaml(&yaml),
                        (None, Some(object), None) => FactoryFile::from_json(object),
                        (None, None, Some(p)) if p == preset::NAME => {
                            FactoryFile::from_yaml(preset::YAML)
                        }
                        (None, None, Some(p)) => Err(CoreError::new(
                            ErrorCode::FactoryDefinition,
                            format!("no preset named {p:?}; pglane ships {:?}", preset::NAME),
                        )),
                        _ => Err(CoreError::new(
                            ErrorCode::FactoryDefinition,
                            "a factory source has exactly one of yaml, object and preset",
                        )),
                    };
                    file.map(|f| (s.name.clone(), f))
                        .map_err(|e| e.context(&s.name))
                })
                .collect::<crate::core::Result<Vec<_>>>()
                .and_then(FactoryRegistry::from_files)
        })?;
        Ok(Factories {
            registry: Arc::new(files),
            db: db.map(|d| d.inner.clone()),
        })
    }

    /// Factory names.
    #[napi(catch_unwind)]
    pub fn names(&self) -> Vec<String> {
        self.registry.names()
    }

    /// The lane columns the definitions declare, `{ 'schema.table': ['name'] }`.
    #[napi(catch_unwind)]
    pub fn lane_columns(&self) -> HashMap<String, Vec<String>> {
        self.registry.lane_columns().iter().cloned().collect()
    }

    fn db_for(&self, tracker: &ResourceTracker) -> core_db::Db {
        self.db.clone().unwrap_or_else(|| tracker.db.clone())
    }

    /// Runs a create call with this registry in a spawned future.
    fn spawn<'env>(
        &self,
        env: &'env Env,
        ctx: &WorkerContext,
        tracker: &ResourceTracker,
        call: crate::core::Result<(FactoryCall, CallOptions)>,
    ) -> napi::Result<PromiseRaw<'env, Outcome<Json<Value>>>> {
        spawn_create(
            env,
            self.registry.clone(),
            self.db_for(tracker),
            ctx.inner.clone(),
            tracker.inner.clone(),
            call,
        )
    }

    /// Inserts one row (or one set of rows) with factory `name`, or into table `name`
    /// (`'public.tasks'`: inferred, required parents included, when no definition has that
    /// name); tracks them in `tracker`. `attrs` sets columns, parameters, associations
    /// (`organizationId`, or the parent row), relations (`{ project: projectRow }`) or, for a
    /// multi-row factory, per-step attributes.
    #[napi(
        ts_args_type = "name: string, ctx: WorkerContext, tracker: ResourceTracker, attrs?: any | undefined | null, options?: FactoryOptions | undefined | null",
        ts_return_type = "Promise<Record<string, any>>",
        catch_unwind
    )]
    pub fn create<'env>(
        &self,
        env: &'env Env,
        name: Arg<String>,
        ctx: Arg<&WorkerContext>,
        tracker: Arg<&ResourceTracker>,
        attrs: Option<JsInput>,
        options: Option<Arg<FactoryOptions>>,
    ) -> napi::Result<PromiseRaw<'env, Outcome<Json<Value>>>> {
        self.spawn(env, &ctx, &tracker, call(name.0, attrs, options, None))
    }

    /// Inserts `count` rows (or sets) with factory `name` in one statement. `count` is an
    /// integer from 0 to 10000; anything else rejects with `PGLANE_INVALID_ARGUMENT`.
    #[allow(clippy::too_many_arguments)]
    #[napi(
        ts_args_type = "name: string, count: number, ctx: WorkerContext, tracker: ResourceTracker, attrs?: any | undefined | null, options?: FactoryOptions | undefined | null",
        ts_return_type = "Promise<Record<string, any>[]>",
        catch_unwind
    )]
    pub fn create_list<'env>(
        &self,
        env: &'env Env,
        name: Arg<String>,
        count: JsInput,
        ctx: Arg<&WorkerContext>,
        tracker: Arg<&ResourceTracker>,
        attrs: Option<JsInput>,
        options: Option<Arg<FactoryOptions>>,
    ) -> napi::Result<PromiseRaw<'env, Outcome<Json<Value>>>> {
        self.spawn(
            env,
            &ctx,
            &tracker,
            call(name.0, attrs, options, Some(&count)),
        )
    }

    /// The values `create` would insert, without inserting (database defaults are absent).
    #[napi(
        ts_args_type = "name: string, ctx: WorkerContext, attrs?: any | undefined | null, options?: FactoryOptions | undefined | null, db?: Db | undefined | null",
        ts_return_type = "Record<string, any>",
        catch_unwind
    )]
    pub fn build(
        &self,
        env: Env,
        name: Arg<String>,
        ctx: Arg<&WorkerContext>,
        attrs: Option<JsInput>,
        options: Option<Arg<FactoryOptions>>,
        db: Option<Arg<&Db>>,
    ) -> napi::Result<Json<Value>> {
        let db = match (db, &self.db) {
            (None, Some(own)) => own.clone(),
            (given, _) => db_or_default(&env, given.map(|d| d.0))?,
        };
        guard(&env, || {
            let (call, options) = call(name.0, attrs, options, None)?;
            factory::build(&db, &self.registry, &ctx.inner, &call, &options).map(Json)
        })
    }

    /// The live schema's tables (columns with their JS types, relations) and this registry's
    /// factories: what `npx pglane types` writes declarations from. Reads the catalog again.
    #[napi(
        ts_args_type = "db?: Db | undefined | null",
        ts_return_type = "Promise<SchemaDescription>",
        catch_unwind
    )]
    pub fn describe<'env>(
        &self,
        env: &'env Env,
        db: Option<Arg<&Db>>,
    ) -> napi::Result<PromiseRaw<'env, Outcome<SchemaDescription>>> {
        let db = match (db, &self.db) {
            (None, Some(own)) => own.clone(),
            (given, _) => db_or_default(env, given.map(|d| d.0))?,
        };
        let registry = self.registry.clone();
        spawn(env, async move {
            factory::describe(&db, &registry)
                .await
                .map(schema_description)
        })
    }
}

/// Creates with the preset in a spawned future (the `createWorkerScoped*` functions).
fn preset_create<'env>(
    env: &'env Env,
    factory: &str,
    ctx: &WorkerContext,
    tracker: &ResourceTracker,
    options: Option<JsInput>,
) -> napi::Result<PromiseRaw<'env, Outcome<Json<Value>>>> {
    spawn_create(
        env,
        preset::registry(),
        tracker.db.clone(),
        ctx.inner.clone(),
        tracker.inner.clone(),
        call(factory.to_string(), options, None, None),
    )
}

/// One `createWorkerScoped*` export per preset factory: the same call, its own name, docs and
/// result type. Docs are given as plain string literals, one per line (napi reads a `///`
/// passed through a macro as a raw string and would print its `r"`).
macro_rules! preset_factory {
    ($name:ident, $factory:literal, $ret:literal, $($doc:literal)*) => {
        $(#[doc = $doc])*
        #[napi(
            ts_args_type = "ctx: WorkerContext, tracker: ResourceTracker, options?: Record<string, any>",
            ts_return_type = $ret,
            catch_unwind
        )]
        pub fn $name<'env>(
            env: &'env Env,
            ctx: Arg<&WorkerContext>,
            tracker: Arg<&ResourceTracker>,
            options: Option<JsInput>,
        ) -> napi::Result<PromiseRaw<'env, Outcome<Json<Value>>>> {
            preset_create(env, $factory, &ctx, &tracker, options)
        }
    };
}

preset_factory!(
    create_worker_scoped_user,
    "user",
    "Promise<UserRow>",
    " A Supabase Auth user (`auth.users` + email identity + profile). Options: `email`,"
    " `fullName`, `password`, `traits: ['unconfirmed' | 'onboarding']`, any column."
);

preset_factory!(
    create_worker_scoped_organization,
    "organization",
    "Promise<OrganizationRow>",
    " An organization. Options: `name`, `slug`, `ownerId` (adds the owner membership)."
);

preset_factory!(
    create_worker_scoped_group,
    "group",
    "Promise<GroupRow>",
    " A group. Options: `organizationId` (else an organization is created), `name`."
);

preset_factory!(
    create_worker_scoped_model,
    "model",
    "Promise<ModelRow>",
    " A model. Options: `organizationId`, `name`, `provider`, `model_key`."
);

preset_factory!(
    create_worker_scoped_invite,
    "invite",
    "Promise<InviteRow>",
    " An invite. Options: `organizationId`, `email`, `role`, `invitedBy`."
);

preset_factory!(
    create_worker_scoped_complete_setup,
    "completeSetup",
    "Promise<CompleteSetup>",
    " User, profile, organization, owner membership, group, group member, model, group model"
    " and invite, in one atomic statement. Options: `fullName`, `role`, and per-step"
    " attributes (`{ organization: { name: 'Acme' } }`)."
);
