//! Which table a name means: `schema.table`, `"Quoted"."Name"`, or a bare name, resolved against
//! the graph with a suggestion when nothing matches. A resolved table is kept as a
//! [`TableName`] (schema and name as the catalog spells them), so it is never parsed again.

use super::{SchemaGraph, TableId};
use crate::core::error::{excerpt, Error, ErrorCode, Result};
use std::fmt;

/// A table's exact identity: schema and name, unquoted, as the catalog spells them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TableName {
    /// Schema name.
    pub schema: String,
    /// Table name.
    pub name: String,
}

impl TableName {
    /// The table `schema.name`.
    pub fn new(schema: &str, name: &str) -> TableName {
        TableName {
            schema: schema.to_string(),
            name: name.to_string(),
        }
    }

    /// The name in a form [`SchemaGraph::resolve`] reads back as exactly this table: parts that
    /// hold a dot, a quote or an upper-case letter are double-quoted.
    pub fn qualified(&self) -> String {
        fn part(s: &str) -> String {
            if s.contains(['.', '"']) || s.chars().any(char::is_uppercase) || s.is_empty() {
                format!("\"{}\"", s.replace('"', "\"\""))
            } else {
                s.to_string()
            }
        }
        format!("{}.{}", part(&self.schema), part(&self.name))
    }
}

impl fmt::Display for TableName {
    /// `schema.name`, unquoted: for messages and reports.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.schema, self.name)
    }
}

impl SchemaGraph {
    /// Finds a table by name: `schema.table`, `"Quoted"."Name"`, or a bare name looked up in
    /// `public` first and then in any schema where it is unique. Exact spelling first, then
    /// the lower-case form (as SQL folds unquoted names).
    pub fn resolve(&self, name: &str) -> Result<TableId> {
        let (schema, table) = split_qualified(name)?;
        let candidates = |t: &str| -> Vec<TableId> {
            match &schema {
                Some(s) => self.find(&TableName::new(s, t)).into_iter().collect(),
                None => {
                    if let Some(id) = self.find(&TableName::new("public", t)) {
                        return vec![id];
                    }
                    self.tables
                        .iter()
                        .enumerate()
                        .filter(|(_, tb)| tb.name == t)
                        .map(|(i, _)| i)
                        .collect()
                }
            }
        };
        let mut found = candidates(&table);
        if found.is_empty() && table.to_lowercase() != table {
            found = candidates(&table.to_lowercase());
        }
        match found.len() {
            1 => Ok(found[0]),
            0 => Err(Error::new(
                ErrorCode::UnknownTable,
                format!(
                    "table {:?} does not exist{}",
                    excerpt(name, 100),
                    self.suggest(&table)
                ),
            )),
            _ => Err(Error::new(
                ErrorCode::UnknownTable,
                format!(
                    "table {:?} exists in several schemas ({}): qualify it as schema.table",
                    excerpt(name, 100),
                    found
                        .iter()
                        .map(|&i| self.tables[i].display_name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
        }
    }

    /// The table of an exact [`TableName`], or `PGLANE_UNKNOWN_TABLE` with a suggestion.
    pub fn resolve_name(&self, name: &TableName) -> Result<TableId> {
        self.find(name).ok_or_else(|| {
            Error::new(
                ErrorCode::UnknownTable,
                format!("table {name} does not exist{}", self.suggest(&name.name)),
            )
        })
    }

    fn suggest(&self, table: &str) -> String {
        let lower = table.to_lowercase();
        let mut close: Vec<(usize, String)> = self
            .tables
            .iter()
            .filter_map(|t| {
                let n = t.name.to_lowercase();
                let distance = edit_distance(&n, &lower);
                let overlap =
                    n.len().min(lower.len()) >= 4 && (n.contains(&lower) || lower.contains(&n));
                (distance <= 2 || overlap).then(|| (distance, t.display_name()))
            })
            .collect();
        close.sort();
        close.truncate(3);
        if close.is_empty() {
            String::new()
        } else {
            let names: Vec<String> = close.into_iter().map(|(_, n)| n).collect();
            format!(" (did you mean {}?)", names.join(", "))
        }
    }
}

/// Splits `schema.table`, honouring double quotes (`"my.schema"."Table"`).
pub fn split_qualified(name: &str) -> Result<(Option<String>, String)> {
    let bad = || {
        Error::new(
            ErrorCode::UnknownTable,
            format!(
                "table name {:?} is not a valid table or schema.table name",
                excerpt(name, 100)
            ),
        )
    };
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = name.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                cur.push('"');
            }
            '"' => quoted = !quoted,
            '.' if !quoted => parts.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    if quoted {
        return Err(bad());
    }
    parts.push(cur);
    if parts.iter().any(|p| p.is_empty()) || parts.len() > 2 {
        return Err(bad());
    }
    let table = parts.pop().expect("one part at least");
    Ok((parts.pop(), table))
}

/// Levenshtein distance of two names, for suggestions.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::schema::tests::sample;

    #[test]
    fn resolves_bare_qualified_quoted_and_mixed_case_names() {
        let g = sample();
        assert_eq!(g.resolve("orgs").unwrap(), 1);
        assert_eq!(g.resolve("public.orgs").unwrap(), 1);
        assert_eq!(g.resolve("users").unwrap(), 0);
        assert_eq!(g.resolve("auth.users").unwrap(), 0);
        assert_eq!(g.resolve("\"other\".\"Mixed Case\"").unwrap(), 6);
        assert_eq!(g.resolve("Mixed Case").unwrap(), 6);
        assert_eq!(g.resolve("ORGS").unwrap(), 1);
        let err = g.resolve("org").unwrap_err();
        assert_eq!(err.code(), ErrorCode::UnknownTable);
        assert!(err.message().contains("public.orgs"), "{}", err.message());
        assert_eq!(
            g.resolve("a.b.c").unwrap_err().code(),
            ErrorCode::UnknownTable
        );
        assert_eq!(
            g.resolve("\"unterminated").unwrap_err().code(),
            ErrorCode::UnknownTable
        );
    }

    #[test]
    fn a_huge_name_is_cut_in_the_message() {
        let g = sample();
        for name in [
            "x".repeat(10_000),
            format!("public.{}", "ü".repeat(10_000)),
            format!("{}.", "s".repeat(5_000)),
        ] {
            let err = g.resolve(&name).unwrap_err();
            assert_eq!(err.code(), ErrorCode::UnknownTable);
            assert!(
                err.message().chars().count() < 300,
                "{}",
                err.message().len()
            );
            assert!(err.message().contains('…'), "{}", err.message());
        }
    }

    #[test]
    fn qualified_names_read_back_as_the_same_table() {
        for (schema, name) in [
            ("public", "orgs"),
            ("Billing", "Invoice.Items"),
            ("we\"ird", "a.b"),
            ("other", "Mixed Case"),
        ] {
            let t = TableName::new(schema, name);
            let (s, n) = split_qualified(&t.qualified()).unwrap();
            assert_eq!((s.as_deref(), n.as_str()), (Some(schema), name));
        }
    }
}
