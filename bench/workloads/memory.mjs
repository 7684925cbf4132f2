// Workload `memory` (issue 20): what a worker process's memory gains from pglane. A child
// process (memory-child.mjs, so nothing of the benchmark's own process counts) reports its RSS
// after loading pglane, after connecting (the runtime and pool), and after 1,000 tests of "a lane,
// one tracked row, its cleanup"; the same child with `pg` and hand-written statements gives the
// comparison. The growth between test 100 and the last test shows whether anything accumulates.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { BENCH_DIR, fmt, pad, QUICK } from './harness.mjs';

const TESTS = Number(process.env.BENCH_MEMORY_TESTS ?? (QUICK ? 300 : 1000));
const MiB = 2 ** 20;

function runChild(impl, url) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', join(BENCH_DIR, 'workloads', 'memory-child.mjs'), impl, String(TESTS)], {
      env: { ...process.env, DATABASE_URL: url },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`memory-child.mjs ${impl} failed (exit ${code}): ${stderr.slice(-2000)}`));
      resolve(JSON.parse(stdout.trim().split('\n').pop()));
    });
  });
}

export async function memoryWorkload(url) {
  const runs = {};
  for (const impl of ['pglane', 'pg']) runs[impl] = await runChild(impl, url);
  const row = (label, r) => {
    const first = r.checkpoints[Math.min(100, TESTS)];
    const last = r.checkpoints[TESTS];
    return `${label.padEnd(22)}${pad(fmt((r.loaded.rss - r.start.rss) / MiB, 1), 10)}${pad(fmt((r.connected.rss - r.loaded.rss) / MiB, 1), 10)}${pad(
      fmt((last.rss - r.start.rss) / MiB, 1),
      14,
    )}${pad(fmt((last.rss - first.rss) / MiB, 1), 16)}${pad(fmt((last.heapUsed - first.heapUsed) / MiB, 2), 14)}${pad(fmt(r.ms / TESTS, 2), 10)}`;
  };
  const a = runs.pglane;
  const gained = a.checkpoints[TESTS].rss - a.start.rss;
  return {
    id: 'memory',
    title: `memory of a worker process: RSS gained from loading pglane and running ${TESTS.toLocaleString('en-US')} tests (MiB)`,
    unit: 'MiB',
    note: 'a child process each; lane + one tracked row + cleanup per test; RSS after full GCs',
    results: {},
    memory: { tests: TESTS, runs, gainedMiB: gained / MiB },
    extraLines: [
      `${''.padEnd(22)}${pad('load', 10)}${pad('connect', 10)}${pad(`+${TESTS} tests`, 14)}${pad(`test 100-${TESTS}`, 16)}${pad('heap 100-end', 14)}${pad('ms/test', 10)}`,
      row('(a) pglane', a),
      row('pg, for comparison', runs.pg),
      `  (+${TESTS} tests: RSS after the last test minus RSS at start; node itself started at ${fmt(a.start.rss / MiB, 1)} MiB)`,
    ],
  };
}
