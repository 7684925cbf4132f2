//! The cleanup plan: from seed rows (tracked keys, or lane names matching a LIKE pattern) to the
//! closure of rows that reference them, and the SQL that deletes that closure.
//!
//! Every statement pglane sends for cleanup is built here. The plan is one statement: a chain of
//! delete CTEs, parents before children, each child finding its rows through the keys its
//! parents' deletes return (a cycle of tables, or a table referencing itself, is walked first
//! with one recursive CTE and deleted by `ctid`). Postgres checks foreign keys at the end of a
//! statement, so rows of a cycle go together without setting anything to null or deferring
//! constraints, and `RESTRICT` and `NO ACTION` children go with their parents. The fallback's
//! plan only *selects* the closure, and deletes it group by group.

use crate::core::error::{Error, ErrorCode, Result};
use crate::core::schema_graph::{quote_ident, ForeignKey, OnDelete, SchemaGraph, TableId};
use std::collections::{HashMap, VecDeque};
use std::fmt::Write;

/// Where cleanup starts in a table.
#[derive(Debug, Clone)]
pub enum Seed {
    /// Rows with these primary keys (text values in key column order).
    Keys(Vec<Vec<String>>),
    /// Rows where any of `columns` matches the LIKE `pattern`.
    Like {
        /// Text columns holding lane names or emails.
        columns: Vec<String>,
        /// An escaped LIKE pattern.
        pattern: String,
    },
}

/// How the one-statement cleanup shows, in its own snapshot, what became of a seeded table's
/// rows. `expected` is the number of distinct tracked keys: when that many were deleted,
/// nothing tracked remains once the statement commits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SeedCheck {
    /// The table's delete takes tracked keys only, so its deleted count (at `table`, an index
    /// into [`CleanupPlan::tables`]) is the number of tracked rows deleted.
    Deleted { table: usize, expected: u64 },
    /// Element `check` of the statement's check array counts the tracked rows deleted.
    TrackedDeleted { check: usize, expected: u64 },
    /// Element `check` counts the rows matching the table's LIKE seed that were not deleted.
    LikeLeft { check: usize },
}

/// A statement parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlParam {
    /// A `text[]`.
    TextArray(Vec<String>),
    /// A `text`.
    Text(String),
}

/// The closure of some seeds and the SQL to delete and verify it.
#[derive(Debug, Clone)]
pub struct CleanupPlan {
    /// Tables of the closure, parents first; counts returned by [`CleanupPlan::delete_all_sql`]
    /// follow this order.
    pub tables: Vec<TableId>,
    /// The same tables grouped into components (a cycle is one group), parents first.
    pub groups: Vec<Vec<TableId>>,
    /// Tables that have seeds; counts returned by [`CleanupPlan::verify_sql`] follow this order.
    pub seeded: Vec<TableId>,
    /// Per table of [`CleanupPlan::seeded`]: how [`CleanupPlan::delete_all_sql`] shows that
    /// its seeded rows are gone.
    pub seed_checks: Vec<SeedCheck>,
    /// Parameters of every statement of the plan.
    pub params: Vec<SqlParam>,
    /// Tables of the closure the plan leaves to Postgres: every row of them that goes, goes
    /// through an `ON DELETE CASCADE` from a row the plan deletes, and nothing below them needs
    /// deleting by hand, so they get no CTE (and their rows are not counted).
    pub cascaded: Vec<TableId>,
    /// The CTE chain: `d*` CTEs that delete the closure (the happy path), or, for the
    /// fallback, `s*` CTEs that only select it.
    chain: String,
    /// The CTE of each table in `chain`.
    cte: HashMap<TableId, String>,
    /// Whether `chain` selects (the fallback's plan) rather than deletes.
    for_fallback: bool,
    seed_conditions: Vec<(TableId, String)>,
    sql_names: HashMap<TableId, String>,
}

struct Params(Vec<SqlParam>);

impl Params {
    fn push(&mut self, p: SqlParam) -> String {
        self.0.push(p);
        format!("${}", self.0.len())
    }
}

impl CleanupPlan {
    /// Plans the deletion of `seeds` and, when `include_dependents`, of every row that
    /// references them through a foreign key whose ON DELETE is NO ACTION, RESTRICT or CASCADE
    /// (SET NULL and SET DEFAULT children stay: the schema says they outlive their parent).
    ///
    /// Rows that an `ON DELETE CASCADE` removes anyway are left to Postgres (its foreign-key
    /// triggers run plans it has cached), unless `count_dependents` asks for every table to be
    /// deleted and counted by the plan, or something below them must be deleted by hand (a NO
    /// ACTION or RESTRICT child, a cycle), or the seeds are LIKE patterns (a lane sweep).
    pub fn build(
        graph: &SchemaGraph,
        seeds: &[(TableId, Seed)],
        include_dependents: bool,
        count_dependents: bool,
    ) -> Result<CleanupPlan> {
        Self::plan(graph, seeds, include_dependents, count_dependents, false)
    }

    /// The plan of the group-by-group fallback: every table of the closure planned (so a
    /// failing table is named even when it would only have cascaded), selected by `s*` CTEs
    /// for [`CleanupPlan::delete_sql`].
    pub fn build_fallback(
        graph: &SchemaGraph,
        seeds: &[(TableId, Seed)],
        include_dependents: bool,
    ) -> Result<CleanupPlan> {
        Self::plan(graph, seeds, include_dependents, true, true)
    }

    fn plan(
        graph: &SchemaGraph,
        seeds: &[(TableId, Seed)],
        include_dependents: bool,
        count_dependents: bool,
        for_fallback: bool,
    ) -> Result<CleanupPlan> {
        let n = graph.tables.len();
        let mut member = vec![false; n];
        let mut queue: VecDeque<TableId> = VecDeque::new();
        for (t, _) in seeds {
            if !member[*t] {
                member[*t] = true;
                queue.push_back(*t);
            }
        }
        if include_dependents {
            while let Some(t) = queue.pop_front() {
                for fk in graph.referenced_by(t) {
                    if fk.on_delete.child_goes_with_parent() && !member[fk.child] {
                        member[fk.child] = true;
                        queue.push_back(fk.child);
                    }
                }
            }
        }
        let closure_edges: Vec<&ForeignKey> = if include_dependents {
            graph
                .fks
                .iter()
                .filter(|fk| {
                    member[fk.child] && member[fk.parent] && fk.on_delete.child_goes_with_parent()
                })
                .collect()
        } else {
            Vec::new()
        };
        let closure_groups = if include_dependents {
            graph.components_parents_first(&member)
        } else {
            let mut g: Vec<Vec<TableId>> = (0..n).filter(|t| member[*t]).map(|t| vec![t]).collect();
            g.sort();
            g
        };

        // Which tables' rows the statement must enumerate: those with something below them to
        // delete by hand (a NO ACTION or RESTRICT child, a cycle), or all when counting. A lane
        // sweep (LIKE seeds) enumerates all: for thousands of rows, deleting children by set in
        // the statement beats Postgres' foreign-key triggers deleting them parent by parent.
        let large = seeds.iter().any(|(_, s)| matches!(s, Seed::Like { .. }));
        let count_dependents = count_dependents || large;
        let cascade = |fk: &ForeignKey| fk.on_delete == OnDelete::Cascade;
        // Tables in a cycle of the closure (walked with a recursive CTE, always enumerated).
        let mut in_cycle = vec![false; n];
        for g in &closure_groups {
            if include_dependents && graph.is_cyclic(g) {
                for &t in g {
                    in_cycle[t] = true;
                }
            }
        }
        let mut enumerate: Vec<bool> = in_cycle.iter().map(|&c| c || count_dependents).collect();
        loop {
            let mut changed = false;
            for fk in &closure_edges {
                if !enumerate[fk.parent] && (!cascade(fk) || enumerate[fk.child]) {
                    enumerate[fk.parent] = true;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        let seeded_table = |t: TableId| seeds.iter().any(|(st, _)| *st == t);
        let planned = |t: TableId| {
            seeded_table(t)
                || enumerate[t]
                || closure_edges.iter().any(|fk| fk.child == t && !cascade(fk))
        };
        // A child finds its rows through a parent's deleted keys when the foreign key does not
        // cascade, or when the child's own rows must be enumerated.
        let edges: Vec<&ForeignKey> = closure_edges
            .iter()
            .copied()
            .filter(|fk| planned(fk.child) && (!cascade(fk) || enumerate[fk.child]))
            .collect();
        let groups: Vec<Vec<TableId>> = closure_groups
            .iter()
            .filter(|g| g.iter().any(|&t| planned(t)))
            .cloned()
            .collect();
        let tables: Vec<TableId> = groups.iter().flatten().copied().collect();
        let cascaded: Vec<TableId> = closure_groups
            .iter()
            .flatten()
            .copied()
            .filter(|&t| !planned(t))
            .collect();

        let mut params = Params(Vec::new());
        // Seed conditions per table (alias `t`), OR-ed.
        let mut seed_conds: HashMap<TableId, Vec<String>> = HashMap::new();
        for (t, seed) in seeds {
            let cond = seed_condition(graph, *t, seed, &mut params)?;
            seed_conds.entry(*t).or_default().push(cond);
        }
        let mut seeded: Vec<TableId> = seed_conds.keys().copied().collect();
        seeded.sort_unstable();
        let seeded_keys: Vec<Option<u64>> = seeded
            .iter()
            .map(|&t| {
                let mut distinct = std::collections::HashSet::new();
                for (_, seed) in seeds.iter().filter(|(st, _)| *st == t) {
                    match seed {
                        Seed::Keys(keys) => distinct.extend(keys.iter()),
                        Seed::Like { .. } => return None,
                    }
                }
                Some(distinct.len() as u64)
            })
            .collect();
        // Tables whose deleted rows' ctids the check needs (LIKE-seeded ones).
        let like_seeded: Vec<TableId> = seeded
            .iter()
            .zip(&seeded_keys)
            .filter(|(_, k)| k.is_none())
            .map(|(t, _)| *t)
            .collect();

        // Columns each table's CTE exposes: its primary key and every column a closure child
        // references.
        let mut exposed: HashMap<TableId, Vec<String>> = HashMap::new();
        for &t in &tables {
            let cols: Vec<String> = graph.tables[t].pk.iter().map(|c| c.name.clone()).collect();
            exposed.insert(t, cols);
        }
        for fk in &edges {
            let cols = exposed.get_mut(&fk.parent).expect("member");
            for c in &fk.parent_cols {
                if !cols.contains(c) {
                    cols.push(c.clone());
                }
            }
        }

        // What a delete CTE returns: the exposed columns, and the ctid when the check needs it.
        let returning = |t: TableId| -> String {
            let mut items: Vec<String> = Vec::new();
            if like_seeded.contains(&t) {
                items.push("t.ctid".into());
            }
            items.extend(exposed[&t].iter().map(|c| format!("t.{}", quote_ident(c))));
            if items.is_empty() {
                items.push("1".into());
            }
            items.join(", ")
        };

        // The chain over the closure: `d*` CTEs that delete it as they go, each child finding
        // its rows through what its parents' deletes return (the happy path: one statement),
        // or `s*` CTEs that only select it (the fallback).
        let (chain, cte) = {
            let delete_mode = !for_fallback;
            let prefix = if delete_mode { "d" } else { "s" };
            let mut cte: HashMap<TableId, String> = HashMap::new();
            let mut sql = String::from(if tables.iter().any(|&t| in_cycle[t]) {
                "with recursive "
            } else {
                "with "
            });
            let mut first = true;
            let mut sep = |sql: &mut String| {
                if !first {
                    sql.push_str(",\n");
                }
                first = false;
            };
            for (gi, group) in groups.iter().enumerate() {
                let in_group = |t: TableId| group.contains(&t);
                let cyclic = in_cycle[group[0]];
                // Conditions from seeds and from parents outside this group.
                let outer_conds = |t: TableId, cte: &HashMap<TableId, String>| -> Vec<String> {
                    let mut conds = seed_conds.get(&t).cloned().unwrap_or_default();
                    for fk in edges
                        .iter()
                        .filter(|fk| fk.child == t && !in_group(fk.parent))
                    {
                        conds.push(edge_condition(fk, &cte[&fk.parent], large));
                    }
                    conds
                };
                if !cyclic {
                    let t = group[0];
                    let name = format!("{prefix}{t}");
                    let conds = outer_conds(t, &cte);
                    sep(&mut sql);
                    if delete_mode {
                        let _ = write!(
                            sql,
                            "{name} as (delete from {} t where {} returning {})",
                            graph.tables[t].sql_name(),
                            or_join(&conds),
                            returning(t)
                        );
                    } else {
                        let _ = write!(
                            sql,
                            "{name} as (select t.ctid{} from {} t where {})",
                            select_cols(&exposed[&t]),
                            graph.tables[t].sql_name(),
                            or_join(&conds)
                        );
                    }
                    cte.insert(t, name);
                    continue;
                }
                // A cycle: walk it with one recursive CTE over (table, ctid, referenced values).
                let r = format!("r{gi}");
                let local = |t: TableId| group.iter().position(|&g| g == t).expect("in group");
                let vals: HashMap<TableId, Vec<String>> = group
                    .iter()
                    .map(|&t| {
                        let mut cols: Vec<String> = Vec::new();
                        for fk in edges
                            .iter()
                            .filter(|fk| fk.parent == t && in_group(fk.child))
                        {
                            for c in &fk.parent_cols {
                                if !cols.contains(c) {
                                    cols.push(c.clone());
                                }
                            }
                        }
                        (t, cols)
                    })
                    .collect();
                let vals_expr = |t: TableId| -> String {
                    let items: Vec<String> = vals[&t]
                        .iter()
                        .map(|c| format!("t.{}::text", quote_ident(c)))
                        .collect();
                    format!("array[{}]::text[]", items.join(", "))
                };
                let mut base = Vec::new();
                for &t in group {
                    let conds = outer_conds(t, &cte);
                    if conds.is_empty() {
                        continue;
                    }
                    base.push(format!(
                        "select {}::int4, t.ctid::text, {} from {} t where {}",
                        local(t),
                        vals_expr(t),
                        graph.tables[t].sql_name(),
                        or_join(&conds)
                    ));
                }
                if base.is_empty() {
                    return Err(Error::internal(
                        "a cycle in the cleanup closure has no starting rows",
                    ));
                }
                let mut steps = Vec::new();
                for fk in edges
                    .iter()
                    .filter(|fk| in_group(fk.child) && in_group(fk.parent))
                {
                    let child = &graph.tables[fk.child];
                    let mut on = vec![format!("r.tbl = {}", local(fk.parent))];
                    for (cc, pc) in fk.child_cols.iter().zip(&fk.parent_cols) {
                        let pos = vals[&fk.parent]
                            .iter()
                            .position(|v| v == pc)
                            .expect("exposed")
                            + 1;
                        let ty = child
                            .column(cc)
                            .map(|c| c.type_sql.clone())
                            .unwrap_or_else(|| "text".into());
                        on.push(format!("t.{} = (r.vals[{pos}])::{ty}", quote_ident(cc)));
                    }
                    steps.push(format!(
                        "select {}::int4, t.ctid::text, {} from {} t where {}",
                        local(fk.child),
                        vals_expr(fk.child),
                        child.sql_name(),
                        on.join(" and ")
                    ));
                }
                sep(&mut sql);
                let _ = write!(
                sql,
                "{r}(tbl, row_ctid, vals) as ({} union select e.tbl, e.row_ctid, e.vals from {r} r cross join lateral ({}) e(tbl, row_ctid, vals))",
                base.join(" union all "),
                steps.join(" union all ")
            );
                for &t in group {
                    let name = format!("{prefix}{t}");
                    sep(&mut sql);
                    let rows = format!(
                        "t.ctid = any(array(select row_ctid::tid from {r} where tbl = {}))",
                        local(t)
                    );
                    if delete_mode {
                        let _ = write!(
                            sql,
                            "{name} as (delete from {} t where {rows} returning {})",
                            graph.tables[t].sql_name(),
                            returning(t)
                        );
                    } else {
                        let _ = write!(
                            sql,
                            "{name} as (select t.ctid{} from {} t where {rows})",
                            select_cols(&exposed[&t]),
                            graph.tables[t].sql_name()
                        );
                    }
                    cte.insert(t, name);
                }
            }
            (sql, cte)
        };
        // A table whose delete takes tracked keys only needs no check of its own: every row it
        // deletes is a seeded one.
        let mut n_checks = 0;
        let mut next_check = || {
            n_checks += 1;
            n_checks - 1
        };
        let seed_checks: Vec<SeedCheck> = seeded
            .iter()
            .zip(&seeded_keys)
            .map(|(&t, keys)| match *keys {
                Some(expected) if !in_cycle[t] && !edges.iter().any(|fk| fk.child == t) => {
                    SeedCheck::Deleted {
                        table: tables.iter().position(|&x| x == t).expect("planned"),
                        expected,
                    }
                }
                Some(expected) => SeedCheck::TrackedDeleted {
                    check: next_check(),
                    expected,
                },
                None => SeedCheck::LikeLeft {
                    check: next_check(),
                },
            })
            .collect();

        let seed_conditions = seeded
            .iter()
            .map(|t| (*t, or_join(&seed_conds[t])))
            .collect();
        let sql_names = tables
            .iter()
            .map(|&t| (t, graph.tables[t].sql_name()))
            .collect();
        Ok(CleanupPlan {
            tables,
            groups,
            seeded,
            seed_checks,
            params: params.0,
            cascaded,
            chain,
            cte,
            for_fallback,
            seed_conditions,
            sql_names,
        })
    }

    /// Is there nothing to delete?
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }

    /// One statement deleting the whole closure: returns one row with an `int8[]` of deleted
    /// counts in [`CleanupPlan::tables`] order and, when `check`, the `int8[]` of checks that
    /// [`CleanupPlan::seed_checks`] index, counted in the statement's own snapshot.
    pub fn delete_all_sql(&self, check: bool) -> String {
        debug_assert!(
            !self.for_fallback,
            "a fallback plan selects, it does not delete"
        );
        let mut sql = self.chain.clone();
        let counts: Vec<String> = self
            .tables
            .iter()
            .map(|t| format!("(select count(*) from {})", self.cte[t]))
            .collect();
        let _ = write!(sql, "\nselect array[{}]::int8[]", counts.join(", "));
        if check {
            let checks: Vec<String> = self
                .seed_conditions
                .iter()
                .zip(&self.seed_checks)
                .filter_map(|((t, cond), check)| match check {
                    SeedCheck::Deleted { .. } => None,
                    SeedCheck::TrackedDeleted { .. } => {
                        Some(format!("(select count(*) from {} t where {cond})", self.cte[t]))
                    }
                    SeedCheck::LikeLeft { .. } => Some(format!(
                        "(select count(*) from {} t where {cond} and t.ctid <> all(array(select ctid from {})))",
                        self.sql_names[t], self.cte[t]
                    )),
                })
                .collect();
            let _ = write!(sql, ", array[{}]::int8[]", checks.join(", "));
        }
        sql
    }

    /// One statement deleting the closure rows of `tables` only (the fallback deletes group by
    /// group, children first, so it can report the group that fails); counts in `tables` order.
    pub fn delete_sql(&self, tables: &[TableId]) -> String {
        debug_assert!(
            self.for_fallback,
            "only a fallback plan selects by `s*` CTEs"
        );
        let mut sql = self.chain.clone();
        let mut counts = Vec::new();
        for &t in tables {
            let _ = write!(
                sql,
                ",\nd{t} as (delete from {} t where t.ctid = any(array(select ctid from {})) returning 1)",
                self.sql_names[&t], self.cte[&t]
            );
            counts.push(format!("(select count(*) from d{t})"));
        }
        let _ = write!(sql, "\nselect array[{}]::int8[]", counts.join(", "));
        sql
    }

    /// One statement counting the seeded rows that still exist, in [`CleanupPlan::seeded`]
    /// order: all zero proves the cleanup (rows that referenced them cannot outlive them).
    pub fn verify_sql(&self) -> Option<String> {
        if self.seed_conditions.is_empty() {
            return None;
        }
        let counts: Vec<String> = self
            .seed_conditions
            .iter()
            .map(|(t, cond)| {
                format!(
                    "(select count(*) from {} t where {cond})",
                    self.sql_names[t]
                )
            })
            .collect();
        Some(format!("select array[{}]::int8[]", counts.join(", ")))
    }
}

fn select_cols(cols: &[String]) -> String {
    cols.iter()
        .map(|c| format!(", t.{}", quote_ident(c)))
        .collect()
}

fn or_join(conds: &[String]) -> String {
    if conds.is_empty() {
        "false".into()
    } else if conds.len() == 1 {
        conds[0].clone()
    } else {
        format!("({})", conds.join(" or "))
    }
}

/// Rows of a child referencing rows of a parent CTE. For a test's few rows, `= any(array(...))`
/// lets Postgres use the foreign key's index; for lane sweeps of thousands of rows a semi-join
/// (`in (select ...)`) lets it hash instead of comparing every row with every key.
fn edge_condition(fk: &ForeignKey, parent_cte: &str, large: bool) -> String {
    if fk.child_cols.len() == 1 && !large {
        format!(
            "t.{} = any(array(select {} from {parent_cte}))",
            quote_ident(&fk.child_cols[0]),
            quote_ident(&fk.parent_cols[0])
        )
    } else {
        let child: Vec<String> = fk
            .child_cols
            .iter()
            .map(|c| format!("t.{}", quote_ident(c)))
            .collect();
        let parent: Vec<String> = fk.parent_cols.iter().map(|c| quote_ident(c)).collect();
        format!(
            "({}) in (select {} from {parent_cte})",
            child.join(", "),
            parent.join(", ")
        )
    }
}

fn seed_condition(
    graph: &SchemaGraph,
    t: TableId,
    seed: &Seed,
    params: &mut Params,
) -> Result<String> {
    let table = &graph.tables[t];
    match seed {
        Seed::Keys(keys) => {
            if table.pk.is_empty() {
                return Err(Error::new(
                    ErrorCode::BadKey,
                    format!("table {} has no primary key", table.display_name()),
                ));
            }
            let mut columns: Vec<Vec<String>> =
                vec![Vec::with_capacity(keys.len()); table.pk.len()];
            for key in keys {
                if key.len() != table.pk.len() {
                    return Err(Error::new(
                        ErrorCode::BadKey,
                        format!(
                            "a key of {} has {} values, the primary key {}",
                            table.display_name(),
                            key.len(),
                            table.pk.len()
                        ),
                    ));
                }
                for (i, v) in key.iter().enumerate() {
                    columns[i].push(v.clone());
                }
            }
            let mut arrays = Vec::new();
            for (col, values) in table.pk.iter().zip(columns) {
                let p = params.push(SqlParam::TextArray(values));
                arrays.push((col, format!("{p}::text[]::{}[]", col.type_sql)));
            }
            if arrays.len() == 1 {
                let (col, arr) = &arrays[0];
                Ok(format!("t.{} = any({arr})", quote_ident(&col.name)))
            } else {
                let cols: Vec<String> = arrays
                    .iter()
                    .map(|(c, _)| format!("t.{}", quote_ident(&c.name)))
                    .collect();
                let arrs: Vec<String> = arrays.iter().map(|(_, a)| a.clone()).collect();
                Ok(format!(
                    "({}) in (select * from unnest({}))",
                    cols.join(", "),
                    arrs.join(", ")
                ))
            }
        }
        Seed::Like { columns, pattern } => {
            if columns.is_empty() {
                return Err(Error::invalid_config(format!(
                    "no lane columns given for {}",
                    table.display_name()
                )));
            }
            let p = params.push(SqlParam::Text(pattern.clone()));
            let mut conds = Vec::new();
            for c in columns {
                if table.column(c).is_none() {
                    return Err(Error::invalid_config(format!(
                        "table {} has no column {c:?} to match lane names against",
                        table.display_name()
                    )));
                }
                conds.push(format!("t.{}::text like {p}", quote_ident(c)));
            }
            Ok(or_join(&conds))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::schema_graph::tests::sample;

    fn keys(v: &[&str]) -> Seed {
        Seed::Keys(v.iter().map(|k| vec![k.to_string()]).collect())
    }

    #[test]
    fn the_closure_follows_cascade_restrict_and_no_action_children() {
        let g = sample();
        let plan = CleanupPlan::build(
            &g,
            &[(0, keys(&["0195f1c2-7b3a-7cde-8f00-0123456789ab"]))],
            true,
            true,
        )
        .unwrap();
        let mut tables = plan.tables.clone();
        tables.sort();
        assert_eq!(tables, vec![0, 1, 2]);
        assert_eq!(plan.tables[0], 0, "parents first");
        let sql = plan.delete_all_sql(true);
        assert!(sql.contains("\"auth\".\"users\""), "{sql}");
        assert_eq!(plan.params.len(), 1);
        assert!(plan
            .verify_sql()
            .unwrap()
            .contains("any($1::text[]::uuid[])"));
    }

    #[test]
    fn cascading_children_are_left_to_postgres_unless_counted() {
        let g = sample();
        let org = || vec![(1, keys(&["0195f1c2-7b3a-7cde-8f00-0123456789ab"]))];
        // members cascade from orgs and nothing below them needs deleting by hand.
        let lean = CleanupPlan::build(&g, &org(), true, false).unwrap();
        assert_eq!(lean.tables, vec![1]);
        assert_eq!(lean.cascaded, vec![2]);
        assert!(!lean.delete_all_sql(true).contains("members"));
        let counted = CleanupPlan::build(&g, &org(), true, true).unwrap();
        assert_eq!(counted.tables, vec![1, 2]);
        assert!(counted.cascaded.is_empty());
        // From users, members go by RESTRICT (by hand) and orgs by NO ACTION; members' cascade
        // from orgs needs no condition of its own.
        let user = CleanupPlan::build(
            &g,
            &[(0, keys(&["0195f1c2-7b3a-7cde-8f00-0123456789ab"]))],
            true,
            false,
        )
        .unwrap();
        let mut tables = user.tables.clone();
        tables.sort();
        assert_eq!(tables, vec![0, 1, 2]);
        let sql = user.delete_all_sql(true);
        let members = sql.lines().find(|l| l.contains("\"members\"")).unwrap();
        assert!(members.contains("\"user_id\""), "{members}");
        assert!(!members.contains("\"org_id\""), "{members}");
    }

    #[test]
    fn without_dependents_only_seeded_tables_are_planned() {
        let g = sample();
        let plan = CleanupPlan::build(
            &g,
            &[(0, keys(&["0195f1c2-7b3a-7cde-8f00-0123456789ab"]))],
            false,
            false,
        )
        .unwrap();
        assert_eq!(plan.tables, vec![0]);
    }

    #[test]
    fn cycles_and_self_references_use_a_recursive_cte() {
        let g = sample();
        let plan =
            CleanupPlan::build(&g, &[(3, keys(&["1"])), (5, keys(&["2"]))], true, false).unwrap();
        let sql = plan.delete_all_sql(true);
        assert!(sql.contains("cross join lateral"), "{sql}");
        assert!(plan.groups.contains(&vec![3, 4]));
    }

    #[test]
    fn like_seeds_need_existing_columns() {
        let g = sample();
        let err = CleanupPlan::build(
            &g,
            &[(
                1,
                Seed::Like {
                    columns: vec!["nope".into()],
                    pattern: "x%".into(),
                },
            )],
            true,
            false,
        )
        .unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidConfig);
    }
}
