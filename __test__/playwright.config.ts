// Playwright suite of pglane's own tests: 10 workers against one database.
import { defineConfig } from '@playwright/test';

export default defineConfig({
  testDir: './playwright',
  fullyParallel: true,
  workers: 10,
  retries: 0,
  reporter: [[process.env.CI ? 'dot' : 'list'], ['json', { outputFile: '../test-results/pglane-tests.json' }]],
  globalSetup: require.resolve('./playwright/global-setup.ts'),
  outputDir: '../test-results/playwright',
});
