//! The one place where core errors become JS errors: [`js_error`] builds every one of them, an
//! `Error` with `code` (the stable `PGLANE_*` string), `sqlstate` when Postgres reported one,
//! and `cause` (the underlying error's text, secrets already removed by core).
//! Synchronous calls throw it ([`OrThrow::or_throw`]); async calls reject with it ([`Outcome`]).
//! A panic never reaches JS as a panic: [`guard`] (synchronous bodies) and [`caught`] (async
//! bodies) turn it into `PGLANE_INTERNAL`.

use crate::core::error::panic;
use crate::core::{Error as CoreError, ErrorCode};
use napi::bindgen_prelude::ToNapiValue;
use napi::{sys, Env};
use napi_derive::napi;

/// Every error code pglane can throw, e.g. `PGLANE_DB_AUTH`.
#[napi(catch_unwind)]
pub fn error_codes() -> Vec<&'static str> {
    ErrorCode::ALL.iter().map(|c| c.as_str()).collect()
}

/// The JS error of a core error, as a `napi::Error` that carries the very object to throw or
/// reject with.
pub fn js_error(env: sys::napi_env, e: &CoreError) -> napi::Error {
    match unsafe { create_js_error(env, e) } {
        Ok(js) => napi::Error::from(unsafe { napi::Unknown::from_raw_unchecked(env, js) }),
        Err(failed) => failed,
    }
}

unsafe fn create_js_error(env: sys::napi_env, e: &CoreError) -> napi::Result<sys::napi_value> {
    let error = unsafe { new_error(env, Some(e.code().as_str()), e.message()) }?;
    if let Some(state) = e.sqlstate() {
        unsafe { set_string(env, error, c"sqlstate", state) }?;
    }
    if let Some(source) = std::error::Error::source(e) {
        let cause = unsafe { new_error(env, None, &source.to_string()) }?;
        unsafe { sys::napi_set_named_property(env, error, c"cause".as_ptr(), cause) };
    }
    Ok(error)
}

unsafe fn new_error(
    env: sys::napi_env,
    code: Option<&str>,
    message: &str,
) -> napi::Result<sys::napi_value> {
    let code = match code {
        Some(c) => unsafe { String::to_napi_value(env, c.to_string()) }?,
        None => std::ptr::null_mut(),
    };
    let message_value = unsafe { String::to_napi_value(env, message.to_string()) }?;
    let mut error = std::ptr::null_mut();
    let status = unsafe { sys::napi_create_error(env, code, message_value, &mut error) };
    if status != sys::Status::napi_ok {
        return Err(napi::Error::from_reason(message.to_string()));
    }
    Ok(error)
}

unsafe fn set_string(
    env: sys::napi_env,
    object: sys::napi_value,
    name: &std::ffi::CStr,
    value: &str,
) -> napi::Result<()> {
    let value = unsafe { String::to_napi_value(env, value.to_string()) }?;
    unsafe { sys::napi_set_named_property(env, object, name.as_ptr(), value) };
    Ok(())
}

/// Runs a synchronous body; a panic in it becomes `PGLANE_INTERNAL` instead of unwinding into
/// napi-rs (which would abort the process or throw without a code).
pub fn guard<T>(env: &Env, body: impl FnOnce() -> crate::core::Result<T>) -> napi::Result<T> {
    panic::catch(body).or_throw(env)
}

/// Awaits an async body; a panic in it becomes `PGLANE_INTERNAL` (tokio would otherwise hand
/// napi-rs a `GenericFailure`).
pub async fn caught<T>(
    body: impl std::future::Future<Output = crate::core::Result<T>>,
) -> crate::core::Result<T> {
    panic::CatchPanic::new(body).await
}

/// A core result on its way out of a synchronous call.
pub trait OrThrow<T> {
    /// The value, or the JS error [`js_error`] builds, thrown.
    fn or_throw(self, env: &Env) -> napi::Result<T>;
}

impl<T> OrThrow<T> for crate::core::Result<T> {
    fn or_throw(self, env: &Env) -> napi::Result<T> {
        self.map_err(|e| js_error(env.raw(), &e))
    }
}

/// The result of an async binding method. napi-rs rejects async results only with its own
/// status codes, so a failure is turned into the JS error of [`js_error`] here, on the JS
/// thread, and the promise is rejected with that very object.
pub struct Outcome<T>(pub Result<T, CoreError>);

impl<T> From<Result<T, CoreError>> for Outcome<T> {
    fn from(r: Result<T, CoreError>) -> Self {
        Outcome(r)
    }
}

impl<T: napi::bindgen_prelude::TypeName> napi::bindgen_prelude::TypeName for Outcome<T> {
    fn type_name() -> &'static str {
        T::type_name()
    }
    fn value_type() -> napi::ValueType {
        T::value_type()
    }
}

impl<T: ToNapiValue> ToNapiValue for Outcome<T> {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        match val.0 {
            Ok(v) => unsafe { T::to_napi_value(env, v) },
            Err(e) => Err(js_error(env, &e)),
        }
    }
}

/// Runs a core future and returns a JS promise that resolves with its value or rejects with a
/// coded error. The future starts here, on the JS thread, and goes on on the runtime once it
/// waits ([`crate::core::runtime::start`]: no thread wake-up before its statements are sent).
/// The binding's async methods are written with it rather than as `async fn`.
pub fn spawn<T, F>(
    env: &Env,
    fut: F,
) -> napi::Result<napi::bindgen_prelude::PromiseRaw<'_, Outcome<T>>>
where
    T: ToNapiValue + Send + 'static,
    F: std::future::Future<Output = Result<T, CoreError>> + Send + 'static,
{
    let (deferred, promise) = env.create_deferred::<Outcome<T>, _>()?;
    // The body goes to the heap once, here: a future's whole state is copied each time it
    // moves, and a factory call's or a cleanup's is kilobytes (memcpy was 9% of the
    // instructions of a create + cleanup loop when the body moved inside the wrapper, four
    // moves of it and its copies per call). The wrapper that moves on holds a pointer.
    let body = panic::CatchPanic::new(fut);
    crate::core::runtime::start(async move {
        let outcome = Outcome(body.await);
        deferred.resolve(move |_| Ok(outcome));
    });
    Ok(napi::bindgen_prelude::PromiseRaw::new(
        env.raw(),
        napi::JsValue::raw(&promise),
    ))
}
