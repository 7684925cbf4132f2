// Shared by the benchmark's implementations: statistics, round-trip counting for `pg`, the
// TypeScript lane contexts of the baselines, and the SQL that prepares data outside the timed
// regions (the same SQL for all three implementations).
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
export const pg = require('pg');

/** Nearest-rank percentile of numbers (`q` in 0..1). */
export function percentile(values, q) {
  if (!values.length) return NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[rank - 1];
}

/** p50, p95, mean, min, max and n of samples. */
export function summarize(values) {
  const n = values.length;
  const mean = n ? values.reduce((a, b) => a + b, 0) / n : NaN;
  return {
    p50: percentile(values, 0.5),
    p95: percentile(values, 0.95),
    mean,
    min: n ? Math.min(...values) : NaN,
    max: n ? Math.max(...values) : NaN,
    n,
  };
}

/**
 * A `pg.Pool` whose `query` counts round trips. `pg` has no pipelining: every `query` call is
 * one request and one wait (Parse/Bind/Execute/Sync are sent together, then it waits for
 * ReadyForQuery), so calls = round trips = statements.
 */
export class CountingPool {
  constructor(url, { max = 2, applicationName = 'pglane-bench' } = {}) {
    this.pool = new pg.Pool({ connectionString: url, max, application_name: applicationName });
    this.roundTrips = 0;
    this.maxConnections = 0;
    this.pool.on('connect', () => {
      this.maxConnections = Math.max(this.maxConnections, this.pool.totalCount);
    });
  }

  query(text, values) {
    this.roundTrips++;
    return this.pool.query(text, values);
  }

  get openConnections() {
    return this.pool.totalCount;
  }

  async warm() {
    // Open the pool's connections outside any timed region (connecting is not counted).
    const clients = await Promise.all(Array.from({ length: this.pool.options.max }, () => this.pool.connect()));
    for (const c of clients) c.release();
  }

  end() {
    return this.pool.end();
  }
}

/** Escapes `\`, `%` and `_` for LIKE. */
export function escapeLike(text) {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/**
 * The reference system's WorkerContext (worker-context.ts): every name is built from its parts
 * on each call, `w{workerId}-{testIndex}-{name}` inside the run scope, no validation.
 */
export class ReferenceContext {
  constructor(runId, workerId, testIndex) {
    this.runId = runId;
    this.workerId = workerId;
    this.testIndex = testIndex;
  }
  name(base) {
    return `${this.runId}-w${this.workerId}-${this.testIndex}-${base}`;
  }
  email(base) {
    return `${this.name(base)}@pglane.test`.toLowerCase();
  }
  slug(base) {
    return this.name(base).toLowerCase().replace(/[^a-z0-9-]+/g, '-');
  }
  uuid() {
    return randomUUID();
  }
  runPattern() {
    return `${escapeLike(this.runId)}-%`;
  }
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * The best TypeScript version: the prefix is built once per test; `name` validates the base as
 * pglane does (non-empty, at most 128 characters, no control characters) and concatenates.
 */
export class BestContext {
  constructor(runId, workerId, testIndex) {
    this.runId = runId;
    this.workerId = workerId;
    this.testIndex = testIndex;
    this.prefix = `${runId}-w${workerId}-${testIndex}-`;
    this.lowerPrefix = this.prefix.toLowerCase();
  }
  name(base) {
    if (typeof base !== 'string' || base.length === 0 || base.length > 128 || CONTROL.test(base)) {
      throw Object.assign(new Error(`invalid name ${JSON.stringify(base)}`), { code: 'PGLANE_INVALID_NAME' });
    }
    return this.prefix + base;
  }
  email(base) {
    return `${this.lowerPrefix}${this.name(base).slice(this.prefix.length).toLowerCase()}@pglane.test`;
  }
  slug(base) {
    return this.lowerPrefix + this.name(base).slice(this.prefix.length).toLowerCase().replace(/[^a-z0-9-]+/g, '-');
  }
  uuid() {
    return randomUUID();
  }
  runPattern() {
    return `${escapeLike(this.runId)}-%`;
  }
}

/** A short random run id for the baselines (the same shape as pglane's). */
export function baselineRunId() {
  return `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`.slice(-10);
}

export const NIL_UUID = '00000000-0000-0000-0000-000000000000';
export const PASSWORD = 'pglane-password-1';
export const BCRYPT_COST = 4;

/** The values of a Supabase Auth user row as pglane's preset writes them (minus the hash). */
export function authUserRow(id, email, fullName, now) {
  return {
    instance_id: NIL_UUID,
    id,
    aud: 'authenticated',
    role: 'authenticated',
    email,
    email_confirmed_at: now,
    confirmation_token: '',
    recovery_token: '',
    email_change_token_new: '',
    email_change: '',
    email_change_token_current: '',
    phone_change: '',
    phone_change_token: '',
    reauthentication_token: '',
    raw_app_meta_data: { provider: 'email', providers: ['email'] },
    raw_user_meta_data: { full_name: fullName, email_verified: true },
    is_super_admin: false,
    is_sso_user: false,
    is_anonymous: false,
    created_at: now,
    updated_at: now,
    last_sign_in_at: now,
  };
}

// --- Data prepared outside the timed regions -------------------------------------------------

/**
 * A test that wrote a lot of chat history: 1 user, its profile, 1 organization, the owner
 * membership, 10 conversations and 986 messages = 1,000 tracked rows. One statement.
 */
export async function insertChatHistory(client, ctx) {
  const ids = {
    user: randomUUID(),
    org: randomUUID(),
    member: randomUUID(),
    conversations: Array.from({ length: 10 }, () => randomUUID()),
    messages: Array.from({ length: 986 }, () => randomUUID()),
  };
  const email = ctx.email('owner');
  await client.query(
    `with u as (insert into auth.users (id, email, aud, role, raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
               values ($1, $2, 'authenticated', 'authenticated', '{}', '{}', now(), now()) returning id),
          p as (insert into public.profiles (id, email, full_name) select id, $2, $3 from u),
          o as (insert into public.organizations (id, name, slug, created_by) select $4, $5, $6, id from u returning id),
          m as (insert into public.organization_members (id, organization_id, user_id, role) select $7, o.id, u.id, 'owner' from o, u),
          c as (insert into public.conversations (id, organization_id, user_id, title)
                select cid, o.id, u.id, $8 || n from o, u, unnest($9::uuid[]) with ordinality x(cid, n) returning id)
     insert into public.messages (id, conversation_id, user_id, content)
     select mid, ($9::uuid[])[1 + (n % 10)], $1, 'message ' || n from unnest($10::uuid[]) with ordinality y(mid, n)
     where (select count(*) from c) = 10`,
    [ids.user, email, ctx.name('Owner'), ids.org, ctx.name('Org'), ctx.slug('org'), ids.member, ctx.name('Chat '),
      ids.conversations, ids.messages],
  );
  return ids;
}

/** The 1,000 rows of `insertChatHistory`, as `[table, id]`. */
export function chatHistoryRows(ids) {
  return [
    ['auth.users', ids.user],
    ['public.profiles', ids.user],
    ['public.organizations', ids.org],
    ['public.organization_members', ids.member],
    ...ids.conversations.map((id) => ['public.conversations', id]),
    ...ids.messages.map((id) => ['public.messages', id]),
  ];
}

/**
 * 10,000 rows a crashed run leaked, named in the run's lane (`{run}-w{worker}-{test}-...`):
 * 1,000 each of users, profiles, organizations, memberships, groups, models, invites,
 * conversations and messages, plus 1,000 group members. One statement.
 */
export async function insertLeakedRun(client, runId) {
  const n = 1000;
  const ids = (k) => Array.from({ length: k }, () => randomUUID());
  const users = ids(n);
  const orgs = ids(n);
  const groups = ids(n);
  const models = ids(n);
  const convs = ids(n);
  const lane = (i) => `${runId}-w${i % 10}-${i}-`;
  const emails = users.map((_, i) => `${lane(i)}user@pglane.test`);
  const orgNames = orgs.map((_, i) => `${lane(i)}Org`);
  const slugs = orgs.map((_, i) => `${lane(i)}org`);
  await client.query(
    `with u as (insert into auth.users (id, email, aud, role, instance_id, created_at, updated_at)
                select id, email, 'authenticated', 'authenticated', '${NIL_UUID}', now(), now()
                from unnest($1::uuid[], $2::text[]) x(id, email) returning id, email),
          p as (insert into public.profiles (id, email) select id, email from u),
          o as (insert into public.organizations (id, name, slug, created_by)
                select * from unnest($3::uuid[], $4::text[], $5::text[], $1::uuid[]) returning id),
          om as (insert into public.organization_members (organization_id, user_id, role)
                 select * from unnest($3::uuid[], $1::uuid[], array_fill('owner'::text, array[${n}]))
                 where (select count(*) from o) > 0 and (select count(*) from u) > 0),
          g as (insert into public.groups (id, organization_id, name)
                select g, o, n || 'Group' from unnest($6::uuid[], $3::uuid[], $9::text[]) x(g, o, n)
                where (select count(*) from o) > 0 returning id),
          gm as (insert into public.group_members (group_id, user_id)
                 select * from unnest($6::uuid[], $1::uuid[]) where (select count(*) from g) > 0 and (select count(*) from u) > 0),
          md as (insert into public.models (id, organization_id, name)
                 select m, o, n || 'Model' from unnest($7::uuid[], $3::uuid[], $9::text[]) x(m, o, n)
                 where (select count(*) from o) > 0 returning id),
          i as (insert into public.invites (organization_id, email, invited_by)
                select o, n || 'invitee@pglane.test', u from unnest($3::uuid[], $9::text[], $1::uuid[]) x(o, n, u)
                where (select count(*) from o) > 0 and (select count(*) from u) > 0),
          c as (insert into public.conversations (id, organization_id, user_id, model_id, title)
                select c, o, u, m, n || 'Chat' from unnest($8::uuid[], $3::uuid[], $1::uuid[], $7::uuid[], $9::text[]) x(c, o, u, m, n)
                where (select count(*) from o) > 0 and (select count(*) from u) > 0 and (select count(*) from md) > 0 returning id)
     insert into public.messages (conversation_id, user_id, content)
     select c, u, 'leaked' from unnest($8::uuid[], $1::uuid[]) x(c, u) where (select count(*) from c) > 0`,
    [users, emails, orgs, orgNames, slugs, groups, models, convs, users.map((_, i) => lane(i))],
  );
  return { runId, pattern: `${escapeLike(runId)}-w%`, rows: 10 * n };
}

/** Rows of a leaked run still present (by lane names), summed over the lane tables. */
export async function laneRowsLeft(client, pattern) {
  const { rows } = await client.query(
    `select (select count(*) from auth.users where email like $1)
          + (select count(*) from public.profiles where email like $1)
          + (select count(*) from public.organizations where name like $1 or slug like $1)
          + (select count(*) from public.groups where name like $1)
          + (select count(*) from public.models where name like $1)
          + (select count(*) from public.invites where email like $1)
          + (select count(*) from public.conversations where title like $1) as n`,
    [pattern],
  );
  return Number(rows[0].n);
}

/** The tables the workloads write, for VACUUM between workloads. */
export const APP_TABLES = [
  'auth.users', 'auth.identities', 'auth.sessions', 'auth.refresh_tokens', 'public.profiles', 'public.organizations',
  'public.organization_members', 'public.groups', 'public.group_members', 'public.models', 'public.group_models',
  'public.invites', 'public.conversations', 'public.messages',
];

/**
 * VACUUM (ANALYZE) of the app tables, outside the timed regions: deleted rows of earlier
 * iterations would otherwise be scanned again by the foreign-key triggers of later ones (e.g.
 * ON DELETE SET NULL of messages.user_id, which has no index), so results would depend on the
 * order of the workloads.
 */
export async function vacuum(client) {
  await client.query(`vacuum (analyze) ${APP_TABLES.join(', ')}`);
}
