// The second example, examples/taskboard (its own schema, YAML factories and web app), run as a
// user runs it, wired both ways the README shows (definePglaneConfig, and by hand):
// - on the embedded default (no DATABASE_URL): the app gets DATABASE_URL in its environment,
//   its pool never sees the database shut down under it, and strict mode finds no row left;
// - twice in a row on a real PostgreSQL 15: the schema file is applied once, and every table
//   is empty after each run;
// - as a role without CREATE on the database: with no pglane schema (one message says what is
//   lost, everything else passes), and with one an admin created for it.
// CI time is kept small: one full run with 10 workers; the others with 4 workers, and the
// database-side checks on the specs that need no browser. PGLANE_EXAMPLE_WORKERS and
// PGLANE_EXAMPLE_REPEAT set workers and --repeat-each for every run (the acceptance runs of
// issue 16 used 10 and 3).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { pglane, withPgClient } from './helpers.mjs';
import { pg15SkipReason, startPg15 } from './pg15.mjs';

const { Db, RunRegistry } = pglane;

const WORKERS = process.env.PGLANE_EXAMPLE_WORKERS;
// The specs that need no browser, for the runs that only check the database side.
const DATA_ONLY = ['e2e/data.spec.ts', 'e2e/shared-project.spec.ts'];
const REPEAT = process.env.PGLANE_EXAMPLE_REPEAT ?? '1';
const TABLES = ['users', 'projects', 'tasks', 'comments', 'tags', 'task_tags'];

/** The environment of a user's shell: no database of the test runner's. */
function userEnv(extra = {}) {
  const env = { ...process.env };
  for (const k of ['DATABASE_URL', 'PGLANE_DATABASE_URL', 'PGLANE_EMBEDDED', 'PGLANE_RUN_ID', 'TASKBOARD_PORT', 'PGHOST', 'PGDATABASE']) delete env[k];
  return { ...env, ...extra };
}

/** `npx playwright test` in examples/taskboard; resolves with the exit code and the output. */
function run(config, env, extra = [], { workers = 4 } = {}) {
  const w = WORKERS ?? String(workers);
  return new Promise((done) => {
    const started = Date.now();
    const child = spawn('npx', ['playwright', 'test', '-c', config, `--workers=${w}`, `--repeat-each=${REPEAT}`, '--reporter=dot,' + new URL('../dist/playwright/reporter.js', import.meta.url).pathname, ...extra], {
      cwd: new URL('../examples/taskboard/', import.meta.url).pathname,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('exit', (code) => {
      console.log(`  taskboard ${config} ${extra.join(' ')} (${w} workers, repeat ${REPEAT}): exit ${code} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      done({ code, out });
    });
  });
}

function assertPassed(r, what) {
  assert.equal(r.code, 0, `${what}\n${r.out}`);
  assert.match(r.out, /\d+ passed/);
  assert.doesNotMatch(r.out, /^\s+[1-9]\d* (failed|flaky)/m, r.out);
  assert.doesNotMatch(r.out, /database pool error/, 'the app never saw its database go away');
  assert.match(r.out, /leaks\s+0 after per-test cleanup, 0 found by teardown/, r.out);
}

async function rowsLeft(url) {
  return withPgClient(url, async (c) => {
    const counts = {};
    for (const t of TABLES) counts[t] = (await c.query(`select count(*)::int as n from ${t}`)).rows[0].n;
    return counts;
  });
}

const EMPTY = Object.fromEntries(TABLES.map((t) => [t, 0]));

describe('examples/taskboard on the embedded default', () => {
  for (const config of ['playwright.config.ts', 'playwright.plain.config.ts']) {
    test(`${config}: passes; the web server reads DATABASE_URL; strict mode finds no row left`, { timeout: 300_000 }, async () => {
      const r = await run(config, userEnv({ PGLANE_STRICT: '1' }), [], { workers: config === 'playwright.config.ts' ? 10 : 4 });
      assertPassed(r, config);
      assert.match(r.out, /\[pglane\] embedded PostgreSQL at postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+/);
      assert.match(r.out, /schema file examples\/taskboard\/db\/schema\.sql: applied/);
      assert.match(r.out, /left no rows/);
    });
  }
});

describe('examples/taskboard on PostgreSQL 15', { skip: pg15SkipReason() ?? false }, () => {
  let server;
  const databases = [];
  before(async () => {
    server = await startPg15();
  });
  after(async () => {
    await server?.stop();
  });

  async function createDatabase(name, setup = []) {
    await withPgClient(server.url, (c) => c.query(`create database ${name}`));
    databases.push(name);
    await withPgClient(server.urlFor(server.superuser, server.password, name), async (c) => {
      for (const sql of setup) await c.query(sql);
    });
  }

  test('twice in a row, both wirings: the schema is applied once and every table is empty after each run', { timeout: 600_000 }, async () => {
    await createDatabase('taskboard');
    const url = server.urlFor(server.superuser, server.password, 'taskboard');
    const first = await run('playwright.config.ts', userEnv({ DATABASE_URL: url }));
    assertPassed(first, 'first run');
    assert.match(first.out, /schema file examples\/taskboard\/db\/schema\.sql: applied/);
    assert.deepEqual(await rowsLeft(url), EMPTY);

    const second = await run('playwright.config.ts', userEnv({ DATABASE_URL: url }), DATA_ONLY);
    assertPassed(second, 'second run');
    assert.match(second.out, /schema file examples\/taskboard\/db\/schema\.sql: unchanged/);
    assert.deepEqual(await rowsLeft(url), EMPTY);

    const plain = await run('playwright.plain.config.ts', userEnv({ DATABASE_URL: url }), DATA_ONLY);
    assertPassed(plain, 'without definePglaneConfig');
    assert.match(plain.out, /schema file examples\/taskboard\/db\/schema\.sql: unchanged/);
    assert.deepEqual(await rowsLeft(url), EMPTY);
    const journal = await withPgClient(url, (c) => c.query('select count(*)::int as n from pglane.journal'));
    assert.equal(journal.rows[0].n, 0, 'the runs forgot their journal');
  });

  test('a role without CREATE on the database: without a pglane schema, then with one an admin made', { timeout: 600_000 }, async () => {
    const role = 'taskboard_tester';
    const password = 'tester-pw-1';
    await withPgClient(server.url, (c) => c.query(`create role ${role} login password ${c.escapeLiteral(password)}`));
    const roleUrl = (db) => server.urlFor(role, password, db);
    const noCreate = await withPgClient(server.url, (c) => c.query("select has_database_privilege($1, 'postgres', 'CREATE') as can", [role]));
    assert.equal(noCreate.rows[0].can, false, 'the role may not create schemas');
    // The role may create its app's tables in public (as a migration role would), nothing more.
    const publicOnly = [`grant create on schema public to ${role}`];

    await createDatabase('tb_no_pglane', publicOnly);
    const alone = await run('playwright.config.ts', userEnv({ DATABASE_URL: roleUrl('tb_no_pglane') }), DATA_ONLY);
    assertPassed(alone, 'without a pglane schema');
    assert.equal(alone.out.match(/Running without the pglane schema/g)?.length, 1, 'said once');
    assert.match(alone.out, /role "taskboard_tester" may not create schemas in database "tb_no_pglane".*create schema if not exists pglane authorization "taskboard_tester"/);
    assert.match(alone.out, /no crash journal/);
    assert.match(alone.out, /schema file examples\/taskboard\/db\/schema\.sql: applied unrecorded/);
    assert.deepEqual(await rowsLeft(roleUrl('tb_no_pglane')), EMPTY);

    await createDatabase('tb_owned_pglane', [...publicOnly, `create schema pglane authorization ${role}`]);
    const owned = await run('playwright.config.ts', userEnv({ DATABASE_URL: roleUrl('tb_owned_pglane') }), DATA_ONLY);
    assertPassed(owned, 'with a pglane schema the role owns');
    assert.doesNotMatch(owned.out, /Running without/);
    assert.match(owned.out, /schema file examples\/taskboard\/db\/schema\.sql: applied\n/);
    assert.deepEqual(await rowsLeft(roleUrl('tb_owned_pglane')), EMPTY);
    const recorded = await withPgClient(roleUrl('tb_owned_pglane'), (c) => c.query('select name from pglane.schema_files'));
    assert.deepEqual(recorded.rows, [{ name: 'examples/taskboard/db/schema.sql' }]);

    // An admin made pglane's tables but granted nothing on them: the run goes on without them.
    await createDatabase('tb_ungranted_pglane', [...publicOnly, 'create schema pglane', `grant usage on schema pglane to ${role}`]);
    const admin = new RunRegistry(Db.connect(server.urlFor(server.superuser, server.password, 'tb_ungranted_pglane')));
    assert.equal((await admin.ensureSchema()).ready, true);
    const ungranted = await run('playwright.config.ts', userEnv({ DATABASE_URL: roleUrl('tb_ungranted_pglane') }), DATA_ONLY);
    assertPassed(ungranted, 'with pglane tables the role may not use');
    assert.match(ungranted.out, /role "taskboard_tester" may not read and write every table of schema pglane/);
    assert.equal(ungranted.out.match(/Running without the pglane schema/g)?.length, 1);
    assert.deepEqual(await rowsLeft(roleUrl('tb_ungranted_pglane')), EMPTY);

    await createDatabase('tb_granted_pglane', [...publicOnly, 'create schema pglane', `grant usage, create on schema pglane to ${role}`]);
    const granted = await run('playwright.config.ts', userEnv({ DATABASE_URL: roleUrl('tb_granted_pglane') }), DATA_ONLY);
    assertPassed(granted, 'with usage and create granted on pglane');
    assert.doesNotMatch(granted.out, /Running without/);
  });
});
