//! `Factories` and the `createWorkerScoped*` functions of the preset.

use super::args::{Arg, JsInput};
use super::db::{db_or_default, Db};
use super::error::{guard, spawn, Outcome};
use super::tracker::ResourceTracker;
use super::worker_context::WorkerContext;
use crate::core::db as core_db;
use crate::core::error::{Error as CoreError, ErrorCode};
use crate::core::factory::definition::{FactoryFile, FactoryRegistry};
use crate::core::factory::{self, FactoryCall};
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
) -> crate::core::Result<FactoryCall> {
    let attrs = match attrs {
        Some(a) => a.get().optional_json("attrs")?,
        None => None,
    };
    let count = count.map(|c| factory::list_count(c.get())).transpose()?;
    FactoryCall::new(
        name,
        attrs,
        options.and_then(|o| o.0.traits).unwrap_or_default(),
        count,
    )
}

/// Creates with `registry` in a spawned future that owns copies of everything it needs.
fn spawn_create<'env>(
    env: &'env Env,
    registry: Arc<FactoryRegistry>,
    db: core_db::Db,
    ctx: CoreContext,
    tracker: Arc<crate::core::lane::tracker::ResourceTracker>,
    call: crate::core::Result<FactoryCall>,
) -> napi::Result<PromiseRaw<'env, Outcome<Value>>> {
    spawn(env, async move {
        factory::create(&db, &registry, &ctx, &tracker, &call?).await
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
        call: crate::core::Result<FactoryCall>,
    ) -> napi::Result<PromiseRaw<'env, Outcome<Value>>> {
        spawn_create(
            env,
            self.registry.clone(),
            self.db_for(tracker),
            ctx.inner.clone(),
            tracker.inner.clone(),
            call,
        )
    }

    /// Inserts one row (or one set of rows) with factory `name`; tracks them in `tracker`.
    /// `attrs` sets columns, parameters, associations (`organizationId`, or the parent row) or,
    /// for a multi-row factory, per-step attributes.
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
    ) -> napi::Result<PromiseRaw<'env, Outcome<Value>>> {
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
    ) -> napi::Result<PromiseRaw<'env, Outcome<Value>>> {
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
    ) -> napi::Result<Value> {
        let db = match (db, &self.db) {
            (None, Some(own)) => own.clone(),
            (given, _) => db_or_default(&env, given.map(|d| d.0))?,
        };
        guard(&env, || {
            let call = call(name.0, attrs, options, None)?;
            factory::build(&db, &self.registry, &ctx.inner, &call)
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
) -> napi::Result<PromiseRaw<'env, Outcome<Value>>> {
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
        ) -> napi::Result<PromiseRaw<'env, Outcome<Value>>> {
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
