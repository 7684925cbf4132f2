/**
 * pglane's fixtures:
 *
 * - `lane` (per test): a test's WorkerContext, ResourceTracker, DbLocks, factories and
 *   database, cleaned up after the test (also when it fails or times out). A cleanup that
 *   leaves rows fails the test, naming the table and Postgres' reason.
 * - `workerLane` (per worker): the same for data a file's tests share (`test.beforeAll`),
 *   cleaned when the worker ends. `lane` refuses to be used in `beforeAll`/`afterAll`, where
 *   its rows would be deleted as soon as the hook ends.
 * - the option `pglane` (see `options.ts`): factories, schema files and run settings.
 *
 * The fixtures are generic over a factory-types map (see `factory-types.ts`): augment
 * `PglaneFactories`, or use `pglaneTest<MyFactories>()`.
 */
import { test as base, type TestInfo, type TestType, type PlaywrightTestArgs, type PlaywrightTestOptions, type PlaywrightWorkerArgs, type PlaywrightWorkerOptions, type WorkerInfo } from '@playwright/test';
import * as native from '../../index';
import '../index';
import { pglaneError, setupError } from '../errors';
import type { FactoryAttrs, FactoryCallOptions, FactoryName, FactoryResult, RegisteredFactories } from '../factory-types';
import { loadFactories } from './factories';
import { retryTransient, type RetryPolicy } from './retry';
import { baseDir, type PglaneOptions, type PglaneWorkerOptions } from './options';

/** Statistics a test's lane reports to pglane's reporter. */
export interface LaneStats {
  rowsCreated: number;
  rowsCleaned: number;
  cleanupMs: number;
  roundTrips: number;
  leaks: number;
  failures: number;
  collisions: number;
  verified: boolean | null;
}

/** Factories bound to a lane: `create('project', { name: 'Apollo' }, { traits: ['archived'] })`. */
export interface LaneFactories<F = RegisteredFactories> {
  /** Inserts a row (or a factory's rows) in one statement; tracks them; resolves with them as stored. */
  create<N extends FactoryName<F>>(name: N, attrs?: FactoryAttrs<F, N>, options?: FactoryCallOptions<F, N>): Promise<FactoryResult<F, N>>;
  /** `count` rows (or sets) in one statement. */
  createList<N extends FactoryName<F>>(name: N, count: number, attrs?: FactoryAttrs<F, N>, options?: FactoryCallOptions<F, N>): Promise<FactoryResult<F, N>[]>;
  /** The values `create` would insert, without inserting (database defaults absent). */
  build<N extends FactoryName<F>>(name: N, attrs?: FactoryAttrs<F, N>, options?: FactoryCallOptions<F, N>): Partial<FactoryResult<F, N>>;
  /** The factory names. */
  names(): FactoryName<F>[];
  /** The underlying registry. */
  registry: native.Factories;
}

/** What the `lane` and `workerLane` fixtures give. */
export interface Lane<F = RegisteredFactories> {
  /** Names, emails, slugs, UUIDs and LIKE patterns of this lane. */
  ctx: native.WorkerContext;
  /** Every row this lane created; cleanup deletes them (and what references them). */
  tracker: native.ResourceTracker;
  /** Advisory locks, released when the lane ends. */
  locks: native.DbLocks;
  /** Your factories, bound to this lane. */
  factories: LaneFactories<F>;
  /** The worker's database handle: `query<T>`, `one<T>`, `many<T>`, `execute`, `executeScript`. */
  db: native.Db;
}

/** The test-scoped fixtures pglane adds. */
export interface PglaneTestFixtures<F = RegisteredFactories> {
  lane: Lane<F>;
}

/** The worker-scoped fixtures (and the option) pglane adds. */
export interface PglaneWorkerFixtures<F = RegisteredFactories> extends PglaneWorkerOptions {
  workerLane: Lane<F>;
  /** The worker's database handle (internal; `lane.db`). */
  pglaneDb: native.Db;
  /** The worker's factories, from the `pglane` option (internal; `lane.factories.registry`). */
  pglaneFactories: native.Factories;
}

/** Playwright's `test` with pglane's fixtures, typed by factory-types map `F`. */
export type PglaneTest<F = RegisteredFactories> = TestType<
  PlaywrightTestArgs & PlaywrightTestOptions & PglaneTestFixtures<F>,
  PlaywrightWorkerArgs & PlaywrightWorkerOptions & PglaneWorkerFixtures<F>
>;

function emptyStats(): LaneStats {
  return { rowsCreated: 0, rowsCleaned: 0, cleanupMs: 0, roundTrips: 0, leaks: 0, failures: 0, collisions: 0, verified: null };
}

/** Says what to do when a factory is unknown because none, or not the preset, is configured. */
function explainUnknown(err: unknown, registry: native.Factories, name: string): unknown {
  const e = err as { code?: string; message?: string };
  if (e?.code !== 'PGLANE_FACTORY_UNKNOWN') return err;
  if (registry.names().length === 0) {
    e.message = `no factory named ${JSON.stringify(name)}: no factories are configured. Give pglane your factory files (definePglaneConfig(config, { factories: 'e2e/factories.yaml' }), or use: { pglane: { factories } }); the reference app's preset is preset: 'reference'`;
  } else if (native.Factories.preset().names().includes(name)) {
    e.message += `. ${JSON.stringify(name)} is a factory of the reference preset: add preset: 'reference' to the pglane options to use it`;
  }
  return err;
}

function bindFactories(registry: native.Factories, ctx: native.WorkerContext, tracker: native.ResourceTracker, stats: LaneStats): LaneFactories<any> {
  const counted = async <T>(name: string, p: () => Promise<T>): Promise<T> => {
    try {
      return await p();
    } catch (err) {
      if ((err as { code?: string }).code === 'PGLANE_CONFLICT') stats.collisions++;
      throw explainUnknown(err, registry, name);
    }
  };
  return {
    registry,
    names: () => registry.names(),
    create: (name, attrs, options) => counted(name, () => registry.create(name, ctx, tracker, attrs ?? null, options ?? null)),
    createList: (name, count, attrs, options) => counted(name, () => registry.createList(name, count, ctx, tracker, attrs ?? null, options ?? null)),
    build: (name, attrs, options) => {
      try {
        return registry.build(name, ctx, attrs ?? null, options ?? null);
      } catch (err) {
        throw explainUnknown(err, registry, name);
      }
    },
  };
}

/** A test's cleanup outlasts a dropped connection or a quick restart, within seconds, not a teardown's 30. */
const LANE_CLEANUP_RETRY: RetryPolicy = { budgetMs: 5_000, firstDelayMs: 100, maxDelayMs: 1_000 };

function openLane(ctx: native.WorkerContext, db: native.Db, registry: native.Factories, stats: LaneStats): Lane<any> {
  const tracker = native.ResourceTracker.forTest({}, ctx, db);
  return { ctx, tracker, locks: new native.DbLocks(db), factories: bindFactories(registry, ctx, tracker, stats), db };
}

/** What one lane's cleanup did, and the message when it left rows (`undefined` when clean). */
async function cleanLane(lane: Lane<any>, stats: LaneStats): Promise<{ report?: native.CleanupReport; error?: unknown; problem?: string }> {
  await lane.locks.releaseAll().catch(() => 0);
  stats.rowsCreated = lane.tracker.count();
  const started = performance.now();
  let report: native.CleanupReport | undefined;
  let error: unknown;
  try {
    // A connection lost (a backend terminated, a pooler recycling, a restart) is worth a few
    // more tries: a cleanup that throws did nothing, and its tracker keeps the rows.
    report = await retryTransient(
      `cleaning up lane ${lane.ctx.testPattern()}`,
      () => new native.CleanupManager(lane.db, lane.tracker).cleanup(),
      (m) => console.warn(m),
      LANE_CLEANUP_RETRY,
    );
  } catch (err) {
    error = err;
  }
  stats.cleanupMs = performance.now() - started;
  if (report) {
    stats.rowsCleaned = report.totalDeleted;
    stats.roundTrips = report.roundTrips;
    stats.failures = report.failures.length;
    stats.leaks = Object.values(report.remaining).reduce((n, v) => n + v, 0);
    stats.verified = report.verified ?? null;
  } else {
    stats.failures = 1;
    stats.leaks = lane.tracker.count();
  }
  let problem: string | undefined;
  if (error) {
    problem = `${(error as { code?: string }).code ?? 'error'}: ${(error as Error).message}`;
  } else if (report && (report.failures.length > 0 || report.verified === false)) {
    const failures = report.failures.map((f) => `${f.tables.join(' + ')}: ${f.message}${f.sqlstate ? ` (SQLSTATE ${f.sqlstate})` : ''}`);
    const remaining = Object.entries(report.remaining).filter(([, n]) => n > 0).map(([t, n]) => `${t}: ${n} row(s) still there`);
    problem = [...failures, ...(failures.length ? [] : remaining)].join('; ');
  }
  return { report, error, problem };
}

function failureCode(result: { report?: native.CleanupReport; error?: unknown }): native.PglaneErrorCode {
  const fromError = (result.error as { code?: string } | undefined)?.code;
  const fromReport = result.report?.failures[0]?.code;
  const code = fromError ?? fromReport;
  return (code && code.startsWith('PGLANE_') ? code : 'PGLANE_DB_QUERY') as native.PglaneErrorCode;
}

async function finishLane(lane: Lane<any>, stats: LaneStats, testInfo: TestInfo) {
  const result = await cleanLane(lane, stats);
  // Pushed, not `attach()`ed: reporters get it the same way, but `attach()` also adds a step to
  // every test (its stack captured) and makes the test's output directory on disk, which was
  // most of what the fixture cost an empty test (1.1-1.8 ms of 1.6-2.4, `npm run bench`).
  testInfo.attachments.push({ name: 'pglane-stats', contentType: 'application/json', body: Buffer.from(JSON.stringify(stats)) });
  if (!result.problem) return;
  const title = testInfo.titlePath.join(' › ');
  testInfo.annotations.push({ type: 'pglane-cleanup', description: result.problem });
  await testInfo.attach('pglane-cleanup-report', {
    body: JSON.stringify(result.report ?? { error: String(result.error), tracked: lane.tracker.list() }, null, 2),
    contentType: 'application/json',
  });
  // The test's rows are still in the database: that is no clean pass. The run's teardown
  // tries again (strict mode fails the run there).
  throw pglaneError(failureCode(result), `[pglane] the cleanup after "${title}" left rows: ${result.problem}`, {
    sqlstate: result.report?.failures[0]?.sqlstate ?? (result.error as { sqlstate?: string } | undefined)?.sqlstate,
  });
}

function hookType(testInfo: TestInfo): string | undefined {
  // Playwright runs beforeAll/afterAll hooks with a test's TestInfo; only this (internal)
  // method tells them apart. A test (lane-scope.spec.ts) keeps it honest across upgrades.
  const info = testInfo as TestInfo & { _currentHookType?: () => string | undefined };
  return typeof info._currentHookType === 'function' ? info._currentHookType() : undefined;
}

/** Playwright's `test` with pglane's `lane` and `workerLane` fixtures. */
export const test: PglaneTest = base.extend<PglaneTestFixtures<any>, PglaneWorkerFixtures<any>>({
  pglane: [{}, { scope: 'worker', option: true }],
  pglaneDb: [
    async ({}, use) => {
      await use(native.Db.default());
    },
    { scope: 'worker', box: true },
  ],
  pglaneFactories: [
    async ({ pglane, pglaneDb }: { pglane: PglaneOptions; pglaneDb: native.Db }, use: (r: native.Factories) => Promise<void>, workerInfo: WorkerInfo) => {
      let registry: native.Factories;
      try {
        registry = loadFactories(pglane, baseDir(workerInfo.config), pglaneDb);
      } catch (err) {
        throw setupError(err);
      }
      await use(registry);
    },
    { scope: 'worker', box: true },
  ],
  workerLane: [
    async ({ pglaneDb, pglaneFactories }, use, workerInfo) => {
      const ctx = native.WorkerContext.create({
        workerIndex: workerInfo.workerIndex,
        parallelIndex: workerInfo.parallelIndex,
        project: { name: workerInfo.project.name },
      });
      const stats = emptyStats();
      const lane = openLane(ctx, pglaneDb, pglaneFactories, stats);
      try {
        await use(lane);
      } finally {
        const result = await cleanLane(lane, stats);
        if (result.problem) {
          const project = workerInfo.project.name ? ` (project ${workerInfo.project.name})` : '';
          throw pglaneError(failureCode(result), `[pglane] the cleanup of the workerLane of worker ${workerInfo.workerIndex}${project} left rows: ${result.problem}`);
        }
      }
    },
    { scope: 'worker', timeout: 0 },
  ],
  lane: async ({ pglaneDb, pglaneFactories }, use, testInfo) => {
    const hook = hookType(testInfo);
    if (hook === 'beforeAll' || hook === 'afterAll') {
      throw pglaneError(
        'PGLANE_FIXTURE_SCOPE',
        `[pglane] \`lane\` belongs to one test, but test.${hook} asked for it: its rows would be deleted as soon as the hook ends. ` +
          'Use `workerLane` for data the tests of a file share (cleaned when the worker ends), or create the data in each test (or beforeEach) with `lane`.',
      );
    }
    const ctx = native.WorkerContext.create(testInfo);
    const stats = emptyStats();
    const lane = openLane(ctx, pglaneDb, pglaneFactories, stats);
    try {
      await use(lane);
    } finally {
      await finishLane(lane, stats, testInfo);
    }
  },
}) as unknown as PglaneTest;

/** `test` typed by an explicit factory-types map: `const test = pglaneTest<MyFactories>()`. */
export function pglaneTest<F>(): PglaneTest<F> {
  return test as unknown as PglaneTest<F>;
}

export { expect } from '@playwright/test';
