// The reference application's schema and a "complete setup" written with plain SQL, as the app
// (or a test written without pglane's factories) would insert it.
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';

/** The stand-in for Supabase Auth's `auth` schema, for plain PostgreSQL (never for Supabase). */
export const AUTH_STAND_IN_SQL = readFileSync(new URL('../examples/auth-stand-in.sql', import.meta.url), 'utf8');
/** The app's schema: loads as `postgres` on a real Supabase database, never touches `auth`. */
export const SCHEMA_SQL = readFileSync(new URL('../examples/schema.sql', import.meta.url), 'utf8');
/** The `on_auth_user_created` trigger of Supabase's "managing user data" guide. */
export const PROFILES_TRIGGER_SQL = readFileSync(new URL('../examples/profiles-trigger.sql', import.meta.url), 'utf8');

/** The reference schema on plain PostgreSQL: the auth stand-in, then the app. */
export async function applySchema(client) {
  await client.query(AUTH_STAND_IN_SQL);
  await client.query(SCHEMA_SQL);
}

/** Inserts one of everything for a lane; returns the ids. */
export async function insertCompleteSetup(client, ctx) {
  const ids = {
    user: randomUUID(),
    org: randomUUID(),
    member: randomUUID(),
    group: randomUUID(),
    groupMember: randomUUID(),
    model: randomUUID(),
    groupModel: randomUUID(),
    invite: randomUUID(),
    conversation: randomUUID(),
    message: randomUUID(),
  };
  const email = ctx.email('owner');
  await client.query(
    `with u as (insert into auth.users (id, email, aud, role, raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
               values ($1, $2, 'authenticated', 'authenticated', '{}', '{}', now(), now()) returning id),
          p as (insert into public.profiles (id, email, full_name) select id, $2, $3 from u),
          o as (insert into public.organizations (id, name, slug, created_by) select $4, $5, $6, id from u returning id),
          m as (insert into public.organization_members (id, organization_id, user_id, role) select $7, o.id, u.id, 'owner' from o, u),
          g as (insert into public.groups (id, organization_id, name) select $8, id, $9 from o returning id),
          gm as (insert into public.group_members (id, group_id, user_id) select $10, g.id, u.id from g, u),
          md as (insert into public.models (id, organization_id, name) select $11, id, $12 from o returning id),
          gmd as (insert into public.group_models (id, group_id, model_id) select $13, g.id, md.id from g, md),
          i as (insert into public.invites (id, organization_id, email, invited_by) select $14, o.id, $15, u.id from o, u),
          c as (insert into public.conversations (id, organization_id, user_id, model_id, title) select $16, o.id, u.id, md.id, $17 from o, u, md returning id)
     insert into public.messages (id, conversation_id, user_id, content) select $18, c.id, $1, 'hello' from c`,
    [
      ids.user, email, ctx.name('Owner'), ids.org, ctx.name('Org'), ctx.slug('org'), ids.member, ids.group, ctx.name('Group'),
      ids.groupMember, ids.model, ctx.name('Model'), ids.groupModel, ids.invite, ctx.email('invitee'), ids.conversation,
      ctx.name('Chat'), ids.message,
    ],
  );
  return ids;
}

/** Tracks everything `insertCompleteSetup` made, with the typed helpers. */
export function trackCompleteSetup(tracker, ids) {
  tracker.trackAuthUser(ids.user);
  tracker.trackProfile(ids.user);
  tracker.trackOrganization(ids.org);
  tracker.trackOrgMember(ids.member);
  tracker.trackGroup(ids.group);
  tracker.trackGroupMember(ids.groupMember);
  tracker.trackModel(ids.model);
  tracker.trackGroupModel(ids.groupModel);
  tracker.trackInvite(ids.invite);
  tracker.trackConversation(ids.conversation);
  tracker.trackMessage(ids.message);
}

export const APP_TABLES = [
  'auth.users', 'public.profiles', 'public.organizations', 'public.organization_members', 'public.groups',
  'public.group_members', 'public.models', 'public.group_models', 'public.invites', 'public.conversations', 'public.messages',
];

/** Rows of a lane's setup still present, per table. */
export async function remainingRows(client, ids) {
  const { rows } = await client.query(
    `select 'auth.users' t, count(*)::int n from auth.users where id = $1
     union all select 'public.profiles', count(*)::int from public.profiles where id = $1
     union all select 'public.organizations', count(*)::int from public.organizations where id = $2
     union all select 'public.organization_members', count(*)::int from public.organization_members where organization_id = $2
     union all select 'public.groups', count(*)::int from public.groups where organization_id = $2
     union all select 'public.group_members', count(*)::int from public.group_members where user_id = $1
     union all select 'public.models', count(*)::int from public.models where organization_id = $2
     union all select 'public.group_models', count(*)::int from public.group_models gm join public.models m on m.id = gm.model_id where m.organization_id = $2
     union all select 'public.invites', count(*)::int from public.invites where organization_id = $2
     union all select 'public.conversations', count(*)::int from public.conversations where organization_id = $2
     union all select 'public.messages', count(*)::int from public.messages where user_id = $1`,
    [ids.user, ids.org],
  );
  return Object.fromEntries(rows.map((r) => [r.t, r.n]));
}
