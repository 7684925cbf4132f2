// Signed-in Supabase users in a real browser, 10 workers at once: each test creates a user with
// its storage state, opens a page on localhost in Debian's Chromium, and checks that
//   - supabase-js (its browser build, loaded by the page) finds the session in localStorage, and
//   - the app server, reading the request's cookies with @supabase/ssr, finds the same session
//     (one cookie, or chunks `.0`, `.1`, ... for long metadata).
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServerClient, parseCookieHeader } from '@supabase/ssr';
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

const SUPABASE_URL = 'http://127.0.0.1:54321'; // nothing listens there: no call may need it
const ANON_KEY = 'anon-key-unused';
const SUPABASE_JS = readFileSync(require.resolve('@supabase/supabase-js/dist/umd/supabase.js'));
const PAGE = `<!doctype html><title>app</title><script src="/supabase.js"></script><script>
  window.client = supabase.createClient(${JSON.stringify(SUPABASE_URL)}, ${JSON.stringify(ANON_KEY)});
</script>`;

/** What the app server's @supabase/ssr client sees in a request's cookies. */
async function sessionFromCookies(cookieHeader: string) {
  const client = createServerClient(SUPABASE_URL, ANON_KEY, {
    // Node 20 has no global WebSocket; realtime is never used here.
    realtime: { transport: class NoWebSocket {} as never },
    cookies: { getAll: () => parseCookieHeader(cookieHeader).map(({ name, value }) => ({ name, value: value ?? '' })), setAll: () => {} },
  });
  // The user object of getSession() on a server is unverified and supabase-js warns when it is
  // read; this test compares it with what we wrote, so the warning is only noise here.
  (client.auth as unknown as { suppressGetSessionWarning: boolean }).suppressGetSessionWarning = true;
  const { data, error } = await client.auth.getSession();
  return {
    error: error?.message ?? null,
    cookieNames: parseCookieHeader(cookieHeader).map((c) => c.name),
    accessToken: data.session?.access_token ?? null,
    userId: data.session?.user.id ?? null,
    expiresAt: data.session?.expires_at ?? null,
  };
}

let server: Server;
let origin: string;
test.beforeAll(async () => {
  const client = new pg.Client({ connectionString: process.env.DATABASE_URL || process.env.PGLANE_DATABASE_URL });
  await client.connect();
  await client.query(readFileSync(require.resolve('../../examples/auth-stand-in.sql'), 'utf8'));
  await client.query(readFileSync(require.resolve('../../examples/schema.sql'), 'utf8'));
  await client.end();
  server = createServer((req, res) => {
    if (req.url === '/supabase.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(SUPABASE_JS);
    } else if (req.url === '/whoami') {
      sessionFromCookies(req.headers.cookie ?? '').then(
        (body) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body)),
        (err) => res.writeHead(500).end(String(err)),
      );
    } else {
      res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://localhost:${(server.address() as AddressInfo).port}`;
});
test.afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
});

for (let i = 0; i < 10; i++) {
  const chunked = i % 2 === 1;
  test(`user ${i}: Chromium on localhost sees the ${chunked ? 'chunked' : 'one-cookie'} session through supabase-js and @supabase/ssr`, async ({ browser, lane }) => {
    // Long metadata makes a session of ~10 kB: chunked cookies, still under Node's 16 kB header limit.
    const bio = chunked ? `A long biography ✓ ${'x'.repeat(2500)}` : 'short';
    const create = i % 3 === 0 ? createWorkerScopedUserWithOrgAndState : createWorkerScopedAuthenticatedUserWithState;
    const user = await create(lane.ctx, lane.tracker, {
      email: 'browser',
      appOrigin: origin,
      raw_user_meta_data: { full_name: `Browser ${i}`, bio },
    });
    expect(user.storageStatePath).toContain(`playwright/.auth/${lane.ctx.runId}-w${lane.ctx.workerId}-${lane.ctx.testIndex}-browser`);
    const names = user.storageState!.cookies.map((c: { name: string }) => c.name);
    expect(names.length > 1).toBe(chunked);

    const context = await browser.newContext({ storageState: user.storageStatePath! });
    try {
      const page = await context.newPage();
      await page.goto(origin);
      const seen = await page.evaluate(async () => {
        const { data, error } = await (window as any).client.auth.getSession();
        return {
          error: error?.message ?? null,
          accessToken: data.session?.access_token ?? null,
          userId: data.session?.user?.id ?? null,
          bio: data.session?.user?.user_metadata?.bio ?? null,
        };
      });
      expect(seen).toEqual({ error: null, accessToken: user.accessToken, userId: user.user.id, bio });

      const response = await page.goto(`${origin}/whoami`);
      const server = await response!.json();
      expect(server.cookieNames.sort()).toEqual([...names].sort());
      expect(server).toMatchObject({ error: null, accessToken: user.accessToken, userId: user.user.id, expiresAt: user.expiresAt });
    } finally {
      await context.close();
    }
    if (user.organization) expect(user.membership!.user_id).toBe(user.user.id);
  });
}
