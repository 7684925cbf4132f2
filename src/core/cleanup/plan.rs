//! The three plans a cleanup runs: a [`DeletePlan`] (the happy path, one statement that deletes
//! the closure and checks itself), a [`SelectPlan`] (the fallback: the closure selected, then
//! deleted group by group) and a [`CountPlan`] (how many seeded rows are left: verification,
//! leak checks).

use super::closure::{Closure, Dependents, LaneRows};
use super::seeds::{Seed, Seeds, TEST_SIZED};
use super::sql::{
    self, Chain, ChainMode, ChainSpec, LaneParams, Params, Scale, SeedConds, StageTables,
};
use crate::core::error::Result;
use crate::core::lane::LanePattern;
use crate::core::schema::{SchemaGraph, TableId};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

/// How a delete plan is shaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

    fn of(graph: &SchemaGraph, conds: &BTreeMap<TableId, SeedConds>) -> CountPlan {
        CountPlan {
            seeded: conds.keys().copied().collect(),
            sql: sql::count_statement(graph, conds),
        }
    }
}

/// The happy path: one statement deletes the closure and counts what it deleted. A cleanup of
/// many rows whose closure has a foreign key without an index deletes in stages instead (see
/// [`Closure::stages`]): one statement per stage, each its own transaction, all sent at once.
#[derive(Debug, Clone)]
pub struct DeletePlan {
    /// The statements, in the order they run; one unless the cleanup goes in stages. Shared by
    /// every plan of the same shape on the same graph.
    pub stages: Arc<Vec<DeleteStage>>,
    /// Tables whose rows go through `ON DELETE CASCADE` only (not counted).
    pub cascaded: Vec<TableId>,
    /// Per seeded table (in [`CountPlan::seeded`] order): the stage whose statement shows its
    /// rows went, and how. Empty without verification.
    pub checks: Vec<(usize, SeedCheck)>,
    /// Parameters of every statement and of [`DeletePlan::count`].
    pub params: Params,
    /// What is left, counted by a second statement when the checks fall short.
    pub count: CountPlan,
}

/// One statement of a [`DeletePlan`].
#[derive(Debug, Clone)]
pub struct DeleteStage {
    /// The tables it deletes, parents first: its deleted counts follow this order.
    pub tables: Vec<TableId>,
    /// The statement.
    pub sql: String,
}

/// What every plan starts from: the closure of the seeds, and the parameters of its statements.
struct Basis {
    closure: Closure,
    params: Params,
    /// Seed conditions per seeded table.
    seed_conds: BTreeMap<TableId, SeedConds>,
    /// The parameters of the lane's pattern, when lane edges need them.
    lane_param: Option<LaneParams>,
}

/// The closure of `seeds` and its parameters (see [`parameters`]).
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
    let (params, seed_conds, lane_param) = parameters(
        graph,
        seeds,
        lane.filter(|_| !closure.lane_edges.is_empty()),
    )?;
    Ok(Basis {
        closure,
        params,
        seed_conds,
        lane_param,
    })
}

/// A plan's parameters, in the order its statements number them: the seed conditions first,
/// then `lane`'s pattern when the closure follows rows behind SET NULL / SET DEFAULT foreign
/// keys by it (`None` otherwise).
fn parameters(
    graph: &SchemaGraph,
    seeds: &Seeds,
    lane: Option<&LanePattern>,
) -> Result<(Params, BTreeMap<TableId, SeedConds>, Option<LaneParams>)> {
    let mut params = Params::default();
    let seed_conds = sql::seed_conditions(graph, seeds, &mut params)?;
    let lane_param = lane.map(|p| LaneParams::push(graph, p, &mut params));
    Ok((params, seed_conds, lane_param))
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
        // Distinct tracked keys per seeded table (`None`: matched by name), counted once.
        let distinct: BTreeMap<TableId, Option<u64>> = seeds
            .tables()
            .into_iter()
            .map(|t| (t, seeds.distinct_keys(t)))
            .collect();
        let shape = PlanShape::of(graph, seeds, &distinct, options, lane);
        let (shared, params) = match shape.as_ref().and_then(|k| plan_cache().get(k)) {
            // The statements are known, and so is the closure they delete: only this call's
            // parameters.
            Some(shared) => {
                let lane = lane.filter(|_| shared.lane_edges);
                let (params, _, _) = parameters(graph, seeds, lane)?;
                (shared, params)
            }
            None => {
                let Basis {
                    closure,
                    params,
                    seed_conds,
                    lane_param,
                } = basis(graph, seeds, options.dependents, lane)?;
                let built = Arc::new(Shared::build(
                    graph,
                    seeds,
                    options,
                    &closure,
                    &seed_conds,
                    lane_param.as_ref(),
                )?);
                if let Some(k) = shape {
                    plan_cache().put(k, built.clone());
                }
                (built, params)
            }
        };
        // The numbers of tracked keys are this call's own.
        let checks = shared
            .checks
            .iter()
            .map(|&(t, stage, check)| {
                let expected = distinct.get(&t).copied().flatten().unwrap_or(0);
                let check = match check {
                    SeedCheck::Deleted { table, .. } => SeedCheck::Deleted { table, expected },
                    SeedCheck::TrackedDeleted { check, .. } => {
                        SeedCheck::TrackedDeleted { check, expected }
                    }
                    left @ SeedCheck::LaneLeft { .. } => left,
                };
                (stage, check)
            })
            .collect();
        Ok(DeletePlan {
            stages: shared.stages.clone(),
            cascaded: shared.cascaded.clone(),
            checks,
            params,
            count: shared.count.clone(),
        })
    }

    /// Is there nothing to delete?
    pub fn is_empty(&self) -> bool {
        self.stages.is_empty()
    }
}

/// What a delete plan's statements are made of, the same for every cleanup of the same shape
/// on the same graph: they depend on which tables are seeded and how, never on the keys
/// (array parameters) or the lane's name (text parameters).
#[derive(Debug)]
struct Shared {
    stages: Arc<Vec<DeleteStage>>,
    /// Per seeded table, in [`CountPlan::seeded`] order: the table, its stage and its check
    /// (the expected numbers are the first call's; each call puts in its own).
    checks: Vec<(TableId, usize, SeedCheck)>,
    count: CountPlan,
    /// The closure's tables emptied by `ON DELETE CASCADE` alone.
    cascaded: Vec<TableId>,
    /// Does the closure follow rows by the lane's names (its pattern is a parameter)?
    lane_edges: bool,
}

impl Shared {
    fn build(
        graph: &SchemaGraph,
        seeds: &Seeds,
        options: PlanOptions,
        closure: &Closure,
        seed_conds: &BTreeMap<TableId, SeedConds>,
        lane_param: Option<&LaneParams>,
    ) -> Result<Shared> {
        let mut shared = Shared {
            stages: Arc::new(Vec::new()),
            checks: Vec::new(),
            count: CountPlan::of(graph, seed_conds),
            cascaded: closure.cascaded.clone(),
            lane_edges: !closure.lane_edges.is_empty(),
        };
        if closure.is_empty() {
            return Ok(shared);
        }
        let lane_seeded: Vec<TableId> = seed_conds
            .keys()
            .copied()
            .filter(|&t| seeds.distinct_keys(t).is_none())
            .collect();
        // A test's few rows go in one statement; staging pays off only where many parent rows
        // each make Postgres read an unindexed child table.
        let stage_of_group = if seeds.many_rows() {
            closure.stages(graph, &may_lose_many(graph, closure, seeds))
        } else {
            vec![0; closure.groups.len()]
        };
        let count = stage_of_group.iter().max().map_or(1, |&last| last + 1);
        let mut checks: BTreeMap<TableId, (usize, SeedCheck)> = BTreeMap::new();
        let mut stages = Vec::with_capacity(count);
        for stage in 0..count {
            let deletes: Vec<TableId> = closure
                .groups
                .iter()
                .zip(&stage_of_group)
                .filter(|(_, &s)| s == stage)
                .flat_map(|(g, _)| g.iter().copied())
                .collect();
            let selects = if count > 1 {
                ancestors(graph, closure, &deletes)
            } else {
                Vec::new()
            };
            let chain = sql::chain(
                graph,
                closure,
                &ChainSpec {
                    seed_conds,
                    with_ctid: if options.verify { &lane_seeded } else { &[] },
                    scale: options.scale,
                    mode: ChainMode::Delete,
                    lane_param,
                    stage: (count > 1).then_some(StageTables {
                        deletes: &deletes,
                        selects: &selects,
                    }),
                },
            )?;
            let check_sql = if options.verify {
                let (stage_checks, check_sql) =
                    seed_checks(graph, closure, &chain, seeds, seed_conds, &deletes);
                for (t, check) in stage_checks {
                    checks.insert(t, (stage, check));
                }
                Some(check_sql)
            } else {
                None
            };
            let sql = sql::delete_statement(&chain, &deletes, check_sql.as_deref());
            stages.push(DeleteStage {
                tables: deletes,
                sql,
            });
        }
        shared.stages = Arc::new(stages);
        shared.checks = checks
            .into_iter()
            .map(|(t, (stage, check))| (t, stage, check))
            .collect();
        Ok(shared)
    }
}

/// What the statements of a delete plan depend on: the graph, how each table is seeded, the
/// options and the lane pattern's kind.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct PlanShape {
    graph: u64,
    seeds: Vec<(TableId, SeedShape)>,
    options: PlanOptions,
    /// With a lane: whether its pattern has a shape (a second parameter).
    lane: Option<bool>,
    many_rows: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum SeedShape {
    /// By keys; more than a test's number of distinct ones (as [`may_lose_many`] counts)?
    Keys { many: bool },
    /// By name, in these columns; does the pattern have a shape?
    Like { columns: Vec<String>, shape: bool },
}

impl PlanShape {
    /// The shape, or `None` for a graph that is not from the catalog (generation 0).
    fn of(
        graph: &SchemaGraph,
        seeds: &Seeds,
        distinct: &BTreeMap<TableId, Option<u64>>,
        options: PlanOptions,
        lane: Option<&LanePattern>,
    ) -> Option<PlanShape> {
        (graph.generation != 0).then(|| PlanShape {
            graph: graph.generation,
            seeds: seeds
                .iter()
                .map(|(t, seed)| {
                    let shape = match seed {
                        Seed::Keys(_) => SeedShape::Keys {
                            many: distinct[&t].is_some_and(|n| n > TEST_SIZED as u64),
                        },
                        Seed::Like { columns, pattern } => SeedShape::Like {
                            columns: columns.clone(),
                            shape: pattern.shape().is_some(),
                        },
                    };
                    (t, shape)
                })
                .collect(),
            options,
            lane: lane.map(|p| p.shape().is_some()),
            many_rows: seeds.many_rows(),
        })
    }
}

/// Delete plans by shape, for the process. Graphs are read again after DDL; the plans of an
/// older graph are dropped when the cache is full.
struct PlanCache(Mutex<HashMap<PlanShape, Arc<Shared>>>);

impl PlanCache {
    /// At most this many shapes; then the cache starts again.
    const LIMIT: usize = 256;

    fn get(&self, shape: &PlanShape) -> Option<Arc<Shared>> {
        self.0.lock().ok()?.get(shape).cloned()
    }

    fn put(&self, shape: PlanShape, shared: Arc<Shared>) {
        if let Ok(mut map) = self.0.lock() {
            if map.len() >= Self::LIMIT {
                map.clear();
            }
            map.insert(shape, shared);
        }
    }
}

fn plan_cache() -> &'static PlanCache {
    static CACHE: OnceLock<PlanCache> = OnceLock::new();
    CACHE.get_or_init(|| PlanCache(Mutex::new(HashMap::new())))
}

/// Per table: may the cleanup delete many of its rows? Yes for a table matched by name or by
/// more than a test's number of tracked keys, and for a table found through such a table.
fn may_lose_many(graph: &SchemaGraph, closure: &Closure, seeds: &Seeds) -> Vec<bool> {
    let mut many = vec![false; graph.tables.len()];
    // Groups come parents first: each parent is decided before its children.
    for group in &closure.groups {
        let m = group.iter().any(|&t| {
            seeds.distinct_keys(t).is_none_or(|n| n > TEST_SIZED as u64)
                || closure.edges_into(graph, t).any(|(_, fk)| many[fk.parent])
        });
        for &t in group {
            many[t] = m;
        }
    }
    many
}

/// The tables through which rows of `tables` are found (their parents over the closure's
/// edges, and theirs), `tables` left out.
fn ancestors(graph: &SchemaGraph, closure: &Closure, tables: &[TableId]) -> Vec<TableId> {
    let mut found: Vec<TableId> = Vec::new();
    let mut queue: Vec<TableId> = tables.to_vec();
    while let Some(t) = queue.pop() {
        for (_, fk) in closure.edges_into(graph, t) {
            if !tables.contains(&fk.parent) && !found.contains(&fk.parent) {
                found.push(fk.parent);
                queue.push(fk.parent);
            }
        }
    }
    found
}

/// The checks of each seeded table among `tables` (the tables the chain deletes), and the SQL
/// of those that need an element of the check array. A table whose delete takes tracked keys
/// only needs none: every row it deletes is a seeded one, so its deleted count tells.
fn seed_checks(
    graph: &SchemaGraph,
    closure: &Closure,
    chain: &Chain,
    seeds: &Seeds,
    seed_conds: &BTreeMap<TableId, SeedConds>,
    tables: &[TableId],
) -> (Vec<(TableId, SeedCheck)>, Vec<String>) {
    let mut check_sql = Vec::new();
    let checks = seed_conds
        .iter()
        .filter(|(t, _)| tables.contains(t))
        .map(|(&t, conds)| {
            let cond = sql::or_join(&conds.exact);
            let by_keys_only =
                !closure.in_cycle[t] && closure.edges_into(graph, t).next().is_none();
            let check = match seeds.distinct_keys(t) {
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
                        &sql::or_join(&conds.loose),
                    ));
                    SeedCheck::LaneLeft {
                        check: check_sql.len() - 1,
                    }
                }
            };
            (t, check)
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
                lane_param: lane_param.as_ref(),
                stage: None,
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

/// A dry run: every table of the closure (every dependent walked, as a lane sweep does)
/// selected and counted in one statement, deleting nothing, with what seeds each table and the
/// foreign-key path by which the walk reaches it.
#[derive(Debug, Clone)]
pub struct PreviewPlan {
    /// Walked tables, parents first, in the order of the statement's counts.
    pub tables: Vec<TableId>,
    /// For each of `tables`: what seeds it (`lane names`, `tracked or journaled keys`).
    pub seeds: Vec<Vec<String>>,
    /// For each of `tables`: the shortest foreign-key path from another seeded table (the
    /// seeded table, then `child.columns → parent` hops), empty when none leads there.
    pub paths: Vec<Vec<String>>,
    /// Parameters of the statement.
    pub params: Params,
    /// The statement (none when there is nothing to select).
    pub sql: Option<String>,
}

impl PreviewPlan {
    /// The dry run of a lane cleanup or sweep of `seeds`.
    pub fn build(
        graph: &SchemaGraph,
        seeds: &Seeds,
        lane: Option<&LanePattern>,
    ) -> Result<PreviewPlan> {
        let Basis {
            closure,
            params,
            seed_conds,
            lane_param,
        } = basis(graph, seeds, Dependents::DeleteAll, lane)?;
        let tables = closure.tables();
        if closure.is_empty() {
            return Ok(PreviewPlan {
                tables,
                seeds: Vec::new(),
                paths: Vec::new(),
                params,
                sql: None,
            });
        }
        let chain = sql::chain(
            graph,
            &closure,
            &ChainSpec {
                seed_conds: &seed_conds,
                with_ctid: &[],
                scale: Scale::Lane,
                mode: ChainMode::Select,
                lane_param: lane_param.as_ref(),
                stage: None,
            },
        )?;
        let sql = sql::count_chain_statement(&chain, &tables);
        let paths = fk_paths(graph, &closure, seeds, &tables);
        let seeds = tables.iter().map(|&t| seed_kinds(seeds, t)).collect();
        Ok(PreviewPlan {
            tables,
            seeds,
            paths,
            params,
            sql: Some(sql),
        })
    }
}

/// What seeds `table`, in words.
fn seed_kinds(seeds: &Seeds, table: TableId) -> Vec<String> {
    let mut kinds: Vec<String> = seeds
        .iter()
        .filter(|(t, _)| *t == table)
        .map(|(_, seed)| match seed {
            Seed::Keys(_) => "tracked or journaled keys".to_string(),
            Seed::Like { .. } => "lane names".to_string(),
        })
        .collect();
    kinds.sort();
    kinds.dedup();
    kinds
}

/// The shortest foreign-key path to each of `tables` from a seeded table other than itself:
/// the seeded table, then one hop per foreign key (`child.columns → parent`). Breadth first,
/// from every seeded table at once.
fn fk_paths(
    graph: &SchemaGraph,
    closure: &Closure,
    seeds: &Seeds,
    tables: &[TableId],
) -> Vec<Vec<String>> {
    let seeded = seeds.tables();
    let mut path: BTreeMap<TableId, Vec<String>> = BTreeMap::new();
    let mut queue: std::collections::VecDeque<TableId> = seeded.iter().copied().collect();
    while let Some(parent) = queue.pop_front() {
        let from = match path.get(&parent) {
            Some(p) => p.clone(),
            None => vec![graph.tables[parent].display_name()],
        };
        for &i in &closure.edges {
            let fk = &graph.fks[i];
            if fk.parent != parent || fk.child == parent || path.contains_key(&fk.child) {
                continue;
            }
            let mut p = from.clone();
            p.push(format!(
                "{}.{} → {}",
                graph.tables[fk.child].display_name(),
                fk.child_cols.join(","),
                graph.tables[parent].display_name()
            ));
            path.insert(fk.child, p);
            queue.push_back(fk.child);
        }
    }
    tables
        .iter()
        .map(|t| path.get(t).cloned().unwrap_or_default())
        .collect()
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
        assert_eq!(plan.stages.len(), 1);
        assert_eq!(plan.stages[0].tables[0], 0, "parents first");
        assert_eq!(
            plan.checks,
            vec![(
                0,
                SeedCheck::Deleted {
                    table: 0,
                    expected: 1
                }
            )]
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
        assert!(plan.checks.contains(&(
            0,
            SeedCheck::TrackedDeleted {
                check: 0,
                expected: 1
            }
        )));
    }

    /// users <- orgs(owner, no index) <- members(org): a sweep of many rows.
    fn unindexed_owner() -> SchemaGraph {
        use crate::core::schema::tests::{fk, table};
        use crate::core::schema::OnDelete;
        let mut owner = fk(1, 0, "owner", OnDelete::NoAction);
        owner.indexed = false;
        SchemaGraph::from_parts(
            vec![
                table("public", "users", &[("id", "uuid"), ("email", "text")]),
                table("public", "orgs", &[("id", "uuid"), ("owner", "uuid")]),
                table("public", "members", &[("id", "uuid"), ("org", "uuid")]),
            ],
            vec![owner, fk(2, 1, "org", OnDelete::Cascade)],
        )
    }

    #[test]
    fn many_rows_behind_a_foreign_key_without_an_index_go_in_stages() {
        let g = unindexed_owner();
        let many: Vec<String> = (0..150)
            .map(|i| format!("{i:08}-0000-4000-8000-000000000000"))
            .collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let plan =
            DeletePlan::build(&g, &keys(0, &many), options(Dependents::DeleteAll), None).unwrap();
        let tables: Vec<&[TableId]> = plan.stages.iter().map(|s| &s.tables[..]).collect();
        assert_eq!(
            tables,
            vec![&[1, 2][..], &[0][..]],
            "orgs and members, then users"
        );
        // The first stage finds orgs through the users it only selects; the second deletes them.
        let first = &plan.stages[0].sql;
        assert!(first.contains("s0 as (select t.ctid"), "{first}");
        assert!(
            !first.contains("delete from \"public\".\"users\""),
            "{first}"
        );
        let second = &plan.stages[1].sql;
        assert!(
            second.contains("delete from \"public\".\"users\""),
            "{second}"
        );
        assert!(
            !second.contains("\"orgs\""),
            "orgs went in the first stage: {second}"
        );
        assert_eq!(
            plan.checks,
            vec![(
                1,
                SeedCheck::Deleted {
                    table: 0,
                    expected: 150
                }
            )]
        );
        // A test's few rows: one statement.
        let few =
            DeletePlan::build(&g, &keys(0, &[ID]), options(Dependents::DeleteAll), None).unwrap();
        assert_eq!(few.stages.len(), 1);
        assert_eq!(few.stages[0].tables, vec![0, 1, 2]);
        // Many orgs of one user: the check of orgs.owner runs once, for that one user, so one
        // statement too.
        let orgs = many.iter().map(|k| vec![k.to_string()]).collect();
        let one_user = keys(0, &[ID]).with_keys([(1, orgs)].into_iter().collect());
        let plan = DeletePlan::build(&g, &one_user, options(Dependents::DeleteAll), None).unwrap();
        assert_eq!(plan.stages.len(), 1, "{:?}", plan.stages);
    }

    #[test]
    fn cleanups_of_the_same_shape_share_their_statements_and_keep_their_own_keys() {
        let g = sample();
        let one =
            DeletePlan::build(&g, &keys(0, &[ID]), options(Dependents::DeleteAll), None).unwrap();
        let other_id = "0195f1c2-7b3a-7cde-8f00-0123456789ac";
        let two = DeletePlan::build(
            &g,
            &keys(0, &[ID, other_id]),
            options(Dependents::DeleteAll),
            None,
        )
        .unwrap();
        assert!(
            Arc::ptr_eq(&one.stages, &two.stages),
            "one SQL text for both"
        );
        assert_eq!(
            two.checks,
            vec![(
                0,
                SeedCheck::Deleted {
                    table: 0,
                    expected: 2
                }
            )],
            "the second call's own number of keys"
        );
        assert_ne!(one.params.0, two.params.0);
        // Another shape (no verification), or another graph: statements of their own.
        let unverified = PlanOptions {
            verify: false,
            ..options(Dependents::DeleteAll)
        };
        let three = DeletePlan::build(&g, &keys(0, &[ID]), unverified, None).unwrap();
        assert!(!Arc::ptr_eq(&one.stages, &three.stages));
        let g2 = sample();
        let four =
            DeletePlan::build(&g2, &keys(0, &[ID]), options(Dependents::DeleteAll), None).unwrap();
        assert!(!Arc::ptr_eq(&one.stages, &four.stages));
        assert_eq!(one.stages[0].sql, four.stages[0].sql);
    }

    #[test]
    fn a_kept_plan_gives_the_parameters_and_cascades_a_fresh_one_gives() {
        // A kept plan skips the closure: its lane parameter (rows behind SET NULL that carry
        // the lane's names) and its cascaded tables come from what was kept.
        use crate::core::lane::naming::{generate_run_id, NameFormat};
        use crate::core::schema::tests::{col, fk, table};
        use crate::core::schema::{OnDelete, SchemaGraph};
        let graph = || {
            let mut notes = table("public", "notes", &[("id", "int4"), ("org_id", "uuid")]);
            notes.columns.push(col("body", "text", false));
            SchemaGraph::from_parts(
                vec![
                    table("public", "orgs", &[("id", "uuid")]),
                    notes,
                    table("public", "members", &[("id", "int4"), ("org_id", "uuid")]),
                ],
                vec![
                    fk(1, 0, "org_id", OnDelete::SetNull),
                    fk(2, 0, "org_id", OnDelete::Cascade),
                ],
            )
        };
        let (kept_graph, fresh_graph) = (graph(), graph());
        let run = generate_run_id();
        let lane = LanePattern::of(&NameFormat::default(), &run, Some(3), Some(7)).unwrap();
        let other_id = "0195f1c2-7b3a-7cde-8f00-0123456789ac";
        let opts = options(Dependents::LeaveCascades);
        let first = DeletePlan::build(&kept_graph, &keys(0, &[ID]), opts, Some(&lane)).unwrap();
        let kept =
            DeletePlan::build(&kept_graph, &keys(0, &[other_id]), opts, Some(&lane)).unwrap();
        assert!(
            Arc::ptr_eq(&first.stages, &kept.stages),
            "the second is kept"
        );
        let fresh =
            DeletePlan::build(&fresh_graph, &keys(0, &[other_id]), opts, Some(&lane)).unwrap();
        assert!(!Arc::ptr_eq(&kept.stages, &fresh.stages));
        assert_eq!(kept.stages[0].sql, fresh.stages[0].sql);
        assert_eq!(kept.params.0, fresh.params.0);
        assert_eq!(kept.params.0.len(), 2, "the key and the lane's pattern");
        assert_eq!(kept.cascaded, fresh.cascaded);
        assert_eq!(kept.cascaded, vec![2]);
        assert_eq!(kept.checks, fresh.checks);
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
    fn a_preview_selects_the_closure_and_names_the_path_to_each_table() {
        let g = sample();
        let plan = PreviewPlan::build(&g, &keys(0, &[ID]), None).unwrap();
        let sql = plan.sql.as_deref().unwrap();
        assert!(!sql.contains("delete"), "a dry run deletes nothing: {sql}");
        assert_eq!(plan.tables.len(), plan.paths.len());
        for ((t, path), seeds) in plan.tables.iter().zip(&plan.paths).zip(&plan.seeds) {
            assert_eq!(path.is_empty(), *t == 0, "{path:?}");
            assert_eq!(!seeds.is_empty(), *t == 0, "{seeds:?}");
        }
        let members = plan.tables.iter().position(|&t| t == 2).unwrap();
        assert_eq!(
            plan.paths[members],
            vec!["auth.users", "public.members.user_id → auth.users"],
            "the shortest path"
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
