// The binding loader (index.js): what it exports, and what a user sees when this platform's
// binding package is missing, of the wrong version, or does not exist.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
// This machine's package suffix, worked out independently of the loader.
const hostSuffix = {
  linux: `linux-${process.arch}-${process.report.getReport().header.glibcVersionRuntime ? 'gnu' : 'musl'}`,
  darwin: `darwin-${process.arch}`,
  win32: `win32-${process.arch}-msvc`,
}[process.platform];

const dirs = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A copy of the root package without any binding: just index.js and package.json. */
function bareCopy() {
  const dir = mkdtempSync(join(tmpdir(), 'pglane-loader-'));
  dirs.push(dir);
  copyFileSync(join(root, 'index.js'), join(dir, 'index.js'));
  copyFileSync(join(root, 'package.json'), join(dir, 'package.json'));
  return dir;
}

/** Requires `dir/index.js` in a child Node, pretending to be on `platform`/`arch` when given. */
function load(dir, { platform, arch } = {}) {
  const pretend = [
    platform && `Object.defineProperty(process, 'platform', { value: ${JSON.stringify(platform)} });`,
    arch && `Object.defineProperty(process, 'arch', { value: ${JSON.stringify(arch)} });`,
  ].filter(Boolean).join('');
  const script = `${pretend}
    try { const b = require('./index.js'); console.log(JSON.stringify({ loaded: typeof b.WorkerContext })); }
    catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`;
  const env = { ...process.env };
  delete env.NAPI_RS_NATIVE_LIBRARY_PATH;
  const r = spawnSync(process.execPath, ['-e', script], { cwd: dir, encoding: 'utf8', env });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

function assertNoGenericText(message) {
  assert.doesNotMatch(message, /wasm32|wasi|npm has a bug/i);
}

describe('binding loader', () => {
  test('index.js exports every name index.d.ts declares, and each is defined', () => {
    const dts = readFileSync(join(root, 'index.d.ts'), 'utf8');
    const declared = [...dts.matchAll(/^export declare (?:class|function|const) (\w+)/gm)]
      .map((m) => m[1])
      .filter((name) => !name.startsWith('__napi'));
    const js = readFileSync(join(root, 'index.js'), 'utf8');
    const listed = [...js.matchAll(/^module\.exports\.(\w+) = binding\.\1;$/gm)].map((m) => m[1]);
    assert.deepEqual([...listed].sort(), [...declared].sort(), 'the export list in index.js is the list in index.d.ts');
    const binding = require('pglane/native');
    for (const name of declared) assert.notEqual(binding[name], undefined, `${name} is exported`);
  });

  test('a missing binding package gets pglane\'s error: the package for this platform, how to check and install it', { skip: !hostSuffix && 'no prebuilt binding for this platform' }, () => {
    const err = load(bareCopy());
    assert.equal(err.code, 'PGLANE_BINDING_NOT_FOUND');
    const pkg = `pglane-${hostSuffix}`;
    assert.match(err.message, new RegExp(`package ${pkg}@${version.replaceAll('.', '\\.')}`));
    assert.match(err.message, new RegExp(`npm ls ${pkg}`));
    assert.match(err.message, new RegExp(`npm install --save-dev ${pkg}@${version.replaceAll('.', '\\.')}`));
    assert.match(err.message, new RegExp(`${pkg}: not found`));
    assertNoGenericText(err.message);
  });

  test('on a Mac with Apple silicon, the error names pglane-darwin-arm64', () => {
    const err = load(bareCopy(), { platform: 'darwin', arch: 'arm64' });
    assert.equal(err.code, 'PGLANE_BINDING_NOT_FOUND');
    assert.match(err.message, /macOS arm64 \(Apple silicon\)/);
    assert.match(err.message, /npm install --save-dev pglane-darwin-arm64@/);
    assertNoGenericText(err.message);
  });

  test('on Windows x64, the error names pglane-win32-x64-msvc', () => {
    const err = load(bareCopy(), { platform: 'win32', arch: 'x64' });
    assert.equal(err.code, 'PGLANE_BINDING_NOT_FOUND');
    assert.match(err.message, /npm install --save-dev pglane-win32-x64-msvc@/);
  });

  test('a platform without a prebuilt binding is named, with the ones that exist', () => {
    const err = load(bareCopy(), { platform: 'freebsd', arch: 'x64' });
    assert.equal(err.code, 'PGLANE_UNSUPPORTED_PLATFORM');
    assert.match(err.message, /no prebuilt native binding for freebsd-x64/);
    assert.match(err.message, /Linux arm64 \(musl, e\.g\. Alpine\) \[linux-arm64-musl\]/);
    assertNoGenericText(err.message);
  });

  test('the binding package is loaded when installed at the same version', { skip: !hostSuffix && 'no prebuilt binding for this platform' }, () => {
    const dir = bareCopy();
    const pkgDir = join(dir, 'node_modules', `pglane-${hostSuffix}`);
    mkdirSync(pkgDir, { recursive: true });
    const file = `pglane.${hostSuffix}.node`;
    copyFileSync(join(root, file), join(pkgDir, file));
    writeFileSync(join(pkgDir, 'package.json'), JSON.stringify({ name: `pglane-${hostSuffix}`, version, main: file }));
    assert.deepEqual(load(dir), { loaded: 'function' });
  });

  test('a binding package of another version is refused, naming the version to install', { skip: !hostSuffix && 'no prebuilt binding for this platform' }, () => {
    const dir = bareCopy();
    const pkgDir = join(dir, 'node_modules', `pglane-${hostSuffix}`);
    mkdirSync(pkgDir, { recursive: true });
    const file = `pglane.${hostSuffix}.node`;
    copyFileSync(join(root, file), join(pkgDir, file));
    writeFileSync(join(pkgDir, 'package.json'), JSON.stringify({ name: `pglane-${hostSuffix}`, version: '0.0.1', main: file }));
    const err = load(dir);
    assert.equal(err.code, 'PGLANE_BINDING_VERSION_MISMATCH');
    assert.match(err.message, new RegExp(`needs pglane-${hostSuffix}@${version.replaceAll('.', '\\.')}, but pglane-${hostSuffix}@0\\.0\\.1 is installed`));
  });
});
