/**
 * Which database a run uses, and how the processes Playwright starts learn it.
 *
 * Playwright starts `webServer` processes before global setup, with the environment they
 * will keep. So when pglane is to start an embedded PostgreSQL, its URL (a free port and a
 * new password) is chosen earlier, while the config is read, and handed to the web servers
 * in their environment; global setup then starts the server exactly there. The URL lives in
 * environment variables of this run's processes only, never in a file, and never in the config:
 * Playwright writes a web server's `env` into its JSON and blob reports, files that CI keeps.
 */
import { randomBytes } from 'node:crypto';
import { freePortSync } from './free-port';
import type { PglaneOptions } from './options';
import { databaseUrlEnvNames } from './options';

/** `PGLANE_EMBEDDED` when a URL was chosen for an embedded server not started yet. */
export const RESERVED = 'reserved';

/**
 * The URL of the database pglane uses in this process: `DATABASE_URL`, else the embedded
 * server's (`PGLANE_DATABASE_URL`), else `undefined` (libpq's `PG*` variables, or nothing).
 * For your own scripts, fixtures and global setups.
 */
export function databaseUrl(): string | undefined {
  return process.env.DATABASE_URL || process.env.PGLANE_DATABASE_URL || undefined;
}

/**
 * The database URL web servers should get: the one pglane will use, chosen now when global
 * setup is going to start an embedded server. `undefined` when libpq's variables name the
 * database (the web server inherits them).
 */
export function webServerDatabaseUrl(): string | undefined {
  const known = databaseUrl();
  if (known) return known;
  if (process.env.PGHOST || process.env.PGDATABASE) return undefined;
  const password = randomBytes(16).toString('hex');
  const url = `postgres://postgres:${password}@127.0.0.1:${freePortSync()}/postgres?sslmode=disable`;
  process.env.PGLANE_DATABASE_URL = url;
  process.env.PGLANE_EMBEDDED = RESERVED;
  return url;
}

/**
 * The environment for a `webServer` entry: `env` as it is, with the database URL made
 * available to the web server under `DATABASE_URL` (or the names given) where `env` does not set
 * them. The URL goes into this process's environment, which Playwright passes on to every web
 * server, not into `env`: Playwright writes a web server's `env` into its JSON and blob reports,
 * so the password would end up in files CI uploads.
 *
 * ```ts
 * webServer: { command: 'npm run start', url: 'http://127.0.0.1:3000', env: pglaneEnv() },
 * ```
 *
 * `definePglaneConfig` does this for every `webServer` entry.
 */
export function pglaneEnv(env: Record<string, string> = {}, options: Pick<PglaneOptions, 'databaseUrlEnv'> = {}): Record<string, string> {
  const names = databaseUrlEnvNames(options).filter((n) => env[n] === undefined);
  if (!names.length) return env;
  const url = webServerDatabaseUrl();
  if (!url) return env;
  for (const name of names) process.env[name] ??= url;
  return env;
}
