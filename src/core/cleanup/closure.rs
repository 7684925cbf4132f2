//! Which rows go, in which order: from the seeded tables to the closure of tables whose rows
//! reference them, grouped parents first (a cycle of tables is one group), with the tables the
//! cleanup must walk itself told apart from those `ON DELETE CASCADE` empties anyway.
//!
//! This is plain data computed from the schema graph; [`super::sql`] turns it into statements.

use crate::core::schema::{ForeignKey, OnDelete, SchemaGraph, TableId};
use std::collections::VecDeque;

/// Which rows besides the seeded ones a cleanup deletes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dependents {
    /// The seeded rows only.
    Skip,
    /// Every row that references them through a NO ACTION, RESTRICT or CASCADE foreign key
    /// (SET NULL and SET DEFAULT children stay: the schema says they outlive their parent);
    /// rows an `ON DELETE CASCADE` removes anyway are left to Postgres, unless something
    /// below them must be deleted by hand (a NO ACTION or RESTRICT child, a cycle).
    LeaveCascades,
    /// Like [`Dependents::LeaveCascades`], but every table is walked and its rows deleted
    /// and counted by pglane's statement.
    DeleteAll,
}

/// Whether rows that reference deleted rows through `ON DELETE SET NULL` or `SET DEFAULT` go
/// when they carry the lane's name. Such a row outlives its parent by the schema's word, unless
/// it is the lane's own (the app made it during the test): then it goes too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LaneRows {
    /// A lane pattern is known: SET NULL / SET DEFAULT children whose text matches it go.
    Follow,
    /// No lane pattern: SET NULL / SET DEFAULT children stay.
    Ignore,
}

/// The closure of some seeded tables.
#[derive(Debug, Clone)]
pub struct Closure {
    /// Tables the cleanup walks, grouped into components (a cycle is one group), parents
    /// first.
    pub groups: Vec<Vec<TableId>>,
    /// Foreign keys (indexes into [`SchemaGraph::fks`]) through which a walked child finds
    /// its rows from its parent's.
    pub edges: Vec<usize>,
    /// The edges of [`Closure::edges`] whose child rows go only when they carry the lane's
    /// name (SET NULL / SET DEFAULT foreign keys).
    pub lane_edges: Vec<usize>,
    /// Tables in a cycle of the closure (walked with a recursive query).
    pub in_cycle: Vec<bool>,
    /// Tables of the closure whose rows (all, or those below some parent) are left to
    /// Postgres: they go through an `ON DELETE CASCADE` from a row the cleanup deletes, and
    /// nothing below them needs deleting by hand.
    pub cascaded: Vec<TableId>,
}

impl Closure {
    /// The closure of `seeded` tables in `graph`.
    pub fn of(
        graph: &SchemaGraph,
        seeded: &[TableId],
        dependents: Dependents,
        lane_rows: LaneRows,
    ) -> Closure {
        let n = graph.tables.len();
        let include = dependents != Dependents::Skip;
        let follows = |fk: &ForeignKey| follows_edge(graph, fk, lane_rows);
        let member = members(graph, seeded, include, &follows);
        let goes = |fk: &ForeignKey| member[fk.child] && member[fk.parent] && follows(fk);
        let closure_edges: Vec<usize> = if include {
            (0..graph.fks.len())
                .filter(|&i| goes(&graph.fks[i]))
                .collect()
        } else {
            Vec::new()
        };
        let closure_groups = if include {
            graph.components_parents_first(&member)
        } else {
            (0..n).filter(|t| member[*t]).map(|t| vec![t]).collect()
        };
        let mut in_cycle = vec![false; n];
        if include {
            for g in closure_groups.iter().filter(|g| graph.is_cyclic(g)) {
                for &t in g {
                    in_cycle[t] = true;
                }
            }
        }
        let walked = walked_tables(graph, &closure_edges, &in_cycle, dependents);
        let cascade = |i: &usize| graph.fks[*i].on_delete == OnDelete::Cascade;
        let planned = |t: TableId| {
            seeded.contains(&t)
                || walked[t]
                || closure_edges
                    .iter()
                    .any(|i| graph.fks[*i].child == t && !cascade(i))
        };
        // A child finds its rows through a parent's deleted keys when the foreign key does not
        // cascade, or when the child's own rows must be walked.
        let edges: Vec<usize> = closure_edges
            .iter()
            .copied()
            .filter(|i| {
                let child = graph.fks[*i].child;
                planned(child) && (!cascade(i) || walked[child])
            })
            .collect();
        let groups = closure_groups
            .iter()
            .filter(|g| g.iter().any(|&t| planned(t)))
            .cloned()
            .collect();
        let lane_edges = edges
            .iter()
            .copied()
            .filter(|&i| !graph.fks[i].on_delete.child_goes_with_parent())
            .collect();
        // Tables some of whose rows go through a CASCADE the cleanup does not walk: all of them
        // when the table is not planned, or those of that parent when it is planned for another
        // reason (a NO ACTION parent, a lane-named SET NULL child).
        let cascaded = closure_groups
            .iter()
            .flatten()
            .copied()
            .filter(|&t| {
                !planned(t)
                    || closure_edges
                        .iter()
                        .any(|i| graph.fks[*i].child == t && cascade(i) && !edges.contains(i))
            })
            .collect();
        Closure {
            groups,
            edges,
            lane_edges,
            in_cycle,
            cascaded,
        }
    }

    /// The walked tables, parents first.
    pub fn tables(&self) -> Vec<TableId> {
        self.groups.iter().flatten().copied().collect()
    }

    /// Is there nothing to delete?
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// The stage of each group, for a cleanup of many rows that deletes stage by stage, each
    /// stage its own transaction, stage 0 first. A group's stage is at least that of every
    /// group whose rows reference it, and one more where that foreign key has no index and
    /// the parent may lose many rows (`many`, per table): Postgres then reads the child table
    /// once for every parent row deleted, and rows the same transaction deleted stay in the
    /// way of each read, where rows an earlier transaction deleted are pruned by the first one.
    pub fn stages(&self, graph: &SchemaGraph, many: &[bool]) -> Vec<usize> {
        let mut group_of = vec![usize::MAX; graph.tables.len()];
        for (gi, group) in self.groups.iter().enumerate() {
            for &t in group {
                group_of[t] = gi;
            }
        }
        let mut stage = vec![0usize; self.groups.len()];
        // Groups come parents first: backwards, every child group's stage is known.
        for gi in (0..self.groups.len()).rev() {
            for &t in &self.groups[gi] {
                for fk in graph.referenced_by(t) {
                    let child = group_of[fk.child];
                    if child == usize::MAX || child == gi {
                        continue;
                    }
                    debug_assert!(child > gi, "groups are parents first");
                    let step = usize::from(!fk.indexed && many[t]);
                    stage[gi] = stage[gi].max(stage[child] + step);
                }
            }
        }
        stage
    }

    /// The foreign keys of [`Closure::edges`] whose child is `table`, with their indexes.
    pub fn edges_into<'g>(
        &'g self,
        graph: &'g SchemaGraph,
        table: TableId,
    ) -> impl Iterator<Item = (usize, &'g ForeignKey)> + 'g {
        self.edges
            .iter()
            .map(move |&i| (i, &graph.fks[i]))
            .filter(move |(_, fk)| fk.child == table)
    }
}

/// Does cleanup follow `fk` from parent rows to child rows: always for NO ACTION, RESTRICT and
/// CASCADE; for SET NULL and SET DEFAULT only to lane-named children, when the child has text
/// columns that could hold a lane name.
fn follows_edge(graph: &SchemaGraph, fk: &ForeignKey, lane_rows: LaneRows) -> bool {
    fk.on_delete.child_goes_with_parent()
        || (lane_rows == LaneRows::Follow && graph.tables[fk.child].text_columns().next().is_some())
}

/// The seeded tables and, with dependents, every table reachable from them backwards over
/// foreign keys cleanup follows.
fn members(
    graph: &SchemaGraph,
    seeded: &[TableId],
    include: bool,
    follows: &dyn Fn(&ForeignKey) -> bool,
) -> Vec<bool> {
    let mut member = vec![false; graph.tables.len()];
    let mut queue: VecDeque<TableId> = VecDeque::new();
    for &t in seeded {
        if !member[t] {
            member[t] = true;
            queue.push_back(t);
        }
    }
    if !include {
        return member;
    }
    while let Some(t) = queue.pop_front() {
        for fk in graph.referenced_by(t) {
            if follows(fk) && !member[fk.child] {
                member[fk.child] = true;
                queue.push_back(fk.child);
            }
        }
    }
    member
}

/// Tables whose rows the statement must enumerate: those with something below them to delete
/// by hand (a NO ACTION or RESTRICT child, a cycle), or all of them for [`Dependents::DeleteAll`].
fn walked_tables(
    graph: &SchemaGraph,
    closure_edges: &[usize],
    in_cycle: &[bool],
    dependents: Dependents,
) -> Vec<bool> {
    let all = dependents == Dependents::DeleteAll;
    let mut walked: Vec<bool> = in_cycle.iter().map(|&c| c || all).collect();
    loop {
        let mut changed = false;
        for fk in closure_edges.iter().map(|&i| &graph.fks[i]) {
            let cascades = fk.on_delete == OnDelete::Cascade;
            if !walked[fk.parent] && (!cascades || walked[fk.child]) {
                walked[fk.parent] = true;
                changed = true;
            }
        }
        if !changed {
            return walked;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::schema::tests::sample;

    fn sorted(mut v: Vec<TableId>) -> Vec<TableId> {
        v.sort();
        v
    }

    #[test]
    fn the_closure_follows_cascade_restrict_and_no_action_children() {
        let g = sample();
        let c = Closure::of(&g, &[0], Dependents::DeleteAll, LaneRows::Ignore);
        assert_eq!(sorted(c.tables()), vec![0, 1, 2]);
        assert_eq!(c.tables()[0], 0, "parents first");
        assert!(c.cascaded.is_empty());
    }

    #[test]
    fn cascading_children_are_left_to_postgres_unless_counted() {
        let g = sample();
        // members cascade from orgs and nothing below them needs deleting by hand.
        let lean = Closure::of(&g, &[1], Dependents::LeaveCascades, LaneRows::Ignore);
        assert_eq!(lean.tables(), vec![1]);
        assert_eq!(lean.cascaded, vec![2]);
        let counted = Closure::of(&g, &[1], Dependents::DeleteAll, LaneRows::Ignore);
        assert_eq!(counted.tables(), vec![1, 2]);
        assert!(counted.cascaded.is_empty());
        // From users, members go by RESTRICT (by hand) and orgs by NO ACTION; members find
        // their rows through users only: their cascade from orgs needs no edge.
        let user = Closure::of(&g, &[0], Dependents::LeaveCascades, LaneRows::Ignore);
        assert_eq!(sorted(user.tables()), vec![0, 1, 2]);
        let into_members: Vec<TableId> = user.edges_into(&g, 2).map(|(_, fk)| fk.parent).collect();
        assert_eq!(into_members, vec![0]);
    }

    #[test]
    fn without_dependents_only_seeded_tables_are_walked() {
        let g = sample();
        let c = Closure::of(&g, &[0], Dependents::Skip, LaneRows::Follow);
        assert_eq!(c.tables(), vec![0]);
        assert!(c.edges.is_empty() && c.cascaded.is_empty());
    }

    #[test]
    fn cycles_and_self_references_are_one_group_each() {
        let g = sample();
        let c = Closure::of(&g, &[3, 5], Dependents::LeaveCascades, LaneRows::Ignore);
        assert!(c.groups.contains(&vec![3, 4]), "{:?}", c.groups);
        assert!(c.groups.contains(&vec![5]), "{:?}", c.groups);
        assert!(c.in_cycle[3] && c.in_cycle[4] && c.in_cycle[5]);
        assert!(!c.in_cycle[0]);
    }

    #[test]
    fn a_parent_goes_in_a_later_stage_than_children_whose_key_has_no_index() {
        use crate::core::schema::tests::{fk, table};
        use crate::core::schema::{OnDelete, SchemaGraph};
        // users <- orgs(owner, no index) <- projects(org) <- tasks(project, no index);
        // users <- tasks(assignee, indexed).
        let tables = vec![
            table("public", "users", &[("id", "uuid")]),
            table("public", "orgs", &[("id", "uuid"), ("owner", "uuid")]),
            table("public", "projects", &[("id", "uuid"), ("org", "uuid")]),
            table(
                "public",
                "tasks",
                &[("id", "uuid"), ("project", "uuid"), ("assignee", "uuid")],
            ),
        ];
        let unindexed = |mut k: ForeignKey| {
            k.indexed = false;
            k
        };
        let g = SchemaGraph::from_parts(
            tables,
            vec![
                unindexed(fk(1, 0, "owner", OnDelete::NoAction)),
                fk(2, 1, "org", OnDelete::NoAction),
                unindexed(fk(3, 2, "project", OnDelete::NoAction)),
                fk(3, 0, "assignee", OnDelete::NoAction),
            ],
        );
        let c = Closure::of(&g, &[0], Dependents::DeleteAll, LaneRows::Ignore);
        let stages = c.stages(&g, &[true; 4]);
        let stage_of = |t: TableId| stages[c.groups.iter().position(|gr| gr.contains(&t)).unwrap()];
        assert_eq!(stage_of(3), 0, "tasks first");
        assert_eq!(
            stage_of(2),
            1,
            "projects after tasks (no index on tasks.project)"
        );
        assert_eq!(stage_of(1), 1, "orgs with projects (indexed)");
        assert_eq!(stage_of(0), 2, "users after orgs (no index on orgs.owner)");
        // A parent with few rows: one check each, nothing to gain from a stage.
        let few_users = c.stages(&g, &[false, true, true, true]);
        assert_eq!(few_users.iter().max(), Some(&1), "{few_users:?}");
        // With every key indexed, one stage.
        let all_indexed = Closure::of(&sample(), &[0], Dependents::DeleteAll, LaneRows::Ignore);
        assert!(all_indexed
            .stages(&sample(), &[true; 7])
            .iter()
            .all(|&s| s == 0));
    }

    #[test]
    fn set_null_children_are_followed_only_for_lane_rows_and_only_with_text() {
        use crate::core::schema::tests::{col, fk, table};
        use crate::core::schema::{OnDelete, SchemaGraph};
        let mut notes = table("public", "notes", &[("id", "int4"), ("org_id", "uuid")]);
        notes.columns.push(col("body", "text", false));
        let tables = vec![
            table("public", "orgs", &[("id", "uuid")]),
            notes,
            table("public", "counters", &[("id", "int4"), ("org_id", "uuid")]),
        ];
        let g = SchemaGraph::from_parts(
            tables,
            vec![
                fk(1, 0, "org_id", OnDelete::SetNull),
                fk(2, 0, "org_id", OnDelete::SetNull),
            ],
        );
        let ignored = Closure::of(&g, &[0], Dependents::LeaveCascades, LaneRows::Ignore);
        assert_eq!(ignored.tables(), vec![0]);
        let followed = Closure::of(&g, &[0], Dependents::LeaveCascades, LaneRows::Follow);
        assert_eq!(
            followed.tables(),
            vec![0, 1],
            "counters has no text to carry a name"
        );
        assert_eq!(followed.lane_edges, vec![0]);
    }
}
