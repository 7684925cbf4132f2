// The npm packages as published: one npm/<platform> package per napi target, each limited to its
// os, cpu (and libc) so package managers install only the right one, all at the root's version
// and pinned exactly in the published root's optionalDependencies.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { platformOf, releaseOptionalDependencies } from '../scripts/version.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const read = (file) => JSON.parse(readFileSync(join(root, file), 'utf8'));
const pkg = read('package.json');
const platforms = readdirSync(join(root, 'npm')).sort();

describe('npm packages', () => {
  test('one npm/<platform> package per napi target, the seven of the README', () => {
    assert.deepEqual(pkg.napi.targets.map(platformOf).sort(), platforms);
    assert.deepEqual(platforms, ['darwin-arm64', 'darwin-x64', 'linux-arm64-gnu', 'linux-arm64-musl', 'linux-x64-gnu', 'linux-x64-musl', 'win32-x64-msvc']);
  });

  test('the published root pins every platform package at its own version; the committed one names none (npm ci needs them resolvable)', () => {
    assert.deepEqual(releaseOptionalDependencies(pkg), Object.fromEntries(platforms.map((p) => [`pglane-${p}`, pkg.version])));
    assert.equal(pkg.optionalDependencies, undefined);
    assert.equal(pkg.scripts.prepublishOnly, 'napi pre-publish -t npm --no-gh-release', 'napi pre-publish adds them when publishing');
  });

  for (const platform of platforms) {
    test(`pglane-${platform} is limited to its platform and carries only its binary`, () => {
      const p = read(`npm/${platform}/package.json`);
      const [os, cpu, abi] = platform.split('-');
      assert.equal(p.name, `pglane-${platform}`);
      assert.equal(p.version, pkg.version);
      assert.deepEqual(p.os, [os]);
      assert.deepEqual(p.cpu, [cpu]);
      if (os === 'linux') assert.deepEqual(p.libc, [abi === 'gnu' ? 'glibc' : 'musl']);
      else assert.equal(p.libc, undefined);
      assert.equal(p.main, `pglane.${platform}.node`);
      assert.deepEqual(p.files, [`pglane.${platform}.node`]);
      assert.deepEqual(p.engines, pkg.engines);
      assert.equal(p.scripts, undefined, 'no install script');
      assert.ok(existsSync(join(root, 'npm', platform, 'README.md')));
    });
  }

  test('engines names the Node versions CI tests (20, 22, 24) and the root has no install script', () => {
    assert.equal(pkg.engines.node, '^20.0.0 || ^22.0.0 || ^24.0.0');
    for (const s of ['preinstall', 'install', 'postinstall']) assert.equal(pkg.scripts[s], undefined);
    assert.ok(pkg.files.includes('index.js') && pkg.files.includes('index.d.ts'));
  });
});
