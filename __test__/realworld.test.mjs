// Smoke test of the test infrastructure for real schemas: every schema of ../shared/realworld
// loads on PostgreSQL 15 (a throwaway cluster) and on the embedded PostgreSQL 18, and is what
// its source says it is (counts read from the catalog, fixed here by inspection); Supabase's
// real auth schema bootstraps as the image does, with the image's grants and restricted.
// One server per kind for the whole file, each schema loaded once. Load times are printed.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pg15SkipReason, startPg15 } from './pg15.mjs';
import {
  connect,
  loadRealworldSchema,
  REALWORLD_SCHEMAS,
  realworldSkipReason,
  SHARED_DIR,
  terminateMigrationFiles,
} from './realworld.mjs';
import { splitCopyBlocks } from './sql-script.mjs';
import { startSupabaseReal, supabaseRealSkipReason } from './supabase-real.mjs';

const require = createRequire(import.meta.url);
const { startEmbeddedPostgres } = require('pglane/embedded');

const timings = []; // [server, what, ms]
after(() => {
  if (timings.length === 0) return;
  const width = Math.max(...timings.map(([, what]) => what.length));
  const serverWidth = Math.max(...timings.map(([server]) => server.length));
  console.log('\nload times (informational):');
  for (const [server, what, ms] of timings) console.log(`  ${server.padEnd(serverWidth)} ${what.padEnd(width)} ${String(ms).padStart(6)} ms`);
});

/** What every schema is checked for, from one catalog query (user schemas only). */
const CATALOG_FACTS = `
  with fk as (
    select c.*, k.relispartition as on_partition
    from pg_constraint c join pg_class k on k.oid = c.conrelid
    where c.contype = 'f' and c.conparentid = 0          -- declared, not cloned onto partitions
  )
  select
    (select count(*) from pg_class k join pg_namespace n on n.oid = k.relnamespace
      where k.relkind in ('r', 'p') and not k.relispartition
        and n.nspname not in ('pg_catalog', 'information_schema'))::int as tables,
    (select count(*) from pg_class k where k.relkind in ('r', 'p') and k.relispartition)::int as partitions,
    (select count(*) from fk)::int as fks,
    (select count(*) from fk where on_partition)::int as "fksOnPartitions",
    (select count(*) from fk where condeferrable and condeferred)::int as "deferredFks",
    (select count(*) from fk where conrelid = confrelid)::int as "selfFks",
    (select count(*) from fk where confdeltype = 'c')::int as "cascadeFks",
    (select count(*) from fk where confdeltype = 'n')::int as "setNullFks",
    (select count(*) from pg_type t join pg_namespace n on n.oid = t.typnamespace
      where t.typtype = 'e' and n.nspname not in ('pg_catalog', 'information_schema'))::int as enums
`;

// By inspection of the loaded schemas (the same on PostgreSQL 15 and 18).
const EXPECTED = {
  // auth: GoTrue's 23 tables; basejump: 6, 5 of its 10 FKs to auth.users.
  supabase: { tables: 29, partitions: 0, fks: 28, fksOnPartitions: 0, deferredFks: 0, selfFks: 0, cascadeFks: 24, setNullFks: 0, enums: 12 },
  documenso: { tables: 51, partitions: 0, fks: 63, fksOnPartitions: 0, deferredFks: 0, selfFks: 1, cascadeFks: 49, setNullFks: 10, enums: 30 },
  // payment is partitioned by month (55 partitions); 18 FKs are declared on 6 of them.
  pagila: { tables: 16, partitions: 55, fks: 37, fksOnPartitions: 18, deferredFks: 0, selfFks: 0, cascadeFks: 1, setNullFks: 0, enums: 1 },
  'pagila-nopartfk': { tables: 16, partitions: 55, fks: 19, fksOnPartitions: 0, deferredFks: 0, selfFks: 0, cascadeFks: 1, setNullFks: 0, enums: 1 },
  osm: { tables: 57, partitions: 0, fks: 71, fksOnPartitions: 0, deferredFks: 0, selfFks: 0, cascadeFks: 1, setNullFks: 0, enums: 8 },
  // Django: every FK DEFERRABLE INITIALLY DEFERRED.
  netbox: { tables: 189, partitions: 0, fks: 380, fksOnPartitions: 0, deferredFks: 380, selfFks: 17, cascadeFks: 0, setNullFks: 0, enums: 0 },
};

const one = async (client, sql, params) => (await client.query(sql, params)).rows[0];

/** Schema-specific facts beyond the counts; `version` is server_version_num. */
const CHECKS = {
  async supabase(c) {
    const files = readdirSync(join(SHARED_DIR, 'realworld', 'supabase-auth')).filter((f) => f.endsWith('.up.sql'));
    assert.equal(files.length, 70);
    assert.equal(Number((await one(c, 'select count(*) from auth.schema_migrations')).count), files.length, 'one version per GoTrue migration');
    const perSchema = (await c.query("select table_schema, count(*)::int as n from information_schema.tables where table_schema in ('auth', 'basejump') and table_type = 'BASE TABLE' group by 1 order by 1")).rows;
    assert.deepEqual(perSchema, [{ table_schema: 'auth', n: 23 }, { table_schema: 'basejump', n: 6 }]);
    const toUsers = await one(c, "select count(*)::int as n from pg_constraint where contype = 'f' and connamespace = 'basejump'::regnamespace and confrelid = 'auth.users'::regclass");
    assert.equal(toUsers.n, 5, 'basejump references auth.users');
    const generated = (await c.query("select attrelid::regclass::text as t, attname from pg_attribute where attgenerated = 's' and attrelid in ('auth.users'::regclass, 'auth.identities'::regclass) order by 1")).rows;
    assert.deepEqual(generated, [{ t: 'auth.identities', attname: 'email' }, { t: 'auth.users', attname: 'confirmed_at' }]);
    assert.equal((await one(c, 'select count(*)::int as n from pg_policy')).n, 13, "basejump's RLS policies");
    const setting = await one(c, 'select setconfig from pg_db_role_setting where setdatabase = (select oid from pg_database where datname = current_database()) and setrole = 0');
    assert.deepEqual(setting.setconfig, ['search_path="$user", public, extensions']);
  },
  async documenso(c) {
    const ext = (await c.query('select extname from pg_extension order by 1')).rows.map((r) => r.extname);
    assert.deepEqual(ext, ['pg_trgm', 'pgcrypto', 'plpgsql']);
    assert.ok(await one(c, `select 1 as x from pg_class where oid = '"public"."Envelope"'::regclass`), 'the latest model (Envelope) exists');
  },
  async pagila(c, version) {
    const lengthHours = await one(c, "select attgenerated from pg_attribute where attrelid = 'public.film'::regclass and attname = 'length_hours'");
    assert.equal(lengthHours.attgenerated, version >= 180000 ? 'v' : 's', 'VIRTUAL on 18, STORED before');
    const uuidDefault = await one(c, "select pg_get_expr(adbin, adrelid) as d from pg_attrdef join pg_attribute on attrelid = adrelid and attnum = adnum where adrelid = 'public.payment'::regclass and attname = 'uuid'");
    assert.equal(uuidDefault.d, version >= 180000 ? 'uuidv7()' : 'gen_random_uuid()');
    const embedding = await one(c, "select format_type(atttypid, atttypmod) as t from pg_attribute where attrelid = 'public.film_embedding'::regclass and attname = 'embedding'");
    assert.equal(embedding.t, 'real[]', 'no pgvector: real[]');
    const parts = await one(c, "select count(*)::int as n, bool_and(k.relkind = 'r') as leaf from pg_inherits i join pg_class k on k.oid = i.inhrelid where i.inhparent = 'public.payment'::regclass");
    assert.deepEqual(parts, { n: 55, leaf: true });
  },
  async 'pagila-nopartfk'(c, version) {
    await CHECKS.pagila(c, version);
    const onPayment = await one(c, "select count(*)::int as n from pg_constraint where contype = 'f' and conrelid = 'public.payment'::regclass");
    assert.equal(onPayment.n, 0, 'payment itself declares no FK either');
  },
  async osm(c) {
    const zone = await one(c, "select format_type(atttypid, atttypmod) as t from pg_attribute where attrelid = 'public.moderation_zones'::regclass and attname = 'zone'");
    assert.equal(zone.t, 'bytea');
    const ext = (await c.query('select extname from pg_extension order by 1')).rows.map((r) => r.extname);
    assert.deepEqual(ext, ['btree_gist', 'plpgsql']);
  },
  async netbox(c) {
    const owners = await one(c, "select count(*)::int as n from pg_tables where schemaname = 'public' and tableowner = 'netbox'");
    assert.equal(owners.n, 189);
    // Every row of the dump's COPY blocks is there.
    const dump = readFileSync(join(SHARED_DIR, 'realworld', 'netbox', 'netbox-demo-v4.2.sql'), 'utf8');
    const expected = {};
    for (const p of splitCopyBlocks(dump)) {
      if (p.kind !== 'copy') continue;
      expected[p.text.match(/^COPY (\S+)/)[1]] = p.data ? p.data.split('\n').length - 1 : 0;
    }
    assert.equal(Object.keys(expected).length, 189);
    const tables = Object.keys(expected);
    const counted = (await c.query(tables.map((t, i) => `select ${i} as i, count(*)::int as n from ${t}`).join(' union all '))).rows;
    const actual = Object.fromEntries(counted.map((r) => [tables[r.i], r.n]));
    assert.deepEqual(actual, expected);
    assert.equal(Object.values(actual).reduce((a, b) => a + b, 0), 21458);
    assert.equal(actual['public.dcim_device'], 72);
  },
};

const SERVERS = [
  { label: 'PostgreSQL 15', skip: pg15SkipReason(), start: () => startPg15() },
  {
    label: 'embedded PostgreSQL 18',
    skip: null,
    async start() {
      const server = await startEmbeddedPostgres();
      const c = await connect(server.url);
      server.version = Number((await one(c, "select current_setting('server_version_num') as v")).v);
      await c.end();
      return server;
    },
  },
];

for (const kind of SERVERS) {
  describe(`real schemas on ${kind.label}`, { skip: realworldSkipReason() ?? kind.skip ?? false }, () => {
    let server;
    before(async () => {
      server = await kind.start();
    });
    after(async () => {
      await server?.stop();
    });

    test('the server is the expected major version', () => {
      assert.equal(Math.floor(server.version / 10000), kind.label.includes('15') ? 15 : 18);
    });

    for (const name of REALWORLD_SCHEMAS) {
      test(`${name} loads into a fresh database and has the tables and foreign keys of its source`, async (t) => {
        const db = await loadRealworldSchema(name, server.url);
        if (db.skipped) return t.skip(db.skipped);
        timings.push([kind.label, name, db.ms]);
        t.diagnostic(`${name}: ${db.ms} ms; ${db.adaptations.join('; ')}`);
        assert.equal(db.serverVersion, server.version);
        const c = await connect(db.url);
        try {
          assert.equal((await one(c, 'select current_database() as d')).d, db.database);
          assert.deepEqual(await one(c, CATALOG_FACTS), EXPECTED[name]);
          await CHECKS[name](c, server.version);
        } finally {
          await c.end();
        }
      });
    }

    test('a load that fails names the file and line, and leaves no database behind', async () => {
      // A stand-in shared/ whose osm file has the lines the loader adapts, then an error: in a
      // statement, or in COPY data (a NUL byte: \\x00 is bytea's hex form, \x00 is a raw byte).
      const fake = mkdtempSync(join(tmpdir(), 'pglane-fakeshared-'));
      const osm = (copyRow, lastTable) =>
        [
          'CREATE EXTENSION IF NOT EXISTS postgis WITH SCHEMA public;',
          "COMMENT ON EXTENSION postgis IS 'x';",
          'CREATE TABLE public.zones (zone public.geometry(Polygon,4326));',
          'COPY public.zones (zone) FROM stdin;',
          copyRow,
          '\\.',
          'CREATE TABLE public.ok (id int);',
          lastTable,
          '',
        ].join('\n');
      const load = async (text) => {
        writeFileSync(join(fake, 'realworld', 'osm', 'structure.sql'), text);
        return loadRealworldSchema('osm', server.url, { sharedDir: fake, database: 'broken_osm' }).then(() => assert.fail('loaded'), (e) => e);
      };
      try {
        mkdirSync(join(fake, 'realworld', 'osm'), { recursive: true });
        const statement = await load(osm('\\\\x00', 'CREATE TABLE public.broken (id int,);'));
        assert.match(statement.message, /osm\/structure\.sql:8: syntax error at or near "\)"/);
        assert.equal(statement.code, '42601');
        const copy = await load(osm('\\x00', 'CREATE TABLE public.fine (id int);'));
        assert.match(copy.message, /osm\/structure\.sql:4: invalid byte sequence for encoding "UTF8": 0x00\n {2}at: COPY public\.zones/);
        const c = await connect(server.url);
        const left = await c.query("select datname from pg_database where datname like 'broken_osm%'");
        await c.end();
        assert.deepEqual(left.rows, []);
      } finally {
        rmSync(fake, { recursive: true, force: true });
      }
    });

    test('a schema loads again on the same server: a new database name, no role made twice', async () => {
      // supabase was loaded above: its database name is taken and its roles exist.
      const again = await loadRealworldSchema('supabase', server.url);
      assert.equal(again.database, 'supabase_2');
      assert.deepEqual(again.adaptations.filter((a) => a.startsWith('role ')), []);
    });
  });
}

describe('supabase-real: the Supabase image bootstrap on PostgreSQL 15', { skip: supabaseRealSkipReason() ?? false }, () => {
  const EXPECTED_VERSIONS = 77; // SOURCES.md: 7 legacy versions the image inserts + GoTrue's 70

  async function checkRoles(sb, { restricted }) {
    const pgc = await connect(sb.postgresUrl);
    const auth = await connect(sb.authAdminUrl);
    try {
      const me = await one(pgc, "select current_user as u, rolsuper, rolbypassrls, pg_has_role('postgres', 'supabase_auth_admin', 'member') as member from pg_roles where rolname = current_user");
      assert.deepEqual(me, { u: 'postgres', rolsuper: false, rolbypassrls: true, member: !restricted });
      assert.equal(Number((await one(pgc, 'select count(*) from auth.schema_migrations')).count), EXPECTED_VERSIONS);
      const admin = await one(auth, "select current_user as u, current_setting('search_path') as sp, (select count(*)::int from pg_tables where schemaname = 'auth' and tableowner = current_user) as owned");
      assert.deepEqual(admin, { u: 'supabase_auth_admin', sp: 'auth', owned: 23 });
      // postgres may write auth's rows in both variants...
      await pgc.query('begin');
      await pgc.query("insert into auth.users (instance_id, id, aud, role, email) values ('00000000-0000-0000-0000-000000000000', gen_random_uuid(), 'authenticated', 'authenticated', 'probe@pglane.test')");
      await pgc.query('rollback');
      // ...but only through supabase_auth_admin may it change auth's tables (hosted: it cannot).
      await pgc.query('begin');
      const made = await pgc.query('create index pglane_probe on auth.users (created_at)').then(() => null, (err) => err);
      await pgc.query('rollback');
      if (restricted) assert.match(made?.message ?? 'no error', /must be owner of table users/);
      else assert.equal(made, null);
    } finally {
      await pgc.end();
      await auth.end();
    }
  }

  test("with the image's grants, then restricted and back on the same cluster", async (t) => {
    const sb = await startSupabaseReal();
    try {
      timings.push([`PostgreSQL ${Math.floor(sb.version / 10000)} (supabase_admin)`, 'supabase-real bootstrap', sb.ms]);
      t.diagnostic(`supabase-real: ${sb.ms} ms`);
      assert.equal(sb.restricted, false);
      await checkRoles(sb, { restricted: false });
      await sb.restrict();
      assert.equal(sb.restricted, true);
      await checkRoles(sb, { restricted: true });
      await sb.unrestrict();
      await checkRoles(sb, { restricted: false });
    } finally {
      await sb.stop();
    }
  });

  test('restricted from the start: postgres is no member of supabase_auth_admin', async (t) => {
    const sb = await startSupabaseReal({ restricted: true });
    try {
      timings.push([`PostgreSQL ${Math.floor(sb.version / 10000)} (supabase_admin)`, 'supabase-real bootstrap, restricted', sb.ms]);
      assert.equal(sb.restricted, true);
      await checkRoles(sb, { restricted: true });
    } finally {
      await sb.stop();
    }
  });
});

describe('without ../shared', () => {
  let empty;
  before(() => {
    empty = mkdtempSync(join(tmpdir(), 'pglane-noshared-'));
  });
  after(() => rmSync(empty, { recursive: true, force: true }));

  test('every loader says it skipped, and why, before connecting anywhere', async () => {
    const nowhere = 'postgres://nobody@127.0.0.1:1/none';
    for (const name of REALWORLD_SCHEMAS) {
      assert.deepEqual(await loadRealworldSchema(name, nowhere, { sharedDir: empty }), {
        skipped: 'skipped: ../shared/realworld not found (CI has it beside the clone)',
      });
    }
    assert.equal(realworldSkipReason(empty), 'skipped: ../shared/realworld not found (CI has it beside the clone)');
    assert.deepEqual(await startSupabaseReal({ sharedDir: empty }), {
      skipped: 'skipped: ../shared/supabase-real not found (CI has it beside the clone)',
    });
  });

  test('PostgreSQL 15 missing is a skip reason too', () => {
    assert.match(pg15SkipReason(join(empty, 'bin')), /^skipped: PostgreSQL 15 not found .*apt-get install postgresql-15/);
  });
});

test("documenso: a migration file that ends without ';' gets one, the others are left alone", () => {
  const text = [
    '-- FILE: a/migration.sql\nCREATE TABLE "A" (id int);\n',
    '-- FILE: b/migration.sql\nUPDATE "A" SET id = 1\nWHERE id = 2\n',
    '-- FILE: c/migration.sql\nCREATE TABLE "C" (id int); -- done\n',
  ].join('');
  const { text: fixed, added } = terminateMigrationFiles(text);
  assert.equal(added, 1);
  assert.equal(fixed, text.replace('WHERE id = 2\n', 'WHERE id = 2\n;\n'));
});
