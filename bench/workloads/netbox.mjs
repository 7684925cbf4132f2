// Workloads `netboxCleanup` and `netboxSweep` (issue 15): NetBox's 189 tables and demo data
// (../shared/realworld/netbox, loaded by __test__/realworld.mjs into a new database on the
// bench's server), and a typical test's lane in 14 of them (netbox-lane.mjs: 52 rows, the 5 top
// rows tracked, the rest made "through the UI"). pglane only:
// - `netboxCleanup`: `new CleanupManager(db, tracker).cleanup()` of the lane's tracked rows
//   (goal: p50 < 100 ms on the embedded server with its default settings);
// - `netboxSweep`: `cleanupPattern('test')` of the same lane, found by its names (goal: < 1 s).
// Each run checks that all 52 rows went, and at the end that a neighbouring lane and NetBox's own
// demo rows are untouched. With the embedded server, the tracked cleanup's statement is captured
// from the server log (as bench/explain.mjs does) and replayed with EXPLAIN (ANALYZE, SUMMARY)
// inside BEGIN ... ROLLBACK on an identical lane: planning vs execution on the server.
import { summarize } from '../common.mjs';
import { pglane } from '../pglane-impl.mjs';
import { connect, dropDatabase, loadRealworldSchema, realworldSkipReason } from '../../__test__/realworld.mjs';
import {
  allocateNetboxIds,
  insertNetboxLane,
  netboxContentTypes,
  netboxLaneRowsLeft,
  trackNetboxLane,
  NETBOX_LANE_ROWS,
  NETBOX_LANE_SHAPE,
  NETBOX_TRACKED_TABLES,
} from './netbox-lane.mjs';
import { captureServerLog, expect, fmt, interleaved, QUICK, serverLog, timed } from './harness.mjs';

const { WorkerContext, ResourceTracker, CleanupManager, Db } = pglane;

const ITER = QUICK ? { cleanup: [1, 5], sweep: [1, 3], explain: 5 } : { cleanup: [3, 40], sweep: [2, 15], explain: 30 };
const GOAL_CLEANUP_MS = 100;
const GOAL_SWEEP_MS = 1000;

class NetboxPglane {
  constructor(url, options = {}) {
    this.db = Db.connect(url, { poolSize: 2, applicationName: 'pglane-bench-a-netbox', ...options });
    this.extraStatements = 0;
    this.tests = 0;
    this.runId = pglane.generateRunId();
  }
  get roundTrips() {
    return this.db.roundTrips;
  }
  get statements() {
    return this.db.roundTrips + this.extraStatements;
  }
  lane() {
    const ctx = WorkerContext.create({ workerIndex: 6, testId: `netbox-${this.tests++}` }, { runId: this.runId });
    return { ctx, tracker: ResourceTracker.forTest({}, ctx, this.db) };
  }
  count(report) {
    this.extraStatements += report.statements - report.roundTrips;
    return report;
  }
  async cleanup({ tracker }) {
    return this.count(await new CleanupManager(this.db, tracker).cleanup());
  }
  async sweep({ tracker }) {
    // A NetBox database of its own, not marked as a test database: the sweep opts in.
    return this.count(await new CleanupManager(this.db, tracker).cleanupPattern('test', { allowUnmarked: true }));
  }
  close() {
    this.db.close();
  }
}

/** Rows of NetBox's 14 lane tables (the demo data plus any lanes), for the untouched check. */
async function tableRows(client) {
  const tables = Object.keys(NETBOX_LANE_SHAPE);
  const { rows } = await client.query(`select ${tables.map((t) => `(select count(*) from ${t})`).join(' + ')} as n`);
  return Number(rows[0].n);
}

export async function netboxWorkloads(url, admin, wanted) {
  const skipped = realworldSkipReason();
  if (skipped) {
    console.log(`\nNetBox workloads (netboxCleanup, netboxSweep): ${skipped}`);
    return [];
  }
  const t0 = performance.now();
  let netbox;
  try {
    netbox = await loadRealworldSchema('netbox', url, { database: 'bench_netbox' });
  } catch (err) {
    // E.g. DATABASE_URL of a role that may not create databases or roles.
    console.log(`\nNetBox workloads (netboxCleanup, netboxSweep): skipped: NetBox did not load on this server: ${err.message.split('\n')[0]}`);
    return [];
  }
  const loadMs = performance.now() - t0;
  const client = await connect(netbox.url);
  const a = new NetboxPglane(netbox.url);
  const out = [];
  try {
    const contentTypes = await netboxContentTypes(client);
    let octet = 0;
    const build = async (lane) => {
      const ids = await allocateNetboxIds(client);
      await insertNetboxLane(client, lane.ctx, ids, contentTypes, octet++ % 250);
      trackNetboxLane(lane.tracker, ids);
      return { lane, ids };
    };
    const check = async (what, { ids }, outcome) => {
      const r = outcome.value;
      expect(r.verified === true && r.failures.length === 0, `NetBox ${what} verified without failures: ${JSON.stringify(r.failures)}`);
      const left = await netboxLaneRowsLeft(client, ids);
      expect(left === 0, `NetBox ${what} left ${left} of the lane's ${NETBOX_LANE_ROWS} rows`);
      expect(r.totalDeleted >= NETBOX_LANE_ROWS, `NetBox ${what} deleted ${r.totalDeleted} rows, the lane has ${NETBOX_LANE_ROWS}`);
    };
    // A neighbouring lane (another test of the same run) that must survive every cleanup.
    const neighbour = await build(a.lane());
    const demoRows = (await tableRows(client)) - NETBOX_LANE_ROWS;
    const note = `NetBox ${NETBOX_LANE_ROWS}-row lane in ${Object.keys(NETBOX_LANE_SHAPE).length} tables, ${NETBOX_TRACKED_TABLES.length} tracked; 189 tables, 380 deferrable FKs; loaded in ${fmt(loadMs / 1000, 1)} s`;

    if (wanted('netboxCleanup')) {
      const results = await interleaved({
        keys: ['a'],
        warmup: ITER.cleanup[0],
        iterations: ITER.cleanup[1],
        prepare: () => build(a.lane()),
        measure: (_, { lane }) => timed(a, () => a.cleanup(lane)),
        check: (_, prepared, outcome) => check('tracked cleanup', prepared, outcome),
      });
      const extraLines = [];
      let explain = null;
      if (serverLog.available) {
        explain = await explainCleanup(netbox.url, client, a, build, ITER.explain).catch((err) => ({ error: err.message }));
        extraLines.push(
          explain.error
            ? `  planning vs execution: not measured (${explain.error})`
            : `  its statement on the server (${explain.chars} characters; EXPLAIN ANALYZE in BEGIN ... ROLLBACK, deferred FK checks included, p50 of ${explain.n}${
                explain.setLocal.length ? `, after ${explain.setLocal.join('; ')}` : ''
              }):\n    unnamed: planning ${fmt(explain.planningMs, 3)} ms, execution ${fmt(explain.executionMs, 3)} ms; ` +
                `prepared, generic plan: planning ${fmt(explain.generic.planningMs, 3)} ms, execution ${fmt(explain.generic.executionMs, 3)} ms`,
        );
      } else {
        extraLines.push('  planning vs execution: needs the embedded server (its log); not measured with DATABASE_URL');
      }
      out.push({
        id: 'netboxCleanup',
        title: 'NetBox: cleanup of a typical lane (5 tracked rows, 52 rows in 14 of 189 tables)',
        unit: 'ms',
        note,
        results,
        explain,
        extraLines,
        goals: [{ goal: `NetBox cleanup p50 < ${GOAL_CLEANUP_MS} ms`, target: GOAL_CLEANUP_MS, measured: results.a.p50, met: results.a.p50 < GOAL_CLEANUP_MS, unit: 'ms' }],
      });
    }
    if (wanted('netboxSweep')) {
      const results = await interleaved({
        keys: ['a'],
        warmup: ITER.sweep[0],
        iterations: ITER.sweep[1],
        prepare: () => build(a.lane()),
        measure: (_, { lane }) => timed(a, () => a.sweep(lane)),
        check: (_, prepared, outcome) => check("cleanupPattern('test')", prepared, outcome),
      });
      out.push({
        id: 'netboxSweep',
        title: "NetBox: cleanupPattern('test') of the same lane (found by its names in every text column)",
        unit: 'ms',
        note,
        results,
        goals: [{ goal: `NetBox pattern sweep p50 < ${GOAL_SWEEP_MS} ms`, target: GOAL_SWEEP_MS, measured: results.a.p50, met: results.a.p50 < GOAL_SWEEP_MS, unit: 'ms' }],
      });
    }
    // Nothing else went: the neighbouring lane and NetBox's demo rows.
    expect((await netboxLaneRowsLeft(client, neighbour.ids)) === NETBOX_LANE_ROWS, 'NetBox: the neighbouring lane survived');
    expect((await tableRows(client)) - NETBOX_LANE_ROWS === demoRows, 'NetBox: the demo data is untouched');
    await a.cleanup(neighbour.lane);
  } finally {
    a.close();
    await client.end();
    await dropDatabase(url, netbox.database).catch(() => {});
  }
  return out;
}

/**
 * Captures the statement of one tracked cleanup from the server log (a handle with unnamed
 * statements, so the log shows its text and parameters), writes the same lane again (same keys,
 * same names) and runs the statement under EXPLAIN (ANALYZE, SUMMARY) inside BEGIN ... ROLLBACK,
 * after the `set local` pglane sent before it in its transaction.
 */
async function explainCleanup(netboxUrl, client, a, build, n) {
  const appName = 'pglane-bench-netbox-capture';
  const database = client.database;
  const q = (s) => `"${s.replace(/"/g, '""')}"`;
  await client.query(`alter database ${q(database)} set log_min_duration_statement = 0`);
  const capture = Db.connect(netboxUrl, { poolSize: 1, applicationName: appName, prepare: 'off' });
  let lane;
  let lines;
  try {
    const captureLane = (testId) => {
      const ctx = WorkerContext.create({ workerIndex: 7, testId }, { runId: a.runId });
      return build({ ctx, tracker: ResourceTracker.forTest({}, ctx, capture) });
    };
    // A first cleanup reads the catalog; the second is the one captured.
    const warm = await captureLane('capture-0');
    await new CleanupManager(capture, warm.lane.tracker).cleanup();
    lane = await captureLane('capture-1');
    lines = await captureServerLog(() => new CleanupManager(capture, lane.lane.tracker).cleanup());
  } finally {
    capture.close();
    await client.query(`alter database ${q(database)} reset log_min_duration_statement`);
  }
  // One entry per log line of our session; continuation lines (a tab first) join the entry before.
  const entries = [];
  for (const line of lines.join('\n').split('\n')) {
    if (line.startsWith('\t') && entries.length) entries[entries.length - 1] += `\n${line.slice(1)}`;
    else entries.push(line);
  }
  const ours = entries.filter((e) => e.startsWith(`${appName}|`));
  const at = ours.findIndex((e) => /execute <unnamed>: [\s\S]*delete from/i.test(e));
  if (at < 0) throw new Error('the cleanup statement was not in the server log');
  const text = /execute <unnamed>: ([\s\S]*)$/.exec(ours[at])[1];
  const detail = ours.slice(at + 1, at + 3).find((e) => /DETAIL:\s+Parameters:/.test(e)) ?? '';
  const params = [...detail.matchAll(/\$(\d+) = (?:'((?:[^']|'')*)'|NULL)/g)].map((m) => (m[2] === undefined ? null : m[2].replace(/''/g, "'")));
  // `set local ...` pglane sent in the same transaction before the statement.
  const setLocal = [];
  for (let i = at - 1; i >= 0; i--) {
    const m = /(?:statement|execute <unnamed>): (set local [^\n]*)$/i.exec(ours[i]);
    if (m) setLocal.unshift(m[1].trim());
    if (/(?:statement|execute <unnamed>): begin/i.test(ours[i])) break;
  }
  // The same lane again, then the statement, rolled back each time.
  await insertNetboxLane(client, lane.lane.ctx, lane.ids, await netboxContentTypes(client), 251);
  const explainRuns = async (explain, values) => {
    const planning = [];
    const execution = [];
    for (let i = 0; i < n + 2; i++) {
      await client.query('begin');
      try {
        for (const s of setLocal) await client.query(s);
        // NetBox's foreign keys are all deferred: their checks would run at COMMIT, which a
        // rollback skips. Checked at the statement's end instead, they count in its execution.
        await client.query('set constraints all immediate');
        const { rows } = await client.query({ text: `explain (analyze, summary, format json) ${explain}`, values });
        const plan = rows[0]['QUERY PLAN'][0];
        if (i >= 2) {
          planning.push(plan['Planning Time']);
          execution.push(plan['Execution Time']);
        }
      } finally {
        await client.query('rollback');
      }
    }
    return { planningMs: summarize(planning).p50, executionMs: summarize(execution).p50 };
  };
  // As sent (unnamed: planned for its parameters each time), then prepared with the generic
  // plan pglane's prepared statements use (plan_cache_mode = force_generic_plan).
  const unnamed = await explainRuns(text, params);
  await client.query(`prepare bench_netbox_cleanup as ${text}`);
  await client.query('set plan_cache_mode = force_generic_plan');
  let generic;
  try {
    const literals = params.map((v) => (v === null ? 'null' : client.escapeLiteral(v))).join(', ');
    generic = await explainRuns(`execute bench_netbox_cleanup(${literals})`, []);
  } finally {
    await client.query('deallocate bench_netbox_cleanup');
    await client.query('reset plan_cache_mode');
  }
  // The replayed lane is still there (rolled back each time): pglane deletes it.
  const tracker = ResourceTracker.forTest({}, lane.lane.ctx, a.db);
  trackNetboxLane(tracker, lane.ids);
  await new CleanupManager(a.db, tracker).cleanup();
  return {
    n,
    planningMs: unnamed.planningMs,
    executionMs: unnamed.executionMs,
    generic,
    chars: text.length,
    parameters: params.length,
    setLocal,
  };
}
