// Runs every test suite against one real PostgreSQL: `DATABASE_URL` when set, otherwise an
// embedded server started here and removed afterwards.
//   1. cargo test: Rust unit, property and integration tests
//   2. node --test __test__/*.test.mjs: the JS API against the built addon, and whole Playwright
//      runs as a user makes them (__test__/integration, examples/taskboard: embedded default,
//      PostgreSQL 15, a role without CREATE)
//   3. playwright test: parallel workers against one database
//   chaos: a Playwright run on 4 workers while workers are SIGKILLed, pglane's backends are
//      terminated and the server restarts, then a clean run; every table back to its starting
//      count (__test__/chaos/, on a cluster of its own)
//   4. node22, node24 (and node20 when this Node is not 20): the JS tests again on each Node
//      version pglane supports (`engines`), with Node binaries from the npm registry
//   5. workflows: actionlint on .github/workflows
//   6. install: the release binaries built here, and pglane published to a local registry and
//      installed by npm, pnpm, Yarn and Bun into a fresh Playwright project
// `node scripts/test.mjs node install` runs only the suites named.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);
const require = createRequire(import.meta.url);
const { startEmbeddedPostgres } = require('../dist/embedded.js');
const { tool } = await import('./tools.mjs');

let embedded;
if (!process.env.DATABASE_URL) {
  // Also on a Unix socket in its data directory (besides TCP): the Rust tests connect through
  // it as `host=/path` users do. Only on Linux with a short temp directory: a socket path has
  // at most 107 bytes (103 on macOS, whose temp directories are long), and a server that can
  // make none of its sockets does not start.
  const socket = process.platform === 'linux' && tmpdir().length <= 40;
  embedded = await startEmbeddedPostgres(socket ? { postgresFlags: ['-c', 'unix_socket_directories=.'] } : {});
  // Without the embedded URL's `pglane_pooler=none`, as a user's DATABASE_URL would be: the
  // API tests count the round trips of single calls on unnamed statements (the prepared path
  // has tests of its own); the Playwright suites run prepared, as users of the embedded server do.
  const plain = new URL(embedded.url);
  plain.searchParams.delete('pglane_pooler');
  process.env.PGLANE_DATABASE_URL = plain.toString();
  console.log(`pglane test: embedded PostgreSQL at ${embedded.safeUrl}`);
} else {
  console.log('pglane test: using DATABASE_URL');
}

const only = process.argv.slice(2);
// PGLANE_JS_TESTS_EXCLUDE=pooler,tls leaves out files that need Debian's pgbouncer and openssl
// (the release workflow's macOS, Windows and container runners).
const excluded = (process.env.PGLANE_JS_TESTS_EXCLUDE ?? '').split(',').filter(Boolean).map((n) => `${n}.test.mjs`);
const jsTests = readdirSync('__test__')
  .filter((f) => f.endsWith('.test.mjs') && !excluded.includes(f))
  .map((f) => join('__test__', f));
// A test that hangs fails after 5 minutes, naming itself, instead of stalling CI.
const jsArgs = ['--test', '--test-concurrency=1', '--test-timeout=300000', ...jsTests];
// The Node versions of `engines`; this Node runs the `node` suite, each other one its own.
const otherNodes = [20, 22, 24]
  .filter((major) => major !== Number(process.versions.node.split('.')[0]))
  .map((major) => [`node${major}`, [() => tool(`node${major}`), jsArgs]]);
const suites = [
  ['cargo', ['cargo', ['test', '--no-default-features', '--all-targets']]],
  ['node', [process.execPath, jsArgs]],
  ...otherNodes,
  ['playwright', ['npx', ['playwright', 'test', '-c', '__test__/playwright.config.ts']]],
  ['chaos', [process.execPath, ['--test', '--test-timeout=600000', join('__test__', 'chaos', 'chaos.test.mjs')]]],
  ['workflows', [process.execPath, [join('scripts', 'lint-workflows.mjs')]]],
  ['install', [process.execPath, ['--test', '--test-concurrency=1', join('__test__', 'install', 'binaries.test.mjs'), join('__test__', 'install', 'registry.test.mjs')]]],
].filter(([name]) => only.length === 0 || only.includes(name));

let passed = 0;
const failed = [];
const skipped = [];
const seconds = {};
try {
  for (const [name, [cmdOrTool, args]] of suites) {
    let cmd = cmdOrTool;
    if (typeof cmdOrTool === 'function') {
      try {
        cmd = cmdOrTool();
      } catch (err) {
        // Only a tool that cannot be had at all (no registry) skips its suite.
        console.log(`\n=== ${name}: skipped: ${err.message}`);
        skipped.push(name);
        continue;
      }
    }
    console.log(`\n=== ${name}: ${cmd.replace(root, '.')} ${args.join(' ')}`);
    const started = Date.now();
    const env = name === 'playwright' ? { ...process.env, PGLANE_PREPARE: 'on' } : process.env;
    // Asynchronously: this process's event loop keeps running while a suite does (a synchronous
    // spawn would stop it, and with it everything the embedded server's handle reads).
    const status = await new Promise((resolve) => {
      const child = spawn(cmd, args, { stdio: 'inherit', env });
      child.on('error', () => resolve(null));
      child.on('exit', (code) => resolve(code));
    });
    seconds[name] = Math.round((Date.now() - started) / 1000);
    if (status === 0) passed++;
    else failed.push(name);
  }
} finally {
  await embedded?.stop();
}
console.log(`\nsuite times: ${Object.entries(seconds).map(([n, s]) => `${n} ${s} s`).join(', ')}`);
if (failed.length) console.log(`failed suites: ${failed.join(', ')}`);
console.log(`suites: ${passed} passed, ${failed.length} failed${skipped.length ? `, ${skipped.length} skipped` : ''}`);
process.exit(failed.length ? 1 : 0);
