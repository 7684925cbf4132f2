//! The three plans a cleanup runs: a [`DeletePlan`] (the happy path, one statement that deletes
//! the closure and checks itself), a [`SelectPlan`] (the fallback: the closure selected, then
//! deleted group by group) and a [`CountPlan`] (how many seeded rows are left: verification,
//! leak checks).

use super::closure::{Closure, Dependents, LaneRows};
use super::seeds::Seeds;
use super::sql::{self, Chain, ChainMode, ChainSpec, Params, Scale, SqlParam};
use crate::core::error::Result;
use crate::core::lane::LanePattern;
use crate::core::schema::{SchemaGraph, TableId};
use std::collections::BTreeMap;

/// How a delete plan is shaped.
#[derive(Debug, Clone, Copy)]
pub struct PlanOptions {
    /// Which rows besides the seeded ones go.
    pub dependents: Dependents,
    /// A test's few rows, or a lane's many.
    pub scale: Scale,
    /// Whether the statement also shows, in its own snapshot, that the seeded rows went.
    pub verify: bool,
}

/// How the one-statement cleanup shows, in its own snapshot, what became of a seeded table's
/// rows. `expected` is the number of distinct tracked keys: when that many were deleted,
/// nothing tracked remains once the statement commits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SeedCheck {
    /// The table's delete takes tracked keys only, so its deleted count (at `table`, an index
    /// into [`DeletePlan::tables`]) is the number of tracked rows deleted.
    Deleted { table: usize, expected: u64 },
    /// Element `check` of the statement's check array counts the tracked rows deleted.
    TrackedDeleted { check: usize, expected: u64 },
    /// Element `check` counts the rows matching the table's lane seed that were not deleted.
    LaneLeft { check: usize },
}

/// Counts, per seeded table, the rows its seeds still match.
#[derive(Debug, Clone)]
pub struct CountPlan {
    /// The seeded tables, in the order of the counts.
    pub seeded: Vec<TableId>,
    /// The statement (none when nothing is seeded); it takes its plan's parameters.
    pub sql: Option<String>,
}

impl CountPlan {
    /// A count of what `seeds` match, with its own parameters.
    pub fn build(graph: &SchemaGraph, seeds: &Seeds) -> Result<(CountPlan, Params)> {
        let mut params = Params::default();
        let conds = sql::seed_conditions(graph, seeds, &mut params)?;
        Ok((CountPlan::of(graph, &conds), params))
    }

    fn of(graph: &SchemaGraph, conds: &BTreeMap<TableId, Vec<String>>) -> CountPlan {
        CountPlan {
            seeded: conds.keys().copied().collect(),
            sql: sql::count_statement(graph, conds),
        }
    }
}

/// The happy path: one statement deletes the closure and counts what it deleted.
#[derive(Debug, Clone)]
pub struct DeletePlan {
    /// Walked tables, parents first: the statement's deleted counts follow this order.
    pub tables: Vec<TableId>,
    /// Tables whose rows go through `ON DELETE CASCADE` only (not counted).
    pub cascaded: Vec<TableId>,
    /// Per seeded table (in [`CountPlan::seeded`] order): how the statement shows its rows
    /// went. Empty without verification.
    pub checks: Vec<SeedCheck>,
    /// Parameters of the statement and of [`DeletePlan::count`].
    pub params: Params,
    /// The statement.
    pub sql: String,
    /// What is left, counted by a second statement when the checks fall short.
    pub count: CountPlan,
}

/// What every plan starts from: the closure of the seeds, and the parameters of its statements.
struct Basis {
    closure: Closure,
    params: Params,
    /// Seed conditions per seeded table.
    seed_conds: BTreeMap<TableId, Vec<String>>,
    /// The parameter of the lane's pattern, when lane edges need it.
    lane_param: Option<String>,
}

/// The closure of `seeds` and its parameters: seed conditions first, then the lane's pattern
/// when rows behind SET NULL / SET DEFAULT foreign keys go by it.
fn basis(
    graph: &SchemaGraph,
    seeds: &Seeds,
    dependents: Dependents,
    lane: Option<&LanePattern>,
) -> Result<Basis> {
    let lane_rows = if lane.is_some() {
        LaneRows::Follow
    } else {
        LaneRows::Ignore
    };
    let closure = Closure::of(graph, &seeds.tables(), dependents, lane_rows);
    let mut params = Params::default();
    let seed_conds = sql::seed_conditions(graph, seeds, &mut params)?;
    let lane_param = match lane {
        Some(p) if !closure.lane_edges.is_empty() => {
            Some(params.push(SqlParam::Text(p.as_str().to_string())))
        }
        _ => None,
    };
    Ok(Basis {
        closure,
        params,
        seed_conds,
        lane_param,
    })
}

impl DeletePlan {
    /// Plans the deletion of `seeds` and of the dependents `options` asks for; with `lane`,
    /// rows behind SET NULL / SET DEFAULT foreign keys that carry its names go too.
    pub fn build(
        graph: &SchemaGraph,
        seeds: &Seeds,
        options: PlanOptions,
        lane: Option<&LanePattern>,
    ) -> Result<DeletePlan> {
        let Basis {
            closure,
            params,
            seed_conds,
            lane_param,
        } = basis(graph, seeds, options.dependents, lane)?;
        let tables = closure.tables();
        let lane_seeded: Vec<TableId> = seed_conds
            .keys()
            .copied()
            .filter(|&t| seeds.distinct_keys(t).is_none())
            .collect();
        let count = CountPlan::of(graph, &seed_conds);
        if closure.is_empty() {
            return Ok(DeletePlan {
                tables,
                cascaded: closure.cascaded,
                checks: Vec::new(),
                params,
                sql: String::new(),
                count,
            });
        }
        let chain = sql::chain(
            graph,
            &closure,
            &ChainSpec {
                seed_conds: &seed_conds,
                with_ctid: if options.verify { &lane_seeded } else { &[] },
                scale: options.scale,
                mode: ChainMode::Delete,
                lane_param: lane_param.as_deref(),
            },
        )?;
        let (checks, check_sql) = if options.verify {
            seed_checks(graph, &closure, &chain, seeds, &seed_conds)
        } else {
            (Vec::new(), Vec::new())
        };
        let sql = sql::delete_statement(&chain, &tables, options.verify.then_some(&check_sql[..]));
        Ok(DeletePlan {
            tables,
            cascaded: closure.cascaded,
            checks,
            params,
            sql,
            count,
        })
    }

    /// Is there nothing to delete?
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }
}

/// The checks of each seeded table, and the SQL of those that need an element of the check
/// array. A table whose delete takes tracked keys only needs none: every row it deletes is a
/// seeded one, so its deleted count tells.
fn seed_checks(
    graph: &SchemaGraph,
    closure: &Closure,
    chain: &Chain,
    seeds: &Seeds,
    seed_conds: &BTreeMap<TableId, Vec<String>>,
) -> (Vec<SeedCheck>, Vec<String>) {
    let tables = closure.tables();
    let mut check_sql = Vec::new();
    let checks = seed_conds
        .iter()
        .map(|(&t, conds)| {
            let cond = sql::or_join(conds);
            let by_keys_only =
                !closure.in_cycle[t] && closure.edges_into(graph, t).next().is_none();
            match seeds.distinct_keys(t) {
                Some(expected) if by_keys_only => SeedCheck::Deleted {
                    table: tables.iter().position(|&x| x == t).expect("walked"),
                    expected,
                },
                Some(expected) => {
                    check_sql.push(sql::deleted_matching(&chain.cte[&t], &cond));
                    SeedCheck::TrackedDeleted {
                        check: check_sql.len() - 1,
                        expected,
                    }
                }
                None => {
                    check_sql.push(sql::left_matching(
                        &graph.tables[t].sql_name(),
                        &chain.cte[&t],
                        &cond,
                    ));
                    SeedCheck::LaneLeft {
                        check: check_sql.len() - 1,
                    }
                }
            }
        })
        .collect();
    (checks, check_sql)
}

/// The fallback: the closure, every table walked (so a failing table is named even when it
/// would only have cascaded), selected by a chain that each group's delete reuses.
#[derive(Debug, Clone)]
pub struct SelectPlan {
    /// Groups of walked tables, parents first (the fallback deletes them in reverse).
    pub groups: Vec<Vec<TableId>>,
    chain: Chain,
    /// Parameters of every statement of the plan.
    pub params: Params,
    /// What is left afterwards.
    pub count: CountPlan,
}

impl SelectPlan {
    /// Plans the fallback's selection of `seeds` and, when `include_dependents`, of every
    /// dependent row.
    pub fn build(
        graph: &SchemaGraph,
        seeds: &Seeds,
        include_dependents: bool,
        scale: Scale,
        lane: Option<&LanePattern>,
    ) -> Result<SelectPlan> {
        let dependents = if include_dependents {
            Dependents::DeleteAll
        } else {
            Dependents::Skip
        };
        let Basis {
            closure,
            params,
            seed_conds,
            lane_param,
        } = basis(graph, seeds, dependents, lane)?;
        let chain = sql::chain(
            graph,
            &closure,
            &ChainSpec {
                seed_conds: &seed_conds,
                with_ctid: &[],
                scale,
                mode: ChainMode::Select,
                lane_param: lane_param.as_deref(),
            },
        )?;
        Ok(SelectPlan {
            groups: closure.groups,
            chain,
            params,
            count: CountPlan::of(graph, &seed_conds),
        })
    }

    /// One statement deleting the selected rows of `group`; counts in `group` order.
    pub fn delete_group_sql(&self, graph: &SchemaGraph, group: &[TableId]) -> String {
        sql::group_delete_statement(graph, &self.chain, group)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::schema::tests::sample;

    fn keys(t: TableId, v: &[&str]) -> Seeds {
        Seeds::default().with_keys(
            [(t, v.iter().map(|k| vec![k.to_string()]).collect())]
                .into_iter()
                .collect(),
        )
    }

    const ID: &str = "0195f1c2-7b3a-7cde-8f00-0123456789ab";

    fn options(dependents: Dependents) -> PlanOptions {
        PlanOptions {
            dependents,
            scale: Scale::Test,
            verify: true,
        }
    }

    #[test]
    fn a_seeded_table_without_parents_is_checked_by_its_deleted_count() {
        let g = sample();
        let plan =
            DeletePlan::build(&g, &keys(0, &[ID]), options(Dependents::DeleteAll), None).unwrap();
        assert_eq!(plan.tables[0], 0, "parents first");
        assert_eq!(
            plan.checks,
            vec![SeedCheck::Deleted {
                table: 0,
                expected: 1
            }]
        );
        assert_eq!(plan.params.0.len(), 1);
        assert_eq!(plan.count.seeded, vec![0]);
    }

    #[test]
    fn a_seeded_child_of_a_walked_parent_counts_its_tracked_rows_among_the_deleted() {
        let g = sample();
        // members (2) is seeded and also found through users (0).
        let seeds =
            keys(0, &[ID]).with_keys([(2, vec![vec![ID.to_string()]])].into_iter().collect());
        let plan = DeletePlan::build(&g, &seeds, options(Dependents::LeaveCascades), None).unwrap();
        assert!(plan.checks.contains(&SeedCheck::TrackedDeleted {
            check: 0,
            expected: 1
        }));
    }

    #[test]
    fn the_fallback_walks_every_table_of_the_closure() {
        let g = sample();
        let plan = SelectPlan::build(&g, &keys(1, &[ID]), true, Scale::Test, None).unwrap();
        let tables: Vec<TableId> = plan.groups.iter().flatten().copied().collect();
        assert_eq!(
            tables,
            vec![1, 2],
            "members are walked, not left to the cascade"
        );
    }

    #[test]
    fn a_count_needs_only_the_seeds() {
        let g = sample();
        let (plan, params) = CountPlan::build(&g, &keys(5, &["7"])).unwrap();
        assert_eq!(plan.seeded, vec![5]);
        assert!(plan.sql.is_some());
        assert_eq!(params.0.len(), 1);
    }
}
