// Supabase Auth's real schema as a Supabase image has it, from ../shared/supabase-real/
// (SOURCES.md there: where each file comes from and the role each runs as). The bootstrap is the
// image's `migrate.sh`, in JS: a dedicated cluster made with `initdb -U supabase_admin`,
//   create role postgres superuser login; alter database postgres owner to postgres;
//   10-supabase-init-scripts.sql   as postgres (still a superuser then)
//   20-supabase-migrations.sql     as supabase_admin (demotes postgres: NOSUPERUSER BYPASSRLS)
//   30-gotrue-migrations.sql       as supabase_auth_admin, search_path auth (GoTrue's migrate)
// and, for the hosted-like "restricted" variant, `postgres` taken out of supabase_auth_admin.
// Everything is loaded into the cluster's `postgres` database. Roles that log in get a random
// password (the image sets one too); the URLs carry it: never print them.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PG15_BIN, pg15SkipReason, startCluster } from './pg15.mjs';
import { connect, SHARED_DIR, sharedSkipReason } from './realworld.mjs';
import { runSqlScript } from './sql-script.mjs';

/** The files, in the order and with the role each runs as. */
export const SUPABASE_REAL_FILES = [
  ['10-supabase-init-scripts.sql', 'postgres'],
  ['20-supabase-migrations.sql', 'supabase_admin'],
  ['30-gotrue-migrations.sql', 'supabase_auth_admin'],
];

/** Why the supabase-real bootstrap cannot run here (files or PostgreSQL 15 missing), or null. */
export function supabaseRealSkipReason({ sharedDir = SHARED_DIR, bin = PG15_BIN } = {}) {
  return sharedSkipReason('supabase-real', sharedDir) ?? (bin === PG15_BIN ? pg15SkipReason() : null);
}

async function asRole(url, fn) {
  const client = await connect(url);
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * Starts a cluster (PostgreSQL 15 unless `bin` says otherwise) and bootstraps Supabase's
 * database in it. Options: `restricted` (default false: `postgres` keeps the image's membership
 * in supabase_auth_admin), `bin`, `sharedDir`, `settings` (server settings, see startCluster).
 *
 * Returns `{ skipped }` when the files or PostgreSQL 15 are missing; otherwise
 * `{ postgresUrl, authAdminUrl, adminUrl, urlFor(role), restricted, ms, version, cluster,
 * restrict(), unrestrict(), stop() }`: `postgresUrl` connects as `postgres` (NOSUPERUSER,
 * BYPASSRLS, as on a Supabase project), `authAdminUrl` as supabase_auth_admin (search_path auth),
 * `adminUrl` as the superuser supabase_admin; `urlFor(role)` gives any other login role a
 * password and a URL. `restrict()`/`unrestrict()` revoke/grant back postgres' membership in
 * supabase_auth_admin on the running cluster.
 */
export async function startSupabaseReal({ restricted = false, bin = PG15_BIN, sharedDir = SHARED_DIR, settings } = {}) {
  const skipped = supabaseRealSkipReason({ sharedDir, bin });
  if (skipped) return { skipped };
  const started = performance.now();
  const dir = join(sharedDir, 'supabase-real');
  const cluster = await startCluster({ bin, superuser: 'supabase_admin', settings });
  try {
    const adminUrl = cluster.url;
    const passwords = new Map([['supabase_admin', cluster.password]]);
    const setPassword = async (role) => {
      if (!passwords.has(role)) {
        const password = randomBytes(18).toString('base64url');
        await asRole(adminUrl, (c) => c.query(`alter role "${role.replace(/"/g, '""')}" password '${password}'`));
        passwords.set(role, password);
      }
      return cluster.urlFor(role, passwords.get(role));
    };
    const urls = {};
    await asRole(adminUrl, async (c) => {
      await c.query('create role postgres superuser login; alter database postgres owner to postgres');
    });
    urls.postgres = await setPassword('postgres');
    urls.supabase_admin = adminUrl;
    for (const [file, role] of SUPABASE_REAL_FILES) {
      // supabase_auth_admin is made by the first file: its password can only be set after it.
      urls[role] ??= await setPassword(role);
      const url = role === 'supabase_auth_admin' ? `${urls[role]}&options=${encodeURIComponent('-c search_path=auth')}` : urls[role];
      // psql -f with ON_ERROR_STOP, as migrate.sh runs them: statements in order, stop at the first error.
      await asRole(url, (c) => runSqlScript(c, readFileSync(join(dir, file), 'utf8'), { source: `supabase-real/${file}` }));
    }
    const membership = (grant) =>
      asRole(adminUrl, (c) => c.query(grant ? 'grant supabase_auth_admin to postgres' : 'revoke supabase_auth_admin from postgres'));
    let isRestricted = false;
    if (restricted) {
      await membership(false);
      isRestricted = true;
    }
    return {
      postgresUrl: urls.postgres,
      authAdminUrl: urls.supabase_auth_admin,
      adminUrl,
      urlFor: setPassword,
      get restricted() {
        return isRestricted;
      },
      ms: Math.round(performance.now() - started),
      version: cluster.version,
      cluster,
      async restrict() {
        await membership(false);
        isRestricted = true;
      },
      async unrestrict() {
        await membership(true);
        isRestricted = false;
      },
      stop: () => cluster.stop(),
    };
  } catch (err) {
    const log = cluster.log().trimEnd().split('\n').filter((l) => /ERROR|FATAL|PANIC/.test(l)).slice(-10).join('\n');
    await cluster.stop();
    throw Object.assign(new Error(`supabase-real: bootstrap failed on PostgreSQL ${cluster.version}: ${err.message}${log ? `\n--- server log ---\n${log}` : ''}`, { cause: err }), {
      code: err.code,
    });
  }
}
