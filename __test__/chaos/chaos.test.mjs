// The chaos suite (issue 17, "Done when"): a Playwright run of chaos.spec.ts on 4 workers while
// this driver SIGKILLs random workers, terminates pglane's backends (pg_terminate_backend) in
// random batches and restarts the server once (fast or immediate shutdown); then a clean run of
// the same suite, which must pass. Afterwards every table has its starting row count (rows of a
// live run of another "machine" and app rows without lane names included), no test saw one of
// its rows deleted by another lane (CHAOS_ROW_LOST), neither run stays registered, and nothing
// hung (each run has a hard time limit).
//
// The server is a cluster of the embedded binaries started here (restartable on its port and
// data directory); on other systems the suite is skipped with the reason. `PGLANE_CHAOS_SEED`
// replays a schedule (the seed is printed); `PGLANE_CHAOS_TESTS`, `PGLANE_CHAOS_WORKERS` scale it;
// `PGLANE_CHAOS_KEEP=1` keeps the runs' reports.
// Only processes of the run started here are signalled: the runner's own children.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { embeddedClusterSkipReason, embeddedPgBin, startCluster } from '../pg15.mjs';
import { applySchema } from '../reference.mjs';

const require = createRequire(import.meta.url);
const { Db, Factories, ResourceTracker, RunRegistry, WorkerContext, generateRunId } = require('pglane');
const PLAYWRIGHT = require.resolve('@playwright/test/cli');
const CONFIG = fileURLToPath(new URL('./playwright.config.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const skip = (await embeddedClusterSkipReason()) ?? false;
const seed = Number(process.env.PGLANE_CHAOS_SEED) || Math.floor(Math.random() * 2 ** 31);
const TESTS = Number(process.env.PGLANE_CHAOS_TESTS) || 64;
const CHAOS_RUN_LIMIT_MS = 240_000;
const CLEAN_RUN_LIMIT_MS = 180_000;

/** mulberry32: a small seeded generator, so a schedule can be replayed. */
function random(s) {
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The pids of `parent`'s children (Linux /proc). */
function childrenOf(parent) {
  const kids = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === parent) kids.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return kids;
}

/** Playwright's worker processes of the runner `runner`: its children running Node. */
function workersOf(runner) {
  return childrenOf(runner).filter((pid) => {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      return cmd[0] === process.execPath || /node$/.test(cmd[0]);
    } catch {
      return false;
    }
  });
}

/** Starts `playwright test` for the chaos suite in a process group of its own. */
function startPlaywright(env, limitMs) {
  const child = spawn(process.execPath, [PLAYWRIGHT, 'test', '-c', CONFIG], {
    cwd: ROOT,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const listeners = [];
  const take = (d) => {
    out += d;
    for (const l of listeners) l(out);
  };
  child.stdout.on('data', take);
  child.stderr.on('data', take);
  let hung = false;
  const limit = setTimeout(() => {
    hung = true;
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }, limitMs);
  const done = new Promise((resolve) =>
    child.on('exit', (code, signal) => {
      clearTimeout(limit);
      resolve({ code, signal, out, hung });
    }),
  );
  return { child, done, onOutput: (l) => listeners.push(l), output: () => out };
}

/** Every test result of a Playwright JSON report: `{ title, status, error }`. */
function results(report) {
  const found = [];
  const walk = (suite) => {
    for (const spec of suite.specs ?? []) {
      for (const t of spec.tests) {
        for (const r of t.results) found.push({ title: spec.title, status: r.status, error: (r.errors ?? []).map((e) => e.message).join('\n') });
      }
    }
    for (const s of suite.suites ?? []) walk(s);
  };
  for (const s of report.suites ?? []) walk(s);
  return found;
}

/** Rows in every table of the database (not the catalog), by `schema.table`. */
async function rowCounts(client) {
  const { rows: tables } = await client.query(
    `select format('%I.%I', n.nspname, c.relname) as t from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind in ('r', 'p') and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\\_toast%'
      order by 1`,
  );
  const { rows } = await client.query(tables.map(({ t }) => `select ${client.escapeLiteral(t)} as t, count(*)::int as n from ${t}`).join(' union all '));
  return Object.fromEntries(rows.map((r) => [r.t, r.n]));
}

/** A fresh client for one action (the server may have restarted since the last). */
async function withClient(url, fn) {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  client.on('error', () => {});
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

describe('chaos: worker kills, backend terminations and a server restart during a run', { skip }, () => {
  let server;
  let dir;
  let canary;
  let heartbeat;

  before(async () => {
    // synchronous_commit on: an immediate shutdown must not lose a committed row (it would
    // look like a row deleted by another lane).
    server = await startCluster({ bin: await embeddedPgBin(), settings: { synchronous_commit: 'on' } });
    dir = mkdtempSync(join(tmpdir(), 'pglane-chaos-'));
    await withClient(server.url, async (client) => {
      await applySchema(client);
      // App rows with names a lane pattern must never match.
      await client.query(`insert into public.organizations (name, slug) values ('Acme Corp', 'acme-corp'), ('w0-0-Acme', 'w0-0-acme'), ('100% Acme_', 'acme-100')`);
    });
    const db = Db.connect(server.url);
    const registry = new RunRegistry(db);
    await registry.ensureSchema();
    await registry.markTestDatabase();
    // A live run of another machine, with rows of its own: the chaos must not touch them.
    canary = generateRunId();
    const ctx = WorkerContext.create({ workerIndex: 0, testId: 'canary' }, { runId: canary });
    await registry.register(canary, 'another-machine', 1, ctx.runPattern());
    await Factories.preset(db).create('completeSetup', ctx, ResourceTracker.forTest({}, ctx, db));
    db.close();
    heartbeat = setInterval(() => {
      withClient(server.url, (c) => c.query('update pglane.runs set heartbeat_at = now() where run_id = $1', [canary])).catch(() => {});
    }, 3000);
  });

  after(async () => {
    clearInterval(heartbeat);
    if (dir && !process.env.PGLANE_CHAOS_KEEP) rmSync(dir, { recursive: true, force: true });
    else if (dir) console.log(`chaos: the runs' reports are in ${dir}`);
    await server?.stop();
  });

  test(`a run under chaos, then a clean run: every table back to its starting count, no lane lost a row, nothing hung (seed ${seed})`, { timeout: 540_000 }, async (t) => {
    const rand = random(seed);
    const pick = (list) => list[Math.floor(rand() * list.length)];
    const start = await withClient(server.url, rowCounts);
    // Named prepared statements (as on the embedded default) or unnamed ones (as through a
    // pooler), by the seed: a restart empties every connection's statement cache.
    const prepare = process.env.PGLANE_PREPARE || pick(['on', 'off']);
    const baseEnv = { ...process.env, DATABASE_URL: server.url, PGLANE_CHAOS_TESTS: String(TESTS), PGLANE_PREPARE: prepare };
    delete baseEnv.PGLANE_DATABASE_URL;
    delete baseEnv.PGLANE_EMBEDDED;

    // The chaos run.
    const chaosRun = generateRunId();
    const chaosOutput = join(dir, 'chaos');
    const started = Date.now();
    const run = startPlaywright({ ...baseEnv, PGLANE_RUN_ID: chaosRun, PGLANE_CHAOS_OUTPUT: chaosOutput }, CHAOS_RUN_LIMIT_MS);
    const events = [];
    const note = (kind, detail) => events.push({ at: Math.round((Date.now() - started) / 100) / 10, kind, detail });
    // Chaos starts once global setup is done and the tests run (setup under chaos is another test).
    await new Promise((resolve) => {
      run.onOutput((out) => /Running \d+ tests? using/.test(out) && resolve());
      run.done.then(resolve);
    });
    const testsFrom = Date.now();
    let finished = false;
    run.done.then(() => (finished = true));
    const at = (from, to) => testsFrom + from + rand() * (to - from);
    const schedule = [
      ...[0, 1, 2, 3].map(() => ({ when: at(1500, 16000), kind: 'kill' })),
      { when: at(4000, 9000), kind: 'restart', mode: pick(['fast', 'immediate']) },
    ];
    let nextTermination = at(500, 1500);
    while (!finished) {
      const now = Date.now();
      for (const event of schedule.filter((e) => !e.done && e.when <= now)) {
        event.done = true;
        if (event.kind === 'kill') {
          const workers = workersOf(run.child.pid);
          if (!workers.length) continue;
          const pid = pick(workers);
          try {
            process.kill(pid, 'SIGKILL');
            note('worker SIGKILL', `pid ${pid} of ${workers.length}`);
          } catch {
            // it ended meanwhile
          }
        } else {
          const t0 = Date.now();
          await server.restart({ mode: event.mode });
          note('server restart', `${event.mode}, down ${Date.now() - t0} ms`);
        }
      }
      if (now >= nextTermination) {
        nextTermination = now + 500 + rand() * 1500;
        const want = 1 + Math.floor(rand() * 3);
        await withClient(server.url, async (c) => {
          const { rows } = await c.query(
            "select pid from pg_stat_activity where application_name = 'pglane' and datname = current_database() and pid <> pg_backend_pid()",
          );
          const chosen = [...rows].sort(() => rand() - 0.5).slice(0, want).map((r) => r.pid);
          if (!chosen.length) return;
          const { rows: done } = await c.query('select count(*)::int as n from pg_stat_activity where pid = any($1::int[]) and pg_terminate_backend(pid)', [chosen]);
          note('pg_terminate_backend', `${done[0].n} of ${rows.length} sessions`);
        }).catch(() => {}); // the server is restarting
      }
      await sleep(50);
    }
    const chaos = await run.done;
    const kinds = (k) => events.filter((e) => e.kind === k).length;
    t.diagnostic(`seed ${seed}, PGLANE_PREPARE=${prepare}; chaos run ${Math.round((Date.now() - started) / 1000)} s: ${events.map((e) => `${e.at}s ${e.kind} (${e.detail})`).join('; ')}`);
    assert.equal(chaos.hung, false, `the chaos run hung (killed after ${CHAOS_RUN_LIMIT_MS / 1000} s):\n${chaos.out}`);
    assert.equal(kinds('server restart'), 1, `the tests ended before the server restart: make the suite longer (PGLANE_CHAOS_TESTS)\n${chaos.out}`);
    assert.ok(kinds('worker SIGKILL') >= 1, `no worker was killed: make the suite longer\n${chaos.out}`);
    assert.ok(kinds('pg_terminate_backend') >= 1, 'no backend was terminated');
    assert.doesNotMatch(chaos.out, /CHAOS_ROW_LOST/, 'a test found one of its rows deleted by another lane');
    const report = JSON.parse(readFileSync(join(chaosOutput, 'report.json'), 'utf8'));
    const chaosResults = results(report);
    const lost = chaosResults.filter((r) => /CHAOS_ROW_LOST/.test(r.error));
    assert.deepEqual(lost, [], 'no test found one of its rows deleted by another lane');
    const statuses = chaosResults.reduce((m, r) => ({ ...m, [r.status]: (m[r.status] ?? 0) + 1 }), {});
    t.diagnostic(`chaos run: exit ${chaos.code}, tests ${JSON.stringify(statuses)}; teardown: ${(chaos.out.match(/\[pglane\] (run \w+ left[^\n]*|teardown[^\n]*)/g) ?? []).join(' | ')}`);
    const whyFailed = [...new Set(chaosResults.filter((r) => r.status !== 'passed').map((r) => `${r.status}: ${r.error.split('\n')[0].slice(0, 160)}`))];
    t.diagnostic(`why tests did not pass under chaos: ${whyFailed.join(' | ') || 'all passed'}`);
    assert.ok((statuses.passed ?? 0) > 0, `some tests passed under chaos:\n${chaos.out}`);
    const registered = await withClient(server.url, (c) => c.query('select run_id from pglane.runs order by run_id'));
    assert.deepEqual(registered.rows.map((r) => r.run_id), [canary], `the chaos run's teardown swept and forgot it:\n${chaos.out}`);

    // The clean run: the same suite, no chaos.
    const cleanOutput = join(dir, 'clean');
    const cleanStarted = Date.now();
    const clean = await startPlaywright({ ...baseEnv, PGLANE_RUN_ID: generateRunId(), PGLANE_CHAOS_OUTPUT: cleanOutput }, CLEAN_RUN_LIMIT_MS).done;
    t.diagnostic(`clean run ${Math.round((Date.now() - cleanStarted) / 1000)} s, exit ${clean.code}`);
    assert.equal(clean.hung, false, `the clean run hung:\n${clean.out}`);
    assert.equal(clean.code, 0, clean.out);
    const cleanResults = results(JSON.parse(readFileSync(join(cleanOutput, 'report.json'), 'utf8')));
    assert.equal(cleanResults.filter((r) => r.status === 'passed').length, TESTS, clean.out);
    assert.match(clean.out, /\[pglane\] run \w+ left no rows/, clean.out);

    // Every table as it was: the canary run's rows, the app rows, pglane's registry and journal.
    const end = await withClient(server.url, rowCounts);
    const changed = Object.keys({ ...start, ...end })
      .filter((table) => start[table] !== end[table])
      .map((table) => `${table}: ${start[table]} -> ${end[table]}`);
    assert.deepEqual(changed, [], 'every table is back to its starting row count');
    assert.ok(start['public.organizations'] >= 4 && start['pglane.journal'] > 0, `the canaries were there: ${JSON.stringify(start)}`);
  });
});
