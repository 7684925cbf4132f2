// Runs for __test__/shutdown.test.mjs: the embedded default (no DATABASE_URL), tests that hold
// their rows until the run is interrupted, a web server that needs the database URL (on request), the JSON
// and blob reports (files CI keeps), and a schema file that fails on request.
import { definePglaneConfig, freePortSync } from 'pglane/playwright';
import { join } from 'node:path';

const examples = join(__dirname, '..', '..', 'examples');
const schemaFiles = [join(examples, 'auth-stand-in.sql'), join(examples, 'schema.sql')];
if (process.env.PGLANE_SHUTDOWN_BAD_SCHEMA) schemaFiles.push(join(__dirname, '..', 'integration', 'bad-schema.sql'));
const output = process.env.PGLANE_SHUTDOWN_OUTPUT ?? join(__dirname, '..', '..', 'test-results', 'shutdown');
const port = (process.env.PGLANE_SHUTDOWN_WEB_PORT ??= String(freePortSync()));
// The app: it refuses to start without the database URL.
const app = `if (!process.env.DATABASE_URL) { console.error('no DATABASE_URL'); process.exit(3); } require('node:http').createServer((q, r) => r.end('ok')).listen(${port}, '127.0.0.1')`;

export default definePglaneConfig(
  {
    testDir: '.',
    testMatch: /.*\.spec\.ts/,
    workers: 2,
    retries: 0,
    reporter: [['list'], ['json', { outputFile: join(output, 'report.json') }], ['blob', { outputDir: join(output, 'blob') }]],
    outputDir: join(output, 'results'),
    // With a web server, the teardown leaves the server to the runner's exit (after the app).
    ...(process.env.PGLANE_SHUTDOWN_WEB_SERVER ? { webServer: { command: `node -e "${app.replace(/"/g, '\\"')}"`, url: `http://127.0.0.1:${port}/` } } : {}),
  },
  { schemaFiles, preset: 'reference', verbose: true },
);
