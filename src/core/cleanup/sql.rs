//! Every statement cleanup sends, built here from a [`Closure`] and its [`Seeds`].
//!
//! The happy path is one statement: a chain of delete CTEs, parents before children, each
//! child finding its rows through the keys its parents' deletes return (a cycle of tables, or a
//! table referencing itself, is walked first with one recursive CTE and deleted by `ctid`).
//! Postgres checks foreign keys at the end of a statement, so rows of a cycle go together
//! without setting anything to null or deferring constraints, and `RESTRICT` and `NO ACTION`
//! children go with their parents. The fallback's chain only *selects* the closure and deletes
//! it group by group, children first, each group under a savepoint.

use super::closure::Closure;
use super::seeds::{check_keys, Seed, Seeds};
use crate::core::db::query::{unspecified, TextParam};
use crate::core::db::Param;
use crate::core::error::{Error, Result};
use crate::core::lane::LanePattern;
use crate::core::schema::{quote_ident, ForeignKey, SchemaGraph, TableId};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use tokio_postgres::types::{ToSql, Type};

/// The fallback's transaction and savepoint statements. Deferrable constraints are checked at
/// once, so a group that breaks one fails under its own savepoint, not at commit; JIT
/// compilation is off (see `Conn::query_guarded`).
pub const BEGIN: &str = "begin; set local jit = off; set constraints all immediate";
/// Before each group of the fallback.
pub const SAVEPOINT: &str = "savepoint pglane_cleanup_group";
/// After a group that went.
pub const RELEASE: &str = "release savepoint pglane_cleanup_group";
/// After a group that failed: its rows stay, the rest goes on.
pub const ROLLBACK_TO: &str = "rollback to savepoint pglane_cleanup_group";
/// At the end of the fallback.
pub const COMMIT: &str = "commit";

/// A statement parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlParam {
    /// Text of no stated type (an array literal of keys): the statement casts it to the key's
    /// array type, so Postgres reads the keys with that type's input function as it binds.
    /// (Sent as `text[]` and cast `::text[]::uuid[]`, the keys were converted while planning,
    /// more than once for a key array used twice: 1.3 of the 1.8 ms a 1,000-key cleanup spent
    /// planning.)
    Untyped(TextParam),
    /// A `text`.
    Text(String),
}

/// The array literal of `values` (each quoted) with the element type's delimiter.
pub fn array_literal(values: impl IntoIterator<Item = impl AsRef<str>>, delim: char) -> String {
    let mut out = String::from("{");
    for (i, v) in values.into_iter().enumerate() {
        if i > 0 {
            out.push(delim);
        }
        out.push('"');
        for ch in v.as_ref().chars() {
            if ch == '"' || ch == '\\' {
                out.push('\\');
            }
            out.push(ch);
        }
        out.push('"');
    }
    out.push('}');
    out
}

/// The parameters of a plan's statements, all sent as text and cast in SQL.
#[derive(Debug, Clone, Default)]
pub struct Params(pub Vec<SqlParam>);

impl Params {
    /// Adds a parameter; returns its placeholder (`$n`).
    pub fn push(&mut self, p: SqlParam) -> String {
        self.0.push(p);
        format!("${}", self.0.len())
    }

    /// The parameters with the types they are sent as.
    pub fn typed(&self) -> Vec<Param<'_>> {
        self.0
            .iter()
            .map(|p| match p {
                SqlParam::Untyped(v) => (v as &(dyn ToSql + Sync), unspecified()),
                SqlParam::Text(s) => (s as &(dyn ToSql + Sync), Type::TEXT),
            })
            .collect()
    }
}

/// How many rows a cleanup expects, which decides how a child is joined to its parent's rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scale {
    /// A test's few rows: `= any(array(...))` lets Postgres use the foreign key's index.
    Test,
    /// A lane sweep's thousands: a semi-join (`in (select ...)`) lets Postgres hash instead of
    /// comparing every row with every key.
    Lane,
}

/// Whether a chain deletes the closure as it walks it, or only selects it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainMode {
    /// `d*` CTEs that delete (the happy path).
    Delete,
    /// `s*` CTEs that select `ctid` and keys (the fallback).
    Select,
}

/// A seeded table's conditions on alias `t`, one per seed, each also in a looser form that
/// is cheap to test: every row a condition takes passes its loose form too. A lane seed's
/// loose form is its LIKE without the lane shape's regular expression (a regular expression
/// costs 1-3 µs a row; a lane's LIKE prefix, a fraction of that); a key seed's is itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeedConds {
    /// The conditions (a row is seeded when it passes one).
    pub exact: Vec<String>,
    /// Their loose forms, in the same order.
    pub loose: Vec<String>,
}

/// The seed conditions of each seeded table (alias `t`), and their parameters.
pub fn seed_conditions(
    graph: &SchemaGraph,
    seeds: &Seeds,
    params: &mut Params,
) -> Result<BTreeMap<TableId, SeedConds>> {
    let mut conds: BTreeMap<TableId, SeedConds> = BTreeMap::new();
    for (t, seed) in seeds.iter() {
        let (exact, loose) = seed_condition(graph, t, seed, params)?;
        let entry = conds.entry(t).or_default();
        entry.exact.push(exact);
        entry.loose.push(loose);
    }
    Ok(conds)
}

/// A seed's condition and its loose form.
fn seed_condition(
    graph: &SchemaGraph,
    t: TableId,
    seed: &Seed,
    params: &mut Params,
) -> Result<(String, String)> {
    let table = &graph.tables[t];
    match seed {
        Seed::Keys(keys) => {
            check_keys(graph, t, keys)?;
            let arrays: Vec<(String, String)> = table
                .pk
                .iter()
                .enumerate()
                .map(|(i, col)| {
                    let literal = array_literal(keys.iter().map(|k| &k[i]), col.delim);
                    let p = params.push(SqlParam::Untyped(TextParam(Some(literal))));
                    (
                        format!("t.{}", quote_ident(&col.name)),
                        format!("{p}::{}[]", col.type_sql),
                    )
                })
                .collect();
            let cond = if let [(col, arr)] = arrays.as_slice() {
                format!("{col} = any({arr})")
            } else {
                let (cols, arrs): (Vec<String>, Vec<String>) = arrays.into_iter().unzip();
                format!(
                    "({}) in (select * from unnest({}))",
                    cols.join(", "),
                    arrs.join(", ")
                )
            };
            Ok((cond.clone(), cond))
        }
        Seed::Like { columns, pattern } => {
            let lane = LaneParams::push(graph, pattern, params);
            let exprs: Vec<String> = columns
                .iter()
                .map(|c| format!("t.{}::text", quote_ident(c)))
                .collect();
            let exact: Vec<String> = exprs.iter().map(|e| lane.matching(e)).collect();
            let loose: Vec<String> = exprs.iter().map(|e| lane.prefix_of(e)).collect();
            Ok((or_join(&exact), or_join(&loose)))
        }
    }
}

/// The placeholders of a lane's pattern in a statement: its LIKE pattern and, for a run or a
/// worker, the regular expression of the full lane shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaneParams {
    /// Placeholder of the LIKE pattern.
    pub like: String,
    /// Placeholder of the shape's regular expression.
    pub shape: Option<String>,
    /// Match the shape with `regexp_like` (the server has it) rather than `~`.
    pub regexp_like: bool,
}

impl LaneParams {
    /// Adds the lane's parameters; returns their placeholders.
    pub fn push(graph: &SchemaGraph, pattern: &LanePattern, params: &mut Params) -> LaneParams {
        LaneParams {
            regexp_like: graph.regexp_like,
            like: params.push(SqlParam::Text(pattern.as_str().to_string())),
            shape: pattern
                .shape()
                .map(|re| params.push(SqlParam::Text(re.to_string()))),
        }
    }

    /// `expr` (a text expression) holds one of the lane's names: the LIKE pattern (which an
    /// index can serve) and the lane's shape.
    pub fn matching(&self, expr: &str) -> String {
        match &self.shape {
            Some(re) => format!("({expr} like {} and {})", self.like, self.regex(expr, re)),
            None => format!("{expr} like {}", self.like),
        }
    }

    /// `expr` matches the regular expression `re`. Both forms run the same matcher; the
    /// function's is not estimated from the column's statistics while planning (the LIKE
    /// before it is, and says as much about how many rows pass).
    fn regex(&self, expr: &str, re: &str) -> String {
        if self.regexp_like {
            format!("pg_catalog.regexp_like({expr}, {re})")
        } else {
            format!("{expr} ~ {re}")
        }
    }

    /// `expr` starts with the lane's literal prefix: [`LaneParams::matching`] without the
    /// shape, which every row that matches passes.
    pub fn prefix_of(&self, expr: &str) -> String {
        format!("{expr} like {}", self.like)
    }

    /// `expr` holds one of the lane's names anywhere in it (`'created ' || name` of an audit
    /// trigger), not only at its start: for rows already tied to the lane's rows by a foreign
    /// key, which no index on the text serves anyway. The shape's regular expression starts
    /// with `^`, which `substr` leaves out.
    pub fn somewhere_in(&self, expr: &str) -> String {
        match &self.shape {
            Some(re) => format!(
                "({expr} like ('%' || {}) and {})",
                self.like,
                self.regex(expr, &format!("substr({re}, 2)"))
            ),
            None => format!("{expr} like ('%' || {})", self.like),
        }
    }
}

/// `a`, or `(a or b ...)`, or `false` for none.
pub fn or_join(conds: &[String]) -> String {
    match conds {
        [] => "false".into(),
        [one] => one.clone(),
        many => format!("({})", many.join(" or ")),
    }
}

/// Rows of a child referencing rows of a parent CTE.
fn edge_condition(fk: &ForeignKey, parent_cte: &str, scale: Scale) -> String {
    if fk.child_cols.len() == 1 && scale == Scale::Test {
        return format!(
            "t.{} = any(array(select {} from {parent_cte}))",
            quote_ident(&fk.child_cols[0]),
            quote_ident(&fk.parent_cols[0])
        );
    }
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

/// A chain of CTEs over a closure, and the CTE of each walked table.
#[derive(Debug, Clone)]
pub struct Chain {
    /// `with [recursive] d1 as (...), ...`.
    pub sql: String,
    /// The CTE of each table.
    pub cte: HashMap<TableId, String>,
}

/// Rows of `table` whose text carries the lane's name, anywhere in a text column (`lane`: the
/// parameters of the lane's pattern), or `false` when the table has no text column.
pub fn lane_named(graph: &SchemaGraph, table: TableId, lane: &LaneParams) -> String {
    let conds: Vec<String> = graph.tables[table]
        .text_columns()
        .map(|c| lane.somewhere_in(&format!("t.{}::text", quote_ident(&c.name))))
        .collect();
    or_join(&conds)
}

/// What a chain needs to know besides the closure.
pub struct ChainSpec<'a> {
    /// Seed conditions per seeded table.
    pub seed_conds: &'a BTreeMap<TableId, SeedConds>,
    /// Tables whose deleted rows' `ctid` a check needs.
    pub with_ctid: &'a [TableId],
    /// How children join their parents.
    pub scale: Scale,
    /// Delete or select.
    pub mode: ChainMode,
    /// The parameters of the lane's pattern, for children reached through a lane edge (`None`
    /// when the closure has none).
    pub lane_param: Option<&'a LaneParams>,
    /// One stage of a cleanup that deletes in stages; `None`: the whole closure.
    pub stage: Option<StageTables<'a>>,
}

/// The tables of one stage's chain: those it deletes, and those it only selects (their rows go
/// in a later stage, and this stage's rows are found through them). The rest it leaves out.
#[derive(Debug, Clone, Copy)]
pub struct StageTables<'a> {
    /// Deleted by this stage.
    pub deletes: &'a [TableId],
    /// Selected by this stage.
    pub selects: &'a [TableId],
}

/// Columns each table's CTE exposes: its primary key and every column a walked child
/// references.
fn exposed_columns(graph: &SchemaGraph, closure: &Closure) -> HashMap<TableId, Vec<String>> {
    let mut exposed: HashMap<TableId, Vec<String>> = closure
        .tables()
        .into_iter()
        .map(|t| {
            (
                t,
                graph.tables[t].pk.iter().map(|c| c.name.clone()).collect(),
            )
        })
        .collect();
    for fk in closure.edges.iter().map(|&i| &graph.fks[i]) {
        let cols = exposed.get_mut(&fk.parent).expect("a walked parent");
        for c in &fk.parent_cols {
            if !cols.contains(c) {
                cols.push(c.clone());
            }
        }
    }
    exposed
}

/// Builds the chain over `closure`.
pub fn chain(graph: &SchemaGraph, closure: &Closure, spec: &ChainSpec<'_>) -> Result<Chain> {
    let exposed = exposed_columns(graph, closure);
    let recursive = closure.tables().iter().any(|&t| closure.in_cycle[t]);
    let mut b = ChainBuilder {
        graph,
        closure,
        spec,
        exposed: &exposed,
        parts: Vec::new(),
        cte: HashMap::new(),
    };
    for (gi, group) in closure.groups.iter().enumerate() {
        if let Some(stage) = &spec.stage {
            let t = group[0];
            if !stage.deletes.contains(&t) && !stage.selects.contains(&t) {
                continue;
            }
        }
        if closure.in_cycle[group[0]] {
            b.cycle(gi, group)?;
        } else {
            let t = group[0];
            let conds = b.outer_conds(t, group);
            b.table_cte(t, &or_join(&conds));
        }
    }
    let head = if recursive {
        "with recursive "
    } else {
        "with "
    };
    Ok(Chain {
        sql: format!("{head}{}", b.parts.join(",\n")),
        cte: b.cte,
    })
}

struct ChainBuilder<'a> {
    graph: &'a SchemaGraph,
    closure: &'a Closure,
    spec: &'a ChainSpec<'a>,
    exposed: &'a HashMap<TableId, Vec<String>>,
    parts: Vec<String>,
    cte: HashMap<TableId, String>,
}

impl ChainBuilder<'_> {
    /// Conditions from seeds and from parents outside `group`, in the order Postgres tests
    /// them (it stops at the first a row passes). A lane's rows are mostly reached through
    /// their parents too, so there a parent's (a hash lookup) goes before the table's lane
    /// names (a regular expression per name that passes the LIKE), and those before a lane
    /// edge's (names anywhere in any text column).
    fn outer_conds(&self, t: TableId, group: &[TableId]) -> Vec<String> {
        let seeds = self
            .spec
            .seed_conds
            .get(&t)
            .map(|c| c.exact.clone())
            .unwrap_or_default();
        let mut parents = Vec::new();
        let mut lane_edges = Vec::new();
        for (i, fk) in self.closure.edges_into(self.graph, t) {
            if !group.contains(&fk.parent) {
                let edge = edge_condition(fk, &self.cte[&fk.parent], self.spec.scale);
                if self.is_lane_edge(i) {
                    lane_edges.push(self.lane_only(i, t, edge));
                } else {
                    parents.push(edge);
                }
            }
        }
        match self.spec.scale {
            Scale::Test => [seeds, parents, lane_edges].concat(),
            Scale::Lane => [parents, seeds, lane_edges].concat(),
        }
    }

    /// Does foreign key `fk` reach its child's rows only where they carry the lane's names?
    fn is_lane_edge(&self, fk: usize) -> bool {
        self.spec.lane_param.is_some() && self.closure.lane_edges.contains(&fk)
    }

    /// `cond`, restricted to lane-named rows when foreign key `fk` is a lane edge.
    fn lane_only(&self, fk: usize, child: TableId, cond: String) -> String {
        match self.spec.lane_param {
            Some(p) if self.is_lane_edge(fk) => {
                format!("({cond} and {})", lane_named(self.graph, child, p))
            }
            _ => cond,
        }
    }

    /// The CTE of one table: its rows are those `rows` (a condition on alias `t`) selects.
    fn table_cte(&mut self, t: TableId, rows: &str) {
        let table = &self.graph.tables[t];
        let cols = &self.exposed[&t];
        let mode = match self.spec.stage {
            Some(stage) if !stage.deletes.contains(&t) => ChainMode::Select,
            _ => self.spec.mode,
        };
        let sql = match mode {
            ChainMode::Delete => {
                let mut items: Vec<String> = Vec::new();
                if self.spec.with_ctid.contains(&t) {
                    items.push("t.ctid".into());
                }
                items.extend(cols.iter().map(|c| format!("t.{}", quote_ident(c))));
                if items.is_empty() {
                    items.push("1".into());
                }
                format!(
                    "d{t} as (delete from {} t where {rows} returning {})",
                    table.sql_name(),
                    items.join(", ")
                )
            }
            ChainMode::Select => {
                let extra: String = cols
                    .iter()
                    .map(|c| format!(", t.{}", quote_ident(c)))
                    .collect();
                format!(
                    "s{t} as (select t.ctid{extra} from {} t where {rows})",
                    table.sql_name()
                )
            }
        };
        self.parts.push(sql);
        let prefix = match mode {
            ChainMode::Delete => "d",
            ChainMode::Select => "s",
        };
        self.cte.insert(t, format!("{prefix}{t}"));
    }

    /// A cycle: walked with one recursive CTE over (table, ctid, referenced values), then one
    /// CTE per table takes its rows by `ctid`.
    fn cycle(&mut self, gi: usize, group: &[TableId]) -> Result<()> {
        let graph = self.graph;
        let r = format!("r{gi}");
        let local = |t: TableId| group.iter().position(|&g| g == t).expect("in group");
        let inner: Vec<(usize, &ForeignKey)> = self
            .closure
            .edges
            .iter()
            .map(|&i| (i, &graph.fks[i]))
            .filter(|(_, fk)| group.contains(&fk.child) && group.contains(&fk.parent))
            .collect();
        // The referenced values each table carries through the walk.
        let vals: HashMap<TableId, Vec<String>> = group
            .iter()
            .map(|&t| {
                let mut cols: Vec<String> = Vec::new();
                for (_, fk) in inner.iter().filter(|(_, fk)| fk.parent == t) {
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
        let base: Vec<String> = group
            .iter()
            .filter_map(|&t| {
                let conds = self.outer_conds(t, group);
                (!conds.is_empty()).then(|| {
                    format!(
                        "select {}::int4, t.ctid::text, {} from {} t where {}",
                        local(t),
                        vals_expr(t),
                        graph.tables[t].sql_name(),
                        or_join(&conds)
                    )
                })
            })
            .collect();
        if base.is_empty() {
            return Err(Error::internal(
                "a cycle in the cleanup closure has no starting rows",
            ));
        }
        let steps: Vec<String> = inner
            .iter()
            .map(|&(i, fk)| {
                let child = &graph.tables[fk.child];
                let mut on = vec![format!("r.tbl = {}", local(fk.parent))];
                for (cc, pc) in fk.child_cols.iter().zip(&fk.parent_cols) {
                    let pos = vals[&fk.parent]
                        .iter()
                        .position(|v| v == pc)
                        .expect("carried")
                        + 1;
                    let ty = child.column(cc).map_or("text", |c| c.type_sql.as_str());
                    on.push(format!("t.{} = (r.vals[{pos}])::{ty}", quote_ident(cc)));
                }
                format!(
                    "select {}::int4, t.ctid::text, {} from {} t where {}",
                    local(fk.child),
                    vals_expr(fk.child),
                    child.sql_name(),
                    self.lane_only(i, fk.child, on.join(" and "))
                )
            })
            .collect();
        self.parts.push(format!(
            "{r}(tbl, row_ctid, vals) as ({} union select e.tbl, e.row_ctid, e.vals from {r} r cross join lateral ({}) e(tbl, row_ctid, vals))",
            base.join(" union all "),
            steps.join(" union all ")
        ));
        for &t in group {
            let rows = format!(
                "t.ctid = any(array(select row_ctid::tid from {r} where tbl = {}))",
                local(t)
            );
            self.table_cte(t, &rows);
        }
        Ok(())
    }
}

/// The happy path's statement: the delete chain, then one row with the `int8[]` of deleted
/// counts in `tables` order and, when there are `checks`, the `int8[]` of those counts.
pub fn delete_statement(chain: &Chain, tables: &[TableId], checks: Option<&[String]>) -> String {
    let counts: Vec<String> = tables
        .iter()
        .map(|t| format!("(select count(*) from {})", chain.cte[t]))
        .collect();
    let mut sql = format!("{}\nselect array[{}]::int8[]", chain.sql, counts.join(", "));
    if let Some(checks) = checks {
        let _ = write!(sql, ", array[{}]::int8[]", checks.join(", "));
    }
    sql
}

/// A dry run's statement: a select chain, then one row with the `int8[]` of the rows each of
/// `tables` would lose.
pub fn count_chain_statement(chain: &Chain, tables: &[TableId]) -> String {
    delete_statement(chain, tables, None)
}

/// A check counting, among the rows a delete CTE returned, those matching `cond` (tracked
/// rows deleted).
pub fn deleted_matching(cte: &str, cond: &str) -> String {
    format!("(select count(*) from {cte} t where {cond})")
}

/// A check counting rows of `table` matching `cond` that the delete CTE did not return
/// (lane rows left). An anti-join: thousands of rows are not each compared with every
/// deleted row's `ctid`.
///
/// With a looser form of `cond` (`loose`, see [`SeedConds`]), the rows are found by it and
/// `cond` is tested only on those the delete left (an aggregate's filter runs after the
/// anti-join): the delete took nearly every matching row, so its costly part (a lane shape's
/// regular expression) runs on next to none instead of once more on each deleted row.
pub fn left_matching(table_sql: &str, cte: &str, cond: &str, loose: &str) -> String {
    let not_deleted = format!("not exists (select from {cte} d where d.ctid = t.ctid)");
    if cond == loose {
        format!("(select count(*) from {table_sql} t where {cond} and {not_deleted})")
    } else {
        format!(
            "(select count(*) filter (where {cond}) from {table_sql} t where {loose} and {not_deleted})"
        )
    }
}

/// The fallback's statement for one group: the select chain, then deletes of the group's
/// selected rows; counts in `group` order.
pub fn group_delete_statement(graph: &SchemaGraph, chain: &Chain, group: &[TableId]) -> String {
    let mut sql = chain.sql.clone();
    let mut counts = Vec::new();
    for &t in group {
        let _ = write!(
            sql,
            ",\nd{t} as (delete from {} t where t.ctid = any(array(select ctid from {})) returning 1)",
            graph.tables[t].sql_name(),
            chain.cte[&t]
        );
        counts.push(format!("(select count(*) from d{t})"));
    }
    let _ = write!(sql, "\nselect array[{}]::int8[]", counts.join(", "));
    sql
}

/// One statement counting, per seeded table, the rows its seeds still match.
pub fn count_statement(
    graph: &SchemaGraph,
    conds: &BTreeMap<TableId, SeedConds>,
) -> Option<String> {
    if conds.is_empty() {
        return None;
    }
    let counts: Vec<String> = conds
        .iter()
        .map(|(&t, c)| {
            format!(
                "(select count(*) from {} t where {})",
                graph.tables[t].sql_name(),
                or_join(&c.exact)
            )
        })
        .collect();
    Some(format!("select array[{}]::int8[]", counts.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_array_literal_quotes_every_key_with_the_types_delimiter() {
        assert_eq!(array_literal(["a", "b"], ','), r#"{"a","b"}"#);
        assert_eq!(
            array_literal([r#"say "hi""#, r"back\slash", "a,b", "{x}", ""], ','),
            r#"{"say \"hi\"","back\\slash","a,b","{x}",""}"#
        );
        assert_eq!(
            array_literal(["(0,0),(1,1)", "ü"], ';'),
            r#"{"(0,0),(1,1)";"ü"}"#
        );
        assert_eq!(array_literal(Vec::<String>::new(), ','), "{}");
    }
}
