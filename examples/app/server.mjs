// The example application that pglane's example Playwright suite drives: a tiny server-rendered
// chat app on the reference schema (examples/schema.sql). It reads the signed-in user the way a
// Next.js app on Supabase does (the `sb-<ref>-auth-token` cookie through @supabase/ssr), verifies
// the access token with jose, and reads and writes the database AS that user, under row-level
// security (role `authenticated`, `request.jwt.claims` = the verified claims).
//
//   node examples/app/server.mjs          # http://127.0.0.1:3100 (PGLANE_APP_PORT)
//
// The server starts before Playwright's globalSetup creates the database, so the database URL
// is looked up at request time; until there is one, data routes answer 503 "database not ready".
// See README.md in this folder for the environment variables.
import { readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import { pathToFileURL } from 'node:url';

import { createServerClient, parseCookieHeader, serializeCookieHeader } from '@supabase/ssr';
import { jwtVerify } from 'jose';
import pg from 'pg';

const DEFAULT_SUPABASE_URL = 'http://127.0.0.1:54321';
const DEFAULT_JWT_SECRET = 'super-secret-jwt-token-with-at-least-32-characters-long';
// supabase-js refuses to start without a key; this app never calls the Supabase APIs with it.
const DEFAULT_ANON_KEY = 'pglane-example-anon-key';
const DEFAULT_PORT = 3100;
const POOL_MAX = 4;
const MAX_BODY_BYTES = 64 * 1024;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// ---------------------------------------------------------------------------------------------
// Configuration (read at request time: the environment and the state file may appear later).

function supabaseConfig() {
  return {
    url: process.env.SUPABASE_URL || DEFAULT_SUPABASE_URL,
    anonKey: process.env.SUPABASE_ANON_KEY || DEFAULT_ANON_KEY,
    jwtSecret: process.env.SUPABASE_JWT_SECRET || DEFAULT_JWT_SECRET,
  };
}

let stateFileCache = null; // { path, mtimeMs, size, url }

/** The database URL, or null while there is none yet. Never logged: it holds a password. */
function databaseUrl() {
  if (process.env.DATABASE_URL) return process.env.DATABASE_URL;
  if (process.env.PGLANE_DATABASE_URL) return process.env.PGLANE_DATABASE_URL;
  const file = process.env.PGLANE_STATE_FILE;
  if (file) {
    let st;
    try {
      st = statSync(file);
    } catch {
      return null; // not written yet
    }
    const c = stateFileCache;
    if (c && c.path === file && c.mtimeMs === st.mtimeMs && c.size === st.size) return c.url;
    try {
      const state = JSON.parse(readFileSync(file, 'utf8'));
      const url = typeof state?.databaseUrl === 'string' && state.databaseUrl ? state.databaseUrl : null;
      if (url) stateFileCache = { path: file, mtimeMs: st.mtimeMs, size: st.size, url };
      return url;
    } catch {
      return null; // being written: try again on the next request
    }
  }
  // Like pglane's global setup: libpq's variables name a database too (pg reads them itself).
  if (process.env.PGHOST || process.env.PGDATABASE) return '';
  return null;
}

let pool = null;
let poolUrl = null;

/** The pool for the current database URL, or null while the database is not ready. */
function getPool() {
  const url = databaseUrl();
  if (url === null) return null;
  if (pool && poolUrl === url) return pool;
  if (pool) {
    // A new run wrote a new state file (e.g. a reused server): move to the new database.
    const old = pool;
    old.end().catch(() => {});
  }
  pool = new pg.Pool({
    ...(url ? { connectionString: url } : {}),
    max: POOL_MAX,
    idleTimeoutMillis: 10_000,
    connectionTimeoutMillis: 5_000,
    application_name: 'pglane-example-app',
  });
  pool.on('error', (err) => logError('idle database connection failed', err));
  poolUrl = url;
  return pool;
}

// ---------------------------------------------------------------------------------------------
// Sessions: cookie → @supabase/ssr → jose.

// supabase-js builds a Realtime client in every createClient(), and on Node < 22 (no global
// WebSocket) that constructor throws unless a transport is given. This app never subscribes to
// Realtime, so the transport is one that refuses to connect.
class NoRealtime {
  constructor() {
    throw new Error('the pglane example app does not use Supabase Realtime');
  }
}

// The only request supabase-js makes here is a token refresh, when the cookie's session is
// expired or within 90 s of expiry. auth-js retries a refresh that cannot reach the Auth server
// with backoff for ~25 s, which would stall a request (and a Playwright test) when no Supabase
// Auth runs at SUPABASE_URL (pglane's embedded database has none). So an unreachable (or 5 s
// silent) Auth server answers like one that rejects the refresh: auth-js then keeps a session
// whose access token is still valid, and signs out (clearing the cookies) one that expired.
const AUTH_TIMEOUT_MS = 5_000;
let authUnreachableLogged = false;
async function authFetch(input, init = {}) {
  try {
    return await fetch(input, { ...init, signal: init.signal ?? AbortSignal.timeout(AUTH_TIMEOUT_MS) });
  } catch (err) {
    if (!authUnreachableLogged) {
      authUnreachableLogged = true;
      const cause = err?.cause?.code ?? err?.name ?? 'error';
      console.error(`pglane example app: Supabase Auth is unreachable (${cause}); expired sessions are treated as signed out`);
    }
    const body = { code: 'auth_unreachable', error_code: 'auth_unreachable', msg: 'Supabase Auth is unreachable' };
    return new Response(JSON.stringify(body), { status: 400, headers: { 'content-type': 'application/json' } });
  }
}

const keyCache = new Map();
function hmacKey(secret) {
  let key = keyCache.get(secret);
  if (!key) {
    key = new TextEncoder().encode(secret);
    keyCache.clear();
    keyCache.set(secret, key);
  }
  return key;
}

/**
 * The verified JWT claims of the signed-in user, or null when signed out. Cookies that
 * @supabase/ssr wants to change (a refreshed or removed session) are written to `res`.
 */
async function currentUser(req, res) {
  const { url, anonKey, jwtSecret } = supabaseConfig();
  const cookieHeader = req.headers.cookie ?? '';
  const cookiesToSet = [];
  const headersToSet = {};
  const supabase = createServerClient(url, anonKey, {
    realtime: { transport: NoRealtime },
    global: { fetch: authFetch },
    cookies: {
      getAll() {
        return parseCookieHeader(cookieHeader);
      },
      setAll(cookies, headers) {
        cookiesToSet.push(...cookies);
        Object.assign(headersToSet, headers ?? {});
      },
    },
  });
  let session = null;
  try {
    const { data } = await supabase.auth.getSession();
    session = data?.session ?? null;
  } catch (err) {
    logError('reading the session cookie failed', err);
    session = null;
  }
  if (cookiesToSet.length > 0 && !res.headersSent) {
    for (const { name, value, options } of cookiesToSet) {
      res.appendHeader('Set-Cookie', serializeCookieHeader(name, value, options));
    }
    for (const [name, value] of Object.entries(headersToSet)) res.setHeader(name, value);
  }
  // getSession() only decodes the cookie: anyone can write one. The token must be checked.
  const token = session?.access_token;
  if (typeof token !== 'string' || token === '') return null;
  try {
    const { payload } = await jwtVerify(token, hmacKey(jwtSecret), {
      algorithms: ['HS256'],
      audience: 'authenticated',
    });
    if (typeof payload.sub !== 'string' || !UUID_RE.test(payload.sub)) return null;
    if (payload.role !== 'authenticated') return null;
    return payload;
  } catch {
    return null; // bad signature, expired, wrong audience...: signed out
  }
}

// ---------------------------------------------------------------------------------------------
// Database access as the user.

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** Runs `fn(client)` in a transaction as role `authenticated` with the user's claims (RLS). */
async function asUser(claims, fn) {
  const p = getPool();
  if (!p) throw new HttpError(503, 'database not ready');
  let client;
  try {
    client = await p.connect();
  } catch (err) {
    throw dbUnavailable(err);
  }
  let broken = null;
  try {
    await client.query('begin');
    await client.query(
      "select set_config('role', 'authenticated', true), set_config('request.jwt.claims', $1, true)",
      [JSON.stringify(claims)],
    );
    const result = await fn(client);
    await client.query('commit');
    return result;
  } catch (err) {
    try {
      await client.query('rollback');
    } catch (rollbackErr) {
      broken = rollbackErr;
    }
    throw err;
  } finally {
    client.release(broken ?? undefined);
  }
}

const CONNECTION_ERROR_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'ETIMEDOUT', 'EPIPE', '57P01', '57P02', '57P03', '3D000']);
function dbUnavailable(err) {
  logError('database connection failed', err);
  return new HttpError(503, 'database not ready');
}

/** Maps a Postgres error to an HTTP answer. */
function fromDbError(err) {
  if (err instanceof HttpError) return err;
  if (CONNECTION_ERROR_CODES.has(err?.code) || /Connection terminated|timeout exceeded when trying to connect/i.test(err?.message ?? '')) {
    return dbUnavailable(err);
  }
  switch (err?.code) {
    case '42501': // insufficient_privilege, including "new row violates row-level security policy"
      return new HttpError(403, 'not allowed');
    case '22P02': // invalid_text_representation (a malformed uuid)
    case '23502': // not_null_violation
    case '23503': // foreign_key_violation
    case '23514': // check_violation
      return new HttpError(400, 'invalid input');
    default:
      logError('query failed', err);
      return new HttpError(500, 'internal error');
  }
}

// ---------------------------------------------------------------------------------------------
// HTML.

function esc(value) {
  return String(value ?? '')
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

function layout(title, body) {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)} · pglane example</title>
<style>
  body { font: 15px/1.5 system-ui, sans-serif; max-width: 44rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
  header { display: flex; justify-content: space-between; align-items: baseline; border-bottom: 1px solid #ddd; margin-bottom: 1rem; }
  ul { padding-left: 1.2rem; } li { margin: .2rem 0; }
  form { display: flex; gap: .5rem; flex-wrap: wrap; margin: 1rem 0; }
  input[type=text], textarea, select { font: inherit; padding: .3rem; }
  .muted { color: #777; }
</style>
</head>
<body>
<header><a href="/">pglane example chat</a>${title ? `<span class="muted">${esc(title)}</span>` : ''}</header>
${body}
</body>
</html>
`;
}

function send(res, status, body, type = 'text/html; charset=utf-8', headers = {}) {
  if (res.headersSent) return;
  res.writeHead(status, {
    'Content-Type': type,
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'private, no-store',
    'X-Content-Type-Options': 'nosniff',
    ...headers,
  });
  res.end(body);
}

function sendPage(res, status, title, body) {
  send(res, status, layout(title, body));
}

function sendJson(res, status, value) {
  send(res, status, JSON.stringify(value), 'application/json; charset=utf-8');
}

function redirect(res, location) {
  if (res.headersSent) return;
  res.writeHead(303, { Location: location, 'Content-Length': 0, 'Cache-Control': 'private, no-store' });
  res.end();
}

function signedOut(res, wantsJson = false) {
  if (wantsJson) return sendJson(res, 401, { error: 'signed out' });
  return sendPage(
    res,
    401,
    'Signed out',
    '<p data-testid="signed-out">You are not signed in. Sign in through Supabase Auth (the <code>sb-&lt;ref&gt;-auth-token</code> cookie).</p>',
  );
}

function sendError(res, err, wantsJson = false) {
  const e = err instanceof HttpError ? err : fromDbError(err);
  if (wantsJson) return sendJson(res, e.status, { error: e.message });
  const testid = e.status === 503 ? 'not-ready' : e.status === 404 ? 'not-found' : 'error';
  return sendPage(res, e.status, e.message, `<p data-testid="${testid}">${esc(e.message)}</p>`);
}

// ---------------------------------------------------------------------------------------------
// Requests.

async function readForm(req) {
  const type = String(req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') throw new HttpError(415, 'expected an urlencoded form');
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, 'form too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/** A cross-site form post (Origin of another host) is refused; same-origin and non-browser posts pass. */
function checkOrigin(req) {
  const origin = req.headers.origin;
  if (!origin || origin === 'null') return;
  let host;
  try {
    host = new URL(origin).host;
  } catch {
    throw new HttpError(403, 'cross-origin request refused');
  }
  if (host !== req.headers.host) throw new HttpError(403, 'cross-origin request refused');
}

function textField(form, name, max) {
  const value = (form.get(name) ?? '').trim();
  if (value === '' || value.length > max) throw new HttpError(400, `${name} must be 1 to ${max} characters`);
  return value;
}

async function homePage(req, res, user) {
  const { orgs, conversations } = await asUser(user, async (db) => {
    const orgs = await db.query(
      `select o.id, o.name, o.slug, m.role
         from public.organizations o
         left join public.organization_members m on m.organization_id = o.id and m.user_id = auth.uid()
        order by o.name, o.id`,
    );
    const conversations = await db.query(
      `select c.id, c.title, c.organization_id, c.created_at
         from public.conversations c
        order by c.created_at desc, c.id`,
    );
    return { orgs: orgs.rows, conversations: conversations.rows };
  });
  const orgItems = orgs
    .map((o) => `<li><span data-testid="org" data-id="${esc(o.id)}" data-slug="${esc(o.slug)}" data-role="${esc(o.role ?? '')}">${esc(o.name)}</span></li>`)
    .join('\n');
  const convItems = conversations
    .map((c) => `<li><a data-testid="conversation" data-id="${esc(c.id)}" href="/conversations/${esc(c.id)}">${esc(c.title)}</a></li>`)
    .join('\n');
  const options = orgs.map((o) => `<option value="${esc(o.id)}">${esc(o.name)}</option>`).join('');
  sendPage(
    res,
    200,
    '',
    `<p>Signed in as <strong data-testid="whoami" data-user-id="${esc(user.sub)}">${esc(user.email ?? '')}</strong></p>
<h2>Organizations</h2>
${orgs.length ? `<ul data-testid="orgs">\n${orgItems}\n</ul>` : '<p class="muted" data-testid="no-orgs">You belong to no organization.</p>'}
<h2>Conversations</h2>
${conversations.length ? `<ul data-testid="conversations">\n${convItems}\n</ul>` : '<p class="muted" data-testid="no-conversations">No conversations yet.</p>'}
<form data-testid="new-conversation" method="post" action="/conversations">
  <input type="text" name="title" placeholder="Title" aria-label="Title" required maxlength="200">
  <select name="organization_id" aria-label="Organization" required>${options}</select>
  <button type="submit">Start conversation</button>
</form>`,
  );
}

async function createConversation(req, res, user) {
  checkOrigin(req);
  const form = await readForm(req);
  const title = textField(form, 'title', 200);
  const orgId = (form.get('organization_id') ?? '').trim();
  if (!UUID_RE.test(orgId)) throw new HttpError(400, 'organization_id must be a uuid');
  const id = await asUser(user, async (db) => {
    const { rows } = await db.query(
      `insert into public.conversations (organization_id, user_id, title)
       values ($1::uuid, auth.uid(), $2) returning id`,
      [orgId, title],
    );
    return rows[0].id;
  });
  redirect(res, `/conversations/${id}`);
}

async function conversationPage(req, res, user, id) {
  const found = await asUser(user, async (db) => {
    const conv = await db.query(
      `select c.id, c.title, c.organization_id, o.name as organization_name
         from public.conversations c
         left join public.organizations o on o.id = c.organization_id
        where c.id = $1::uuid`,
      [id],
    );
    if (conv.rows.length === 0) return null;
    const messages = await db.query(
      `select id, role, content, created_at from public.messages
        where conversation_id = $1::uuid order by created_at, id`,
      [id],
    );
    return { conversation: conv.rows[0], messages: messages.rows };
  });
  if (!found) throw new HttpError(404, 'conversation not found');
  const { conversation: c, messages } = found;
  const items = messages
    .map((m) => `<li data-testid="message" data-id="${esc(m.id)}" data-role="${esc(m.role)}">${esc(m.content)}</li>`)
    .join('\n');
  sendPage(
    res,
    200,
    c.title,
    `<h1 data-testid="conversation-title" data-id="${esc(c.id)}">${esc(c.title)}</h1>
<p class="muted">in <span data-testid="conversation-org" data-id="${esc(c.organization_id)}">${esc(c.organization_name ?? '')}</span></p>
${messages.length ? `<ul data-testid="messages">\n${items}\n</ul>` : '<p class="muted" data-testid="no-messages">No messages yet.</p>'}
<form data-testid="new-message" method="post" action="/conversations/${esc(c.id)}/messages">
  <textarea name="content" aria-label="Message" required maxlength="10000"></textarea>
  <button type="submit">Send</button>
</form>`,
  );
}

async function createMessage(req, res, user, id) {
  checkOrigin(req);
  const form = await readForm(req);
  const content = textField(form, 'content', 10_000);
  const ok = await asUser(user, async (db) => {
    // Invisible (someone else's) conversations are 404, not an RLS error.
    const conv = await db.query('select 1 from public.conversations where id = $1::uuid', [id]);
    if (conv.rows.length === 0) return false;
    await db.query(
      `insert into public.messages (conversation_id, user_id, role, content)
       values ($1::uuid, auth.uid(), 'user', $2)`,
      [id, content],
    );
    return true;
  });
  if (!ok) throw new HttpError(404, 'conversation not found');
  redirect(res, `/conversations/${id}`);
}

async function organizationsJson(req, res, user) {
  const rows = await asUser(user, async (db) => {
    const { rows } = await db.query(
      `select o.id, o.name, o.slug, m.role
         from public.organizations o
         left join public.organization_members m on m.organization_id = o.id and m.user_id = auth.uid()
        order by o.name, o.id`,
    );
    return rows;
  });
  sendJson(res, 200, rows);
}

/** The request handler (exported for embedding in tests). */
export async function handle(req, res) {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const path = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, '') : url.pathname;
  const method = req.method === 'HEAD' ? 'GET' : req.method;
  const wantsJson = path === '/organizations';
  try {
    if (path === '/health') {
      if (method !== 'GET') throw new HttpError(405, 'method not allowed');
      return send(res, 200, 'ok', 'text/plain; charset=utf-8');
    }
    let route = null;
    let id = null;
    let m;
    if (path === '/') route = method === 'GET' ? homePage : null;
    else if (path === '/organizations') route = method === 'GET' ? organizationsJson : null;
    else if (path === '/conversations') route = method === 'POST' ? createConversation : null;
    else if ((m = /^\/conversations\/([^/]+)$/.exec(path))) {
      id = m[1];
      route = method === 'GET' ? conversationPage : null;
    } else if ((m = /^\/conversations\/([^/]+)\/messages$/.exec(path))) {
      id = m[1];
      route = method === 'POST' ? createMessage : null;
    } else {
      throw new HttpError(404, 'not found');
    }
    if (!route) throw new HttpError(405, 'method not allowed');

    const user = await currentUser(req, res);
    if (!user) return signedOut(res, wantsJson);
    if (id !== null && !UUID_RE.test(id)) throw new HttpError(404, 'conversation not found');
    await route(req, res, user, id);
  } catch (err) {
    sendError(res, err, wantsJson);
  }
}

function logError(what, err) {
  // Messages and SQLSTATEs only: no tokens, cookies, URLs or stack dumps of request data.
  const code = err?.code ? ` [${err.code}]` : '';
  console.error(`pglane example app: ${what}: ${err?.message ?? err}${code}`);
}

/** Starts the server; resolves with it once it listens. */
export function startServer({ port = Number(process.env.PGLANE_APP_PORT) || DEFAULT_PORT, host = '127.0.0.1' } = {}) {
  const server = http.createServer((req, res) => {
    handle(req, res).catch((err) => {
      logError('request failed', err);
      if (!res.headersSent) send(res, 500, 'internal error', 'text/plain; charset=utf-8');
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

/** Stops accepting requests, lets running ones finish (5 s at most), closes the pool. */
export async function stopServer(server) {
  await new Promise((resolve) => {
    const force = setTimeout(() => {
      server.closeAllConnections?.();
      resolve();
    }, 5_000);
    force.unref();
    server.close(() => {
      clearTimeout(force);
      resolve();
    });
    server.closeIdleConnections?.();
  });
  if (pool) {
    const p = pool;
    pool = null;
    poolUrl = null;
    await p.end().catch(() => {});
  }
}

async function main() {
  let server;
  try {
    server = await startServer();
  } catch (err) {
    console.error(`pglane example app: cannot listen: ${err.message}`);
    process.exit(1);
  }
  const { address, port } = server.address();
  console.log(`pglane example app listening on http://${address}:${port}`);
  let stopping = false;
  const shutdown = (signal) => {
    if (stopping) process.exit(1); // a second signal: stop now
    stopping = true;
    console.log(`pglane example app: ${signal}, shutting down`);
    stopServer(server).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
