// Shared by the inference tests: row counts of every table (a `pg` witness), and "create a table
// with no attributes, then clean up" with the exact-count checks every schema gets.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const pglane = require('pglane');

const ident = (s) => `"${String(s).replace(/"/g, '""')}"`;

/** Rows per table (each table's own rows: a partition's are not its root's), from `pg`. */
export async function rowCounts(client, tables) {
  if (tables.length === 0) return {};
  const sql = tables.map((t, i) => `select ${i} as i, count(*)::int as n from only ${ident(t.schema)}.${ident(t.table)}`).join(' union all ');
  const { rows } = await client.query(sql);
  return Object.fromEntries(rows.map((r) => [tables[r.i].name, r.n]));
}

/** The tables whose counts changed, and by how much. */
export function countDiff(before, after) {
  return Object.fromEntries(
    Object.entries(after)
      .map(([t, n]) => [t, n - (before[t] ?? 0)])
      .filter(([, d]) => d !== 0),
  );
}

/** Tables with at least one foreign key of their own (or, for a partition, of its parents). */
export function tablesWithForeignKeys(description) {
  return description.tables.filter((t) => t.relations.length > 0);
}

let testIds = 0;
/** A fresh lane of run `runId`. */
export function lane(runId, worker = 7) {
  return pglane.WorkerContext.create({ workerIndex: worker, testId: `infer-${process.pid}-${testIds++}` }, { runId });
}

/**
 * Creates `table` with no attributes through `factories` and cleans up; asserts that the
 * required parents were built (their columns set), that cleanup deleted exactly the rows the
 * create made (counted by `pg`, rows made by triggers included) and that nothing is left.
 * Returns `{ row, created, roundTrips, report }` (`roundTrips`: the create's; `report`: the cleanup's).
 */
export async function createAndClean({ db, factories, client, table, tables, runId }) {
  const ctx = lane(runId);
  const tracker = pglane.ResourceTracker.forTest({}, ctx, db);
  const before = await rowCounts(client, tables);
  const trips = db.roundTrips;
  const row = await factories.create(table.qualified, ctx, tracker);
  const roundTrips = db.roundTrips - trips;
  const created = byRoot(countDiff(before, await rowCounts(client, tables)), tables);
  for (const r of table.relations.filter((r) => r.required)) {
    for (const c of r.columns) assert.notEqual(row[c], null, `${table.name}: required ${r.name} (${c}) is set`);
  }
  assert.ok((created[table.partitionOf ?? table.name] ?? 0) >= 1, `${table.name}: a row was inserted`);
  const report = await new pglane.CleanupManager(db, tracker, { countDependents: true }).cleanup();
  assert.deepEqual(report.failures, [], `${table.name}: cleanup failures`);
  assert.equal(report.verified, true, `${table.name}: cleanup verified`);
  assert.deepEqual(byRoot(normalize(report.deleted), tables), created, `${table.name}: cleanup deleted exactly what create made`);
  assert.deepEqual(countDiff(before, await rowCounts(client, tables)), {}, `${table.name}: nothing left`);
  return { row, created, roundTrips, report };
}

/**
 * Counts with each partition's rows added to its partitioned table's: cleanup reports a row by
 * the table it was tracked in (the root, when it was inserted through the root), `pg` by the
 * partition that holds it.
 */
export function byRoot(counts, tables) {
  const root = new Map(tables.map((t) => [t.name, t.partitionOf ?? t.name]));
  const out = {};
  for (const [t, n] of Object.entries(counts)) out[root.get(t) ?? t] = (out[root.get(t) ?? t] ?? 0) + n;
  return out;
}

/** Report counts without zero entries, in a stable order. */
export function normalize(counts) {
  return Object.fromEntries(Object.entries(counts).filter(([, n]) => n !== 0));
}
