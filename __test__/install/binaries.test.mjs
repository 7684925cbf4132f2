// The release binaries built here (node scripts/cross-build.mjs): each is a shared object for its
// architecture that exports napi_register_module_v1, the glibc ones need nothing newer than
// glibc 2.28 (RHEL 8), and each is loaded through pglane's loader and used by a Node of its own
// platform: arm64 under qemu-aarch64, musl with a musl Node, each connecting to the test database.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { CROSS_TARGETS, muslNode, root, tool } from '../../scripts/tools.mjs';

// CI builds every target first and sets this: there a missing binary or runtime is a failure.
const required = process.env.PGLANE_REQUIRE_CROSS === '1';
const machines = { x64: 62, arm64: 183 }; // ELF e_machine: EM_X86_64, EM_AARCH64
const dirs = [];
after(async () => {
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  await (await import('../helpers.mjs')).stopDatabase();
});

function readelf(args, file) {
  const r = spawnSync('readelf', [...args, '-W', file], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

/** The newest GLIBC_x.y the file needs, as [x, y]; null when it needs none. */
function newestGlibc(file) {
  const versions = [...readelf(['-V'], file).matchAll(/GLIBC_(\d+)\.(\d+)/g)].map((m) => [Number(m[1]), Number(m[2])]);
  return versions.sort((a, b) => a[0] - b[0] || a[1] - b[1]).pop() ?? null;
}

/** The command prefix of a Node for this platform, or a reason why there is none here. */
function runtimeFor(platform) {
  const [, arch, libc] = platform.split('-');
  const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
  if (arch === 'arm64' && !has('qemu-aarch64')) return { reason: 'qemu-aarch64 is not installed (apt-get install qemu-user)' };
  try {
    if (libc === 'musl') return { command: muslNode(arch === 'x64' ? 'x86_64' : 'aarch64') };
    if (arch === process.arch) return { command: [process.execPath] };
    if (!existsSync('/usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1')) return { reason: 'no arm64 glibc (apt-get install gcc-aarch64-linux-gnu)' };
    return { command: ['qemu-aarch64', '-L', '/usr/aarch64-linux-gnu', tool('nodeArm64')] };
  } catch (err) {
    return { reason: err.message };
  }
}

/** A pglane install as a package manager leaves it: the root package and this platform's package. */
function installedLayout(platform, binary) {
  const dir = mkdtempSync(join(tmpdir(), `pglane-${platform}-`));
  dirs.push(dir);
  const pkg = join(dir, 'pglane');
  mkdirSync(pkg);
  for (const f of ['index.js', 'package.json']) cpSync(join(root, f), join(pkg, f));
  const platformPkg = join(pkg, 'node_modules', `pglane-${platform}`);
  cpSync(join(root, 'npm', platform), platformPkg, { recursive: true });
  cpSync(binary, join(platformPkg, `pglane.${platform}.node`));
  return pkg;
}

describe('release binaries built here', { skip: process.platform !== 'linux' && 'Linux only' }, () => {
  for (const [platform, target] of Object.entries(CROSS_TARGETS)) {
    const [, arch, libc] = platform.split('-');
    const binary = join(root, 'target/cross', platform, `pglane.${platform}.node`);
    const missing = !existsSync(binary) && `${platform} is not built here (node scripts/cross-build.mjs ${platform})`;

    test(`${platform} (${target}): an ${arch} shared object exporting napi_register_module_v1, ${libc === 'gnu' ? 'needing glibc 2.28 or older' : 'needing no glibc'}`, (t) => {
      if (missing) return required ? assert.fail(missing) : t.skip(missing);
      const elf = readFileSync(binary);
      assert.equal(elf.subarray(0, 4).toString('latin1'), '\x7fELF');
      assert.equal(elf[4], 2, '64-bit');
      assert.equal(elf.readUInt16LE(16), 3, 'a shared object (ET_DYN)');
      assert.equal(elf.readUInt16LE(18), machines[arch], `built for ${arch}`);
      const exported = readelf(['--dyn-syms'], binary).split('\n').find((l) => / napi_register_module_v1$/.test(l));
      assert.ok(exported, 'napi_register_module_v1 is a dynamic symbol');
      assert.match(exported, /FUNC\s+GLOBAL\s+DEFAULT\s+\d+ /, 'and defined here, not imported');
      const glibc = newestGlibc(binary);
      if (libc === 'gnu') {
        assert.ok(glibc, 'a glibc build needs versioned glibc symbols');
        console.log(`${platform}: newest glibc symbol GLIBC_${glibc.join('.')}`);
        assert.ok(glibc[0] === 2 && glibc[1] <= 28, `needs GLIBC_${glibc.join('.')}: too new for RHEL 8 (2.28)`);
      } else {
        assert.equal(glibc, null, 'a musl build needs no glibc');
        assert.match(readelf(['-d'], binary), /NEEDED.*\[libc\.so\]/);
      }
    });

    test(`${platform}: loaded through pglane's loader by an ${arch} ${libc === 'gnu' ? 'glibc' : 'musl'} Node, it names a lane and queries the database`, async (t) => {
      if (missing) return required ? assert.fail(missing) : t.skip(missing);
      const runtime = runtimeFor(platform);
      if (!runtime.command) return required ? assert.fail(runtime.reason) : t.skip(runtime.reason);
      const { databaseUrl } = await import('../helpers.mjs');
      const pkg = installedLayout(platform, binary);
      const [cmd, ...args] = runtime.command;
      const r = spawnSync(cmd, [...args, join(root, '__test__/install/probe-binding.cjs'), pkg], {
        encoding: 'utf8',
        env: { ...process.env, PROBE_DATABASE_URL: await databaseUrl() },
        timeout: 300_000,
      });
      assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
      const seen = JSON.parse(r.stdout.trim().split('\n').pop());
      assert.equal(seen.arch, arch);
      assert.equal(seen.libc, libc === 'gnu' ? 'glibc' : 'musl');
      assert.ok(seen.binding.endsWith(join('node_modules', `pglane-${platform}`, `pglane.${platform}.node`)), `the loader chose pglane-${platform}: ${seen.binding}`);
      assert.match(seen.name, /^probe00001-w3-\d+-Alice$/);
      assert.equal(seen.like, '50\\%\\_off');
      assert.match(seen.runId, /^[0-9a-z]{10}$/);
      assert.ok(seen.server.version >= 130000, `connected to PostgreSQL ${seen.server.version}`);
    });
  }
});
