//! Runs of `playwright test` against a shared database: the registry with its heartbeats and
//! the sweeper of dead runs ([`registry`]), the journal of rows their tests created
//! ([`journal`]), and the schema files applied once per database ([`schema_files`]).

pub mod journal;
pub mod registry;
pub mod schema_files;
