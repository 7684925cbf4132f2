// Inferred factories on the reference schema (examples/schema.sql): any table is a factory, its
// required parents built in the same statement, every row tracked and cleaned; definitions
// refine column by column; bad input is named; nothing is half-inserted.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { databaseUrl, pgClient, pglane, rejection, stopDatabase, thrown } from './helpers.mjs';
import { applySchema } from './reference.mjs';
import { createAndClean, lane, rowCounts, tablesWithForeignKeys } from './infer-helpers.mjs';

const { Db, Factories, ResourceTracker, CleanupManager } = pglane;
const RUN_ID = pglane.generateRunId();

/** The tables of examples/schema.sql (other test files may add tables of their own). */
const REFERENCE_TABLES = [
  'auth.identities', 'auth.refresh_tokens', 'auth.sessions', 'auth.users', 'public.conversations', 'public.group_members',
  'public.group_models', 'public.groups', 'public.invites', 'public.messages', 'public.models',
  'public.organization_members', 'public.organizations', 'public.profiles',
];

describe('inferred factories on the reference schema', () => {
  let client;
  let db;
  let factories;
  let description;
  let appTables;
  before(async () => {
    const url = await databaseUrl();
    client = await pgClient(url);
    await applySchema(client);
    await client.query(`
      create schema if not exists infer_extra;
      create table if not exists infer_extra.rules (
        id serial primary key, organization_id uuid not null references public.organizations(id) on delete cascade,
        name text not null, priority int not null check (priority between 1 and 3), impossible int check (impossible > 5 and impossible < 3));
      create table if not exists infer_extra.stamped (id serial primary key, label text not null);
      create table if not exists infer_extra.log (label text not null, n int not null default 0);
      create or replace function infer_extra.blank() returns trigger language plpgsql as $$ begin new.label := null; return new; end $$;
      drop trigger if exists blank_label on infer_extra.stamped;
      create trigger blank_label before insert on infer_extra.stamped for each row execute function infer_extra.blank();`);
    db = Db.connect(url);
    factories = Factories.fromSchema(db);
    description = await factories.describe();
    appTables = description.tables.filter((t) => REFERENCE_TABLES.includes(t.name));
  });
  after(async () => {
    await client?.query('drop schema if exists infer_extra cascade');
    await client?.end();
    db?.close();
    await stopDatabase();
  });

  test('every table with a foreign key is created with no attributes, with its parents, and cleaned exactly', async () => {
    const withFks = tablesWithForeignKeys({ tables: appTables });
    assert.deepEqual(
      withFks.map((t) => t.name).sort(),
      [
        'auth.identities', 'auth.refresh_tokens', 'auth.sessions', 'public.conversations', 'public.group_members',
        'public.group_models', 'public.groups', 'public.invites', 'public.messages', 'public.models',
        'public.organization_members', 'public.organizations', 'public.profiles',
      ],
    );
    const made = {};
    for (const table of withFks) {
      const { created } = await createAndClean({ db, factories, client, table, tables: appTables, runId: RUN_ID });
      made[table.name] = created;
    }
    // What each needed, from the schema alone.
    assert.deepEqual(made['public.messages'], {
      'auth.users': 1, // the conversation's; messages.user_id is nullable
      'public.conversations': 1,
      'public.messages': 1,
      'public.organizations': 1,
    });
    assert.deepEqual(made['public.group_models'], {
      'public.group_models': 1, 'public.groups': 1, 'public.models': 1, 'public.organizations': 2,
    });
    assert.deepEqual(made['public.profiles'], { 'auth.users': 1, 'public.profiles': 1 });
    assert.deepEqual(made['public.organizations'], { 'public.organizations': 1 }, 'created_by is nullable: no user');
  });

  test('the whole table list in one test: one create per table, one cleanup that leaves nothing', async () => {
    const ctx = lane(RUN_ID);
    const tracker = ResourceTracker.forTest({}, ctx, db);
    const beforeCounts = await rowCounts(client, appTables);
    const rows = {};
    for (const t of appTables) rows[t.name] = await factories.create(t.qualified, ctx, tracker);
    assert.equal(Object.keys(rows).length, 14);
    const afterCounts = await rowCounts(client, appTables);
    const created = Object.values(afterCounts).reduce((a, b) => a + b, 0) - Object.values(beforeCounts).reduce((a, b) => a + b, 0);
    assert.equal(tracker.count(), created, 'every row is tracked');
    const report = await new CleanupManager(db, tracker, { countDependents: true }).cleanup();
    assert.equal(report.verified, true);
    assert.equal(report.totalDeleted, created);
    assert.deepEqual(await rowCounts(client, appTables), beforeCounts);
  });

  test('values: lane-named text, emails, slugs, check lists, now(); one statement per call, whatever the depth', async () => {
    const ctx = lane(RUN_ID);
    const tracker = ResourceTracker.forTest({}, ctx, db);
    await factories.create('public.organizations', ctx, tracker); // graph and column facts are read
    const trips = db.roundTrips;
    const message = await factories.create('public.messages', ctx, tracker);
    assert.equal(db.roundTrips - trips, 1, 'message, conversation, organization and user: one round trip');
    assert.equal(message.content, ctx.name('content 1'));
    assert.ok(['user', 'assistant', 'system'].includes(message.role));
    assert.equal(message.conversation.title, ctx.name('title 1'));
    assert.equal(message.conversation.organization.slug, ctx.slug('organizations-2'));
    assert.equal(message.conversation_id, message.conversation.id);
    const invite = await factories.create('invites', ctx, tracker);
    assert.equal(invite.email, ctx.email('email-1'));
    assert.ok(invite.token, 'the token default is left to Postgres');
    const list = await factories.createList('public.organization_members', 3, ctx, tracker);
    assert.equal(new Set(list.map((m) => m.organization_id)).size, 3, 'each member gets its own organization');
    await new CleanupManager(db, tracker).cleanup();
  });

  test('a parent is connected instead of built: by column, by relation, through connect; or built with attributes', async () => {
    const ctx = lane(RUN_ID);
    const tracker = ResourceTracker.forTest({}, ctx, db);
    const org = await factories.create('public.organizations', ctx, tracker, { name: 'Acme' });
    const before = await rowCounts(client, appTables);
    const a = await factories.create('public.groups', ctx, tracker, { organization_id: org.id });
    const b = await factories.create('public.groups', ctx, tracker, { organization: org });
    const c = await factories.create('public.groups', ctx, tracker, {}, { connect: { organization: org } });
    const d = await factories.create('public.groups', ctx, tracker, { organization: { name: 'Beta' } });
    for (const g of [a, b, c]) assert.equal(g.organization_id, org.id);
    assert.equal(d.organization.name, 'Beta', 'a parent built with the attributes given');
    assert.notEqual(d.organization_id, org.id);
    const after = await rowCounts(client, appTables);
    assert.equal(after['public.organizations'] - before['public.organizations'], 1, 'only d built an organization');
    const err = await rejection(factories.create('public.groups', ctx, tracker, { organisation: org }));
    assert.equal(err.code, 'PGLANE_FACTORY_FIELD');
    assert.match(err.message, /organisation/);
    assert.match(err.message, /organization/);
    await new CleanupManager(db, tracker).cleanup();
  });

  test("definitions refine inferred rows column by column, and any table's rows complete a definition", async () => {
    const ctx = lane(RUN_ID);
    const tracker = ResourceTracker.forTest({}, ctx, db);
    const refined = Factories.fromObject(
      {
        factories: {
          'public.organizations': { table: 'public.organizations', fields: { name: { name: 'Org {{seq}}' } } },
          member: { table: 'public.organization_members', fields: { role: 'admin' } },
        },
      },
      db,
    );
    const org = await refined.create('public.organizations', ctx, tracker);
    assert.equal(org.name, ctx.name('Org 1'), 'the definition of the same name');
    assert.ok(org.slug, 'a column it leaves out is inferred');
    const member = await refined.create('member', ctx, tracker);
    assert.equal(member.role, 'admin');
    assert.ok(member.organization.name.startsWith(ctx.name('Org ')), 'the parent is built by its definition');
    assert.ok(member.user_id, 'and the user it lacks by inference');
    // The preset too: a table called by name uses the preset's factory for it.
    const preset = Factories.preset(db);
    const viaPreset = await preset.create('public.organizations', ctx, tracker);
    assert.match(viaPreset.name, new RegExp(`^${ctx.name('Org ')}`));
    const conversation = await preset.create('public.conversations', ctx, tracker);
    assert.equal(conversation.user.aud, 'authenticated', "the preset's user factory built the user");
    await new CleanupManager(db, tracker).cleanup();
  });

  test('build computes the same values for the same lane, inserts nothing; fill: all fills nullable columns', async () => {
    const identity = { workerIndex: 4, testId: `build-${process.pid}` };
    const one = factories.build('public.messages', pglane.WorkerContext.create(identity, { runId: RUN_ID }));
    const two = factories.build('public.messages', pglane.WorkerContext.create(identity, { runId: RUN_ID }));
    assert.deepEqual(one, two);
    const { rows } = await client.query('select count(*)::int as n from public.messages where content = $1', [one.content]);
    assert.equal(rows[0].n, 0);
    const ctx = lane(RUN_ID);
    const tracker = ResourceTracker.forTest({}, ctx, db);
    const sparse = await factories.create('public.organizations', ctx, tracker);
    const full = await factories.create('public.organizations', ctx, tracker, {}, { fill: 'all' });
    assert.equal(sparse.created_by, null);
    assert.equal(full.created_by, null, 'nullable foreign keys stay null');
    const group = await factories.create('public.groups', ctx, tracker, {}, { fill: 'all' });
    assert.equal(group.description, ctx.name('description 1'));
    await new CleanupManager(db, tracker).cleanup();
  });

  test("a table without a primary key: a factory's rows and rows tracked by hand go by the test's name, no other test's", async () => {
    const mine = lane(RUN_ID);
    const other = lane(RUN_ID);
    const tracker = ResourceTracker.forTest({}, mine, db);
    const otherTracker = ResourceTracker.forTest({}, other, db);
    await factories.create('infer_extra.log', mine, tracker);
    const theirs = await factories.create('infer_extra.log', other, otherTracker);
    const { rows: [byHand] } = await client.query('insert into infer_extra.log (label) values ($1) returning *', [mine.name('by hand')]);
    assert.deepEqual(tracker.track('infer_extra.log', byHand), { table: 'infer_extra.log', key: [] });
    assert.deepEqual(tracker.list(), [{ table: 'infer_extra.log', key: [] }], 'one entry for the table');
    const nameless = thrown(() => tracker.track('infer_extra.log', { label: 'not a lane name', n: 0 }));
    assert.equal(nameless.code, 'PGLANE_BAD_KEY');
    assert.match(nameless.message, /no primary key.*a name of this test/);

    const report = await new CleanupManager(db, tracker).cleanup();
    assert.equal(report.totalDeleted, 2, JSON.stringify(report));
    assert.equal(tracker.count(), 0);
    const left = await client.query('select label from infer_extra.log');
    assert.deepEqual(left.rows.map((r) => r.label), [theirs.label], "the other test's row stays");
    await new CleanupManager(db, otherTracker).cleanup();
    assert.equal((await client.query('select count(*)::int as n from infer_extra.log')).rows[0].n, 0);
  });

  test('bad input is named, and nothing is half-inserted', async () => {
    const ctx = lane(RUN_ID);
    const tracker = ResourceTracker.forTest({}, ctx, db);
    const before = await rowCounts(client, appTables);

    const unknown = await rejection(factories.create('public.organisations', ctx, tracker));
    assert.equal(unknown.code, 'PGLANE_UNKNOWN_TABLE');
    assert.match(unknown.message, /did you mean public\.organizations/);

    const wrongType = await rejection(factories.create('public.groups', ctx, tracker, { name: 42 }));
    assert.equal(wrongType.code, 'PGLANE_FACTORY_VALUE');
    assert.match(wrongType.message, /column "name" of public\.groups is text; got a number \(42\)/);
    const notUuid = thrown(() => factories.build('public.groups', ctx, { organization_id: 'acme' }));
    assert.equal(notUuid.code, 'PGLANE_FACTORY_VALUE');
    assert.match(notUuid.message, /organization_id.*uuid.*a string \("acme"\)/);

    const impossible = await rejection(factories.create('infer_extra.rules', ctx, tracker, {}, { fill: 'all' }));
    assert.equal(impossible.code, 'PGLANE_FACTORY_INFER');
    assert.match(impossible.message, /rules_impossible_check/);
    assert.match(impossible.message, /CHECK \(\(\(impossible > 5\) AND \(impossible < 3\)\)\)/);
    assert.match(impossible.message, /pass "impossible"/);
    const rules = await factories.create('infer_extra.rules', ctx, tracker);
    assert.ok([1, 2, 3].includes(rules.priority));

    const violated = await rejection(factories.create('infer_extra.rules', ctx, tracker, { priority: 9 }));
    assert.equal(violated.sqlstate, '23514');
    assert.match(violated.message, /nothing was inserted/);
    assert.match(violated.message, /rules_priority_check of infer_extra\.rules is CHECK/);
    assert.match(violated.message, /pass "priority"/);

    const trigger = await rejection(factories.create('infer_extra.stamped', ctx, tracker));
    assert.equal(trigger.sqlstate, '23502');
    assert.match(trigger.message, /pglane gave "label" a value; a BEFORE INSERT trigger of infer_extra\.stamped set it to null: blank_label/);

    const trait = await rejection(factories.create('public.groups', ctx, tracker, {}, { traits: ['archived'] }));
    assert.equal(trait.code, 'PGLANE_FACTORY_TRAIT');
    assert.deepEqual(await rowCounts(client, appTables), { ...before, 'public.organizations': before['public.organizations'] + 1 }, 'only the good rules row made an organization');
    await new CleanupManager(db, tracker).cleanup();
    assert.deepEqual(await rowCounts(client, appTables), before);
  });
});
