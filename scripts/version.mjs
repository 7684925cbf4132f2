// Keeps every package at the root's version: run by `npm version <new>` (the "version" script),
// after npm has changed package.json and before it commits. Sets each npm/<platform> package's
// version and the root's optionalDependencies (exact versions), as `napi version` and
// `napi pre-publish` would, so the committed tree is what gets published.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { root } from './tools.mjs';

const write = (file, pkg) => writeFileSync(file, JSON.stringify(pkg, null, 2) + '\n');
const rootFile = join(root, 'package.json');
const pkg = JSON.parse(readFileSync(rootFile, 'utf8'));
const platforms = readdirSync(join(root, 'npm')).sort();
for (const platform of platforms) {
  const file = join(root, 'npm', platform, 'package.json');
  const platformPkg = JSON.parse(readFileSync(file, 'utf8'));
  platformPkg.version = pkg.version;
  platformPkg.engines = pkg.engines;
  write(file, platformPkg);
}
// In the order of napi.targets, as `napi pre-publish` writes them.
const platformOf = (triple) => {
  const [arch, , os, abi] = triple.split('-');
  return [{ linux: 'linux', darwin: 'darwin', windows: 'win32' }[os], { x86_64: 'x64', aarch64: 'arm64' }[arch], abi].filter(Boolean).join('-');
};
pkg.optionalDependencies = Object.fromEntries(pkg.napi.targets.map((t) => [`pglane-${platformOf(t)}`, pkg.version]));
write(rootFile, pkg);
console.log(`pglane ${pkg.version}: ${platforms.length} platform packages and optionalDependencies set`);
