// pglane through a transaction-mode pooler: Debian's pgbouncer (1.18, which has no support for
// protocol-level prepared statements) in front of the test database, started here. Named
// statements break behind it ("prepared statement ... already exists / does not exist"); pglane
// sends only unnamed ones, so everything must work with no error at all.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { databaseUrl, pgClient, pglane, rejection, stopDatabase } from './helpers.mjs';
import { APP_TABLES, applySchema, insertCompleteSetup, remainingRows, trackCompleteSetup } from './reference.mjs';
import { startPgbouncer } from './servers.mjs';

// A fresh run id per process: the tests may run against a database that keeps old rows.
const RUN_ID = pglane.generateRunId();

const { Db, WorkerContext, ResourceTracker, CleanupManager, DbLocks, Factories } = pglane;
const WORKER = fileURLToPath(new URL('./pooler-worker.mjs', import.meta.url));
const PREPARED = /prepared statement/i;

function params(url, pairs) {
  const u = new URL(url);
  for (const [k, v] of Object.entries(pairs)) u.searchParams.set(k, v);
  return u.toString();
}

describe('through pgbouncer in transaction mode', () => {
  let url;
  let bouncer;
  let witness; // direct to the server, never through the pooler
  const children = new Set();
  before(async () => {
    url = await databaseUrl();
    witness = await pgClient(url);
    await applySchema(witness);
    bouncer = await startPgbouncer(url);
  });
  after(async () => {
    for (const child of children) child.kill('SIGKILL');
    await witness?.end();
    await bouncer?.stop();
    await stopDatabase();
  });

  /** Holds every server connection of the pooler's pool at once; returns what each one says. */
  async function everyServerConnection(poolerUrl, size = 4) {
    const clients = await Promise.all(Array.from({ length: size }, () => pgClient(poolerUrl)));
    try {
      await Promise.all(clients.map((c) => c.query('begin')));
      const rows = await Promise.all(
        clients.map(async (c) => (await c.query('select pg_backend_pid() as pid, (select count(*)::int from pg_prepared_statements) as prepared')).rows[0]),
      );
      await Promise.all(clients.map((c) => c.query('commit')));
      return rows;
    } finally {
      await Promise.all(clients.map((c) => c.end().catch(() => {})));
    }
  }

  test('the pooler is in transaction mode: named statements from 8 clients collide on its 4 server connections', async () => {
    const clients = await Promise.all(Array.from({ length: 8 }, () => pgClient(bouncer.probeUrl)));
    try {
      const rounds = [];
      for (let round = 0; round < 2; round++) {
        rounds.push(...(await Promise.allSettled(clients.map((c) => c.query({ name: 'pglane_named_probe', text: 'select 1 as one' })))));
      }
      const errors = rounds.filter((r) => r.status === 'rejected').map((r) => r.reason.message);
      assert.ok(errors.length > 0, 'named statements should break behind a transaction-mode pooler');
      assert.ok(errors.every((m) => PREPARED.test(m)), errors.join('\n'));
    } finally {
      await Promise.all(clients.map((c) => c.end().catch(() => {})));
    }
  });

  test('serverInfo 50 times at once through the pooler, for every pooler setting, without an error', async () => {
    const variants = {
      'option pooler: transaction': Db.connect(bouncer.url, { pooler: 'transaction' }),
      'URL pgbouncer=true': Db.connect(params(bouncer.url, { pgbouncer: 'true' })),
      'URL pglane_pooler=transaction': Db.connect(params(bouncer.url, { pglane_pooler: 'transaction' })),
      'plain (auto)': Db.connect(bouncer.url),
      'option pooler: auto': Db.connect(bouncer.url, { pooler: 'auto' }),
    };
    const database = decodeURIComponent(new URL(url).pathname.slice(1)) || 'postgres';
    const pids = new Set();
    await Promise.all(
      Object.entries(variants).map(async ([name, db]) => {
        const settled = await Promise.allSettled(Array.from({ length: 50 }, () => db.serverInfo()));
        const errors = settled.filter((r) => r.status === 'rejected').map((r) => `${r.reason.code}: ${r.reason.message}`);
        assert.deepEqual(errors, [], `${name}: ${errors.length} of 50 failed`);
        for (const { value: info } of settled) {
          assert.equal(info.applicationName, 'pglane', name);
          assert.equal(info.database, database, name);
          pids.add(info.backendPid);
        }
        assert.equal(db.roundTrips, 50, name);
        assert.ok(db.openConnections <= 2, `${name}: ${db.openConnections} connections`);
      }),
    );
    // 5 handles with up to 2 connections each, served by the pooler's 4 server connections.
    assert.ok(pids.size <= 4, `${pids.size} backends: the calls did not go through the pooler`);
    for (const db of Object.values(variants)) db.close();
  });

  test('pglane leaves no named prepared statement on any server connection of the pool', async () => {
    const db = Db.connect(bouncer.url, { pooler: 'transaction', poolSize: 4 });
    await Promise.all(Array.from({ length: 40 }, () => db.serverInfo()));
    // A schema read and a cleanup too: every kind of statement pglane sends.
    const ctx = WorkerContext.create({ workerIndex: 1, testId: 'pooler-prepared' }, { runId: `pool${randomBytes(3).toString('hex')}` });
    const ids = await insertCompleteSetup(witness, ctx);
    const tracker = ResourceTracker.forTest({}, ctx, db);
    trackCompleteSetup(tracker, ids);
    const report = await new CleanupManager(db, tracker).cleanup();
    assert.equal(report.verified, true);
    assert.deepEqual(report.failures, []);
    db.close();
    const servers = await everyServerConnection(bouncer.url);
    assert.equal(new Set(servers.map((s) => s.pid)).size, 4, 'held the whole pool');
    assert.deepEqual(servers.map((s) => s.prepared), [0, 0, 0, 0]);
  });

  /** What pglane says when the pooler refuses: a wrong password, a database it does not serve. */
  async function poolerRefusals() {
    const secret = 'Pooler@pw#1/2%3:x';
    const wrongPassword = new URL(bouncer.url);
    wrongPassword.password = encodeURIComponent(secret);
    const missingDb = new URL(bouncer.url);
    missingDb.pathname = '/pglane_no_such_db';
    return {
      secret,
      auth: await rejection(Db.connect(wrongPassword.toString(), { pooler: 'transaction' }).serverInfo()),
      notFound: await rejection(Db.connect(missingDb.toString(), { pooler: 'transaction' }).serverInfo()),
    };
  }

  test("the pooler's refusals name the pooler's address and never show the password", async () => {
    const { secret, auth, notFound } = await poolerRefusals();
    const password = decodeURIComponent(new URL(url).password);
    for (const err of [auth, notFound]) {
      assert.ok(err.message.includes(`127.0.0.1:${bouncer.port}/`), err.message);
      for (const form of [secret, encodeURIComponent(secret), password]) assert.ok(!err.message.includes(form), err.message);
      assert.ok(err.code.startsWith('PGLANE_DB_'), err.code);
    }
    assert.match(notFound.message, /pglane_no_such_db/);
  });

  test(
    "the pooler's refusals keep their codes: PGLANE_DB_AUTH and PGLANE_DB_NOT_FOUND",
    async () => {
      const { auth, notFound } = await poolerRefusals();
      assert.equal(auth.code, 'PGLANE_DB_AUTH', auth.message);
      assert.equal(notFound.code, 'PGLANE_DB_NOT_FOUND', notFound.message);
    },
  );

  function runWorker(worker, runId, iterations) {
    const env = {
      ...process.env,
      DATABASE_URL: bouncer.url,
      PGLANE_POOLER: worker % 2 ? 'transaction' : '', // half say so, half rely on auto
      PGLANE_TEST_RUN_ID: runId,
      PGLANE_TEST_WORKER: String(worker),
      PGLANE_TEST_ITERATIONS: String(iterations),
    };
    delete env.PGLANE_DATABASE_URL;
    delete env.NODE_TEST_CONTEXT;
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [WORKER], { env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000, killSignal: 'SIGKILL' });
      children.add(child);
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('error', (err) => (stderr += `\nspawn failed: ${err.message}`));
      child.on('close', (code, signal) => {
        children.delete(child);
        resolve({ worker, code, signal, stdout, stderr });
      });
    });
  }

  test('session locks are refused through the pooler; transaction locks and withLock work and exclude each other', async () => {
    const db = Db.connect(bouncer.url, { pooler: 'transaction' });
    const one = new DbLocks(db);
    const two = new DbLocks(db);
    assert.equal(await one.behindTransactionPooler(), true);
    const refused = await rejection(one.lock('pooled'));
    assert.equal(refused.code, 'PGLANE_POOLER_UNSUPPORTED');
    assert.match(refused.message, /transaction/);
    await one.lock('pooled', { scope: 'transaction' });
    assert.equal(await two.tryLock('pooled', { scope: 'transaction' }), false);
    await one.unlock('pooled');
    // withLock picks the transaction scope by itself here; concurrent callers run one at a time.
    let inside = 0;
    let overlap = 0;
    await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? one : two).withLock('critical', async () => {
      inside++;
      overlap = Math.max(overlap, inside);
      await new Promise((r) => setTimeout(r, 20));
      inside--;
    })));
    assert.equal(overlap, 1);
    await one.releaseAll();
    await two.releaseAll();
    db.close();
  });

  test('factories create and clean up through the pooler', async () => {
    const db = Db.connect(bouncer.url, { pooler: 'transaction' });
    const ctx = WorkerContext.create({ workerIndex: 77, testId: 'pooler-factories' }, { runId: RUN_ID });
    const tracker = ResourceTracker.forTest({}, ctx, db);
    const setup = await Factories.preset(db).create('completeSetup', ctx, tracker);
    assert.ok(setup.invite.id);
    const report = await new CleanupManager(db, tracker).cleanup();
    assert.equal(report.verified, true);
    assert.deepEqual(report.failures, []);
    db.close();
  });

  test('4 processes × 20 complete setups, tracked and cleaned up through the pooler: all verified, nothing left', { timeout: 180_000 }, async () => {
    const runId = `pool${randomBytes(3).toString('hex')}`;
    const iterations = 20;
    const neighbour = WorkerContext.create({ workerIndex: 1, testId: 'pooler-neighbour' }, { runId: `${runId}n` });
    const kept = await insertCompleteSetup(witness, neighbour);

    const results = await Promise.all([1, 2, 3, 4].map((w) => runWorker(w, runId, iterations)));
    for (const r of results) {
      assert.equal(r.code, 0, `worker ${r.worker} exited ${r.code ?? r.signal}:\n${r.stderr}`);
      assert.ok(!PREPARED.test(r.stderr), r.stderr);
    }
    const outcomes = results.map((r) => JSON.parse(r.stdout.trim().split('\n').pop()));
    const database = decodeURIComponent(new URL(url).pathname.slice(1)) || 'postgres';
    for (const out of outcomes) {
      assert.equal(out.target, `${decodeURIComponent(new URL(url).username)}@127.0.0.1:${bouncer.port}/${database}`, 'the default database is the pooler');
      assert.equal(out.ids.length, iterations, `worker ${out.worker}`);
      assert.equal(out.reports.length, iterations, `worker ${out.worker}`);
      assert.ok(out.reports.every((rep) => rep.verified === true), `worker ${out.worker}: ${JSON.stringify(out.reports)}`);
    }

    // Checked directly on the server: no row of any worker's lane remains.
    for (const out of outcomes) {
      for (const ids of out.ids) {
        const left = await remainingRows(witness, ids);
        assert.ok(Object.values(left).every((n) => n === 0), `worker ${out.worker}: ${JSON.stringify(left)}`);
      }
    }
    const direct = Db.connect(url);
    const checker = WorkerContext.create({ workerIndex: 1, testId: 'pooler-leaks' }, { runId });
    const manager = new CleanupManager(direct, ResourceTracker.forTest({}, checker, direct));
    assert.deepEqual(await manager.verifyNoLeakedData('run'), [], 'rows named for this run remain');

    // Another run's lane on the same tables was not touched; then it is cleaned up too.
    const survivors = await remainingRows(witness, kept);
    for (const table of APP_TABLES) assert.equal(survivors[table], 1, `the neighbour lane lost ${table}`);
    const tracker = ResourceTracker.forTest({}, neighbour, direct);
    trackCompleteSetup(tracker, kept);
    assert.equal((await new CleanupManager(direct, tracker).cleanup()).verified, true);
    direct.close();
  });
});
