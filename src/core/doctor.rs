//! `pglane doctor`: what pglane finds on a database before a run, read in two statements and
//! the catalog. The connection and TLS, whether a transaction-mode pooler is in front, what the
//! role may do (create pglane's schema, delete from each table), the schema graph, the foreign
//! keys whose referencing columns have no index (every cleanup that deletes a parent scans the
//! child for them), and the text columns lane names are looked for in.

use crate::core::cleanup::seeds::text_columns;
use crate::core::db::catalog::Freshness;
use crate::core::db::marker::is_test_database;
use crate::core::db::{Db, ServerInfo};
use crate::core::error::Result;
use crate::core::schema::SchemaGraph;

/// What the role may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permissions {
    /// May it create schemas in the database (pglane's own, at the first run)?
    pub create_schema: bool,
    /// Does the `pglane` schema exist?
    pub pglane_schema: bool,
    /// May it use the `pglane` schema (register runs, journal rows)?
    pub pglane_usage: bool,
    /// Tables (`schema.table`) it may not delete from: cleanup cannot remove their rows.
    pub no_delete: Vec<String>,
}

/// A summary of the schema graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphSummary {
    /// User schemas with tables, in order.
    pub schemas: Vec<String>,
    /// Tables.
    pub tables: usize,
    /// Foreign keys.
    pub foreign_keys: usize,
    /// Groups of tables that reference each other in a cycle (a self-reference included).
    pub cycles: Vec<Vec<String>>,
    /// Tables without a primary key or a unique key of `NOT NULL` columns (their rows cannot be
    /// tracked by key).
    pub without_primary_key: Vec<String>,
}

/// What `doctor` found.
#[derive(Debug, Clone)]
pub struct Diagnosis {
    /// The server and the session.
    pub server: ServerInfo,
    /// The `sslmode` pglane connects with.
    pub sslmode: String,
    /// Is a transaction-mode pooler in front (settings, or the probe)?
    pub transaction_pooler: bool,
    /// What the role may do.
    pub permissions: Permissions,
    /// The schema graph.
    pub graph: GraphSummary,
    /// Foreign keys without an index on their referencing columns: `child(cols) → parent`.
    pub unindexed_foreign_keys: Vec<String>,
    /// Where lane names are looked for by default: `(schema.table, [text columns])`.
    pub lane_columns: Vec<(String, Vec<String>)>,
    /// Is the database marked as a test database?
    pub test_database: bool,
}

/// What the role may do, and the test-database mark (`to_regclass` keeps the statement valid
/// where pglane's schema does not exist).
const PERMISSIONS_SQL: &str = r#"
select has_database_privilege(current_database(), 'CREATE'),
       to_regnamespace('pglane') is not null,
       coalesce(has_schema_privilege(to_regnamespace('pglane'), 'USAGE'), false),
       coalesce(array(
         select format('%I.%I', n.nspname, t.relname)
         from pg_class t join pg_namespace n on n.oid = t.relnamespace
         where t.relkind in ('r', 'p') and not t.relispartition
           and n.nspname not in ('pg_catalog', 'information_schema', 'pglane') and n.nspname not like 'pg\_%'
           and not has_table_privilege(t.oid, 'DELETE')
         order by 1), '{}')
"#;

/// Examines the database `db` points at.
pub async fn diagnose(db: &Db) -> Result<Diagnosis> {
    let server = db.server_info().await?;
    let transaction_pooler = db.is_transaction_pooler().await?;
    let conn = db.conn().await?;
    let row = conn.query(PERMISSIONS_SQL, &[]).await?;
    let row = &row[0];
    let permissions = Permissions {
        create_schema: row.get(0),
        pglane_schema: row.get(1),
        pglane_usage: row.get(2),
        no_delete: row.get(3),
    };
    drop(conn);
    let (graph, _) = db.graph_for(Freshness::Fresh).await?;
    let test_database = is_test_database(db).await?;
    Ok(Diagnosis {
        server,
        sslmode: db.config().sslmode.as_str().to_string(),
        transaction_pooler,
        permissions,
        graph: summary(&graph),
        unindexed_foreign_keys: unindexed_foreign_keys(&graph),
        lane_columns: text_columns(&graph),
        test_database,
    })
}

/// `schema.child(columns) → schema.parent` of every foreign key of the user schemas (pglane's
/// own left out) with no index leading with its referencing columns (the catalog's `indexed`).
fn unindexed_foreign_keys(graph: &SchemaGraph) -> Vec<String> {
    let mut unindexed: Vec<String> = graph
        .fks
        .iter()
        .filter(|fk| !fk.indexed && graph.tables[fk.child].schema != "pglane")
        .map(|fk| {
            format!(
                "{}({}) → {}",
                graph.tables[fk.child].display_name(),
                fk.child_cols.join(", "),
                graph.tables[fk.parent].display_name()
            )
        })
        .collect();
    unindexed.sort();
    unindexed
}

/// The summary of a schema graph.
pub fn summary(graph: &SchemaGraph) -> GraphSummary {
    let mut schemas: Vec<String> = graph
        .tables
        .iter()
        .filter(|t| t.schema != "pglane")
        .map(|t| t.schema.clone())
        .collect();
    schemas.sort();
    schemas.dedup();
    let every = vec![true; graph.tables.len()];
    let cycles = graph
        .components_parents_first(&every)
        .into_iter()
        .filter(|g| graph.is_cyclic(g))
        .map(|g| g.iter().map(|&t| graph.tables[t].display_name()).collect())
        .collect();
    GraphSummary {
        schemas,
        tables: graph.tables.iter().filter(|t| t.schema != "pglane").count(),
        foreign_keys: graph.fks.len(),
        cycles,
        without_primary_key: graph
            .tables
            .iter()
            .filter(|t| t.pk.is_empty() && t.partition_of.is_none())
            .map(|t| t.display_name())
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::schema::tests::sample;

    #[test]
    fn the_summary_counts_tables_and_names_cycles() {
        let s = summary(&sample());
        assert_eq!(s.tables, 7);
        assert_eq!(s.foreign_keys, 6);
        assert_eq!(s.schemas, vec!["auth", "other", "public"]);
        let mut cycles = s.cycles.clone();
        cycles.iter_mut().for_each(|c| c.sort());
        cycles.sort();
        assert_eq!(
            cycles,
            vec![
                vec!["public.a".to_string(), "public.b".to_string()],
                vec!["public.m".to_string()]
            ]
        );
    }

    #[test]
    fn unindexed_foreign_keys_come_from_the_graph_sorted_without_pglanes_own() {
        let mut g = sample();
        assert!(unindexed_foreign_keys(&g).is_empty(), "every key indexed");
        for fk in &mut g.fks {
            fk.indexed = false;
        }
        let listed = unindexed_foreign_keys(&g);
        assert_eq!(listed.len(), g.fks.len());
        let mut sorted = listed.clone();
        sorted.sort();
        assert_eq!(listed, sorted);
        let fk = &g.fks[0];
        let line = format!(
            "{}({}) → {}",
            g.tables[fk.child].display_name(),
            fk.child_cols[0],
            g.tables[fk.parent].display_name()
        );
        assert!(listed.contains(&line), "{listed:?}");
        let child = fk.child;
        let own = g.fks.iter().filter(|k| k.child == child).count();
        g.tables[child].schema = "pglane".into();
        assert_eq!(unindexed_foreign_keys(&g).len(), listed.len() - own);
    }
}
