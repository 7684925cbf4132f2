//! The one place where core errors become JS errors: `err.code` carries the `PGLANE_*` code.

use crate::core::{Error as CoreError, ErrorCode};
use napi_derive::napi;

/// The status of a JS error: the stable `PGLANE_*` code.
pub struct Code(pub &'static str);

impl AsRef<str> for Code {
    fn as_ref(&self) -> &str {
        self.0
    }
}

/// A JS error with a `PGLANE_*` code.
pub type JsError = napi::Error<Code>;

/// Converts a core error for JS.
pub fn to_js(e: CoreError) -> JsError {
    napi::Error::new(Code(e.code().as_str()), e.message())
}

/// Every error code pglane can throw, e.g. `PGLANE_DB_AUTH`.
#[napi]
pub fn error_codes() -> Vec<&'static str> {
    ErrorCode::ALL.iter().map(|c| c.as_str()).collect()
}

/// The result of an async binding method. napi-rs rejects async results only with its own
/// status codes, so a failure is turned into a JS `Error` with `code` (and `sqlstate`) here, on
/// the JS thread, and the promise is rejected with that very object.
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

impl<T: napi::bindgen_prelude::ToNapiValue> napi::bindgen_prelude::ToNapiValue for Outcome<T> {
    unsafe fn to_napi_value(
        env: napi::sys::napi_env,
        val: Self,
    ) -> napi::Result<napi::sys::napi_value> {
        match val.0 {
            Ok(v) => unsafe { T::to_napi_value(env, v) },
            Err(e) => {
                let js = unsafe { create_js_error(env, &e) }?;
                Err(napi::Error::from(unsafe {
                    napi::Unknown::from_raw_unchecked(env, js)
                }))
            }
        }
    }
}

unsafe fn create_js_error(
    env: napi::sys::napi_env,
    e: &CoreError,
) -> napi::Result<napi::sys::napi_value> {
    use napi::bindgen_prelude::ToNapiValue;
    let code = unsafe { String::to_napi_value(env, e.code().as_str().to_string()) }?;
    let message = unsafe { String::to_napi_value(env, e.message().to_string()) }?;
    let mut error = std::ptr::null_mut();
    let status = unsafe { napi::sys::napi_create_error(env, code, message, &mut error) };
    if status != napi::sys::Status::napi_ok {
        return Err(napi::Error::from_reason(e.message().to_string()));
    }
    if let Some(state) = e.sqlstate() {
        let value = unsafe { String::to_napi_value(env, state.to_string()) }?;
        unsafe { napi::sys::napi_set_named_property(env, error, c"sqlstate".as_ptr(), value) };
    }
    Ok(error)
}

/// Runs a core future on the runtime and returns a JS promise that resolves with its value or
/// rejects with a coded error. For methods that must copy their arguments before going async.
pub fn spawn<T, F>(
    env: &napi::Env,
    fut: F,
) -> napi::Result<napi::bindgen_prelude::PromiseRaw<'_, Outcome<T>>>
where
    T: napi::bindgen_prelude::ToNapiValue + Send + 'static,
    F: std::future::Future<Output = Result<T, CoreError>> + Send + 'static,
{
    env.spawn_future(async move { Ok(Outcome(fut.await)) })
}
