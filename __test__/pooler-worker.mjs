// One worker process of pooler.test.mjs: the factory-free flow of cleanup.test.mjs, repeated,
// with every statement going through a transaction-mode pgbouncer (DATABASE_URL).
//   env: DATABASE_URL (the pooler), PGLANE_TEST_RUN_ID, PGLANE_TEST_WORKER, PGLANE_TEST_ITERATIONS
// Prints one JSON line {worker, ids, reports} on stdout; exits 1 at the first failed check.
import { randomUUID } from 'node:crypto';
import { pgClient, pglane } from './helpers.mjs';
import { insertCompleteSetup, remainingRows, trackCompleteSetup } from './reference.mjs';

const { Db, WorkerContext, ResourceTracker, CleanupManager } = pglane;
const runId = process.env.PGLANE_TEST_RUN_ID;
const worker = Number(process.env.PGLANE_TEST_WORKER);
const iterations = Number(process.env.PGLANE_TEST_ITERATIONS ?? 20);

function check(ok, what, detail) {
  if (!ok) {
    console.error(`worker ${worker}: ${what}${detail === undefined ? '' : `: ${JSON.stringify(detail)}`}`);
    process.exit(1);
  }
}

// The app's own writes go through the pooler too (node-pg sends unnamed statements).
const client = await pgClient(process.env.DATABASE_URL);
const ids = [];
const reports = [];
try {
  for (let i = 0; i < iterations; i++) {
    const ctx = WorkerContext.create({ workerIndex: worker, testId: `pooler-${i}` }, { runId });
    const setup = await insertCompleteSetup(client, ctx);
    ids.push(setup);
    let untracked = 0;
    if (i % 5 === 4) {
      // Rows the app under test created through its UI: nobody tracks them.
      const convo = randomUUID();
      await client.query('insert into public.conversations (id, organization_id, user_id, title) values ($1, $2, $3, $4)', [
        convo, setup.org, setup.user, 'created in the browser',
      ]);
      await client.query(`insert into public.messages (conversation_id, user_id, content) select $1, $2, 'msg ' || g from generate_series(1, 3) g`, [
        convo, setup.user,
      ]);
      // pglane deletes the conversation (NO ACTION foreign keys); its messages cascade.
      untracked = 1;
    }
    // Factory-free: the process's default database (DATABASE_URL = the pooler).
    const tracker = ResourceTracker.forTest({}, ctx);
    trackCompleteSetup(tracker, setup);
    const report = await new CleanupManager(null, tracker).cleanup();
    reports.push({ verified: report.verified, totalDeleted: report.totalDeleted, roundTrips: report.roundTrips, fallback: report.fallback });
    check(report.verified === true, `iteration ${i}: cleanup not verified`, report);
    check(report.failures.length === 0, `iteration ${i}: cleanup failures`, report.failures);
    check(report.totalDeleted === 11 + untracked, `iteration ${i}: deleted ${report.totalDeleted}, expected ${11 + untracked}`, report.deleted);
    check(tracker.count() === 0, `iteration ${i}: tracker still holds ${tracker.count()} rows`);
    const left = await remainingRows(client, setup);
    check(Object.values(left).every((n) => n === 0), `iteration ${i}: rows left`, left);
  }
} catch (err) {
  console.error(`worker ${worker}: ${err.code ?? ''} ${err.stack}`);
  process.exit(1);
} finally {
  await client.end().catch(() => {});
}
console.log(JSON.stringify({ worker, target: Db.default().describe(), ids, reports }));
