// Whole runs: a worker killed mid-test, a dead run swept by the next run's setup (and a live
// one left alone), and two runs at once on one database.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { createRequire } from 'node:module';
import { databaseUrl, pgClient, pglane, stopDatabase } from './helpers.mjs';
import { applySchema } from './reference.mjs';

const require = createRequire(import.meta.url);
const { WorkerContext, ResourceTracker, Factories, RunRegistry, Db, generateRunId } = pglane;

function playwright(config, env, extra = []) {
  return new Promise((resolve) => {
    const child = spawn('npx', ['playwright', 'test', '-c', config, ...extra], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('exit', (code) => resolve({ code, out }));
  });
}

async function laneRows(client, runId) {
  const { rows } = await client.query(
    `select (select count(*)::int from public.organizations where name like $1 || '%')
          + (select count(*)::int from auth.users where email like $1 || '%') as named,
            (select count(*)::int from pglane.journal where run_id = $1) as journal`,
    [runId],
  );
  return rows[0];
}

describe('runs', () => {
  let url;
  let client;
  before(async () => {
    url = await databaseUrl();
    client = await pgClient(url);
    await applySchema(client);
    await client.query('create table if not exists public.late_notes (id bigserial primary key, body text not null)');
    await client.query(`
      create table if not exists public.archived_notes (id bigserial primary key, body text not null);
      create or replace function public.archived_notes_keep() returns trigger language plpgsql as $$
        begin raise exception 'archived notes are kept'; end $$;
      drop trigger if exists keep on public.archived_notes;
      create trigger keep before delete on public.archived_notes for each row execute function public.archived_notes_keep();`);
  });
  after(async () => {
    await client?.end();
    await stopDatabase();
  });

  test('a worker killed mid-test leaves rows; the run\'s teardown finds and sweeps them', { timeout: 180_000 }, async () => {
    const runId = generateRunId();
    const { code, out } = await playwright('__test__/crash/playwright.config.ts', { DATABASE_URL: url, PGLANE_RUN_ID: runId, PGLANE_CRASH: '1' });
    assert.notEqual(code, 0, 'the killed test fails the run');
    assert.match(out, /left \d+ row\(s\) in .*; 1 worker\(s\) exited unexpectedly\. Swept (\d+) with their dependents/, out);
    const swept = Number(out.match(/Swept (\d+) with their dependents/)[1]);
    assert.ok(swept >= 11, `the setup, its identity and the hand-tracked row: ${swept}`);
    assert.deepEqual(await laneRows(client, runId), { named: 0, journal: 0 });
    const { rows } = await client.query("select count(*)::int as n from public.late_notes where body = 'no lane name here'");
    assert.equal(rows[0].n, 0, 'the row without a lane name was found through the journal');
  });

  test('a timed-out test is still cleaned up; a partial cleanup failure fails its test, named with table and reason', { timeout: 180_000 }, async () => {
    const runId = generateRunId();
    const { out } = await playwright('__test__/crash/playwright.config.ts', { DATABASE_URL: url, PGLANE_RUN_ID: runId, PGLANE_FIXTURE_CHECKS: '1' }, ['--reporter=json']);
    const report = JSON.parse(out.slice(out.indexOf('{'), out.lastIndexOf('}') + 1));
    const tests = report.suites.flatMap((s) => s.specs).flatMap((s) => s.tests.map((t) => ({ title: s.title, ...t })));
    const timedOut = tests.find((t) => t.title.startsWith('times out'));
    assert.equal(timedOut.results[0].status, 'timedOut');
    const stats = JSON.parse(Buffer.from(timedOut.results[0].attachments.find((a) => a.name === 'pglane-stats').body, 'base64'));
    assert.equal(stats.rowsCleaned, 10, 'the setup was cleaned after the timeout');
    assert.equal(stats.verified, true);
    // A passing test's stats reach the reporter without a step of their own, and without the
    // test's output directory made on disk (the fixture's cost per test).
    const normal = tests.find((t) => t.title.startsWith('a normal test'));
    assert.equal(normal.results[0].status, 'passed');
    const normalStats = JSON.parse(Buffer.from(normal.results[0].attachments.find((a) => a.name === 'pglane-stats').body, 'base64'));
    assert.equal(normalStats.rowsCleaned, normalStats.rowsCreated);
    assert.ok(normalStats.rowsCreated >= 1, JSON.stringify(normalStats));
    const steps = (list) => list.flatMap((s) => [s.title, ...steps(s.steps ?? [])]);
    assert.deepEqual(steps(normal.results[0].steps ?? []).filter((t) => /pglane-stats/.test(t)), []);
    assert.deepEqual(readdirSync('test-results/crash').filter((d) => d.includes('a-normal-test')), []);
    const partial = tests.find((t) => t.title.startsWith('a cleanup that partly fails'));
    const note = partial.annotations.find((a) => a.type === 'pglane-cleanup');
    assert.ok(note, JSON.stringify(partial.annotations));
    assert.match(note.description, /archived notes are kept/);
    assert.equal(partial.results[0].status, 'failed', 'rows left behind are no clean pass');
    const error = partial.results[0].errors.map((e) => e.message).join('\n');
    assert.match(error, /the cleanup after "crash\.spec\.ts › a cleanup that partly fails is reported on the test" left rows: public\.archived_notes: .*archived notes are kept/, error);
    assert.doesNotMatch(out, /killed worker/);
    assert.match(out, /the database refused to delete the rest, which is still there: public\.archived_notes: .*archived notes are kept/, out);
    assert.ok(partial.results[0].attachments.some((a) => a.name === 'pglane-cleanup-report'));
    const { rows } = await client.query("select count(*)::int as n from public.organizations where name like $1", [`${runId}-%Deletable`]);
    assert.equal(rows[0].n, 0, 'the rest of that lane still went');
    await client.query("alter table public.archived_notes disable trigger keep; delete from public.archived_notes; alter table public.archived_notes enable trigger keep");
  });

  test('in strict mode the run fails and the rows stay for inspection', { timeout: 180_000 }, async () => {
    const runId = generateRunId();
    const { code, out } = await playwright('__test__/crash/playwright.config.ts', { DATABASE_URL: url, PGLANE_RUN_ID: runId, PGLANE_CRASH: '1', PGLANE_STRICT: '1' });
    assert.notEqual(code, 0);
    assert.match(out, /Strict mode fails the run/);
    const left = await laneRows(client, runId);
    assert.ok(left.named > 0 && left.journal > 0, JSON.stringify(left));
    const report = await new RunRegistry(Db.connect(url)).sweep(runId, { allowUnmarked: true });
    assert.ok(report.totalDeleted > 0);
    assert.deepEqual(await laneRows(client, runId), { named: 0, journal: 0 });
  });

  test("the next run's setup sweeps a dead run, never a live one", { timeout: 120_000 }, async () => {
    const db = Db.connect(url);
    const registry = new RunRegistry(db);
    await registry.ensureSchema();
    await registry.markTestDatabase();
    const make = async (runId) => {
      const ctx = WorkerContext.create({ workerIndex: 0, testId: runId }, { runId });
      await registry.register(runId, 'elsewhere', 1, ctx.runPattern());
      const tracker = ResourceTracker.forTest({}, ctx, db);
      await Factories.preset(db).create('completeSetup', ctx, tracker);
      return ctx;
    };
    const dead = generateRunId();
    const live = generateRunId();
    await make(dead);
    await make(live);
    await client.query("update pglane.runs set heartbeat_at = now() - interval '1 hour' where run_id = $1", [dead]);
    assert.ok((await laneRows(client, dead)).named > 0);

    const { default: globalSetup } = require('pglane/global-setup');
    const saved = { ...process.env };
    Object.assign(process.env, { DATABASE_URL: url, PGLANE_RUN_ID: generateRunId(), PGLANE_QUIET: '1' });
    try {
      const teardown = await globalSetup();
      assert.deepEqual(await laneRows(client, dead), { named: 0, journal: 0 }, 'the dead run is swept');
      assert.ok((await laneRows(client, live)).named > 0, 'the live run keeps its rows');
      await teardown();
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    }
    const runs = (await registry.runs()).map((r) => r.runId);
    assert.ok(!runs.includes(dead) && runs.includes(live));
    await registry.sweep(live, { allowUnmarked: true });
    db.close();
  });

  test("a run started with PGLANE_HEARTBEAT_TTL=5 judges a live run by the live run's own TTL and leaves it alone", { timeout: 120_000 }, async () => {
    const db = Db.connect(url);
    const registry = new RunRegistry(db);
    await registry.ensureSchema();
    await registry.markTestDatabase();
    const live = generateRunId();
    const ctx = WorkerContext.create({ workerIndex: 0, testId: live }, { runId: live });
    assert.equal(await registry.register(live, 'elsewhere', 1, null, { heartbeatSeconds: 20, ttlSeconds: 120 }), true);
    await Factories.preset(db).create('completeSetup', ctx, ResourceTracker.forTest({}, ctx, db));
    // Its last beat was 30 s ago: well within its own 120 s, far past the other run's 5 s.
    await client.query("update pglane.runs set heartbeat_at = now() - interval '30 seconds' where run_id = $1", [live]);
    const { default: globalSetup } = require('pglane/global-setup');
    const saved = { ...process.env };
    Object.assign(process.env, { DATABASE_URL: url, PGLANE_RUN_ID: generateRunId(), PGLANE_QUIET: '1', PGLANE_HEARTBEAT_TTL: '5' });
    try {
      const teardown = await globalSetup();
      assert.ok((await laneRows(client, live)).named > 0, 'the live run keeps its rows');
      await teardown();
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    }
    const info = (await registry.runs()).find((r) => r.runId === live);
    assert.ok(info, 'and its registration');
    assert.equal(info.ttlSeconds, 120);
    assert.ok(!(await registry.expired(5)).some((r) => r.runId === live));
    await registry.sweep(live);
    db.close();
  });

  test('a run that another run swept registers again at its next heartbeat, and its teardown cleans its rows', { timeout: 120_000 }, async () => {
    const db = Db.connect(url);
    const registry = new RunRegistry(db);
    const runId = generateRunId();
    const { default: globalSetup } = require('pglane/global-setup');
    const saved = { ...process.env };
    Object.assign(process.env, { DATABASE_URL: url, PGLANE_RUN_ID: runId, PGLANE_QUIET: '1' });
    try {
      const teardown = await globalSetup({ projects: [{ use: { pglane: { heartbeatSeconds: 0.2, heartbeatTtlSeconds: 60 } } }] });
      // Another run sweeps it (its heartbeat looked expired to that run): it is forgotten.
      await registry.forget(runId);
      const ctx = WorkerContext.create({ workerIndex: 3, testId: runId }, { runId });
      await Factories.preset(db).create('completeSetup', ctx, ResourceTracker.forTest({}, ctx, db));
      let registered;
      for (let i = 0; i < 200 && !registered; i++) {
        await new Promise((r) => setTimeout(r, 100));
        registered = (await registry.runs()).find((r) => r.runId === runId);
      }
      assert.ok(registered, 'registered again by its heartbeat');
      assert.equal(registered.ttlSeconds, 60, 'with its own TTL');
      await teardown();
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    }
    assert.deepEqual(await laneRows(client, runId), { named: 0, journal: 0 }, 'the teardown found and swept its rows');
    db.close();
  });

  test('two runs of the example suite at once on one database both pass', { timeout: 300_000 }, async () => {
    const env = { DATABASE_URL: url, WORKERS: '2' };
    const [a, b] = await Promise.all([
      playwright('examples/playwright.config.ts', { ...env, PGLANE_RUN_ID: generateRunId() }, ['--reporter=line']),
      playwright('examples/playwright.config.ts', { ...env, PGLANE_RUN_ID: generateRunId() }, ['--reporter=line']),
    ]);
    assert.equal(a.code, 0, a.out);
    assert.equal(b.code, 0, b.out);
    for (const r of [a, b]) assert.match(r.out, /left no rows/);
  });
});
