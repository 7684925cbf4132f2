// Workload `connections` (issue 20; DESIGN.md: "50 workers must fit in Postgres' default
// max_connections = 100"): BENCH_CONN_PROCESSES (default 50) processes at once, each with
// pglane's default pool (connections-child.mjs), against the bench's server. The peak of
// pglane's connections and of all client connections comes from polling pg_stat_activity; every
// process reports its own failures. Two phases: one operation at a time per process (a
// Playwright worker running its tests), then two rows made at once in each test.
import { join } from 'node:path';
import { pglane } from '../pglane-impl.mjs';
import { BENCH_DIR, forkProcesses, pollConnections, QUICK } from './harness.mjs';

const PROCESSES = Number(process.env.BENCH_CONN_PROCESSES ?? 50);
const TESTS = QUICK ? 3 : 20;

export async function connectionsWorkload(url, admin) {
  const maxConnections = Number((await admin.query('show max_connections')).rows[0].max_connections);
  const reserved = Number((await admin.query('show superuser_reserved_connections')).rows[0].superuser_reserved_connections);
  const superuser = (await admin.query('select rolsuper from pg_roles where rolname = current_user')).rows[0].rolsuper;
  const procs = forkProcesses(join(BENCH_DIR, 'workloads', 'connections-child.mjs'), PROCESSES);
  const runId = pglane.generateRunId();
  const phases = {};
  try {
    const t0 = performance.now();
    const inits = await Promise.allSettled(Array.from({ length: PROCESSES }, (_, i) => procs.ask(i, { cmd: 'init', url, index: i, runId })));
    const initFailures = inits.filter((r) => r.status === 'rejected').map((r) => r.reason.message);
    const startMs = performance.now() - t0;
    for (const phase of ['sequential', 'concurrent']) {
      const poll = pollConnections(admin, 'pglane-bench-conn-%', 10);
      const t1 = performance.now();
      const replies = await Promise.allSettled(
        Array.from({ length: PROCESSES }, (_, i) => (inits[i].status === 'fulfilled' ? procs.ask(i, { cmd: 'run', phase, tests: TESTS }) : Promise.reject(new Error('did not start')))),
      );
      const ms = performance.now() - t1;
      const seen = await poll.stop();
      const failed = replies.filter((r) => r.status === 'rejected' || r.value.errors.length > 0);
      const errors = replies.flatMap((r) => (r.status === 'rejected' ? [r.reason.message] : r.value.errors));
      phases[phase] = {
        ms,
        peakPglane: seen.peakTotal,
        peakServer: seen.peakServer,
        peakPerProcess: Math.max(0, ...seen.peakByApp.values()),
        maxOpenReported: Math.max(0, ...replies.filter((r) => r.status === 'fulfilled').map((r) => r.value.maxOpen)),
        processesFailed: failed.length,
        errors: [...new Set(errors)].slice(0, 5),
        polls: seen.polls,
      };
    }
    const seq = phases.sequential;
    const conc = phases.concurrent;
    const line = (name, p) =>
      `  ${name.padEnd(12)} peak ${String(p.peakPglane).padStart(3)} pglane connections (${p.peakPerProcess} per process at most; all client connections ${p.peakServer}), ` +
      `${p.processesFailed} of ${PROCESSES} processes had errors${p.errors.length ? `: ${p.errors.join(' | ')}` : ''} (${(p.ms / 1000).toFixed(1)} s)`;
    return {
      id: 'connections',
      title: `${PROCESSES} worker processes, pglane's default pool each, max_connections = ${maxConnections}`,
      unit: 'connections',
      note: `${TESTS} tests per process per phase; started in ${(startMs / 1000).toFixed(1)} s${initFailures.length ? `; ${initFailures.length} failed to start` : ''}`,
      results: {},
      connections: { processes: PROCESSES, maxConnections, superuserReserved: reserved, superuser, initFailures, phases },
      extraLines: [
        line('sequential', seq),
        line('concurrent', conc),
        `  (the bench's own connection counts among all client connections; ${superuser ? 'a superuser may use' : 'other roles may not use'} the ${reserved} reserved slots)`,
      ],
      goals: [
        {
          goal: `${PROCESSES} processes fit in max_connections (one at a time)`,
          target: maxConnections,
          measured: seq.peakServer,
          met: seq.processesFailed === 0 && initFailures.length === 0 && seq.peakServer <= maxConnections,
          unit: 'connections',
        },
        {
          goal: '  (same, two operations at once in every test)',
          target: maxConnections,
          measured: conc.peakServer,
          met: conc.processesFailed === 0 && conc.peakServer <= maxConnections,
          unit: 'connections',
        },
      ],
    };
  } finally {
    await procs.stop();
  }
}
