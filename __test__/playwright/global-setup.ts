// pglane's own global setup, plus the probe table the lane tests write to.
import pglaneGlobalSetup from 'pglane/global-setup';
import pg from 'pg';

export default async function globalSetup() {
  const teardownPglane = await pglaneGlobalSetup();
  const url = process.env.DATABASE_URL || process.env.PGLANE_DATABASE_URL;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(
    'create table if not exists pglane_lane_probe (name text primary key, worker int not null, test_index int not null, run_id text not null)',
  );
  await client.end();
  return async () => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    await c.query('delete from pglane_lane_probe where run_id = $1', [process.env.PGLANE_RUN_ID]);
    await c.end();
    await teardownPglane();
  };
}
