//! JSON values on their way to JS. napi-rs builds a JS value from a `serde_json::Value` one
//! call at a time (an object, then a key string and a `napi_set_property` per field), which for
//! a factory's two rows cost more than their statement's planning. A value that JSON says
//! exactly goes as its text through V8's own `JSON.parse` instead: one string and one call.
//!
//! JSON has no exact form for an integer beyond 2^53 (int8 values up there): napi-rs gives it
//! as a `bigint`, `JSON.parse` would round it. A value holding one keeps the napi-rs path, so
//! what JS receives is the same either way (`__test__/query.test.mjs` checks both paths).

use napi::bindgen_prelude::{ToNapiValue, TypeName};
use napi::{check_status, sys, ValueType};
use serde_json::Value;

/// A JSON value (or list of them) that reaches JS through `JSON.parse` when it can.
pub struct Json<T>(pub T);

/// The largest integer a JS number holds exactly (`Number.MAX_SAFE_INTEGER`).
const MAX_SAFE: u64 = (1 << 53) - 1;

/// Does `value` hold an integer a JS number cannot hold exactly?
fn has_unsafe_integer(value: &Value) -> bool {
    match value {
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => i.unsigned_abs() > MAX_SAFE,
            (None, Some(_)) => true,
            (None, None) => false,
        },
        Value::Array(items) => items.iter().any(has_unsafe_integer),
        Value::Object(map) => map.values().any(has_unsafe_integer),
        _ => false,
    }
}

/// Calls the global `JSON.parse` on `text`.
pub(super) unsafe fn json_parse(env: sys::napi_env, text: &str) -> napi::Result<sys::napi_value> {
    let mut global = std::ptr::null_mut();
    check_status!(unsafe { sys::napi_get_global(env, &mut global) })?;
    let mut json = std::ptr::null_mut();
    check_status!(unsafe {
        sys::napi_get_named_property(env, global, c"JSON".as_ptr(), &mut json)
    })?;
    let mut parse = std::ptr::null_mut();
    check_status!(unsafe {
        sys::napi_get_named_property(env, json, c"parse".as_ptr(), &mut parse)
    })?;
    let mut arg = std::ptr::null_mut();
    check_status!(unsafe {
        sys::napi_create_string_utf8(env, text.as_ptr().cast(), text.len() as isize, &mut arg)
    })?;
    let mut out = std::ptr::null_mut();
    check_status!(
        unsafe { sys::napi_call_function(env, json, parse, 1, &arg, &mut out) },
        "JSON.parse of a result failed"
    )?;
    Ok(out)
}

/// The JS value of `value`: parsed from its text, or built by napi-rs where JSON is not exact.
unsafe fn to_js(env: sys::napi_env, value: Value) -> napi::Result<sys::napi_value> {
    if has_unsafe_integer(&value) {
        return unsafe { Value::to_napi_value(env, value) };
    }
    let text = serde_json::to_string(&value)
        .map_err(|e| napi::Error::from_reason(format!("a result as JSON: {e}")))?;
    unsafe { json_parse(env, &text) }
}

impl ToNapiValue for Json<Value> {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        unsafe { to_js(env, val.0) }
    }
}

impl ToNapiValue for Json<Vec<Value>> {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        unsafe { to_js(env, Value::Array(val.0)) }
    }
}

impl<T: TypeName> TypeName for Json<T> {
    fn type_name() -> &'static str {
        T::type_name()
    }
    fn value_type() -> ValueType {
        T::value_type()
    }
}
