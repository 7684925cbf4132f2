// A stand-in for Supabase Auth on loopback, for tests without the internet. It answers what
// pglane and the Supabase clients ask of the real one, the way Supabase Auth (GoTrue)
// documents and does it:
//   GET  /auth/v1/.well-known/jwks.json             the public signing keys (JWKS)
//   POST /auth/v1/token?grant_type=password         header `apikey`, body {email, password}
//   POST /auth/v1/token?grant_type=refresh_token    body {refresh_token}
// A password sign-in looks the user up as GoTrue does (email, audience, not SSO), checks the
// bcrypt hash and the confirmed email, then writes what GoTrue writes in one transaction: an
// audit entry ("login"), a session (aal1), a refresh token (12 characters), an mfa_amr_claims
// row (password), and last_sign_in_at on the user and identity. The access token carries GoTrue's
// claims, signed ES256 or RS256 with the stand-in's key ({alg, kid, typ}); a refresh keeps the
// session's amr from mfa_amr_claims. Errors are GoTrue's: 400 invalid_credentials, 400
// email_not_confirmed, 401 for a wrong apikey, 429 over_request_rate_limit past `rateLimit`.
// CORS is open, so a page on another origin can fetch the JWKS (supabase-js getClaims()).
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import bcrypt from 'bcryptjs';
import { importJWK, SignJWT } from 'jose';
import pg from 'pg';

/** A new private EC P-256 JWK with a kid, as `supabase gen signing-key --algorithm ES256` makes. */
export const ecKey = () => ({ ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg: 'ES256' });
/** A new private RSA 2048 JWK with a kid (`--algorithm RS256`). */
export const rsaKey = () => ({ ...generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg: 'RS256' });

/** A public JWK of a private one (the members a JWKS serves). */
export function publicJwk(jwk) {
  const { kty, crv, x, y, n, e, kid, alg } = jwk;
  const base = kty === 'EC' ? { kty, crv, x, y } : { kty, n, e };
  return { ...base, kid, alg, use: 'sig', key_ops: ['verify'] };
}

const alphanumeric = (n) => {
  const chars = 'abcdefghijklmnopqrstuvwxyz0123456789';
  return [...randomBytes(n)].map((b) => chars[b % chars.length]).join('');
};

/** The user object Supabase Auth returns, from an auth.users row and its identities. */
function userJson(u, identities) {
  const out = {
    id: u.id, aud: u.aud, role: u.role, email: u.email,
    ...(u.email_confirmed_at ? { email_confirmed_at: u.email_confirmed_at } : {}),
    phone: u.phone ?? '',
    ...(u.confirmed_at ? { confirmed_at: u.confirmed_at } : {}),
    ...(u.last_sign_in_at ? { last_sign_in_at: u.last_sign_in_at } : {}),
    app_metadata: u.raw_app_meta_data ?? {},
    user_metadata: u.raw_user_meta_data ?? {},
    identities: identities.map((i) => ({
      identity_id: i.id, id: i.provider_id, user_id: i.user_id, identity_data: i.identity_data, provider: i.provider,
      last_sign_in_at: i.last_sign_in_at, created_at: i.created_at, updated_at: i.updated_at, email: i.email,
    })),
    created_at: u.created_at, updated_at: u.updated_at, is_anonymous: u.is_anonymous ?? false,
  };
  return out;
}

/**
 * Starts the stand-in. Options: `databaseUrl` (connect as Supabase Auth would: the
 * supabase_auth_admin role on a real schema), `signingKey` (a private JWK with kid and alg),
 * `jwks` (more public JWKs to serve), `apiKey`, `expiresIn` (s), `rateLimit` (sign-ins allowed
 * before 429s). Resolves to `{ url, apiKey, issuer, jwksUrl, jwks, signIns, refreshes,
 * setRateLimit(n), stop() }`.
 */
export async function startAuthStandIn({ databaseUrl, signingKey, jwks = [], apiKey = 'stand-in-anon-key', expiresIn = 3600, rateLimit = Infinity }) {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 4 });
  // An idle connection dropped by the server (stopped at the end of a test) is not an error of
  // the test: without a listener it would surface as an uncaught exception.
  pool.on('error', () => {});
  const key = await importJWK(signingKey, signingKey.alg);
  const served = { keys: [publicJwk(signingKey), ...jwks] };
  const state = { signIns: 0, refreshes: 0, rateLimit, tokenRequests: 0 };
  let issuer = '';

  const accessToken = async (user, sessionId, amr) => {
    const iat = Math.floor(Date.now() / 1000);
    const claims = {
      iss: issuer, sub: user.id, aud: user.aud, exp: iat + expiresIn, iat, email: user.email, phone: user.phone ?? '',
      app_metadata: user.raw_app_meta_data ?? {}, user_metadata: user.raw_user_meta_data ?? {}, role: user.role,
      aal: 'aal1', amr, session_id: sessionId, is_anonymous: user.is_anonymous ?? false,
    };
    const token = await new SignJWT(claims).setProtectedHeader({ alg: signingKey.alg, kid: signingKey.kid, typ: 'JWT' }).sign(key);
    return { token, exp: iat + expiresIn };
  };

  const loadUser = async (client, where, value) => {
    const { rows: [user] } = await client.query(
      `select row_to_json(u) as u from auth.users u where ${where}`, [value]);
    if (!user) return null;
    const { rows } = await client.query('select row_to_json(i) as i from auth.identities i where user_id = $1 order by created_at', [user.u.id]);
    return { user: user.u, identities: rows.map((r) => r.i) };
  };

  const session = async (client, found, sessionId, refreshToken) => {
    const { rows } = await client.query(
      'select authentication_method as method, extract(epoch from updated_at)::int8 as ts from auth.mfa_amr_claims where session_id = $1 order by updated_at',
      [sessionId]);
    const amr = rows.map((r) => ({ method: r.method, timestamp: Number(r.ts) }));
    const { token, exp } = await accessToken(found.user, sessionId, amr);
    return { access_token: token, token_type: 'bearer', expires_in: expiresIn, expires_at: exp, refresh_token: refreshToken, user: userJson(found.user, found.identities) };
  };

  const passwordGrant = async (body, ip) => {
    const client = await pool.connect();
    try {
      // GoTrue's FindUserByEmailAndAudience.
      const found = await loadUser(client, "instance_id = '00000000-0000-0000-0000-000000000000' and lower(email) = lower($1) and aud = 'authenticated' and is_sso_user = false", String(body.email ?? ''));
      if (!found || !found.user.encrypted_password || !(await bcrypt.compare(String(body.password ?? ''), found.user.encrypted_password))) {
        return [400, { code: 400, error_code: 'invalid_credentials', msg: 'Invalid login credentials' }];
      }
      if (!found.user.email_confirmed_at) return [400, { code: 400, error_code: 'email_not_confirmed', msg: 'Email not confirmed' }];
      const sessionId = randomUUID();
      const refreshToken = alphanumeric(12);
      await client.query('begin');
      try {
        await client.query(
          `insert into auth.audit_log_entries (instance_id, id, payload, created_at, ip_address)
           values ('00000000-0000-0000-0000-000000000000', $1, $2, now(), $3)`,
          [randomUUID(), JSON.stringify({ action: 'login', actor_id: found.user.id, actor_username: found.user.email, actor_via_sso: false, log_type: 'account', traits: { provider: 'email' } }), ip]);
        await client.query(
          `insert into auth.sessions (id, user_id, created_at, updated_at, aal, user_agent, ip) values ($1, $2, now(), now(), 'aal1', 'pglane-tests', $3)`,
          [sessionId, found.user.id, ip]);
        await client.query(
          `insert into auth.refresh_tokens (instance_id, token, user_id, revoked, created_at, updated_at, session_id)
           values ('00000000-0000-0000-0000-000000000000', $1, $2, false, now(), now(), $3)`,
          [refreshToken, found.user.id, sessionId]);
        await client.query(
          `insert into auth.mfa_amr_claims (id, session_id, created_at, updated_at, authentication_method) values ($1, $2, now(), now(), 'password')`,
          [randomUUID(), sessionId]);
        await client.query('update auth.users set last_sign_in_at = now(), updated_at = now() where id = $1', [found.user.id]);
        await client.query("update auth.identities set last_sign_in_at = now() where user_id = $1 and provider = 'email'", [found.user.id]);
        await client.query('commit');
      } catch (err) {
        await client.query('rollback');
        throw err;
      }
      state.signIns++;
      const signedIn = await loadUser(client, 'id = $1', found.user.id);
      return [200, await session(client, signedIn, sessionId, refreshToken)];
    } finally {
      client.release();
    }
  };

  const refreshGrant = async (body) => {
    const client = await pool.connect();
    try {
      await client.query('begin');
      const { rows: [old] } = await client.query(
        'select id, token, user_id, session_id from auth.refresh_tokens where token = $1 and not revoked for update skip locked', [String(body.refresh_token ?? '')]);
      if (!old) {
        await client.query('rollback');
        return [400, { code: 400, error_code: 'refresh_token_not_found', msg: 'Invalid Refresh Token: Refresh Token Not Found' }];
      }
      const token = alphanumeric(12);
      await client.query('update auth.refresh_tokens set revoked = true, updated_at = now() where id = $1', [old.id]);
      await client.query(
        `insert into auth.refresh_tokens (instance_id, token, user_id, revoked, created_at, updated_at, parent, session_id)
         values ('00000000-0000-0000-0000-000000000000', $1, $2, false, now(), now(), $3, $4)`,
        [token, old.user_id, old.token, old.session_id]);
      await client.query('update auth.sessions set refreshed_at = now(), updated_at = now() where id = $1', [old.session_id]);
      await client.query('commit');
      state.refreshes++;
      return [200, await session(client, await loadUser(client, 'id = $1::uuid', old.user_id), old.session_id, token)];
    } finally {
      client.release();
    }
  };

  const server = createServer((req, res) => {
    const cors = {
      'access-control-allow-origin': '*',
      'access-control-allow-methods': 'GET, POST, OPTIONS',
      'access-control-allow-headers': req.headers['access-control-request-headers'] ?? '*',
    };
    const send = (status, body) => res.writeHead(status, { 'content-type': 'application/json', ...cors }).end(JSON.stringify(body));
    if (req.method === 'OPTIONS') return res.writeHead(204, cors).end();
    const url = new URL(req.url, 'http://stand-in');
    if (req.method === 'GET' && url.pathname === '/auth/v1/.well-known/jwks.json') return send(200, served);
    if (req.method !== 'POST' || url.pathname !== '/auth/v1/token') return send(404, { code: 404, error_code: 'not_found', msg: 'not found' });
    if (req.headers.apikey !== apiKey) return send(401, { message: 'Invalid API key', hint: 'Double check your Supabase `anon` or `service_role` API key.' });
    let raw = '';
    req.on('data', (c) => { raw += c; });
    req.on('end', async () => {
      try {
        state.tokenRequests++;
        if (state.tokenRequests > state.rateLimit) {
          return res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '300', ...cors })
            .end(JSON.stringify({ code: 429, error_code: 'over_request_rate_limit', msg: 'Request rate limit reached' }));
        }
        const body = raw ? JSON.parse(raw) : {};
        const grant = url.searchParams.get('grant_type');
        const ip = req.socket.remoteAddress?.replace(/^::ffff:/, '') ?? '127.0.0.1';
        const [status, answer] = grant === 'password' ? await passwordGrant(body, ip)
          : grant === 'refresh_token' ? await refreshGrant(body)
            : [400, { code: 400, error_code: 'validation_failed', msg: `unsupported_grant_type` }];
        send(status, answer);
      } catch (err) {
        send(500, { code: 500, error_code: 'unexpected_failure', msg: String(err.message) });
      }
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  issuer = `${url}/auth/v1`;
  return {
    url,
    apiKey,
    issuer,
    jwksUrl: `${url}/auth/v1/.well-known/jwks.json`,
    jwks: served,
    get signIns() { return state.signIns; },
    get refreshes() { return state.refreshes; },
    setRateLimit(n) { state.rateLimit = state.tokenRequests + n; },
    async stop() {
      await new Promise((resolve) => server.close(resolve));
      await pool.end();
    },
  };
}
