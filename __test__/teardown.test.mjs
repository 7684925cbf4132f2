// The global teardown when the database is briefly away (issue 17, item 6): a backend terminated
// under the teardown's query, and a server restart in the middle of it. The teardown retries
// what failed for a reason time can cure, so the run's rows are still swept and the run is
// forgotten; anything else fails at once. The faults are placed, not timed: a witness session
// holds a lock on pglane.runs, so the teardown's first query waits on it, and the fault comes
// while it waits. The server is a cluster of this file's own (restarted here).
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { pglane } from './helpers.mjs';
import { embeddedClusterSkipReason, embeddedPgBin, startCluster } from './pg15.mjs';
import { applySchema } from './reference.mjs';

const require = createRequire(import.meta.url);
const { Db, Factories, ResourceTracker, WorkerContext, generateRunId } = pglane;
const { retryTransient, TEARDOWN_RETRY } = require('../dist/playwright/retry.js');

const skip = (await embeddedClusterSkipReason()) ?? false;

/** Runs pglane's global setup in this process for `url`; returns the teardown and what it printed. */
async function setUp(url, runId) {
  const { default: globalSetup } = require('pglane/global-setup');
  const saved = { ...process.env };
  const printed = [];
  const original = { warn: console.warn, log: console.log };
  console.warn = (...a) => printed.push(a.join(' '));
  console.log = (...a) => printed.push(a.join(' '));
  const restore = () => {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
    Object.assign(console, original);
  };
  delete process.env.PGLANE_DATABASE_URL;
  Object.assign(process.env, { DATABASE_URL: url, PGLANE_RUN_ID: runId });
  try {
    const teardown = await globalSetup();
    return {
      printed,
      teardown: async () => {
        try {
          await teardown();
        } finally {
          restore();
        }
      },
    };
  } catch (err) {
    restore();
    throw err;
  }
}

/** Rows the run `runId` created by factory (journaled, lane-named), left for the teardown. */
async function leaveRows(url, runId) {
  const db = Db.connect(url);
  const ctx = WorkerContext.create({ workerIndex: 0, testId: 'left' }, { runId });
  const tracker = ResourceTracker.forTest({}, ctx, db);
  await Factories.preset(db).create('completeSetup', ctx, tracker);
  db.close();
}

describe('the teardown under database faults', { skip }, () => {
  let server;
  let witness;
  before(async () => {
    // synchronous_commit on: an immediate shutdown must not lose what was committed before it.
    server = await startCluster({ bin: await embeddedPgBin(), settings: { synchronous_commit: 'on' } });
    witness = await connect();
    await applySchema(witness);
  });
  after(async () => {
    await witness?.end().catch(() => {});
    await server?.stop();
  });

  async function connect() {
    const client = new pg.Client({ connectionString: server.url });
    client.on('error', () => {}); // a restart cuts this session too
    await client.connect();
    return client;
  }

  /** Holds pglane.runs, starts the teardown, and resolves with its promise once it waits on the lock. */
  async function teardownWaitingOnLock(teardown) {
    await witness.query('begin');
    await witness.query('lock table pglane.runs in access exclusive mode');
    const running = teardown();
    running.catch(() => {}); // awaited by the caller
    for (;;) {
      const { rows } = await witness.query(
        "select pid from pg_stat_activity where wait_event_type = 'Lock' and datname = current_database() and pid <> pg_backend_pid()",
      );
      if (rows.length) return { running, pid: rows[0].pid };
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async function state(runId) {
    const { rows } = await witness.query(
      `select (select count(*)::int from pglane.runs where run_id = $1) as registered,
              (select count(*)::int from public.organizations where name like $1 || '-%') as orgs,
              (select count(*)::int from auth.users where email like $1 || '-%') as users,
              (select count(*)::int from pglane.journal where run_id = $1) as journal`,
      [runId],
    );
    return rows[0];
  }

  test('a backend terminated under the teardown: it tries again, sweeps the run and forgets it', { timeout: 120_000 }, async () => {
    const runId = generateRunId();
    const { teardown, printed } = await setUp(server.url, runId);
    await leaveRows(server.url, runId);
    const before = await state(runId);
    assert.ok(before.registered === 1 && before.orgs === 1 && before.users === 1 && before.journal > 0, `the run's rows, as a killed worker leaves them: ${JSON.stringify(before)}`);
    const { running, pid } = await teardownWaitingOnLock(teardown);
    const { rows } = await witness.query('select pg_terminate_backend($1) as done', [pid]);
    assert.equal(rows[0].done, true);
    await witness.query('commit');
    await running;
    assert.deepEqual(await state(runId), { registered: 0, orgs: 0, users: 0, journal: 0 });
    const text = printed.join('\n');
    assert.match(text, new RegExp(`\\[pglane\\] teardown: checking what run ${runId} left failed \\(PGLANE_DB_CONNECTION_LOST: .*\\); trying again in \\d+ ms`), text);
    assert.match(text, /succeeded on attempt 2/, text);
    assert.match(text, /Swept \d+ with their dependents/, text);
  });

  test('a server restart in the middle of the teardown: it waits for the server, then sweeps the run and forgets it', { timeout: 120_000 }, async () => {
    const runId = generateRunId();
    const { teardown, printed } = await setUp(server.url, runId);
    await leaveRows(server.url, runId);
    const { running } = await teardownWaitingOnLock(teardown);
    await server.restart({ mode: 'immediate' });
    witness = await connect();
    await running;
    assert.deepEqual(await state(runId), { registered: 0, orgs: 0, users: 0, journal: 0 });
    const text = printed.join('\n');
    assert.match(text, /\[pglane\] teardown: checking what run \w+ left failed \(PGLANE_DB_(CONNECTION_LOST|UNREACHABLE): /, text);
    assert.doesNotMatch(text, new RegExp(server.password), 'no password in what the teardown printed');
  });
});

describe('retrying the teardown\'s work', () => {
  const quick = { budgetMs: 200, firstDelayMs: 5, maxDelayMs: 20 };
  const coded = (code, message = 'it broke') => Object.assign(new Error(message), { code });

  test('an error time cannot cure is not retried', async () => {
    let calls = 0;
    const said = [];
    const err = await retryTransient('work', async () => {
      calls++;
      throw coded('PGLANE_FOREIGN_KEY_VIOLATION');
    }, (m) => said.push(m), quick).catch((e) => e);
    assert.equal(err.code, 'PGLANE_FOREIGN_KEY_VIOLATION');
    assert.equal(calls, 1);
    assert.deepEqual(said, []);
  });

  test('a lost connection, an unreachable server and a timeout are retried until the work succeeds', async () => {
    const errors = ['PGLANE_DB_CONNECTION_LOST', 'PGLANE_DB_UNREACHABLE', 'PGLANE_DB_TIMEOUT'];
    const said = [];
    const value = await retryTransient('work', async () => {
      const next = errors.shift();
      if (next) throw coded(next);
      return 'done';
    }, (m) => said.push(m), quick);
    assert.equal(value, 'done');
    assert.equal(said.length, 4);
    assert.match(said[0], /^\[pglane\] work failed \(PGLANE_DB_CONNECTION_LOST: it broke\); trying again in 5 ms$/);
    assert.match(said[1], /\(PGLANE_DB_UNREACHABLE: it broke\); trying again in 10 ms$/);
    assert.equal(said[3], '[pglane] work: succeeded on attempt 4');
  });

  test('it gives up once its budget is spent, with the last error\'s code and how long it tried', async () => {
    let calls = 0;
    const err = await retryTransient('sweeping run x', async () => {
      calls++;
      throw coded('PGLANE_DB_UNREACHABLE', 'could not connect to 127.0.0.1:1/postgres');
    }, () => {}, quick).catch((e) => e);
    assert.equal(err.code, 'PGLANE_DB_UNREACHABLE');
    assert.ok(calls >= 2, `tried more than once (${calls})`);
    assert.match(err.message, new RegExp(`^sweeping run x failed ${calls} time\\(s\\) over \\d+ s, the last time with PGLANE_DB_UNREACHABLE: could not connect`));
  });

  test('the teardown\'s budget is bounded and outlasts a restart', () => {
    assert.ok(TEARDOWN_RETRY.budgetMs >= 10_000 && TEARDOWN_RETRY.budgetMs <= 60_000, JSON.stringify(TEARDOWN_RETRY));
  });
});
