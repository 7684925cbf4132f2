//! The engine: naming, database configuration and pools, and everything built on them.

pub mod db;
pub mod db_config;
pub mod error;
pub mod naming;
pub mod tls;
pub mod worker_context;

pub use error::{Error, ErrorCode, Result};
