// 10 workers x 20 tests insert rows named by WorkerContext into one table: no unique
// violation, and each test's LIKE pattern selects exactly its own rows.
import { expect, test } from '@playwright/test';
import { WorkerContext } from 'pglane';
import pg from 'pg';

const BASES = ['user', '100%', 'under_score', 'back\\slash', "o'brien", '日本語', 'x'.repeat(128)];

let client: pg.Client;
test.beforeAll(async () => {
  client = new pg.Client({ connectionString: process.env.DATABASE_URL || process.env.PGLANE_DATABASE_URL });
  await client.connect();
});
test.afterAll(async () => {
  await client?.end();
});

for (let i = 0; i < 200; i++) {
  test(`lane ${i} sees exactly its own rows`, async ({}, testInfo) => {
    const ctx = WorkerContext.create(testInfo);
    expect(ctx.runId).toBe(process.env.PGLANE_RUN_ID);
    expect(ctx.workerId).toBe(testInfo.workerIndex);
    const names = BASES.map((b) => ctx.name(b));
    await client.query(
      'insert into pglane_lane_probe (name, worker, test_index, run_id) select unnest($1::text[]), $2, $3, $4',
      [names, ctx.workerId, ctx.testIndex, ctx.runId],
    );
    const own = await client.query('select name, worker, test_index from pglane_lane_probe where name like $1', [ctx.testPattern()]);
    expect(own.rows.map((r) => r.name).sort()).toEqual([...names].sort());
    expect(own.rows.every((r) => r.worker === ctx.workerId && r.test_index === ctx.testIndex)).toBe(true);
    const worker = await client.query(
      'select count(*) filter (where worker <> $2)::int as foreign_rows from pglane_lane_probe where name like $1',
      [ctx.workerPattern(), ctx.workerId],
    );
    expect(worker.rows[0].foreign_rows).toBe(0);
    const run = await client.query(
      'select count(*) filter (where run_id <> $2)::int as foreign_rows from pglane_lane_probe where name like $1',
      [ctx.runPattern(), ctx.runId],
    );
    expect(run.rows[0].foreign_rows).toBe(0);
  });
}
