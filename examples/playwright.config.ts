// The example parallel suite: 10 workers locally (5 on CI, WORKERS overrides) against one
// database — an embedded PostgreSQL unless DATABASE_URL is set — and the example app.
import { definePglaneConfig, freePortSync } from 'pglane/playwright';
import { join } from 'node:path';

// Chosen once in the main process; workers and the web server inherit it.
const port = (process.env.PGLANE_APP_PORT ||= String(freePortSync()));

export default definePglaneConfig(
  {
    testDir: '.',
    testMatch: /.*\.spec\.ts/,
    testIgnore: ['taskboard/**'], // the second example has its own config
    timeout: 30_000,
    reporter: [['list'], ['html', { outputFolder: '../playwright-report', open: 'never' }]],
    outputDir: '../test-results/examples',
    webServer: {
      command: 'node app/server.mjs',
      url: `http://127.0.0.1:${port}/health`,
      reuseExistingServer: false,
      stdout: 'ignore',
      stderr: 'pipe',
    },
    use: { baseURL: `http://127.0.0.1:${port}` },
  },
  // On plain PostgreSQL (the embedded server) the app's schema needs the stand-in for Supabase
  // Auth's `auth` schema first; a Supabase database (SUPABASE_DB=1) has its own, so only
  // schema.sql is applied there.
  {
    schemaFiles: (process.env.SUPABASE_DB ? ['schema.sql'] : ['auth-stand-in.sql', 'schema.sql']).map((f) => join(__dirname, f)),
    preset: 'reference',
  },
);
