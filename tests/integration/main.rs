//! pglane's Rust integration tests, in one binary: the database layer and cleanup against a real
//! PostgreSQL (`DATABASE_URL` or `PGLANE_DATABASE_URL`, which `npm test` sets to an embedded
//! server), and property tests of lane names.

mod cleanup;
mod db;
mod factory_adopt;
mod infer;
mod naming_properties;
mod query;
mod runs;
mod schema_files;
mod schema_shapes;
mod support;
