// (b) The reference system's algorithm, written in TypeScript-style JS with the `pg` package:
// - setup: one INSERT per row (user, identity, profile, organization, membership, group, group
//   member, model, group model, invite), each returning the row, as the reference's factories
//   did with one supabase-js request per row (no transaction: the reference had none);
// - cleanup: one DELETE per resource type, in the reference's fixed "battle-tested" order
//   (messages, conversations, group models, group members, invites, groups, models, org members,
//   organizations, profiles, auth users; identities and sessions cascade), then one verification
//   query per type;
// - pattern cleanup: one LIKE delete per table in the same order, then one count per table.
// Every `query` is one round trip; they are counted by `CountingPool`.
import { createRequire } from 'node:module';
import { authUserRow, BCRYPT_COST, CountingPool, PASSWORD, ReferenceContext } from './common.mjs';

const require = createRequire(import.meta.url);
const bcrypt = require('bcryptjs');

/** Resource types and their tables, in the reference's cleanup order. */
export const CLEANUP_ORDER = [
  ['messages', 'public.messages'],
  ['conversations', 'public.conversations'],
  ['groupModels', 'public.group_models'],
  ['groupMembers', 'public.group_members'],
  ['invites', 'public.invites'],
  ['groups', 'public.groups'],
  ['models', 'public.models'],
  ['orgMembers', 'public.organization_members'],
  ['organizations', 'public.organizations'],
  ['profiles', 'public.profiles'],
  ['authUsers', 'auth.users'],
];

const TYPE_OF_TABLE = Object.fromEntries(CLEANUP_ORDER.map(([type, table]) => [table, type]));

/** The reference's ResourceTracker: ids per resource type. */
export class ReferenceTracker {
  constructor() {
    this.byType = new Map();
  }
  track(type, id) {
    let ids = this.byType.get(type);
    if (!ids) this.byType.set(type, (ids = []));
    ids.push(id);
  }
  trackTable(table, id) {
    this.track(TYPE_OF_TABLE[table], id);
  }
  count() {
    let n = 0;
    for (const ids of this.byType.values()) n += ids.length;
    return n;
  }
  clear() {
    this.byType.clear();
  }
}

/**
 * What the two `pg` implementations share: a counting pool, its counters, and a lane per test
 * with the implementation's own context class and the reference's tracker.
 */
export class PgImpl {
  constructor(url, { key, Context, poolSize = 2, applicationName }) {
    this.db = new CountingPool(url, { max: poolSize, applicationName });
    this.tests = 0;
    this.key = key;
    this.Context = Context;
  }

  get roundTrips() {
    return this.db.roundTrips;
  }
  get statements() {
    return this.db.roundTrips;
  }
  get openConnections() {
    return this.db.openConnections;
  }
  get maxConnections() {
    return this.db.maxConnections;
  }
  warm() {
    return this.db.warm();
  }
  close() {
    return this.db.end();
  }

  /** A new test's lane. */
  lane(runId, workerId) {
    const testIndex = this.tests++;
    return { ctx: new this.Context(runId, workerId, testIndex), tracker: new ReferenceTracker() };
  }

  name(lane, base) {
    return lane.ctx.name(base);
  }

  /** Tracks what `insertCompleteSetup` (the 11 kinds of a typical test) made. */
  trackCompleteSetup({ tracker }, ids) {
    trackSetup(tracker, ids);
    tracker.track('conversations', ids.conversation);
    tracker.track('messages', ids.message);
  }

  trackRows({ tracker }, rows) {
    for (const [table, id] of rows) tracker.trackTable(table, id);
  }
}

/** Tracks the nine kinds of a complete setup (`ids.user` also keys the profile). */
export function trackSetup(tracker, ids) {
  tracker.track('authUsers', ids.user);
  tracker.track('profiles', ids.user);
  tracker.track('organizations', ids.org);
  tracker.track('orgMembers', ids.member);
  tracker.track('groups', ids.group);
  tracker.track('groupMembers', ids.groupMember);
  tracker.track('models', ids.model);
  tracker.track('groupModels', ids.groupModel);
  tracker.track('invites', ids.invite);
}

export class ReferenceImpl extends PgImpl {
  constructor(url, { poolSize = 2, applicationName = 'pglane-bench-b' } = {}) {
    super(url, { key: 'b', Context: ReferenceContext, poolSize, applicationName });
  }

  /** createWorkerScopedCompleteSetup: ten INSERTs, one per row. */
  async completeSetup({ ctx, tracker }, { fullName = 'Test User 1' } = {}) {
    const q = (text, values) => this.db.query(text, values).then((r) => r.rows[0]);
    const now = new Date().toISOString();
    const u = authUserRow(ctx.uuid(), ctx.email('user1'), fullName, now);
    u.encrypted_password = bcrypt.hashSync(PASSWORD, BCRYPT_COST);
    const cols = Object.keys(u);
    const user = await q(
      `insert into auth.users (${cols.join(', ')}) values (${cols.map((_, i) => `$${i + 1}`).join(', ')}) returning *`,
      cols.map((c) => u[c]),
    );
    tracker.track('authUsers', user.id);
    user.identity = await q(
      `insert into auth.identities (id, provider, provider_id, user_id, identity_data, last_sign_in_at, created_at, updated_at)
       values ($1, 'email', $2::uuid::text, $2::uuid, $3, $4, $4, $4) returning *`,
      [ctx.uuid(), user.id, { sub: user.id, email: user.email, email_verified: true, phone_verified: false }, now],
    );
    user.profile = await q(
      'insert into public.profiles (id, email, full_name, onboarded) values ($1, $2, $3, true) returning *',
      [user.id, user.email, fullName],
    );
    tracker.track('profiles', user.id);
    const organization = await q(
      'insert into public.organizations (id, name, slug, created_by) values ($1, $2, $3, $4) returning *',
      [ctx.uuid(), ctx.name('Org 1'), ctx.slug('org-1'), user.id],
    );
    tracker.track('organizations', organization.id);
    const membership = await q(
      `insert into public.organization_members (id, organization_id, user_id, role) values ($1, $2, $3, 'owner') returning *`,
      [ctx.uuid(), organization.id, user.id],
    );
    tracker.track('orgMembers', membership.id);
    const group = await q('insert into public.groups (id, organization_id, name) values ($1, $2, $3) returning *', [
      ctx.uuid(),
      organization.id,
      ctx.name('Group 1'),
    ]);
    tracker.track('groups', group.id);
    const groupMember = await q('insert into public.group_members (id, group_id, user_id) values ($1, $2, $3) returning *', [
      ctx.uuid(),
      group.id,
      user.id,
    ]);
    tracker.track('groupMembers', groupMember.id);
    const model = await q(
      `insert into public.models (id, organization_id, name, provider, model_key) values ($1, $2, $3, 'openai', 'gpt-4o-mini') returning *`,
      [ctx.uuid(), organization.id, ctx.name('Model 1')],
    );
    tracker.track('models', model.id);
    const groupModel = await q('insert into public.group_models (id, group_id, model_id) values ($1, $2, $3) returning *', [
      ctx.uuid(),
      group.id,
      model.id,
    ]);
    tracker.track('groupModels', groupModel.id);
    const invite = await q(
      `insert into public.invites (id, organization_id, email, role, invited_by) values ($1, $2, $3, 'member', $4) returning *`,
      [ctx.uuid(), organization.id, ctx.email('invitee1'), user.id],
    );
    tracker.track('invites', invite.id);
    return { user, organization, membership, group, groupMember, model, groupModel, invite };
  }

  /** CleanupManager.cleanup(): one DELETE per type in the fixed order, then one count per type. */
  async cleanup({ tracker }) {
    const deleted = {};
    const failures = [];
    let total = 0;
    for (const [type, table] of CLEANUP_ORDER) {
      const ids = tracker.byType.get(type);
      if (!ids?.length) continue;
      try {
        const r = await this.db.query(`delete from ${table} where id = any($1::uuid[])`, [ids]);
        deleted[table] = r.rowCount;
        total += r.rowCount;
      } catch (err) {
        failures.push({ table, message: err.message });
      }
    }
    const remaining = {};
    for (const [type, table] of CLEANUP_ORDER) {
      const ids = tracker.byType.get(type);
      if (!ids?.length) continue;
      const r = await this.db.query(`select count(*)::int as n from ${table} where id = any($1::uuid[])`, [ids]);
      if (r.rows[0].n > 0) remaining[table] = r.rows[0].n;
    }
    const verified = failures.length === 0 && Object.keys(remaining).length === 0;
    if (verified) tracker.clear();
    return { totalDeleted: total, deleted, failures, remaining, verified };
  }

  /** Pattern cleanup: one LIKE delete per table in the fixed order, then one count per table. */
  async cleanupPattern(pattern) {
    const deletes = [
      ['public.messages', 'conversation_id in (select id from public.conversations where title like $1)'],
      ['public.conversations', 'title like $1'],
      ['public.group_models', 'group_id in (select id from public.groups where name like $1)'],
      ['public.group_members', 'group_id in (select id from public.groups where name like $1)'],
      ['public.invites', 'email like $1'],
      ['public.groups', 'name like $1'],
      ['public.models', 'name like $1'],
      ['public.organization_members', 'organization_id in (select id from public.organizations where name like $1)'],
      ['public.organizations', 'name like $1'],
      ['public.profiles', 'email like $1'],
      ['auth.users', 'email like $1'],
    ];
    let total = 0;
    const failures = [];
    for (const [table, where] of deletes) {
      try {
        total += (await this.db.query(`delete from ${table} where ${where}`, [pattern])).rowCount;
      } catch (err) {
        failures.push({ table, message: err.message });
      }
    }
    let left = 0;
    for (const [table, where] of deletes) {
      left += Number((await this.db.query(`select count(*) as n from ${table} where ${where}`, [pattern])).rows[0].n);
    }
    return { totalDeleted: total, failures, verified: left === 0 && failures.length === 0 };
  }
}
