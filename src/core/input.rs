//! Values as a JS caller gave them, before any check, and the checks that turn them into what
//! the engine takes. napi-rs would turn `-1` into the `u32` 4294967295, `1.5` into 1, `NaN` or
//! `2**40` into 0, and refuse `'3'` or `undefined` with its own status codes; arguments that
//! arrive as an [`Input`] are checked here instead, and every refusal is
//! `PGLANE_INVALID_ARGUMENT` naming the argument and what it was.

use crate::core::error::{Error, Result};
use serde_json::{Map, Number, Value};

/// A JS value, read without interpretation.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// `undefined` (or a missing property).
    Undefined,
    /// `null`.
    Null,
    /// A boolean.
    Bool(bool),
    /// A number, as JS holds it (`NaN` and the infinities included).
    Number(f64),
    /// A string (lone surrogates arrive as U+FFFD).
    String(String),
    /// An array.
    Array(Vec<Input>),
    /// A plain object's own enumerable properties, in order.
    Object(Vec<(String, Input)>),
    /// Anything JSON has no form for: its kind (`function`, `symbol`, `bigint`, `Date`, ...).
    Other(&'static str),
}

impl Input {
    /// Is it `undefined` or `null`?
    pub fn is_absent(&self) -> bool {
        matches!(self, Input::Undefined | Input::Null)
    }

    /// What the value is, for a message: `the string "3"`, `NaN`, `-1`, `undefined`.
    pub fn describe(&self) -> String {
        match self {
            Input::Undefined => "undefined".into(),
            Input::Null => "null".into(),
            Input::Bool(b) => b.to_string(),
            Input::Number(n) if n.is_nan() => "NaN".into(),
            Input::Number(n) if n.is_infinite() => {
                if *n > 0.0 { "Infinity" } else { "-Infinity" }.into()
            }
            Input::Number(n) => format!("{n}"),
            Input::String(s) => format!("the string {:?}", s.chars().take(40).collect::<String>()),
            Input::Array(_) => "an array".into(),
            Input::Object(_) => "an object".into(),
            Input::Other(kind) => format!("a {kind}"),
        }
    }

    /// An integer within `min..=max`: a JS number with no fraction. `what` names the argument.
    pub fn integer(&self, what: &str, min: i64, max: i64) -> Result<i64> {
        match self {
            Input::Number(n) if n.fract() == 0.0 && *n >= min as f64 && *n <= max as f64 => {
                Ok(*n as i64)
            }
            other => Err(Error::invalid_argument(format!(
                "{what} must be an integer from {min} to {max}; got {}",
                other.describe()
            ))),
        }
    }

    /// A non-negative integer that fits a `u32` and is at most `max`.
    pub fn index(&self, what: &str, max: u32) -> Result<u32> {
        self.integer(what, 0, max.into()).map(|n| n as u32)
    }

    /// A finite number within `min..=max`.
    pub fn number(&self, what: &str, min: f64, max: f64) -> Result<f64> {
        match self {
            Input::Number(n) if n.is_finite() && *n >= min && *n <= max => Ok(*n),
            other => Err(Error::invalid_argument(format!(
                "{what} must be a number from {min} to {max}; got {}",
                other.describe()
            ))),
        }
    }

    /// A string.
    pub fn text(&self, what: &str) -> Result<String> {
        match self {
            Input::String(s) => Ok(s.clone()),
            other => Err(Error::invalid_argument(format!(
                "{what} must be a string; got {}",
                other.describe()
            ))),
        }
    }

    /// The value as JSON. `undefined` properties of an object are left out (as
    /// `JSON.stringify` does); `NaN`, the infinities, `undefined` elsewhere, functions,
    /// symbols and bigints are refused: JSON has no form for them, and napi-rs would fail
    /// without a PGLANE code.
    pub fn to_json(&self, what: &str) -> Result<Value> {
        let refuse = |v: &Input, at: &str| {
            Error::invalid_argument(format!(
                "{what}{at} is {}, which has no JSON form",
                v.describe()
            ))
        };
        fn go(v: &Input, at: &str, refuse: &dyn Fn(&Input, &str) -> Error) -> Result<Value> {
            Ok(match v {
                Input::Null => Value::Null,
                Input::Bool(b) => Value::Bool(*b),
                Input::Number(n) => number_json(*n).ok_or_else(|| refuse(v, at))?,
                Input::String(s) => Value::String(s.clone()),
                Input::Array(items) => Value::Array(
                    items
                        .iter()
                        .enumerate()
                        .map(|(i, item)| go(item, &format!("{at}[{i}]"), refuse))
                        .collect::<Result<_>>()?,
                ),
                Input::Object(props) => {
                    let mut map = Map::new();
                    for (k, item) in props {
                        if *item != Input::Undefined {
                            map.insert(k.clone(), go(item, &format!("{at}.{k}"), refuse)?);
                        }
                    }
                    Value::Object(map)
                }
                Input::Undefined | Input::Other(_) => return Err(refuse(v, at)),
            })
        }
        go(self, "", &refuse)
    }

    /// [`Input::to_json`] of an argument that may be left out (`undefined` or `null`).
    pub fn optional_json(&self, what: &str) -> Result<Option<Value>> {
        if self.is_absent() {
            Ok(None)
        } else {
            self.to_json(what).map(Some)
        }
    }
}

impl Input {
    /// An optional array argument as JSON values (`undefined` or `null`: `None`).
    pub fn optional_json_array(&self, what: &str) -> Result<Option<Vec<Value>>> {
        match self.optional_json(what)? {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items)),
            Some(_) => Err(Error::invalid_argument(format!(
                "{what} must be an array; got {}",
                self.describe()
            ))),
        }
    }
}

/// A finite JS number as JSON: an integer when it has no fraction and fits `i64`.
fn number_json(n: f64) -> Option<Value> {
    if !n.is_finite() {
        return None;
    }
    if n.fract() == 0.0 && n.abs() < 9.007_199_254_740_992e15 {
        return Some(Value::Number(Number::from(n as i64)));
    }
    Number::from_f64(n).map(Value::Number)
}

/// An optional argument given as an [`Input`]: `None` when absent.
pub fn optional(input: Option<&Input>) -> Option<&Input> {
    input.filter(|i| !i.is_absent())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::ErrorCode;
    use serde_json::json;

    #[test]
    fn integers_refuse_what_napi_would_wrap_or_truncate() {
        for bad in [
            Input::Number(-1.0),
            Input::Number(1.5),
            Input::Number(f64::NAN),
            Input::Number(2f64.powi(40)),
            Input::Number(f64::INFINITY),
            Input::String("3".into()),
            Input::Undefined,
        ] {
            let err = bad.index("workerIndex", u32::MAX).unwrap_err();
            assert_eq!(err.code(), ErrorCode::InvalidArgument, "{bad:?}");
            assert!(
                err.message().starts_with("workerIndex must be"),
                "{}",
                err.message()
            );
        }
        assert_eq!(Input::Number(3.0).index("n", 10).unwrap(), 3);
        assert!(Input::Number(11.0).index("n", 10).is_err());
    }

    #[test]
    fn json_refuses_what_has_no_json_form_and_names_where() {
        let key = Input::Array(vec![Input::Number(f64::NAN), Input::Number(0.0)]);
        let err = key.to_json("key").unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidArgument);
        assert!(err.message().contains("key[0] is NaN"), "{}", err.message());
        assert!(Input::Undefined.to_json("key").is_err());
        assert!(Input::Other("function").to_json("key").is_err());
        let obj = Input::Object(vec![
            ("a".into(), Input::Number(1.0)),
            ("skip".into(), Input::Undefined),
            ("b".into(), Input::Number(1.5)),
        ]);
        assert_eq!(obj.to_json("attrs").unwrap(), json!({"a": 1, "b": 1.5}));
        assert_eq!(Input::Null.optional_json("x").unwrap(), None);
    }
}
