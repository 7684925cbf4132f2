// The auth suite on Supabase Auth's real schema: the Supabase image's bootstrap and GoTrue's
// migrations on PostgreSQL 15 (supabase-real.mjs), pglane connected as `postgres` (NOSUPERUSER
// BYPASSRLS) with the image's grants, and again with `postgres` no member of
// supabase_auth_admin, as on hosted projects. The app schema loads as `postgres`; profiles come
// from an on_auth_user_created trigger; sessions are minted HS256, ES256 and RS256, or issued by
// a stand-in Supabase Auth that connects as supabase_auth_admin and writes GoTrue's rows.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { ecKey, publicJwk, rsaKey, startAuthStandIn } from './auth-stand-in.mjs';
import { pglane, withPgClient } from './helpers.mjs';
import { AUTH_STAND_IN_SQL, PROFILES_TRIGGER_SQL, SCHEMA_SQL } from './reference.mjs';
import { startSupabaseReal, supabaseRealSkipReason } from './supabase-real.mjs';

const {
  WorkerContext, ResourceTracker, CleanupManager, Db, Factories,
  createWorkerScopedAuthenticatedUserWithState, createWorkerScopedUserWithOrg, createWorkerScopedUserForOnboarding,
} = pglane;

const JWT_SECRET = 'a-project-jwt-secret-for-the-real-schema-0123456789';
const timings = [];
after(() => {
  if (timings.length) console.log(`supabase-real auth suite (informational): ${timings.join(', ')}`);
});

/** Everything of a user left in auth's and the app's tables. */
const LEFT_SQL = `select (select count(*) from auth.users where id = $1)::int users,
  (select count(*) from auth.identities where user_id = $1)::int identities,
  (select count(*) from public.profiles where id = $1)::int profiles,
  (select count(*) from auth.sessions where user_id = $1)::int sessions,
  (select count(*) from auth.refresh_tokens where user_id = $2)::int refresh_tokens,
  (select count(*) from auth.mfa_amr_claims m where not exists (select 1 from auth.sessions s where s.id = m.session_id))::int orphan_amr,
  (select count(*) from auth.audit_log_entries where payload ->> 'actor_id' = $2)::int audit,
  (select count(*) from public.organization_members where user_id = $1)::int memberships`;

for (const restricted of [false, true]) {
  const variant = restricted ? 'postgres no member of supabase_auth_admin (hosted)' : "the image's grants";
  describe(`the auth suite on Supabase Auth's real schema, ${variant}`, { skip: supabaseRealSkipReason() ?? false }, () => {
    let sb;
    let db;
    let dir;
    let standIn;
    let n = 0;
    const keys = { ES256: ecKey(), RS256: rsaKey() };
    const lane = () => WorkerContext.create({ workerIndex: restricted ? 2 : 1, testId: `real-${n++}` }, { runId: 'realauth01' });

    test('bootstrap; the stand-in auth schema is refused as postgres, the app schema and the trigger load', async () => {
      sb = await startSupabaseReal({ restricted });
      timings.push(`${restricted ? 'restricted' : 'image grants'} bootstrap ${sb.ms} ms`);
      await withPgClient(sb.postgresUrl, async (c) => {
        const { rows: [me] } = await c.query(
          "select rolsuper, rolbypassrls, pg_has_role('postgres', 'supabase_auth_admin', 'member') as member from pg_roles where rolname = current_user");
        assert.deepEqual(me, { rolsuper: false, rolbypassrls: true, member: !restricted });
        // Why the stand-in is a file of its own: it is not for Supabase, where it stops at once.
        await assert.rejects(c.query(AUTH_STAND_IN_SQL), /bypassrls|superuser|permission|owner/);
        await c.query('rollback').catch(() => {});
        await c.query(SCHEMA_SQL);
        await c.query(PROFILES_TRIGGER_SQL);
        const { rows: [t] } = await c.query(
          "select count(*)::int n from pg_trigger where tgname = 'on_auth_user_created' and tgrelid = 'auth.users'::regclass");
        assert.equal(t.n, 1);
        await c.query(PROFILES_TRIGGER_SQL); // idempotent
        await c.query(SCHEMA_SQL);
      });
      db = Db.connect(sb.postgresUrl);
      dir = mkdtempSync(join(tmpdir(), 'pglane-real-auth-'));
      // Supabase Auth connects as supabase_auth_admin; so does its stand-in.
      standIn = await startAuthStandIn({ databaseUrl: sb.authAdminUrl, signingKey: keys.ES256, jwks: [publicJwk(keys.RS256)] });
    });

    const modes = {
      HS256: () => ({ jwtSecret: JWT_SECRET }),
      ES256: () => ({ signingKey: keys.ES256 }),
      RS256: () => ({ signingKey: keys.RS256 }),
      'password grant': () => ({ sessionMode: 'password', apiKey: standIn.apiKey }),
    };
    for (const [mode, options] of Object.entries(modes)) {
      test(`${mode}: signed-in users, owners and onboarding users; trigger-made profiles adopted; everything cleaned`, async () => {
        const ctx = lane();
        const tracker = ResourceTracker.forTest({}, ctx, db);
        const common = { ...options(), supabaseUrl: standIn.url, appOrigin: 'http://localhost:3000', dir };
        const alice = await createWorkerScopedAuthenticatedUserWithState(ctx, tracker, { ...common, email: 'alice', fullName: 'Alice Real' });
        const owner = await createWorkerScopedUserWithOrg(ctx, tracker, { ...common, email: 'owner', organization: { name: 'Real Org' } });
        const newbie = await createWorkerScopedUserForOnboarding(ctx, tracker, { ...common, email: 'newbie' });
        const setup = await Factories.preset(db).create('completeSetup', ctx, tracker, { fullName: 'Complete Real' });

        const expected = mode === 'HS256' ? 'HS256' : mode === 'RS256' ? 'RS256' : 'ES256';
        for (const user of [alice, owner, newbie]) {
          const header = decodeProtectedHeader(user.accessToken);
          assert.equal(header.alg, expected);
          const { payload } = expected === 'HS256'
            ? await jwtVerify(user.accessToken, new TextEncoder().encode(JWT_SECRET), { issuer: standIn.issuer, audience: 'authenticated' })
            : await jwtVerify(user.accessToken, createRemoteJWKSet(new URL(standIn.jwksUrl)), { issuer: standIn.issuer, audience: 'authenticated' });
          assert.equal(payload.sub, user.user.id);
          assert.equal(payload.session_id, user.sessionId);
          assert.deepEqual(payload.amr.map((a) => a.method), ['password']);
        }
        await withPgClient(sb.adminUrl, async (c) => {
          for (const [user, fullName, onboarded] of [[alice, 'Alice Real', true], [owner, null, true], [newbie, null, false], [setup.user, 'Complete Real', true]]) {
            const { rows } = await c.query('select full_name, onboarded, email from public.profiles where id = $1', [user.id ?? user.user.id]);
            assert.equal(rows.length, 1, 'one profile: the trigger made it, pglane adopted it');
            assert.equal(rows[0].onboarded, onboarded);
            if (fullName) assert.equal(rows[0].full_name, fullName);
          }
          // GoTrue's own lookups find what pglane (or Supabase Auth) wrote.
          const { rows: [session] } = await c.query(
            `select s.aal::text, r.token, r.revoked, m.authentication_method
               from auth.sessions s join auth.refresh_tokens r on r.session_id = s.id join auth.mfa_amr_claims m on m.session_id = s.id
              where s.id = $1 and s.user_id = $2`, [alice.sessionId, alice.user.id]);
          assert.deepEqual(session, { aal: 'aal1', token: alice.refreshToken, revoked: false, authentication_method: 'password' });
          const { rows: [audit] } = await c.query("select count(*)::int n from auth.audit_log_entries where payload ->> 'actor_id' = $1", [alice.user.id]);
          assert.equal(audit.n, mode === 'password grant' ? 1 : 0);
        });
        const report = await new CleanupManager(db, tracker).cleanup();
        assert.deepEqual(report.failures, []);
        assert.equal(report.verified, true);
        await withPgClient(sb.adminUrl, async (c) => {
          for (const user of [alice.user, owner.user, newbie.user, setup.user]) {
            const { rows: [left] } = await c.query(LEFT_SQL, [user.id, user.id]);
            assert.deepEqual(left, { users: 0, identities: 0, profiles: 0, sessions: 0, refresh_tokens: 0, orphan_amr: 0, audit: 0, memberships: 0 });
          }
          const { rows: [org] } = await c.query('select count(*)::int n from public.organizations where id = $1', [owner.organization.id]);
          assert.equal(org.n, 0);
        });
      });
    }

    test('a crashed test (nothing tracked) is swept by its lane: user, identity, trigger-made profile, session', async () => {
      const ctx = lane();
      const lost = await createWorkerScopedUserWithOrg(ctx, ResourceTracker.forTest({}, ctx, db), { jwtSecret: JWT_SECRET, email: 'crashed' });
      const report = await new CleanupManager(db, ResourceTracker.forTest({}, ctx, db)).cleanupPattern(ctx.testPattern(), { allowUnmarked: true });
      assert.deepEqual(report.failures, []);
      assert.equal(report.verified, true);
      await withPgClient(sb.adminUrl, async (c) => {
        const { rows: [left] } = await c.query(LEFT_SQL, [lost.user.id, lost.user.id]);
        assert.deepEqual(left, { users: 0, identities: 0, profiles: 0, sessions: 0, refresh_tokens: 0, orphan_amr: 0, audit: 0, memberships: 0 });
      });
    });

    test('stop', async () => {
      await standIn?.stop();
      db?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
      await sb?.stop();
    });
  });
}
