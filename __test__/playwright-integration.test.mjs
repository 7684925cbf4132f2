// pglane's Playwright integration as a user meets it, through whole `playwright test` runs of
// __test__/integration/ (a tiny schema with a trigger that refuses deletes):
// - the factories option: only the configured factories, the preset only when asked, and an
//   unknown factory that says what to do;
// - `lane` in beforeAll fails loudly (PGLANE_FIXTURE_SCOPE), `workerLane` works there;
// - what the terminal says: [pglane]-prefixed setup errors with their code (an unreachable
//   database, a schema file with a mistake: file, line, statement), no summary when no test
//   ran (also after --list), a cleanup the database refuses fails its test with the test's
//   name, table and reason, and the teardown does not blame a killed worker for it.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { databaseUrl, pgClient, stopDatabase } from './helpers.mjs';

const CONFIG = '__test__/integration/playwright.config.ts';
const REPORTER = resolve('dist/playwright/reporter.js');

/** Runs playwright; resolves with its exit code, its output and (with json) its JSON report. */
function playwright(args, env = {}, { json = false } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'pglane-it-'));
  const jsonFile = join(dir, 'report.json');
  const reporters = json ? ['--reporter', `list,json,${REPORTER}`] : [];
  return new Promise((done) => {
    const child = spawn('npx', ['playwright', 'test', '-c', CONFIG, ...reporters, ...args], {
      env: { ...process.env, PLAYWRIGHT_JSON_OUTPUT_NAME: jsonFile, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('exit', (code) => {
      let report;
      try {
        report = json ? JSON.parse(readFileSync(jsonFile, 'utf8')) : undefined;
      } catch {
        report = undefined;
      }
      rmSync(dir, { recursive: true, force: true });
      done({ code, out, report });
    });
  });
}

/** Every test result of a JSON report: `{ title, status, errors, annotations, stdout }`. */
function results(report) {
  const specs = [];
  const walk = (suite) => {
    for (const s of suite.specs ?? []) specs.push(s);
    for (const child of suite.suites ?? []) walk(child);
  };
  for (const s of report.suites) walk(s);
  return specs.flatMap((s) =>
    s.tests.map((t) => ({
      title: s.title,
      status: t.results[0]?.status,
      errors: (t.results[0]?.errors ?? []).map((e) => e.message).join('\n'),
      annotations: t.annotations,
      stdout: (t.results[0]?.stdout ?? []).map((o) => o.text).join(''),
    })),
  );
}

describe('the Playwright integration', () => {
  let url;
  let client;
  before(async () => {
    url = await databaseUrl();
    client = await pgClient(url);
  });
  after(async () => {
    await client?.query('drop table if exists it_archived, it_notes, it_fine, it_broken cascade').catch(() => {});
    await client?.query("delete from pglane.schema_files where name like '\\_\\_test\\_\\_/integration/%'").catch(() => {});
    await client?.end();
    await stopDatabase();
  });

  async function rowsLeft() {
    const { rows } = await client.query('select (select count(*)::int from it_notes) as notes, (select count(*)::int from it_archived) as archived');
    return rows[0];
  }

  test('only the configured factories, the preset when asked; an unknown one says what to do', { timeout: 120_000 }, async () => {
    const namesOf = (run) => JSON.parse(results(run.report).find((r) => r.title.startsWith('the configured')).stdout.match(/factory-names (.*)/)[1]);
    const unknownOf = (run) => results(run.report).find((r) => r.title.startsWith('an unknown')).stdout;

    const mine = await playwright(['factories-option.spec.ts'], { DATABASE_URL: url, IT_UNKNOWN: 'completeSetup' }, { json: true });
    assert.equal(mine.code, 0, mine.out);
    assert.deepEqual(namesOf(mine), ['archivedNote', 'note'], 'the YAML file, relative to the config; no preset');
    assert.match(unknownOf(mine), /"completeSetup" is a factory of the reference preset: add preset: 'reference'/);

    const none = await playwright(['factories-option.spec.ts'], { DATABASE_URL: url, IT_FACTORIES: 'none', IT_UNKNOWN: 'note' }, { json: true });
    assert.equal(none.code, 0, none.out);
    assert.deepEqual(namesOf(none), []);
    assert.match(unknownOf(none), /no factories are configured\. Give pglane your factory files/);

    const both = await playwright(['factories-option.spec.ts'], { DATABASE_URL: url, IT_PRESET: 'reference' }, { json: true });
    assert.equal(both.code, 0, both.out);
    const names = namesOf(both);
    for (const name of ['note', 'archivedNote', 'completeSetup', 'user', 'organization']) assert.ok(names.includes(name), name);
  });

  test('lane in beforeAll fails with PGLANE_FIXTURE_SCOPE; workerLane data is shared and cleaned at worker end', { timeout: 120_000 }, async () => {
    const run = await playwright(['lane-scope.spec.ts'], { DATABASE_URL: url, PGLANE_STRICT: '1' }, { json: true });
    assert.notEqual(run.code, 0);
    const all = results(run.report);
    const misuse = all.find((r) => r.title.startsWith('never runs'));
    assert.equal(misuse.status, 'failed');
    assert.match(misuse.errors, /`lane` belongs to one test, but test\.beforeAll asked for it.*Use `workerLane`/s);
    const shared = all.filter((r) => r.title.includes('sees the shared note'));
    assert.equal(shared.length, 3);
    assert.ok(shared.every((r) => r.status === 'passed'), JSON.stringify(shared));
    assert.deepEqual(await rowsLeft(), { notes: 0, archived: 0 }, 'the workerLane was cleaned when its worker ended');
    assert.match(run.out, /left no rows/, 'strict mode found nothing');
  });

  test('a cleanup the database refuses fails its test, names test, table and reason; the teardown says so', { timeout: 120_000 }, async () => {
    const run = await playwright(['cleanup-refused.spec.ts'], { DATABASE_URL: url }, { json: true });
    try {
      assert.notEqual(run.code, 0);
      const [refused, clean] = ['a row a trigger refuses', 'a clean test'].map((t) => results(run.report).find((r) => r.title.startsWith(t)));
      assert.equal(refused.status, 'failed', 'rows left behind are no clean pass');
      assert.match(refused.errors, /\[pglane\] the cleanup after "cleanup-refused\.spec\.ts › a row a trigger refuses to delete" left rows: public\.it_archived: .*archived notes are kept for the audit.*SQLSTATE P0001/);
      assert.equal(clean.status, 'passed');
      // The summary names the test; the teardown blames the trigger, not a killed worker.
      assert.match(run.out, /cleanup failures 1\n\s+✘ cleanup-refused\.spec\.ts › a row a trigger refuses to delete: public\.it_archived: .*archived notes are kept/);
      assert.match(run.out, /the cleanup of 1 test\(s\) failed \("cleanup-refused\.spec\.ts › a row a trigger refuses to delete"\)/);
      assert.match(run.out, /the database refused to delete the rest, which is still there: public\.it_archived: .*archived notes are kept/);
      assert.doesNotMatch(run.out, /killed|exited unexpectedly/);
    } finally {
      await client.query('alter table it_archived disable trigger it_keep; delete from it_archived; delete from it_notes; alter table it_archived enable trigger it_keep');
    }
  });

  test('setup errors are [pglane]-prefixed with their code, and no empty summary follows', { timeout: 120_000 }, async () => {
    const unreachable = await playwright([], { DATABASE_URL: 'postgres://postgres:secret-pw@127.0.0.1:1/nowhere?connect_timeout=2' });
    assert.notEqual(unreachable.code, 0);
    assert.match(unreachable.out, /\[pglane\] PGLANE_DB_UNREACHABLE: could not reach postgres@127\.0\.0\.1:1\/nowhere/);
    assert.doesNotMatch(unreachable.out, /secret-pw/);
    assert.doesNotMatch(unreachable.out, /pglane summary/);

    const badSchema = await playwright([], { DATABASE_URL: url, IT_BAD_SCHEMA: '1' });
    assert.notEqual(badSchema.code, 0);
    assert.match(badSchema.out, /\[pglane\] PGLANE_SCHEMA_FILE: __test__\/integration\/bad-schema\.sql:6: type "txt" does not exist \(in `create table it_broken \( id int, title txt \)`\)/);
    assert.doesNotMatch(badSchema.out, /pglane summary/);
    const { rows } = await client.query("select to_regclass('it_fine') is null as gone");
    assert.equal(rows[0].gone, true, 'a failed schema file leaves nothing behind');

    const listed = await playwright(['--list'], { DATABASE_URL: url });
    assert.equal(listed.code, 0, listed.out);
    assert.match(listed.out, /Total: \d+ tests? in \d+ files?/);
    assert.doesNotMatch(listed.out, /pglane summary/);
  });
});
