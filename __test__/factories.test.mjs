import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { databaseUrl, pgClient, pglane, rejection, stopDatabase, thrown } from './helpers.mjs';
import { applySchema } from './reference.mjs';

// A fresh run id per process: the tests may run against a database that keeps old rows.
const RUN_ID = pglane.generateRunId();

const {
  WorkerContext, ResourceTracker, CleanupManager, Db, Factories,
  createWorkerScopedUser, createWorkerScopedOrganization, createWorkerScopedGroup,
  createWorkerScopedModel, createWorkerScopedInvite, createWorkerScopedCompleteSetup,
} = pglane;

let n = 0;
const lane = (worker = 3) => WorkerContext.create({ workerIndex: worker, testId: `factories-${n++}` }, { runId: RUN_ID });

describe('preset factories on the reference schema', () => {
  let client;
  before(async () => {
    client = await pgClient(await databaseUrl());
    await applySchema(client);
  });
  after(async () => {
    await client?.end();
  });

  test('createWorkerScopedUser writes a Supabase-shaped user, identity and profile, all tracked', async () => {
    const ctx = lane();
    const tracker = ResourceTracker.forTest({}, ctx);
    const user = await createWorkerScopedUser(ctx, tracker, { email: 'alice', fullName: 'Alice Doe' });
    assert.equal(user.email, ctx.email('alice'));
    assert.equal(user.aud, 'authenticated');
    assert.equal(user.role, 'authenticated');
    assert.match(user.encrypted_password, /^\$2a\$04\$.{53}$/);
    assert.equal(user.confirmation_token, '');
    assert.ok(user.email_confirmed_at);
    assert.deepEqual(user.raw_app_meta_data, { provider: 'email', providers: ['email'] });
    assert.equal(user.raw_user_meta_data.full_name, 'Alice Doe');
    assert.equal(user.identity.provider_id, user.id);
    assert.deepEqual(user.identity.identity_data, { sub: user.id, email: user.email, email_verified: true, phone_verified: false });
    assert.equal(user.profile.id, user.id);
    assert.equal(user.profile.full_name, 'Alice Doe');
    assert.ok(user.profile.created_at, 'database default comes back');
    assert.deepEqual(tracker.list().map((r) => r.table).sort(), ['auth.identities', 'auth.users', 'public.profiles']);
    const report = await new CleanupManager(null, tracker).cleanup();
    assert.equal(report.verified, true);
    assert.equal(report.totalDeleted, 3);
  });

  test('traits change a factory; an unknown trait is PGLANE_FACTORY_TRAIT', async () => {
    const ctx = lane();
    const tracker = ResourceTracker.forTest({}, ctx);
    const user = await createWorkerScopedUser(ctx, tracker, { traits: ['unconfirmed', 'onboarding'] });
    assert.equal(user.email_confirmed_at, null);
    assert.equal(user.profile.onboarded, false);
    const err = await rejection(createWorkerScopedUser(ctx, tracker, { traits: ['admin'] }));
    assert.equal(err.code, 'PGLANE_FACTORY_TRAIT');
    assert.match(err.message, /admin/);
    assert.match(err.message, /unconfirmed/);
    await new CleanupManager(null, tracker).cleanup();
  });

  test('organization, group, model and invite create their parents when none is given', async () => {
    const ctx = lane();
    const tracker = ResourceTracker.forTest({}, ctx);
    const owner = await createWorkerScopedUser(ctx, tracker);
    const org = await createWorkerScopedOrganization(ctx, tracker, { name: 'Acme', ownerId: owner.id });
    assert.equal(org.name, ctx.name('Acme'));
    assert.equal(org.created_by, owner.id);
    assert.equal(org.ownerMembership.role, 'owner');
    const group = await createWorkerScopedGroup(ctx, tracker, { organizationId: org.id, name: 'Admins' });
    assert.equal(group.organization_id, org.id);
    assert.equal(group.name, ctx.name('Admins'));
    const model = await createWorkerScopedModel(ctx, tracker, { organization: org });
    assert.equal(model.organization_id, org.id);
    const invite = await createWorkerScopedInvite(ctx, tracker, { organizationId: org.id, invitedBy: owner.id });
    assert.equal(invite.email, ctx.email('invitee1'));
    assert.equal(invite.invited_by, owner.id);
    const lonely = await createWorkerScopedGroup(ctx, tracker);
    assert.ok(lonely.organization.id, 'a parent organization was created');
    assert.equal(lonely.organization_id, lonely.organization.id);
    const report = await new CleanupManager(null, tracker).cleanup();
    assert.equal(report.verified, true);
    assert.equal((await new CleanupManager(null, tracker).verifyNoLeakedData('test')).length, 0);
  });

  test('a complete setup is one round trip, fully tracked, and cleaned in one more', async () => {
    const ctx = lane();
    const db = Db.connect(process.env.DATABASE_URL || process.env.PGLANE_DATABASE_URL);
    const tracker = ResourceTracker.forTest({}, ctx, db);
    await createWorkerScopedUser(ctx, tracker); // reads the schema once
    const before = db.roundTrips;
    const setup = await createWorkerScopedCompleteSetup(ctx, tracker, { fullName: 'Owner', organization: { name: 'Acme' } });
    assert.equal(db.roundTrips - before, 1);
    for (const key of ['user', 'organization', 'membership', 'group', 'groupMember', 'model', 'groupModel', 'invite']) {
      assert.ok(setup[key]?.id, key);
    }
    assert.equal(setup.user.profile.full_name, 'Owner');
    assert.equal(setup.organization.name, ctx.name('Acme'));
    assert.equal(setup.membership.role, 'owner');
    assert.equal(setup.groupModel.model_id, setup.model.id);
    assert.equal(setup.invite.invited_by, setup.user.id);
    assert.equal(tracker.count(), 13);
    const report = await new CleanupManager(db, tracker).cleanup();
    assert.equal(report.verified, true);
    assert.equal(report.roundTrips, 1);
    db.close();
  });

  test('a failing complete setup leaves nothing behind and names the table and constraint', async () => {
    const ctx = lane();
    const tracker = ResourceTracker.forTest({}, ctx);
    const err = await rejection(createWorkerScopedCompleteSetup(ctx, tracker, { membership: { role: 'emperor' } }));
    assert.equal(err.code, 'PGLANE_DB_QUERY');
    assert.equal(err.sqlstate, '23514');
    assert.match(err.message, /organization_members/);
    assert.match(err.message, /organization_members_role_check/);
    assert.match(err.message, /nothing was inserted/);
    assert.equal(tracker.count(), 0);
    const leaks = await new CleanupManager(null, tracker).verifyNoLeakedData('test');
    assert.deepEqual(leaks, []);
  });

  test('a failing row never shows its values, on any path: not in the message, not in the cause', async () => {
    const ctx = lane();
    const tracker = ResourceTracker.forTest({}, ctx);
    const secret = 'hunter2-never-printed';
    const factories = Factories.fromYaml(`
factories:
  guarded:
    table: public.pglane_guarded
    fields:
      id: { uuid: true }
      hash: { bcrypt: "${secret}" }
      token: { token: 24 }
`);
    await client.query('create table if not exists public.pglane_guarded (id uuid primary key, hash text not null, token text not null, check (length(token) < 10))');
    const err = await rejection(factories.create('guarded', ctx, tracker));
    assert.equal(err.code, 'PGLANE_DB_QUERY');
    assert.equal(err.sqlstate, '23514');
    assert.match(err.message, /pglane_guarded/);
    assert.ok(err.cause instanceof Error, 'the cause is kept');
    for (const text of [err.message, err.cause.message, err.stack, JSON.stringify(err)]) {
      assert.doesNotMatch(text, /\$2[aby]\$/, 'no bcrypt hash');
      assert.ok(!text.includes(secret));
    }
    assert.match(err.cause.message, /Failing row contains \(values hidden\)/);
    await client.query('drop table public.pglane_guarded');
  });

  test('a constraint error on the user factory never shows the bcrypt hash, the password or the tokens', async () => {
    // The user factory writes a bcrypt hash, a password and tokens into auth.users; a check
    // constraint that fails makes Postgres print the whole row ("Failing row contains (...)").
    const ctx = lane();
    const tracker = ResourceTracker.forTest({}, ctx);
    const password = 'correct-horse-never-printed';
    await client.query("alter table auth.users add constraint pglane_refuses_forbidden check (email not like '%forbidden%') not valid");
    try {
      for (const create of [pglane.createWorkerScopedUser, pglane.createWorkerScopedAuthenticatedUser, pglane.createWorkerScopedUserWithOrg]) {
        const err = await rejection(create(ctx, tracker, { email: `forbidden-${n++}`, password }));
        assert.equal(err.code, 'PGLANE_DB_QUERY', `${create.name}: ${err.message}`);
        assert.equal(err.sqlstate, '23514');
        assert.match(err.message, /pglane_refuses_forbidden/);
        for (const text of [err.message, err.cause?.message ?? '', err.stack, JSON.stringify(err)]) {
          assert.doesNotMatch(text, /\$2[aby]\$/, `${create.name}: no bcrypt hash`);
          assert.ok(!text.includes(password), `${create.name}: no password`);
        }
        assert.match(err.cause.message, /Failing row contains \(values hidden\)/);
      }
      assert.equal(tracker.count(), 0, 'nothing was inserted or tracked');
    } finally {
      await client.query('alter table auth.users drop constraint pglane_refuses_forbidden');
    }
  });

  test('synchronous calls throw the same coded errors as async ones, sqlstate included', async () => {
    const url = new URL(await databaseUrl());
    url.password = 'not-the-password';
    const db = Db.connect(url.toString());
    const tracker = ResourceTracker.forTest({}, lane(), db);
    const sync = thrown(() => tracker.track('public.organizations', '0195f1c2-7b3a-7cde-8f00-0123456789ab'));
    const async = await rejection(db.serverInfo());
    for (const err of [sync, async]) {
      assert.equal(err.code, 'PGLANE_DB_AUTH');
      assert.equal(err.sqlstate, '28P01');
      assert.ok(err.cause instanceof Error);
      assert.ok(!err.message.includes('not-the-password') && !err.cause.message.includes('not-the-password'));
    }
    db.close();
  });

  test('a duplicate is PGLANE_CONFLICT naming the constraint', async () => {
    const ctx = lane();
    const tracker = ResourceTracker.forTest({}, ctx);
    await createWorkerScopedOrganization(ctx, tracker, { slug: 'same' });
    const err = await rejection(createWorkerScopedOrganization(ctx, tracker, { slug: 'same' }));
    assert.equal(err.code, 'PGLANE_CONFLICT');
    assert.match(err.message, /organizations_slug_key/);
    await new CleanupManager(null, tracker).cleanup();
  });

  test('unknown factories and attributes are named in the error', async () => {
    const ctx = lane();
    const tracker = ResourceTracker.forTest({}, ctx);
    const factories = Factories.preset();
    const unknown = await rejection(factories.create('organisation', ctx, tracker));
    assert.equal(unknown.code, 'PGLANE_FACTORY_UNKNOWN');
    assert.match(unknown.message, /organization/);
    const field = await rejection(createWorkerScopedOrganization(ctx, tracker, { colour: 'red' }));
    assert.equal(field.code, 'PGLANE_FACTORY_FIELD');
    assert.match(field.message, /colour/);
    const step = await rejection(createWorkerScopedCompleteSetup(ctx, tracker, { organisation: {} }));
    assert.equal(step.code, 'PGLANE_FACTORY_FIELD');
    const badName = await rejection(createWorkerScopedOrganization(ctx, tracker, { name: 'x'.repeat(500) }));
    assert.equal(badName.code, 'PGLANE_INVALID_NAME');
    assert.equal(tracker.count(), 0);
  });

  test('build computes values without inserting', async () => {
    const ctx = lane();
    const built = Factories.preset().build('organization', ctx, { name: 'Draft' });
    assert.equal(built.name, ctx.name('Draft'));
    assert.match(built.id, /^[0-9a-f-]{36}$/);
    const { rows } = await client.query('select count(*)::int n from public.organizations where id = $1', [built.id]);
    assert.equal(rows[0].n, 0);
  });
});

describe('factories for another schema, from YAML, with no Rust change', () => {
  let client;
  const YAML = `
version: 1
laneColumns:
  lib.authors: [name]
factories:
  author:
    table: lib.authors
    fields:
      name: { name: "Author {{seq}}" }
      email: { email: "author{{seq}}" }
  book:
    table: lib.books
    transient: { genre: fiction }
    associations:
      author: { factory: author }
    fields:
      title: { name: "Book {{seq}}" }
      tags: { json: ["{{genre}}", "new"] }
      meta: { json: { genre: "{{genre}}", pages: 320 } }
    after:
      - { as: firstReview, factory: review, with: { book_id: "{{self.id}}" } }
    traits:
      classic: { transient: { genre: classic } }
  review:
    table: lib.reviews
    associations:
      book: { factory: book }
    fields:
      stars: 5
      body: "Great read #{{seq}} in run {{run}}"
  shelf:
    steps:
      - { as: author, factory: author }
      - { as: first, factory: book, with: { author_id: "{{author.id}}" } }
      - { as: second, factory: book, with: { author_id: "{{author.id}}" }, traits: [classic] }
`;
  before(async () => {
    client = await pgClient(await databaseUrl());
    await client.query(`
      create schema if not exists lib;
      create table if not exists lib.authors (id bigserial primary key, name text not null unique, email text unique, created_at timestamptz default now());
      create table if not exists lib.books (id bigserial primary key, author_id bigint not null references lib.authors(id), title text not null,
        tags text[] not null default '{}', meta jsonb not null default '{}');
      create table if not exists lib.reviews (id serial primary key, book_id bigint not null references lib.books(id) on delete cascade,
        stars int not null check (stars between 1 and 5), body text);`);
  });
  after(async () => {
    await client.query('drop schema if exists lib cascade');
    await client?.end();
    await stopDatabase();
  });

  test('a multi-row factory with database-generated keys, arrays and jsonb', async () => {
    const ctx = lane(9);
    const tracker = ResourceTracker.forTest({}, ctx);
    const factories = Factories.fromYaml(YAML);
    assert.deepEqual(factories.names(), ['author', 'book', 'review', 'shelf']);
    const shelf = await factories.create('shelf', ctx, tracker);
    assert.match(String(shelf.author.id), /^\d+$/);
    assert.equal(shelf.first.author_id, shelf.author.id);
    assert.equal(shelf.second.author_id, shelf.author.id);
    assert.deepEqual(shelf.first.tags, ['fiction', 'new']);
    assert.deepEqual(shelf.second.tags, ['classic', 'new']);
    assert.deepEqual(shelf.second.meta, { genre: 'classic', pages: 320 });
    assert.equal(shelf.first.firstReview.book_id, shelf.first.id, 'after-step used the serial id');
    assert.match(shelf.first.firstReview.body, new RegExp(`in run ${ctx.runId}$`));
    assert.equal(tracker.count(), 5);

    const authors = await factories.createList('author', 3, ctx, tracker);
    assert.equal(authors.length, 3);
    assert.equal(new Set(authors.map((a) => a.name)).size, 3);

    const report = await new CleanupManager(null, tracker).cleanup();
    assert.equal(report.verified, true);
    assert.equal(report.totalDeleted, 8);
    const manager = new CleanupManager(null, tracker);
    assert.deepEqual(await manager.verifyNoLeakedData('test', { laneColumns: factories.laneColumns() }), []);
  });

  test('createList makes any number of rows in one statement: 150 authors, 30 four-row shelves', async () => {
    const ctx = lane(9);
    const tracker = ResourceTracker.forTest({}, ctx);
    const factories = Factories.fromYaml(YAML);
    const db = Db.default();
    const before = db.roundTrips;
    const authors = await factories.createList('author', 150, ctx, tracker);
    assert.equal(authors.length, 150);
    assert.equal(new Set(authors.map((a) => a.name)).size, 150);
    const shelves = await factories.createList('shelf', 30, ctx, tracker);
    assert.equal(shelves.length, 30);
    assert.ok(shelves.every((s) => s.first.firstReview.book_id === s.first.id));
    assert.equal(db.roundTrips - before, 2, 'one statement per call');
    assert.equal(tracker.count(), 150 + 30 * 5);
    const report = await new CleanupManager(null, tracker).cleanup();
    assert.equal(report.verified, true);
    assert.equal(report.totalDeleted, 150 + 30 * 5);
  });

  test('a createList that fails inserts nothing and names each table once', async () => {
    const ctx = lane(9);
    const tracker = ResourceTracker.forTest({}, ctx);
    const factories = Factories.fromYaml(YAML);
    const err = await rejection(factories.createList('review', 104, ctx, tracker, { stars: 9 }));
    assert.equal(err.code, 'PGLANE_DB_QUERY');
    assert.equal(err.sqlstate, '23514');
    assert.match(err.message, /nothing was inserted/);
    const named = err.message.slice(0, err.message.indexOf(' failed'));
    for (const table of ['lib.reviews', 'lib.books', 'lib.authors']) {
      assert.equal(named.split(table).length - 1, 1, `${table} named once: ${err.message}`);
    }
    assert.equal(tracker.count(), 0);
    const { rows } = await client.query('select count(*)::int as n from lib.reviews where body like $1', [`%in run ${ctx.runId}`]);
    assert.equal(rows[0].n, 0);
  });

  test('definition mistakes are PGLANE_FACTORY_DEFINITION naming the factory', async () => {
    assert.equal(thrown(() => Factories.fromYaml('factories: [')).code, 'PGLANE_FACTORY_DEFINITION');
    assert.equal(thrown(() => Factories.fromObject({ factories: { a: { table: 'lib.authors', fields: { x: { nmae: 1 } } } } })).code, 'PGLANE_FACTORY_DEFINITION');
    const ctx = lane(9);
    const tracker = ResourceTracker.forTest({}, ctx);
    const wrongColumn = Factories.fromObject({ factories: { a: { table: 'lib.authors', fields: { nmae: 'x' } } } });
    const err = await rejection(wrongColumn.create('a', ctx, tracker));
    assert.equal(err.code, 'PGLANE_FACTORY_DEFINITION');
    assert.match(err.message, /nmae/);
    const wrongTable = Factories.fromObject({ factories: { a: { table: 'lib.nope' } } });
    assert.equal((await rejection(wrongTable.create('a', ctx, tracker))).code, 'PGLANE_FACTORY_DEFINITION');
  });
});
