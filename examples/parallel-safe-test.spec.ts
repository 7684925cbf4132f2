// Tests that would collide on 1-2 workers without lanes: every worker creates organizations
// with the same base names, and each test sees only its own.
import { expect, test } from '@playwright/test';
import { WorkerContext } from 'pglane';
import pg from 'pg';

let db: pg.Client;
test.beforeAll(async () => {
  db = new pg.Client({ connectionString: process.env.DATABASE_URL || process.env.PGLANE_DATABASE_URL });
  await db.connect();
});
test.afterAll(async () => db?.end());

async function createOrganization(ctx: WorkerContext, base: string) {
  const org = { id: ctx.uuid(), name: ctx.name(base), slug: ctx.slug(base), ownerEmail: ctx.email(`${base}-owner`) };
  await db.query('insert into example_organizations (id, name, slug, owner_email) values ($1, $2, $3, $4)', [
    org.id,
    org.name,
    org.slug,
    org.ownerEmail,
  ]);
  return org;
}

for (const base of ['Acme', 'Globex', 'Initech', 'Umbrella', 'Hooli', 'Stark Industries', '50% Off_Deals', "O'Reilly"]) {
  test(`creates organization "${base}" without colliding with other workers`, async ({}, testInfo) => {
    const ctx = WorkerContext.create(testInfo);
    const org = await createOrganization(ctx, base);
    const mine = await db.query('select id from example_organizations where name like $1', [ctx.testPattern()]);
    expect(mine.rows.map((r) => r.id)).toEqual([org.id]);
    await db.query('delete from example_organizations where name like $1', [ctx.testPattern()]);
  });
}
