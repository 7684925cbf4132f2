// Hosted Supabase as it is today: sessions signed with the project's own asymmetric key (ES256,
// RS256) and verified against a JWKS on loopback by jose and supabase-js; sessions Supabase
// Auth issues itself through the password grant (a stand-in on loopback that writes what
// GoTrue writes), tracked and cleaned; profiles an `on_auth_user_created` trigger makes.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createClient } from '@supabase/supabase-js';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { ecKey, rsaKey, startAuthStandIn } from './auth-stand-in.mjs';
import { databaseUrl, pgClient, pglane, rejection, stopDatabase } from './helpers.mjs';
import { AUTH_STAND_IN_SQL, applySchema, PROFILES_TRIGGER_SQL, SCHEMA_SQL } from './reference.mjs';

const {
  WorkerContext, ResourceTracker, CleanupManager, Db,
  createWorkerScopedAuthenticatedUser, createWorkerScopedAuthenticatedUserWithState, createWorkerScopedUserWithOrg,
  createWorkerScopedUserForOnboarding, Factories, signInWithPassword, writeSupabaseStorageState,
} = pglane;

const realtime = { transport: class NoWebSocket {} };
let n = 0;
const lane = () => WorkerContext.create({ workerIndex: 6, testId: `keys-${n++}` }, { runId: 'keysrun001' });


/** supabase-js on the stand-in's URL, reading a Playwright state's localStorage. */
function supabaseFor(standIn, state) {
  const items = new Map(state.origins[0].localStorage.map(({ name, value }) => [name, value]));
  return createClient(standIn.url, standIn.apiKey, {
    realtime,
    auth: {
      storage: { getItem: (k) => items.get(k) ?? null, setItem: (k, v) => void items.set(k, v), removeItem: (k) => void items.delete(k) },
      persistSession: true, autoRefreshToken: false, detectSessionInUrl: false,
    },
  });
}

/** Rows of a user's sign-ins left in auth's tables. */
async function signInRows(client, userId) {
  const { rows: [r] } = await client.query(
    `select (select count(*) from auth.sessions where user_id = $1)::int sessions,
            (select count(*) from auth.refresh_tokens where user_id = $2)::int refresh_tokens,
            (select count(*) from auth.mfa_amr_claims m join auth.sessions s on s.id = m.session_id where s.user_id = $1)::int amr,
            (select count(*) from auth.audit_log_entries where payload ->> 'actor_id' = $2)::int audit`,
    [userId, userId],
  );
  return r;
}

describe('asymmetric signing keys, the password grant and trigger-made profiles', () => {
  let client;
  let dir;
  const standIns = [];
  before(async () => {
    client = await pgClient(await databaseUrl());
    await applySchema(client);
    dir = mkdtempSync(join(tmpdir(), 'pglane-keys-'));
  });
  after(async () => {
    for (const s of standIns) await s.stop();
    rmSync(dir, { recursive: true, force: true });
    await client?.end();
    await stopDatabase();
  });
  const standIn = async (options) => {
    const s = await startAuthStandIn({ databaseUrl: await databaseUrl(), ...options });
    standIns.push(s);
    return s;
  };

  for (const [alg, makeKey] of [['ES256', ecKey], ['RS256', rsaKey]]) {
    test(`${alg}: the token carries {alg, kid, typ} and verifies with jose and supabase-js getClaims() against the JWKS on loopback`, async () => {
      const key = makeKey();
      const jwks = await standIn({ signingKey: key });
      const ctx = lane();
      const tracker = ResourceTracker.forTest({}, ctx);
      const user = await createWorkerScopedAuthenticatedUserWithState(ctx, tracker, {
        email: `keyed-${alg}`, signingKey: key, supabaseUrl: jwks.url, appOrigin: 'http://localhost:3000', dir,
      });
      assert.deepEqual(decodeProtectedHeader(user.accessToken), { alg, kid: key.kid, typ: 'JWT' });
      const { payload, protectedHeader } = await jwtVerify(user.accessToken, createRemoteJWKSet(new URL(jwks.jwksUrl)), {
        issuer: jwks.issuer, audience: 'authenticated', algorithms: [alg],
      });
      assert.equal(protectedHeader.kid, key.kid);
      assert.deepEqual(payload, user.claims);
      assert.equal(payload.session_id, user.sessionId);

      const supabase = supabaseFor(jwks, user.storageState);
      const { data, error } = await supabase.auth.getClaims();
      assert.equal(error, null);
      assert.equal(data.header.kid, key.kid);
      assert.equal(data.header.alg, alg);
      assert.equal(data.claims.sub, user.user.id);

      // Another key under the same kid is refused: the signature really is checked.
      const impostor = await standIn({ signingKey: { ...makeKey(), kid: key.kid } });
      await assert.rejects(jwtVerify(user.accessToken, createRemoteJWKSet(new URL(impostor.jwksUrl))));
      await new CleanupManager(null, tracker).cleanup();
    });
  }

  test('the key comes from SUPABASE_JWT_PRIVATE_KEY (JSON or a file path) and wins over a JWT secret; sessionMode picks HS256 back', async () => {
    const key = ecKey();
    const file = join(dir, 'signing_keys.json');
    writeFileSync(file, JSON.stringify([key]), { mode: 0o600 }); // the array `supabase gen signing-key` writes
    const ctx = lane();
    const tracker = ResourceTracker.forTest({}, ctx);
    process.env.SUPABASE_JWT_SECRET = 'a-legacy-secret-that-is-long-enough-0123456789';
    try {
      for (const value of [JSON.stringify(key), file]) {
        process.env.SUPABASE_JWT_PRIVATE_KEY = value;
        const user = await createWorkerScopedAuthenticatedUser(ctx, tracker);
        assert.deepEqual(decodeProtectedHeader(user.accessToken), { alg: 'ES256', kid: key.kid, typ: 'JWT' });
      }
      const legacy = await createWorkerScopedAuthenticatedUser(ctx, tracker, { sessionMode: 'secret' });
      assert.deepEqual(decodeProtectedHeader(legacy.accessToken), { alg: 'HS256', typ: 'JWT' });
      await jwtVerify(legacy.accessToken, new TextEncoder().encode(process.env.SUPABASE_JWT_SECRET));
    } finally {
      delete process.env.SUPABASE_JWT_PRIVATE_KEY;
      delete process.env.SUPABASE_JWT_SECRET;
    }
    await new CleanupManager(null, tracker).cleanup();
  });

  test('a key that cannot sign is PGLANE_INVALID_CONFIG before anything is written, and never shows the key', async () => {
    const ctx = lane();
    const tracker = ResourceTracker.forTest({}, ctx);
    const key = ecKey();
    const { d, ...publicOnly } = key;
    const { kid, ...noKid } = key;
    for (const [signingKey, expect] of [[publicOnly, /public key/], [noKid, /no "kid"/], [{ ...key, crv: 'P-384' }, /P-384/],
      [{ ...rsaKey(), alg: 'ES256' }, /signs RS256/], ['{"kty": "EC", "d": "' + d, /not valid JSON/], [join(dir, 'missing.json'), /neither JSON nor a readable file/]]) {
      const err = await rejection(createWorkerScopedAuthenticatedUser(ctx, tracker, { signingKey }));
      assert.equal(err.code, 'PGLANE_INVALID_CONFIG');
      assert.match(err.message, expect);
      assert.match(err.message, /option signingKey/);
      assert.ok(!err.message.includes(d) && !err.stack.includes(d), 'the private key never shows');
    }
    const mode = await rejection(createWorkerScopedAuthenticatedUser(ctx, tracker, { sessionMode: 'key' }));
    assert.match(mode.message, /no signing key is configured/);
    const password = await rejection(createWorkerScopedAuthenticatedUser(ctx, tracker, { sessionMode: 'password' }));
    assert.match(password.message, /no API key is configured/);
    assert.equal(tracker.count(), 0, 'nothing was written');
  });

  test('a minted session has its mfa_amr_claims row, so a refresh through Supabase Auth keeps the amr claim', async () => {
    const key = ecKey();
    const auth = await standIn({ signingKey: key });
    const ctx = lane();
    const tracker = ResourceTracker.forTest({}, ctx);
    const user = await createWorkerScopedAuthenticatedUser(ctx, tracker, { email: 'refresher', signingKey: key, supabaseUrl: auth.url });
    assert.ok(tracker.list().some((r) => r.table === 'auth.mfa_amr_claims'), 'the amr claim is tracked');
    const { rows: [claim] } = await client.query('select authentication_method from auth.mfa_amr_claims where session_id = $1', [user.sessionId]);
    assert.equal(claim.authentication_method, 'password');
    const res = await fetch(`${auth.url}/auth/v1/token?grant_type=refresh_token`, {
      method: 'POST', headers: { apikey: auth.apiKey, 'content-type': 'application/json' }, body: JSON.stringify({ refresh_token: user.refreshToken }),
    });
    assert.equal(res.status, 200);
    const refreshed = await res.json();
    const { payload } = await jwtVerify(refreshed.access_token, createRemoteJWKSet(new URL(auth.jwksUrl)));
    assert.equal(payload.session_id, user.sessionId);
    assert.deepEqual(payload.amr.map((a) => a.method), ['password']);
    const report = await new CleanupManager(null, tracker).cleanup();
    assert.equal(report.verified, true);
    assert.deepEqual(await signInRows(client, user.user.id), { sessions: 0, refresh_tokens: 0, amr: 0, audit: 0 });
  });

  test('the password grant: Supabase Auth signs the user in, its session is what supabase-js stores, and its rows (session, refresh token, amr claim, audit entry) are tracked and cleaned', async () => {
    const key = rsaKey();
    const auth = await standIn({ signingKey: key });
    const ctx = lane();
    const db = Db.connect(process.env.DATABASE_URL || process.env.PGLANE_DATABASE_URL);
    const tracker = ResourceTracker.forTest({}, ctx, db);
    const options = { sessionMode: 'password', apiKey: auth.apiKey, supabaseUrl: auth.url, dir };
    await createWorkerScopedAuthenticatedUser(ctx, tracker, options); // warms the schema cache
    const signIns = auth.signIns;
    const user = await createWorkerScopedAuthenticatedUserWithState(ctx, tracker, { ...options, email: 'granted', password: 'correct horse battery' });
    assert.equal(auth.signIns, signIns + 1, 'one sign-in through the API');
    assert.deepEqual(Object.keys(user.session).sort(), ['access_token', 'expires_at', 'expires_in', 'refresh_token', 'token_type', 'user']);
    assert.equal(user.session.user.id, user.user.id);
    assert.deepEqual(decodeProtectedHeader(user.accessToken), { alg: 'RS256', kid: key.kid, typ: 'JWT' });
    const { payload } = await jwtVerify(user.accessToken, createRemoteJWKSet(new URL(auth.jwksUrl)), { issuer: auth.issuer, audience: 'authenticated' });
    assert.equal(payload.session_id, user.sessionId);
    assert.deepEqual(payload, user.claims);
    const supabase = supabaseFor(auth, user.storageState);
    const { data } = await supabase.auth.getSession();
    assert.deepEqual(data.session, user.session);
    assert.equal((await supabase.auth.getClaims()).data.claims.sub, user.user.id);

    assert.deepEqual(await signInRows(client, user.user.id), { sessions: 1, refresh_tokens: 1, amr: 1, audit: 1 });
    const tables = new Set(tracker.list().map((r) => r.table));
    for (const t of ['auth.users', 'auth.identities', 'public.profiles', 'auth.sessions', 'auth.refresh_tokens', 'auth.mfa_amr_claims', 'auth.audit_log_entries']) {
      assert.ok(tables.has(t), t);
    }
    const report = await new CleanupManager(db, tracker).cleanup();
    assert.equal(report.verified, true);
    assert.deepEqual(await signInRows(client, user.user.id), { sessions: 0, refresh_tokens: 0, amr: 0, audit: 0 });
    db.close();
  });

  test('the password grant: a 429 is PGLANE_AUTH_RATE_LIMITED, a wrong API key PGLANE_AUTH_API; neither shows the password or the key', async () => {
    const auth = await standIn({ signingKey: ecKey(), apiKey: 'the-real-anon-key' });
    const ctx = lane();
    const tracker = ResourceTracker.forTest({}, ctx);
    const password = 'pw-that-must-not-leak-5521';
    const wrong = await rejection(createWorkerScopedAuthenticatedUser(ctx, tracker, {
      sessionMode: 'password', apiKey: 'key-that-must-not-leak', supabaseUrl: auth.url, password,
    }));
    assert.equal(wrong.code, 'PGLANE_AUTH_API');
    assert.match(wrong.message, /401/);
    assert.match(wrong.message, /check the API key/);
    auth.setRateLimit(0);
    const limited = await rejection(createWorkerScopedUserWithOrg(ctx, tracker, {
      sessionMode: 'password', apiKey: auth.apiKey, supabaseUrl: auth.url, password,
    }));
    assert.equal(limited.code, 'PGLANE_AUTH_RATE_LIMITED');
    assert.match(limited.message, /429/);
    assert.match(limited.message, /retry after 300 s/);
    for (const err of [wrong, limited]) {
      assert.doesNotMatch(`${err.message} ${err.stack}`, /must-not-leak|the-real-anon-key/);
    }
    // The user rows pglane wrote before the sign-in failed are tracked, so cleanup removes them.
    const report = await new CleanupManager(null, tracker).cleanup();
    assert.equal(report.verified, true);
  });

  test('signInWithPassword reuses the session a tracker got for a worker user, so a worker signs in once', async () => {
    const auth = await standIn({ signingKey: ecKey() });
    const ctx = lane();
    const workerTracker = ResourceTracker.forTest({}, ctx);
    const password = 'worker-user-password';
    const worker = await createWorkerScopedAuthenticatedUser(ctx, workerTracker, { email: 'worker-user', password });
    const options = { email: worker.user.email, password, supabaseUrl: auth.url, apiKey: auth.apiKey };
    const before = auth.signIns;
    const first = await signInWithPassword(workerTracker, options);
    const again = await signInWithPassword(workerTracker, options);
    assert.equal(auth.signIns, before + 1, 'one request for both');
    assert.deepEqual([first.reused, again.reused], [false, true]);
    assert.equal(again.accessToken, first.accessToken);
    assert.equal(first.claims.sub, worker.user.id);
    assert.deepEqual(await signInRows(client, worker.user.id), { sessions: 2, refresh_tokens: 2, amr: 2, audit: 1 });
    const fresh = await signInWithPassword(workerTracker, { ...options, reuse: false });
    assert.equal(fresh.reused, false);
    assert.notEqual(fresh.sessionId, first.sessionId);
    const file = writeSupabaseStorageState(fresh.session, { dir, supabaseUrl: auth.url });
    assert.equal(file.storageState.origins[0].localStorage[0].value, JSON.stringify(fresh.session));
    const bad = await rejection(signInWithPassword(workerTracker, { ...options, password: 'wrong-password-77' }));
    assert.equal(bad.code, 'PGLANE_AUTH_API');
    assert.match(bad.message, /invalid_credentials/);
    assert.doesNotMatch(bad.message, /wrong-password-77/);
    // Once the worker's rows are cleaned up, its next sign-in is a new one.
    const report = await new CleanupManager(null, workerTracker).cleanup();
    assert.equal(report.verified, true);
    assert.deepEqual(await signInRows(client, worker.user.id), { sessions: 0, refresh_tokens: 0, amr: 0, audit: 0 });
    const missing = await rejection(signInWithPassword(workerTracker, options));
    assert.equal(missing.code, 'PGLANE_AUTH_API', 'the user is gone, so the cached session is not handed out');
  });

  test('a profile made by an on_auth_user_created trigger is adopted (no PGLANE_CONFLICT) and tracked; one round trip', async () => {
    // A database of its own: the trigger would make profiles for every other test's users too.
    const name = `pglane_trigger_${randomUUID().slice(0, 8)}`;
    await client.query(`create database ${name}`);
    const url = new URL(await databaseUrl());
    url.pathname = `/${name}`;
    const db = Db.connect(url.toString());
    const witness = await pgClient(url.toString());
    try {
      await witness.query(AUTH_STAND_IN_SQL);
      await witness.query(SCHEMA_SQL);
      await witness.query(PROFILES_TRIGGER_SQL);
      const ctx = lane();
      const tracker = ResourceTracker.forTest({}, ctx, db);
      await createWorkerScopedAuthenticatedUser(ctx, tracker, { email: 'warm' });
      const before = db.roundTrips;
      const owner = await createWorkerScopedUserWithOrg(ctx, tracker, { email: 'triggered', fullName: 'Trigger Owner' });
      assert.equal(db.roundTrips - before, 1, 'both statements are pipelined in one round trip');
      const newbie = await createWorkerScopedUserForOnboarding(ctx, tracker, { email: 'newbie', fullName: 'New Bie' });
      for (const [user, onboarded, fullName] of [[owner, true, 'Trigger Owner'], [newbie, false, 'New Bie']]) {
        const { rows } = await witness.query('select email, full_name, onboarded from public.profiles where id = $1', [user.user.id]);
        assert.deepEqual(rows, [{ email: user.user.email, full_name: fullName, onboarded }], 'one profile, with what pglane asked for');
        assert.equal(user.user.profile.onboarded, onboarded);
      }
      assert.ok(tracker.list().some((r) => r.table === 'public.profiles' && r.key[0] === owner.user.id), 'the adopted profile is tracked');
      const setup = await Factories.preset(db).create('completeSetup', ctx, tracker, { fullName: 'Complete' });
      assert.equal(setup.user.profile.full_name, 'Complete');
      const report = await new CleanupManager(db, tracker).cleanup();
      assert.equal(report.verified, true);
      const { rows: [left] } = await witness.query("select (select count(*) from auth.users)::int users, (select count(*) from public.profiles)::int profiles");
      assert.deepEqual(left, { users: 0, profiles: 0 });
    } finally {
      db.close();
      await witness.end();
      await client.query(`drop database ${name} with (force)`);
    }
  });
});
