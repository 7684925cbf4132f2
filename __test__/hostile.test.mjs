// Hostile input, every class issue 17 lists: patterns that would leave the lane, registrations
// and imports that carry free text, name formats that collide, an unmarked database, numbers
// napi-rs would wrap or truncate, values that are not strings where names are made, keys JSON
// cannot hold, wrong types. Each case asserts the PGLANE code it gets and that no row outside
// the lane changed (a digest of every app and auth row, before and after).
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { databaseUrl, pgClient, pglane, stopDatabase } from './helpers.mjs';
import { applySchema } from './reference.mjs';

const { WorkerContext, ResourceTracker, CleanupManager, Factories, RunRegistry, DbLocks, Db, generateRunId } = pglane;
const RUN_ID = generateRunId();
let n = 0;
const lane = (worker = 5) => WorkerContext.create({ workerIndex: worker, testId: `hostile-${n++}` }, { runId: RUN_ID });

/** The error a call throws or its promise rejects with (napi-rs checks arguments before a promise exists). */
async function failure(call) {
  try {
    await call();
  } catch (err) {
    return err;
  }
  throw new Error('expected a failure, but the call succeeded');
}

/** A digest per table of every row in the app and auth schemas whose text does not hold `except`. */
async function digest(client, except = null) {
  const { rows: tables } = await client.query(
    `select format('%I.%I', table_schema, table_name) as t from information_schema.tables
     where table_schema in ('public', 'auth') and table_type = 'BASE TABLE' order by 1`,
  );
  const out = {};
  for (const { t } of tables) {
    const { rows } = await client.query(
      `select count(*)::int as n, md5(coalesce(string_agg(r::text, '|' order by r::text), '')) as h from ${t} r where $1::text is null or position($1::text in r::text) = 0`,
      [except],
    );
    out[t] = `${rows[0].n}:${rows[0].h}`;
  }
  return out;
}

describe('hostile input', () => {
  let url;
  let client;
  let db;
  let ctx;
  let tracker;
  let setup;
  before(async () => {
    url = await databaseUrl();
    client = await pgClient(url);
    await applySchema(client);
    db = Db.connect(url);
    await new RunRegistry(db).ensureSchema();
    await new RunRegistry(db).markTestDatabase();
    ctx = lane();
    tracker = ResourceTracker.forTest({}, ctx, db);
    setup = await Factories.preset(db).create('completeSetup', ctx, tracker);
    // App rows any broad pattern would take.
    await client.query("insert into public.organizations (id, name, slug) values ($1, 'Acme Corp', $2), ($3, $4, $5)", [
      randomUUID(), `acme-${randomUUID()}`, randomUUID(), `${RUN_ID}-weekly report`, `weekly-${randomUUID()}`,
    ]);
  });
  after(async () => {
    await new CleanupManager(db, tracker).cleanup();
    await client.query("delete from public.organizations where name in ('Acme Corp', $1)", [`${RUN_ID}-weekly report`]);
    db?.close();
    await client?.end();
    await stopDatabase();
  });

  /** Runs `call`, expects `code`, and checks that no row at all changed. */
  async function refused(code, call, what) {
    const before = await digest(client);
    const err = await failure(call);
    assert.equal(err.code, code, `${what}: ${err.code} ${err.message}`);
    assert.ok(err instanceof Error, what);
    assert.deepEqual(await digest(client), before, `${what}: no row changed`);
    return err;
  }

  test('patterns that would leave the lane are refused (item 1)', async () => {
    const manager = new CleanupManager(db, tracker);
    const otherRun = WorkerContext.create({ workerIndex: 5, testId: 'other' }, { runId: generateRunId() });
    for (const pattern of ['%%%%%', '_________%', 'abcd%', '%', 'Acme Cor%', `${RUN_ID}%`, `${RUN_ID}-w%x%`, `${RUN_ID}-weekly%`, otherRun.runPattern(), otherRun.testPattern()]) {
      await refused('PGLANE_INVALID_CONFIG', () => manager.cleanupPattern(pattern), `cleanupPattern(${pattern})`);
    }
    const forged = JSON.parse(tracker.export());
    forged.lane.runPattern = '%';
    await refused('PGLANE_INVALID_CONFIG', () => new CleanupManager(db, ResourceTracker.import(JSON.stringify(forged), db)).cleanupPattern('run'), 'import with runPattern %');
    const badRun = JSON.parse(tracker.export());
    badRun.lane.runId = 'x';
    await refused('PGLANE_INVALID_CONFIG', () => new CleanupManager(db, ResourceTracker.import(JSON.stringify(badRun), db)).cleanupPattern('run'), 'import with run id x');
  });

  test('registrations are never trusted as free text (item 1)', async () => {
    const registry = new RunRegistry(db);
    const runId = generateRunId();
    await refused('PGLANE_INVALID_CONFIG', () => registry.register(runId, 'h', 1, 'Acme Cor%'), "register(..., 'Acme Cor%')");
    // A registration row written by hand, with free text: the sweep derives the lane from the run id.
    const before = await digest(client, runId);
    await client.query("insert into pglane.runs (run_id, host, pid, lane_pattern, heartbeat_at) values ($1, 'x', 1, 'Acme Cor%', now() - interval '1 day')", [runId]);
    const report = await registry.sweep(runId);
    assert.equal(report.totalDeleted, 0);
    assert.deepEqual(await digest(client, runId), before, 'the Acme Corp row survived');
    await client.query("insert into pglane.runs (run_id, host, pid, lane_pattern) values ('Acme Cor%', 'x', 1, 'Acme Cor%')");
    await refused('PGLANE_INVALID_CONFIG', () => registry.sweep('Acme Cor%'), 'sweep of a run id that is free text');
    await client.query("delete from pglane.runs where run_id = 'Acme Cor%'");
  });

  test("a sweep takes the lane's shape only, and formats cannot forge another run's prefix (item 2)", async () => {
    const registry = new RunRegistry(db);
    const dead = generateRunId();
    const deadCtx = WorkerContext.create({ workerIndex: 1, testId: 'dead' }, { runId: dead });
    await registry.register(dead, 'h', 1);
    await Factories.preset(db).create('organization', deadCtx, ResourceTracker.forTest({}, deadCtx, db));
    await client.query("insert into public.organizations (id, name, slug) values ($1, $2, $3)", [randomUUID(), `${dead}-weekly report`, `w-${randomUUID()}`]);
    const before = await digest(client, `${dead}-w1-`);
    const report = await registry.sweep(dead, { allowUnmarked: false });
    assert.ok(report.totalDeleted >= 1);
    assert.deepEqual(await digest(client, `${dead}-w1-`), before, `${dead}-weekly report and every other row outside the lane stayed`);
    await client.query('delete from public.organizations where name = $1', [`${dead}-weekly report`]);
    await refused('PGLANE_INVALID_CONFIG', () => WorkerContext.create({ workerIndex: 1 }, { runId: 'abcd1234', nameFormat: 'x{run}-w{worker}-{test}-{name}' }), 'format x{run}');
    await refused('PGLANE_INVALID_CONFIG', () => WorkerContext.create({ workerIndex: 1 }, { runId: 'abcd' }), 'a 4-character run id');
  });

  test('a database not marked as a test database is refused; isTestDatabase answers false there (items 3, 11)', async () => {
    const name = `pglane_unmarked_${randomBytes(4).toString('hex')}`;
    await client.query(`create database ${name}`);
    const other = new URL(url);
    other.pathname = `/${name}`;
    const unmarked = Db.connect(other.toString());
    try {
      assert.equal(await new RunRegistry(unmarked).isTestDatabase(), false, 'no pglane schema: false, not an error');
      const c = await pgClient(other.toString());
      const otherCtx = lane();
      await c.query('create table notes (id serial primary key, body text)');
      await c.query("insert into notes (body) values ($1), ('the app''s note')", [otherCtx.name('note')]);
      const manager = new CleanupManager(unmarked, ResourceTracker.forTest({}, otherCtx, unmarked));
      const err = await failure(() => manager.cleanupPattern('run'));
      assert.equal(err.code, 'PGLANE_NOT_TEST_DATABASE', err.message);
      assert.match(err.message, /mark-test-db/);
      const { rows } = await c.query('select count(*)::int as n from notes');
      assert.equal(rows[0].n, 2, 'nothing was deleted');
      assert.equal((await manager.cleanupPattern('run', { allowUnmarked: true })).totalDeleted, 1, 'the opt-in deletes the lane only');
      await c.end();
    } finally {
      unmarked.close();
      await client.query(`drop database ${name} with (force)`);
    }
  });

  test('numbers napi-rs would wrap, truncate or refuse without a code (items 9, 10)', async () => {
    const factories = Factories.preset(db);
    for (const count of [-1, 2 ** 31, 1.5, NaN, Infinity, '3', 10_001]) {
      await refused('PGLANE_INVALID_ARGUMENT', () => factories.createList('organization', count, ctx, tracker), `createList(${count})`);
    }
    for (const workerIndex of [2 ** 40, NaN, -1, 1.5, '3']) {
      await refused('PGLANE_INVALID_ARGUMENT', () => WorkerContext.create({ workerIndex }, { runId: RUN_ID }), `workerIndex ${workerIndex}`);
    }
    await refused('PGLANE_INVALID_ARGUMENT', () => WorkerContext.create({ workerIndex: 1, retry: -1 }, { runId: RUN_ID }), 'retry -1');
    await refused('PGLANE_INVALID_ARGUMENT', () => WorkerContext.create({ workerIndex: 1, testId: 42 }, { runId: RUN_ID }), 'testId 42');
    for (const timeoutMs of [-5, 1.5, NaN, 2 ** 32]) {
      await refused('PGLANE_INVALID_ARGUMENT', () => new DbLocks(db, { timeoutMs }), `new DbLocks timeoutMs ${timeoutMs}`);
      await refused('PGLANE_INVALID_ARGUMENT', () => new DbLocks(db).lock('hostile', { timeoutMs }), `lock timeoutMs ${timeoutMs}`);
    }
    await refused('PGLANE_INVALID_ARGUMENT', () => new DbLocks(db, { namespace: 'a\u0000' }), 'a NUL namespace');
    const registry = new RunRegistry(db);
    for (const ttl of [Infinity, NaN, -1, 0, '2m', 1e20]) {
      await refused('PGLANE_INVALID_ARGUMENT', () => registry.expired(ttl), `expired(${ttl})`);
      await refused('PGLANE_INVALID_ARGUMENT', () => registry.heartbeat(RUN_ID, { ttlSeconds: ttl }), `heartbeat ttl ${ttl}`);
    }
    await refused('PGLANE_INVALID_ARGUMENT', () => registry.register(generateRunId(), 'h', -1), 'pid -1');
    // Db options are settings: out of range is PGLANE_INVALID_CONFIG, as a bad URL parameter is.
    for (const poolSize of [-1, 1.5, '2', NaN]) {
      await refused('PGLANE_INVALID_CONFIG', () => Db.connect(url, { poolSize }), `poolSize ${poolSize}`);
    }
  });

  test('values that are not strings where lane names are made, and names that would collide (item 9)', async () => {
    const factories = Factories.preset(db);
    await refused('PGLANE_INVALID_ARGUMENT', () => factories.create('organization', ctx, tracker, { slug: 4242 }), '{ slug: 4242 }');
    await refused('PGLANE_INVALID_ARGUMENT', () => factories.create('organization', ctx, tracker, { name: { evil: true } }), '{ name: {...} }');
    await refused('PGLANE_INVALID_ARGUMENT', () => pglane.createWorkerScopedUser(ctx, tracker, { email: 7 }), '{ email: 7 }');
    await refused('PGLANE_INVALID_NAME', () => factories.create('organization', ctx, tracker, { name: '\ud800' }), 'a lone surrogate as a name');
    for (const base of ['\ud800', '\udc00', '\ufffd']) {
      await refused('PGLANE_INVALID_NAME', () => ctx.name(base), `name(${JSON.stringify(base)})`);
      await refused('PGLANE_INVALID_NAME', () => ctx.slug(base), `slug(${JSON.stringify(base)})`);
    }
    assert.notEqual(ctx.slug('a:++!b'), ctx.slug('a!$#?b'), 'a 24-bit hash made these one slug');
  });

  test('keys JSON cannot hold and arguments of the wrong type carry a PGLANE code (item 10)', async () => {
    for (const key of [undefined, NaN, Infinity, [NaN], () => 1, Symbol('k'), 10n ** 30n]) {
      await refused('PGLANE_INVALID_ARGUMENT', () => tracker.track('public.organizations', key), `track(t, ${String(key)})`);
    }
    await refused('PGLANE_INVALID_ARGUMENT', () => tracker.trackOrganization(undefined), 'trackOrganization(undefined)');
    const locks = new DbLocks(db);
    for (const key of [[NaN, 0], [0, Infinity], undefined, {}, [1.5, 2]]) {
      await refused('PGLANE_INVALID_ARGUMENT', () => locks.lock(key), `lock(${JSON.stringify(key)})`);
    }
    await refused('PGLANE_INVALID_ARGUMENT', () => WorkerContext.create({ workerIndex: '3' }), "workerIndex '3'");
    await refused('PGLANE_INVALID_ARGUMENT', () => WorkerContext.create(42), 'testInfo 42');
    await refused('PGLANE_INVALID_ARGUMENT', () => WorkerContext.create({ workerIndex: 1, project: 'p' }, { runId: RUN_ID }), "project 'p'");
    await refused('PGLANE_INVALID_ARGUMENT', () => ctx.name(42), 'name(42)');
    await refused('PGLANE_INVALID_ARGUMENT', () => new CleanupManager(db, {}), 'a tracker that is not one');
    await refused('PGLANE_INVALID_ARGUMENT', () => new CleanupManager(db, tracker, 'verify'), 'options that are a string');
    await refused('PGLANE_INVALID_ARGUMENT', () => Factories.preset(db).create(42, ctx, tracker), 'a factory name that is a number');
    await refused('PGLANE_INVALID_ARGUMENT', () => Factories.preset(db).create('organization', {}, tracker), 'a context that is not one');
    await refused('PGLANE_INVALID_ARGUMENT', () => new CleanupManager(db, tracker).cleanupPattern(7), 'cleanupPattern(7)');
    await refused('PGLANE_INVALID_ARGUMENT', () => new RunRegistry(db).sweep(null), 'sweep(null)');
    await refused('PGLANE_INVALID_ARGUMENT', () => pglane.writeSupabaseStorageState(NaN), 'a session that is NaN');
    const deep = [];
    let cur = deep;
    for (let i = 0; i < 100; i++) cur = cur[0] = [];
    await refused('PGLANE_INVALID_ARGUMENT', () => tracker.track('public.organizations', deep), 'a key nested 100 deep');
    assert.ok(setup.organization.id, 'the lane itself is still there');
  });
});
