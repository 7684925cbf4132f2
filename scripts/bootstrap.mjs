// Makes a fresh clone ready to run: npm packages, the native addon (release build), the
// TypeScript layer, and Debian's Chromium for the browser tests. Each step is skipped when
// already done, so `npm test` and `npm run demo` can be the only commands a newcomer types.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...opts });
  if (r.status !== 0) {
    console.error(`pglane bootstrap: "${cmd} ${args.join(' ')}" failed (exit ${r.status ?? r.signal})`);
    process.exit(r.status || 1);
  }
}
const mtime = (p) => (existsSync(p) ? statSync(p).mtimeMs : 0);

// 1. npm packages (again when package-lock.json changed since the last install).
if (!existsSync('node_modules/.package-lock.json') || mtime('package-lock.json') > mtime('node_modules/.package-lock.json')) {
  console.log('pglane bootstrap: installing npm packages');
  run('npm', existsSync('package-lock.json') ? ['ci', '--no-audit', '--no-fund'] : ['install', '--no-audit', '--no-fund']);
}

// 2. The native addon. Cargo decides what is stale; a no-op build takes a second. index.js is
//    pglane's own loader (not generated); index.d.ts is generated. CI (PGLANE_CROSS=1) builds
//    the release binaries of every Linux target instead, and tests the x64 one, which is built
//    against glibc 2.17 as released.
if (process.env.PGLANE_CROSS === '1') {
  run('node', ['scripts/cross-build.mjs']);
} else if (!process.env.PGLANE_SKIP_NATIVE_BUILD) {
  run('npx', ['napi', 'build', '--platform', '--release', '--dts', 'index.d.ts', '--no-js']);
}

// 3. The TypeScript layer.
run('npx', ['tsc', '-p', 'tsconfig.json']);

// 4. System packages the tests start: Debian's Chromium (Playwright's own browser download
//    cannot work everywhere), pgbouncer (the transaction-mode pooler tests) and openssl (the
//    TLS tests' certificates).
const wanted = [
  ['/usr/bin/chromium', 'chromium'],
  ['/usr/sbin/pgbouncer', 'pgbouncer'],
  ['/usr/bin/openssl', 'openssl'],
].filter(([path]) => !existsSync(path)).map(([, pkg]) => pkg);
if (wanted.length && !process.env.PGLANE_SKIP_SYSTEM_PACKAGES) {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (isRoot && existsSync('/usr/bin/apt-get')) {
    console.log(`pglane bootstrap: installing ${wanted.join(', ')} from Debian`);
    run('apt-get', ['update', '-qq']);
    run('apt-get', ['install', '-y', '-qq', ...wanted], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  } else {
    console.warn(`pglane bootstrap: missing ${wanted.join(', ')}; install them (apt-get install ${wanted.join(' ')}) for the browser, pooler and TLS tests`);
  }
}
