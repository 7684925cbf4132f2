import { test, expect } from 'pglane/playwright';
import pg from 'pg';

test('creates data and then its worker is killed mid-test', async ({ lane }) => {
  test.skip(!process.env.PGLANE_CRASH, 'only when runs.test.mjs asks for a crash');
  await lane.factories.create('completeSetup');
  // A row that carries no lane name, tracked by hand: only the journal can find it.
  const client = new pg.Client({ connectionString: process.env.DATABASE_URL || process.env.PGLANE_DATABASE_URL });
  await client.connect();
  const { rows } = await client.query("insert into public.late_notes (body) values ('no lane name here') returning id");
  await client.end();
  lane.tracker.track('public.late_notes', rows[0].id);
  await lane.tracker.flush();
  process.kill(process.pid, 'SIGKILL');
});

test('a normal test in the same run', async ({ lane }) => {
  const org = await lane.factories.create('organization');
  expect(org.name.startsWith(lane.ctx.prefix('test'))).toBe(true);
});

test('times out after creating data; the fixture still cleans up', async ({ lane }) => {
  test.skip(!process.env.PGLANE_FIXTURE_CHECKS, 'only when runs.test.mjs asks for it');
  test.setTimeout(2_000);
  await lane.factories.create('completeSetup', { organization: { name: 'Timeout' } });
  await new Promise(() => {}); // never finishes
});

test('a cleanup that partly fails is reported on the test', async ({ lane }) => {
  test.skip(!process.env.PGLANE_FIXTURE_CHECKS, 'only when runs.test.mjs asks for it');
  const client = new pg.Client({ connectionString: process.env.DATABASE_URL || process.env.PGLANE_DATABASE_URL });
  await client.connect();
  const { rows } = await client.query("insert into public.archived_notes (body) values ('cannot be deleted') returning id");
  await client.end();
  lane.tracker.track('public.archived_notes', rows[0].id);
  await lane.factories.create('organization', { name: 'Deletable' });
});
