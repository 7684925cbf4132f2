// The main job: the example parallel suite with 10 workers and --repeat-each=3 on an embedded
// PostgreSQL (or DATABASE_URL), ending with pglane's summary and Playwright's HTML report in
// playwright-report/.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

process.chdir(join(dirname(fileURLToPath(import.meta.url)), '..'));
const args = ['playwright', 'test', '-c', 'examples/playwright.config.ts', '--repeat-each=3', ...process.argv.slice(2)];
if (!process.env.WORKERS && !process.argv.some((a) => a.startsWith('--workers'))) args.push('--workers=10');
const r = spawnSync('npx', args, { stdio: 'inherit' });
console.log('\npglane demo: HTML report in playwright-report/index.html (npx playwright show-report)');
process.exit(r.status ?? 1);
