//! Arguments on their way in. napi-rs refuses a value of the wrong type with its own status
//! codes (`InvalidArg`, `NumberExpected`, ...) and silently wraps or truncates numbers; here
//! nothing is refused without a `PGLANE_*` code:
//!
//! - [`JsInput`] reads any JS value into core's [`Input`] without judging it, for arguments
//!   whose checks core makes (numbers, keys, attributes);
//! - [`Arg`] is napi-rs' own conversion of a typed argument (a string, an options object, a
//!   class instance), whose failure becomes `PGLANE_INVALID_ARGUMENT`.
//!
//! Both build their errors with [`js_error`]. Declare the TypeScript type of such an argument
//! with `#[napi(ts_arg_type = "...")]` (or `ts_type` on an object field).

use super::error::js_error;
use crate::core::error::{Error as CoreError, ErrorCode};
use crate::core::input::Input;
use napi::bindgen_prelude::{FromNapiValue, TypeName, ValidateNapiValue};
use napi::{sys, Status, ValueType};

/// Deepest nesting read into an [`Input`] (a cycle ends here too).
const MAX_DEPTH: u32 = 64;
/// Most values read into one [`Input`].
const MAX_NODES: usize = 100_000;

/// Any JS value, as core's [`Input`].
pub struct JsInput(pub Input);

impl JsInput {
    /// The value.
    pub fn get(&self) -> &Input {
        &self.0
    }
}

impl TypeName for JsInput {
    fn type_name() -> &'static str {
        "unknown"
    }
    fn value_type() -> ValueType {
        ValueType::Unknown
    }
}

impl ValidateNapiValue for JsInput {}

impl FromNapiValue for JsInput {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> napi::Result<Self> {
        let mut budget = MAX_NODES;
        match unsafe { read(env, value, MAX_DEPTH, &mut budget) } {
            Ok(input) => Ok(JsInput(input)),
            Err(e) => Err(js_error(env, &e)),
        }
    }
}

fn napi_failed(what: &str) -> CoreError {
    CoreError::new(
        ErrorCode::Internal,
        format!("reading an argument: {what} failed"),
    )
}

fn ok(status: sys::napi_status, what: &str) -> Result<(), CoreError> {
    if status == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(napi_failed(what))
    }
}

unsafe fn read(
    env: sys::napi_env,
    value: sys::napi_value,
    depth: u32,
    budget: &mut usize,
) -> Result<Input, CoreError> {
    if *budget == 0 || depth == 0 {
        return Err(CoreError::new(
            ErrorCode::InvalidArgument,
            format!(
                "an argument is nested deeper than {MAX_DEPTH} levels or holds more than {MAX_NODES} values (a cycle?)"
            ),
        ));
    }
    *budget -= 1;
    let mut ty = 0;
    ok(unsafe { sys::napi_typeof(env, value, &mut ty) }, "typeof")?;
    Ok(match ty {
        sys::ValueType::napi_undefined => Input::Undefined,
        sys::ValueType::napi_null => Input::Null,
        sys::ValueType::napi_boolean => {
            let mut b = false;
            ok(
                unsafe { sys::napi_get_value_bool(env, value, &mut b) },
                "a boolean",
            )?;
            Input::Bool(b)
        }
        sys::ValueType::napi_number => {
            let mut n = 0f64;
            ok(
                unsafe { sys::napi_get_value_double(env, value, &mut n) },
                "a number",
            )?;
            Input::Number(n)
        }
        sys::ValueType::napi_string => Input::String(
            unsafe { String::from_napi_value(env, value) }.map_err(|_| napi_failed("a string"))?,
        ),
        sys::ValueType::napi_object => unsafe { read_object(env, value, depth, budget) }?,
        sys::ValueType::napi_function => Input::Other("function"),
        sys::ValueType::napi_symbol => Input::Other("symbol"),
        sys::ValueType::napi_bigint => Input::Other("bigint"),
        _ => Input::Other("external value"),
    })
}

unsafe fn read_object(
    env: sys::napi_env,
    value: sys::napi_value,
    depth: u32,
    budget: &mut usize,
) -> Result<Input, CoreError> {
    let mut is_array = false;
    ok(
        unsafe { sys::napi_is_array(env, value, &mut is_array) },
        "isArray",
    )?;
    if is_array {
        let mut len = 0u32;
        ok(
            unsafe { sys::napi_get_array_length(env, value, &mut len) },
            "length",
        )?;
        let mut items = Vec::with_capacity((len as usize).min(*budget));
        for i in 0..len {
            let mut item = std::ptr::null_mut();
            ok(
                unsafe { sys::napi_get_element(env, value, i, &mut item) },
                "an element",
            )?;
            items.push(unsafe { read(env, item, depth - 1, budget) }?);
        }
        return Ok(Input::Array(items));
    }
    let mut is_date = false;
    ok(
        unsafe { sys::napi_is_date(env, value, &mut is_date) },
        "isDate",
    )?;
    if is_date {
        return Ok(Input::Other("Date"));
    }
    let mut names = std::ptr::null_mut();
    ok(
        unsafe {
            sys::napi_get_all_property_names(
                env,
                value,
                sys::KeyCollectionMode::own_only,
                sys::KeyFilter::enumerable | sys::KeyFilter::skip_symbols,
                sys::KeyConversion::numbers_to_strings,
                &mut names,
            )
        },
        "property names",
    )?;
    let mut len = 0u32;
    ok(
        unsafe { sys::napi_get_array_length(env, names, &mut len) },
        "length",
    )?;
    let mut props = Vec::with_capacity((len as usize).min(*budget));
    for i in 0..len {
        let mut name = std::ptr::null_mut();
        ok(
            unsafe { sys::napi_get_element(env, names, i, &mut name) },
            "a name",
        )?;
        let key =
            unsafe { String::from_napi_value(env, name) }.map_err(|_| napi_failed("a name"))?;
        let mut item = std::ptr::null_mut();
        ok(
            unsafe { sys::napi_get_property(env, value, name, &mut item) },
            "a property",
        )?;
        props.push((key, unsafe { read(env, item, depth - 1, budget) }?));
    }
    Ok(Input::Object(props))
}

/// A typed argument converted by napi-rs; a value napi-rs cannot convert is refused with
/// `PGLANE_INVALID_ARGUMENT` instead of napi-rs' status code.
pub struct Arg<T>(pub T);

impl<T: TypeName> TypeName for Arg<T> {
    fn type_name() -> &'static str {
        T::type_name()
    }
    fn value_type() -> ValueType {
        T::value_type()
    }
}

impl<T: ValidateNapiValue> ValidateNapiValue for Arg<T> {}

/// napi-rs' statuses for a value of the wrong type (an error pglane made itself, e.g. in a
/// nested [`Arg`] or [`JsInput`], passes through unchanged).
fn is_type_error(status: &Status) -> bool {
    matches!(
        status,
        Status::InvalidArg
            | Status::ObjectExpected
            | Status::StringExpected
            | Status::NameExpected
            | Status::FunctionExpected
            | Status::NumberExpected
            | Status::BooleanExpected
            | Status::ArrayExpected
            | Status::BigintExpected
            | Status::DateExpected
            | Status::ArrayBufferExpected
            | Status::DetachableArraybufferExpected
    )
}

impl<T: FromNapiValue + TypeName> FromNapiValue for Arg<T> {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> napi::Result<Self> {
        // napi-rs reads an options object's properties from whatever it is given: a number
        // would pass as an object with no properties. An object is what the type says.
        let converted = if T::value_type() == ValueType::Object && !unsafe { is_object(env, value) }
        {
            Err(napi::Error::new(
                Status::ObjectExpected,
                "an object was expected",
            ))
        } else {
            unsafe { T::from_napi_value(env, value) }
        };
        match converted {
            Ok(v) => Ok(Arg(v)),
            Err(e) if is_type_error(&e.status) => {
                let got = unsafe { kind_of(env, value) };
                let rust = std::any::type_name::<T>();
                let name = rust
                    .rsplit("::")
                    .next()
                    .unwrap_or(rust)
                    .trim_end_matches('>');
                let message = match name {
                    "String" => format!("expected a string, got {got}"),
                    _ if got == "an object" => format!("{name}: {}", e.reason),
                    _ => format!("expected {name} (an object), got {got}"),
                };
                Err(js_error(
                    env,
                    &CoreError::new(ErrorCode::InvalidArgument, message),
                ))
            }
            Err(e) => Err(e),
        }
    }
}

/// Is the value an object (arrays and class instances included)?
unsafe fn is_object(env: sys::napi_env, value: sys::napi_value) -> bool {
    let mut ty = 0;
    let status = unsafe { sys::napi_typeof(env, value, &mut ty) };
    status == sys::Status::napi_ok && ty == sys::ValueType::napi_object
}

/// The JS type of a value, for a message (`a number`, `undefined`, `an object`).
unsafe fn kind_of(env: sys::napi_env, value: sys::napi_value) -> String {
    let mut ty = 0;
    if unsafe { sys::napi_typeof(env, value, &mut ty) } != sys::Status::napi_ok {
        return "a value of another type".into();
    }
    match ty {
        sys::ValueType::napi_undefined => "undefined",
        sys::ValueType::napi_null => "null",
        sys::ValueType::napi_boolean => "a boolean",
        sys::ValueType::napi_number => "a number",
        sys::ValueType::napi_string => "a string",
        sys::ValueType::napi_symbol => "a symbol",
        sys::ValueType::napi_object => "an object",
        sys::ValueType::napi_function => "a function",
        sys::ValueType::napi_bigint => "a bigint",
        _ => "an external value",
    }
    .into()
}

impl<T> std::ops::Deref for Arg<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}
