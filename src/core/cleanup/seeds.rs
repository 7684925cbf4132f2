//! Where a cleanup starts: tracked rows by primary key, or a lane's rows by name.

use crate::core::error::{Error, ErrorCode, Result};
use crate::core::lane::tracker::TrackedRow;
use crate::core::lane::LanePattern;
use crate::core::schema::{SchemaGraph, TableId, TableName};
use std::collections::BTreeMap;

/// Where cleanup starts in a table.
#[derive(Debug, Clone)]
pub enum Seed {
    /// Rows with these primary keys (text values in key column order).
    Keys(Vec<Vec<String>>),
    /// Rows where any of `columns` matches a lane's pattern.
    Like {
        /// Text columns holding lane names or emails.
        columns: Vec<String>,
        /// The lane's pattern.
        pattern: LanePattern,
    },
}

/// `(schema.table, [columns])`: where lane names are stored.
pub type LaneColumns = [(String, Vec<String>)];

/// Up to this many tracked keys is a test's cleanup; more, or rows matched by name, are many.
pub const TEST_SIZED: usize = 100;

/// The seeds of one cleanup, in table order.
#[derive(Debug, Clone, Default)]
pub struct Seeds(Vec<(TableId, Seed)>);

impl Seeds {
    /// Seeds of tracked rows, and the table of each row (`None` for a table the graph does not
    /// have: it was dropped since, and the row is left out). Rows tracked by the lane's name (a
    /// table without a primary key) are the rows of that table whose text columns match
    /// `lane`, the test's pattern.
    pub fn from_tracked(
        graph: &SchemaGraph,
        rows: &[TrackedRow],
        lane: Option<&LanePattern>,
    ) -> (Seeds, Vec<Option<TableId>>) {
        let tables = table_ids(graph, rows);
        let mut by_table: BTreeMap<TableId, Vec<Vec<String>>> = BTreeMap::new();
        let mut by_name = Vec::new();
        for (row, t) in rows.iter().zip(&tables) {
            let Some(t) = *t else { continue };
            if !row.is_by_lane_name() {
                by_table.entry(t).or_default().push(row.key.clone());
                continue;
            }
            let columns: Vec<String> = graph.tables[t]
                .text_columns()
                .map(|c| c.name.clone())
                .collect();
            if let (Some(pattern), false) = (lane, columns.is_empty()) {
                let seed = Seed::Like {
                    columns,
                    pattern: pattern.clone(),
                };
                by_name.push((t, seed));
            }
        }
        (Seeds(by_name).with_keys(by_table), tables)
    }

    /// Seeds of a lane: the rows whose lane columns match `pattern`; with no columns given,
    /// every text column of every table ([`text_columns`]).
    pub fn from_lane(
        graph: &SchemaGraph,
        pattern: &LanePattern,
        lane_columns: Option<&LaneColumns>,
    ) -> Result<Seeds> {
        let every;
        let lane_columns = match lane_columns {
            Some(given) => given,
            None => {
                every = text_columns(graph);
                &every[..]
            }
        };
        if lane_columns.is_empty() {
            return Err(Error::invalid_config(
                "no lane columns: say which name and email columns hold lane names, e.g. { 'public.organizations': ['name'] }",
            ));
        }
        let mut seeds = Vec::with_capacity(lane_columns.len());
        for (table, columns) in lane_columns {
            let t = graph.resolve(table)?;
            if columns.is_empty() {
                return Err(Error::invalid_config(format!(
                    "no lane columns given for {table}"
                )));
            }
            if let Some(c) = columns.iter().find(|c| graph.tables[t].column(c).is_none()) {
                return Err(Error::invalid_config(format!(
                    "table {} has no column {c:?} to match lane names against",
                    graph.tables[t].display_name()
                )));
            }
            seeds.push((
                t,
                Seed::Like {
                    columns: columns.clone(),
                    pattern: pattern.clone(),
                },
            ));
        }
        seeds.sort_by_key(|(t, _)| *t);
        Ok(Seeds(seeds))
    }

    /// These seeds and rows with the given keys.
    pub fn with_keys(mut self, keys: BTreeMap<TableId, Vec<Vec<String>>>) -> Seeds {
        self.0
            .extend(keys.into_iter().map(|(t, k)| (t, Seed::Keys(k))));
        self.0.sort_by_key(|(t, _)| *t);
        self
    }

    /// Each seeded table with its seed (a table may have several).
    pub fn iter(&self) -> impl Iterator<Item = (TableId, &Seed)> {
        self.0.iter().map(|(t, s)| (*t, s))
    }

    /// The seeded tables, each once, in order.
    pub fn tables(&self) -> Vec<TableId> {
        let mut tables: Vec<TableId> = self.0.iter().map(|(t, _)| *t).collect();
        tables.dedup();
        tables
    }

    /// Could the rows these seeds reach be many: a lane's rows by name, or more tracked keys
    /// than a test makes? Such a cleanup gets a plan made for its own parameters.
    pub fn many_rows(&self) -> bool {
        let mut keys = 0;
        for (_, seed) in &self.0 {
            match seed {
                Seed::Keys(k) => keys += k.len(),
                Seed::Like { .. } => return true,
            }
        }
        keys > TEST_SIZED
    }

    /// Is there no seed?
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many distinct tracked keys `table` has, or `None` when rows of it are matched by
    /// name (their number is not known beforehand).
    pub fn distinct_keys(&self, table: TableId) -> Option<u64> {
        let mut distinct = std::collections::HashSet::new();
        for (_, seed) in self.0.iter().filter(|(t, _)| *t == table) {
            match seed {
                Seed::Keys(keys) => distinct.extend(keys.iter()),
                Seed::Like { .. } => return None,
            }
        }
        Some(distinct.len() as u64)
    }

    /// Up to `limit` tracked keys of `tables`, for a failure report.
    pub fn keys_in(&self, tables: &[TableId], limit: usize) -> Vec<Vec<String>> {
        self.0
            .iter()
            .filter(|(t, _)| tables.contains(t))
            .flat_map(|(_, s)| match s {
                Seed::Keys(k) => k.clone(),
                Seed::Like { .. } => Vec::new(),
            })
            .take(limit)
            .collect()
    }
}

/// Every text column (`text`, `varchar`, `char`, `citext`) of every table, by table: where an
/// app may have stored a lane's names. Partitions are covered by their root, and pglane's own
/// schema is left out.
pub fn text_columns(graph: &SchemaGraph) -> Vec<(String, Vec<String>)> {
    graph
        .tables
        .iter()
        .filter(|t| t.partition_of.is_none() && t.schema != "pglane")
        .map(|t| {
            let cols: Vec<String> = t.text_columns().map(|c| c.name.clone()).collect();
            (t.table_name().qualified(), cols)
        })
        .filter(|(_, cols)| !cols.is_empty())
        .collect()
}

/// The lane columns whose tables and columns exist in `graph` (a database may hold only part
/// of a schema the columns were written for).
pub fn lane_columns_present(
    graph: &SchemaGraph,
    columns: &LaneColumns,
) -> Vec<(String, Vec<String>)> {
    columns
        .iter()
        .filter(|(t, cols)| {
            graph
                .resolve(t)
                .is_ok_and(|id| cols.iter().all(|c| graph.tables[id].column(c).is_some()))
        })
        .cloned()
        .collect()
}

/// The primary key check of a table seeded by keys: it must have a primary key, and every key
/// as many values as it has columns.
pub fn check_keys(graph: &SchemaGraph, table: TableId, keys: &[Vec<String>]) -> Result<()> {
    let t = &graph.tables[table];
    if t.pk.is_empty() {
        return Err(Error::new(
            ErrorCode::BadKey,
            format!("table {} has no primary key", t.display_name()),
        ));
    }
    if let Some(key) = keys.iter().find(|k| k.len() != t.pk.len()) {
        return Err(Error::new(
            ErrorCode::BadKey,
            format!(
                "a key of {} has {} values, the primary key {}",
                t.display_name(),
                key.len(),
                t.pk.len()
            ),
        ));
    }
    Ok(())
}

/// The table of each row (`None`: not in the graph). Rows come in runs of one table: each run's
/// table is looked up once.
pub fn table_ids(graph: &SchemaGraph, rows: &[TrackedRow]) -> Vec<Option<TableId>> {
    let mut last: Option<(&TableName, Option<TableId>)> = None;
    rows.iter()
        .map(|r| match last {
            Some((name, t)) if *name == r.table => t,
            _ => {
                let t = graph.find(&r.table);
                last = Some((&r.table, t));
                t
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::schema::tests::sample;

    #[test]
    fn lane_seeds_need_existing_columns() {
        let g = sample();
        let format = crate::core::lane::naming::NameFormat::default();
        let pattern = LanePattern::of(&format, "abc123xyz0", None, None).unwrap();
        let err = Seeds::from_lane(
            &g,
            &pattern,
            Some(&[("public.orgs".into(), vec!["nope".into()])]),
        )
        .unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidConfig);
        let err = Seeds::from_lane(&g, &pattern, Some(&[])).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidConfig);
        let ok = Seeds::from_lane(
            &g,
            &pattern,
            Some(&[("orgs".into(), vec!["owner_id".into()])]),
        )
        .unwrap();
        assert_eq!(ok.tables(), vec![1]);
        assert_eq!(ok.distinct_keys(1), None);
    }

    #[test]
    fn by_default_every_text_column_of_every_table_is_a_lane_column() {
        use crate::core::schema::tests::{col, table};
        let mut notes = table("public", "notes", &[("id", "int4")]);
        notes
            .columns
            .push(col("title", "character varying(80)", false));
        notes.columns.push(col("body", "text", false));
        notes.columns.push(col("tags", "text[]", false));
        let mut part = table("public", "notes_2024", &[("id", "int4")]);
        part.columns.push(col("body", "text", false));
        part.partition_of = Some(0);
        let mut journal = table("pglane", "journal", &[("id", "int4")]);
        journal.columns.push(col("table_name", "text", false));
        let g = SchemaGraph::from_parts(
            vec![
                notes,
                part,
                journal,
                table("public", "counts", &[("id", "int4")]),
            ],
            vec![],
        );
        assert_eq!(
            text_columns(&g),
            vec![(
                "public.notes".to_string(),
                vec!["title".to_string(), "body".to_string()]
            )]
        );
    }

    #[test]
    fn only_present_lane_columns_are_kept() {
        let g = sample();
        let cols = vec![
            ("public.orgs".to_string(), vec!["owner_id".to_string()]),
            ("public.orgs".to_string(), vec!["nope".to_string()]),
            ("public.missing".to_string(), vec!["name".to_string()]),
        ];
        assert_eq!(lane_columns_present(&g, &cols), vec![cols[0].clone()]);
    }
}
