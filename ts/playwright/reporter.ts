/**
 * pglane's end-of-run summary: tests, rows created and cleaned, leaks, cleanup time p50/p95,
 * collisions, and every test whose cleanup failed (by name, with the table and the reason).
 * Add it with `reporter: [['list'], ['pglane/reporter']]` (definePglaneConfig does). Nothing is
 * printed when no test ran (`--list`, a failed global setup). Also written as JSON to
 * `<outputDir>/pglane-summary.json`.
 */
import type { FullConfig, FullResult, Reporter, TestCase, TestResult } from '@playwright/test/reporter';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LaneStats } from './fixtures';
import { runState, type CleanupFailureNote, type TeardownSummary } from './run-state';

export interface PglaneSummary {
  tests: number;
  testsWithLane: number;
  passed: number;
  failed: number;
  rowsCreated: number;
  rowsCleaned: number;
  leaks: number;
  cleanupFailures: number;
  /** The tests whose cleanup failed, and why. */
  failedCleanups: CleanupFailureNote[];
  collisions: number;
  cleanupMsP50: number;
  cleanupMsP95: number;
  roundTripsPerCleanup: number;
  teardown?: TeardownSummary;
}

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

const WORKER_EXIT = /worker process exited unexpectedly/i;

export default class PglaneReporter implements Reporter {
  private stats: LaneStats[] = [];
  private tests = 0;
  private passed = 0;
  private failed = 0;
  private failedCleanups: CleanupFailureNote[] = [];
  private outputDir = 'test-results';

  onBegin(config: FullConfig) {
    this.outputDir = config.projects[0]?.outputDir ?? this.outputDir;
  }

  onTestEnd(test: TestCase, result: TestResult) {
    this.tests++;
    if (result.status === 'passed') this.passed++;
    else if (result.status === 'failed' || result.status === 'timedOut' || result.status === 'interrupted') this.failed++;
    const a = result.attachments.find((x) => x.name === 'pglane-stats');
    if (a?.body) this.stats.push(JSON.parse(a.body.toString()) as LaneStats);
    const state = runState();
    for (const note of test.annotations.filter((n) => n.type === 'pglane-cleanup')) {
      const failure = { test: test.titlePath().filter(Boolean).join(' › '), description: note.description ?? '' };
      this.failedCleanups.push(failure);
      state.cleanupFailures.push(failure);
    }
    for (const error of result.errors) {
      if (error.message && WORKER_EXIT.test(error.message)) state.workerCrashes.push(error.message);
    }
  }

  summary(): PglaneSummary {
    const times = this.stats.map((s) => s.cleanupMs).sort((a, b) => a - b);
    const sum = (f: (s: LaneStats) => number) => this.stats.reduce((n, s) => n + f(s), 0);
    const summary: PglaneSummary = {
      tests: this.tests,
      testsWithLane: this.stats.length,
      passed: this.passed,
      failed: this.failed,
      rowsCreated: sum((s) => s.rowsCreated),
      rowsCleaned: sum((s) => s.rowsCleaned),
      leaks: sum((s) => s.leaks),
      cleanupFailures: sum((s) => s.failures),
      failedCleanups: this.failedCleanups,
      collisions: sum((s) => s.collisions),
      cleanupMsP50: percentile(times, 50),
      cleanupMsP95: percentile(times, 95),
      roundTripsPerCleanup: this.stats.length ? sum((s) => s.roundTrips) / this.stats.length : 0,
    };
    const teardown = runState().teardown;
    if (teardown) summary.teardown = teardown;
    return summary;
  }

  onEnd(_result: FullResult) {
    // No test ran (`--list`, a failed setup): an empty summary would only hide the real output.
    if (this.tests === 0) return;
    const s = this.summary();
    const leftover = s.teardown ? s.teardown.leftovers.reduce((n, l) => n + l.rows, 0) : undefined;
    const lines = [
      '',
      'pglane summary',
      `  tests            ${s.tests} (${s.passed} passed, ${s.failed} failed, ${s.testsWithLane} with a lane)`,
      `  rows created     ${s.rowsCreated}`,
      `  rows cleaned     ${s.rowsCleaned} deleted by pglane, rows the app created included (ON DELETE CASCADE rows not counted)`,
      `  leaks            ${s.leaks} after per-test cleanup${leftover === undefined ? '' : `, ${leftover} found by teardown${s.teardown!.swept ? ` (swept ${s.teardown!.swept})` : ''}`}`,
      `  cleanup          p50 ${s.cleanupMsP50.toFixed(1)} ms, p95 ${s.cleanupMsP95.toFixed(1)} ms, ${s.roundTripsPerCleanup.toFixed(2)} round trips each`,
      `  collisions       ${s.collisions}`,
      `  cleanup failures ${s.failedCleanups.length}`,
      ...s.failedCleanups.map((f) => `    ✘ ${f.test}: ${f.description}`),
      ...(s.teardown?.sweepFailures ?? []).map((f) => `    ✘ teardown could not sweep ${f.tables.join(' + ')}: ${f.message}`),
    ];
    console.log(lines.join('\n'));
    try {
      mkdirSync(this.outputDir, { recursive: true });
      writeFileSync(join(this.outputDir, 'pglane-summary.json'), JSON.stringify(s, null, 2));
    } catch {
      // The summary on the console is what matters.
    }
  }

  printsToStdio() {
    return false;
  }
}
