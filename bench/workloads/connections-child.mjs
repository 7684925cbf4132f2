// One of the `connections` workload's 50 processes, like a Playwright worker: pglane with its
// default pool (Db.connect with no pool size), a few tests of "a lane, one organization made and
// tracked, its cleanup". Phase 'sequential' runs one operation at a time, as a worker's tests
// do; phase 'concurrent' makes two rows at once in each test (Promise.all), which may use the
// pool's second connection. Failures are counted and returned, never thrown.
import { createRequire } from 'node:module';
import { serveParent } from './harness.mjs';

const require = createRequire(import.meta.url);
const pglane = require('pglane');
const { Db, WorkerContext, ResourceTracker, CleanupManager, createWorkerScopedOrganization } = pglane;

let db;
let index;
let runId;
let tests = 0;

serveParent(
  async (msg) => {
    if (msg.cmd === 'init') {
      index = msg.index;
      runId = msg.runId;
      db = Db.connect(msg.url, { applicationName: `pglane-bench-conn-${index}` });
      await db.serverInfo();
      return { poolSize: db.poolSize };
    }
    if (msg.cmd === 'run') {
      const errors = [];
      let maxOpen = db.openConnections;
      for (let i = 0; i < msg.tests; i++) {
        const ctx = WorkerContext.create({ workerIndex: 100 + index, testId: `conn-${tests++}` }, { runId });
        const tracker = ResourceTracker.forTest({}, ctx, db);
        try {
          if (msg.phase === 'concurrent') {
            await Promise.all([createWorkerScopedOrganization(ctx, tracker), createWorkerScopedOrganization(ctx, tracker)]);
          } else {
            await createWorkerScopedOrganization(ctx, tracker);
          }
          maxOpen = Math.max(maxOpen, db.openConnections);
        } catch (err) {
          errors.push(`${err.code ?? 'error'}: ${err.message}`);
        }
        try {
          const report = await new CleanupManager(db, tracker).cleanup();
          if (!report.verified) errors.push(`cleanup not verified: ${JSON.stringify(report.failures)}`);
        } catch (err) {
          errors.push(`${err.code ?? 'error'}: ${err.message}`);
        }
        maxOpen = Math.max(maxOpen, db.openConnections);
      }
      return { errors, maxOpen, poolSize: db.poolSize };
    }
    throw new Error(`unknown command ${msg.cmd}`);
  },
  async () => db?.close(),
);
