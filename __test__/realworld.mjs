// Loaders for the real open-source schemas in ../shared/realworld/ (beside the repository; CI
// lays shared/ beside the clone): each creates a fresh database on a server and loads one
// schema into it, adapting it in memory for what a plain PostgreSQL lacks (SOURCES.md there
// lists the adaptations). The shared files are read, never changed or copied.
//
//   const db = await loadRealworldSchema('pagila', serverUrl);
//   if (db.skipped) return t.skip(db.skipped);
//   db.url  // postgres:// URL of the new database (same role as serverUrl)
//
// The server URL must connect as a superuser: the schemas create roles, extensions, schemas.
// Roles are per server, so the loaders create them only when missing: several schemas (and the
// same schema twice) load into one server.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { runSqlScript } from './sql-script.mjs';

/** The repository's root (this file is in `<root>/__test__/`). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** `shared/` beside the repository, as on CI (`PGLANE_SHARED_DIR` overrides). */
export const SHARED_DIR = process.env.PGLANE_SHARED_DIR ? resolve(process.env.PGLANE_SHARED_DIR) : resolve(REPO_ROOT, '..', 'shared');

/** Every schema loadRealworldSchema knows, in a sensible loading order (NetBox is the largest). */
export const REALWORLD_SCHEMAS = ['supabase', 'documenso', 'pagila', 'pagila-nopartfk', 'osm', 'netbox'];

/** Why the files of `../shared/<dir>` cannot be used here, or null when they can. */
export function sharedSkipReason(dir, sharedDir = SHARED_DIR) {
  return existsSync(join(sharedDir, dir)) ? null : `skipped: ../shared/${dir} not found (CI has it beside the clone)`;
}

/** Why the realworld schemas cannot be loaded here, or null when they can. */
export function realworldSkipReason(sharedDir = SHARED_DIR) {
  return sharedSkipReason('realworld', sharedDir);
}

const q = (ident) => `"${String(ident).replace(/"/g, '""')}"`;

/** `url` with another database. */
export function withDatabase(url, database) {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

/** A connected `pg` client (no statement timeout: NetBox's dump is one long transaction). */
export async function connect(url) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return client;
}

/**
 * Creates an empty database on the server of `serverUrl` (from template0, so nothing a test
 * put into template1 comes along) and returns its name and URL. `name` is a base: when a
 * database of that name exists, `_2`, `_3`, ... is appended.
 */
export async function createDatabase(serverUrl, name) {
  const client = await connect(serverUrl);
  try {
    const base = name.toLowerCase().replace(/[^a-z0-9_]+/g, '_').slice(0, 50);
    const { rows } = await client.query('select datname from pg_database where datname = $1 or datname like $2', [base, `${base}\\_%`]);
    const taken = new Set(rows.map((r) => r.datname));
    let database = base;
    for (let n = 2; taken.has(database); n++) database = `${base}_${n}`;
    await client.query(`create database ${q(database)} template template0 encoding 'UTF8'`);
    return { database, url: withDatabase(serverUrl, database) };
  } finally {
    await client.end();
  }
}

/** Drops a database made by createDatabase (ends its other sessions first; PostgreSQL 13+). */
export async function dropDatabase(serverUrl, database) {
  const client = await connect(serverUrl);
  try {
    await client.query(`drop database if exists ${q(database)} with (force)`);
  } finally {
    await client.end();
  }
}

/**
 * Replaces `pattern` (a string, or a RegExp with the g flag) in `text`; throws when it matches
 * nothing, so a changed source file is noticed instead of silently loading something else.
 * Pushes a line describing the change to `log`.
 */
function adapt(text, pattern, replacement, label, log) {
  const re = typeof pattern === 'string' ? new RegExp(pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'g') : pattern;
  const count = text.match(re)?.length ?? 0;
  if (count === 0) throw new Error(`realworld: the adaptation "${label}" found nothing to change; did the shared file change?`);
  log.push(count > 1 ? `${label} (${count}x)` : label);
  return text.replace(re, replacement);
}

async function serverFacts(client) {
  const { rows } = await client.query(
    "select current_setting('server_version_num')::int as version, array(select name from pg_available_extensions order by 1) as extensions",
  );
  return { version: rows[0].version, extensions: new Set(rows[0].extensions) };
}

async function ensureRoles(client, roles, log) {
  for (const [role, options] of roles) {
    const { rowCount } = await client.query('select 1 from pg_roles where rolname = $1', [role]);
    if (rowCount) continue;
    await client.query(`create role ${q(role)} ${options}`);
    log.push(`role ${role} created (${options})`);
  }
}

async function inTransaction(client, fn) {
  await client.query('begin');
  try {
    await fn();
    await client.query('commit');
  } catch (err) {
    await client.query('rollback').catch(() => {});
    throw err;
  }
}

// ---- the schemas -------------------------------------------------------------------------

/** GoTrue's Go template for its schema, in both spellings the migrations use. */
const GOTRUE_NAMESPACE = /\{\{\s*index\s+\.Options\s+"Namespace"\s*\}\}/g;

/** What a Supabase image has before any migration runs (SOURCES.md, "supabase"). */
const SUPABASE_ROLES = ['anon', 'authenticated', 'service_role', 'supabase_auth_admin', 'supabase_admin', 'dashboard_user'];

/**
 * GoTrue's migration files in the order gobuffalo/pop runs them (by version, the digits before
 * the first `_`), with that version. `*.postgres.up.sql` is pop's dialect-specific form.
 */
export function gotrueMigrations(dir) {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.up.sql'))
    .map((file) => ({ file, version: file.split('_')[0] }))
    .sort((a, b) => (a.version < b.version ? -1 : a.version > b.version ? 1 : a.file < b.file ? -1 : 1));
}

async function loadSupabase({ client, url, rw, log }) {
  await ensureRoles(client, SUPABASE_ROLES.map((r) => [r, 'nologin']), log);
  await inTransaction(client, async () => {
    await client.query(`
      create schema if not exists auth;
      create schema if not exists extensions;
      create extension if not exists "uuid-ossp" with schema extensions;
      create extension if not exists pgcrypto with schema extensions;
      alter database ${q(client.database)} set search_path = "$user", public, extensions;`);
  });
  log.push('prelude: schemas auth, extensions; uuid-ossp, pgcrypto in extensions; database search_path "$user", public, extensions');

  const gotrue = join(rw, 'supabase-auth');
  const migrations = gotrueMigrations(gotrue);
  let replaced = 0;
  for (const { file, version } of migrations) {
    const sql = readFileSync(join(gotrue, file), 'utf8').replace(GOTRUE_NAMESPACE, () => (replaced++, 'auth'));
    // As pop: one transaction per file, then its version (GoTrue connects with search_path=auth).
    await inTransaction(client, async () => {
      await client.query('set local search_path = auth');
      await runSqlScript(client, sql, { source: `supabase-auth/${file}` });
      await client.query('insert into schema_migrations (version) values ($1)', [version]);
    });
  }
  log.push(`GoTrue: {{ index .Options "Namespace" }} -> auth (${replaced}x); ${migrations.length} migrations, one transaction each with search_path = auth, versions in auth.schema_migrations`);

  // basejump's migrations run as the Supabase CLI runs them: a new session (so the database's
  // search_path applies), one transaction per file.
  const basejump = join(rw, 'basejump');
  const files = readdirSync(basejump).filter((f) => f.endsWith('.sql')).sort();
  const session = await connect(url);
  try {
    for (const file of files) {
      await inTransaction(session, () => runSqlScript(session, readFileSync(join(basejump, file), 'utf8'), { source: `basejump/${file}` }));
    }
  } finally {
    await session.end();
  }
  log.push(`basejump: ${files.length} migrations, one transaction each`);
}

/**
 * Makes sure each migration file of a concatenation (parts starting with `-- FILE: `) ends with
 * `;`: Prisma runs each file alone, so one may end without it (20240131132916_verify_paid_users
 * does) and would run into the next file. Returns `{ text, added, files }`.
 */
export function terminateMigrationFiles(text) {
  const parts = text.split(/^(?=-- FILE: )/m);
  let added = 0;
  const fixed = parts.map((part) => {
    const code = part.replace(/--[^\n]*$/gm, '').trimEnd();
    if (!part.startsWith('-- FILE: ') || code.endsWith(';')) return part;
    added++;
    return `${part.trimEnd()}\n;\n`;
  });
  return { text: fixed.join(''), added, files: parts.filter((p) => p.startsWith('-- FILE: ')).length };
}

async function loadDocumenso({ client, rw, log }) {
  const source = 'documenso/documenso-migrations.sql';
  const { text, added, files } = terminateMigrationFiles(readFileSync(join(rw, source), 'utf8'));
  log.push(
    added
      ? `';' added after ${added} of ${files} migration files`
      : `each of the ${files} migration files already ends with ';' (the shared concatenation carries the fix)`,
  );
  await inTransaction(client, () => runSqlScript(client, text, { source }));
  log.push('all migrations in one transaction');
}

async function loadPagila({ client, rw, log, facts, partitionFks = true }) {
  const source = 'pagila/pagila-schema.sql';
  let sql = readFileSync(join(rw, source), 'utf8');
  if (facts.version < 180000) {
    sql = adapt(sql, 'DEFAULT uuidv7()', 'DEFAULT gen_random_uuid()', 'DEFAULT uuidv7() -> DEFAULT gen_random_uuid() (PostgreSQL < 18)', log);
    sql = adapt(sql, /(GENERATED ALWAYS AS \(.*\)) VIRTUAL/g, '$1 STORED', 'GENERATED ... VIRTUAL -> STORED (PostgreSQL < 18)', log);
  }
  if (!facts.extensions.has('vector')) {
    sql = adapt(sql, /^CREATE EXTENSION IF NOT EXISTS vector WITH SCHEMA public;$/m, '', 'CREATE EXTENSION vector removed (pgvector not installed)', log);
    sql = adapt(sql, /^COMMENT ON EXTENSION vector IS .*;$/m, '', 'its COMMENT removed', log);
    sql = adapt(sql, 'public.vector(20)', 'real[]', 'public.vector(20) -> real[]', log);
    sql = adapt(sql, /^CREATE INDEX \S+ ON public\.\S+ USING hnsw .*;$/gm, '', 'hnsw index removed', log);
  }
  if (!partitionFks) {
    // The foreign keys declared on partitions of payment (not on payment itself).
    sql = adapt(
      sql,
      /^ALTER TABLE ONLY public\.payment_p\d{4}_\d{2}\n {4}ADD CONSTRAINT \S+ FOREIGN KEY .*;$/gm,
      '',
      'foreign keys declared on partitions of payment removed (pagila-nopartfk)',
      log,
    );
  }
  // The dump gives its objects to `postgres`, which a cluster made with another superuser lacks.
  await ensureRoles(client, [['postgres', 'nologin']], log);
  await inTransaction(client, () => runSqlScript(client, sql, { source }));
}

async function loadNetbox({ client, rw, log }) {
  await ensureRoles(client, [['netbox', 'nologin']], log);
  const source = 'netbox/netbox-demo-v4.2.sql';
  await inTransaction(client, () => runSqlScript(client, readFileSync(join(rw, source), 'utf8'), { source }));
  log.push('pg_dump restored in one transaction (COPY data included)');
}

async function loadOsm({ client, rw, log, facts }) {
  const source = 'osm/structure.sql';
  let sql = readFileSync(join(rw, source), 'utf8');
  if (!facts.extensions.has('postgis')) {
    sql = adapt(sql, /^CREATE EXTENSION IF NOT EXISTS postgis WITH SCHEMA public;$/m, '', 'CREATE EXTENSION postgis removed (PostGIS not installed)', log);
    sql = adapt(sql, /^COMMENT ON EXTENSION postgis IS .*;$/m, '', 'its COMMENT removed', log);
    sql = adapt(sql, /public\.geometry\(\w+,\d+\)/g, 'bytea', 'moderation_zones.zone geometry -> bytea', log);
  }
  await inTransaction(client, () => runSqlScript(client, sql, { source }));
}

const LOADERS = {
  supabase: loadSupabase,
  documenso: loadDocumenso,
  pagila: loadPagila,
  'pagila-nopartfk': (ctx) => loadPagila({ ...ctx, partitionFks: false }),
  netbox: loadNetbox,
  osm: loadOsm,
};

/**
 * Creates a database on the server of `serverUrl` (a superuser's URL) and loads the schema
 * `name` (one of REALWORLD_SCHEMAS) into it.
 *
 * Options: `database` (base name of the new database, default the schema's name; a suffix is
 * added when taken), `sharedDir` (default SHARED_DIR).
 *
 * Returns `{ skipped }` (a message for `t.skip`) when ../shared/realworld is absent; otherwise
 * `{ name, database, url, ms, serverVersion, adaptations }`: the new database's URL, the time
 * taken (creation included) and what was changed or created to load it on this server. On a
 * load error the new database is dropped and the error names the file and line.
 */
export async function loadRealworldSchema(name, serverUrl, { database, sharedDir = SHARED_DIR } = {}) {
  const skipped = realworldSkipReason(sharedDir);
  if (skipped) return { skipped };
  const loader = LOADERS[name];
  if (!loader) throw new Error(`realworld: unknown schema "${name}" (known: ${REALWORLD_SCHEMAS.join(', ')})`);
  const started = performance.now();
  const created = await createDatabase(serverUrl, database ?? name);
  const client = await connect(created.url);
  const log = [];
  let facts;
  try {
    facts = await serverFacts(client);
    await loader({ client, url: created.url, rw: join(sharedDir, 'realworld'), log, facts });
  } catch (err) {
    await client.end().catch(() => {});
    await dropDatabase(serverUrl, created.database).catch(() => {});
    throw Object.assign(new Error(`realworld: ${name} did not load on PostgreSQL ${facts?.version ?? '?'}: ${err.message}`, { cause: err }), {
      code: err.code,
    });
  }
  await client.end();
  return {
    name,
    database: created.database,
    url: created.url,
    ms: Math.round(performance.now() - started),
    serverVersion: facts.version,
    adaptations: log,
  };
}

/** loadRealworldSchema for each of `names` (default all), one after another. */
export async function loadRealworldSchemas(serverUrl, names = REALWORLD_SCHEMAS, options = {}) {
  const out = {};
  for (const name of names) out[name] = await loadRealworldSchema(name, serverUrl, options);
  return out;
}

