//! CHECK constraints as inference reads them: the text `pg_get_constraintdef` prints, parsed
//! into a small expression tree, evaluated against candidate values with SQL's three-valued
//! logic, and mined for the literals a column is compared with (the hints values are made
//! from). What it cannot read evaluates to "unknown", which never rules a value out: Postgres
//! has the last word, and its error names the constraint.

use regex::Regex;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

/// A value while checking: what a column would hold.
#[derive(Debug, Clone, PartialEq)]
pub enum V {
    /// SQL NULL.
    Null,
    /// A value pglane does not know (a database default, a key the database generates).
    Unknown,
    /// A boolean.
    Bool(bool),
    /// A number of any numeric type.
    Num(f64),
    /// Text (also uuid, inet and other types compared by their text form).
    Text(String),
    /// A point in time, seconds since 1970 (UTC).
    Time(f64),
    /// An interval, in seconds.
    Interval(f64),
    /// An array.
    Array(Vec<V>),
    /// A json or jsonb value.
    Json(Value),
}

impl V {
    fn is_unknown(&self) -> bool {
        matches!(self, V::Unknown)
    }
}

/// An expression of a CHECK constraint.
#[derive(Debug, Clone)]
pub enum Expr {
    /// A column (or `VALUE` in a domain's check).
    Col(String),
    /// A literal.
    Lit(V),
    /// `expr::type`.
    Cast(Box<Expr>, String),
    /// `name(args)`.
    Func(String, Vec<Expr>),
    /// `NOT expr`.
    Not(Box<Expr>),
    /// `- expr`.
    Neg(Box<Expr>),
    /// `a AND b AND ...`.
    And(Vec<Expr>),
    /// `a OR b OR ...`.
    Or(Vec<Expr>),
    /// A binary operator: comparisons, `~~` (LIKE), `~` (regex), `||`, arithmetic.
    Op(String, Box<Expr>, Box<Expr>),
    /// `expr IS [NOT] NULL`; the flag is `NOT`.
    IsNull(Box<Expr>, bool),
    /// `expr IS [NOT] TRUE|FALSE`: (value, negated).
    IsBool(Box<Expr>, bool, bool),
    /// `left op ANY|ALL (array)`: (op, all?, left, array).
    Quantified(String, bool, Box<Expr>, Box<Expr>),
    /// `ARRAY[...]`.
    Array(Vec<Expr>),
    /// Something this reader does not understand.
    Unknown,
}

/// A CHECK constraint, read.
#[derive(Debug, Clone)]
pub struct Check {
    /// The constraint's name.
    pub name: String,
    /// Its text as Postgres prints it.
    pub text: String,
    /// The expression (or [`Expr::Unknown`] when the text could not be read).
    pub expr: Arc<Expr>,
    /// Did the whole text parse?
    pub readable: bool,
    /// The columns the expression reads.
    columns: Arc<BTreeSet<String>>,
}

/// A check's text, parsed: the expression, whether all of it was read, the columns it reads.
type Parsed = (Arc<Expr>, bool, Arc<BTreeSet<String>>);

impl Check {
    /// Reads `CHECK (...)` text; `value_column` replaces `VALUE` (a domain's checks). Each text
    /// is parsed once per process: factories read the same checks for every row.
    pub fn parse(name: &str, text: &str, value_column: Option<&str>) -> Check {
        // Keyed by the text, after `value_column` and a NUL for a domain's checks: a table's
        // checks are looked up without building a key.
        static PARSED: OnceLock<Mutex<HashMap<String, Parsed>>> = OnceLock::new();
        let domain_key = value_column.map(|v| format!("{v}\u{0}{text}"));
        let key = domain_key.as_deref().unwrap_or(text);
        let cache = PARSED.get_or_init(Default::default);
        let found = cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .cloned();
        let (expr, readable, columns) = found.unwrap_or_else(|| {
            let parsed = parse_check(text, value_column);
            let readable = parsed
                .as_ref()
                .map(|e| !contains_unknown(e))
                .unwrap_or(false);
            let expr = parsed.unwrap_or(Expr::Unknown);
            let mut columns = BTreeSet::new();
            collect_columns(&expr, &mut columns);
            let entry = (Arc::new(expr), readable, Arc::new(columns));
            let mut map = cache.lock().unwrap_or_else(|p| p.into_inner());
            if map.len() > 10_000 {
                map.clear();
            }
            map.insert(key.to_string(), entry.clone());
            entry
        });
        Check {
            name: name.to_string(),
            text: text.to_string(),
            readable,
            expr,
            columns,
        }
    }

    /// The columns the check reads.
    pub fn columns(&self) -> &BTreeSet<String> {
        &self.columns
    }

    /// Does the check hold for the values `env` gives (NULL and unknown hold: only a definite
    /// false fails)?
    pub fn holds(&self, env: &dyn Fn(&str) -> V, now: f64) -> bool {
        eval(&self.expr, env, now) != V::Bool(false)
    }

    /// Does it certainly hold (true, or NULL: not unknown)?
    pub fn certainly_holds(&self, env: &dyn Fn(&str) -> V, now: f64) -> bool {
        matches!(eval(&self.expr, env, now), V::Bool(true) | V::Null)
    }

    /// What the check says about `column`: the literals it is compared with.
    pub fn hints(&self, column: &str) -> Vec<Hint> {
        let mut out = Vec::new();
        collect_hints(&self.expr, column, &mut out);
        out
    }
}

/// Something a check says about a column, from which candidate values are made.
#[derive(Debug, Clone, PartialEq)]
pub enum Hint {
    /// `col = v`, `col = ANY (ARRAY[...])`.
    OneOf(Vec<V>),
    /// `col <> v`, `col <> ALL (...)`.
    NoneOf(Vec<V>),
    /// `col >= v` (true) or `col > v` (false).
    Above(V, bool),
    /// `col <= v` (true) or `col < v` (false).
    Below(V, bool),
    /// `length(col) >= n`.
    MinLength(usize),
    /// `length(col) <= n`.
    MaxLength(usize),
    /// `col LIKE pattern`.
    Like(String),
    /// `col ~ pattern` (case-insensitive when true).
    Regex(String, bool),
    /// `col IS NOT NULL`.
    NotNull,
    /// `col > other column` and the like: (operator, other column).
    Compared(String, String),
}

fn contains_unknown(e: &Expr) -> bool {
    match e {
        Expr::Unknown => true,
        Expr::Col(_) | Expr::Lit(_) => false,
        Expr::Cast(x, _) | Expr::Not(x) | Expr::Neg(x) | Expr::IsNull(x, _) => contains_unknown(x),
        Expr::IsBool(x, _, _) => contains_unknown(x),
        Expr::Func(name, args) => {
            !KNOWN_FUNCS.contains(&name.as_str()) || args.iter().any(contains_unknown)
        }
        Expr::And(xs) | Expr::Or(xs) | Expr::Array(xs) => xs.iter().any(contains_unknown),
        Expr::Op(op, a, b) => {
            !KNOWN_OPS.contains(&op.as_str()) || contains_unknown(a) || contains_unknown(b)
        }
        Expr::Quantified(op, _, a, b) => {
            !KNOWN_OPS.contains(&op.as_str()) || contains_unknown(a) || contains_unknown(b)
        }
    }
}

const KNOWN_FUNCS: &[&str] = &[
    "length",
    "char_length",
    "character_length",
    "octet_length",
    "lower",
    "upper",
    "btrim",
    "ltrim",
    "rtrim",
    "jsonb_typeof",
    "json_typeof",
    "cardinality",
    "array_length",
    "num_nonnulls",
    "num_nulls",
    "coalesce",
    "now",
    "abs",
];

const KNOWN_OPS: &[&str] = &[
    "=", "<>", "!=", "<", "<=", ">", ">=", "~~", "~~*", "!~~", "!~~*", "~", "~*", "!~", "!~*",
    "||", "+", "-", "*", "/", "%",
];

fn collect_columns(e: &Expr, out: &mut BTreeSet<String>) {
    match e {
        Expr::Col(c) => {
            out.insert(c.clone());
        }
        Expr::Lit(_) | Expr::Unknown => {}
        Expr::Cast(x, _)
        | Expr::Not(x)
        | Expr::Neg(x)
        | Expr::IsNull(x, _)
        | Expr::IsBool(x, _, _) => collect_columns(x, out),
        Expr::Func(_, xs) | Expr::And(xs) | Expr::Or(xs) | Expr::Array(xs) => {
            xs.iter().for_each(|x| collect_columns(x, out))
        }
        Expr::Op(_, a, b) | Expr::Quantified(_, _, a, b) => {
            collect_columns(a, out);
            collect_columns(b, out);
        }
    }
}

/// The column an expression is, through casts, `lower()`/`upper()`, `TRIM` and `COLLATE`.
fn column_of(e: &Expr) -> Option<&str> {
    match e {
        Expr::Col(c) => Some(c),
        Expr::Cast(x, _) => column_of(x),
        Expr::Func(f, args)
            if args.len() == 1
                && matches!(f.as_str(), "lower" | "upper" | "btrim" | "ltrim" | "rtrim") =>
        {
            column_of(&args[0])
        }
        _ => None,
    }
}

/// The literal an expression is (casts applied), if it is one.
fn literal_of(e: &Expr) -> Option<V> {
    match e {
        Expr::Lit(v) => Some(v.clone()),
        Expr::Cast(..) | Expr::Neg(_) | Expr::Array(_) => {
            let v = eval(e, &|_| V::Unknown, 0.0);
            (!v.is_unknown()).then_some(v)
        }
        _ => None,
    }
}

fn flip(op: &str) -> &str {
    match op {
        "<" => ">",
        "<=" => ">=",
        ">" => "<",
        ">=" => "<=",
        other => other,
    }
}

fn collect_hints(e: &Expr, column: &str, out: &mut Vec<Hint>) {
    match e {
        Expr::And(xs) | Expr::Or(xs) => xs.iter().for_each(|x| collect_hints(x, column, out)),
        Expr::Not(x) => {
            if let Expr::IsNull(inner, false) = &**x {
                if column_of(inner) == Some(column) {
                    out.push(Hint::NotNull);
                }
            }
        }
        Expr::IsNull(x, true) if column_of(x) == Some(column) => out.push(Hint::NotNull),
        Expr::Op(op, a, b) => {
            let (op, col_side, other) = if column_of(a) == Some(column) {
                (op.as_str(), a, b)
            } else if column_of(b) == Some(column) {
                (flip(op), b, a)
            } else {
                // length(col) op n
                let length_of = |x: &Expr| match x {
                    Expr::Func(f, args)
                        if args.len() == 1
                            && matches!(
                                f.as_str(),
                                "length" | "char_length" | "character_length" | "octet_length"
                            ) =>
                    {
                        column_of(&args[0]) == Some(column)
                    }
                    _ => false,
                };
                let (op, n) = if length_of(a) {
                    (op.as_str(), literal_of(b))
                } else if length_of(b) {
                    (flip(op), literal_of(a))
                } else {
                    return;
                };
                if let Some(V::Num(n)) = n {
                    let n = n.max(0.0) as usize;
                    match op {
                        ">" => out.push(Hint::MinLength(n + 1)),
                        ">=" => out.push(Hint::MinLength(n)),
                        "<" => out.push(Hint::MaxLength(n.saturating_sub(1))),
                        "<=" => out.push(Hint::MaxLength(n)),
                        "=" => {
                            out.push(Hint::MinLength(n));
                            out.push(Hint::MaxLength(n));
                        }
                        _ => {}
                    }
                }
                return;
            };
            let _ = col_side;
            if let Some(other_col) = column_of(other) {
                out.push(Hint::Compared(op.to_string(), other_col.to_string()));
                return;
            }
            let Some(lit) = literal_of(other) else {
                return;
            };
            match op {
                "=" => out.push(Hint::OneOf(vec![lit])),
                "<>" | "!=" => out.push(Hint::NoneOf(vec![lit])),
                ">" => out.push(Hint::Above(lit, false)),
                ">=" => out.push(Hint::Above(lit, true)),
                "<" => out.push(Hint::Below(lit, false)),
                "<=" => out.push(Hint::Below(lit, true)),
                "~~" | "~~*" => {
                    if let V::Text(p) = lit {
                        out.push(Hint::Like(p))
                    }
                }
                "~" | "~*" => {
                    if let V::Text(p) = lit {
                        out.push(Hint::Regex(p, op == "~*"))
                    }
                }
                _ => {}
            }
        }
        Expr::Quantified(op, all, a, b) if column_of(a) == Some(column) => {
            if let Some(V::Array(items)) = literal_of(b) {
                match (op.as_str(), all) {
                    ("=", false) => out.push(Hint::OneOf(items)),
                    ("<>" | "!=", true) => out.push(Hint::NoneOf(items)),
                    _ => {}
                }
            }
        }
        _ => {}
    }
}

// ---- Evaluation ---------------------------------------------------------------------------

fn truth(v: &V) -> Option<bool> {
    match v {
        V::Bool(b) => Some(*b),
        _ => None,
    }
}

fn not(v: V) -> V {
    match v {
        V::Bool(b) => V::Bool(!b),
        V::Null => V::Null,
        _ => V::Unknown,
    }
}

fn as_num(v: &V) -> Option<f64> {
    match v {
        V::Num(n) => Some(*n),
        V::Text(t) => t.trim().parse::<f64>().ok(),
        V::Bool(b) => Some(f64::from(u8::from(*b))),
        _ => None,
    }
}

const NUMERIC_TYPES: &[&str] = &[
    "integer",
    "bigint",
    "smallint",
    "numeric",
    "real",
    "double precision",
    "int",
    "int2",
    "int4",
    "int8",
    "float4",
    "float8",
    "decimal",
];

fn cast(v: V, ty: &str) -> V {
    let base = ty.split('(').next().unwrap_or(ty).trim().trim_matches('"');
    if v == V::Null || v.is_unknown() {
        return v;
    }
    if ty.ends_with("[]") {
        return match v {
            V::Array(_) => v,
            _ => V::Unknown,
        };
    }
    if NUMERIC_TYPES.contains(&base) {
        return as_num(&v).map(V::Num).unwrap_or(V::Unknown);
    }
    match base {
        "text" | "character varying" | "character" | "varchar" | "bpchar" | "citext" | "name" => {
            match v {
                V::Text(_) => v,
                V::Num(n) => V::Text(format_num(n)),
                V::Bool(b) => V::Text(b.to_string()),
                _ => V::Unknown,
            }
        }
        "boolean" | "bool" => match &v {
            V::Bool(_) => v,
            V::Text(t) => match t.to_ascii_lowercase().as_str() {
                "t" | "true" | "yes" | "on" | "1" => V::Bool(true),
                "f" | "false" | "no" | "off" | "0" => V::Bool(false),
                _ => V::Unknown,
            },
            _ => V::Unknown,
        },
        "interval" => match &v {
            V::Text(t) => parse_interval(t).map(V::Interval).unwrap_or(V::Unknown),
            V::Interval(_) => v,
            _ => V::Unknown,
        },
        b if b.starts_with("timestamp") || b == "date" => match &v {
            V::Text(t) => parse_time(t).map(V::Time).unwrap_or(V::Unknown),
            V::Time(_) => v,
            _ => V::Unknown,
        },
        "jsonb" | "json" => match &v {
            V::Text(t) => serde_json::from_str(t).map(V::Json).unwrap_or(V::Unknown),
            V::Json(_) => v,
            _ => V::Unknown,
        },
        _ => v,
    }
}

fn format_num(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

fn compare(op: &str, a: &V, b: &V) -> V {
    use std::cmp::Ordering;
    if *a == V::Null || *b == V::Null {
        return V::Null;
    }
    if a.is_unknown() || b.is_unknown() {
        return V::Unknown;
    }
    let ord: Option<Ordering> = match (a, b) {
        (V::Text(x), V::Text(y)) => Some(x.as_str().cmp(y.as_str())),
        (V::Bool(x), V::Bool(y)) => Some(x.cmp(y)),
        (V::Time(x), V::Time(y)) | (V::Interval(x), V::Interval(y)) => x.partial_cmp(y),
        (V::Json(x), V::Json(y)) if matches!(op, "=" | "<>" | "!=") => Some(if x == y {
            Ordering::Equal
        } else {
            Ordering::Less
        }),
        _ => match (as_num(a), as_num(b)) {
            (Some(x), Some(y)) if !matches!((a, b), (V::Text(_), V::Text(_))) => x.partial_cmp(&y),
            _ => None,
        },
    };
    let Some(ord) = ord else {
        return V::Unknown;
    };
    V::Bool(match op {
        "=" => ord == Ordering::Equal,
        "<>" | "!=" => ord != Ordering::Equal,
        "<" => ord == Ordering::Less,
        "<=" => ord != Ordering::Greater,
        ">" => ord == Ordering::Greater,
        ">=" => ord != Ordering::Less,
        _ => return V::Unknown,
    })
}

/// A LIKE pattern as an anchored regular expression (`%` any run, `_` one character, `\`
/// escapes).
pub fn like_to_regex(pattern: &str) -> String {
    let mut out = String::from("(?s)^");
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '%' => out.push_str(".*"),
            '_' => out.push('.'),
            '\\' => {
                if let Some(n) = chars.next() {
                    out.push_str(&regex::escape(&n.to_string()));
                }
            }
            c => out.push_str(&regex::escape(&c.to_string())),
        }
    }
    out.push('$');
    out
}

/// Does `text` match a Postgres regular expression? `None` when the pattern uses what Rust's
/// regex engine does not have (back-references, `\m`, ...).
pub fn regex_matches(pattern: &str, text: &str, case_insensitive: bool) -> Option<bool> {
    // Compiled once per process: the same checks are evaluated for every row.
    static COMPILED: OnceLock<Mutex<HashMap<String, Option<Regex>>>> = OnceLock::new();
    let p = if case_insensitive {
        format!("(?i){pattern}")
    } else {
        pattern.to_string()
    };
    let cache = COMPILED.get_or_init(Default::default);
    let mut map = cache.lock().unwrap_or_else(|p| p.into_inner());
    if map.len() > 1_000 {
        map.clear();
    }
    map.entry(p.clone())
        .or_insert_with(|| Regex::new(&p).ok())
        .as_ref()
        .map(|r| r.is_match(text))
}

fn text_op(op: &str, a: &V, b: &V) -> V {
    match (a, b) {
        (V::Null, _) | (_, V::Null) => V::Null,
        (V::Text(t), V::Text(p)) => {
            let negated = op.starts_with('!');
            let ci = op.ends_with('*');
            let matched = if op.contains("~~") {
                regex_matches(&like_to_regex(p), t, ci)
            } else {
                regex_matches(p, t, ci)
            };
            match matched {
                Some(m) => V::Bool(m != negated),
                None => V::Unknown,
            }
        }
        _ => V::Unknown,
    }
}

fn arith(op: &str, a: &V, b: &V) -> V {
    match (a, b) {
        (V::Null, _) | (_, V::Null) => V::Null,
        (V::Time(t), V::Interval(i)) | (V::Interval(i), V::Time(t)) if op == "+" => V::Time(t + i),
        (V::Time(t), V::Interval(i)) if op == "-" => V::Time(t - i),
        (V::Time(x), V::Time(y)) if op == "-" => V::Interval(x - y),
        _ if op == "||" => match (a, b) {
            (V::Text(l), V::Text(r)) => V::Text(format!("{l}{r}")),
            (V::Text(l), V::Num(n)) => V::Text(format!("{l}{}", format_num(*n))),
            (V::Num(n), V::Text(r)) => V::Text(format!("{}{r}", format_num(*n))),
            _ => V::Unknown,
        },
        _ => match (as_num(a), as_num(b)) {
            (Some(x), Some(y)) => match op {
                "+" => V::Num(x + y),
                "-" => V::Num(x - y),
                "*" => V::Num(x * y),
                "/" if y != 0.0 => V::Num(x / y),
                "%" if y != 0.0 => V::Num(x % y),
                _ => V::Unknown,
            },
            _ => V::Unknown,
        },
    }
}

fn func(name: &str, args: Vec<V>, now: f64) -> V {
    let one = args.first().cloned().unwrap_or(V::Unknown);
    match (name, args.len()) {
        ("now", 0) => V::Time(now),
        ("num_nonnulls", _) | ("num_nulls", _) => {
            if args.iter().any(V::is_unknown) {
                return V::Unknown;
            }
            let nulls = args.iter().filter(|a| **a == V::Null).count();
            V::Num(if name == "num_nulls" {
                nulls
            } else {
                args.len() - nulls
            } as f64)
        }
        ("coalesce", _) => {
            for a in args {
                match a {
                    V::Null => continue,
                    other => return other,
                }
            }
            V::Null
        }
        (_, _) if one == V::Null => V::Null,
        (_, _) if one.is_unknown() => V::Unknown,
        ("length" | "char_length" | "character_length", 1) => match one {
            V::Text(t) => V::Num(t.chars().count() as f64),
            _ => V::Unknown,
        },
        ("octet_length", 1) => match one {
            V::Text(t) => V::Num(t.len() as f64),
            _ => V::Unknown,
        },
        ("lower", 1) => match one {
            V::Text(t) => V::Text(t.to_lowercase()),
            _ => V::Unknown,
        },
        ("upper", 1) => match one {
            V::Text(t) => V::Text(t.to_uppercase()),
            _ => V::Unknown,
        },
        ("btrim", 1) => match one {
            V::Text(t) => V::Text(t.trim_matches(' ').to_string()),
            _ => V::Unknown,
        },
        ("ltrim", 1) => match one {
            V::Text(t) => V::Text(t.trim_start_matches(' ').to_string()),
            _ => V::Unknown,
        },
        ("rtrim", 1) => match one {
            V::Text(t) => V::Text(t.trim_end_matches(' ').to_string()),
            _ => V::Unknown,
        },
        ("abs", 1) => as_num(&one).map(|n| V::Num(n.abs())).unwrap_or(V::Unknown),
        ("jsonb_typeof" | "json_typeof", 1) => match one {
            V::Json(j) => V::Text(
                match j {
                    Value::Object(_) => "object",
                    Value::Array(_) => "array",
                    Value::String(_) => "string",
                    Value::Number(_) => "number",
                    Value::Bool(_) => "boolean",
                    Value::Null => "null",
                }
                .to_string(),
            ),
            _ => V::Unknown,
        },
        ("cardinality", 1) => match one {
            V::Array(a) => V::Num(a.len() as f64),
            _ => V::Unknown,
        },
        ("array_length", 2) => match (one, &args[1]) {
            (V::Array(a), V::Num(d)) if *d == 1.0 => {
                if a.is_empty() {
                    V::Null
                } else {
                    V::Num(a.len() as f64)
                }
            }
            _ => V::Unknown,
        },
        _ => V::Unknown,
    }
}

/// Evaluates `e` with column values from `env`; `now` is the time `now()` stands for.
pub fn eval(e: &Expr, env: &dyn Fn(&str) -> V, now: f64) -> V {
    match e {
        Expr::Col(c) => env(c),
        Expr::Lit(v) => v.clone(),
        Expr::Cast(x, ty) => cast(eval(x, env, now), ty),
        Expr::Func(name, args) => func(name, args.iter().map(|a| eval(a, env, now)).collect(), now),
        Expr::Not(x) => not(eval(x, env, now)),
        Expr::Neg(x) => match eval(x, env, now) {
            V::Num(n) => V::Num(-n),
            V::Interval(n) => V::Interval(-n),
            V::Null => V::Null,
            _ => V::Unknown,
        },
        Expr::And(xs) => {
            let mut result = V::Bool(true);
            for x in xs {
                match eval(x, env, now) {
                    V::Bool(false) => return V::Bool(false),
                    V::Bool(true) => {}
                    V::Null if result != V::Unknown => result = V::Null,
                    V::Null => {}
                    _ => result = V::Unknown,
                }
            }
            result
        }
        Expr::Or(xs) => {
            let mut result = V::Bool(false);
            for x in xs {
                match eval(x, env, now) {
                    V::Bool(true) => return V::Bool(true),
                    V::Bool(false) => {}
                    V::Null if result != V::Unknown => result = V::Null,
                    V::Null => {}
                    _ => result = V::Unknown,
                }
            }
            result
        }
        Expr::IsNull(x, negated) => match eval(x, env, now) {
            V::Unknown => V::Unknown,
            V::Null => V::Bool(!negated),
            _ => V::Bool(*negated),
        },
        Expr::IsBool(x, value, negated) => match eval(x, env, now) {
            V::Unknown => V::Unknown,
            v => V::Bool((truth(&v) == Some(*value)) != *negated),
        },
        Expr::Op(op, a, b) => {
            let (a, b) = (eval(a, env, now), eval(b, env, now));
            match op.as_str() {
                "=" | "<>" | "!=" | "<" | "<=" | ">" | ">=" => compare(op, &a, &b),
                "~~" | "~~*" | "!~~" | "!~~*" | "~" | "~*" | "!~" | "!~*" => text_op(op, &a, &b),
                "+" | "-" | "*" | "/" | "%" | "||" => arith(op, &a, &b),
                _ => V::Unknown,
            }
        }
        Expr::Quantified(op, all, a, b) => {
            let left = eval(a, env, now);
            let V::Array(items) = eval(b, env, now) else {
                return V::Unknown;
            };
            let results = items.iter().map(|i| match op.as_str() {
                "~~" | "~~*" | "!~~" | "!~~*" | "~" | "~*" | "!~" | "!~*" => text_op(op, &left, i),
                _ => compare(op, &left, i),
            });
            let exprs: Vec<Expr> = results.map(Expr::Lit).collect();
            if *all {
                eval(&Expr::And(exprs), env, now)
            } else {
                eval(&Expr::Or(exprs), env, now)
            }
        }
        Expr::Array(xs) => V::Array(xs.iter().map(|x| eval(x, env, now)).collect()),
        Expr::Unknown => V::Unknown,
    }
}

/// Seconds of an interval literal: `1 day`, `00:03:00`, `2 hours 30 mins`, `-1 days`.
pub fn parse_interval(text: &str) -> Option<f64> {
    let mut total = 0.0;
    let mut words = text.split_whitespace().peekable();
    let mut any = false;
    while let Some(w) = words.next() {
        if w.contains(':') {
            let neg = w.starts_with('-');
            let parts: Vec<f64> = w
                .trim_start_matches('-')
                .split(':')
                .map(|p| p.parse::<f64>())
                .collect::<std::result::Result<_, _>>()
                .ok()?;
            let secs = match parts.as_slice() {
                [h, m] => h * 3600.0 + m * 60.0,
                [h, m, s] => h * 3600.0 + m * 60.0 + s,
                _ => return None,
            };
            total += if neg { -secs } else { secs };
            any = true;
            continue;
        }
        let n: f64 = w.parse().ok()?;
        let unit = words.next()?.trim_end_matches('s').to_ascii_lowercase();
        let scale = match unit.as_str() {
            "microsecond" | "usec" | "u" => 1e-6,
            "millisecond" | "msec" | "ms" => 1e-3,
            "second" | "sec" => 1.0,
            "minute" | "min" => 60.0,
            "hour" | "hr" => 3600.0,
            "day" => 86_400.0,
            "week" => 604_800.0,
            "mon" | "month" => 2_592_000.0,
            "year" | "yr" => 31_536_000.0,
            _ => return None,
        };
        total += n * scale;
        any = true;
    }
    any.then_some(total)
}

/// Seconds since 1970 of `YYYY-MM-DD[ HH:MM[:SS[.f]]][+HH[:MM]]` (UTC when no offset).
pub fn parse_time(text: &str) -> Option<f64> {
    let t = text.trim();
    let (date, rest) = t.split_at(t.find([' ', 'T']).unwrap_or(t.len()));
    let mut d = date.split('-');
    let (y, m, day): (i64, i64, i64) = (
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
    );
    if d.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&day) {
        return None;
    }
    // Days from civil (Howard Hinnant).
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let mut secs = days as f64 * 86_400.0;
    let rest = rest.trim_start_matches([' ', 'T']);
    if !rest.is_empty() {
        let split = rest.find(['+', '-', 'Z']).unwrap_or(rest.len());
        let (clock, zone) = rest.split_at(split);
        let parts: Vec<f64> = clock
            .split(':')
            .map(|p| p.parse::<f64>().unwrap_or(0.0))
            .collect();
        secs += parts.first().copied().unwrap_or(0.0) * 3600.0
            + parts.get(1).copied().unwrap_or(0.0) * 60.0
            + parts.get(2).copied().unwrap_or(0.0);
        if let Some(sign) = zone.chars().next().filter(|c| *c == '+' || *c == '-') {
            let z: Vec<f64> = zone[1..]
                .split(':')
                .map(|p| p.parse::<f64>().unwrap_or(0.0))
                .collect();
            let off = z.first().copied().unwrap_or(0.0) * 3600.0
                + z.get(1).copied().unwrap_or(0.0) * 60.0;
            secs -= if sign == '+' { off } else { -off };
        }
    }
    Some(secs)
}

// ---- Parsing ------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// An identifier (quoted ones unquoted) and whether it was quoted.
    Ident(String, bool),
    /// A string literal, unescaped.
    Str(String),
    Num(String),
    Op(String),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Dot,
    Cast,
}

fn tokenize(s: &str) -> Option<Vec<Tok>> {
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push(Tok::LParen);
                i += 1
            }
            ')' => {
                out.push(Tok::RParen);
                i += 1
            }
            '[' => {
                out.push(Tok::LBracket);
                i += 1
            }
            ']' => {
                out.push(Tok::RBracket);
                i += 1
            }
            ',' => {
                out.push(Tok::Comma);
                i += 1
            }
            ':' if chars.get(i + 1) == Some(&':') => {
                out.push(Tok::Cast);
                i += 2
            }
            '.' if !chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()) => {
                out.push(Tok::Dot);
                i += 1
            }
            '"' => {
                let mut id = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return None,
                        Some('"') if chars.get(i + 1) == Some(&'"') => {
                            id.push('"');
                            i += 2
                        }
                        Some('"') => {
                            i += 1;
                            break;
                        }
                        Some(ch) => {
                            id.push(*ch);
                            i += 1
                        }
                    }
                }
                out.push(Tok::Ident(id, true));
            }
            '\'' | 'E' | 'e' if c == '\'' || chars.get(i + 1) == Some(&'\'') => {
                let escaped = c != '\'';
                i += if escaped { 2 } else { 1 };
                let mut lit = String::new();
                loop {
                    match chars.get(i) {
                        None => return None,
                        Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                            lit.push('\'');
                            i += 2
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some('\\') if escaped => {
                            let n = *chars.get(i + 1)?;
                            lit.push(match n {
                                'n' => '\n',
                                't' => '\t',
                                'r' => '\r',
                                other => other,
                            });
                            i += 2
                        }
                        Some(ch) => {
                            lit.push(*ch);
                            i += 1
                        }
                    }
                }
                out.push(Tok::Str(lit));
            }
            c if c.is_ascii_digit()
                || (c == '.' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit())) =>
            {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_ascii_digit()
                        || chars[i] == '.'
                        || ((chars[i] == 'e' || chars[i] == 'E')
                            && chars
                                .get(i + 1)
                                .is_some_and(|d| d.is_ascii_digit() || *d == '-' || *d == '+')))
                {
                    if chars[i] == 'e' || chars[i] == 'E' {
                        i += 1;
                    }
                    i += 1;
                }
                out.push(Tok::Num(chars[start..i].iter().collect()));
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$')
                {
                    i += 1;
                }
                out.push(Tok::Ident(chars[start..i].iter().collect(), false));
            }
            c if "+-*/<>=~!@#%^&|`?".contains(c) => {
                let start = i;
                while i < chars.len() && "+-*/<>=~!@#%^&|`?".contains(chars[i]) {
                    i += 1;
                }
                out.push(Tok::Op(chars[start..i].iter().collect()));
            }
            _ => return None,
        }
    }
    Some(out)
}

struct Parser<'a> {
    toks: Vec<Tok>,
    pos: usize,
    value_column: Option<&'a str>,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }
    fn keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(w, false)) if w == kw)
    }
    fn eat_keyword(&mut self, kw: &str) -> bool {
        if self.keyword(kw) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn expect(&mut self, t: Tok) -> Option<()> {
        (self.next()? == t).then_some(())
    }

    fn or(&mut self) -> Option<Expr> {
        let mut items = vec![self.and()?];
        while self.eat_keyword("OR") {
            items.push(self.and()?);
        }
        Some(if items.len() == 1 {
            items.pop()?
        } else {
            Expr::Or(items)
        })
    }

    fn and(&mut self) -> Option<Expr> {
        let mut items = vec![self.not()?];
        while self.eat_keyword("AND") {
            items.push(self.not()?);
        }
        Some(if items.len() == 1 {
            items.pop()?
        } else {
            Expr::And(items)
        })
    }

    fn not(&mut self) -> Option<Expr> {
        if self.eat_keyword("NOT") {
            return Some(Expr::Not(Box::new(self.not()?)));
        }
        self.is()
    }

    fn is(&mut self) -> Option<Expr> {
        let mut e = self.comparison()?;
        while self.eat_keyword("IS") {
            let negated = self.eat_keyword("NOT");
            e = if self.eat_keyword("NULL") {
                Expr::IsNull(Box::new(e), negated)
            } else if self.eat_keyword("TRUE") {
                Expr::IsBool(Box::new(e), true, negated)
            } else if self.eat_keyword("FALSE") {
                Expr::IsBool(Box::new(e), false, negated)
            } else if self.eat_keyword("DISTINCT") {
                self.eat_keyword("FROM");
                self.comparison()?;
                Expr::Unknown
            } else {
                return None;
            };
        }
        Some(e)
    }

    fn comparison(&mut self) -> Option<Expr> {
        let left = self.other_op()?;
        let negated = self.keyword("NOT")
            && matches!(self.toks.get(self.pos + 1), Some(Tok::Ident(w, false)) if w == "BETWEEN" || w == "IN" || w == "LIKE" || w == "ILIKE");
        if negated {
            self.pos += 1;
        }
        if self.eat_keyword("BETWEEN") {
            self.eat_keyword("SYMMETRIC");
            let lo = self.other_op()?;
            if !self.eat_keyword("AND") {
                return None;
            }
            let hi = self.other_op()?;
            let e = Expr::And(vec![
                Expr::Op(">=".into(), Box::new(left.clone()), Box::new(lo)),
                Expr::Op("<=".into(), Box::new(left), Box::new(hi)),
            ]);
            return Some(if negated { Expr::Not(Box::new(e)) } else { e });
        }
        if self.eat_keyword("IN") {
            self.expect(Tok::LParen)?;
            let mut items = vec![self.or()?];
            while self.peek() == Some(&Tok::Comma) {
                self.pos += 1;
                items.push(self.or()?);
            }
            self.expect(Tok::RParen)?;
            let e = Expr::Quantified(
                "=".into(),
                false,
                Box::new(left),
                Box::new(Expr::Array(items)),
            );
            return Some(if negated { Expr::Not(Box::new(e)) } else { e });
        }
        for (kw, op) in [("LIKE", "~~"), ("ILIKE", "~~*")] {
            if self.eat_keyword(kw) {
                let right = self.other_op()?;
                let op = if negated {
                    format!("!{op}")
                } else {
                    op.to_string()
                };
                return Some(Expr::Op(op, Box::new(left), Box::new(right)));
            }
        }
        if let Some(Tok::Op(op)) = self.peek().cloned() {
            if matches!(op.as_str(), "=" | "<>" | "!=" | "<" | "<=" | ">" | ">=") {
                self.pos += 1;
                return self.rhs_of(op, left, Self::other_op);
            }
        }
        Some(left)
    }

    /// The right side of `left op`: an expression, or `ANY|ALL (array)`.
    fn rhs_of(
        &mut self,
        op: String,
        left: Expr,
        next: fn(&mut Self) -> Option<Expr>,
    ) -> Option<Expr> {
        for (kw, all) in [("ANY", false), ("SOME", false), ("ALL", true)] {
            if self.eat_keyword(kw) {
                self.expect(Tok::LParen)?;
                let array = self.or()?;
                self.expect(Tok::RParen)?;
                return Some(Expr::Quantified(op, all, Box::new(left), Box::new(array)));
            }
        }
        let right = next(self)?;
        Some(Expr::Op(op, Box::new(left), Box::new(right)))
    }

    fn other_op(&mut self) -> Option<Expr> {
        let mut left = self.additive()?;
        loop {
            match self.peek().cloned() {
                Some(Tok::Op(op))
                    if !matches!(
                        op.as_str(),
                        "=" | "<>" | "!=" | "<" | "<=" | ">" | ">=" | "+" | "-" | "*" | "/" | "%"
                    ) =>
                {
                    self.pos += 1;
                    left = self.rhs_of(op, left, Self::additive)?;
                }
                _ => return Some(left),
            }
        }
    }

    fn additive(&mut self) -> Option<Expr> {
        let mut left = self.multiplicative()?;
        while let Some(Tok::Op(op)) = self.peek().cloned() {
            if op != "+" && op != "-" {
                break;
            }
            self.pos += 1;
            let right = self.multiplicative()?;
            left = Expr::Op(op, Box::new(left), Box::new(right));
        }
        Some(left)
    }

    fn multiplicative(&mut self) -> Option<Expr> {
        let mut left = self.unary()?;
        while let Some(Tok::Op(op)) = self.peek().cloned() {
            if op != "*" && op != "/" && op != "%" {
                break;
            }
            self.pos += 1;
            let right = self.unary()?;
            left = Expr::Op(op, Box::new(left), Box::new(right));
        }
        Some(left)
    }

    fn unary(&mut self) -> Option<Expr> {
        if let Some(Tok::Op(op)) = self.peek() {
            if op == "-" {
                self.pos += 1;
                return Some(Expr::Neg(Box::new(self.unary()?)));
            }
            if op == "+" {
                self.pos += 1;
                return self.unary();
            }
        }
        self.postfix()
    }

    fn postfix(&mut self) -> Option<Expr> {
        let mut e = self.primary()?;
        loop {
            match self.peek() {
                Some(Tok::Cast) => {
                    self.pos += 1;
                    let ty = self.type_name()?;
                    e = Expr::Cast(Box::new(e), ty);
                }
                Some(Tok::LBracket) => {
                    // A subscript or slice: not read.
                    let mut depth = 0;
                    while let Some(t) = self.next() {
                        match t {
                            Tok::LBracket => depth += 1,
                            Tok::RBracket => {
                                depth -= 1;
                                if depth == 0 {
                                    break;
                                }
                            }
                            _ => {}
                        }
                    }
                    e = Expr::Unknown;
                }
                Some(Tok::Ident(w, false)) if w == "COLLATE" => {
                    self.pos += 1;
                    self.next()?;
                    while self.peek() == Some(&Tok::Dot) {
                        self.pos += 1;
                        self.next()?;
                    }
                }
                _ => return Some(e),
            }
        }
    }

    fn type_name(&mut self) -> Option<String> {
        let mut name = match self.next()? {
            Tok::Ident(w, _) => w,
            _ => return None,
        };
        while self.peek() == Some(&Tok::Dot) {
            self.pos += 1;
            match self.next()? {
                Tok::Ident(w, _) => name = w,
                _ => return None,
            }
        }
        while let Some(Tok::Ident(w, false)) = self.peek() {
            if matches!(
                w.as_str(),
                "varying" | "precision" | "with" | "without" | "time" | "zone"
            ) {
                name.push(' ');
                name.push_str(w);
                self.pos += 1;
            } else {
                break;
            }
        }
        if self.peek() == Some(&Tok::LParen) {
            let mut depth = 0;
            let mut modifier = String::new();
            while let Some(t) = self.next() {
                match &t {
                    Tok::LParen => depth += 1,
                    Tok::RParen => depth -= 1,
                    Tok::Num(n) => modifier.push_str(n),
                    Tok::Comma => modifier.push(','),
                    _ => {}
                }
                if depth == 0 {
                    break;
                }
            }
            name = format!("{name}({modifier})");
        }
        while self.peek() == Some(&Tok::LBracket) {
            self.pos += 1;
            if matches!(self.peek(), Some(Tok::Num(_))) {
                self.pos += 1;
            }
            self.expect(Tok::RBracket)?;
            name.push_str("[]");
        }
        Some(name)
    }

    fn args(&mut self) -> Option<Vec<Expr>> {
        self.expect(Tok::LParen)?;
        let mut args = Vec::new();
        if self.peek() == Some(&Tok::RParen) {
            self.pos += 1;
            return Some(args);
        }
        loop {
            args.push(self.or()?);
            match self.next()? {
                Tok::Comma => continue,
                Tok::RParen => return Some(args),
                _ => return None,
            }
        }
    }

    fn primary(&mut self) -> Option<Expr> {
        match self.next()? {
            Tok::LParen => {
                let e = self.or()?;
                self.expect(Tok::RParen)?;
                Some(e)
            }
            Tok::Str(s) => Some(Expr::Lit(V::Text(s))),
            Tok::Num(n) => n.parse::<f64>().ok().map(|n| Expr::Lit(V::Num(n))),
            Tok::Ident(w, quoted) => {
                if !quoted {
                    match w.as_str() {
                        "NULL" => return Some(Expr::Lit(V::Null)),
                        "TRUE" | "true" => return Some(Expr::Lit(V::Bool(true))),
                        "FALSE" | "false" => return Some(Expr::Lit(V::Bool(false))),
                        "VALUE" => {
                            return Some(match self.value_column {
                                Some(c) => Expr::Col(c.to_string()),
                                None => Expr::Unknown,
                            })
                        }
                        "CURRENT_TIMESTAMP" | "LOCALTIMESTAMP" | "CURRENT_DATE" => {
                            if self.peek() == Some(&Tok::LParen) {
                                self.args()?;
                            }
                            return Some(Expr::Func("now".into(), Vec::new()));
                        }
                        "ARRAY" => {
                            self.expect(Tok::LBracket)?;
                            let mut items = Vec::new();
                            if self.peek() != Some(&Tok::RBracket) {
                                loop {
                                    items.push(self.or()?);
                                    match self.next()? {
                                        Tok::Comma => continue,
                                        Tok::RBracket => break,
                                        _ => return None,
                                    }
                                }
                            } else {
                                self.pos += 1;
                            }
                            return Some(Expr::Array(items));
                        }
                        "TRIM" => {
                            self.expect(Tok::LParen)?;
                            let which = if self.eat_keyword("BOTH") {
                                "btrim"
                            } else if self.eat_keyword("LEADING") {
                                "ltrim"
                            } else if self.eat_keyword("TRAILING") {
                                "rtrim"
                            } else {
                                "btrim"
                            };
                            let mut args = Vec::new();
                            if !self.eat_keyword("FROM") {
                                let chars = self.or()?;
                                if !self.eat_keyword("FROM") {
                                    return None;
                                }
                                args.push(chars);
                            }
                            args.insert(0, self.or()?);
                            self.expect(Tok::RParen)?;
                            return Some(Expr::Func(which.into(), args));
                        }
                        "CASE" => {
                            let mut depth = 1;
                            while depth > 0 {
                                match self.next()? {
                                    Tok::Ident(k, false) if k == "CASE" => depth += 1,
                                    Tok::Ident(k, false) if k == "END" => depth -= 1,
                                    _ => {}
                                }
                            }
                            return Some(Expr::Unknown);
                        }
                        _ => {}
                    }
                }
                let mut name = w;
                let mut qualified = false;
                while self.peek() == Some(&Tok::Dot) {
                    self.pos += 1;
                    match self.next()? {
                        Tok::Ident(n, _) => {
                            name = n;
                            qualified = true;
                        }
                        _ => return None,
                    }
                }
                if self.peek() == Some(&Tok::LParen) {
                    let args = self.args()?;
                    return Some(if qualified && name != "now" {
                        Expr::Unknown
                    } else {
                        Expr::Func(name, args)
                    });
                }
                Some(if qualified {
                    Expr::Unknown
                } else {
                    Expr::Col(name)
                })
            }
            _ => None,
        }
    }
}

/// A partition's bound, as `pg_get_expr(relpartbound)` prints it; values are the literals'
/// text (`None`: `MINVALUE`, `MAXVALUE`, `NULL`).
#[derive(Debug, Clone, PartialEq)]
pub enum PartitionBound {
    /// `DEFAULT`.
    Default,
    /// `FOR VALUES FROM (...) TO (...)`.
    Range {
        /// The inclusive lower bound, per key column.
        from: Vec<Option<String>>,
        /// The exclusive upper bound, per key column.
        to: Vec<Option<String>>,
    },
    /// `FOR VALUES IN (...)`.
    List(Vec<Option<String>>),
    /// `FOR VALUES WITH (modulus m, remainder r)`.
    Hash {
        /// `m`.
        modulus: u32,
        /// `r`.
        remainder: u32,
    },
}

/// Reads a partition bound; `None` when it is not one of the four forms.
pub fn parse_partition_bound(text: &str) -> Option<PartitionBound> {
    let toks = tokenize(text)?;
    let word = |i: usize, w: &str| matches!(toks.get(i), Some(Tok::Ident(x, false)) if x.eq_ignore_ascii_case(w));
    if word(0, "DEFAULT") {
        return Some(PartitionBound::Default);
    }
    if !(word(0, "FOR") && word(1, "VALUES")) {
        return None;
    }
    // A parenthesised list of literals starting at `i`: the values and the index after it.
    let list = |mut i: usize| -> Option<(Vec<Option<String>>, usize)> {
        if toks.get(i) != Some(&Tok::LParen) {
            return None;
        }
        i += 1;
        let mut out = Vec::new();
        let mut negative = false;
        loop {
            match toks.get(i)? {
                Tok::Str(s) => out.push(Some(s.clone())),
                Tok::Num(n) => out.push(Some(if negative { format!("-{n}") } else { n.clone() })),
                Tok::Op(o) if o == "-" => {
                    negative = true;
                    i += 1;
                    continue;
                }
                Tok::Ident(w, false)
                    if matches!(
                        w.to_ascii_uppercase().as_str(),
                        "MINVALUE" | "MAXVALUE" | "NULL"
                    ) =>
                {
                    out.push(None)
                }
                Tok::Ident(w, false) if w == "true" || w == "false" => out.push(Some(w.clone())),
                _ => return None,
            }
            negative = false;
            i += 1;
            // A cast after a literal: skip it.
            while toks.get(i) == Some(&Tok::Cast) {
                i += 2;
            }
            match toks.get(i)? {
                Tok::Comma => i += 1,
                Tok::RParen => return Some((out, i + 1)),
                _ => return None,
            }
        }
    };
    if word(2, "FROM") {
        let (from, i) = list(3)?;
        if !word(i, "TO") {
            return None;
        }
        let (to, _) = list(i + 1)?;
        return Some(PartitionBound::Range { from, to });
    }
    if word(2, "IN") {
        return list(3).map(|(values, _)| PartitionBound::List(values));
    }
    if word(2, "WITH") {
        let number = |i: usize| match toks.get(i) {
            Some(Tok::Num(n)) => n.parse().ok(),
            _ => None,
        };
        if toks.get(3) == Some(&Tok::LParen) && word(4, "MODULUS") && word(7, "REMAINDER") {
            return Some(PartitionBound::Hash {
                modulus: number(5)?,
                remainder: number(8)?,
            });
        }
        return None;
    }
    None
}

fn parse_check(text: &str, value_column: Option<&str>) -> Option<Expr> {
    let toks = tokenize(text)?;
    let mut p = Parser {
        toks,
        pos: 0,
        value_column,
    };
    if !p.eat_keyword("CHECK") {
        return None;
    }
    p.expect(Tok::LParen)?;
    let e = p.or()?;
    p.expect(Tok::RParen)?;
    // What may follow: NOT VALID, NO INHERIT.
    while let Some(Tok::Ident(w, false)) = p.peek() {
        if matches!(w.as_str(), "NOT" | "VALID" | "NO" | "INHERIT") {
            p.pos += 1;
        } else {
            return None;
        }
    }
    (p.pos == p.toks.len()).then_some(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> Check {
        Check::parse("c", text, Some("v"))
    }

    fn holds(text: &str, col: &str, v: V) -> bool {
        let c = check(text);
        assert!(c.readable, "{text} should be readable: {:?}", c.expr);
        let col = col.to_string();
        c.holds(
            &move |name: &str| if name == col { v.clone() } else { V::Null },
            1.7e9,
        )
    }

    #[test]
    fn reads_what_postgres_prints_for_common_checks() {
        assert!(holds("CHECK (((a >= 1) AND (a <= 5)))", "a", V::Num(3.0)));
        assert!(!holds("CHECK (((a >= 1) AND (a <= 5)))", "a", V::Num(9.0)));
        assert!(holds(
            "CHECK ((b = ANY (ARRAY['x'::text, 'y'::text])))",
            "b",
            V::Text("y".into())
        ));
        assert!(!holds(
            "CHECK ((b = ANY (ARRAY['x'::text, 'y'::text])))",
            "b",
            V::Text("z".into())
        ));
        let varchar = "CHECK (((c)::text = ANY ((ARRAY['p'::character varying, 'q'::character varying])::text[])))";
        assert!(holds(varchar, "c", V::Text("q".into())));
        assert!(!holds(varchar, "c", V::Text("r".into())));
        assert!(holds("CHECK ((d >= '-1.5'::numeric))", "d", V::Num(-1.0)));
        assert!(!holds("CHECK ((d >= '-1.5'::numeric))", "d", V::Num(-2.0)));
        assert!(!holds(
            "CHECK ((length(TRIM(BOTH FROM e)) > 0))",
            "e",
            V::Text("  ".into())
        ));
        assert!(holds(
            "CHECK (((f ~~ 'https://%'::text) OR (f IS NULL)))",
            "f",
            V::Null
        ));
        assert!(!holds(
            "CHECK (((f ~~ 'https://%'::text) OR (f IS NULL)))",
            "f",
            V::Text("http://x".into())
        ));
        assert!(holds(
            "CHECK ((h ~* '^[a-z]+$'::text))",
            "h",
            V::Text("ABC".into())
        ));
        assert!(!holds(
            "CHECK ((j <> ALL (ARRAY['a'::text, 'b'::text])))",
            "j",
            V::Text("b".into())
        ));
        assert!(holds(
            "CHECK ((jsonb_typeof(k) = 'object'::text))",
            "k",
            V::Json(serde_json::json!({}))
        ));
        assert!(!holds(
            "CHECK ((cardinality(l) > 0))",
            "l",
            V::Array(vec![])
        ));
        assert!(holds("CHECK (((m % 2) = 0))", "m", V::Num(4.0)));
        assert!(holds("CHECK ((p IS NOT TRUE))", "p", V::Bool(false)));
        assert!(holds(
            "CHECK ((r >= '2020-01-01'::date))",
            "r",
            V::Time(1.7e9)
        ));
        assert!(!holds(
            "CHECK ((i > (now() - '1 day'::interval)))",
            "i",
            V::Time(1.7e9 - 200_000.0)
        ));
        assert!(holds(
            "CHECK (((VALUE >= 1901) AND (VALUE <= 2155)))",
            "v",
            V::Num(2000.0)
        ));
        assert!(holds("CHECK ((num_nonnulls(s, a) >= 1))", "s", V::Num(1.0)));
        assert!(!holds("CHECK ((num_nonnulls(s, a) >= 1))", "s", V::Null));
        assert!(holds(
            "CHECK ((o > ('a'::text COLLATE \"C\")))",
            "o",
            V::Text("b".into())
        ));
        assert!(holds(
            "CHECK ((\"group\" >= 0)) NOT VALID",
            "group",
            V::Num(0.0)
        ));
    }

    #[test]
    fn what_it_cannot_read_is_unknown_and_never_fails() {
        let c = check("CHECK (\nCASE\n    WHEN (n = 'a'::text) THEN true\n    ELSE false\nEND)");
        assert!(!c.readable);
        assert!(c.holds(&|_: &str| V::Text("b".into()), 0.0));
        let c = check("CHECK (public.is_valid(x))");
        assert!(!c.readable);
        assert!(c.holds(&|_: &str| V::Null, 0.0));
        assert!(!check("CHECK ((x @> y))").readable);
    }

    #[test]
    fn an_or_of_conjunctions_is_read_whole() {
        let c = check("CHECK ((((personal_account = true) AND (slug IS NULL)) OR ((personal_account = false) AND (slug IS NOT NULL))))");
        assert!(c.readable);
        let env = |pa: bool, slug: Option<&str>| {
            let slug = slug.map(|s| V::Text(s.into())).unwrap_or(V::Null);
            move |n: &str| {
                if n == "personal_account" {
                    V::Bool(pa)
                } else {
                    slug.clone()
                }
            }
        };
        assert!(!c.holds(&env(false, None), 0.0));
        assert!(c.holds(&env(false, Some("x")), 0.0));
        assert!(c.holds(&env(true, None), 0.0));
        assert_eq!(c.hints("slug"), vec![Hint::NotNull]);
    }

    #[test]
    fn hints_name_the_literals_a_column_is_compared_with() {
        let c = check("CHECK (((status)::text = ANY ((ARRAY['a'::character varying, 'b'::character varying])::text[])))");
        assert_eq!(
            c.hints("status"),
            vec![Hint::OneOf(vec![V::Text("a".into()), V::Text("b".into())])]
        );
        let c =
            check("CHECK (((char_length(client_id) >= 1) AND (char_length(client_id) <= 512)))");
        assert_eq!(
            c.hints("client_id"),
            vec![Hint::MinLength(1), Hint::MaxLength(512)]
        );
        let c = check("CHECK (((0 < stars) AND (stars <= 5)))");
        assert_eq!(
            c.hints("stars"),
            vec![
                Hint::Above(V::Num(0.0), false),
                Hint::Below(V::Num(5.0), true)
            ]
        );
        let c = check("CHECK ((expires_at > created_at))");
        assert_eq!(
            c.hints("expires_at"),
            vec![Hint::Compared(">".into(), "created_at".into())]
        );
        assert_eq!(
            c.hints("created_at"),
            vec![Hint::Compared("<".into(), "expires_at".into())]
        );
    }

    #[test]
    fn partition_bounds_are_read() {
        assert_eq!(
            parse_partition_bound("DEFAULT"),
            Some(PartitionBound::Default)
        );
        assert_eq!(
            parse_partition_bound(
                "FOR VALUES FROM ('2022-01-01 00:00:00+00') TO ('2022-02-01 00:00:00+00')"
            ),
            Some(PartitionBound::Range {
                from: vec![Some("2022-01-01 00:00:00+00".into())],
                to: vec![Some("2022-02-01 00:00:00+00".into())]
            })
        );
        assert_eq!(
            parse_partition_bound("FOR VALUES FROM (MINVALUE, -5) TO (10, MAXVALUE)"),
            Some(PartitionBound::Range {
                from: vec![None, Some("-5".into())],
                to: vec![Some("10".into()), None]
            })
        );
        assert_eq!(
            parse_partition_bound("FOR VALUES IN ('eu', NULL)"),
            Some(PartitionBound::List(vec![Some("eu".into()), None]))
        );
        assert_eq!(
            parse_partition_bound("FOR VALUES WITH (modulus 4, remainder 1)"),
            Some(PartitionBound::Hash {
                modulus: 4,
                remainder: 1
            })
        );
    }

    #[test]
    fn like_patterns_and_intervals() {
        assert!(regex_matches(&like_to_regex("https://%"), "https://x", false).unwrap());
        assert!(!regex_matches(&like_to_regex("a_c"), "abbc", false).unwrap());
        assert_eq!(parse_interval("00:03:00"), Some(180.0));
        assert_eq!(parse_interval("1 day"), Some(86_400.0));
        assert_eq!(parse_time("1970-01-02"), Some(86_400.0));
        assert_eq!(parse_time("2022-01-01 00:00:00+00"), Some(1_640_995_200.0));
    }
}
