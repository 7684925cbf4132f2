/**
 * Playwright global setup: a database, a run id, pglane's schema, your schema files, the run
 * registry, and the sweep of dead runs. It returns the teardown.
 *
 * - The database: `DATABASE_URL`; else the embedded PostgreSQL whose URL the config chose for
 *   the web servers (`definePglaneConfig` / `pglaneEnv`), started now; else a running one in
 *   `PGLANE_DATABASE_URL`; else libpq's `PGHOST`/`PGDATABASE`; else a new embedded server.
 *   The URL is exported as `DATABASE_URL` (or the names in `databaseUrlEnv`) to the rest of
 *   the run when it was not set.
 * - The run gets an id (`PGLANE_RUN_ID`, shared by every worker), is registered in the
 *   `pglane` schema and keeps a heartbeat. A role that may not create that schema runs without
 *   it: one message says what that loses and which grants bring it back.
 * - Schema files are applied once per database (recorded by content hash).
 * - The lanes of dead runs are swept (heartbeat expired), never a live run's.
 * - The teardown checks what this run left, says why (a failed cleanup it names, a crashed
 *   worker), sweeps it (or fails the run in strict mode), and stops the embedded server —
 *   after Playwright's web servers have stopped, so an app's pool does not see its database
 *   vanish under it.
 *
 * Errors reach the terminal as `[pglane] PGLANE_CODE: message`.
 */
import type { FullConfig } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { startEmbeddedPostgres, stopPendingEmbedded, stopWhenProcessExits, type EmbeddedPostgres } from '../embedded';
import { pglaneError, setupError } from '../errors';
import { RESERVED } from './database';
import { loadFactories } from './factories';
import { resolveOptions, type ResolvedOptions } from './options';
import { retryTransient, isTransient, TRANSIENT_CODES } from './retry';
import { resetRunState, runState, type TeardownSummary } from './run-state';
import { generateTypes } from '../types';
import * as native from '../../index';

function log(verbose: boolean, message: string) {
  if (verbose) console.log(`[pglane] ${message}`);
}

/** What a role without the `pglane` schema loses, said once per run. */
export function withoutSchemaMessage(status: native.SchemaStatus): string {
  return (
    `${status.missing}\n` +
    '[pglane] Running without the pglane schema. What that loses: no crash journal (rows of a killed worker ' +
    'are found by their lane names only; rows without one, e.g. tracked by hand, are not); no run registry ' +
    '(no heartbeats; what crashed runs left is not swept by later runs: `npx pglane sweep` needs the schema too); ' +
    'schema files are not recorded (they run on every run, so write them to run twice). Everything else works.'
  );
}

/** The lane columns of every project's factories (plus `laneColumns`), or `undefined` (the preset's). */
function laneColumnsOf(options: ResolvedOptions): Record<string, string[]> | undefined {
  const columns: Record<string, string[]> = {};
  let any = false;
  for (const set of options.factorySets) {
    if (set.factories === undefined && set.preset === undefined) continue;
    any = true;
    for (const [table, cols] of Object.entries(loadFactories(set, options.baseDir).laneColumns())) {
      columns[table] = [...new Set([...(columns[table] ?? []), ...cols])];
    }
  }
  for (const [table, cols] of Object.entries(options.laneColumns)) {
    any = true;
    columns[table] = [...new Set([...(columns[table] ?? []), ...cols])];
  }
  return any ? columns : undefined;
}

/** Where the database is, starting the embedded server when pglane must. */
async function database(): Promise<EmbeddedPostgres | undefined> {
  // A server an earlier run in this process (UI mode) left for its web servers goes now.
  await stopPendingEmbedded();
  // First: the reserved URL is also in DATABASE_URL when the config gave it to web servers.
  if (process.env.PGLANE_EMBEDDED === RESERVED && process.env.PGLANE_DATABASE_URL) {
    const reserved = new URL(process.env.PGLANE_DATABASE_URL);
    const embedded = await startEmbeddedPostgres({ port: Number(reserved.port), password: decodeURIComponent(reserved.password) });
    process.env.PGLANE_EMBEDDED = 'running';
    return embedded;
  }
  if (process.env.DATABASE_URL) return undefined;
  if (process.env.PGLANE_DATABASE_URL || process.env.PGHOST || process.env.PGDATABASE) return undefined;
  const embedded = await startEmbeddedPostgres();
  process.env.PGLANE_DATABASE_URL = embedded.url;
  process.env.PGLANE_EMBEDDED = 'running';
  return embedded;
}

export default async function globalSetup(config?: FullConfig): Promise<() => Promise<void>> {
  const savedEnv = { ...process.env };
  try {
    return await setup(config, savedEnv);
  } catch (err) {
    restoreEnv(savedEnv);
    throw setupError(err);
  }
}

function restoreEnv(saved: NodeJS.ProcessEnv) {
  for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
  Object.assign(process.env, saved);
}

async function setup(config: FullConfig | undefined, savedEnv: NodeJS.ProcessEnv): Promise<() => Promise<void>> {
  const options = resolveOptions(config);
  const state = resetRunState();
  const laneColumns = laneColumnsOf(options);
  const embedded = await database();
  if (embedded) log(options.verbose, `embedded PostgreSQL at ${embedded.safeUrl}`);
  let db: native.Db | undefined;
  try {
    const url = process.env.DATABASE_URL || process.env.PGLANE_DATABASE_URL;
    if (url) for (const name of options.databaseUrlEnv) process.env[name] ??= url;
    const runId = (process.env.PGLANE_RUN_ID ||= native.generateRunId());
    db = url ? native.Db.connect(url) : native.Db.default();
    const registry = new native.RunRegistry(db);
    const schema = await registry.ensureSchema();
    if (!schema.ready) {
      console.warn(`[pglane] ${withoutSchemaMessage(schema)}`);
      // The workers must not write to tables this role may not use (an admin made them, say).
      process.env.PGLANE_WITHOUT_SCHEMA = '1';
    }
    if (embedded) await registry.markTestDatabase();

    const files = options.schemaFiles.map((f) => {
      let sql: string;
      try {
        sql = readFileSync(f.path, 'utf8');
      } catch (err) {
        throw pglaneError('PGLANE_SCHEMA_FILE', `cannot read schema file ${f.name} (${f.path}): ${(err as Error).message}`);
      }
      return { name: f.name, sql, onChange: f.onChange };
    });
    for (const outcome of await registry.applySchemaFiles(files, runId, schema.ready)) {
      if (outcome.status === 'changed-skipped') {
        console.warn(`[pglane] schema file ${outcome.name} changed since it was applied; kept the database as it is (onChange: 'skip')`);
      } else {
        log(options.verbose, `schema file ${outcome.name}: ${outcome.status.replace('-', ' ')}`);
      }
    }

    if (options.typesOut) {
      const types = await generateTypes({ out: options.typesOut, registry: loadFactories(options.factorySets[0], options.baseDir), preset: false, db, onlyIfChanged: true });
      if (types.written) log(options.verbose, `the schema or the factories changed: wrote ${types.out}`);
    }

    const lanePattern = native.WorkerContext.create({ workerIndex: 0 }, { runId }).runPattern();
    let beat: NodeJS.Timeout | undefined;
    if (schema.ready) {
      await registry.register(runId, hostname(), process.pid, lanePattern);
      log(options.verbose, `run ${runId} on ${db.describe()}`);
      // Dead runs: their heartbeat stopped longer ago than the TTL. Live runs are never touched.
      const maySweep = Boolean(embedded) || options.allowSweep || (await registry.isTestDatabase());
      const dead = (await registry.expired(options.heartbeatTtlSeconds)).filter((r) => r.runId !== runId);
      if (dead.length && !maySweep) {
        log(options.verbose, `${dead.length} dead run(s) left data, but ${db.describe()} is not marked as a test database: run \`npx pglane mark-test-db\` or set PGLANE_ALLOW_SWEEP=1 to sweep`);
      } else {
        for (const run of dead) {
          const report = await registry.sweep(run.runId, { allowUnmarked: true, laneColumns });
          log(options.verbose, `swept dead run ${run.runId} (idle ${Math.round(run.idleSeconds)} s): ${report.totalDeleted} rows`);
        }
      }
      // Each beat records this run's own interval and TTL: other runs judge it by them. A run that
      // another run swept (a long database outage, say) finds itself unregistered and registers
      // again, so its teardown still finds and cleans its rows.
      const liveness = { heartbeatSeconds: options.heartbeatSeconds, ttlSeconds: options.heartbeatTtlSeconds };
      beat = setInterval(
        () =>
          void registry
            .heartbeat(runId, liveness)
            .then(async (registered) => {
              if (registered) return;
              await registry.register(runId, hostname(), process.pid, lanePattern, liveness);
              log(options.verbose, `run ${runId} was unregistered (swept by another run?): registered it again`);
            })
            .catch(() => {}),
        options.heartbeatSeconds * 1000,
      );
      beat.unref();
    } else {
      log(options.verbose, `run ${runId} on ${db.describe()}`);
    }

    return async function globalTeardown() {
      if (beat) clearInterval(beat);
      // A backend terminated or a server restarting now must not fail the run: each step is
      // retried (bounded) while the error is one time can cure.
      const retry = <T>(what: string, fn: () => Promise<T>) => retryTransient(what, fn, (m) => console.warn(m));
      try {
        const sweepOptions = { allowUnmarked: true, laneColumns, lanePattern: schema.ready ? undefined : lanePattern };
        const left = await retry(`teardown: checking what run ${runId} left`, () => registry.leftovers(runId, sweepOptions));
        const total = left.reduce((n, l) => n + l.rows, 0);
        const summary: TeardownSummary = { runId, leftovers: left, swept: 0, strict: options.strict, sweepFailures: [] };
        state.teardown = summary;
        if (total > 0) {
          const where = left.map((l) => `${l.table} (${l.rows})`).join(', ');
          const why = leftoverCause();
          if (options.strict) {
            throw new Error(`[pglane] run ${runId} left ${total} row(s) behind: ${where}; ${why}. Strict mode fails the run instead of sweeping them.`);
          }
          let swept = 0;
          const report = await retry(`teardown: sweeping run ${runId}`, async () => {
            const attempt = await registry.sweep(runId, sweepOptions);
            swept += attempt.totalDeleted;
            // A group the connection broke under is no refusal of the database: try again.
            const lost = attempt.failures.find((f) => TRANSIENT_CODES.has(f.code));
            if (lost) throw pglaneError(lost.code as native.PglaneErrorCode, `${lost.tables.join(' + ')}: ${lost.message}`, { sqlstate: lost.sqlstate });
            return attempt;
          });
          summary.swept = swept;
          summary.sweepFailures = report.failures.map((f) => ({ tables: f.tables, message: f.message }));
          const refused = report.failures.map((f) => `${f.tables.join(' + ')}: ${f.message}${f.sqlstate ? ` (SQLSTATE ${f.sqlstate})` : ''}`);
          log(
            options.verbose || refused.length > 0,
            `run ${runId} left ${total} row(s) in ${where}; ${why}. Swept ${swept} with their dependents` +
              (refused.length ? `; the database refused to delete the rest, which is still there: ${refused.join('; ')}` : ''),
          );
        } else {
          if (schema.ready) await retry(`teardown: forgetting run ${runId}`, () => registry.forget(runId));
          log(options.verbose, `run ${runId} left no rows`);
        }
      } catch (err) {
        if (isTransient(err)) {
          (err as Error).message += `. Run ${runId} stays registered: a later run sweeps what it left once its heartbeat expires, or now: npx pglane sweep ${runId}`;
        }
        throw setupError(err);
      } finally {
        db!.close();
        restoreEnv(savedEnv);
        if (embedded) {
          // Playwright stops its web servers after global teardown; the app's connections
          // must not see the server go first.
          if (config?.webServer) stopWhenProcessExits(embedded);
          else await embedded.stop();
        }
      }
    };
  } catch (err) {
    db?.close();
    await embedded?.stop();
    throw err;
  }
}

/** Why the run left rows, from what pglane's reporter saw. */
function leftoverCause(): string {
  const { cleanupFailures, workerCrashes } = runState();
  const causes: string[] = [];
  if (cleanupFailures.length) {
    const names = cleanupFailures.slice(0, 3).map((f) => `"${f.test}"`).join(', ');
    causes.push(`the cleanup of ${cleanupFailures.length} test(s) failed (${names}${cleanupFailures.length > 3 ? ', ...' : ''}): ${cleanupFailures[0].description}`);
  }
  if (workerCrashes.length) causes.push(`${workerCrashes.length} worker(s) exited unexpectedly`);
  if (!causes.length) causes.push('pglane\'s reporter saw no failed cleanup and no crashed worker (rows created outside any lane, a workerLane that could not be cleaned, or a run without pglane/reporter)');
  return causes.join('; ');
}
