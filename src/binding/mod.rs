//! The N-API binding: thin classes and functions that convert arguments, call `core`, and turn
//! core errors into JS errors (`error.rs`, the one place). No logic lives here.

mod args;
mod auth;
mod cleanup;
mod db;
mod error;
mod factories;
mod json;
mod locks;
mod run_registry;
mod tracker;
mod worker_context;

#[napi_derive::module_init]
fn init() {
    let rt = crate::core::runtime::build().expect("pglane: cannot start the tokio runtime");
    napi::bindgen_prelude::create_custom_tokio_runtime(rt);
}
