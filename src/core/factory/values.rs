//! Values made from the catalog: for a column's type (through domains), its name, whether it is
//! unique, and what its CHECK constraints say, the candidate values inference may give it, best
//! first. Every candidate is a function of the lane, the table, the column and the row's number
//! in the lane (no randomness): the same test makes the same rows again. Text is a lane name
//! (`ctx.name`), or an email, slug or URL when the column's name says so; keys that must be
//! unique across lanes (integers, uuids, short text) come from a SHA-256 of the lane and the row;
//! dates and times are the statement's `now()`.

use super::check::{regex_matches, Hint, V};
use super::planner::Val;
use crate::core::db::table_facts::{TableFacts, TypeFacts, TypeKind};
use crate::core::lane::naming::Lane;
use sha2::{Digest, Sha256};

/// A value inference may give a column: what the checks see, and what is inserted.
#[derive(Debug, Clone)]
pub(super) struct Candidate {
    pub(super) check: V,
    pub(super) val: Val,
}

impl Candidate {
    fn text(s: String) -> Candidate {
        Candidate {
            check: V::Text(s.clone()),
            val: Val::Text(s),
        }
    }
    fn num(text: String) -> Candidate {
        Candidate {
            check: V::Num(text.parse().unwrap_or(0.0)),
            val: Val::Text(text),
        }
    }
    /// `now()` moved by `seconds`.
    pub(super) fn now(now: f64, seconds: i64) -> Candidate {
        Candidate {
            check: V::Time(now + seconds as f64),
            val: Val::Now(seconds),
        }
    }
    /// An explicit SQL NULL.
    pub(super) fn null() -> Candidate {
        Candidate {
            check: V::Null,
            val: Val::Null,
        }
    }
}

/// What a type is, for making values.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Shape {
    Int {
        min: i128,
        max: i128,
    },
    Numeric {
        precision: Option<u32>,
        scale: u32,
    },
    Float,
    Money,
    Bool,
    Text {
        max: Option<usize>,
    },
    /// The one-byte `"char"`.
    Char,
    Uuid,
    Json,
    Bytea,
    Timestamp,
    Date,
    Time,
    Interval,
    Inet,
    Cidr,
    MacAddr(usize),
    Bits {
        varying: bool,
        length: Option<usize>,
    },
    Enum(Vec<String>),
    Array(Box<Shape>),
    /// A range over numbers, dates or timestamps (the subtype's shape); other ranges are
    /// `Fixed("empty")`.
    Range(Box<Shape>),
    /// A literal that is always valid: `()` for composites, `{}` for multiranges, ...
    Fixed(&'static str),
    /// A type inference cannot make a value of (PostGIS, vector, ...): its name.
    Unsupported(String),
}

/// The shape of a column's type: through domains, with the length or precision of its modifier.
pub(super) fn shape_of(facts: &TableFacts, oid: u32, typmod: i32) -> Shape {
    let (ty, typmod, _) = facts.resolve_type(oid, typmod);
    match ty {
        Some(t) => shape_of_type(facts, t, typmod),
        None => Shape::Unsupported(format!("type {oid}")),
    }
}

fn shape_of_type(facts: &TableFacts, t: &TypeFacts, typmod: i32) -> Shape {
    match t.kind {
        TypeKind::Enum => return Shape::Enum(t.labels.clone()),
        TypeKind::Range => {
            return match t.range_sub.map(|sub| shape_of(facts, sub, -1)) {
                Some(
                    sub @ (Shape::Int { .. }
                    | Shape::Numeric { .. }
                    | Shape::Float
                    | Shape::Date
                    | Shape::Timestamp),
                ) => Shape::Range(Box::new(sub)),
                _ => Shape::Fixed("empty"),
            }
        }
        TypeKind::Multirange => return Shape::Fixed("{}"),
        TypeKind::Composite => return Shape::Fixed("()"),
        _ => {}
    }
    if t.category == 'A' {
        return match t.elem {
            Some(elem) => Shape::Array(Box::new(shape_of(facts, elem, typmod))),
            None => Shape::Unsupported(t.display.clone()),
        };
    }
    let length = (typmod >= 4).then(|| (typmod - 4) as usize);
    let builtin = t.schema == "pg_catalog";
    match t.name.as_str() {
        "int2" if builtin => Shape::Int {
            min: -32_768,
            max: 32_767,
        },
        "int4" if builtin => Shape::Int {
            min: -2_147_483_648,
            max: 2_147_483_647,
        },
        "int8" if builtin => Shape::Int {
            min: i128::from(i64::MIN),
            max: i128::from(i64::MAX),
        },
        "oid" if builtin => Shape::Int {
            min: 0,
            max: 4_294_967_295,
        },
        "numeric" if builtin => match length {
            Some(m) => Shape::Numeric {
                precision: Some(((m >> 16) & 0xffff) as u32),
                // 11 bits, signed since PostgreSQL 15 (`numeric(5, -2)`); a negative scale
                // rounds to tens, hundreds: whole numbers do.
                scale: (((m & 0x7ff) ^ 1024) as i64 - 1024).max(0) as u32,
            },
            None => Shape::Numeric {
                precision: None,
                scale: 0,
            },
        },
        "float4" | "float8" if builtin => Shape::Float,
        "money" if builtin => Shape::Money,
        "bool" if builtin => Shape::Bool,
        "text" | "name" if builtin => Shape::Text {
            max: (t.name == "name").then_some(63),
        },
        "varchar" | "bpchar" if builtin => Shape::Text { max: length },
        "char" if builtin => Shape::Char,
        "citext" => Shape::Text { max: None },
        // Contrib types, whatever schema they were installed in.
        "hstore" => Shape::Fixed(""),
        "ltree" => Shape::Fixed("pglane"),
        "cube" => Shape::Fixed("(0)"),
        "uuid" if builtin => Shape::Uuid,
        "json" | "jsonb" if builtin => Shape::Json,
        "bytea" if builtin => Shape::Bytea,
        "timestamp" | "timestamptz" if builtin => Shape::Timestamp,
        "date" if builtin => Shape::Date,
        "time" | "timetz" if builtin => Shape::Time,
        "interval" if builtin => Shape::Interval,
        "inet" if builtin => Shape::Inet,
        "cidr" if builtin => Shape::Cidr,
        "macaddr" if builtin => Shape::MacAddr(6),
        "macaddr8" if builtin => Shape::MacAddr(8),
        "bit" if builtin => Shape::Bits {
            varying: false,
            length: Some(typmod.max(1) as usize),
        },
        "varbit" if builtin => Shape::Bits {
            varying: true,
            length: (typmod > 0).then_some(typmod as usize),
        },
        "tsvector" if builtin => Shape::Fixed(""),
        "tsquery" if builtin => Shape::Fixed("pglane"),
        "xml" if builtin => Shape::Fixed("<pglane/>"),
        "point" if builtin => Shape::Fixed("(0,0)"),
        "line" if builtin => Shape::Fixed("{1,-1,0}"),
        "lseg" if builtin => Shape::Fixed("[(0,0),(1,1)]"),
        "box" if builtin => Shape::Fixed("(1,1),(0,0)"),
        "path" if builtin => Shape::Fixed("[(0,0),(1,1)]"),
        "polygon" if builtin => Shape::Fixed("((0,0),(1,1),(1,0))"),
        "circle" if builtin => Shape::Fixed("<(0,0),1>"),
        "pg_lsn" if builtin => Shape::Fixed("0/0"),
        _ => match t.category {
            'S' => Shape::Text { max: length },
            _ => Shape::Unsupported(t.display.clone()),
        },
    }
}

/// Where a row's values come from: its lane, table, and number in the lane.
pub(super) struct Seed<'a> {
    pub(super) lane: &'a Lane,
    /// `schema.table`.
    pub(super) table: &'a str,
    /// The table's name without its schema.
    pub(super) table_name: &'a str,
    /// The row's number among this lane's inferred rows of the table (from 1).
    pub(super) n: u64,
    /// What `now()` is, in seconds since 1970.
    pub(super) now: f64,
}

impl Seed<'_> {
    /// 32 bytes that depend on the lane, the table, the column and the row number only.
    fn digest(&self, column: &str, salt: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        for part in [
            self.lane.prefix(crate::core::lane::naming::LaneScope::Test),
            self.table,
            column,
            &self.n.to_string(),
            salt,
        ] {
            h.update(part.as_bytes());
            h.update([0u8]);
        }
        h.finalize().into()
    }

    fn hash_u128(&self, column: &str) -> u128 {
        u128::from_be_bytes(
            self.digest(column, "").as_slice()[..16]
                .try_into()
                .expect("16 bytes"),
        )
    }

    /// `len` characters of `[a-z0-9]`, from the digest.
    fn compact(&self, column: &str, len: usize) -> String {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        let mut out = String::with_capacity(len);
        let mut round = 0;
        while out.len() < len {
            for b in self.digest(column, &round.to_string()) {
                if out.len() == len {
                    break;
                }
                out.push(ALPHABET[b as usize % ALPHABET.len()] as char);
            }
            round += 1;
        }
        out
    }

    /// A UUID whose 122 free bits come from the digest (version 8: custom), so the same lane and
    /// row give the same id.
    fn uuid(&self, column: &str) -> String {
        let mut b: [u8; 16] = self.digest(column, "uuid")[..16]
            .try_into()
            .expect("16 bytes");
        b[6] = (b[6] & 0x0f) | 0x80;
        b[8] = (b[8] & 0x3f) | 0x80;
        uuid::Uuid::from_bytes(b).to_string()
    }

    fn email_domain(&self) -> String {
        self.lane
            .email("x")
            .ok()
            .and_then(|e| e.split_once('@').map(|(_, d)| d.to_string()))
            .unwrap_or_else(|| "pglane.test".to_string())
    }
}

/// The forms of text a column name asks for.
#[derive(Debug, Clone, Copy, PartialEq)]
enum TextKind {
    Name,
    Email,
    Slug,
    Url,
    Phone,
}

fn text_kind(column: &str) -> TextKind {
    let c = column.to_ascii_lowercase();
    if c.contains("email") || c.contains("e_mail") {
        TextKind::Email
    } else if c.contains("slug") || c == "handle" || c == "username" || c == "login" {
        TextKind::Slug
    } else if c.contains("url")
        || c.contains("uri")
        || c.contains("website")
        || c.contains("homepage")
        || c.contains("href")
    {
        TextKind::Url
    } else if c.contains("phone") || c.contains("mobile") {
        TextKind::Phone
    } else {
        TextKind::Name
    }
}

/// Texts for a column, best first: its own form, then the other forms (a check may want one).
/// `first_only`: its own form only (it fits the column, or is replaced by the compact form).
fn texts(seed: &Seed, column: &str, max: Option<usize>, first_only: bool) -> Vec<String> {
    let n = seed.n;
    let lane = seed.lane;
    if first_only && text_kind(column) == TextKind::Name {
        let name = lane.name(&format!("{column} {n}")).ok();
        return match (name, max) {
            (Some(t), Some(m)) if t.chars().count() > m => vec![seed.compact(column, m.min(16))],
            (Some(t), _) => vec![t],
            (None, _) => vec![seed.compact(column, max.unwrap_or(16).min(16))],
        };
    }
    let base = format!("{column} {n}");
    // Bases that slugify keeps as they are (it appends a hash when it drops characters).
    let plain = |s: &str| -> String {
        let mut out: String = s
            .to_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        while out.contains("--") {
            out = out.replace("--", "-");
        }
        format!("{}-{n}", out.trim_matches('-'))
    };
    let name = lane.name(&base).ok();
    let slug = lane.slug(&plain(seed.table_name)).ok();
    let email = lane.email(&plain(column)).ok();
    let url = lane
        .slug(&plain(column))
        .ok()
        .map(|s| format!("https://{}/{s}", seed.email_domain()));
    let digits: String = (seed.hash_u128(column) % 10_000_000).to_string();
    let phone = format!("+1555{digits:0>7}");
    let mut out: Vec<String> = match text_kind(column) {
        TextKind::Email => vec![email.clone(), name.clone(), slug.clone(), url.clone()],
        TextKind::Slug => vec![slug.clone(), name.clone(), email.clone(), url.clone()],
        TextKind::Url => vec![url.clone(), name.clone(), slug.clone(), email.clone()],
        TextKind::Phone => vec![Some(phone.clone()), name.clone(), slug.clone()],
        TextKind::Name => vec![name.clone(), slug.clone(), email.clone(), url.clone()],
    }
    .into_iter()
    .flatten()
    .collect();
    let compact_len = max.unwrap_or(16).min(16);
    out.push(seed.compact(column, compact_len));
    if let Some(max) = max {
        // What does not fit is replaced by the compact form of the same length: unique with a
        // high probability, though no longer a lane name.
        let compact = seed.compact(column, max.min(16));
        for t in &mut out {
            if t.chars().count() > max {
                *t = compact.clone();
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|t| seen.insert(t.clone()));
    out
}

fn pg_array_literal(items: &[String]) -> String {
    let inner: Vec<String> = items
        .iter()
        .map(|i| format!("\"{}\"", i.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect();
    format!("{{{}}}", inner.join(","))
}

fn numeric_bounds(shape: &Shape) -> (f64, f64) {
    match shape {
        Shape::Int { min, max } => (*min as f64, *max as f64),
        Shape::Numeric {
            precision: Some(p),
            scale,
        } => {
            let m = 10f64.powi(*p as i32 - *scale as i32) - 10f64.powi(-(*scale as i32));
            (-m, m)
        }
        _ => (-1e15, 1e15),
    }
}

/// The interval `[lo, hi]` the hints allow a number in.
fn hinted_range(shape: &Shape, hints: &[Hint]) -> (f64, f64) {
    let (mut lo, mut hi) = numeric_bounds(shape);
    let step = match shape {
        Shape::Int { .. } => 1.0,
        Shape::Numeric { scale, .. } => 10f64.powi(-(*scale as i32)),
        _ => 0.001,
    };
    for h in hints {
        match h {
            Hint::Above(V::Num(v), inclusive) => {
                lo = lo.max(if *inclusive { *v } else { v + step })
            }
            Hint::Below(V::Num(v), inclusive) => {
                hi = hi.min(if *inclusive { *v } else { v - step })
            }
            _ => {}
        }
    }
    (lo, hi)
}

fn format_number(shape: &Shape, v: f64) -> String {
    match shape {
        Shape::Int { .. } => format!("{}", v.round() as i128),
        Shape::Numeric { scale, .. } => format!("{v:.*}", *scale as usize),
        _ => {
            if v.fract() == 0.0 {
                format!("{}", v as i64)
            } else {
                format!("{v}")
            }
        }
    }
}

/// The values hints name outright (`= ANY (ARRAY[...])`), in order.
fn one_of(hints: &[Hint]) -> Vec<V> {
    let mut out = Vec::new();
    for h in hints {
        if let Hint::OneOf(vs) = h {
            for v in vs {
                if !out.contains(v) {
                    out.push(v.clone());
                }
            }
        }
    }
    out
}

/// Candidates for a column, best first; empty when inference cannot make a value of its type.
/// `unique`: the column is part of a unique key, so values differ across lanes and rows.
pub(super) fn candidates(
    seed: &Seed,
    column: &str,
    shape: &Shape,
    unique: bool,
    hints: &[Hint],
) -> Vec<Candidate> {
    candidates_of(seed, column, shape, unique, hints, false)
}

/// The first of [`candidates`] only (cheaper for text): for a column no check reads.
pub(super) fn first_candidate(
    seed: &Seed,
    column: &str,
    shape: &Shape,
    unique: bool,
) -> Option<Candidate> {
    candidates_of(seed, column, shape, unique, &[], true)
        .into_iter()
        .next()
}

/// [`candidates`], or for `first_only` as few as give the first one, by the type's shape.
fn candidates_of(
    seed: &Seed,
    column: &str,
    shape: &Shape,
    unique: bool,
    hints: &[Hint],
    first_only: bool,
) -> Vec<Candidate> {
    let named = one_of(hints);
    match shape {
        Shape::Int { .. } | Shape::Numeric { .. } | Shape::Float | Shape::Money => {
            numeric_candidates(seed, column, shape, unique, hints, &named)
        }
        Shape::Bool => bool_candidates(&named),
        Shape::Enum(labels) => enum_candidates(seed, unique, labels, &named),
        Shape::Text { max } => {
            text_candidates(seed, column, *max, unique, hints, &named, first_only)
        }
        Shape::Char => vec![Candidate::text("a".into())],
        Shape::Uuid => uuid_candidates(seed, column, &named),
        Shape::Json => json_candidates(seed, column, unique),
        Shape::Bytea => bytea_candidates(seed, column),
        Shape::Timestamp | Shape::Date => timestamp_candidates(seed, column, unique, hints),
        Shape::Time => ["12:00:00", "00:00:00", "23:59:59"]
            .map(|t| Candidate::text(t.into()))
            .to_vec(),
        Shape::Interval => vec![
            Candidate {
                check: V::Interval(86_400.0),
                val: Val::Text("1 day".into()),
            },
            Candidate {
                check: V::Interval(0.0),
                val: Val::Text("0".into()),
            },
        ],
        Shape::Inet | Shape::Cidr => {
            let h = seed.hash_u128(column).to_be_bytes();
            let v = if *shape == Shape::Inet {
                format!("10.{}.{}.{}", h[0], h[1], h[2].max(1))
            } else {
                format!("10.{}.{}.0/24", h[0], h[1])
            };
            vec![Candidate::text(v)]
        }
        Shape::MacAddr(len) => {
            let h = seed.hash_u128(column).to_be_bytes();
            let mut bytes: Vec<String> = h[..*len].iter().map(|b| format!("{b:02x}")).collect();
            bytes[0] = "02".into();
            vec![Candidate::text(bytes.join(":"))]
        }
        Shape::Bits { varying, length } => {
            let n = if *varying { 1 } else { length.unwrap_or(1) };
            vec![Candidate::text("0".repeat(n))]
        }
        Shape::Array(elem) => array_candidates(seed, column, elem, unique, first_only),
        Shape::Range(sub) => range_candidates(seed, column, sub),
        Shape::Fixed(literal) => vec![Candidate::text(literal.to_string())],
        Shape::Unsupported(_) => Vec::new(),
    }
}

/// For a unique column, the list rotated by the row's number, so rows take different values.
fn rotated(seed: &Seed, unique: bool, mut list: Vec<Candidate>) -> Vec<Candidate> {
    if unique && !list.is_empty() {
        let k = ((seed.n.max(1) - 1) as usize) % list.len();
        list.rotate_left(k);
    }
    list
}

/// Numbers: the named ones, then one for the row within the hinted range, its low end and
/// one above it.
fn numeric_candidates(
    seed: &Seed,
    column: &str,
    shape: &Shape,
    unique: bool,
    hints: &[Hint],
    named: &[V],
) -> Vec<Candidate> {
    // Hints that contradict each other (a check nothing satisfies) are left to the
    // solver, which names the check.
    let (lo, hi) = match hinted_range(shape, hints) {
        (lo, hi) if lo <= hi => (lo, hi),
        _ => numeric_bounds(shape),
    };
    let mut out: Vec<Candidate> = named
        .iter()
        .filter_map(|v| match v {
            V::Num(n) => Some(Candidate::num(format_number(shape, *n))),
            V::Text(t) => t
                .parse::<f64>()
                .ok()
                .map(|n| Candidate::num(format_number(shape, n))),
            _ => None,
        })
        .collect();
    out = rotated(seed, unique, out);
    if lo <= hi {
        let span = hi - lo;
        let value = if unique {
            unique_number(seed, column, shape, lo, hi)
        } else {
            (seed.n as f64).clamp(lo, hi)
        };
        out.push(Candidate::num(format_number(shape, value)));
        out.push(Candidate::num(format_number(shape, lo.max(0.0).min(hi))));
        if span > 0.0 {
            out.push(Candidate::num(format_number(
                shape,
                hi.min(lo.max(0.0) + 1.0),
            )));
        }
    }
    out
}

/// A number for a unique column in `[lo, hi]`.
fn unique_number(seed: &Seed, column: &str, shape: &Shape, lo: f64, hi: f64) -> f64 {
    // Far from small hand-made ids, spread over the range the type and checks allow.
    let h = seed.hash_u128(column);
    let whole = matches!(shape, Shape::Int { .. } | Shape::Numeric { .. });
    let start = if lo < 1e6 && hi > 1e9 {
        lo.max(1e8)
    } else {
        lo
    };
    let room = (hi - start).clamp(0.0, 1e17);
    let offset = if whole {
        (h % (room as u128 + 1)) as f64
    } else {
        (h % 1_000_000_000) as f64 % (room + 1.0)
    };
    start + offset
}

/// Booleans: the named ones, then `false` and `true`.
fn bool_candidates(named: &[V]) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = named
        .iter()
        .filter_map(|v| match v {
            V::Bool(b) => Some(*b),
            _ => None,
        })
        .chain([false, true])
        .map(|b| Candidate {
            check: V::Bool(b),
            val: Val::Text(b.to_string()),
        })
        .collect();
    out.dedup_by(|a, b| a.check == b.check);
    out
}

/// Enum labels: the named ones, then all of them.
fn enum_candidates(seed: &Seed, unique: bool, labels: &[String], named: &[V]) -> Vec<Candidate> {
    let named: Vec<Candidate> = named
        .iter()
        .filter_map(|v| match v {
            V::Text(t) if labels.contains(t) => Some(Candidate::text(t.clone())),
            _ => None,
        })
        .collect();
    let all: Vec<Candidate> = labels.iter().map(|l| Candidate::text(l.clone())).collect();
    let mut out = rotated(seed, unique, named);
    out.extend(rotated(seed, unique, all));
    out
}

/// Text: the named values, then the column's texts shaped by the LIKE, length and regular
/// expression hints, without repeats.
fn text_candidates(
    seed: &Seed,
    column: &str,
    max: Option<usize>,
    unique: bool,
    hints: &[Hint],
    named: &[V],
    first_only: bool,
) -> Vec<Candidate> {
    let mut out = named_texts(seed, unique, named);
    let mut base = texts(seed, column, max, first_only && hints.is_empty());
    let min_len = hints
        .iter()
        .filter_map(|h| match h {
            Hint::MinLength(n) => Some(*n),
            _ => None,
        })
        .max();
    let max_len = hints
        .iter()
        .filter_map(|h| match h {
            Hint::MaxLength(n) => Some(*n),
            _ => None,
        })
        .chain(max)
        .min();
    for h in hints {
        if let Hint::Like(pattern) = h {
            // `https://%` -> `https://<slug>`; `_` -> `x`.
            let fill = base
                .iter()
                .find(|t| t.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
                .cloned()
                .unwrap_or_else(|| seed.compact(column, 12));
            base.insert(0, like_text(pattern, &fill));
        }
    }
    if let Some(min) = min_len {
        for t in base.clone() {
            if t.chars().count() < min {
                let pad = seed.compact(column, min - t.chars().count());
                base.push(format!("{t}{pad}"));
            }
        }
    }
    if let Some(max) = max_len {
        let compact = seed.compact(column, max.min(16));
        for t in &mut base {
            if t.chars().count() > max {
                *t = compact.clone();
            }
        }
    }
    for h in hints {
        if let Hint::Regex(pattern, ci) = h {
            // Text made from the pattern, after the column's own texts (which carry the lane's
            // name) in case one of those matches too.
            if let Some(t) = regex_text(seed, column, pattern, *ci) {
                base.push(t);
            }
        }
    }
    base = regex_matches_first(hints, base);
    out.extend(base.into_iter().map(Candidate::text));
    let mut kept: Vec<Candidate> = Vec::with_capacity(out.len());
    for c in out {
        if !kept.iter().any(|k| k.check == c.check) {
            kept.push(c);
        }
    }
    kept
}

/// The texts a check names for a column (`kind in ('a', 'b')`), first of its candidates.
fn named_texts(seed: &Seed, unique: bool, named: &[V]) -> Vec<Candidate> {
    rotated(
        seed,
        unique,
        named
            .iter()
            .filter_map(|v| match v {
                V::Text(t) => Some(Candidate::text(t.clone())),
                V::Num(n) => Some(Candidate::text(format_number(&Shape::Float, *n))),
                _ => None,
            })
            .collect(),
    )
}

/// The first of [`candidates`] when it is known without making the others: for text, a value
/// a check names (`kind in ('a', 'b')`). Such a column needs its other candidates only when
/// that value breaks a check.
pub(super) fn named_first(
    seed: &Seed,
    shape: &Shape,
    unique: bool,
    hints: &[Hint],
) -> Option<Candidate> {
    match shape {
        Shape::Text { .. } => named_texts(seed, unique, &one_of(hints)).into_iter().next(),
        _ => None,
    }
}

/// Text a LIKE pattern accepts: its first `%` becomes `fill`, the others nothing, `_` an `x`.
fn like_text(pattern: &str, fill: &str) -> String {
    let mut s = String::new();
    let mut first = true;
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '%' if first => {
                s.push_str(fill);
                first = false;
            }
            '%' => {}
            '_' => s.push('x'),
            '\\' => s.extend(chars.next()),
            c => s.push(c),
        }
    }
    s
}

/// A text `pattern` (a Postgres regular expression; `ci`: `~*`) matches, made by walking the
/// pattern: literals as written, a character of each class (an ASCII letter or digit where
/// the class has one), each repetition up to 8 times within its bounds, one alternative. The
/// choices come from the row's seed, so rows differ (`^[A-Z]{3}$` has 17,576 texts). `None`
/// when the pattern is not one Rust's regex syntax reads.
fn regex_text(seed: &Seed, column: &str, pattern: &str, ci: bool) -> Option<String> {
    let hir = regex_syntax::ParserBuilder::new()
        .case_insensitive(ci)
        .build()
        .parse(pattern)
        .ok()?;
    let mut bytes = Vec::new();
    let mut round = 0u32;
    let mut next = |bound: usize| -> usize {
        if bytes.is_empty() {
            bytes = seed.digest(column, &format!("regex {round}")).to_vec();
            round += 1;
        }
        let b = bytes.pop().unwrap_or(0) as usize;
        if bound == 0 {
            0
        } else {
            b % bound
        }
    };
    let mut out = String::new();
    sample(&hir, &mut next, &mut out, 0)?;
    Some(out)
}

/// Appends to `out` a text `hir` matches (see [`regex_text`]); `None` for a class with no
/// character or a pattern nested too deep.
fn sample(
    hir: &regex_syntax::hir::Hir,
    next: &mut dyn FnMut(usize) -> usize,
    out: &mut String,
    depth: usize,
) -> Option<()> {
    use regex_syntax::hir::{Class, HirKind};
    if depth > 64 || out.len() > 4096 {
        return None;
    }
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => {}
        HirKind::Literal(lit) => out.push_str(&String::from_utf8_lossy(&lit.0)),
        HirKind::Class(Class::Unicode(class)) => {
            let ranges: Vec<(char, char)> = class.iter().map(|r| (r.start(), r.end())).collect();
            out.push(pick_char(&ranges, next)?);
        }
        HirKind::Class(Class::Bytes(class)) => {
            let ranges: Vec<(char, char)> = class
                .iter()
                .filter(|r| r.start().is_ascii())
                .map(|r| (r.start() as char, r.end().min(0x7f) as char))
                .collect();
            out.push(pick_char(&ranges, next)?);
        }
        HirKind::Repetition(rep) => {
            let max = rep.max.unwrap_or(u32::MAX);
            let times = 8u32.clamp(rep.min, max.max(rep.min));
            for _ in 0..times {
                sample(&rep.sub, next, out, depth + 1)?;
            }
        }
        HirKind::Capture(cap) => sample(&cap.sub, next, out, depth + 1)?,
        HirKind::Concat(parts) => {
            for p in parts {
                sample(p, next, out, depth + 1)?;
            }
        }
        HirKind::Alternation(alts) => {
            let alt = alts.get(next(alts.len()))?;
            sample(alt, next, out, depth + 1)?;
        }
    }
    Some(())
}

/// A character of a class given as ranges: an ASCII letter or digit in it where there is one
/// (so `[^@\s]` gives `k`, not a control character), else the start of a range.
fn pick_char(ranges: &[(char, char)], next: &mut dyn FnMut(usize) -> usize) -> Option<char> {
    const PLAIN: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let plain: Vec<char> = PLAIN
        .chars()
        .filter(|c| ranges.iter().any(|(lo, hi)| lo <= c && c <= hi))
        .collect();
    if !plain.is_empty() {
        return Some(plain[next(plain.len())]);
    }
    // No letter or digit: one of the class's first printable characters, if it has any.
    let printable: Vec<char> = ranges
        .iter()
        .flat_map(|&(lo, hi)| (lo..=hi).take(256))
        .filter(|c| !c.is_control() && !c.is_whitespace())
        .take(32)
        .collect();
    if !printable.is_empty() {
        return Some(printable[next(printable.len())]);
    }
    ranges.first().map(|r| r.0)
}

/// The texts with those every regular expression hint accepts first.
fn regex_matches_first(hints: &[Hint], base: Vec<String>) -> Vec<String> {
    let regexes: Vec<(&String, bool)> = hints
        .iter()
        .filter_map(|h| match h {
            Hint::Regex(p, ci) => Some((p, *ci)),
            _ => None,
        })
        .collect();
    if regexes.is_empty() {
        return base;
    }
    let ok = |t: &String| {
        regexes
            .iter()
            .all(|(p, ci)| regex_matches(p, t, *ci).unwrap_or(true))
    };
    let (mut good, bad): (Vec<String>, Vec<String>) = base.into_iter().partition(ok);
    good.extend(bad);
    good
}

/// UUIDs: the named ones, then the row's own.
fn uuid_candidates(seed: &Seed, column: &str, named: &[V]) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = named
        .iter()
        .filter_map(|v| match v {
            V::Text(t) => Some(Candidate::text(t.clone())),
            _ => None,
        })
        .collect();
    out.push(Candidate::text(seed.uuid(column)));
    out
}

/// JSON: `{}`, an object holding the row's lane name, `[]`; the object first when unique.
fn json_candidates(seed: &Seed, column: &str, unique: bool) -> Vec<Candidate> {
    let name = seed
        .lane
        .name(&format!("{column} {}", seed.n))
        .unwrap_or_default();
    let object = serde_json::json!({ "pglane": name });
    let mut out = vec![
        Candidate {
            check: V::Json(serde_json::json!({})),
            val: Val::Json(serde_json::json!({})),
        },
        Candidate {
            check: V::Json(object.clone()),
            val: Val::Json(object),
        },
        Candidate {
            check: V::Json(serde_json::json!([])),
            val: Val::Json(serde_json::json!([])),
        },
    ];
    if unique {
        out.swap(0, 1);
    }
    out
}

/// Bytes: the row's lane name, hex-encoded.
fn bytea_candidates(seed: &Seed, column: &str) -> Vec<Candidate> {
    let name = seed
        .lane
        .name(&format!("{column} {}", seed.n))
        .unwrap_or_default();
    let hex: String = name.bytes().map(|b| format!("{b:02x}")).collect();
    vec![Candidate {
        check: V::Text(format!("\\x{hex}")),
        val: Val::Text(format!("\\x{hex}")),
    }]
}

/// Timestamps and dates: `now()` (moved for a unique column), a moment just inside each fixed
/// bound, then a day later and a day earlier.
fn timestamp_candidates(seed: &Seed, column: &str, unique: bool, hints: &[Hint]) -> Vec<Candidate> {
    let mut out = Vec::new();
    for h in hints {
        if let Hint::Above(V::Time(t), _) | Hint::Below(V::Time(t), _) = h {
            // A fixed bound: a moment just inside it.
            let inside = match h {
                Hint::Above(..) => t + 86_400.0,
                _ => t - 86_400.0,
            };
            out.push(Candidate::now(seed.now, (inside - seed.now) as i64));
        }
    }
    let offset = if unique {
        (seed.hash_u128(column) % 1_000_000) as i64
    } else {
        0
    };
    out.insert(0, Candidate::now(seed.now, offset));
    out.push(Candidate::now(seed.now, 86_400));
    out.push(Candidate::now(seed.now, -86_400));
    out
}

/// Ranges: a non-empty one (a CHECK of `not isempty(r)`, a booking's span) that differs by
/// row, so an exclusion constraint (`exclude using gist (room with =, span with &&)`) does not
/// find two of one lane's rows overlapping: `[k, k+1)` for numbers, the k-th day from today
/// for dates, the k-th hour from now for timestamps, `k` the row number past a start that
/// depends on the lane (within ten years of days, one year of hours), so concurrent tests
/// seldom meet either. Then `empty`.
fn range_candidates(seed: &Seed, column: &str, sub: &Shape) -> Vec<Candidate> {
    let spread = match sub {
        Shape::Date => 3_650,
        Shape::Timestamp => 8_760,
        _ => 100_000,
    };
    let k = (seed.hash_u128(column) % spread) as i64 + seed.n as i64;
    let now = seed.now.floor() as i64;
    let literal = match sub {
        Shape::Date => {
            let day =
                |d: i64| utc_text(now.div_euclid(86_400) * 86_400 + d * 86_400)[..10].to_string();
            format!("[{},{})", day(k), day(k + 1))
        }
        Shape::Timestamp => {
            let hour = now - now.rem_euclid(3_600) + k * 3_600;
            format!("[{},{})", utc_text(hour), utc_text(hour + 3_600))
        }
        _ => format!("[{k},{})", k + 1),
    };
    vec![
        Candidate {
            check: V::Unknown,
            val: Val::Text(literal),
        },
        Candidate::text("empty".into()),
    ]
}

/// `YYYY-MM-DD HH:MM:SS+00` of seconds since 1970.
fn utc_text(secs: i64) -> String {
    super::template::rfc3339(secs, 0)
        .replace('T', " ")
        .replace(".000000Z", "+00")
}

/// Arrays: empty, and one holding the element's first candidate; that one first when unique.
fn array_candidates(
    seed: &Seed,
    column: &str,
    elem: &Shape,
    unique: bool,
    first_only: bool,
) -> Vec<Candidate> {
    let items: Vec<Candidate> = candidates_of(seed, column, elem, unique, &[], first_only);
    let empty = Candidate {
        check: V::Array(Vec::new()),
        val: Val::Text("{}".into()),
    };
    let Some(first) = items.into_iter().next() else {
        return vec![empty];
    };
    let text = match &first.val {
        Val::Text(t) => t.clone(),
        Val::Json(j) => j.to_string(),
        _ => return vec![empty],
    };
    let one = Candidate {
        check: V::Array(vec![first.check]),
        val: Val::Text(pg_array_literal(&[text])),
    };
    if unique {
        vec![one, empty]
    } else {
        vec![empty, one]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::lane::naming::NameFormat;

    fn lane() -> Lane {
        Lane::new(&NameFormat::default(), "abcdefghij", 3, 7, "pglane.test").unwrap()
    }

    fn seed(lane: &Lane, n: u64) -> Seed<'_> {
        Seed {
            lane,
            table: "public.tasks",
            table_name: "tasks",
            n,
            now: 1.7e9,
        }
    }

    #[test]
    fn the_named_first_candidate_is_the_first_of_all_candidates() {
        let l = lane();
        let text = |t: &str| V::Text(t.into());
        let hint_sets = [
            vec![Hint::OneOf(vec![text("a"), text("b")])],
            vec![
                Hint::OneOf(vec![V::Num(3.0), text("x")]),
                Hint::MaxLength(4),
            ],
            vec![
                Hint::OneOf(vec![text("p"), text("q"), text("r")]),
                Hint::Like("p%".into()),
            ],
            vec![Hint::NoneOf(vec![text("a")])],
            vec![],
        ];
        for hints in &hint_sets {
            for shape in [
                Shape::Text { max: None },
                Shape::Text { max: Some(3) },
                Shape::Float,
            ] {
                for unique in [false, true] {
                    for n in 1..=4 {
                        let s = seed(&l, n);
                        let first = named_first(&s, &shape, unique, hints);
                        let all = candidates(&s, "kind", &shape, unique, hints);
                        if let Some(first) = &first {
                            assert_eq!(
                                (&first.check, format!("{:?}", first.val)),
                                (&all[0].check, format!("{:?}", all[0].val)),
                                "{hints:?} {shape:?} unique {unique} row {n}"
                            );
                        }
                        // Text with named values always has a first; other cases make them all.
                        let named = hints.iter().any(|h| matches!(h, Hint::OneOf(_)));
                        assert_eq!(
                            first.is_some(),
                            named && matches!(shape, Shape::Text { .. }),
                            "{hints:?} {shape:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn ranges_are_non_empty_differ_by_row_and_stay_near_now() {
        let l = lane();
        let first = |n: u64, sub: Shape| match &range_candidates(&seed(&l, n), "span", &sub)[0].val
        {
            Val::Text(t) => t.clone(),
            other => panic!("{other:?}"),
        };
        let (a, b) = (first(1, Shape::Timestamp), first(2, Shape::Timestamp));
        assert_ne!(a, b);
        let bounds: Vec<f64> = a
            .trim_matches(['[', ')'])
            .split(',')
            .map(|t| super::super::check::parse_time(t).unwrap())
            .collect();
        assert_eq!(bounds[1] - bounds[0], 3_600.0, "{a}");
        assert!(
            bounds[0] >= 1.7e9 - 3_600.0 && bounds[0] <= 1.7e9 + 366.0 * 86_400.0,
            "{a}"
        );
        let days = first(1, Shape::Date);
        assert!(
            days.starts_with('[') && days.len() == "[2023-11-14,2023-11-15)".len(),
            "{days}"
        );
        assert_eq!(
            first(3, Shape::Int { min: 0, max: 10 }).split(',').count(),
            2
        );
        assert!(matches!(
            &range_candidates(&seed(&l, 1), "span", &Shape::Float)[1].val,
            Val::Text(t) if t == "empty"
        ));
    }

    #[test]
    fn texts_made_from_a_regular_expression_match_it_and_differ_by_row() {
        let l = lane();
        let patterns = [
            ("^[A-Z]{3}$", false),
            ("^[^@\\s]+@[^@\\s]+\\.[a-z]{2,}$", true),
            ("^(EUR|USD|GBP)$", false),
            ("^\\d{5}(-\\d{4})?$", false),
            ("^[[:alpha:]][[:alnum:]_]*$", false),
            ("^https?://[a-z0-9.-]+/.*$", false),
            ("^[^a-zA-Z0-9]+$", false),
        ];
        for (pattern, ci) in patterns {
            let texts: std::collections::BTreeSet<String> = (1..=20)
                .map(|n| regex_text(&seed(&l, n), "code", pattern, ci).unwrap())
                .collect();
            for t in &texts {
                assert_eq!(
                    regex_matches(pattern, t, ci),
                    Some(true),
                    "{pattern}: {t:?}"
                );
            }
            assert!(
                texts.len() > 1,
                "{pattern}: rows get different texts: {texts:?}"
            );
        }
        // A check that is only a regular expression is met by inference.
        let hints = [Hint::Regex("^[A-Z]{3}$".into(), false)];
        let first = candidates(
            &seed(&l, 1),
            "currency",
            &Shape::Text { max: None },
            true,
            &hints,
        );
        let Val::Text(t) = &first[0].val else {
            panic!("{first:?}")
        };
        assert_eq!(regex_matches("^[A-Z]{3}$", t, false), Some(true), "{t}");
        assert_eq!(regex_text(&seed(&l, 1), "c", "(unclosed", false), None);
    }

    #[test]
    fn text_is_lane_named_and_shaped_by_the_column_name() {
        let l = lane();
        let s = seed(&l, 2);
        let first =
            |col: &str| match &candidates(&s, col, &Shape::Text { max: None }, false, &[])[0].val {
                Val::Text(t) => t.clone(),
                other => panic!("{other:?}"),
            };
        assert_eq!(first("title"), "abcdefghij-w3-7-title 2");
        assert_eq!(first("email"), "abcdefghij-w3-7-email-2@pglane.test");
        assert_eq!(first("slug"), "abcdefghij-w3-7-tasks-2");
        assert_eq!(
            first("website_url"),
            "https://pglane.test/abcdefghij-w3-7-website-url-2"
        );
        assert!(first("phone").starts_with("+1555"));
    }

    #[test]
    fn values_are_deterministic_per_lane_and_row() {
        let l = lane();
        let a = candidates(&seed(&l, 1), "id", &Shape::Uuid, true, &[]);
        let b = candidates(&seed(&l, 1), "id", &Shape::Uuid, true, &[]);
        let c = candidates(&seed(&l, 2), "id", &Shape::Uuid, true, &[]);
        assert_eq!(a[0].check, b[0].check);
        assert_ne!(a[0].check, c[0].check);
        let V::Text(u) = &a[0].check else { panic!() };
        assert_eq!(uuid::Uuid::parse_str(u).unwrap().get_version_num(), 8);
    }

    #[test]
    fn short_columns_get_compact_text_and_numbers_stay_within_precision_and_checks() {
        let l = lane();
        let s = seed(&l, 1);
        let c = candidates(&s, "code", &Shape::Text { max: Some(6) }, true, &[]);
        let V::Text(t) = &c[0].check else { panic!() };
        assert_eq!(t.len(), 6);
        let c = candidates(
            &s,
            "price",
            &Shape::Numeric {
                precision: Some(4),
                scale: 1,
            },
            true,
            &[],
        );
        let V::Num(n) = c[0].check else { panic!() };
        assert!(n.abs() <= 999.9, "{n}");
        let hints = [
            Hint::Above(V::Num(1.0), true),
            Hint::Below(V::Num(5.0), true),
        ];
        let c = candidates(
            &s,
            "stars",
            &Shape::Int {
                min: -2_147_483_648,
                max: 2_147_483_647,
            },
            true,
            &hints,
        );
        let V::Num(n) = c[0].check else { panic!() };
        assert!((1.0..=5.0).contains(&n), "{n}");
    }

    #[test]
    fn named_values_come_first_and_rotate_for_unique_columns() {
        let l = lane();
        let hints = [Hint::OneOf(vec![V::Text("a".into()), V::Text("b".into())])];
        let first = |n: u64, unique: bool| {
            candidates(
                &seed(&l, n),
                "kind",
                &Shape::Text { max: None },
                unique,
                &hints,
            )[0]
            .check
            .clone()
        };
        assert_eq!(first(1, false), V::Text("a".into()));
        assert_eq!(first(2, false), V::Text("a".into()));
        assert_eq!(first(2, true), V::Text("b".into()));
    }
}
