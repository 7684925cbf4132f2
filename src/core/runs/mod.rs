//! Runs of `playwright test` against a shared database: the registry with its heartbeats and
//! the sweeper of dead runs ([`registry`]), and the journal of rows their tests created
//! ([`journal`]).

pub mod journal;
pub mod registry;
