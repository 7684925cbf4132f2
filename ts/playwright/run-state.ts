/**
 * What pglane's global setup and its reporter tell each other during one run. Both run in
 * Playwright's runner process, so this is memory (on `globalThis`, shared by every copy of
 * this module), never a file: the teardown learns which tests' cleanup failed and whether a
 * worker died, to say why rows were left; the reporter learns what the teardown found.
 */

/** A test whose lane could not be cleaned. */
export interface CleanupFailureNote {
  /** `file › describe › title`. */
  test: string;
  /** What failed: tables and Postgres' reason. */
  description: string;
}

/** What the teardown found and did. */
export interface TeardownSummary {
  runId: string;
  leftovers: { table: string; rows: number }[];
  swept: number;
  strict: boolean;
  /** Tables the sweep could not clean, with the reason. */
  sweepFailures: { tables: string[]; message: string }[];
}

export interface RunState {
  cleanupFailures: CleanupFailureNote[];
  /** Messages of workers that exited unexpectedly. */
  workerCrashes: string[];
  teardown?: TeardownSummary;
}

const KEY = Symbol.for('pglane.run-state');

/** The run's shared state (created on first use). */
export function runState(): RunState {
  const g = globalThis as unknown as Record<symbol, RunState | undefined>;
  return (g[KEY] ??= { cleanupFailures: [], workerCrashes: [] });
}

/** Starts a new run's state (global setup calls it: UI mode runs many in one process). */
export function resetRunState(): RunState {
  const g = globalThis as unknown as Record<symbol, RunState | undefined>;
  g[KEY] = { cleanupFailures: [], workerCrashes: [] };
  return g[KEY]!;
}
