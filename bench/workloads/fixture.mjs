// Workload `fixture` (issue 20): what pglane's `lane` fixture itself costs a Playwright test.
// One real `playwright test` run (fixture/: pglane's config wrapper and global setup against the
// bench's server, 2 workers, no browser) of three empty tests, each many times in turn: without
// a lane, with `lane`, and with `lane` plus one row a factory makes (tracked,
// deleted by the lane's cleanup). Each test is timed from before its first fixture is set up to
// after its last is torn down; the p50 deltas against the test without a lane are the fixture's
// cost per test.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { summarize } from '../common.mjs';
import { BENCH_DIR, fmt, pad, QUICK, ROOT } from './harness.mjs';

const require = createRequire(import.meta.url);
const REPEAT = Number(process.env.BENCH_FIXTURE_REPEAT ?? (QUICK ? 20 : 200));
const WORKERS = 2;
const KINDS = [
  ['no lane', 'empty test, no pglane fixture'],
  ['lane', 'empty test with `lane`'],
  ['lane + one tracked row', '`lane` + one factory row'],
];

export async function fixtureWorkload(url) {
  const out = mkdtempSync(join(tmpdir(), 'pglane-bench-fixture-'));
  try {
    const cli = require.resolve('@playwright/test/cli');
    const args = [cli, 'test', '-c', join(BENCH_DIR, 'workloads', 'fixture', 'playwright.config.ts')];
    const t0 = performance.now();
    const { code, output } = await new Promise((resolve, reject) => {
      const child = spawn(process.execPath, args, {
        cwd: ROOT,
        env: { ...process.env, DATABASE_URL: url, BENCH_FIXTURE_OUT: out, BENCH_FIXTURE_WORKERS: String(WORKERS), BENCH_FIXTURE_REPEAT: String(REPEAT), CI: '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (d) => (output += d));
      child.stderr.on('data', (d) => (output += d));
      child.on('error', reject);
      child.on('exit', (c) => resolve({ code: c, output }));
    });
    const wallMs = performance.now() - t0;
    if (code !== 0) throw new Error(`the fixture workload's playwright run failed (exit ${code}):\n${output.slice(-3000)}`);
    const byTitle = new Map(KINDS.map(([title]) => [title, []]));
    for (const file of readdirSync(out).filter((f) => /^worker-\d+\.json$/.test(f))) {
      for (const [title, ms] of JSON.parse(readFileSync(join(out, file), 'utf8'))) byTitle.get(title.replace(/ #\d+$/, ''))?.push(ms);
    }
    const stats = Object.fromEntries(KINDS.map(([title]) => [title, summarize(byTitle.get(title))]));
    for (const [title] of KINDS) {
      if (stats[title].n < REPEAT) throw new Error(`the fixture workload timed ${stats[title].n} of ${REPEAT} "${title}" tests`);
    }
    const base = stats['no lane'];
    const summaryLine = /cleanup\s+p50 [^\n]*/.exec(output)?.[0];
    const lines = [
      `${''.padEnd(34)}${pad('p50 ms', 10)}${pad('p95 ms', 10)}${pad('p50 delta', 12)}`,
      ...KINDS.map(([title, label]) => {
        const s = stats[title];
        return `${label.padEnd(34)}${pad(fmt(s.p50, 3), 10)}${pad(fmt(s.p95, 3), 10)}${pad(title === 'no lane' ? '' : `+${fmt(s.p50 - base.p50, 3)}`, 12)}`;
      }),
      `  the run: ${3 * REPEAT} tests on ${WORKERS} workers in ${fmt(wallMs / 1000, 1)} s (Playwright's start and pglane's global setup included)${
        summaryLine ? `; pglane's summary: ${summaryLine.trim()}` : ''
      }`,
    ];
    return {
      id: 'fixture',
      title: "the `lane` fixture's own cost: empty Playwright tests (ms per test, fixtures included)",
      unit: 'ms',
      note: `${REPEAT} of each, real Playwright, ${WORKERS} workers`,
      results: {},
      fixture: {
        noLane: stats['no lane'],
        lane: stats.lane,
        laneWithRow: stats['lane + one tracked row'],
        laneDeltaP50: stats.lane.p50 - base.p50,
        rowDeltaP50: stats['lane + one tracked row'].p50 - base.p50,
        wallMs,
      },
      extraLines: lines,
    };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}
