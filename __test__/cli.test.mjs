// The `pglane` command line, run as users run it (node dist/cli.js): help and version without a
// database, unknown commands and bad arguments refused with exit 2, a live run never swept
// whatever --ttl says, --dry-run and plan deleting nothing, doctor.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { databaseUrl, pgClient, pglane, stopDatabase } from './helpers.mjs';
import { applySchema } from './reference.mjs';

const { WorkerContext, ResourceTracker, Factories, RunRegistry, Db, generateRunId } = pglane;
const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'cli.js');

/** Runs the CLI with `env` on top of a clean environment (no inherited database settings). */
function cli(args, env = {}) {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(DATABASE_URL|PGLANE_DATABASE_URL|PG[A-Z]+)$/.test(k)));
  const r = spawnSync(process.execPath, [CLI, ...args], { env: { ...base, ...env }, encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('pglane CLI', () => {
  let url;
  let client;
  let db;
  let registry;
  before(async () => {
    url = await databaseUrl();
    client = await pgClient(url);
    await applySchema(client);
    db = Db.connect(url);
    registry = new RunRegistry(db);
    await registry.ensureSchema();
    await registry.markTestDatabase();
  });
  after(async () => {
    db?.close();
    await client?.end();
    await stopDatabase();
  });

  /** A registered run with a complete setup in its lane; `idle` seconds since its last beat. */
  async function runWithRows(idle) {
    const runId = generateRunId();
    const ctx = WorkerContext.create({ workerIndex: 2, testId: runId }, { runId });
    await registry.register(runId, 'ci-box', 4242, null, { heartbeatSeconds: 20, ttlSeconds: 120 });
    const setup = await Factories.preset(db).create('completeSetup', ctx, ResourceTracker.forTest({}, ctx, db));
    // A row the app made through its UI: no lane name, not journaled; found by foreign key.
    await client.query("insert into public.conversations (organization_id, user_id, title) values ($1, $2, 'made in the app')", [setup.organization.id, setup.user.id]);
    await client.query("update pglane.runs set heartbeat_at = now() - make_interval(secs => $2) where run_id = $1", [runId, idle]);
    return runId;
  }
  const orgsOf = async (runId) =>
    (await client.query('select count(*)::int as n from public.organizations where name like $1', [`${runId}-%`])).rows[0].n;

  test('--help and --version work without a database; no command prints the usage and exits 2', () => {
    const unreachable = { DATABASE_URL: 'postgres://nobody:secret@127.0.0.1:1/none' };
    const help = cli(['--help'], unreachable);
    assert.equal(help.code, 0, help.err);
    for (const command of ['runs', 'leftovers', 'plan', 'sweep', 'mark-test-db', 'doctor']) assert.match(help.out, new RegExp(`^  ${command} `, 'm'));
    const version = cli(['--version'], unreachable);
    assert.equal(version.code, 0);
    assert.match(version.out, /^\d+\.\d+\.\d+/);
    const sweepHelp = cli(['sweep', '--help'], unreachable);
    assert.equal(sweepHelp.code, 0);
    assert.match(sweepHelp.out, /--dry-run/);
    assert.equal(cli([], unreachable).code, 2);
  });

  test('an unknown command or option is named, with exit 2', () => {
    const unknown = cli(['swep', '--expired'], { DATABASE_URL: url });
    assert.equal(unknown.code, 2);
    assert.match(unknown.err, /unknown command "swep"/);
    const option = cli(['sweep', '--expird'], { DATABASE_URL: url });
    assert.equal(option.code, 2);
    assert.match(option.err, /--expird/);
  });

  test('sweep <live run> is refused whatever --ttl says (2m, -1, abc and 1e20 used to sweep it or panic)', async () => {
    const live = await runWithRows(30);
    for (const ttl of ['2m', '-1', 'abc', '1e20', '0', '']) {
      const r = cli(['sweep', live, '--ttl', ttl], { DATABASE_URL: url });
      assert.equal(r.code, 2, `--ttl ${ttl}: ${r.out}${r.err}`);
      assert.doesNotMatch(r.err, /panic/i);
    }
    // A duration the parser accepts does not make a live run dead either: its own TTL decides.
    const r = cli(['sweep', live, '--ttl', '5s'], { DATABASE_URL: url });
    assert.equal(r.code, 2);
    assert.match(r.err, /is alive/);
    assert.equal(await orgsOf(live), 1, 'the live run keeps its rows');
    await registry.sweep(live);
  });

  test('plan and sweep --dry-run show what would go, per table with counts and the foreign-key path, and delete nothing', async () => {
    const dead = await runWithRows(3600);
    for (const args of [['plan', dead], ['sweep', dead, '--dry-run'], ['plan', '--expired'], ['sweep', '--expired', '--dry-run']]) {
      const r = cli(args, { DATABASE_URL: url });
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.err}`);
      assert.match(r.out, new RegExp(`run ${dead}`), args.join(' '));
      assert.match(r.out, /^  public\.organizations\s+1  by lane names and tracked or journaled keys; from auth\.users via public\.organizations\.created_by → auth\.users$/m);
      // Any of the conversation's lane parents may be named as its path (whichever foreign key
      // the catalog lists first): the user, the organization or the model.
      assert.match(r.out, /^  public\.conversations\s+1  by lane names; from (auth\.users|public\.organizations|public\.models) via public\.conversations\.(user_id|organization_id|model_id) → \1$/m);
    }
    assert.equal(await orgsOf(dead), 1, 'nothing was deleted');
    assert.ok((await registry.runs()).some((r) => r.runId === dead), 'nor forgotten');
    const swept = cli(['sweep', dead], { DATABASE_URL: url });
    assert.equal(swept.code, 0, swept.err);
    assert.match(swept.out, new RegExp(`swept run ${dead}: \\d+ rows`));
    assert.equal(await orgsOf(dead), 0);
  });

  test('mark-test-db --dry-run marks nothing', async () => {
    const r = cli(['mark-test-db', '--dry-run'], { DATABASE_URL: url });
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /\(dry run\) would mark .* \(it is already marked\)/);
  });

  test('doctor reports the connection, TLS, pooler, permissions, the schema and unindexed foreign keys', async () => {
    await client.query(`create table if not exists public.pglane_doctor_notes (
      id bigserial primary key, org_id uuid not null references public.organizations(id), body text)`);
    try {
      const r = cli(['doctor'], { DATABASE_URL: url });
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /connected to .*PostgreSQL \d+/);
      assert.match(r.out, /TLS: (not )?encrypted \(sslmode=\w+\)/);
      assert.match(r.out, /pooler: /);
      assert.match(r.out, /pglane schema: present/);
      assert.match(r.out, /schema: \d+ table\(s\) in .*public.*, \d+ foreign key\(s\)/);
      assert.match(r.out, /public\.pglane_doctor_notes\(org_id\) → public\.organizations/);
      assert.match(r.out, /lane columns: \d+ text column\(s\)/);
      assert.match(r.out, /public\.pglane_doctor_notes: body/);
      assert.doesNotMatch(r.out, new RegExp(new URL(url).password || 'no-password-in-url'));
    } finally {
      await client.query('drop table public.pglane_doctor_notes');
    }
  });
});
