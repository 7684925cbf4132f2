// Taskboard's Playwright config, wired as pglane's README says: definePglaneConfig with your
// factories and schema. It adds pglane's global setup (an embedded PostgreSQL unless
// DATABASE_URL is set), its reporter, and DATABASE_URL in the web server's environment.
// (playwright.plain.config.ts wires the same without the helper.)
import { definePglaneConfig, freePortSync } from 'pglane/playwright';

// The app's port: chosen once in the main process (workers and the web server inherit it).
// In your project this is simply 3000.
const port = (process.env.TASKBOARD_PORT ||= String(freePortSync()));

export default definePglaneConfig(
  {
    testDir: './e2e',
    outputDir: '../../test-results/taskboard',
    timeout: 30_000,
    webServer: {
      command: 'node app/server.mjs',
      url: `http://127.0.0.1:${port}/health`,
      env: { PORT: port },
      reuseExistingServer: false,
      stderr: 'pipe',
    },
    use: { baseURL: `http://127.0.0.1:${port}` },
  },
  {
    factories: 'e2e/factories.yaml', // relative to this file; several files, or an object, work too
    schemaFiles: ['db/schema.sql'], // applied once per database
  },
);
