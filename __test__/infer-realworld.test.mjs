// Inferred factories on real schemas nobody here wrote (../shared/realworld: Supabase Auth with
// basejump, Documenso, pagila with and without foreign keys on its partitions, OpenStreetMap,
// NetBox with its demo data), on PostgreSQL 15 and on the embedded PostgreSQL 18: every table
// with a foreign key is created with no attributes, its parents built, and cleanup removes
// exactly what was made; then each schema's whole table list is created in one test and
// cleaned by one cleanup. Counts per schema are printed.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, before, describe, test } from 'node:test';
import { pg15SkipReason, startPg15 } from './pg15.mjs';
import { connect, loadRealworldSchema, REALWORLD_SCHEMAS, realworldSkipReason } from './realworld.mjs';
import { byRoot, countDiff, createAndClean, lane, normalize, rowCounts, tablesWithForeignKeys } from './infer-helpers.mjs';

const require = createRequire(import.meta.url);
const pglane = require('pglane');
const { startEmbeddedPostgres } = require('pglane/embedded');
const RUN_ID = pglane.generateRunId();

/**
 * Tables no insert can make without a signed-in user, whatever it gives: a trigger overwrites
 * the column with `auth.uid()`, which is null outside a request. pglane names the trigger.
 */
const NEEDS_A_SESSION = {
  'basejump.invitations': /pglane gave "invited_by_user_id" a value; a BEFORE INSERT trigger of basejump\.invitations set it to null: .*basejump_trigger_set_invitation_details/,
};

const summary = []; // [server, schema, tables with FKs, created, rows, ms]
after(() => {
  if (!summary.length) return;
  console.log('\ninferred creates (informational): server, schema, tables with a foreign key created / total tables, rows made');
  for (const [server, schema, fk, total, rows, ms] of summary) {
    console.log(`  ${server.padEnd(24)} ${schema.padEnd(16)} ${String(fk).padStart(4)} / ${String(total).padStart(3)} tables  ${String(rows).padStart(5)} rows  ${String(ms).padStart(6)} ms`);
  }
});

const SERVERS = [
  { label: 'PostgreSQL 15', skip: pg15SkipReason(), start: () => startPg15() },
  { label: 'embedded PostgreSQL 18', skip: null, start: () => startEmbeddedPostgres() },
];

for (const kind of SERVERS) {
  describe(`inferred factories on real schemas, ${kind.label}`, { skip: realworldSkipReason() ?? kind.skip ?? false }, () => {
    let server;
    before(async () => {
      server = await kind.start();
    });
    after(async () => {
      await server?.stop();
    });

    for (const name of REALWORLD_SCHEMAS) {
      describe(name, () => {
        let loaded;
        let db;
        let client;
        let factories;
        let description;
        before(async () => {
          loaded = await loadRealworldSchema(name, server.url);
          db = pglane.Db.connect(loaded.url);
          client = await connect(loaded.url);
          factories = pglane.Factories.fromSchema(db);
          description = await factories.describe();
        });
        after(async () => {
          await client?.end();
          db?.close();
        });

        test('every table with a foreign key: created with no attributes, parents built, cleaned exactly', async () => {
          const started = performance.now();
          const withFks = tablesWithForeignKeys(description);
          assert.ok(withFks.length > 0);
          let rows = 0;
          const failed = [];
          for (const table of withFks) {
            const expected = NEEDS_A_SESSION[table.name];
            if (expected) {
              const ctx = lane(RUN_ID);
              const tracker = pglane.ResourceTracker.forTest({}, ctx, db);
              const before = await rowCounts(client, description.tables);
              await assert.rejects(factories.create(table.qualified, ctx, tracker), expected);
              assert.deepEqual(countDiff(before, await rowCounts(client, description.tables)), {}, `${table.name}: nothing half-inserted`);
              failed.push(table.name);
              continue;
            }
            const { created } = await createAndClean({ db, factories, client, table, tables: description.tables, runId: RUN_ID });
            rows += Object.values(created).reduce((a, b) => a + b, 0);
          }
          summary.push([kind.label, name, withFks.length - failed.length, description.tables.length, rows, Math.round(performance.now() - started)]);
        });

        test('the whole table list in one test, then one cleanup: exactly what was made is deleted', async () => {
          // Left out: tables a session must make (above), and tables with neither a primary key
          // nor a foreign key (basejump.config): their rows cannot be tracked or found.
          const tables = description.tables.filter(
            (t) => !NEEDS_A_SESSION[t.name] && !(t.relations.length === 0 && t.primaryKey.length === 0),
          );
          const ctx = lane(RUN_ID, 8);
          const tracker = pglane.ResourceTracker.forTest({}, ctx, db);
          const before = await rowCounts(client, description.tables);
          for (const t of tables) await factories.create(t.qualified, ctx, tracker);
          const made = countDiff(before, await rowCounts(client, description.tables));
          for (const t of tables) assert.ok(made[t.name] >= 1 || description.tables.some((p) => p.partitionOf === t.name), `${t.name} has a row`);
          const created = byRoot(made, description.tables);
          const report = await new pglane.CleanupManager(db, tracker, { countDependents: true }).cleanup();
          assert.deepEqual(report.failures, []);
          assert.equal(report.verified, true);
          assert.deepEqual(byRoot(normalize(report.deleted), description.tables), created);
          assert.deepEqual(countDiff(before, await rowCounts(client, description.tables)), {});
        });
      });
    }
  });
}
