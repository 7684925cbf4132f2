// The chaos suite's Playwright run (driven by chaos.test.mjs): the reference preset on the
// database in DATABASE_URL (a cluster the driver restarts), 4 workers, every test on its own.
import { definePglaneConfig } from 'pglane/playwright';
import { join } from 'node:path';

const output = process.env.PGLANE_CHAOS_OUTPUT ?? join(__dirname, '..', '..', 'test-results', 'chaos');

export default definePglaneConfig(
  {
    testDir: '.',
    testMatch: /.*\.spec\.ts/,
    workers: Number(process.env.PGLANE_CHAOS_WORKERS) || 4,
    retries: 0,
    timeout: 60_000,
    reporter: [['list'], ['json', { outputFile: join(output, 'report.json') }]],
    outputDir: join(output, 'results'),
  },
  { preset: 'reference', verbose: true },
);
