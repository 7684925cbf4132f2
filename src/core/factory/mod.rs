//! Factories: rows defined as data (YAML or a JS object), created in one statement per call,
//! tracked and journaled.
//!
//! - [`definition`]: the definition format, parsed and checked.
//! - [`template`]: `{{placeholders}}` and value helpers.
//! - [`planner`]: a call becomes rows to insert, parents first.
//! - [`sql`]: the rows become one statement; running it tracks what it inserted.

pub mod definition;
pub mod planner;
pub mod sql;
pub mod template;

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

/// Does `graph` know every table the call may insert into?
fn knows_tables(
    registry: &FactoryRegistry,
    call: &FactoryCall,
) -> impl Fn(&SchemaGraph) -> bool + Sync {
    let tables = registry.tables_of(&call.factory);
    move |g: &SchemaGraph| tables.iter().all(|t| g.resolve(t).is_ok())
}

/// Creates rows with a factory: one statement, one round trip (and one more the first time
/// the process reads the catalog, or when a table is new to it); every row is tracked.
pub async fn create(
    db: &Db,
    registry: &FactoryRegistry,
    ctx: &WorkerContext,
    tracker: &ResourceTracker,
    call: &FactoryCall,
) -> Result<Value> {
    let knows = knows_tables(registry, call);
    let (graph, _) = db.graph_for(Freshness::Knowing(&knows)).await?;
    let plan = Plan::new(registry, &graph, ctx, call)?;
    let conn = db.conn().await?;
    plan.execute(&conn, &graph, Some(tracker)).await
}

/// The values `create` would insert, without inserting (database defaults are absent), from a
/// synchronous call.
pub fn build(
    db: &Db,
    registry: &FactoryRegistry,
    ctx: &WorkerContext,
    call: &FactoryCall,
) -> Result<Value> {
    let knows = knows_tables(registry, call);
    let graph: Arc<SchemaGraph> = db.graph_for_blocking(Freshness::Knowing(&knows))?;
    Ok(Plan::new(registry, &graph, ctx, call)?.built())
}
