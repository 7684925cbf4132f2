//! Factories: rows of any table, created in one statement per call, tracked and journaled.
//! A table needs no definition: its rows are inferred from the catalog, required parents
//! included; definitions (YAML or a JS object) refine that, column by column.
//!
//! - [`definition`]: the definition format, parsed and checked.
//! - [`template`]: `{{placeholders}}` and value helpers.
//! - [`planner`]: a call becomes rows to insert, parents first.
//! - [`infer`]: what a row still needs, from the catalog: parents, partitions, columns.
//! - [`values`]: the values inference makes for a column, deterministic per lane and row.
//! - [`check`]: CHECK constraints read, evaluated and mined for values.
//! - [`describe`]: tables and factories as the TypeScript types generator sees them.
//! - [`sql`]: the rows become one statement; running it tracks what it inserted.

pub mod check;
pub mod definition;
pub mod describe;
pub mod infer;
pub mod planner;
pub mod sql;
pub mod template;
pub mod values;

pub use infer::Fill;

use crate::core::db::catalog::Freshness;
use crate::core::db::Db;
use crate::core::error::{Error, ErrorCode, Result};
use crate::core::input::Input;
use crate::core::lane::tracker::ResourceTracker;
use crate::core::lane::WorkerContext;
use crate::core::schema::SchemaGraph;
use definition::FactoryRegistry;
use planner::Plan;
use serde_json::{Map, Value};
use std::sync::Arc;

/// Most rows (or sets of rows) one `createList` call makes: they go in one statement.
pub const MAX_LIST: u32 = 10_000;

/// The `count` of `createList` as JS gave it: an integer from 0 to [`MAX_LIST`]. `-1` or
/// `2**31` would otherwise become a request for billions of rows (and an allocation that aborts
/// the process), `1.5` or `NaN` silently 1 or 0.
pub fn list_count(count: &Input) -> Result<usize> {
    count.index("count", MAX_LIST).map(|n| n as usize)
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

impl FactoryCall {
    /// A call of `factory` with the caller's attributes (an object, or nothing).
    pub fn new(
        factory: String,
        attrs: Option<Value>,
        traits: Vec<String>,
        count: Option<usize>,
    ) -> Result<FactoryCall> {
        let attrs = match attrs {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m,
            Some(_) => {
                return Err(Error::new(
                    ErrorCode::FactoryField,
                    "factory attributes must be an object",
                ))
            }
        };
        Ok(FactoryCall {
            factory,
            attrs,
            traits,
            count,
        })
    }
}

/// How a call fills what nobody gave.
#[derive(Debug, Clone, Default)]
pub struct CallOptions {
    /// Required columns only, or nullable ones too.
    pub fill: Fill,
    /// Relations connected to existing rows: `{ project: row }` (merged into the attributes).
    pub connect: Map<String, Value>,
}

/// Does `graph` know every table the call may insert into? (A name no definition has is a
/// table's name.)
fn knows_tables(
    registry: &FactoryRegistry,
    call: &FactoryCall,
) -> impl Fn(&SchemaGraph) -> bool + Sync {
    let tables = if registry.get(&call.factory).is_ok() {
        registry.tables_of(&call.factory)
    } else {
        vec![call.factory.clone()]
    };
    move |g: &SchemaGraph| tables.iter().all(|t| g.resolve(t).is_ok())
}

/// Creates rows with a factory: one statement, one round trip (and one more each the first
/// time the process reads the catalog and the column facts, or when a table is new to it);
/// every row is tracked.
pub async fn create(
    db: &Db,
    registry: &FactoryRegistry,
    ctx: &WorkerContext,
    tracker: &ResourceTracker,
    call: &FactoryCall,
) -> Result<Value> {
    create_with(db, registry, ctx, tracker, call, &CallOptions::default()).await
}

/// [`create`] with options: `fill`, `connect`.
pub async fn create_with(
    db: &Db,
    registry: &FactoryRegistry,
    ctx: &WorkerContext,
    tracker: &ResourceTracker,
    call: &FactoryCall,
    options: &CallOptions,
) -> Result<Value> {
    let knows = knows_tables(registry, call);
    let (graph, _) = db.graph_for(Freshness::Knowing(&knows)).await?;
    let (facts, _) = db.table_facts(&graph).await?;
    let plan = Plan::new(registry, &graph, &facts, ctx, call, options)?;
    let conn = db.conn().await?;
    plan.execute(&conn, &graph, Some(&facts), Some(tracker))
        .await
}

/// The live schema's tables and `registry`'s factories, for the TypeScript types generator:
/// reads the catalog again (two round trips).
pub async fn describe(
    db: &Db,
    registry: &FactoryRegistry,
) -> Result<(
    Vec<describe::TableDescription>,
    Vec<describe::FactoryDescription>,
)> {
    let (graph, _) = db.graph_for(Freshness::Fresh).await?;
    let (facts, _) = db.table_facts(&graph).await?;
    Ok((
        describe::describe_tables(registry, &graph, &facts),
        describe::describe_factories(registry, &graph),
    ))
}

/// The values `create` would insert, without inserting (database defaults are absent), from a
/// synchronous call.
pub fn build(
    db: &Db,
    registry: &FactoryRegistry,
    ctx: &WorkerContext,
    call: &FactoryCall,
    options: &CallOptions,
) -> Result<Value> {
    let knows = knows_tables(registry, call);
    let graph: Arc<SchemaGraph> = db.graph_for_blocking(Freshness::Knowing(&knows))?;
    let facts = db.table_facts_blocking(&graph)?;
    Ok(Plan::new(registry, &graph, &facts, ctx, call, options)?.built())
}
