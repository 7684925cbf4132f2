// (a) pglane, used exactly as a Playwright test uses it: WorkerContext.create, a tracker per
// test, createWorkerScopedCompleteSetup, new CleanupManager(db, tracker).cleanup() and
// cleanupPattern(). Round trips come from pglane's own counters (`db.roundTrips`,
// `report.roundTrips`, `report.statements`): pipelined statements count as one round trip.
import { createRequire } from 'node:module';
import { trackCompleteSetup } from '../__test__/reference.mjs';

const require = createRequire(import.meta.url);
export const pglane = require('pglane');

const { WorkerContext, ResourceTracker, CleanupManager, Db, createWorkerScopedCompleteSetup } = pglane;

export class PglaneImpl {
  constructor(url, { poolSize = 2, applicationName = 'pglane-bench-a' } = {}) {
    this.db = Db.connect(url, { poolSize, applicationName });
    this.key = 'a';
    this.extraStatements = 0;
    this.maxConnections = 0;
    this.tests = 0;
  }

  /** Round trips so far (pglane's counter: pipelined statements count once). */
  get roundTrips() {
    return this.db.roundTrips;
  }
  /** Statements so far: round trips plus the statements pipelined behind another. */
  get statements() {
    return this.db.roundTrips + this.extraStatements;
  }
  get openConnections() {
    const n = this.db.openConnections;
    this.maxConnections = Math.max(this.maxConnections, n);
    return n;
  }
  async warm() {
    await this.db.serverInfo();
  }
  close() {
    this.db.close();
  }

  /** A new test's lane (pglane numbers the tests of a process itself). */
  lane(runId, workerId) {
    const ctx = WorkerContext.create({ workerIndex: workerId, testId: `bench-${this.tests++}` }, { runId });
    return { ctx, tracker: ResourceTracker.forTest({}, ctx, this.db) };
  }

  name(lane, base) {
    return lane.ctx.name(base);
  }

  async completeSetup({ ctx, tracker }, options = {}) {
    const setup = await createWorkerScopedCompleteSetup(ctx, tracker, options);
    this.openConnections;
    return setup;
  }

  trackCompleteSetup({ tracker }, ids) {
    trackCompleteSetup(tracker, ids);
  }

  trackRows({ tracker }, rows) {
    for (const [table, id] of rows) tracker.track(table, id);
  }

  async cleanup({ tracker }) {
    const report = await new CleanupManager(this.db, tracker).cleanup();
    this.extraStatements += report.statements - report.roundTrips;
    this.openConnections;
    return report;
  }

  async cleanupPattern(pattern, lane) {
    const report = await new CleanupManager(this.db, lane.tracker).cleanupPattern(pattern, { allowUnmarked: true });
    this.extraStatements += report.statements - report.roundTrips;
    this.openConnections;
    return report;
  }
}
