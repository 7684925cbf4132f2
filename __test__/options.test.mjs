// pglane's Playwright options without running Playwright: where factories come from (files
// relative to the config, objects, the preset only when asked), how global setup reads the
// options of every project, what definePglaneConfig writes into a config, and how a web
// server gets the database URL (pglaneEnv).
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createRequire } from 'node:module';
import { thrown } from './helpers.mjs';

const require = createRequire(import.meta.url);
const { factorySources, loadFactories } = require('../dist/playwright/factories.js');
const { resolveOptions } = require('../dist/playwright/options.js');
const { definePglaneConfig, pglaneEnv } = require('pglane/playwright');

const YAML_A = 'laneColumns: { things: [code] }\nfactories:\n  thing: { table: things, fields: { name: { name: "Thing {{seq}}" } } }\n';
const YAML_B = 'factories:\n  part: { table: parts, associations: { thing: { factory: thing } }, fields: { label: { slug: part } } }\n';

/** Runs `fn` with environment variables set (or removed, for `undefined`), then restores them. */
function withEnv(vars, fn) {
  const saved = { ...process.env };
  for (const [k, v] of Object.entries(vars)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  try {
    return fn();
  } finally {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  }
}

describe('pglane options', () => {
  let root;
  let configDir;
  before(() => {
    // A project: package.json at the root, the config in e2e/, factories beside it.
    root = mkdtempSync(join(tmpdir(), 'pglane-options-'));
    configDir = join(root, 'e2e');
    mkdirSync(join(configDir, 'data'), { recursive: true });
    writeFileSync(join(root, 'package.json'), '{"name":"app"}');
    writeFileSync(join(configDir, 'things.yaml'), YAML_A);
    writeFileSync(join(configDir, 'data', 'parts.yaml'), YAML_B);
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  test('factories: files relative to the config file, merged; a factory may use another file\'s', () => {
    const sources = factorySources({ factories: ['things.yaml', 'data/parts.yaml'] }, configDir);
    assert.deepEqual(sources.map((s) => s.name), ['e2e/things.yaml', 'e2e/data/parts.yaml']);
    const registry = loadFactories({ factories: ['things.yaml', 'data/parts.yaml'] }, configDir);
    assert.deepEqual(registry.names(), ['part', 'thing']);
    // Declared lane columns, and the columns filled by name/email/slug helpers.
    assert.deepEqual(registry.laneColumns(), { things: ['code', 'name'], parts: ['label'] });
  });

  test('factories: a single path, an object, the preset by option or by name, and nothing else', () => {
    assert.deepEqual(loadFactories({ factories: 'things.yaml' }, configDir).names(), ['thing']);
    assert.deepEqual(loadFactories({ factories: { factories: { x: { table: 't' } } } }, configDir).names(), ['x']);
    assert.deepEqual(loadFactories(undefined, configDir).names(), [], 'no preset unless asked');
    const preset = loadFactories({ preset: 'reference' }, configDir).names();
    assert.ok(preset.includes('completeSetup') && preset.includes('user'));
    const byName = loadFactories({ factories: ['reference', 'things.yaml'] }, configDir).names();
    assert.ok(byName.includes('completeSetup') && byName.includes('thing'));
    assert.deepEqual(
      factorySources({ preset: 'reference', factories: ['reference'] }, configDir).map((s) => s.name),
      ['the reference preset'],
      'asked twice, included once',
    );
  });

  test('factories: mistakes name the file', () => {
    let err = thrown(() => loadFactories({ factories: 'missing.yaml' }, configDir));
    assert.equal(err.code, 'PGLANE_FACTORY_DEFINITION');
    assert.match(err.message, /cannot read the factories file e2e\/missing\.yaml/);
    writeFileSync(join(configDir, 'twice.yaml'), YAML_A);
    err = thrown(() => loadFactories({ factories: ['things.yaml', 'twice.yaml'] }, configDir));
    assert.equal(err.code, 'PGLANE_FACTORY_DEFINITION');
    assert.match(err.message, /e2e\/twice\.yaml: factory "thing" is defined in e2e\/things\.yaml too/);
    writeFileSync(join(configDir, 'broken.yaml'), 'factories: [');
    err = thrown(() => loadFactories({ factories: 'broken.yaml' }, configDir));
    assert.match(err.message, /^e2e\/broken\.yaml: factory definitions are not valid/);
    err = thrown(() => loadFactories({ preset: 'nope' }, configDir));
    assert.match(err.message, /no preset named "nope"/);
  });

  test('global setup reads every project\'s use.pglane: schema files in order, once each, named from the package root', () => {
    const configFile = join(configDir, 'playwright.config.ts');
    const project = (pglane) => ({ use: { pglane } });
    const options = withEnv({ PGLANE_STRICT: undefined, PGLANE_QUIET: '1' }, () =>
      resolveOptions({
        configFile,
        projects: [
          project({ schemaFiles: ['../db/schema.sql', { path: '../db/seed.sql', onChange: 'reapply' }], laneColumns: { a: ['x'] } }),
          project({ schemaFiles: ['../db/schema.sql', '../db/extra.sql'], laneColumns: { a: ['y'] }, strict: true }),
          project(undefined),
        ],
      }),
    );
    assert.deepEqual(options.schemaFiles.map((f) => [f.name, f.onChange]), [
      ['db/schema.sql', undefined],
      ['db/seed.sql', 'reapply'],
      ['db/extra.sql', undefined],
    ]);
    assert.equal(options.schemaFiles[0].path, join(root, 'db', 'schema.sql'));
    assert.deepEqual(options.laneColumns, { a: ['x', 'y'] });
    assert.equal(options.strict, true);
    assert.equal(options.verbose, false);
    assert.deepEqual(options.databaseUrlEnv, ['DATABASE_URL']);
  });

  test('definePglaneConfig: options go to use.pglane, not to a side channel', () => {
    const config = withEnv({ DATABASE_URL: 'postgres://u@db/x' }, () =>
      definePglaneConfig({ use: { baseURL: 'http://app', pglane: { verbose: false } } }, { factories: 'f.yaml', schemaFiles: ['s.sql'] }),
    );
    assert.deepEqual(config.use.pglane, { verbose: false, factories: 'f.yaml', schemaFiles: ['s.sql'] });
    assert.equal(config.use.baseURL, 'http://app');
    assert.equal(config.metadata?.pglane, undefined);
    assert.ok(config.globalSetup[0].endsWith('global-setup.js'));
    assert.ok(config.reporter.some(([r]) => String(r).endsWith('reporter.js')));
  });

  test('web servers get DATABASE_URL unless they set it, through the environment they inherit, never in the config (Playwright writes it into its reports); pglaneEnv chooses the embedded URL in advance', () => {
    withEnv({ DATABASE_URL: 'postgres://u:secret@db/x', POSTGRES_URL: undefined, DB: undefined }, () => {
      const config = definePglaneConfig({
        webServer: [
          { command: 'a', url: 'http://a', env: { PORT: '1' } },
          { command: 'b', url: 'http://b', env: { DATABASE_URL: 'postgres://other/db' } },
        ],
      });
      assert.deepEqual(config.webServer[0].env, { PORT: '1' }, 'inherited from the runner, not written into the config');
      assert.deepEqual(config.webServer[1].env, { DATABASE_URL: 'postgres://other/db' }, 'the config\'s own value stays');
      assert.doesNotMatch(JSON.stringify(config), /secret/);
      assert.deepEqual(pglaneEnv({}, { databaseUrlEnv: ['POSTGRES_URL', 'DB'] }), {});
      assert.equal(process.env.POSTGRES_URL, 'postgres://u:secret@db/x', 'other names the app reads are set in the environment');
      assert.equal(process.env.DB, 'postgres://u:secret@db/x');
    });
    withEnv({ DATABASE_URL: undefined, PGLANE_DATABASE_URL: undefined, PGLANE_EMBEDDED: undefined, PGHOST: undefined, PGDATABASE: undefined }, () => {
      assert.deepEqual(pglaneEnv({ PORT: '3000' }), { PORT: '3000' });
      const url = process.env.DATABASE_URL;
      assert.match(url, /^postgres:\/\/postgres:[0-9a-f]{32}@127\.0\.0\.1:\d+\/postgres\?sslmode=disable$/);
      assert.equal(process.env.PGLANE_DATABASE_URL, url, 'global setup starts the server there');
      assert.equal(process.env.PGLANE_EMBEDDED, 'reserved');
      pglaneEnv();
      assert.equal(process.env.DATABASE_URL, url, 'chosen once');
    });
    withEnv({ DATABASE_URL: undefined, PGLANE_DATABASE_URL: undefined, PGHOST: '/var/run/postgresql' }, () => {
      assert.deepEqual(pglaneEnv({ PORT: '1' }), { PORT: '1' }, 'libpq variables are inherited as they are');
      assert.equal(process.env.DATABASE_URL, undefined);
    });
  });
});

describe('the summary reporter', () => {
  test('reads the lane statistics it knows and passes over anything else', () => {
    const Reporter = require('../dist/playwright/reporter.js').default;
    const reporter = new Reporter();
    const test = { annotations: [], titlePath: () => ['', 'file.spec.ts', 'a test'] };
    const result = (body) => ({ status: 'passed', errors: [], attachments: body === undefined ? [] : [{ name: 'pglane-stats', body: Buffer.from(body) }] });
    const good = { rowsCreated: 3, rowsCleaned: 3, cleanupMs: 2.5, roundTrips: 1, leaks: 0, failures: 0, collisions: 0, verified: true };
    reporter.onTestEnd(test, result(JSON.stringify(good)));
    reporter.onTestEnd(test, result('{"rowsCreated": 1}'));
    reporter.onTestEnd(test, result('not json'));
    reporter.onTestEnd(test, result(undefined));
    const summary = reporter.summary();
    assert.equal(summary.tests, 4);
    assert.equal(summary.rowsCreated, 3, 'only the well-formed statistics count');
  });
});
