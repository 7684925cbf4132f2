// Workload `hosted` (issue 20): a hosted database seen from a CI runner. Every round trip costs
// BENCH_HOSTED_RTT_MS (default 20) through bench/latency-proxy.mjs, and BENCH_HOSTED_WORKERS
// (default 10) worker processes (bench/worker.mjs, as in `fleet`) each run tests of "complete
// setup, then cleanup" at once, one implementation at a time. What each implementation adds to
// every test is its setup + cleanup time; the floor is two round trips.
import { join } from 'node:path';
import { pg, summarize } from '../common.mjs';
import { BENCH_DIR, fmt, forkProcesses, LABEL, pad, pollConnections, QUICK, startLatencyProxy } from './harness.mjs';

const RTT_MS = Number(process.env.BENCH_HOSTED_RTT_MS ?? 20);
const WORKERS = Number(process.env.BENCH_HOSTED_WORKERS ?? 10);
// Tests per worker per round: (b) sends ~32 round trips per test (~0.7 s at 20 ms).
const ITER = QUICK ? { warmLoops: 1, rounds: 1, loops: 2 } : { warmLoops: 2, rounds: 2, loops: 10 };
const KEYS = ['a', 'b', 'c'];
const ORDERS = [['a', 'b', 'c'], ['b', 'c', 'a'], ['c', 'a', 'b']];

export async function hostedWorkload(url, admin) {
  if (!(RTT_MS > 0)) {
    console.log('\nhosted: skipped (BENCH_HOSTED_RTT_MS=0)');
    return [];
  }
  const proxy = await startLatencyProxy(url, RTT_MS);
  const procs = forkProcesses(join(BENCH_DIR, 'worker.mjs'), WORKERS);
  try {
    // Worker ids 20.. keep these lanes apart from the fleet workload's.
    await Promise.all(Array.from({ length: WORKERS }, (_, w) => procs.ask(w, { cmd: 'init', url: proxy.url, worker: 20 + w })));
    // The round trip as measured: `select 1` through the proxy (once the workers are idle).
    const probe = new pg.Client({ connectionString: proxy.url, application_name: 'pglane-bench-hosted-probe' });
    await probe.connect();
    const rtts = [];
    for (let i = 0; i < 12; i++) {
      const t0 = performance.now();
      await probe.query('select 1');
      if (i >= 2) rtts.push(performance.now() - t0);
    }
    await probe.end();
    const rtt = summarize(rtts).p50;
    const runRound = async (impl, loops) => {
      const poll = pollConnections(admin, `pglane-bench-${impl}-w2%`, 50);
      const t0 = performance.now();
      const replies = await Promise.all(Array.from({ length: WORKERS }, (_, w) => procs.ask(w, { cmd: 'run', impl, loops })));
      const wall = performance.now() - t0;
      const seen = await poll.stop();
      return { wall, replies, seen };
    };
    for (const k of KEYS) await runRound(k, ITER.warmLoops);
    const agg = Object.fromEntries(KEYS.map((k) => [k, { loop: [], setup: [], cleanup: [], rt: [], st: [], wall: 0, tests: 0, maxConn: 0 }]));
    for (let r = 0; r < ITER.rounds; r++) {
      for (const k of ORDERS[r % ORDERS.length]) {
        const { wall, replies, seen } = await runRound(k, ITER.loops);
        const a = agg[k];
        for (const rep of replies) {
          for (const [loop, setup, cleanup, rt, st] of rep.samples) {
            a.loop.push(loop);
            a.setup.push(setup);
            a.cleanup.push(cleanup);
            a.rt.push(rt);
            a.st.push(st);
          }
        }
        for (const n of seen.peakByApp.values()) a.maxConn = Math.max(a.maxConn, n);
        a.wall += wall;
        a.tests += WORKERS * ITER.loops;
      }
    }
    const results = {};
    for (const k of KEYS) {
      const a = agg[k];
      results[k] = {
        ...summarize(a.loop),
        roundTrips: summarize(a.rt).p50,
        statements: summarize(a.st).p50,
        setupP50: summarize(a.setup).p50,
        cleanupP50: summarize(a.cleanup).p50,
        overFloorP50: summarize(a.loop).p50 - 2 * rtt,
        testsPerSecond: a.tests / (a.wall / 1000),
        connectionsPerProcess: a.maxConn,
      };
    }
    // What a 1,000-test suite on WORKERS workers spends in test data: tests / workers x per test.
    const suite = (k) => (1000 / WORKERS) * (results[k].p50 / 1000);
    const extraLines = [
      `${''.padEnd(22)}${pad('setup p50', 11)}${pad('cleanup p50', 13)}${pad('over 2 RTT', 12)}${pad('tests/s', 10)}${pad('1,000 tests', 13)}`,
      ...KEYS.map(
        (k) =>
          `${LABEL[k].padEnd(22)}${pad(fmt(results[k].setupP50, 1), 11)}${pad(fmt(results[k].cleanupP50, 1), 13)}${pad(fmt(results[k].overFloorP50, 1), 12)}${pad(
            fmt(results[k].testsPerSecond, 1),
            10,
          )}${pad(`${fmt(suite(k), 1)} s`, 13)}`,
      ),
      `${''.padEnd(22)}(1,000 tests: the time a suite of 1,000 tests on ${WORKERS} workers spends in setup + cleanup, p50 per test)`,
    ];
    return {
      id: 'hosted',
      title: `hosted database: ${RTT_MS} ms per round trip, ${WORKERS} worker processes, setup + cleanup per test (ms per test)`,
      unit: 'ms',
      note: `${ITER.rounds} rounds x ${WORKERS} workers x ${ITER.loops} tests; measured select 1: ${fmt(rtt)} ms`,
      measuredRttMs: rtt,
      results,
      extraLines,
    };
  } finally {
    await procs.stop();
    proxy.stop();
  }
}
