import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { databaseUrl, pgClient, pglane, rejection, stopDatabase, thrown } from './helpers.mjs';
import { APP_TABLES, applySchema, insertCompleteSetup, remainingRows, trackCompleteSetup } from './reference.mjs';

// A fresh run id per process: the tests may run against a database that keeps old rows.
const RUN_ID = pglane.generateRunId();

const { WorkerContext, ResourceTracker, CleanupManager, Db } = pglane;
let n = 0;
const lane = (worker = 1) => WorkerContext.create({ workerIndex: worker, testId: `cleanup-${n++}` }, { runId: RUN_ID });
const allZero = (counts) => Object.values(counts).every((v) => v === 0);

describe('ResourceTracker and CleanupManager on the reference schema', () => {
  let url;
  let client;
  before(async () => {
    url = await databaseUrl();
    client = await pgClient(url);
    await applySchema(client);
    // Pattern cleanup deletes by name: it runs on a database marked as a test database only.
    await new pglane.RunRegistry(null).markTestDatabase();
  });
  after(async () => {
    await client?.end();
    await stopDatabase();
  });

  test('cleans all 11 resource kinds in one round trip, verified, and spares another lane', async () => {
    const mine = lane();
    const theirs = lane(2);
    const ids = await insertCompleteSetup(client, mine);
    const other = await insertCompleteSetup(client, theirs);
    const tracker = ResourceTracker.forTest({}, mine);
    trackCompleteSetup(tracker, ids);
    assert.equal(tracker.count(), 11);

    const report = await new CleanupManager(null, tracker).cleanup();
    assert.deepEqual(report.failures, []);
    assert.equal(report.verified, true);
    assert.equal(report.roundTrips, 1);
    assert.equal(report.totalDeleted, 11);
    for (const table of APP_TABLES) assert.equal(report.deleted[table], 1, table);
    assert.ok(allZero(await remainingRows(client, ids)));
    const survivors = await remainingRows(client, other);
    for (const table of APP_TABLES) assert.equal(survivors[table], 1, `other lane lost ${table}`);
    assert.equal(tracker.count(), 0);

    const again = await new CleanupManager(null, tracker).cleanup();
    assert.equal(again.roundTrips, 0);
    assert.equal(again.totalDeleted, 0);
  });

  test('a report is a plain object: its fields in order, absent ones left out, failures with their sqlstate', async () => {
    const fields = ['deleted', 'cascaded', 'totalDeleted', 'failures', 'remaining', 'roundTrips', 'statements', 'durationMs', 'fallback'];
    const ctx = lane();
    const ids = await insertCompleteSetup(client, ctx);
    const tracker = ResourceTracker.forTest({}, ctx);
    trackCompleteSetup(tracker, ids);
    // Not verified: no `verified` at all (not null, not undefined).
    const plain = await new CleanupManager(null, tracker, { verifyCleanup: false }).cleanup();
    assert.deepEqual(Object.keys(plain), fields);
    assert.equal(Object.getPrototypeOf(plain), Object.prototype);
    assert.equal(typeof plain.durationMs, 'number');
    assert.equal(plain.totalDeleted, 11);
    assert.deepEqual(Object.keys(plain.deleted).sort(), [...APP_TABLES].sort());

    // A row the database refuses to delete: a failure, verified false, what is left counted.
    const other = lane();
    const more = await insertCompleteSetup(client, other);
    const refusing = ResourceTracker.forTest({}, other);
    trackCompleteSetup(refusing, more);
    const fn = `pglane_refuse_${process.pid}`;
    await client.query(`create function public.${fn}() returns trigger language plpgsql as $$ begin raise exception 'refused: "%" ü', old.id using errcode = '23503'; end $$`);
    await client.query(`create trigger ${fn} before delete on public.organizations for each row execute function public.${fn}()`);
    try {
      const report = await new CleanupManager(null, refusing).cleanup();
      assert.deepEqual(Object.keys(report), [...fields, 'verified']);
      assert.equal(report.verified, false);
      assert.ok(report.failures.length > 0);
      for (const failure of report.failures) {
        assert.deepEqual(Object.keys(failure), ['tables', 'keys', 'code', 'message', 'sqlstate']);
        assert.equal(failure.sqlstate, '23503');
      }
      assert.ok(report.failures.some((f) => f.message.includes('refused: "') && f.message.includes('ü')), JSON.stringify(report.failures));
      assert.ok(report.remaining['public.organizations'] >= 1, JSON.stringify(report.remaining));
    } finally {
      await client.query(`drop trigger ${fn} on public.organizations; drop function public.${fn}()`);
    }
    const retry = await new CleanupManager(null, refusing).cleanup();
    assert.equal(retry.verified, true);
  });

  /**
   * A complete setup to which the app under test added a conversation with 5 messages through
   * its UI; only the org and the user are tracked.
   */
  async function setupWithUiRows() {
    const ctx = lane();
    const ids = await insertCompleteSetup(client, ctx);
    const convo = randomUUID();
    await client.query(
      `insert into public.conversations (id, organization_id, user_id, title) values ($1, $2, $3, $4)`,
      [convo, ids.org, ids.user, 'created in the browser'],
    );
    await client.query(`insert into public.messages (conversation_id, user_id, content) select $1, $2, 'msg ' || g from generate_series(1, 5) g`, [convo, ids.user]);
    const tracker = ResourceTracker.forTest({}, ctx);
    tracker.trackOrganization(ids.org);
    tracker.trackAuthUser(ids.user);
    return { ids, convo, tracker };
  }

  test('deletes rows created through the UI that nobody tracked', async () => {
    const { ids, convo, tracker } = await setupWithUiRows();
    const report = await new CleanupManager(null, tracker).cleanup();
    assert.equal(report.verified, true);
    // Conversations reference organizations and users with NO ACTION: pglane deletes them
    // itself. Messages cascade from conversations: Postgres deletes them, uncounted.
    assert.equal(report.deleted['public.conversations'], 2);
    assert.equal(report.deleted['public.messages'], undefined);
    assert.ok(report.cascaded.includes('public.messages'), report.cascaded.join());
    assert.ok(report.cascaded.includes('public.group_members'), report.cascaded.join());
    assert.equal(report.roundTrips, 1);
    assert.ok(allZero(await remainingRows(client, ids)));
    const { rows: [left] } = await client.query('select count(*)::int as n from public.messages where conversation_id = $1', [convo]);
    assert.equal(left.n, 0);
  });

  test('countDependents deletes and counts every dependent row in the statement itself', async () => {
    const { ids, tracker } = await setupWithUiRows();
    const report = await new CleanupManager(null, tracker, { countDependents: true }).cleanup();
    assert.equal(report.verified, true);
    assert.deepEqual(report.cascaded, []);
    assert.equal(report.deleted['public.conversations'], 2);
    assert.equal(report.deleted['public.messages'], 6);
    assert.equal(report.deleted['public.group_members'], 1);
    assert.equal(report.deleted['public.profiles'], 1);
    assert.equal(report.totalDeleted, 17);
    assert.equal(report.roundTrips, 1);
    assert.ok(allZero(await remainingRows(client, ids)));
  });

  test('unknown tables and keys that do not fit fail at once with stable codes', () => {
    const tracker = ResourceTracker.forTest({}, lane());
    const unknown = thrown(() => tracker.track('public.organisations', randomUUID()));
    assert.equal(unknown.code, 'PGLANE_UNKNOWN_TABLE');
    assert.match(unknown.message, /public\.organizations/, 'suggests the right name');
    assert.equal(thrown(() => tracker.trackOrganization('not-a-uuid')).code, 'PGLANE_BAD_KEY');
    assert.equal(thrown(() => tracker.track('auth.refresh_tokens', 'abc')).code, 'PGLANE_BAD_KEY');
    assert.equal(thrown(() => tracker.track('public.organizations', null)).code, 'PGLANE_BAD_KEY');
    assert.equal(thrown(() => tracker.track("x'; drop table auth.users; --", 1)).code, 'PGLANE_UNKNOWN_TABLE');
    assert.equal(tracker.count(), 0);
  });

  test('a table created after the schema was read can be tracked', async () => {
    const tracker = ResourceTracker.forTest({}, lane());
    tracker.trackOrganization(randomUUID()); // schema read now
    await client.query('create table if not exists public.late_table (id int primary key)');
    await client.query('insert into public.late_table values (1) on conflict do nothing');
    tracker.track('late_table', 1);
    const report = await new CleanupManager(null, tracker).cleanup();
    assert.equal(report.deleted['public.late_table'], 1);
  });

  test('export and import hand a tracker over; the imported one cleans up', async () => {
    const ctx = lane();
    const ids = await insertCompleteSetup(client, ctx);
    const tracker = ResourceTracker.forTest({}, ctx);
    trackCompleteSetup(tracker, ids);
    const json = tracker.export();
    const parsed = JSON.parse(json);
    assert.equal(parsed.version, 1);
    assert.equal(parsed.rows.length, 11);
    assert.equal(parsed.lane.testPattern, ctx.testPattern());
    const imported = ResourceTracker.import(json);
    assert.deepEqual(imported.list(), tracker.list());
    const report = await new CleanupManager(null, imported).cleanup();
    assert.equal(report.verified, true);
    assert.ok(allZero(await remainingRows(client, ids)));
    assert.equal(thrown(() => ResourceTracker.import('{"version": 2}')).code, 'PGLANE_INVALID_CONFIG');
  });

  test('a dropped connection deletes nothing and keeps the tracker, and a retry succeeds', async () => {
    const ctx = lane();
    const ids = await insertCompleteSetup(client, ctx);
    const db = Db.connect(url, { poolSize: 1, applicationName: 'pglane-drop-test' });
    const tracker = ResourceTracker.forTest({}, ctx, db);
    trackCompleteSetup(tracker, ids);
    const blocker = await pgClient(url);
    await blocker.query('begin');
    await blocker.query('select 1 from public.messages where id = $1 for update', [ids.message]);
    // Handled from the start: the rejection can arrive before the terminate call returns.
    const pending = rejection(new CleanupManager(db, tracker).cleanup());
    let pid;
    for (let i = 0; i < 100 && !pid; i++) {
      const { rows } = await client.query("select pid from pg_stat_activity where application_name = 'pglane-drop-test' and wait_event_type = 'Lock'");
      pid = rows[0]?.pid;
      if (!pid) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(pid, 'the cleanup statement waits on the locked row');
    await client.query('select pg_terminate_backend($1)', [pid]);
    const err = await pending;
    assert.equal(err.code, 'PGLANE_DB_CONNECTION_LOST', err.message);
    await blocker.query('rollback');
    await blocker.end();
    const left = await remainingRows(client, ids);
    for (const table of APP_TABLES) assert.equal(left[table], 1, `half-deleted: ${table}`);
    assert.equal(tracker.count(), 11);
    const retry = await new CleanupManager(db, tracker).cleanup();
    assert.equal(retry.verified, true);
    assert.ok(allZero(await remainingRows(client, ids)));
    db.close();
  });

  test('pattern cleanup deletes a worker lane by name with its dependents, and verifyNoLeakedData proves it', async () => {
    const first = lane(7);
    const second = lane(7);
    const neighbour = lane(70);
    const a = await insertCompleteSetup(client, first);
    const b = await insertCompleteSetup(client, second);
    const c = await insertCompleteSetup(client, neighbour);
    const manager = new CleanupManager(null, ResourceTracker.forTest({}, first));
    const before = await manager.verifyNoLeakedData('worker');
    const leaked = Object.fromEntries(before.map((l) => [l.table, l.rows]));
    assert.equal(leaked['public.organizations'], 2);
    assert.equal(leaked['auth.users'], 2);
    const report = await manager.cleanupPattern('worker');
    assert.equal(report.verified, true);
    assert.equal(report.totalDeleted, 22);
    assert.deepEqual(await manager.verifyNoLeakedData('worker'), []);
    assert.ok(allZero(await remainingRows(client, a)));
    assert.ok(allZero(await remainingRows(client, b)));
    const kept = await remainingRows(client, c);
    for (const table of APP_TABLES) assert.equal(kept[table], 1, `worker 70 lost ${table}`);
    assert.equal((await rejection(manager.cleanupPattern('%'))).code, 'PGLANE_INVALID_CONFIG');
    assert.equal((await rejection(manager.cleanupPattern('nonsense'))).code, 'PGLANE_INVALID_CONFIG');
  });

  test('a pattern that is not a lane of this run deletes nothing and says why', async () => {
    const mine = lane(8);
    const ids = await insertCompleteSetup(client, mine);
    // An app row that any broad pattern would match.
    const appOrg = randomUUID();
    await client.query("insert into public.organizations (id, name, slug) values ($1, 'Acme Corp', $2)", [appOrg, `acme-${appOrg}`]);
    const manager = new CleanupManager(null, ResourceTracker.forTest({}, mine));
    const otherRun = WorkerContext.create({ workerIndex: 8, testId: 'other-run' }, { runId: pglane.generateRunId() });
    for (const pattern of ['%%%%%', '_________%', 'abcd%', 'Acme Cor%', `${RUN_ID}%`, String.raw`${RUN_ID}-w8-\%`, otherRun.runPattern()]) {
      const err = await rejection(manager.cleanupPattern(pattern));
      assert.equal(err.code, 'PGLANE_INVALID_CONFIG', pattern);
      assert.equal((await rejection(manager.verifyNoLeakedData(pattern))).code, 'PGLANE_INVALID_CONFIG', pattern);
    }
    // A tracker imported with a broad run pattern cannot delete by it either.
    const forged = JSON.parse(ResourceTracker.forTest({}, mine).export());
    forged.lane.runPattern = '%';
    forged.lane.workerPattern = 'abcd%';
    const imported = new CleanupManager(null, ResourceTracker.import(JSON.stringify(forged)));
    assert.equal((await rejection(imported.cleanupPattern('run'))).code, 'PGLANE_INVALID_CONFIG');
    assert.equal((await rejection(imported.cleanupPattern('worker'))).code, 'PGLANE_INVALID_CONFIG');
    const { rows } = await client.query('select count(*)::int as n from public.organizations where id = $1', [appOrg]);
    assert.equal(rows[0].n, 1, 'the app row survived');
    const kept = await remainingRows(client, ids);
    for (const table of APP_TABLES) assert.equal(kept[table], 1, `the lane lost ${table}`);
    // Its own lane's pattern still works.
    assert.equal((await manager.cleanupPattern(mine.workerPattern())).verified, true);
    assert.ok(allZero(await remainingRows(client, ids)));
    await client.query('delete from public.organizations where id = $1', [appOrg]);
  });
});
