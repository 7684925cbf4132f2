// Runs every test suite against one real PostgreSQL: `DATABASE_URL` when set, otherwise an
// embedded server started here and removed afterwards.
//   1. cargo test: Rust unit, property and integration tests
//   2. node --test __test__/*.test.mjs: the JS API against the built addon, and whole Playwright
//      runs as a user makes them (__test__/integration, examples/taskboard: embedded default,
//      PostgreSQL 15, a role without CREATE)
//   3. playwright test: parallel workers against one database
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);
const require = createRequire(import.meta.url);
const { startEmbeddedPostgres } = require('../dist/embedded.js');

let embedded;
if (!process.env.DATABASE_URL) {
  embedded = await startEmbeddedPostgres();
  process.env.PGLANE_DATABASE_URL = embedded.url;
  console.log(`pglane test: embedded PostgreSQL at ${embedded.safeUrl}`);
} else {
  console.log('pglane test: using DATABASE_URL');
}

const only = process.argv.slice(2);
const jsTests = readdirSync('__test__').filter((f) => f.endsWith('.test.mjs')).map((f) => join('__test__', f));
const suites = [
  ['cargo', ['cargo', ['test', '--no-default-features', '--all-targets']]],
  ['node', ['node', ['--test', '--test-concurrency=1', ...jsTests]]],
  ['playwright', ['npx', ['playwright', 'test', '-c', '__test__/playwright.config.ts']]],
].filter(([name]) => only.length === 0 || only.includes(name));

let passed = 0;
const failed = [];
try {
  for (const [name, [cmd, args]] of suites) {
    console.log(`\n=== ${name}: ${cmd} ${args.join(' ')}`);
    const r = spawnSync(cmd, args, { stdio: 'inherit' });
    if (r.status === 0) passed++;
    else failed.push(name);
  }
} finally {
  await embedded?.stop();
}
if (failed.length) console.log(`\nfailed suites: ${failed.join(', ')}`);
console.log(`suites: ${passed} passed, ${failed.length} failed`);
process.exit(failed.length ? 1 : 0);
