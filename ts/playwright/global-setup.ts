/**
 * Playwright global setup: a database, a run id, the run registry, and the sweep of dead runs.
 *
 * - Without `DATABASE_URL` (or libpq's `PGHOST`/`PGDATABASE`) it starts an embedded PostgreSQL
 *   and exports its URL to the workers as `PGLANE_DATABASE_URL`.
 * - It gives the run an id (`PGLANE_RUN_ID`, shared by every worker), registers it in the
 *   `pglane` schema, and keeps its heartbeat while the run lasts.
 * - It sweeps the lanes of runs whose heartbeat expired (crashed runs), never a live run's, so
 *   shards and concurrent CI jobs can share one database.
 * - The teardown it returns checks that this run left no rows, sweeps any (or fails the run in
 *   strict mode), and stops the embedded server.
 */
import type { FullConfig } from '@playwright/test';
import { readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../embedded';
import { resolveOptions } from './options';
import { generateTypes } from '../types';
import * as native from '../../index';

function log(verbose: boolean, message: string) {
  if (verbose) console.log(`[pglane] ${message}`);
}

export default async function globalSetup(config?: FullConfig): Promise<() => Promise<void>> {
  const options = resolveOptions(config);
  let embedded: EmbeddedPostgres | undefined;
  const userDb = process.env.DATABASE_URL || process.env.PGLANE_DATABASE_URL || process.env.PGHOST || process.env.PGDATABASE;
  if (!userDb) {
    embedded = await startEmbeddedPostgres();
    process.env.PGLANE_DATABASE_URL = embedded.url;
    log(options.verbose, `embedded PostgreSQL at ${embedded.safeUrl}`);
  }
  const runId = (process.env.PGLANE_RUN_ID ||= native.generateRunId());
  const db = native.Db.default();
  const registry = new native.RunRegistry(db);
  await registry.ensureSchema();
  if (embedded) await registry.markTestDatabase();
  for (const file of options.schemaFiles) {
    await db.executeScript(readFileSync(file, 'utf8'));
  }
  if (options.types) {
    const types = await generateTypes({ ...(typeof options.types === 'object' ? options.types : {}), db, onlyIfChanged: true });
    if (types.written) log(options.verbose, `schema or factories changed: wrote ${types.out}`);
  }
  const lanePattern = native.WorkerContext.create({ workerIndex: 0 }, { runId }).runPattern();
  await registry.register(runId, hostname(), process.pid, lanePattern);
  log(options.verbose, `run ${runId} on ${db.describe()}`);

  // Dead runs: their heartbeat stopped longer ago than the TTL. Live runs are never touched.
  const maySweep = Boolean(embedded) || options.allowSweep || (await registry.isTestDatabase());
  const dead = (await registry.expired(options.heartbeatTtlSeconds)).filter((r) => r.runId !== runId);
  if (dead.length && !maySweep) {
    log(options.verbose, `${dead.length} dead run(s) left data, but ${db.describe()} is not marked as a test database: run \`npx pglane mark-test-db\` or set PGLANE_ALLOW_SWEEP=1 to sweep`);
  } else {
    for (const run of dead) {
      const report = await registry.sweep(run.runId, { allowUnmarked: true });
      log(options.verbose, `swept dead run ${run.runId} (idle ${Math.round(run.idleSeconds)} s): ${report.totalDeleted} rows`);
    }
  }

  const beat = setInterval(() => void registry.heartbeat(runId).catch(() => {}), options.heartbeatSeconds * 1000);
  beat.unref();

  // Web servers start before global setup; they find the database through this file.
  const stateFile = process.env.PGLANE_STATE_FILE;
  if (stateFile) writeFileSync(stateFile, JSON.stringify({ databaseUrl: process.env.DATABASE_URL || process.env.PGLANE_DATABASE_URL, runId }));

  return async function globalTeardown() {
    clearInterval(beat);
    try {
      const left = await registry.leftovers(runId);
      const total = left.reduce((n, l) => n + l.rows, 0);
      const summary = { runId, leftovers: left, swept: 0, strict: options.strict };
      if (total > 0 && options.strict) {
        writeTeardownSummary(summary);
        throw new Error(
          `[pglane] run ${runId} left ${total} row(s) behind: ${left.map((l) => `${l.table} (${l.rows})`).join(', ')}. ` +
            'Strict mode fails the run instead of sweeping them.',
        );
      }
      if (total > 0) {
        const report = await registry.sweep(runId, { allowUnmarked: true });
        summary.swept = report.totalDeleted;
        log(options.verbose, `run ${runId} left ${total} row(s) (a killed worker?): swept ${report.totalDeleted} with their dependents`);
      } else {
        await registry.forget(runId);
        log(options.verbose, `run ${runId} left no rows`);
      }
      writeTeardownSummary(summary);
    } finally {
      db.close();
      await embedded?.stop();
    }
  };
}

function writeTeardownSummary(summary: unknown) {
  const stateFile = process.env.PGLANE_STATE_FILE;
  if (stateFile) writeFileSync(`${stateFile}.teardown.json`, JSON.stringify(summary));
}
