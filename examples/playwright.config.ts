// The example parallel suite: 10 workers (5 on CI, WORKERS overrides) against one database,
// an embedded PostgreSQL unless DATABASE_URL is set.
import { defineConfig } from '@playwright/test';

export default defineConfig({
  testDir: '.',
  testMatch: /.*\.spec\.ts/,
  fullyParallel: true,
  workers: Number(process.env.WORKERS) || (process.env.CI ? 5 : 10),
  reporter: [['list'], ['html', { outputFolder: '../playwright-report', open: 'never' }]],
  globalSetup: require.resolve('./global-setup.ts'),
  outputDir: '../test-results/examples',
});
