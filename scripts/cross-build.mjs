// Builds the release binaries this machine can build: Linux x64 and arm64, glibc and musl, with
// zig as the cross linker (`napi build -x`, i.e. cargo-zigbuild). The glibc builds link against
// glibc 2.17, so they load on every distribution since RHEL 7. Also checks that the core compiles
// for Windows (x86_64-pc-windows-gnu, with Debian's mingw for ring's C code).
//
//   node scripts/cross-build.mjs            every target below, then the Windows check
//   node scripts/cross-build.mjs linux-arm64-gnu ...   only these
//
// Each binary goes to target/cross/<platform>/pglane.<platform>.node; the host's one (x64 glibc)
// is also copied to the repository root with its generated index.d.ts, so the tests run on the
// binary that is released. Timings and sizes: target/cross/builds.json.
// macOS and Windows (MSVC) binaries are built by the release workflow on their own runners.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CROSS_TARGETS, root } from './tools.mjs';

const ZIG_VERSION = '0.17.1';
const ZIGBUILD_VERSION = '0.24.1';

function run(cmd, args, opts = {}) {
  console.log(`cross-build: ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, ...opts });
  if (r.status !== 0) {
    console.error(`cross-build: "${cmd} ${args.join(' ')}" failed (exit ${r.status ?? r.signal})`);
    process.exit(r.status || 1);
  }
}
const succeeds = (cmd, args) => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;

/** zig (from PyPI), cargo-zigbuild (from crates.io) and the Rust targets, when missing. */
function ensureToolchain(rustTargets) {
  if (!succeeds('python3', ['-m', 'ziglang', 'version'])) {
    run('python3', ['-m', 'pip', 'install', '--quiet', `ziglang==${ZIG_VERSION}`]);
  }
  if (!succeeds('cargo', ['zigbuild', '--help'])) {
    run('cargo', ['install', '--locked', `cargo-zigbuild@${ZIGBUILD_VERSION}`]);
  }
  const installed = spawnSync('rustup', ['target', 'list', '--installed'], { encoding: 'utf8' }).stdout ?? '';
  const missing = rustTargets.filter((t) => !installed.split('\n').includes(t));
  if (missing.length) run('rustup', ['target', 'add', ...missing]);
}

const wanted = process.argv.slice(2);
const platforms = wanted.length ? wanted : Object.keys(CROSS_TARGETS);
for (const p of platforms) if (!CROSS_TARGETS[p]) throw new Error(`unknown platform ${p}; known: ${Object.keys(CROSS_TARGETS).join(', ')}`);
const checkWindows = wanted.length === 0;
ensureToolchain([
  ...platforms.map((p) => CROSS_TARGETS[p].replace(/\.2\.\d+$/, '')),
  ...(checkWindows ? ['x86_64-pc-windows-gnu'] : []),
]);

const buildsFile = join(root, 'target/cross/builds.json');
const builds = {};
for (const platform of platforms) {
  const target = CROSS_TARGETS[platform];
  const out = join(root, 'target/cross', platform);
  mkdirSync(out, { recursive: true });
  const started = Date.now();
  run('npx', ['napi', 'build', '--platform', '--release', '-x', '--target', target, '--no-js', '--dts', 'index.d.ts', '--output-dir', out]);
  const file = join(out, `pglane.${platform}.node`);
  builds[platform] = { target, seconds: Math.round((Date.now() - started) / 1000), bytes: statSync(file).size };
  console.log(`cross-build: ${platform} (${target}) in ${builds[platform].seconds} s, ${(builds[platform].bytes / 1048576).toFixed(1)} MiB`);
  if (platform === `linux-${process.arch}-gnu` && process.platform === 'linux') {
    copyFileSync(file, join(root, `pglane.${platform}.node`));
    copyFileSync(join(out, 'index.d.ts'), join(root, 'index.d.ts'));
  }
}

if (checkWindows) {
  if (!succeeds('x86_64-w64-mingw32-gcc', ['--version'])) {
    console.error('cross-build: x86_64-w64-mingw32-gcc is missing (apt-get install mingw-w64): cannot check the Windows build');
    process.exit(1);
  }
  const started = Date.now();
  run('cargo', ['check', '--no-default-features', '--target', 'x86_64-pc-windows-gnu']);
  builds['windows-gnu check'] = { target: 'x86_64-pc-windows-gnu', seconds: Math.round((Date.now() - started) / 1000) };
}

const previous = existsSync(buildsFile) ? JSON.parse(readFileSync(buildsFile, 'utf8')) : {};
writeFileSync(buildsFile, JSON.stringify({ ...previous, ...builds }, null, 2) + '\n');
console.log('cross-build: done');
for (const [p, b] of Object.entries(builds)) console.log(`  ${p.padEnd(18)} ${String(b.seconds).padStart(4)} s${b.bytes ? `  ${(b.bytes / 1048576).toFixed(1)} MiB` : ''}`);
