// End-to-end smoke test of the example app, with nothing but this repository:
//
//   node examples/app/smoke.mjs
//
// 1. starts the app (a child process, as Playwright's webServer does) BEFORE any database exists,
//    pointing PGLANE_STATE_FILE at a file that is not there yet: /health must answer, data
//    routes must answer 503;
// 2. starts an embedded PostgreSQL (pglane's dist/embedded.js), applies examples/auth-stand-in.sql and schema.sql,
//    inserts two users with their own organizations and one shared organization, and writes
//    the state file;
// 3. signs in by cookie exactly as @supabase/ssr stores a session (a real HS256 JWT in
//    `sb-<ref>-auth-token`, `base64-` + base64url JSON, chunked at 3180 characters), drives the
//    app with Chromium (Debian's /usr/bin/chromium): creates a conversation and a message
//    through the forms;
// 4. checks isolation with fetch: the second user gets 404 for the first user's conversation,
//    cannot post into it, cannot create one in the first user's organization, does not see that
//    organization; forged, expired and wrong-audience tokens are signed out;
// 5. stops the app with SIGTERM (must exit 0) and the database.
// Exits non-zero on the first failure.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { createChunks, stringToBase64URL } from '@supabase/ssr';
import { SignJWT } from 'jose';
import pg from 'pg';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..');
const { startEmbeddedPostgres } = require(join(repo, 'dist', 'embedded.js'));

const SUPABASE_URL = 'http://127.0.0.1:54321';
const JWT_SECRET = `smoke-${randomBytes(24).toString('hex')}`; // not the default: proves the app reads it
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const MAX_CHUNK = 3180;

let step = 'start';
function log(msg) {
  console.log(`smoke: ${msg}`);
}
async function check(name, fn) {
  step = name;
  const t = Date.now();
  await fn();
  log(`ok   ${name} (${Date.now() - t} ms)`);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// --- Sessions, as Supabase Auth issues them and @supabase/ssr stores them. -------------------

async function mintSession(user, { expiresIn = 3600, secret = JWT_SECRET, audience = 'authenticated', bigMetadata = false } = {}) {
  const now = Math.floor(Date.now() / 1000);
  const exp = now + expiresIn;
  const sessionId = randomUUID();
  const appMetadata = { provider: 'email', providers: ['email'] };
  const userMetadata = { email: user.email, email_verified: true, phone_verified: false, sub: user.id };
  if (bigMetadata) {
    // An OAuth-like user: enough metadata that the cookie must be split into chunks.
    Object.assign(userMetadata, {
      full_name: 'Ada Lovelace — “the first programmer” <script>alert(1)</script>',
      avatar_url: `https://avatars.example.test/u/${user.id}?s=460&v=4`,
      bio: 'x'.repeat(900),
      preferred_username: 'ada',
    });
  }
  const accessToken = await new SignJWT({
    email: user.email,
    phone: '',
    app_metadata: appMetadata,
    user_metadata: userMetadata,
    role: 'authenticated',
    aal: 'aal1',
    amr: [{ method: 'password', timestamp: now }],
    session_id: sessionId,
    is_anonymous: false,
  })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuer(`${SUPABASE_URL}/auth/v1`)
    .setSubject(user.id)
    .setAudience(audience)
    .setIssuedAt(now)
    .setExpirationTime(exp)
    .sign(new TextEncoder().encode(secret));
  const createdAt = new Date((now - 60) * 1000).toISOString();
  return {
    access_token: accessToken,
    token_type: 'bearer',
    expires_in: expiresIn,
    expires_at: exp,
    refresh_token: randomBytes(9).toString('base64url'),
    user: {
      id: user.id,
      aud: 'authenticated',
      role: 'authenticated',
      email: user.email,
      email_confirmed_at: createdAt,
      phone: '',
      confirmed_at: createdAt,
      last_sign_in_at: createdAt,
      app_metadata: appMetadata,
      user_metadata: userMetadata,
      identities: [
        {
          identity_id: randomUUID(),
          id: user.id,
          user_id: user.id,
          identity_data: userMetadata,
          provider: 'email',
          last_sign_in_at: createdAt,
          created_at: createdAt,
          updated_at: createdAt,
          email: user.email,
        },
      ],
      created_at: createdAt,
      updated_at: createdAt,
      is_anonymous: false,
    },
  };
}

/** The cookies @supabase/ssr reads for `session`: name `sb-<ref>-auth-token`, chunked when long. */
function sessionCookies(session, supabaseUrl = SUPABASE_URL) {
  const ref = new URL(supabaseUrl).hostname.split('.')[0];
  const name = `sb-${ref}-auth-token`;
  const value = `base64-${Buffer.from(JSON.stringify(session), 'utf8').toString('base64url')}`;
  // base64url and the prefix need no percent-encoding, so the encoded length is the length.
  const cookies = [];
  if (value.length <= MAX_CHUNK) cookies.push({ name, value });
  else for (let i = 0; i * MAX_CHUNK < value.length; i++) cookies.push({ name: `${name}.${i}`, value: value.slice(i * MAX_CHUNK, (i + 1) * MAX_CHUNK) });
  // Cross-check against the library's own encoder and chunker.
  assert.deepEqual(cookies, createChunks(name, `base64-${stringToBase64URL(JSON.stringify(session))}`));
  return cookies;
}

function cookieHeader(cookies) {
  return cookies.map((c) => `${c.name}=${c.value}`).join('; ');
}

// --- The app process. -----------------------------------------------------------------------

function startApp(env) {
  const child = spawn(process.execPath, [join(here, 'server.mjs')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = [];
  child.stdout.on('data', (d) => output.push(String(d)));
  child.stderr.on('data', (d) => output.push(String(d)));
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, output, exited };
}

async function waitForHealth(base, app, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(`${base}/health`);
      if (res.status === 200 && (await res.text()) === 'ok') return;
    } catch {
      // not listening yet
    }
    if (app.child.exitCode !== null) throw new Error(`the app exited early:\n${app.output.join('')}`);
    if (Date.now() > deadline) throw new Error('the app did not answer /health in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

// --- The test. -----------------------------------------------------------------------------

async function main() {
  const tmp = await mkdtemp(join(tmpdir(), 'pglane-app-smoke-'));
  const stateFile = join(tmp, 'state.json');
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const env = { ...process.env, PGLANE_APP_PORT: String(port), PGLANE_STATE_FILE: stateFile, SUPABASE_URL, SUPABASE_JWT_SECRET: JWT_SECRET };
  delete env.DATABASE_URL;
  delete env.PGLANE_DATABASE_URL;
  delete env.PGHOST;
  delete env.PGDATABASE;
  let app;
  let db;
  let client;
  let browser;
  try {
    const tag = randomBytes(4).toString('hex');
    const alice = { id: randomUUID(), email: `alice-${tag}@pglane.test` };
    const bob = { id: randomUUID(), email: `bob-${tag}@pglane.test` };
    const orgs = {
      alice: { id: randomUUID(), name: `Alice Org ${tag}`, slug: `alice-${tag}` },
      bob: { id: randomUUID(), name: `Bob Org ${tag}`, slug: `bob-${tag}` },
      shared: { id: randomUUID(), name: `Shared Org ${tag}`, slug: `shared-${tag}` },
    };
    const aliceSession = await mintSession(alice, { bigMetadata: true });
    const bobSession = await mintSession(bob);
    const aliceCookies = sessionCookies(aliceSession);
    const bobCookies = sessionCookies(bobSession);
    const asAlice = { cookie: cookieHeader(aliceCookies) };
    const asBob = { cookie: cookieHeader(bobCookies) };

    await check('session cookies: chunked for a big session, single for a small one', async () => {
      assert.ok(aliceCookies.length >= 2, `alice's session should need chunks, got ${aliceCookies.length} cookie(s)`);
      assert.deepEqual(aliceCookies.map((c) => c.name), aliceCookies.map((_, i) => `sb-127-auth-token.${i}`));
      assert.deepEqual(bobCookies.map((c) => c.name), ['sb-127-auth-token']);
    });

    app = startApp(env);
    await check('app starts and answers /health before the database exists', () => waitForHealth(base, app));

    await check('before the database: signed out is 401, signed in is 503 "database not ready"', async () => {
      let res = await fetch(`${base}/`);
      assert.equal(res.status, 401);
      assert.match(await res.text(), /data-testid="signed-out"/);
      res = await fetch(`${base}/`, { headers: asAlice });
      assert.equal(res.status, 503);
      assert.match(await res.text(), /database not ready/);
      res = await fetch(`${base}/organizations`, { headers: asBob });
      assert.equal(res.status, 503);
    });

    await check('embedded PostgreSQL, schema, two users with their own orgs and a shared one', async () => {
      db = await startEmbeddedPostgres();
      client = new pg.Client({ connectionString: db.url });
      await client.connect();
      await client.query(await readFile(join(repo, 'examples', 'auth-stand-in.sql'), 'utf8'));
      await client.query(await readFile(join(repo, 'examples', 'schema.sql'), 'utf8'));
      await client.query(
        `with u as (insert into auth.users (id, email, aud, role, raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
                    select * from unnest($1::uuid[], $2::text[]) as t(id, email)
                    cross join lateral (select 'authenticated', 'authenticated', '{}'::jsonb, '{}'::jsonb, now(), now()) x
                    returning id, email),
              p as (insert into public.profiles (id, email) select id, email from u),
              o as (insert into public.organizations (id, name, slug, created_by)
                    select * from unnest($3::uuid[], $4::text[], $5::text[], $6::uuid[]) returning id)
         insert into public.organization_members (organization_id, user_id, role)
         select * from unnest($7::uuid[], $8::uuid[], $9::text[])`,
        [
          [alice.id, bob.id], [alice.email, bob.email],
          [orgs.alice.id, orgs.bob.id, orgs.shared.id], [orgs.alice.name, orgs.bob.name, orgs.shared.name],
          [orgs.alice.slug, orgs.bob.slug, orgs.shared.slug], [alice.id, bob.id, alice.id],
          [orgs.alice.id, orgs.bob.id, orgs.shared.id, orgs.shared.id], [alice.id, bob.id, alice.id, bob.id],
          ['owner', 'owner', 'owner', 'member'],
        ],
      );
    });

    await check('a half-written state file, then one naming a dead server: still 503', async () => {
      await writeFile(stateFile, '{"databaseUrl": "postgres://');
      let res = await fetch(`${base}/organizations`, { headers: asAlice });
      assert.equal(res.status, 503);
      const deadUrl = `postgres://postgres:x@127.0.0.1:${await freePort()}/postgres?sslmode=disable`;
      await writeFile(stateFile, JSON.stringify({ databaseUrl: deadUrl, runId: 'dead' }));
      res = await fetch(`${base}/organizations`, { headers: asAlice });
      assert.equal(res.status, 503);
      assert.deepEqual(await res.json(), { error: 'database not ready' });
      // The real one, written atomically as a global setup should: the app may read it at any moment.
      await writeFile(`${stateFile}.tmp`, JSON.stringify({ databaseUrl: db.url, runId: `smoke${tag}` }));
      await rename(`${stateFile}.tmp`, stateFile);
    });

    await check('GET / as alice (chunked cookie): whoami and her organizations only', async () => {
      const res = await fetch(`${base}/`, { headers: asAlice });
      const html = await res.text();
      assert.equal(res.status, 200, html);
      assert.match(html, new RegExp(`data-testid="whoami"[^>]*>${alice.email}<`));
      assert.ok(html.includes(`>${orgs.alice.name}<`) && html.includes(`>${orgs.shared.name}<`));
      assert.ok(!html.includes(orgs.bob.name), "bob's org must be invisible to alice");
      assert.match(html, /data-testid="new-conversation"/);
    });

    let conversationId;
    const title = `Plans <b>${tag}</b> & "quotes"`;
    const content = `Hello <script>window.pwned=1</script> & 'friends' ${tag}`;
    await check('Chromium as alice: create a conversation and a message through the forms', async () => {
      browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
      const context = await browser.newContext({ baseURL: base });
      await context.addCookies(aliceCookies.map((c) => ({ ...c, domain: '127.0.0.1', path: '/', sameSite: 'Lax' })));
      const page = await context.newPage();
      const home = await page.goto('/');
      assert.equal(home.status(), 200);
      assert.equal(await page.getByTestId('whoami').textContent(), alice.email);
      const orgNames = await page.getByTestId('org').allTextContents();
      assert.deepEqual(orgNames.sort(), [orgs.alice.name, orgs.shared.name].sort());
      const form = page.getByTestId('new-conversation');
      await form.locator('input[name="title"]').fill(title);
      await form.locator('select[name="organization_id"]').selectOption(orgs.shared.id);
      await Promise.all([page.waitForURL(/\/conversations\/[0-9a-f-]{36}$/), form.locator('button[type="submit"]').click()]);
      conversationId = new URL(page.url()).pathname.split('/').pop();
      assert.equal(await page.getByTestId('conversation-title').textContent(), title);
      const msgForm = page.getByTestId('new-message');
      await msgForm.locator('textarea[name="content"]').fill(content);
      await Promise.all([page.waitForURL(`${base}/conversations/${conversationId}`), msgForm.locator('button[type="submit"]').click()]);
      assert.deepEqual(await page.getByTestId('message').allTextContents(), [content]);
      assert.equal(await page.evaluate(() => window.pwned), undefined, 'HTML must be escaped');
      await page.goto('/');
      const links = page.getByTestId('conversation');
      assert.deepEqual(await links.allTextContents(), [title]);
      assert.equal(await links.first().getAttribute('href'), `/conversations/${conversationId}`);
      await context.close();
    });

    await check('the rows are alice\'s, written under RLS', async () => {
      const { rows: convs } = await client.query('select organization_id, user_id, title from public.conversations where id = $1', [conversationId]);
      assert.deepEqual(convs, [{ organization_id: orgs.shared.id, user_id: alice.id, title }]);
      const { rows: msgs } = await client.query('select user_id, role, content from public.messages where conversation_id = $1', [conversationId]);
      assert.deepEqual(msgs, [{ user_id: alice.id, role: 'user', content }]);
    });

    await check("Chromium as bob: alice's conversation is a 404, her org is not listed", async () => {
      const context = await browser.newContext({ baseURL: base });
      await context.addCookies(bobCookies.map((c) => ({ ...c, domain: '127.0.0.1', path: '/', sameSite: 'Lax' })));
      const page = await context.newPage();
      const res = await page.goto(`/conversations/${conversationId}`);
      assert.equal(res.status(), 404);
      assert.equal(await page.getByTestId('conversation-title').count(), 0);
      await page.goto('/');
      assert.equal(await page.getByTestId('whoami').textContent(), bob.email);
      assert.deepEqual((await page.getByTestId('org').allTextContents()).sort(), [orgs.bob.name, orgs.shared.name].sort());
      assert.equal(await page.getByTestId('conversation').count(), 0);
      await context.close();
    });

    await check('bob by fetch: /organizations JSON, posting into alice\'s conversation or org is refused', async () => {
      let res = await fetch(`${base}/organizations`, { headers: asBob });
      assert.equal(res.status, 200);
      const list = await res.json();
      assert.deepEqual(list.map((o) => o.id).sort(), [orgs.bob.id, orgs.shared.id].sort());
      res = await fetch(`${base}/organizations`, { headers: asAlice });
      assert.deepEqual((await res.json()).map((o) => o.id).sort(), [orgs.alice.id, orgs.shared.id].sort());
      const form = { 'content-type': 'application/x-www-form-urlencoded' };
      res = await fetch(`${base}/conversations/${conversationId}/messages`, {
        method: 'POST', headers: { ...asBob, ...form }, body: new URLSearchParams({ content: 'intruder' }), redirect: 'manual',
      });
      assert.equal(res.status, 404);
      res = await fetch(`${base}/conversations`, {
        method: 'POST', headers: { ...asBob, ...form }, body: new URLSearchParams({ title: 'intruder', organization_id: orgs.alice.id }), redirect: 'manual',
      });
      assert.equal(res.status, 403);
      res = await fetch(`${base}/conversations`, {
        method: 'POST', headers: { ...asBob, ...form }, body: new URLSearchParams({ title: `bob ${tag}`, organization_id: orgs.bob.id }), redirect: 'manual',
      });
      assert.equal(res.status, 303);
      assert.match(res.headers.get('location'), /^\/conversations\/[0-9a-f-]{36}$/);
      const { rows } = await client.query("select count(*)::int n from public.messages where content = 'intruder'");
      assert.equal(rows[0].n, 0);
      const { rows: rows2 } = await client.query("select count(*)::int n from public.conversations where title = 'intruder'");
      assert.equal(rows2[0].n, 0);
      // Signed out: the same requests are 401 and write nothing.
      res = await fetch(`${base}/conversations`, { method: 'POST', headers: form, body: new URLSearchParams({ title: 'anon', organization_id: orgs.bob.id }), redirect: 'manual' });
      assert.equal(res.status, 401);
      res = await fetch(`${base}/organizations`);
      assert.equal(res.status, 401);
      assert.deepEqual(await res.json(), { error: 'signed out' });
    });

    await check('forged, wrong-audience, expired and garbage sessions are signed out', async () => {
      const cases = {
        forged: sessionCookies(await mintSession(alice, { secret: 'not-the-secret-not-the-secret-not-the-secret' })),
        'wrong audience': sessionCookies(await mintSession(alice, { audience: 'someone-else' })),
        expired: sessionCookies(await mintSession(alice, { expiresIn: -10 })),
        garbage: [{ name: 'sb-127-auth-token', value: 'base64-bm90IGpzb24' }],
        'other project': sessionCookies(aliceSession, 'http://otherref.supabase.co'),
      };
      for (const [name, cookies] of Object.entries(cases)) {
        const t = Date.now();
        const res = await fetch(`${base}/`, { headers: { cookie: cookieHeader(cookies) } });
        const html = await res.text();
        const ms = Date.now() - t;
        assert.equal(res.status, 401, `${name}: ${res.status}`);
        assert.match(html, /data-testid="signed-out"/, name);
        assert.ok(ms < 5_000, `${name}: answered in ${ms} ms`);
        const cleared = res.headers.getSetCookie().filter((c) => /max-age=0/i.test(c)).map((c) => c.split('=')[0]);
        log(`     ${name}: 401 in ${ms} ms${cleared.length ? `, cookies cleared: ${cleared.join(', ')}` : ''}`);
        if (name === 'expired') {
          // The session is dead (the refresh failed): @supabase/ssr clears its cookies, and the app sends that on.
          assert.deepEqual(cleared.sort(), cookies.map((c) => c.name).sort());
        }
      }
    });

    await check('a session within the refresh margin (no Auth server) still reads as signed in', async () => {
      const cookies = sessionCookies(await mintSession(alice, { expiresIn: 60 }));
      const t = Date.now();
      const res = await fetch(`${base}/organizations`, { headers: { cookie: cookieHeader(cookies) } });
      assert.equal(res.status, 200);
      assert.ok(Date.now() - t < 5_000, `answered in ${Date.now() - t} ms`);
      assert.deepEqual(res.headers.getSetCookie(), [], 'a still-valid session keeps its cookies');
    });

    await check('malformed ids and unknown routes', async () => {
      let res = await fetch(`${base}/conversations/not-a-uuid`, { headers: asAlice });
      assert.equal(res.status, 404);
      res = await fetch(`${base}/conversations/${randomUUID()}`, { headers: asAlice });
      assert.equal(res.status, 404);
      res = await fetch(`${base}/nope`);
      assert.equal(res.status, 404);
      res = await fetch(`${base}/conversations`, { method: 'POST', headers: { ...asAlice, 'content-type': 'application/x-www-form-urlencoded' }, body: 'title=x&organization_id=nope', redirect: 'manual' });
      assert.equal(res.status, 400);
      res = await fetch(`${base}/conversations`, { method: 'POST', headers: { ...asAlice, 'content-type': 'application/x-www-form-urlencoded', origin: 'http://evil.test' }, body: new URLSearchParams({ title: 'x', organization_id: orgs.alice.id }), redirect: 'manual' });
      assert.equal(res.status, 403);
    });

    await check('SIGTERM stops the app cleanly (exit 0)', async () => {
      app.child.kill('SIGTERM');
      const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error('the app did not exit within 10 s of SIGTERM')), 10_000));
      const { code, signal } = await Promise.race([app.exited, timeout]);
      assert.equal(signal, null);
      assert.equal(code, 0, app.output.join(''));
    });

    const output = app.output.join('');
    await check('the app logged no tokens or secrets', async () => {
      for (const secret of [JWT_SECRET, aliceSession.access_token, aliceSession.refresh_token, db.password]) {
        assert.ok(!output.includes(secret), 'a secret appeared in the app output');
      }
    });
    console.log(output.replace(/^/gm, 'app| ').trimEnd());
    app = undefined;
    log('PASS');
  } catch (err) {
    console.error(`smoke: FAIL at "${step}": ${err?.stack ?? err}`);
    if (app) console.error(`--- app output ---\n${app.output.join('')}`);
    process.exitCode = 1;
  } finally {
    await browser?.close().catch(() => {});
    if (app && app.child.exitCode === null) {
      app.child.kill('SIGKILL');
      await app.exited;
    }
    await client?.end().catch(() => {});
    await db?.stop().catch((e) => console.error(`smoke: stopping the database: ${e.message}`));
    await rm(tmp, { recursive: true, force: true });
  }
}

await main();
