// pglane's integration checks, run by __test__/playwright-integration.test.mjs one spec file at
// a time. IT_FACTORIES=none runs without factories, IT_PRESET=reference adds the preset,
// IT_BAD_SCHEMA=1 adds a schema file with a mistake.
import { definePglaneConfig } from 'pglane/playwright';

const factories = process.env.IT_FACTORIES === 'none' ? undefined : ['factories.yaml'];
const preset = process.env.IT_PRESET === 'reference' ? ('reference' as const) : undefined;

export default definePglaneConfig(
  {
    testDir: '.',
    testMatch: /.*\.spec\.ts/,
    workers: 2,
    retries: 0,
    outputDir: '../../test-results/integration',
  },
  {
    factories,
    preset,
    schemaFiles: ['schema.sql', ...(process.env.IT_BAD_SCHEMA ? ['bad-schema.sql'] : [])],
  },
);
