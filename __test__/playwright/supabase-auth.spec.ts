// Signed-in Supabase users in a real browser, 10 workers at once, in every way pglane makes a
// session: HS256 with the JWT secret, ES256 and RS256 with the project's own signing key, and
// Supabase Auth's password grant (a stand-in Supabase Auth per worker on loopback, serving its
// JWKS and writing GoTrue's rows). Each test creates a user with its storage state, opens a page
// on localhost in Debian's Chromium, and checks that
//   - supabase-js (its browser build, loaded by the page) finds the session in localStorage and,
//     for asymmetric tokens, verifies it with getClaims() against the JWKS (WebCrypto),
//   - the app server, reading the request's cookies with @supabase/ssr, finds the same session
//     (one cookie, or chunks `.0`, `.1`, ... for long metadata) and verifies it the same way,
//   - jose verifies the token against the JWKS (or the secret).
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServerClient, parseCookieHeader } from '@supabase/ssr';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import pg from 'pg';
import {
  test,
  expect,
  DEBIAN_CHROMIUM,
  DEBIAN_CHROMIUM_ARGS,
  createWorkerScopedAuthenticatedUserWithState,
  createWorkerScopedUserWithOrgAndState,
} from 'pglane/playwright';

test.use({ launchOptions: { executablePath: DEBIAN_CHROMIUM, args: DEBIAN_CHROMIUM_ARGS } });

const DEV_SECRET = 'super-secret-jwt-token-with-at-least-32-characters-long';
const SUPABASE_JS = readFileSync(require.resolve('@supabase/supabase-js/dist/umd/supabase.js'));
// Set in beforeAll: the worker's stand-in Supabase Auth, its keys, and the page that loads
// supabase-js against it.
let auth: { url: string; apiKey: string; issuer: string; jwksUrl: string; stop(): Promise<void> };
let keys: Record<'ES256' | 'RS256', Record<string, unknown>>;
let page = '';

/** What the app server's @supabase/ssr client sees in a request's cookies. */
async function sessionFromCookies(cookieHeader: string, verify: boolean) {
  const client = createServerClient(auth.url, auth.apiKey, {
    // Node 20 has no global WebSocket; realtime is never used here.
    realtime: { transport: class NoWebSocket {} as never },
    cookies: { getAll: () => parseCookieHeader(cookieHeader).map(({ name, value }) => ({ name, value: value ?? '' })), setAll: () => {} },
  });
  // The user object of getSession() on a server is unverified and supabase-js warns when it is
  // read; this test compares it with what we wrote, so the warning is only noise here.
  (client.auth as unknown as { suppressGetSessionWarning: boolean }).suppressGetSessionWarning = true;
  const { data, error } = await client.auth.getSession();
  const claims = verify ? await client.auth.getClaims() : null;
  return {
    error: error?.message ?? null,
    cookieNames: parseCookieHeader(cookieHeader).map((c) => c.name),
    accessToken: data.session?.access_token ?? null,
    userId: data.session?.user.id ?? null,
    expiresAt: data.session?.expires_at ?? null,
    verifiedSub: claims ? (claims.error?.message ?? claims.data?.claims.sub ?? null) : null,
  };
}

let server: Server;
let origin: string;
test.beforeAll(async () => {
  const databaseUrl = process.env.DATABASE_URL || process.env.PGLANE_DATABASE_URL;
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  await client.query(readFileSync(require.resolve('../../examples/auth-stand-in.sql'), 'utf8'));
  await client.query(readFileSync(require.resolve('../../examples/schema.sql'), 'utf8'));
  await client.end();
  // An .mjs test helper, loaded as ESM from this CommonJS-compiled spec.
  const standIn = await import('../auth-stand-in.mjs');
  keys = { ES256: standIn.ecKey(), RS256: standIn.rsaKey() };
  auth = await standIn.startAuthStandIn({ databaseUrl, signingKey: keys.ES256, jwks: [standIn.publicJwk(keys.RS256)] });
  page = `<!doctype html><title>app</title><script src="/supabase.js"></script><script>
  window.client = supabase.createClient(${JSON.stringify(auth.url)}, ${JSON.stringify(auth.apiKey)});
</script>`;
  server = createServer((req, res) => {
    if (req.url === '/supabase.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(SUPABASE_JS);
    } else if (req.url?.startsWith('/whoami')) {
      sessionFromCookies(req.headers.cookie ?? '', req.url.includes('verify')).then(
        (body) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body)),
        (err) => res.writeHead(500).end(String(err)),
      );
    } else {
      res.writeHead(200, { 'content-type': 'text/html' }).end(page);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://localhost:${(server.address() as AddressInfo).port}`;
});
test.afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await auth?.stop();
});

type Mode = 'HS256' | 'ES256' | 'RS256' | 'password grant';
const modeOptions = (mode: Mode): Record<string, unknown> => {
  switch (mode) {
    case 'HS256':
      return { jwtSecret: DEV_SECRET };
    case 'ES256':
    case 'RS256':
      return { signingKey: keys[mode] };
    case 'password grant':
      return { sessionMode: 'password', apiKey: auth.apiKey };
  }
};
const cases: [Mode, number][] = [
  ...Array.from({ length: 10 }, (_, i): [Mode, number] => ['HS256', i]),
  ...(['ES256', 'RS256', 'password grant'] as Mode[]).flatMap((mode) => [0, 1, 2, 3].map((i): [Mode, number] => [mode, i])),
];

for (const [mode, i] of cases) {
  const chunked = i % 2 === 1;
  const asymmetric = mode !== 'HS256';
  test(`${mode} user ${i}: Chromium on localhost sees the ${chunked ? 'chunked' : 'one-cookie'} session through supabase-js and @supabase/ssr`, async ({ browser, lane }) => {
    // Long metadata makes a session of ~10 kB: chunked cookies, still under Node's 16 kB header limit.
    const bio = chunked ? `A long biography ✓ ${'x'.repeat(2500)}` : 'short';
    const create = i % 3 === 0 ? createWorkerScopedUserWithOrgAndState : createWorkerScopedAuthenticatedUserWithState;
    const user = await create(lane.ctx, lane.tracker, {
      ...modeOptions(mode),
      supabaseUrl: auth.url,
      email: 'browser',
      appOrigin: origin,
      raw_user_meta_data: { full_name: `Browser ${i}`, bio },
    });
    const header = decodeProtectedHeader(user.accessToken);
    expect(header.alg).toBe(mode === 'password grant' ? 'ES256' : mode);
    const { payload } = asymmetric
      ? await jwtVerify(user.accessToken, createRemoteJWKSet(new URL(auth.jwksUrl)), { issuer: auth.issuer, audience: 'authenticated' })
      : await jwtVerify(user.accessToken, new TextEncoder().encode(DEV_SECRET), { issuer: auth.issuer, audience: 'authenticated' });
    expect(payload.sub).toBe(user.user.id);
    expect(user.storageStatePath).toContain(`playwright/.auth/${lane.ctx.runId}-w${lane.ctx.workerId}-${lane.ctx.testIndex}-browser`);
    const names = user.storageState!.cookies.map((c: { name: string }) => c.name);
    expect(names.length > 1).toBe(chunked);

    const context = await browser.newContext({ storageState: user.storageStatePath! });
    try {
      const page = await context.newPage();
      await page.goto(origin);
      const seen = await page.evaluate(async (verify) => {
        const client = (window as any).client;
        const { data, error } = await client.auth.getSession();
        // getClaims() verifies an asymmetric token against the JWKS with WebCrypto.
        const claims = verify ? await client.auth.getClaims() : null;
        return {
          error: error?.message ?? null,
          accessToken: data.session?.access_token ?? null,
          userId: data.session?.user?.id ?? null,
          bio: data.session?.user?.user_metadata?.bio ?? null,
          verifiedSub: claims ? (claims.error?.message ?? claims.data?.claims.sub ?? null) : null,
          kid: claims?.data?.header?.kid ?? null,
        };
      }, asymmetric);
      expect(seen).toEqual({
        error: null,
        accessToken: user.accessToken,
        userId: user.user.id,
        bio,
        verifiedSub: asymmetric ? user.user.id : null,
        kid: asymmetric ? header.kid : null,
      });

      const response = await page.goto(`${origin}/whoami${asymmetric ? '?verify' : ''}`);
      const server = await response!.json();
      expect(server.cookieNames.sort()).toEqual([...names].sort());
      expect(server).toMatchObject({
        error: null,
        accessToken: user.accessToken,
        userId: user.user.id,
        expiresAt: user.expiresAt,
        verifiedSub: asymmetric ? user.user.id : null,
      });
    } finally {
      await context.close();
    }
    if (user.organization) expect(user.membership!.user_id).toBe(user.user.id);
  });
}
