// Shared by the JS tests: the database URL (from the test runner, or an embedded server started
// for this file alone) and a `pg` client for checking what pglane wrote.
import { createRequire } from 'node:module';
import pg from 'pg';

const require = createRequire(import.meta.url);
export const pglane = require('pglane');

let embedded;
/** The URL of the test database; starts an embedded server when none is configured. */
export async function databaseUrl() {
  const url = process.env.DATABASE_URL || process.env.PGLANE_DATABASE_URL;
  if (url) return url;
  const { startEmbeddedPostgres } = require('pglane/embedded');
  embedded = await startEmbeddedPostgres();
  // As the test runner does: a plain URL (unnamed statements), whose round trips the tests count.
  const plain = new URL(embedded.url);
  plain.searchParams.delete('pglane_pooler');
  process.env.PGLANE_DATABASE_URL = plain.toString();
  return plain.toString();
}

/** Stops the server `databaseUrl` may have started. */
export async function stopDatabase() {
  await embedded?.stop();
  embedded = undefined;
}

/** A connected `pg` client (the independent witness of what pglane did). */
export async function pgClient(url) {
  const client = new pg.Client({ connectionString: url ?? (await databaseUrl()) });
  await client.connect();
  return client;
}

/** Runs `fn` with a `pg` client of its own on `url`, and ends the client after. */
export async function withPgClient(url, fn) {
  const client = await pgClient(url);
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Awaits `promise` and returns the error it rejects with (fails if it resolves). */
export async function rejection(promise) {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection, but the promise resolved');
}

/** Calls `fn` and returns the error it throws (fails if it returns). */
export function thrown(fn) {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected an exception, but none was thrown');
}
