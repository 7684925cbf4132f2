//! The engine: naming, database configuration and pools, and everything built on them.

pub mod advisory_lock;
pub mod cleanup;
pub mod cleanup_plan;
pub mod db;
pub mod db_config;
pub mod error;
pub mod factory;
pub mod factory_def;
pub mod naming;
pub mod run_registry;
pub mod schema_graph;
pub mod supabase_auth;
pub mod tls;
pub mod tracker;
pub mod worker_context;

pub use error::{Error, ErrorCode, Result};
