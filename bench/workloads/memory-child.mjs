// The `memory` workload's child process (run with --expose-gc):
//   node --expose-gc bench/workloads/memory-child.mjs <pglane|pg> <tests>
// with DATABASE_URL set. It measures its own RSS (after two full GCs) when it starts, after
// loading the implementation, after connecting, and after `tests` tests of "a lane, one tracked
// row (an organization), its cleanup", and prints one JSON line.
import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';

const require = createRequire(import.meta.url);
const [impl, testsArg] = process.argv.slice(2);
const TESTS = Number(testsArg);
const url = process.env.DATABASE_URL;
const CHECKPOINTS = new Set([Math.min(100, TESTS), Math.round(TESTS / 2), TESTS]);

function memory() {
  globalThis.gc();
  globalThis.gc();
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external };
}

const out = { impl, tests: TESTS, start: memory(), checkpoints: {} };
let runTest;
let close;
if (impl === 'pglane') {
  const pglane = require('pglane');
  out.loaded = memory();
  const { Db, WorkerContext, ResourceTracker, CleanupManager, createWorkerScopedOrganization } = pglane;
  const db = Db.connect(url, { applicationName: 'pglane-bench-memory' });
  await db.serverInfo();
  out.connected = memory();
  const runId = pglane.generateRunId();
  runTest = async (i) => {
    const ctx = WorkerContext.create({ workerIndex: 0, testId: `memory-${i}` }, { runId });
    const tracker = ResourceTracker.forTest({}, ctx, db);
    await createWorkerScopedOrganization(ctx, tracker);
    const report = await new CleanupManager(db, tracker).cleanup();
    if (!report.verified || report.totalDeleted < 1) throw new Error(`test ${i}: cleanup not verified`);
  };
  close = () => db.close();
} else {
  // The same with `pg` and two hand-written statements, for comparison.
  const pg = require('pg');
  out.loaded = memory();
  const pool = new pg.Pool({ connectionString: url, max: 2, application_name: 'pglane-bench-memory-pg' });
  await pool.query('select 1');
  out.connected = memory();
  const runId = `m${Date.now().toString(36)}`;
  runTest = async (i) => {
    const prefix = `${runId}-w0-${i}-`;
    const { rows } = await pool.query('insert into public.organizations (id, name, slug) values ($1, $2, $3) returning id', [
      randomUUID(), `${prefix}Org 1`, `${prefix}org-1`,
    ]);
    const { rowCount } = await pool.query('delete from public.organizations where id = $1', [rows[0].id]);
    if (rowCount !== 1) throw new Error(`test ${i}: not deleted`);
  };
  close = () => pool.end();
}
const t0 = performance.now();
for (let i = 1; i <= TESTS; i++) {
  await runTest(i);
  if (CHECKPOINTS.has(i)) out.checkpoints[i] = memory();
}
out.ms = performance.now() - t0;
await close();
process.stdout.write(`${JSON.stringify(out)}\n`);
