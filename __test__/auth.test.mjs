// Supabase Auth: signed-in users written straight to Postgres, checked by the real clients
// (supabase-js, @supabase/ssr, jose, bcryptjs) and by Postgres' own row-level security.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createClient } from '@supabase/supabase-js';
import { createServerClient } from '@supabase/ssr';
import bcrypt from 'bcryptjs';
import { decodeJwt, jwtVerify } from 'jose';
import { databaseUrl, pgClient, pglane, rejection, stopDatabase, thrown } from './helpers.mjs';
import { applySchema } from './reference.mjs';

const {
  WorkerContext, ResourceTracker, CleanupManager, Db,
  createWorkerScopedAuthenticatedUser, createWorkerScopedUserWithOrg, createWorkerScopedUserForOnboarding,
  createWorkerScopedAuthenticatedUserWithState, createWorkerScopedUserWithOrgAndState,
  writeSupabaseStorageState, supabaseStorageKey,
} = pglane;

const DEV_SECRET = 'super-secret-jwt-token-with-at-least-32-characters-long';
const SUPABASE_URL = 'http://127.0.0.1:54321';
const ANON_KEY = 'anon-key-unused-because-nothing-goes-over-the-network';
// Node 20 has no global WebSocket and realtime-js wants one at construction; these tests never
// open a channel, so a placeholder transport is enough.
const realtime = { transport: class NoWebSocket {} };

let n = 0;
const lane = (worker = 4) => WorkerContext.create({ workerIndex: worker, testId: `auth-${n++}` }, { runId: 'authrun001' });

/** A storage object for supabase-js holding a Playwright state's localStorage entries. */
function storageFrom(state) {
  const items = new Map(state.origins[0].localStorage.map(({ name, value }) => [name, value]));
  return {
    getItem: (k) => items.get(k) ?? null,
    setItem: (k, v) => void items.set(k, v),
    removeItem: (k) => void items.delete(k),
  };
}

/** An @supabase/ssr server client reading exactly the cookies of a Playwright state. */
function ssrClient(state) {
  const client = createServerClient(SUPABASE_URL, ANON_KEY, {
    realtime,
    cookies: {
      getAll: () => state.cookies.map(({ name, value }) => ({ name, value })),
      setAll: () => {},
    },
  });
  // A server's getSession() user is unverified and supabase-js warns when it is read; these tests
  // compare it with what pglane wrote, so the warning is only noise here.
  client.auth.suppressGetSessionWarning = true;
  return client;
}

describe('Supabase auth users, sessions and storage state', () => {
  let client;
  let dir;
  before(async () => {
    client = await pgClient(await databaseUrl());
    await applySchema(client);
    dir = mkdtempSync(join(tmpdir(), 'pglane-auth-'));
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await client?.end();
    await stopDatabase();
  });

  test('a signed-in user is one round trip: user, identity, profile, session and refresh token, all tracked', async () => {
    const ctx = lane();
    const db = Db.connect(process.env.DATABASE_URL || process.env.PGLANE_DATABASE_URL);
    const tracker = ResourceTracker.forTest({}, ctx, db);
    await createWorkerScopedAuthenticatedUser(ctx, tracker); // reads the schema once per process
    const before = db.roundTrips;
    const alice = await createWorkerScopedAuthenticatedUser(ctx, tracker, { email: 'alice', fullName: 'Alice', password: 'correct horse' });
    assert.equal(db.roundTrips - before, 1);

    assert.equal(alice.user.email, ctx.email('alice'));
    assert.equal(alice.user.instance_id, '00000000-0000-0000-0000-000000000000');
    assert.equal(alice.user.aud, 'authenticated');
    assert.equal(alice.user.role, 'authenticated');
    assert.ok(alice.user.email_confirmed_at);
    assert.deepEqual(alice.user.raw_app_meta_data, { provider: 'email', providers: ['email'] });
    for (const column of ['confirmation_token', 'recovery_token', 'email_change_token_new', 'email_change',
      'email_change_token_current', 'phone_change', 'phone_change_token', 'reauthentication_token']) {
      assert.equal(alice.user[column], '', column);
    }
    assert.ok(bcrypt.compareSync('correct horse', alice.user.encrypted_password), 'a real bcrypt hash of the password');
    assert.equal(alice.user.identity.provider, 'email');
    assert.equal(alice.user.identity.provider_id, alice.user.id);
    assert.deepEqual(alice.user.identity.identity_data,
      { sub: alice.user.id, email: alice.user.email, email_verified: true, phone_verified: false });
    assert.equal(alice.user.profile.full_name, 'Alice');

    const { rows: [row] } = await client.query(
      `select s.user_id, s.aal::text, r.token, r.user_id as token_user, r.revoked, r.instance_id
         from auth.sessions s join auth.refresh_tokens r on r.session_id = s.id where s.id = $1`,
      [alice.sessionId],
    );
    assert.equal(row.user_id, alice.user.id);
    assert.equal(row.aal, 'aal1');
    assert.equal(row.token, alice.refreshToken);
    assert.match(alice.refreshToken, /^[a-z0-9]{12}$/);
    assert.equal(row.token_user, alice.user.id);
    assert.equal(row.revoked, false);
    assert.equal(row.instance_id, '00000000-0000-0000-0000-000000000000');

    const tables = tracker.list().map((r) => r.table);
    for (const t of ['auth.users', 'auth.identities', 'public.profiles', 'auth.sessions', 'auth.refresh_tokens']) {
      assert.ok(tables.includes(t), t);
    }
    const report = await new CleanupManager(db, tracker).cleanup();
    assert.equal(report.verified, true);
    const { rows: [left] } = await client.query(
      `select (select count(*) from auth.users where id = $1)::int u, (select count(*) from auth.identities where user_id = $1)::int i,
              (select count(*) from auth.sessions where user_id = $1)::int s, (select count(*) from auth.refresh_tokens where user_id = $2)::int r`,
      [alice.user.id, alice.user.id],
    );
    assert.deepEqual(left, { u: 0, i: 0, s: 0, r: 0 });
    db.close();
  });

  test('the access token is an HS256 JWT with the claims Supabase Auth issues, verified by jose', async () => {
    const ctx = lane();
    const tracker = ResourceTracker.forTest({}, ctx);
    const bob = await createWorkerScopedAuthenticatedUser(ctx, tracker, { email: 'bob', expiresIn: 600 });
    const { payload, protectedHeader } = await jwtVerify(bob.accessToken, new TextEncoder().encode(DEV_SECRET), {
      issuer: `${SUPABASE_URL}/auth/v1`,
      audience: 'authenticated',
      algorithms: ['HS256'],
    });
    assert.deepEqual(protectedHeader, { alg: 'HS256', typ: 'JWT' });
    assert.equal(payload.sub, bob.user.id);
    assert.equal(payload.email, bob.user.email);
    assert.equal(payload.phone, '');
    assert.equal(payload.role, 'authenticated');
    assert.equal(payload.aal, 'aal1');
    assert.deepEqual(payload.amr, [{ method: 'password', timestamp: payload.iat }]);
    assert.equal(payload.session_id, bob.sessionId);
    assert.equal(payload.is_anonymous, false);
    assert.deepEqual(payload.app_metadata, { provider: 'email', providers: ['email'] });
    assert.equal(payload.user_metadata.full_name, bob.user.raw_user_meta_data.full_name);
    assert.equal(payload.exp - payload.iat, 600);
    assert.equal(payload.exp, bob.expiresAt);
    assert.deepEqual(payload, bob.claims);
    await assert.rejects(jwtVerify(bob.accessToken, new TextEncoder().encode(`${DEV_SECRET}-other`)));

    const session = bob.session;
    assert.deepEqual(Object.keys(session).sort(), ['access_token', 'expires_at', 'expires_in', 'refresh_token', 'token_type', 'user']);
    assert.equal(session.token_type, 'bearer');
    assert.equal(session.expires_in, 600);
    assert.equal(session.user.id, bob.user.id);
    assert.equal(session.user.identities[0].identity_id, bob.user.identity.id);
    assert.equal(session.user.identities[0].id, bob.user.id);
    for (const key of ['aud', 'role', 'email', 'email_confirmed_at', 'phone', 'confirmed_at', 'last_sign_in_at',
      'app_metadata', 'user_metadata', 'created_at', 'updated_at', 'is_anonymous']) {
      assert.ok(key in session.user, key);
    }
    await new CleanupManager(null, tracker).cleanup();
  });

  test('a project secret and URL: the token verifies with that secret and the storage key follows the project ref', async () => {
    const ctx = lane();
    const tracker = ResourceTracker.forTest({}, ctx);
    const jwtSecret = 'a-project-secret-that-is-long-enough-0123456789';
    const user = await createWorkerScopedAuthenticatedUserWithState(ctx, tracker, {
      email: 'hosted', jwtSecret, supabaseUrl: 'https://abcdefghijkl.supabase.co', appOrigin: 'https://app.example.com/dashboard', dir,
    });
    const { payload } = await jwtVerify(user.accessToken, new TextEncoder().encode(jwtSecret));
    assert.equal(payload.iss, 'https://abcdefghijkl.supabase.co/auth/v1');
    assert.equal(supabaseStorageKey('https://abcdefghijkl.supabase.co'), 'sb-abcdefghijkl-auth-token');
    assert.equal(user.storageState.origins[0].origin, 'https://app.example.com');
    assert.equal(user.storageState.origins[0].localStorage[0].name, 'sb-abcdefghijkl-auth-token');
    const [cookie] = user.storageState.cookies;
    assert.equal(cookie.name, 'sb-abcdefghijkl-auth-token');
    assert.equal(cookie.domain, 'app.example.com');
    assert.equal(cookie.secure, true);
    assert.equal(cookie.sameSite, 'Lax');
    await new CleanupManager(null, tracker).cleanup();
  });

  test('supabase-js created with our storage returns our session and user from getSession()', async () => {
    const ctx = lane();
    const tracker = ResourceTracker.forTest({}, ctx);
    const carol = await createWorkerScopedAuthenticatedUserWithState(ctx, tracker, { email: 'carol', dir });
    assert.equal(supabaseStorageKey(SUPABASE_URL), 'sb-127-auth-token');
    const supabase = createClient(SUPABASE_URL, ANON_KEY, {
      realtime,
      auth: { storage: storageFrom(carol.storageState), persistSession: true, autoRefreshToken: false, detectSessionInUrl: false },
    });
    const { data, error } = await supabase.auth.getSession();
    assert.equal(error, null);
    assert.equal(data.session.access_token, carol.accessToken);
    assert.equal(data.session.refresh_token, carol.refreshToken);
    assert.equal(data.session.expires_at, carol.expiresAt);
    assert.equal(data.session.user.id, carol.user.id);
    assert.equal(data.session.user.email, carol.user.email);
    assert.deepEqual(data.session, carol.session);
    await new CleanupManager(null, tracker).cleanup();
  });

  test('the storage state file is per worker, test and user, under the dir, and holds what was returned', async () => {
    const ctx = lane(7);
    const tracker = ResourceTracker.forTest({}, ctx);
    const owner = await createWorkerScopedUserWithOrgAndState(ctx, tracker, { email: 'owner', dir, organization: { name: 'Acme' } });
    const member = await createWorkerScopedAuthenticatedUserWithState(ctx, tracker, { email: 'member', dir });
    assert.equal(owner.storageStatePath, join(dir, `${ctx.email('owner').split('@')[0]}.json`));
    assert.ok(owner.storageStatePath.includes(`${ctx.runId}-w7-${ctx.testIndex}-`));
    assert.notEqual(owner.storageStatePath, member.storageStatePath);
    assert.deepEqual(JSON.parse(readFileSync(owner.storageStatePath, 'utf8')), owner.storageState);
    assert.equal(owner.organization.name, ctx.name('Acme'));
    assert.equal(owner.membership.role, 'owner');
    await new CleanupManager(null, tracker).cleanup();
  });

  test('@supabase/ssr reads our cookies back as the same session, short and chunked', async () => {
    const ctx = lane();
    const tracker = ResourceTracker.forTest({}, ctx);
    const short = await createWorkerScopedAuthenticatedUserWithState(ctx, tracker, { email: 'short', dir });
    assert.deepEqual(short.storageState.cookies.map((c) => c.name), ['sb-127-auth-token']);
    assert.match(short.storageState.cookies[0].value, /^base64-[A-Za-z0-9_-]+$/);

    const bio = 'Lorem ipsum dolor sit amet, ünïcödé ✓ '.repeat(300);
    const long = await createWorkerScopedAuthenticatedUserWithState(ctx, tracker, {
      email: 'long', dir, raw_user_meta_data: { full_name: 'Long Metadata', bio },
    });
    const names = long.storageState.cookies.map((c) => c.name);
    assert.ok(names.length >= 3, `chunked into ${names.length}`);
    assert.deepEqual(names, names.map((_, i) => `sb-127-auth-token.${i}`));
    for (const c of long.storageState.cookies) assert.ok(c.value.length <= 3180, `${c.name} is ${c.value.length}`);

    for (const user of [short, long]) {
      const { data, error } = await ssrClient(user.storageState).auth.getSession();
      assert.equal(error, null);
      assert.equal(data.session.access_token, user.accessToken);
      assert.equal(data.session.refresh_token, user.refreshToken);
      assert.equal(data.session.expires_at, user.expiresAt);
      assert.equal(data.session.user.id, user.user.id);
    }
    const { data } = await ssrClient(long.storageState).auth.getSession();
    assert.equal(data.session.user.user_metadata.bio, bio);
    await new CleanupManager(null, tracker).cleanup();
  });

  test('in Postgres, our token makes auth.uid() the user and RLS shows their organization only', async () => {
    const ctx = lane();
    const tracker = ResourceTracker.forTest({}, ctx);
    const dana = await createWorkerScopedUserWithOrg(ctx, tracker, { email: 'dana', organization: { name: 'Dana Inc' } });
    const erin = await createWorkerScopedUserWithOrg(ctx, tracker, { email: 'erin', role: 'admin' });
    assert.equal(erin.membership.role, 'admin');
    const asUser = async (user, sql, params = []) => {
      await client.query('begin');
      try {
        await client.query("select set_config('request.jwt.claims', $1, true)", [JSON.stringify(decodeJwt(user.accessToken))]);
        await client.query('set local role authenticated');
        return (await client.query(sql, params)).rows;
      } finally {
        await client.query('rollback');
      }
    };
    assert.deepEqual(await asUser(dana, 'select auth.uid()::text as uid, auth.role() as role'), [{ uid: dana.user.id, role: 'authenticated' }]);
    const ids = [dana.organization.id, erin.organization.id];
    assert.deepEqual(await asUser(dana, 'select id from public.organizations where id = any($1::uuid[])', [ids]), [{ id: dana.organization.id }]);
    assert.deepEqual(await asUser(erin, 'select id from public.organizations where id = any($1::uuid[])', [ids]), [{ id: erin.organization.id }]);
    const members = await asUser(dana, 'select user_id from public.organization_members where organization_id = any($1::uuid[])', [ids]);
    assert.deepEqual(members, [{ user_id: dana.user.id }]);
    assert.deepEqual(await asUser(dana, 'select id from public.profiles where id = any($1::uuid[])', [[dana.user.id, erin.user.id]]), [{ id: dana.user.id }]);
    await new CleanupManager(null, tracker).cleanup();
  });

  test('a user for onboarding is signed in, not onboarded and in no organization; its state can be written afterwards', async () => {
    const ctx = lane();
    const tracker = ResourceTracker.forTest({}, ctx);
    const newbie = await createWorkerScopedUserForOnboarding(ctx, tracker, { email: 'newbie' });
    assert.equal(newbie.user.profile.onboarded, false);
    assert.equal(newbie.organization, undefined);
    assert.equal(newbie.storageState, undefined);
    const { rows } = await client.query('select count(*)::int n from public.organization_members where user_id = $1', [newbie.user.id]);
    assert.equal(rows[0].n, 0);
    const file = writeSupabaseStorageState(newbie.session, { dir, appOrigin: 'http://localhost:5173' });
    assert.equal(file.path, join(dir, `${ctx.email('newbie').split('@')[0]}.json`));
    assert.equal(file.storageState.origins[0].origin, 'http://localhost:5173');
    const supabase = createClient(SUPABASE_URL, ANON_KEY, {
      realtime,
      auth: { storage: storageFrom(file.storageState), persistSession: true, autoRefreshToken: false, detectSessionInUrl: false },
    });
    assert.equal((await supabase.auth.getSession()).data.session.user.id, newbie.user.id);
    await new CleanupManager(null, tracker).cleanup();
  });

  test('a missing or short JWT secret and an origin that is not a URL are PGLANE_INVALID_CONFIG, before anything is written', async () => {
    const ctx = lane();
    const tracker = ResourceTracker.forTest({}, ctx);
    const short = await rejection(createWorkerScopedAuthenticatedUser(ctx, tracker, { jwtSecret: 'tooshort-hunter2' }));
    assert.equal(short.code, 'PGLANE_INVALID_CONFIG');
    assert.match(short.message, /jwtSecret is 16 characters long; a Supabase JWT secret has at least 32/);
    assert.doesNotMatch(short.message, /hunter2/);
    const empty = await rejection(createWorkerScopedAuthenticatedUser(ctx, tracker, { jwtSecret: '' }));
    assert.equal(empty.code, 'PGLANE_INVALID_CONFIG');
    assert.match(empty.message, /jwtSecret is empty/);

    process.env.SUPABASE_JWT_SECRET = 'env-secret-hunter2';
    try {
      const fromEnv = await rejection(createWorkerScopedAuthenticatedUser(ctx, tracker));
      assert.equal(fromEnv.code, 'PGLANE_INVALID_CONFIG');
      assert.match(fromEnv.message, /SUPABASE_JWT_SECRET is 18 characters long/);
      assert.doesNotMatch(fromEnv.message, /hunter2/);
    } finally {
      delete process.env.SUPABASE_JWT_SECRET;
    }

    for (const appOrigin of ['localhost:3000', 'not a url', 'ftp://files.example.com']) {
      const err = await rejection(createWorkerScopedAuthenticatedUserWithState(ctx, tracker, { appOrigin, dir }));
      assert.equal(err.code, 'PGLANE_INVALID_CONFIG', appOrigin);
      assert.match(err.message, /appOrigin .* is not a URL/);
    }
    const url = await rejection(createWorkerScopedAuthenticatedUser(ctx, tracker, { supabaseUrl: '127.0.0.1:54321' }));
    assert.equal(url.code, 'PGLANE_INVALID_CONFIG');
    assert.match(url.message, /supabaseUrl/);
    assert.equal(thrown(() => writeSupabaseStorageState({}, { dir })).code, 'PGLANE_INVALID_CONFIG');
    assert.equal(tracker.count(), 0, 'nothing was written');
  });

  test('a taken email is PGLANE_CONFLICT naming the email; the password and secret never show', async () => {
    const ctx = lane();
    const tracker = ResourceTracker.forTest({}, ctx);
    const password = 'pw-that-must-not-leak-7731';
    const jwtSecret = 'secret-that-must-not-leak-0123456789abcdef';
    await createWorkerScopedAuthenticatedUser(ctx, tracker, { email: 'twice', password, jwtSecret });
    const tracked = tracker.count();
    const err = await rejection(createWorkerScopedUserWithOrg(ctx, tracker, { email: 'twice', password, jwtSecret }));
    assert.equal(err.code, 'PGLANE_CONFLICT');
    assert.equal(err.sqlstate, '23505');
    assert.ok(err.message.includes(ctx.email('twice')), err.message);
    assert.doesNotMatch(err.message, /must-not-leak/);
    assert.doesNotMatch(err.stack, /must-not-leak/);
    assert.equal(tracker.count(), tracked, 'nothing more was inserted or tracked');
    const { rows } = await client.query('select count(*)::int n from public.organizations where created_by in (select id from auth.users where email = $1)', [ctx.email('twice')]);
    assert.equal(rows[0].n, 0);
    await new CleanupManager(null, tracker).cleanup();
  });

  test('pattern cleanup of a lane removes its auth users with their identities, sessions and refresh tokens', async () => {
    const ctx = lane();
    const tracker = ResourceTracker.forTest({}, ctx);
    const user = await createWorkerScopedAuthenticatedUser(ctx, tracker, { email: 'crashed' });
    const report = await new CleanupManager(null, ResourceTracker.forTest({}, ctx)).cleanupPattern(ctx.testPattern(), { allowUnmarked: true });
    // A lane sweep deletes (and counts) every dependent row itself: user, profile, identity,
    // session, refresh token.
    assert.equal(report.verified, true);
    assert.ok(report.totalDeleted >= 5, `deleted ${report.totalDeleted}`);
    assert.deepEqual(report.cascaded, []);
    const { rows: [left] } = await client.query(
      `select (select count(*) from auth.sessions where id = $1)::int s, (select count(*) from auth.refresh_tokens where token = $2)::int r,
              (select count(*) from auth.identities where user_id = $3)::int i`,
      [user.sessionId, user.refreshToken, user.user.id],
    );
    assert.deepEqual(left, { s: 0, r: 0, i: 0 });
  });
});
