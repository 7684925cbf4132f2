// Ending a run on the embedded default, as users end them (issue 17, items 7 and 13): Ctrl-C
// (a real SIGINT to the run's whole process group, as a terminal sends it) during the tests and
// during global setup, a global setup that fails, and a runner killed outright. Each run gets a
// temporary directory of its own (TMPDIR) and the URL the embedded server is to use (the
// reserved URL a web server would get), so the test knows the password to look for and can
// list everything the run left behind.
// - After Ctrl-C the teardown still does its database work (it sweeps rows only it can find),
//   then the server stops (at once, or at the runner's exit when a web server uses it); no
//   process of the run and nothing in its temporary directory is left.
// - While the run goes, no file and no command line holds the password, and pglane's
//   directory is private (0700).
// And startEmbeddedPostgres alone: a server that cannot start leaves no directory behind.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { inflateRawSync } from 'node:zlib';
import pg from 'pg';

const require = createRequire(import.meta.url);
const { freePort } = require('pglane/embedded');
const PLAYWRIGHT = require.resolve('@playwright/test/cli');
const CONFIG = '__test__/shutdown/playwright.config.ts';
const skip = process.platform === 'linux' ? false : `skipped: reads /proc and signals process groups (Linux only; this is ${process.platform})`;

/** Playwright's own files in a temporary directory (its transform cache), which it keeps by design. */
const playwrightOwn = (name) => name.startsWith('playwright-transform-cache');

/**
 * Starts a run of the shutdown suite in a process group of its own, with a private TMPDIR
 * and a reserved embedded URL. `onOutput(text)` sees the output as it comes.
 */
async function startRun({ env = {}, onOutput = () => {} } = {}) {
  // Like /tmp: as root, the server's user must be able to enter it.
  const tmp = mkdtempSync(join(tmpdir(), 'pglane-shutdown-test-'));
  chmodSync(tmp, 0o1777);
  const output = mkdtempSync(join(tmpdir(), 'pglane-shutdown-out-'));
  const password = randomBytes(18).toString('hex');
  const port = await freePort();
  const url = `postgres://postgres:${password}@127.0.0.1:${port}/postgres?sslmode=disable`;
  const childEnv = { ...process.env, TMPDIR: tmp, PGLANE_EMBEDDED: 'reserved', PGLANE_DATABASE_URL: url, PGLANE_SHUTDOWN_OUTPUT: output, ...env };
  delete childEnv.DATABASE_URL;
  const child = spawn(process.execPath, [PLAYWRIGHT, 'test', '-c', CONFIG], { env: childEnv, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const take = (d) => {
    out += d;
    onOutput(out);
  };
  child.stdout.on('data', take);
  child.stderr.on('data', take);
  const hardStop = setTimeout(() => {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }, 150_000);
  const done = new Promise((resolveRun) =>
    child.on('exit', (code, signal) => {
      clearTimeout(hardStop);
      resolveRun({ code, signal, out });
    }),
  );
  return { child, done, tmp, output, password, port, url, cleanUp: () => [tmp, output].forEach((d) => rmSync(d, { recursive: true, force: true })) };
}

/** Resolves once `check()` is true, checking every 100 ms for at most `seconds`; then fails saying `what`. */
async function eventually(what, check, seconds = 30) {
  const until = Date.now() + seconds * 1000;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > until) assert.fail(`${what} (waited ${seconds} s)`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** What is left in the run's temporary directory besides Playwright's own cache. */
const leftIn = (tmp) => readdirSync(tmp).filter((n) => !playwrightOwn(n));

/** Processes whose command line mentions `text` (e.g. a postmaster's data directory). */
function processesMentioning(text) {
  const found = [];
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmd.includes(text)) found.push(`${pid}: ${cmd}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

async function refusesConnections(url) {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.end();
    return false;
  } catch (err) {
    return /ECONNREFUSED/.test(err.message) || err.code === 'ECONNREFUSED';
  }
}

/** Every file under `dir` (not following links) with its mode; unreadable ones are listed as such. */
function filesUnder(dir) {
  const files = [];
  const walk = (d) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      const st = lstatSync(path);
      files.push({ path, mode: st.mode & 0o777, dir: st.isDirectory(), file: st.isFile() });
      if (st.isDirectory()) walk(path);
    }
  };
  walk(dir);
  return files;
}

/** The contents of every file in a zip archive (stored or deflated), read from its central directory. */
function unzip(zip) {
  const end = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  const count = zip.readUInt16LE(end + 10);
  let at = zip.readUInt32LE(end + 16);
  const contents = [];
  for (let i = 0; i < count; i++) {
    const method = zip.readUInt16LE(at + 10);
    const size = zip.readUInt32LE(at + 20);
    const local = zip.readUInt32LE(at + 42);
    const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    const data = zip.subarray(start, start + size);
    contents.push(method === 8 ? inflateRawSync(data) : data);
    at += 46 + zip.readUInt16LE(at + 28) + zip.readUInt16LE(at + 30) + zip.readUInt16LE(at + 32);
  }
  return contents;
}

describe('ending a run on the embedded default', { skip }, () => {
  test('Ctrl-C during the tests: the teardown sweeps what only it can find, then the server stops and nothing of the run is left', { timeout: 200_000 }, async () => {
    let signalled = false;
    const run = await startRun({
      onOutput: (out) => {
        if (!signalled && (out.match(/PGLANE_HOLDING/g) ?? []).length >= 2) {
          signalled = true;
          process.kill(-run.child.pid, 'SIGINT');
        }
      },
    });
    try {
      const { code, out } = await run.done;
      assert.ok(signalled, `the tests never held their rows:\n${out}`);
      assert.equal(code, 130, out);
      assert.match(out, /\d+ interrupted/, out);
      // The rows made through a tracker of their own are swept by the teardown, with the server up.
      assert.match(out, /\[pglane\] run \w+ left \d+ row\(s\) in [^\n]*public\.organizations[^\n]*Swept [1-9]\d* with their dependents/, out);
      assert.doesNotMatch(out, /ECONNREFUSED|PGLANE_DB_UNREACHABLE|PGLANE_DB_CONNECTION_LOST/, out);
      await eventually(`the embedded server on port ${run.port} stops`, () => refusesConnections(run.url));
      await eventually('no postmaster of the run is left', () => processesMentioning(run.tmp).length === 0);
      await eventually(`nothing is left in the run's temporary directory (${leftIn(run.tmp).join(', ')})`, () => leftIn(run.tmp).length === 0);
    } finally {
      run.cleanUp();
    }
  });

  test('while a run goes, no file and no command line holds the password, pglane\'s directory is private, and after it nothing is left', { timeout: 200_000 }, async () => {
    let seen;
    const since = Date.now() - 1000;
    const run = await startRun({
      env: { PGLANE_SHUTDOWN_WEB_SERVER: '1' },
      onOutput: (out) => {
        if (!seen && (out.match(/PGLANE_HOLDING/g) ?? []).length >= 2) {
          seen = { files: filesUnder(run.tmp), commandLines: processesMentioning(run.password), socketFiles: existsSync(`/tmp/.s.PGSQL.${run.port}`) };
          for (const f of seen.files) {
            if (f.file) {
              try {
                f.hasPassword = readFileSync(f.path).includes(run.password);
              } catch (err) {
                f.unreadable = err.code;
              }
            }
          }
          process.kill(-run.child.pid, 'SIGINT');
        }
      },
    });
    try {
      const { out } = await run.done;
      assert.ok(seen, `the tests never held their rows:\n${out}`);
      const ours = seen.files.filter((f) => !playwrightOwn(f.path.slice(run.tmp.length + 1)));
      const dirs = ours.filter((f) => f.path.slice(run.tmp.length + 1).split('/').length === 1);
      assert.equal(dirs.length, 1, `one directory of pglane's: ${dirs.map((d) => d.path).join(', ')}`);
      assert.match(dirs[0].path, /\/pglane-pg-[^/]+$/);
      assert.equal(dirs[0].mode, 0o700, `pglane's directory is private: ${dirs[0].mode.toString(8)}`);
      const others = ours.filter((f) => f.file && (f.mode & 0o077) !== 0);
      assert.deepEqual(others.map((f) => `${f.path} ${f.mode.toString(8)}`), [], 'no file others may read');
      assert.deepEqual(ours.filter((f) => f.hasPassword).map((f) => f.path), [], 'no file holds the password');
      assert.deepEqual(seen.commandLines, [], 'no command line holds the password');
      assert.equal(seen.socketFiles, false, 'no Unix socket of the server in /tmp');
      const reports = filesUnder(run.output).filter((f) => f.file);
      assert.ok(reports.some((f) => f.path.endsWith('report.json')), 'the JSON report was written');
      const blob = reports.find((f) => f.path.endsWith('.zip'));
      assert.ok(blob, 'the blob report was written');
      const blobText = Buffer.concat(unzip(readFileSync(blob.path)));
      const written = reports.filter((f) => readFileSync(f.path).includes(run.password));
      assert.deepEqual(written.map((f) => f.path), [], 'no report or result file holds the password (Playwright writes a web server\'s env into them)');
      assert.equal(blobText.includes(run.password), false, 'the blob report does not hold the password');
      assert.doesNotMatch(out, new RegExp(run.password), 'the password is not printed');
      // A path written as "/tmp/..." ignores TMPDIR: the files of /tmp itself made during the run.
      const inTmp = readdirSync('/tmp')
        .map((name) => join('/tmp', name))
        .filter((path) => {
          try {
            const st = lstatSync(path);
            return st.isFile() && st.mtimeMs >= since && readFileSync(path).includes(run.password);
          } catch {
            return false; // gone, or another user's
          }
        });
      assert.deepEqual(inTmp, [], 'no file in /tmp holds the password');
      await eventually(`nothing is left in the run's temporary directory (${leftIn(run.tmp).join(', ')})`, () => leftIn(run.tmp).length === 0);
    } finally {
      run.cleanUp();
    }
  });

  test('Ctrl-C while global setup starts the embedded server leaves nothing behind', { timeout: 200_000 }, async () => {
    let signalled = false;
    let timer;
    const run = await startRun();
    try {
      // As soon as pglane's directory exists: initdb is running (or about to).
      timer = setInterval(() => {
        if (!signalled && readdirSync(run.tmp).some((n) => n.startsWith('pglane-pg-'))) {
          signalled = true;
          process.kill(-run.child.pid, 'SIGINT');
        }
      }, 10);
      const { out } = await run.done;
      clearInterval(timer);
      assert.ok(signalled, `global setup never started a server:\n${out}`);
      await eventually(`the embedded server on port ${run.port} is not running`, () => refusesConnections(run.url));
      await eventually('no postmaster or initdb of the run is left', () => processesMentioning(run.tmp).length === 0);
      await eventually(`nothing is left in the run's temporary directory (${leftIn(run.tmp).join(', ')})`, () => leftIn(run.tmp).length === 0);
    } finally {
      clearInterval(timer);
      run.cleanUp();
    }
  });

  test('a global setup that fails (a schema file with a mistake) leaves no data directory behind', { timeout: 200_000 }, async () => {
    const run = await startRun({ env: { PGLANE_SHUTDOWN_BAD_SCHEMA: '1', PGLANE_SHUTDOWN_WEB_SERVER: '1' } });
    try {
      const { code, out } = await run.done;
      assert.notEqual(code, 0);
      assert.match(out, /\[pglane\] PGLANE_SCHEMA_FILE: /, out);
      await eventually(`the embedded server on port ${run.port} is not running`, () => refusesConnections(run.url));
      await eventually(`nothing is left in the run's temporary directory (${leftIn(run.tmp).join(', ')})`, () => leftIn(run.tmp).length === 0);
    } finally {
      run.cleanUp();
    }
  });

  test('a runner killed outright (SIGKILL) mid-run: its server stops and its directory goes', { timeout: 200_000 }, async () => {
    let killed = false;
    const run = await startRun({
      onOutput: (out) => {
        if (!killed && (out.match(/PGLANE_HOLDING/g) ?? []).length >= 2) {
          killed = true;
          process.kill(run.child.pid, 'SIGKILL'); // the runner only: its workers follow it
        }
      },
    });
    try {
      const { out } = await run.done;
      assert.ok(killed, `the tests never held their rows:\n${out}`);
      await eventually(`the embedded server on port ${run.port} stops`, () => refusesConnections(run.url));
      await eventually('no postmaster of the run is left', () => processesMentioning(run.tmp).length === 0);
      await eventually(`nothing is left in the run's temporary directory (${leftIn(run.tmp).join(', ')})`, () => leftIn(run.tmp).length === 0);
    } finally {
      try {
        process.kill(-run.child.pid, 'SIGKILL'); // its workers, should any be left
      } catch {
        // none
      }
      run.cleanUp();
    }
  });
});

describe('startEmbeddedPostgres when the server cannot start', { skip }, () => {
  const { startEmbeddedPostgres } = require('pglane/embedded');

  /** Runs `fn` with TMPDIR set to a new directory like /tmp; returns what `fn` returned and what was left there. */
  async function inPrivateTmp(fn) {
    const tmp = mkdtempSync(join(tmpdir(), 'pglane-start-test-'));
    chmodSync(tmp, 0o1777);
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = tmp;
    try {
      const value = await fn().catch((err) => err);
      return { value, left: readdirSync(tmp) };
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
      rmSync(tmp, { recursive: true, force: true });
    }
  }

  test('a setting the server refuses: PGLANE_EMBEDDED_SETUP with the server\'s own words, and its directory is gone', { timeout: 120_000 }, async () => {
    const { value: err, left } = await inPrivateTmp(() => startEmbeddedPostgres({ postgresFlags: ['-c', 'no_such_setting=1'] }));
    assert.equal(err.code, 'PGLANE_EMBEDDED_SETUP', String(err));
    assert.match(err.message, /the embedded PostgreSQL did not start: .*\n[\s\S]*no_such_setting/);
    assert.deepEqual(left, []);
  });

  test('a beforeStart that throws: its error, and the directory is gone', { timeout: 120_000 }, async () => {
    let seen;
    const { value: err, left } = await inPrivateTmp(() =>
      startEmbeddedPostgres({
        beforeStart(dataDir) {
          seen = readdirSync(dataDir);
          throw new Error('no certificates here');
        },
      }),
    );
    assert.equal(err.message, 'no certificates here');
    assert.ok(seen.includes('postgresql.conf'), 'it ran after initdb');
    assert.deepEqual(left, []);
  });
});
