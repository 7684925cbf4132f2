// pglane's global setup (database + run id) and the example schema.
import pglaneGlobalSetup from 'pglane/global-setup';
import pg from 'pg';

export default async function globalSetup() {
  const teardown = await pglaneGlobalSetup();
  const client = new pg.Client({ connectionString: process.env.DATABASE_URL || process.env.PGLANE_DATABASE_URL });
  await client.connect();
  await client.query(`
    create table if not exists example_organizations (
      id uuid primary key,
      name text not null unique,
      slug text not null unique,
      owner_email text not null
    )`);
  await client.end();
  return teardown;
}
