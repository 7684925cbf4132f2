//! Dependency order of tables: strongly connected components of the "child references parent"
//! relation (a cycle of tables, or a table referencing itself, is one component), parents first.

use super::{SchemaGraph, TableId};

impl SchemaGraph {
    /// Strongly connected components of the "child references parent" graph restricted to
    /// `members`, in dependency order: a component comes after every component it references
    /// (parents first). Each component is a set of tables that reference each other in a cycle,
    /// or a single table.
    pub fn components_parents_first(&self, members: &[bool]) -> Vec<Vec<TableId>> {
        // Tarjan's algorithm over edges child -> parent; it emits components in reverse
        // topological order of that relation, i.e. parents before children.
        let n = self.tables.len();
        let mut index = vec![usize::MAX; n];
        let mut low = vec![0usize; n];
        let mut on_stack = vec![false; n];
        let mut stack = Vec::new();
        let mut next = 0usize;
        let mut out = Vec::new();
        let mut parents: Vec<Vec<TableId>> = vec![Vec::new(); n];
        for fk in &self.fks {
            if members[fk.child] && members[fk.parent] {
                parents[fk.child].push(fk.parent);
            }
        }
        for start in 0..n {
            if !members[start] || index[start] != usize::MAX {
                continue;
            }
            // Iterative DFS: (node, next edge position).
            let mut work: Vec<(TableId, usize)> = vec![(start, 0)];
            while let Some(&mut (v, ref mut pos)) = work.last_mut() {
                if *pos == 0 && index[v] == usize::MAX {
                    index[v] = next;
                    low[v] = next;
                    next += 1;
                    stack.push(v);
                    on_stack[v] = true;
                }
                if *pos < parents[v].len() {
                    let w = parents[v][*pos];
                    *pos += 1;
                    if index[w] == usize::MAX {
                        work.push((w, 0));
                    } else if on_stack[w] {
                        low[v] = low[v].min(index[w]);
                    }
                    continue;
                }
                work.pop();
                if let Some(&(u, _)) = work.last() {
                    low[u] = low[u].min(low[v]);
                }
                if low[v] == index[v] {
                    let mut comp = Vec::new();
                    while let Some(w) = stack.pop() {
                        on_stack[w] = false;
                        comp.push(w);
                        if w == v {
                            break;
                        }
                    }
                    comp.sort_unstable();
                    out.push(comp);
                }
            }
        }
        out
    }

    /// Is this component a cycle (several tables, or one table referencing itself)?
    pub fn is_cyclic(&self, component: &[TableId]) -> bool {
        component.len() > 1
            || self
                .fks
                .iter()
                .any(|fk| fk.child == component[0] && fk.parent == component[0])
    }
}

#[cfg(test)]
mod tests {
    use crate::core::schema::tests::sample;
    use crate::core::schema::TableId;

    #[test]
    fn components_come_parents_first_and_group_cycles() {
        let g = sample();
        let order = g.components_parents_first(&[true; 7]);
        let pos = |t: TableId| order.iter().position(|c| c.contains(&t)).unwrap();
        assert!(pos(0) < pos(1) && pos(1) < pos(2), "{order:?}");
        assert!(order.contains(&vec![3, 4]), "{order:?}");
        assert!(g.is_cyclic(&[3, 4]));
        assert!(g.is_cyclic(&[5]));
        assert!(!g.is_cyclic(&[1]));
    }
}
