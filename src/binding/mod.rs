//! The N-API binding: thin classes and functions that convert arguments, call `core`, and turn
//! core errors into JS errors whose `code` is the stable `PGLANE_*` string. No logic lives here.

mod auth;
mod cleanup;
mod db;
mod error;
mod factories;
mod locks;
mod run_registry;
mod tracker;
mod worker_context;

#[napi_derive::module_init]
fn init() {
    // Every Playwright worker is its own process: one small runtime is plenty, since the work
    // is waiting on Postgres, not computing.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .thread_name("pglane")
        .build()
        .expect("pglane: cannot start the tokio runtime");
    napi::bindgen_prelude::create_custom_tokio_runtime(rt);
}
