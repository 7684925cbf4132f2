/**
 * The `lane` fixture: a test's WorkerContext, ResourceTracker, DbLocks and factories, cleaned
 * up after every test (also when it fails or times out), with the cleanup report attached.
 */
import { test as base, type TestInfo } from '@playwright/test';
import * as native from '../../index';
import '../index';
import type { TypedLaneFactories } from '../types';

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

/**
 * Factories bound to the test's lane: `create('organization', { name: 'Acme' })`, or any table:
 * `create('public.tasks')`. Typed by the types `npx pglane types` generates, once registered.
 */
export type LaneFactories = TypedLaneFactories;

/** What the `lane` fixture gives a test. */
export interface Lane {
  ctx: native.WorkerContext;
  tracker: native.ResourceTracker;
  locks: native.DbLocks;
  factories: LaneFactories;
  db: native.Db;
}

interface WorkerFixtures {
  pglaneDb: native.Db;
  pglaneFactories: native.Factories;
}

function bindFactories(registry: native.Factories, ctx: native.WorkerContext, tracker: native.ResourceTracker, stats: LaneStats): LaneFactories {
  const counted = async <T>(p: Promise<T>): Promise<T> => {
    try {
      return await p;
    } catch (err) {
      if ((err as { code?: string }).code === 'PGLANE_CONFLICT') stats.collisions++;
      throw err;
    }
  };
  type Options = native.FactoryOptions | null;
  return {
    registry,
    create: (name: string, attrs?: object, options?: object) => counted(registry.create(name, ctx, tracker, attrs ?? null, (options ?? null) as Options)),
    createList: (name: string, count: number, attrs?: object, options?: object) =>
      counted(registry.createList(name, count, ctx, tracker, attrs ?? null, (options ?? null) as Options)),
    build: (name: string, attrs?: object, options?: object) => registry.build(name, ctx, attrs ?? null, (options ?? null) as Options),
  } as unknown as LaneFactories;
}

async function finishLane(lane: Lane, stats: LaneStats, testInfo: TestInfo) {
  await lane.locks.releaseAll().catch(() => 0);
  stats.rowsCreated = lane.tracker.count();
  const started = performance.now();
  let report: native.CleanupReport | undefined;
  let error: unknown;
  try {
    report = await new native.CleanupManager(lane.db, lane.tracker).cleanup();
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
  await testInfo.attach('pglane-stats', { body: JSON.stringify(stats), contentType: 'application/json' });
  if (error || (report && (report.failures.length > 0 || report.verified === false))) {
    const description = error
      ? `cleanup failed: ${(error as Error).message}`
      : `cleanup left rows: ${report!.failures.map((f) => `${f.tables.join('+')}: ${f.message}`).join('; ') || JSON.stringify(report!.remaining)}`;
    testInfo.annotations.push({ type: 'pglane-cleanup', description });
    await testInfo.attach('pglane-cleanup-report', {
      body: JSON.stringify(report ?? { error: String(error), tracked: lane.tracker.list() }, null, 2),
      contentType: 'application/json',
    });
    // A cleanup that could do nothing fails the test; partial failures are reported here and
    // swept by the run's teardown (strict mode fails the run there).
    if (error) throw error;
  }
}

/** Playwright's `test` with pglane's `lane` fixture. */
export const test = base.extend<{ lane: Lane }, WorkerFixtures>({
  pglaneDb: [
    async ({}, use) => {
      const db = native.Db.default();
      await use(db);
    },
    { scope: 'worker' },
  ],
  pglaneFactories: [async ({ pglaneDb }, use) => use(native.Factories.preset(pglaneDb)), { scope: 'worker' }],
  lane: async ({ pglaneDb, pglaneFactories }, use, testInfo) => {
    const ctx = native.WorkerContext.create(testInfo);
    const tracker = native.ResourceTracker.forTest(testInfo, ctx, pglaneDb);
    const stats: LaneStats = { rowsCreated: 0, rowsCleaned: 0, cleanupMs: 0, roundTrips: 0, leaks: 0, failures: 0, collisions: 0, verified: null };
    const lane: Lane = {
      ctx,
      tracker,
      locks: new native.DbLocks(pglaneDb),
      factories: bindFactories(pglaneFactories, ctx, tracker, stats),
      db: pglaneDb,
    };
    try {
      await use(lane);
    } finally {
      await finishLane(lane, stats, testInfo);
    }
  },
});

export { expect } from '@playwright/test';
