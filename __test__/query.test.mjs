// `db.query` / `one` / `many` / `execute` (what `lane.db` offers a test): typed rows as the
// factories return them, parameters whose types the server infers (JS dates, bytes and bigints
// included), coded errors, one round trip each, and no named statement, so they also work
// through a transaction-mode pgbouncer.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { databaseUrl, pgClient, pglane, rejection, stopDatabase } from './helpers.mjs';
import { startPgbouncer } from './servers.mjs';

const { Db, Factories, WorkerContext, ResourceTracker, CleanupManager } = pglane;

const SCHEMA = `
  drop schema if exists qtest cascade;
  create schema qtest;
  create type qtest.status as enum ('todo', 'done');
  create table qtest.projects (id bigint generated always as identity primary key, name text not null unique);
  create table qtest.tasks (
    id uuid primary key default gen_random_uuid(),
    project_id bigint not null references qtest.projects (id),
    title text not null,
    status qtest.status not null default 'todo',
    due timestamptz,
    blob bytea,
    labels text[] not null default '{}'
  );`;

const FACTORIES = {
  factories: {
    project: { table: 'qtest.projects', fields: { name: { name: 'Project {{seq}}' } } },
    task: {
      table: 'qtest.tasks',
      associations: { project: { factory: 'project' } },
      fields: { title: { name: 'Task {{seq}}' } },
    },
  },
};

describe('Db.query', () => {
  let url;
  let witness;
  let db;
  before(async () => {
    url = await databaseUrl();
    witness = await pgClient(url);
    await witness.query(SCHEMA);
    db = Db.connect(url);
  });
  after(async () => {
    db?.close();
    await witness?.query('drop schema if exists qtest cascade');
    await witness?.end();
    await stopDatabase();
  });

  test('returns the same values a factory returned for the same row, in column order', async () => {
    const ctx = WorkerContext.create({ workerIndex: 0, testId: 'query-same-values' });
    const tracker = ResourceTracker.forTest({}, ctx, db);
    const factories = Factories.fromObject(FACTORIES, db);
    const task = await factories.create('task', ctx, tracker, { due: '2024-05-01T10:00:00Z', labels: ['a', 'b'] });
    const row = await db.one('select * from qtest.tasks where id = $1', [task.id]);
    const { project, ...columns } = task;
    assert.deepEqual(row, columns);
    assert.deepEqual(Object.keys(row), ['id', 'project_id', 'title', 'status', 'due', 'blob', 'labels']);
    assert.equal(row.status, 'todo', 'an enum is its label');
    const report = await new CleanupManager(db, tracker).cleanup();
    assert.equal(report.verified, true);
  });

  test('infers parameter types from their use: uuid, bigint, arrays for any(), dates, bytes, bigints', async () => {
    const { rows: [p] } = await witness.query("insert into qtest.projects (name) values ('params') returning id");
    const due = new Date('2024-06-01T12:30:00.000Z');
    const inserted = await db.one(
      'insert into qtest.tasks (project_id, title, due, blob, labels) values ($1, $2, $3, $4, $5) returning id, due, blob, labels',
      [BigInt(p.id), "it's \"quoted\"", due, Buffer.from([0, 255]), ['x,y', 'z"w', null]],
    );
    assert.equal(new Date(inserted.due).getTime(), due.getTime());
    assert.equal(inserted.blob, '\\x00ff');
    assert.deepEqual(inserted.labels, ['x,y', 'z"w', null]);
    const found = await db.many('select title from qtest.tasks where id = any($1) and project_id = $2', [[inserted.id], p.id]);
    assert.deepEqual(found, [{ title: "it's \"quoted\"" }]);
    assert.equal(await db.execute('update qtest.tasks set status = $1 where project_id = $2', ['done', p.id]), 1);
    assert.equal(await db.execute('delete from qtest.tasks where project_id = $1', [p.id]), 1);
    await witness.query('delete from qtest.projects where id = $1', [p.id]);
  });

  test('integers beyond 2^53 arrive exact as bigint, the rest as numbers; a column named __proto__ is data', async () => {
    // Results reach JS through JSON.parse unless JSON cannot say them exactly.
    const [row] = await db.query(
      `select 9007199254740993::int8 as big, -9007199254740993::int8 as neg, 9007199254740991::int8 as edge,
              42::int8 as small, 1.25::float8 as f, 'x' as s, json_build_object('n', 9007199254740993::int8) as nested`,
    );
    assert.equal(row.big, 9007199254740993n);
    assert.equal(row.neg, -9007199254740993n);
    assert.equal(row.edge, 9007199254740991);
    assert.equal(row.small, 42);
    assert.equal(row.f, 1.25);
    assert.deepEqual(row.nested, { n: 9007199254740993n });
    const [plain] = await db.query(`select 7 as id, 1 as "__proto__", '{"a": [1, "two", null]}'::jsonb as doc`);
    assert.equal(Object.getPrototypeOf(plain), Object.prototype);
    assert.ok(Object.hasOwn(plain, '__proto__'), 'a column named __proto__ is an own property');
    assert.equal(Object.getOwnPropertyDescriptor(plain, '__proto__').value, 1);
    assert.deepEqual(Object.keys(plain), ['id', '__proto__', 'doc']);
    assert.deepEqual(plain.doc, { a: [1, 'two', null] });
    const one = await db.one('select $1::text as "naïve ✓", $2::int8 as n', ['quote " and \\ backslash', '9007199254740993']);
    assert.deepEqual(one, { 'naïve ✓': 'quote " and \\ backslash', n: 9007199254740993n });
  });

  test('one and many check the number of rows with PGLANE_ROW_COUNT', async () => {
    let err = await rejection(db.one('select 1 as n from qtest.projects where false'));
    assert.equal(err.code, 'PGLANE_ROW_COUNT');
    assert.match(err.message, /expected exactly one row, the query returned 0/);
    err = await rejection(db.one('select g from generate_series(1, 2) g'));
    assert.match(err.message, /returned 2/);
    err = await rejection(db.many('select 1 where false'));
    assert.equal(err.code, 'PGLANE_ROW_COUNT');
    assert.deepEqual(await db.query('select 1 where false'), []);
  });

  test('Postgres errors keep their code and SQLSTATE; values never appear in the message', async () => {
    let err = await rejection(db.query('select * from qtest.nope where id = $1', [1]));
    assert.equal(err.code, 'PGLANE_DB_QUERY');
    assert.equal(err.sqlstate, '42P01');
    await witness.query("insert into qtest.projects (name) values ('dup')");
    err = await rejection(db.query('insert into qtest.projects (name) values ($1) returning id', ['dup']));
    assert.equal(err.code, 'PGLANE_CONFLICT');
    assert.match(err.message, /projects_name_key/);
    err = await rejection(db.query('insert into qtest.tasks (project_id, title) values ($1, $2)', [-1, 'secret-value-123']));
    assert.equal(err.code, 'PGLANE_FOREIGN_KEY_VIOLATION');
    assert.doesNotMatch(`${err.message} ${err.cause?.message}`, /secret-value-123/);
    await witness.query("delete from qtest.projects where name = 'dup'");
  });

  test('each call is one round trip and leaves no prepared statement', async () => {
    const fresh = Db.connect(url);
    await fresh.serverInfo();
    const before = fresh.roundTrips;
    await fresh.query("select 'todo'::qtest.status as s");
    await fresh.one('select $1::int + 1 as n', [1]);
    await fresh.execute('select 1');
    assert.equal(fresh.roundTrips - before, 3);
    const prepared = await fresh.one('select count(*)::int as n from pg_prepared_statements');
    assert.equal(prepared.n, 0);
    fresh.close();
  });

  test('works through pgbouncer in transaction mode: 8 handles, 200 queries with enums, no error', async () => {
    const bouncer = await startPgbouncer(url);
    try {
      const handles = Array.from({ length: 8 }, () => Db.connect(bouncer.url, { poolSize: 1 }));
      const results = await Promise.all(
        handles.flatMap((h, i) =>
          Array.from({ length: 25 }, (_, k) => h.one("select $1::int as i, $2::int as k, 'done'::qtest.status as s", [i, k])),
        ),
      );
      assert.equal(results.length, 200);
      assert.ok(results.every((r) => r.s === 'done'));
      for (const h of handles) h.close();
    } finally {
      await bouncer.stop();
    }
  });

  test('a pending call keeps Node running until it settles, and a closed handle lets it exit', () => {
    // Calls start on the JS thread and settle from pglane's own thread: the promise alone must
    // hold the event loop open (a script awaiting it at top level would otherwise end with
    // "unsettled top-level await", exit code 13), and nothing may hold it once the handle is
    // closed (the process would hang until the timeout below).
    const script = `
      import { createRequire } from 'node:module';
      const require = createRequire(${JSON.stringify(new URL('../package.json', import.meta.url).pathname)});
      const { Db, WorkerContext, ResourceTracker, CleanupManager } = require('pglane');
      const db = Db.connect(process.env.PGLANE_TEST_URL);
      const [row] = await db.query("select pg_sleep(0.3)::text as slept, 7 as n");
      const ctx = WorkerContext.create({ workerIndex: 0, testId: 'keepalive' }, { runId: 'keepalive' });
      const report = await new CleanupManager(db, ResourceTracker.forTest({}, ctx, db)).cleanup();
      console.log(JSON.stringify({ n: row.n, deleted: report.totalDeleted }));
      db.close();
    `;
    const started = Date.now();
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, PGLANE_TEST_URL: url },
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(child.error, undefined, `the script did not exit: ${child.error}`);
    assert.equal(child.status, 0, child.stderr);
    assert.deepEqual(JSON.parse(child.stdout.trim()), { n: 7, deleted: 0 });
    assert.ok(Date.now() - started >= 300, 'it waited for the query');
  });
});
