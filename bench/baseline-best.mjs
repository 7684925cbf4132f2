// (c) The best TypeScript version a good engineer would write with `pg` and no pglane: the
// fewest statements, each pooler-safe (unnamed, like pglane's), with row sets as array
// parameters.
// - setup: ONE statement of chained insert CTEs writing the same rows and columns as pglane's
//   `completeSetup` (incl. a bcryptjs hash at cost 4, computed per call as pglane does);
// - cleanup: ONE statement of data-modifying CTEs in foreign-key order with `= any($n::uuid[])`,
//   which also deletes conversations (and so messages) referencing a deleted organization or
//   user through their NO ACTION foreign keys. Verification rides in the same statement: each
//   CTE returns the ids it deleted and the statement counts the tracked ones among them (a CTE
//   that deletes by tracked id only is counted whole); only when a count falls short of the
//   number tracked is a second statement sent to count what is left;
// - pattern cleanup: ONE statement selecting the lane by LIKE and deleting it with its
//   dependents, then ONE count of what is left (a later snapshot needs a second statement).
import { createRequire } from 'node:module';
import { authUserRow, BCRYPT_COST, BestContext, PASSWORD } from './common.mjs';
import { CLEANUP_ORDER, PgImpl, trackSetup } from './baseline-reference.mjs';

const require = createRequire(import.meta.url);
const bcrypt = require('bcryptjs');

const USER_COLS = Object.keys(authUserRow('', '', '', '')).concat('encrypted_password');

const SETUP_SQL = `with
  u as (insert into auth.users (${USER_COLS.join(', ')})
        values (${USER_COLS.map((_, i) => `$${i + 1}`).join(', ')}) returning *),
  i as (insert into auth.identities (id, provider, provider_id, user_id, identity_data, last_sign_in_at, created_at, updated_at)
        values ($24, 'email', $2, $2, $25, $6, $6, $6) returning *),
  p as (insert into public.profiles (id, email, full_name, onboarded) values ($2, $5, $26, true) returning *),
  o as (insert into public.organizations (id, name, slug, created_by) values ($27, $28, $29, $2) returning *),
  om as (insert into public.organization_members (id, organization_id, user_id, role) values ($30, $27, $2, 'owner') returning *),
  g as (insert into public.groups (id, organization_id, name) values ($31, $27, $32) returning *),
  gm as (insert into public.group_members (id, group_id, user_id) values ($33, $31, $2) returning *),
  m as (insert into public.models (id, organization_id, name, provider, model_key) values ($34, $27, $35, 'openai', 'gpt-4o-mini') returning *),
  gmo as (insert into public.group_models (id, group_id, model_id) values ($36, $31, $34) returning *),
  inv as (insert into public.invites (id, organization_id, email, role, invited_by) values ($37, $27, $38, 'member', $2) returning *)
select (select row_to_json(u) from u) as "user", (select row_to_json(i) from i) as identity,
       (select row_to_json(p) from p) as profile, (select row_to_json(o) from o) as organization,
       (select row_to_json(om) from om) as membership, (select row_to_json(g) from g) as "group",
       (select row_to_json(gm) from gm) as "groupMember", (select row_to_json(m) from m) as model,
       (select row_to_json(gmo) from gmo) as "groupModel", (select row_to_json(inv) from inv) as invite`;

// Parameters $1..$11 are the tracked ids of each type, in CLEANUP_ORDER.
const CLEANUP_SQL = `with
  msg as (delete from public.messages where id = any($1::uuid[]) returning id),
  conv as (delete from public.conversations
           where id = any($2::uuid[]) or organization_id = any($9::uuid[]) or user_id = any($11::uuid[]) returning id),
  gmo as (delete from public.group_models where id = any($3::uuid[]) returning id),
  gm as (delete from public.group_members where id = any($4::uuid[]) returning id),
  inv as (delete from public.invites where id = any($5::uuid[]) returning id),
  g as (delete from public.groups where id = any($6::uuid[]) returning id),
  m as (delete from public.models where id = any($7::uuid[]) returning id),
  om as (delete from public.organization_members where id = any($8::uuid[]) returning id),
  o as (delete from public.organizations where id = any($9::uuid[]) returning id),
  p as (delete from public.profiles where id = any($10::uuid[]) returning id),
  u as (delete from auth.users where id = any($11::uuid[]) returning id)
select array[(select count(*) from msg), (select count(*) from conv where id = any($2::uuid[])),
             (select count(*) from gmo), (select count(*) from gm), (select count(*) from inv), (select count(*) from g),
             (select count(*) from m), (select count(*) from om), (select count(*) from o), (select count(*) from p),
             (select count(*) from u)]::int8[] as tracked_deleted,
       (select count(*) from conv) + (select count(*) from msg) as with_dependents`;

const VERIFY_SQL = `select array[${CLEANUP_ORDER.map(([, table], i) => `(select count(*) from ${table} where id = any($${i + 1}::uuid[]))`).join(', ')}]::int8[] as left`;

const SWEEP_SQL = `with
  u as (select id from auth.users where email like $1),
  o as (select id from public.organizations where name like $1 or slug like $1),
  cv as (select id from public.conversations where title like $1 or organization_id in (select id from o) or user_id in (select id from u)),
  g as (select id from public.groups where name like $1 or organization_id in (select id from o)),
  md as (select id from public.models where name like $1 or organization_id in (select id from o)),
  d_msg as (delete from public.messages where conversation_id in (select id from cv) returning 1),
  d_cv as (delete from public.conversations where id in (select id from cv) returning 1),
  d_gmo as (delete from public.group_models where group_id in (select id from g) or model_id in (select id from md) returning 1),
  d_gm as (delete from public.group_members where group_id in (select id from g) or user_id in (select id from u) returning 1),
  d_inv as (delete from public.invites where email like $1 or organization_id in (select id from o) returning 1),
  d_g as (delete from public.groups where id in (select id from g) returning 1),
  d_md as (delete from public.models where id in (select id from md) returning 1),
  d_om as (delete from public.organization_members where organization_id in (select id from o) or user_id in (select id from u) returning 1),
  d_o as (delete from public.organizations where id in (select id from o) returning 1),
  d_p as (delete from public.profiles where email like $1 or id in (select id from u) returning 1),
  d_u as (delete from auth.users where id in (select id from u) returning 1)
select (select count(*) from d_msg) + (select count(*) from d_cv) + (select count(*) from d_gmo) + (select count(*) from d_gm)
     + (select count(*) from d_inv) + (select count(*) from d_g) + (select count(*) from d_md) + (select count(*) from d_om)
     + (select count(*) from d_o) + (select count(*) from d_p) + (select count(*) from d_u) as n`;

const SWEEP_VERIFY_SQL = `select (select count(*) from auth.users where email like $1)
     + (select count(*) from public.profiles where email like $1)
     + (select count(*) from public.organizations where name like $1 or slug like $1)
     + (select count(*) from public.groups where name like $1)
     + (select count(*) from public.models where name like $1)
     + (select count(*) from public.invites where email like $1)
     + (select count(*) from public.conversations where title like $1) as n`;

export class BestImpl extends PgImpl {
  constructor(url, { poolSize = 2, applicationName = 'pglane-bench-c' } = {}) {
    super(url, { key: 'c', Context: BestContext, poolSize, applicationName });
  }

  /** The complete setup in one statement. */
  async completeSetup({ ctx, tracker }, { fullName = 'Test User 1' } = {}) {
    const now = new Date().toISOString();
    const userId = ctx.uuid();
    const email = ctx.email('user1');
    const u = authUserRow(userId, email, fullName, now);
    u.encrypted_password = bcrypt.hashSync(PASSWORD, BCRYPT_COST);
    const ids = { identity: ctx.uuid(), org: ctx.uuid(), member: ctx.uuid(), group: ctx.uuid(), groupMember: ctx.uuid(),
      model: ctx.uuid(), groupModel: ctx.uuid(), invite: ctx.uuid() };
    const values = USER_COLS.map((c) => u[c]);
    values.push(
      ids.identity, { sub: userId, email, email_verified: true, phone_verified: false }, fullName,
      ids.org, ctx.name('Org 1'), ctx.slug('org-1'), ids.member, ids.group, ctx.name('Group 1'), ids.groupMember,
      ids.model, ctx.name('Model 1'), ids.groupModel, ids.invite, ctx.email('invitee1'),
    );
    const { rows: [row] } = await this.db.query(SETUP_SQL, values);
    trackSetup(tracker, { user: userId, ...ids });
    row.user.identity = row.identity;
    row.user.profile = row.profile;
    delete row.identity;
    delete row.profile;
    return row;
  }

  /** One statement deletes and (in the happy path) verifies. */
  async cleanup({ tracker }) {
    const arrays = CLEANUP_ORDER.map(([type]) => tracker.byType.get(type) ?? []);
    if (arrays.every((a) => a.length === 0)) return { totalDeleted: 0, verified: true };
    const { rows: [row] } = await this.db.query(CLEANUP_SQL, arrays);
    const counts = row.tracked_deleted.map(Number);
    const tracked = arrays.map((a) => a.length);
    let verified = counts.every((n, i) => n === tracked[i]);
    let remaining;
    if (!verified) {
      // Some tracked row was not deleted here (already gone, or still there): count what is left.
      const left = (await this.db.query(VERIFY_SQL, arrays)).rows[0].left.map(Number);
      remaining = Object.fromEntries(CLEANUP_ORDER.map(([, t], i) => [t, left[i]]).filter(([, n]) => n > 0));
      verified = Object.keys(remaining).length === 0;
    }
    if (verified) tracker.clear();
    const totalDeleted = counts.reduce((a, b) => a + b, 0) - counts[0] - counts[1] + Number(row.with_dependents);
    return { totalDeleted, verified, remaining };
  }

  /** One statement deletes the lane and its dependents; one more proves it gone. */
  async cleanupPattern(pattern) {
    const deleted = Number((await this.db.query(SWEEP_SQL, [pattern])).rows[0].n);
    const left = Number((await this.db.query(SWEEP_VERIFY_SQL, [pattern])).rows[0].n);
    return { totalDeleted: deleted, verified: left === 0 };
  }
}
