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

const summary = []; // [server, schema, tables with FKs, created, rows, ms, cleanup p50 ms, most round trips]
const lanes = []; // [server, schema, tables, lane A rows, round trips, ms, lane C rows by name, lane C rows, round trips, ms, tables a name missed]
const p50 = (xs) => [...xs].sort((x, y) => x - y)[Math.floor((xs.length - 1) / 2)];
after(() => {
  if (summary.length) {
    console.log('\ninferred creates (informational): server, schema, tables with a foreign key created / total tables, rows made, cleanup p50 and most round trips');
    for (const [server, schema, fk, total, rows, ms, cleanup, trips] of summary) {
      console.log(`  ${server.padEnd(24)} ${schema.padEnd(16)} ${String(fk).padStart(4)} / ${String(total).padStart(3)} tables  ${String(rows).padStart(5)} rows  ${String(ms).padStart(6)} ms  cleanup p50 ${cleanup.toFixed(2)} ms, <= ${trips} round trips`);
    }
  }
  if (lanes.length) {
    console.log('\ntwo lanes over every table (informational): lane A by its tracker, lane C by cleanupPattern("test"), lane B beside both');
    for (const [server, schema, n, rowsA, tripsA, msA, namedC, rowsC, tripsC, msC, missed] of lanes) {
      const short = missed.length > 3 ? `${missed.slice(0, 2).join(', ')} and ${missed.length - 2} more` : missed.join(', ');
      console.log(
        `  ${server.padEnd(24)} ${schema.padEnd(16)} ${String(n).padStart(3)} tables  A: ${String(rowsA).padStart(5)} rows, ${tripsA} round trips, ${msA.toFixed(1)} ms  ` +
          `C: ${namedC}/${rowsC} rows by name, ${tripsC} round trips, ${msC.toFixed(1)} ms${missed.length ? ` (no name to find: ${short})` : ''}`,
      );
    }
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
          const cleanupMs = [];
          const trips = [];
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
            const { created, report } = await createAndClean({ db, factories, client, table, tables: description.tables, runId: RUN_ID });
            cleanupMs.push(report.durationMs);
            trips.push(report.roundTrips);
            rows += Object.values(created).reduce((a, b) => a + b, 0);
          }
          summary.push([kind.label, name, withFks.length - failed.length, description.tables.length, rows, Math.round(performance.now() - started), p50(cleanupMs), Math.max(...trips)]);
        });

        test('lanes across the whole table list: one cleanup takes lane A exactly, cleanupPattern("test") takes lane C by name, lane B survives both', async () => {
          // Left out: tables a session must make (above), and tables with neither a primary key
          // nor a foreign key (basejump.config): their rows cannot be tracked or found.
          const tables = description.tables.filter(
            (t) => !NEEDS_A_SESSION[t.name] && !(t.relations.length === 0 && t.primaryKey.length === 0),
          );
          assert.ok(tables.length >= 10, `${name}: ${tables.length} tables`);
          const build = async (worker) => {
            const ctx = lane(RUN_ID, worker);
            const tracker = pglane.ResourceTracker.forTest({}, ctx, db);
            const before = await rowCounts(client, description.tables);
            for (const t of tables) await factories.create(t.qualified, ctx, tracker);
            const made = countDiff(before, await rowCounts(client, description.tables));
            for (const t of tables) assert.ok(made[t.name] >= 1 || description.tables.some((p) => p.partitionOf === t.name), `${t.name} has a row`);
            return { ctx, tracker, made };
          };
          const start = await rowCounts(client, description.tables);
          const a = await build(8);
          const b = await build(9);

          // Lane A: the tracker's cleanup, one statement (verified in the same round trip or one more).
          const reportA = await new pglane.CleanupManager(db, a.tracker, { countDependents: true }).cleanup();
          assert.deepEqual(reportA.failures, []);
          assert.equal(reportA.verified, true);
          assert.ok(reportA.roundTrips <= 2, `${name}: lane A cleanup took ${reportA.roundTrips} round trips`);
          assert.deepEqual(byRoot(normalize(reportA.deleted), description.tables), byRoot(a.made, description.tables));
          assert.deepEqual(countDiff(start, await rowCounts(client, description.tables)), b.made, 'lane B is untouched');

          // Lane C: by name only (no tracker), as a sweep after a crash finds it, lane B beside it.
          const c = await build(10);
          const patternC = await new pglane.CleanupManager(db, pglane.ResourceTracker.forTest({}, c.ctx, db)).cleanupPattern('test', { allowUnmarked: true });
          assert.deepEqual(patternC.failures, []);
          assert.ok(patternC.roundTrips <= 2, `${name}: lane C pattern cleanup took ${patternC.roundTrips} round trips`);

          // Lane B survived both: its tracker's cleanup still deletes exactly what it made.
          const reportB = await new pglane.CleanupManager(db, b.tracker, { countDependents: true }).cleanup();
          assert.deepEqual(reportB.failures, []);
          assert.equal(reportB.verified, true);
          assert.ok(reportB.roundTrips <= 2);
          assert.deepEqual(byRoot(normalize(reportB.deleted), description.tables), byRoot(b.made, description.tables));

          // What no name could find: rows with no text column of their own and no parent in the lane.
          const missed = countDiff(start, await rowCounts(client, description.tables));
          for (const [t, n] of Object.entries(missed)) assert.ok(n > 0 && n <= c.made[t], `${t}: ${n} left of lane C's ${c.made[t]}`);
          const reportC = await new pglane.CleanupManager(db, c.tracker).cleanup();
          assert.deepEqual(reportC.failures, []);
          assert.equal(reportC.verified, true);
          assert.deepEqual(countDiff(start, await rowCounts(client, description.tables)), {}, 'nothing of any lane is left');
          const sum = (counts) => Object.values(counts).reduce((x, y) => x + y, 0);
          lanes.push([kind.label, name, tables.length, sum(a.made), reportA.roundTrips, reportA.durationMs, sum(c.made) - sum(missed), sum(c.made), patternC.roundTrips, patternC.durationMs, Object.keys(missed)]);
        });
      });
    }
  });
}
