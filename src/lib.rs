//! pglane: parallel-safe PostgreSQL test data lanes for Playwright, as a Node native addon.
//!
//! `core` is plain Rust (no napi) and holds every piece of logic; `binding` is the thin N-API
//! layer that converts arguments and errors. Core tests build with `--no-default-features`.

pub mod core;

#[cfg(feature = "napi")]
mod binding;
