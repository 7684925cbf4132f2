// Generated types: `npx pglane types` on a fresh database and a factory file; TypeScript then
// compiles correct use and rejects misuse (__test__/types/generated-usage.ts), `--check` says
// whether the file is up to date, and global setup's `types` option regenerates it only when it
// changed.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { databaseUrl, pgClient, pglane, stopDatabase } from './helpers.mjs';
import { createDatabase, dropDatabase, REPO_ROOT } from './realworld.mjs';

const SCHEMA = `
  create type task_status as enum ('todo', 'doing', 'done');
  create table public.projects (id bigserial primary key, name text not null unique, budget numeric(10, 2),
    created_at timestamptz not null default now());
  create table public.tasks (id serial primary key, project_id bigint not null references public.projects(id) on delete cascade,
    title text not null, status task_status not null default 'todo', done boolean not null default false, estimate int,
    tags text[] not null default '{}', meta jsonb, due date, parent_id int references public.tasks(id),
    search tsvector generated always as (to_tsvector('simple', title)) stored);`;

const FACTORIES = `
factories:
  task:
    table: public.tasks
    fields: { title: { name: "Task {{seq}}" } }
    traits:
      finished: { fields: { status: done, done: true } }
  board:
    steps:
      - { as: project, factory: public.projects }
      - { as: first, factory: task, with: { project_id: "{{project.id}}" } }
`;

const CLI = join(REPO_ROOT, 'dist', 'cli.js');
const TSC = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

describe('generated types', () => {
  let serverUrl;
  let database;
  let dir;
  let env;
  before(async () => {
    serverUrl = await databaseUrl();
    const created = await createDatabase(serverUrl, 'pglane_types');
    database = created.database;
    const client = await pgClient(created.url);
    await client.query(SCHEMA);
    await client.end();
    // Inside the repository, so that `pglane` and `@playwright/test` resolve as in a project.
    dir = resolve(REPO_ROOT, 'target', `types-test-${process.pid}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'factories.yaml'), FACTORIES);
    copyFileSync(join(REPO_ROOT, '__test__', 'types', 'generated-usage.ts'), join(dir, 'usage.ts'));
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { strict: true, target: 'ES2022', module: 'node16', moduleResolution: 'node16', noEmit: true, types: ['node'] },
        files: ['pglane-types.d.ts', 'usage.ts'],
      }),
    );
    env = { ...process.env, DATABASE_URL: created.url, PGLANE_DATABASE_URL: '' };
  });
  after(async () => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (database) await dropDatabase(serverUrl, database);
    await stopDatabase();
  });

  const cli = (...args) => spawnSync(process.execPath, [CLI, 'types', ...args], { env, encoding: 'utf8' });
  const tsc = () => spawnSync(process.execPath, [TSC, '-p', dir], { encoding: 'utf8' });

  test('npx pglane types writes declarations that accept correct use and reject misuse', () => {
    const out = join(dir, 'pglane-types.d.ts');
    const run = cli('--out', out, '--factories', join(dir, 'factories.yaml'));
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /wrote .*pglane-types\.d\.ts \(2 tables, 2 factories\)/);
    const text = readFileSync(out, 'utf8');
    assert.match(text, /"project_id": number;/, 'bigint rows are numbers, as to_json gives them');
    assert.match(text, /"project_id"\?: number \| string;/, 'inserts take exact strings too');
    assert.match(text, /"status": "todo" \| "doing" \| "done";/);
    assert.match(text, /"tags": \(string\)\[\];/);
    assert.match(text, /"meta": Json \| null;/);
    assert.doesNotMatch(text.slice(text.indexOf('Insert'), text.indexOf('Relations')), /"search"\?/, 'generated columns are not insertable');
    assert.match(text, /traits: "finished";/);
    assert.match(text, /declare module "pglane" \{\n {2}interface PglaneFactories extends Factories \{\}/);

    const compiled = tsc();
    assert.equal(compiled.status, 0, `correct use compiles and every misuse fails:\n${compiled.stdout}${compiled.stderr}`);

    // Without the directives, each misuse is an error of its own line.
    const source = readFileSync(join(dir, 'usage.ts'), 'utf8').split('\n');
    const misuses = source.flatMap((line, i) => (line.trim().startsWith('// @ts-expect-error') ? [i + 2] : []));
    assert.equal(misuses.length, 11);
    writeFileSync(join(dir, 'usage.ts'), source.map((l) => (l.trim().startsWith('// @ts-expect-error') ? '' : l)).join('\n'));
    const failed = tsc();
    copyFileSync(join(REPO_ROOT, '__test__', 'types', 'generated-usage.ts'), join(dir, 'usage.ts'));
    assert.notEqual(failed.status, 0);
    const lines = [...failed.stdout.matchAll(/usage\.ts\((\d+),\d+\): error/g)].map((m) => Number(m[1]));
    assert.deepEqual([...new Set(lines)].sort((a, b) => a - b), misuses, failed.stdout);
    assert.match(failed.stdout, /Type 'number' is not assignable to type 'string'/);
    assert.match(failed.stdout, /"finishd"/);
    assert.match(failed.stdout, /"public\.taks"/);
    assert.match(failed.stdout, /'titel' does not exist/);
    assert.match(failed.stdout, /"blocked"/);
  });

  test('--check says whether the file is up to date; a migration makes it stale', async () => {
    const out = join(dir, 'check.d.ts');
    assert.equal(cli('--out', out).status, 0);
    const fresh = cli('--out', out, '--check');
    assert.equal(fresh.status, 0, fresh.stderr);
    assert.match(fresh.stdout, /is up to date/);
    const client = await pgClient(env.DATABASE_URL);
    await client.query('alter table public.projects add column archived boolean not null default false');
    await client.end();
    const stale = cli('--out', out, '--check');
    assert.equal(stale.status, 2);
    assert.match(stale.stderr, /is out of date/);
    assert.doesNotMatch(readFileSync(out, 'utf8'), /archived/, '--check writes nothing');
    assert.equal(cli('--out', out).status, 0);
    assert.match(readFileSync(out, 'utf8'), /"archived": boolean;/);
  });

  test('generateTypes with onlyIfChanged (what global setup runs) writes only when the schema changed', async () => {
    const out = join(dir, 'setup.d.ts');
    const db = pglane.Db.connect(env.DATABASE_URL);
    try {
      const first = await pglane.generateTypes({ out, db, preset: false, onlyIfChanged: true });
      assert.equal(first.written, true);
      const again = await pglane.generateTypes({ out, db, preset: false, onlyIfChanged: true });
      assert.deepEqual([again.written, again.changed, again.hash], [false, false, first.hash]);
      await db.executeScript('create table public.labels (id serial primary key, task_id int not null references public.tasks(id), name text not null)');
      const changed = await pglane.generateTypes({ out, db, preset: false, onlyIfChanged: true });
      assert.equal(changed.written, true);
      assert.match(readFileSync(out, 'utf8'), /"public\.labels": \{/);
    } finally {
      db.close();
    }
  });

  test('a Playwright config can ask global setup for the types', () => {
    const resolved = (types) =>
      execFileSync(process.execPath, ['-e', `const o=require('./dist/playwright/options.js');console.log(JSON.stringify(o.resolveOptions({configFile:'/project/playwright.config.ts',projects:[{use:{pglane:{types:${JSON.stringify(types)}}}}]}).typesOut))`], { cwd: REPO_ROOT, encoding: 'utf8' });
    assert.equal(JSON.parse(resolved({ out: 'e2e/x.d.ts' })), '/project/e2e/x.d.ts');
    assert.equal(JSON.parse(resolved(true)), '/project/pglane-types.d.ts');
    assert.equal(JSON.parse(resolved(false)), null);
  });
});
