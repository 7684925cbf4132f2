// The same suite wired without definePglaneConfig: pglane's options are the `pglane` fixture
// option in `use`, the global setup and reporter are listed by hand, and pglaneEnv() gives the
// web server DATABASE_URL (the embedded database's URL is chosen here, before Playwright
// starts the web server, and global setup starts the server there).
import { defineConfig } from '@playwright/test';
import { chromiumLaunchOptions, freePortSync, pglaneEnv, type PglaneWorkerOptions } from 'pglane/playwright';

const port = (process.env.TASKBOARD_PORT ||= String(freePortSync()));

export default defineConfig<{}, PglaneWorkerOptions>({
  testDir: './e2e',
  outputDir: '../../test-results/taskboard-plain',
  timeout: 30_000,
  fullyParallel: true,
  workers: process.env.CI ? 5 : 10,
  globalSetup: require.resolve('pglane/global-setup'),
  reporter: [['list'], [require.resolve('pglane/reporter')]],
  webServer: {
    command: 'node app/server.mjs',
    url: `http://127.0.0.1:${port}/health`,
    env: pglaneEnv({ PORT: port }),
    reuseExistingServer: false,
    stderr: 'pipe',
  },
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    launchOptions: chromiumLaunchOptions(), // Debian's Chromium when Playwright's is not installed
    pglane: { factories: 'e2e/factories.yaml', schemaFiles: ['db/schema.sql'] },
  },
});
