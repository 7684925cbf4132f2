// Keeps every package at the root's version. Run by `npm version <new>` (the "version" script),
// after npm has changed package.json and before it commits: sets each npm/<platform> package's
// version (and engines) to the root's, as `napi version` does.
//
// The root's optionalDependencies are not committed: they name packages that exist on the
// registry only once released, and npm ci refuses a package.json whose dependencies the lock
// cannot resolve. `napi pre-publish` (prepublishOnly) adds them when the release is published,
// exactly as releaseOptionalDependencies() below computes them.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { root } from './tools.mjs';

/** The npm platform of a Rust target, the napi-rs naming: x86_64-unknown-linux-gnu → linux-x64-gnu. */
export function platformOf(triple) {
  const [arch, , os, abi] = triple.split('-');
  const nodeOs = { linux: 'linux', darwin: 'darwin', windows: 'win32' }[os];
  return [nodeOs, { x86_64: 'x64', aarch64: 'arm64' }[arch], abi].filter(Boolean).join('-');
}

/** The optionalDependencies of the published root: every target's package at this exact version. */
export function releaseOptionalDependencies(pkg) {
  return Object.fromEntries(pkg.napi.targets.map((t) => [`pglane-${platformOf(t)}`, pkg.version]));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const platforms = readdirSync(join(root, 'npm'));
  for (const platform of platforms) {
    const file = join(root, 'npm', platform, 'package.json');
    const platformPkg = JSON.parse(readFileSync(file, 'utf8'));
    platformPkg.version = pkg.version;
    platformPkg.engines = pkg.engines;
    writeFileSync(file, JSON.stringify(platformPkg, null, 2) + '\n');
  }
  console.log(`pglane ${pkg.version}: ${platforms.length} platform packages set to it`);
}
