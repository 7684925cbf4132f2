//! The engine, in concept modules (none imports napi):
//!
//! - [`db`]: settings, pool, TLS, error classification, the catalog and its graph cache.
//! - [`schema`]: the schema graph as data: names, foreign keys, dependency order.
//! - [`lane`]: run/worker/test ids, names, the lane pattern guard, contexts, trackers.
//! - [`cleanup`]: which rows go, in which order, and the statements that delete them.
//! - [`factory`]: rows defined as data, created in one statement.
//! - [`supabase`]: signed-in Supabase users, JWTs and storage state.
//! - [`runs`]: the run registry, heartbeats, sweeps and the journal.
//! - [`doctor`]: what `pglane doctor` finds on a database before a run.
//! - [`locks`]: advisory locks.
//! - [`preset`]: what pglane knows of the reference application.
//! - [`error`]: the one error type and its stable codes.
//! - [`input`]: arguments as JS gave them, and their checks.

pub mod cleanup;
pub mod db;
pub mod doctor;
pub mod error;
pub mod factory;
pub mod fnv;
pub mod input;
pub mod lane;
pub mod locks;
pub mod preset;
pub mod runs;
pub mod runtime;
pub mod schema;
pub mod supabase;

pub use error::{Error, ErrorCode, Result};
