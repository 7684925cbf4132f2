// A run with a worker that kills itself mid-test (SIGKILL), for __test__/runs.test.mjs.
import { definePglaneConfig } from 'pglane/playwright';
import { join } from 'node:path';

export default definePglaneConfig(
  {
    testDir: '.',
    testMatch: /.*\.spec\.ts/,
    workers: 2,
    retries: 0,
    reporter: [['line']],
    outputDir: '../../test-results/crash',
  },
  { schemaFiles: ['auth-stand-in.sql', 'schema.sql'].map((f) => join(__dirname, '..', '..', 'examples', f)), preset: 'reference' },
);
