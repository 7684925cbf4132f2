// pglane's example suite: tests that would trample each other's data on a shared database, made
// parallel-safe. Run with 10 workers and --repeat-each=3 by `npm run demo`.
import {
  test, expect, WorkerContext, ResourceTracker, CleanupManager, createWorkerScopedCompleteSetup,
  createWorkerScopedUserWithOrgAndState,
} from 'pglane/playwright';
import pg from 'pg';

let db: pg.Client;
test.beforeAll(async () => {
  db = new pg.Client({ connectionString: process.env.DATABASE_URL || process.env.PGLANE_DATABASE_URL });
  await db.connect();
});
test.afterAll(async () => {
  await db?.end();
});

test('basic user creation: a Supabase user with a profile, unique in its lane', async ({ lane }) => {
  const user = await lane.factories.create('user', { email: 'alice', fullName: 'Alice' });
  expect(user.email).toBe(lane.ctx.email('alice'));
  expect(user.profile.full_name).toBe('Alice');
  const { rows } = await db.query('select count(*)::int as n from auth.users where email = $1', [user.email]);
  expect(rows[0].n).toBe(1);
});

test('a complete org setup in one statement', async ({ lane }) => {
  const setup = await lane.factories.create('completeSetup', { organization: { name: 'Acme' } });
  expect(setup.organization.name).toBe(lane.ctx.name('Acme'));
  expect(setup.membership.role).toBe('owner');
  expect(setup.groupModel.model_id).toBe(setup.model.id);
  expect(lane.tracker.count()).toBe(10);
});

test('seed style: WorkerContext, ResourceTracker and CleanupManager in a finally block', async ({}, testInfo) => {
  const ctx = WorkerContext.create(testInfo);
  const tracker = ResourceTracker.forTest(testInfo, ctx);
  const cleanupMgr = new CleanupManager(null, tracker);
  let orgId: string | undefined;
  try {
    const setup = await createWorkerScopedCompleteSetup(ctx, tracker, { fullName: 'Seed User' });
    orgId = setup.organization.id;
    expect(setup.user.profile.full_name).toBe('Seed User');
  } finally {
    const report = await cleanupMgr.cleanup();
    expect(report.verified).toBe(true);
    expect(report.failures).toEqual([]);
  }
  const { rows } = await db.query('select count(*)::int as n from public.organizations where id = $1', [orgId]);
  expect(rows[0].n).toBe(0);
});

test('manual tracking of rows inserted by hand', async ({ lane }) => {
  const org = await lane.factories.create('organization');
  const { rows } = await db.query(
    'insert into public.models (organization_id, name) values ($1, $2) returning id',
    [org.id, lane.ctx.name('Hand-made model')],
  );
  lane.tracker.trackModel(rows[0].id);
  expect(lane.tracker.list().map((r) => r.table)).toContain('public.models');
});

for (const base of ['Acme', 'Globex', 'Initech']) {
  test(`parallel safety: every worker creates "${base}" at once without a collision`, async ({ lane }) => {
    const orgs = await lane.factories.createList('organization', 3, { name: base });
    expect(new Set(orgs.map((o) => o.id)).size).toBe(3);
    const mine = await db.query('select count(*)::int as n from public.organizations where name like $1', [lane.ctx.testPattern()]);
    expect(mine.rows[0].n).toBe(3);
  });
}

test('a lock serialises a read-then-write across workers', async ({ lane }) => {
  // Creating a table from many workers at once races in Postgres' catalog: a lock makes it safe.
  await lane.locks.withLock('schema:example_counters', async () => {
    await db.query('create table if not exists public.example_counters (name text primary key, n int not null)');
    await db.query("insert into public.example_counters values ('visits', 0) on conflict do nothing");
  });
  const before = await lane.locks.withLock('counter:visits', async () => {
    const { rows } = await db.query("select n from public.example_counters where name = 'visits'");
    await db.query("update public.example_counters set n = $1 where name = 'visits'", [rows[0].n + 1]);
    return rows[0].n;
  });
  expect(before).toBeGreaterThanOrEqual(0);
  expect(await lane.locks.held()).toEqual([]);
});

test('traits and build: draft data without touching the database', async ({ lane }) => {
  const draft = lane.factories.build('organization', { name: 'Draft' });
  expect(draft.name).toBe(lane.ctx.name('Draft'));
  const unconfirmed = await lane.factories.create('user', {}, { traits: ['unconfirmed'] });
  expect(unconfirmed.email_confirmed_at).toBeNull();
  const { rows } = await db.query('select count(*)::int as n from public.organizations where id = $1', [draft.id]);
  expect(rows[0].n).toBe(0);
});

test('rows the app creates under tracked rows are cleaned without tracking', async ({ lane }) => {
  const setup = await lane.factories.create('completeSetup');
  // The app (here: plain SQL) adds a conversation and messages nobody tracks.
  const convo = await db.query(
    'insert into public.conversations (organization_id, user_id, title) values ($1, $2, $3) returning id',
    [setup.organization.id, setup.user.id, 'from the app'],
  );
  await db.query("insert into public.messages (conversation_id, content) select $1, 'hi ' || g from generate_series(1, 3) g", [convo.rows[0].id]);
  // countDependents: pglane deletes and counts every dependent row itself, cascading ones too.
  const report = await new CleanupManager(lane.db, lane.tracker, { countDependents: true }).cleanup();
  expect(report.verified).toBe(true);
  expect(report.deleted['public.messages']).toBe(3);
  expect(report.deleted['public.conversations']).toBe(1);
});

test('a lane never sees another lane\'s rows', async ({ lane }) => {
  await lane.factories.create('organization', { name: 'Visible' });
  const { rows } = await db.query('select name from public.organizations where name like $1', [lane.ctx.testPattern()]);
  expect(rows.map((r) => r.name)).toEqual([lane.ctx.name('Visible')]);
});

test('a signed-in user in the browser through saved storage state', async ({ browser, baseURL, lane }) => {
  const signedIn = await createWorkerScopedUserWithOrgAndState(lane.ctx, lane.tracker, {
    appOrigin: baseURL,
    fullName: 'Browser User',
    organization: { name: 'Acme' },
  });
  const context = await browser.newContext({ storageState: signedIn.storageStatePath });
  const page = await context.newPage();
  await page.goto('/');
  await expect(page.getByTestId('whoami')).toContainText(signedIn.user.email);
  await expect(page.getByTestId('org')).toHaveText([lane.ctx.name('Acme')]);
  await context.close();
});

test('data created through the UI is cleaned without manual tracking', async ({ browser, baseURL, lane }) => {
  const signedIn = await createWorkerScopedUserWithOrgAndState(lane.ctx, lane.tracker, { appOrigin: baseURL });
  const context = await browser.newContext({ storageState: signedIn.storageStatePath });
  const page = await context.newPage();
  await page.goto('/');
  const form = page.getByTestId('new-conversation');
  await form.locator('[name=title]').fill('Made in the browser');
  await form.locator('button, [type=submit]').first().click();
  await expect(page.getByTestId('conversation-title')).toHaveText('Made in the browser');
  const message = page.getByTestId('new-message');
  await message.locator('[name=content]').fill('Hello from Chromium');
  await message.locator('button, [type=submit]').first().click();
  await expect(page.getByTestId('message')).toHaveText(['Hello from Chromium']);
  await context.close();
  // Nothing above tracked the conversation or the message; cleanup finds them by foreign key.
  const report = await new CleanupManager(lane.db, lane.tracker).cleanup();
  expect(report.verified).toBe(true);
  expect(report.deleted['public.conversations']).toBe(1); // NO ACTION foreign keys: pglane deletes it
  expect(report.cascaded).toContain('public.messages'); // ON DELETE CASCADE: Postgres deletes them
  const { rows } = await db.query(
    "select (select count(*)::int from public.conversations where title = 'Made in the browser' and user_id = $1) as c, " +
      "(select count(*)::int from public.messages where content = 'Hello from Chromium' and user_id = $1) as m",
    [signedIn.user.id],
  );
  expect(rows[0]).toEqual({ c: 0, m: 0 });
});

test("a signed-in user sees no other lane's organizations, even with every worker writing", async ({ request, baseURL, lane }) => {
  const signedIn = await createWorkerScopedUserWithOrgAndState(lane.ctx, lane.tracker, { appOrigin: baseURL });
  await lane.factories.createList('organization', 2); // in this lane, but not the user's
  const cookies = signedIn.storageState!.cookies.map((c: { name: string; value: string }) => `${c.name}=${c.value}`).join('; ');
  const res = await request.get('/organizations', { headers: { cookie: cookies } });
  expect(res.status()).toBe(200);
  const orgs: { name: string }[] = await res.json();
  expect(orgs.map((o) => o.name)).toEqual([signedIn.organization!.name]);
  expect(orgs.every((o) => o.name.startsWith(lane.ctx.prefix('test')))).toBe(true);
});
