/**
 * Playwright global setup: gives the run an id and a database. Without `DATABASE_URL` (or
 * libpq's `PGHOST`/`PGDATABASE`) it starts an embedded PostgreSQL and exports its URL to the
 * workers as `PGLANE_DATABASE_URL`. Returns the teardown that stops it.
 */
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../embedded';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const native = require('../../index.js') as { generateRunId(): string };

export default async function globalSetup(): Promise<() => Promise<void>> {
  let embedded: EmbeddedPostgres | undefined;
  const userDb = process.env.DATABASE_URL || process.env.PGLANE_DATABASE_URL || process.env.PGHOST || process.env.PGDATABASE;
  if (!userDb) {
    embedded = await startEmbeddedPostgres();
    process.env.PGLANE_DATABASE_URL = embedded.url;
  }
  if (!process.env.PGLANE_RUN_ID) process.env.PGLANE_RUN_ID = native.generateRunId();
  return async () => {
    await embedded?.stop();
  };
}
