// `npm run bench`: the same workloads, in one run, on one PostgreSQL, through
//   (a) pglane, (b) the reference system's algorithm in JS with `pg`, (c) the best JS with `pg`,
// interleaved (a b c / b c a / c a b ...) so machine noise hits all three alike. Prints p50/p95,
// round trips, statements and the ratios b/a and c/a per workload, checks the goals of issue 8,
// and writes bench/results/<timestamp>.json and bench/results/latest.json.
//
// Environment: DATABASE_URL (else an embedded PostgreSQL is started), BENCH_QUICK=1 (few
// iterations, a smoke test), BENCH_ONLY=setup,cleanup,cleanup1000,sweep,fleet,latency,name,chain
// (a subset; `chain` is the inferred-factories workload), BENCH_RTT_MS (simulated network round trip of the latency section, default 2;
// 0 skips it), BENCH_WORKERS (default 10), BENCH_FK_INDEXES=1 (an experiment: index the four
// foreign-key columns examples/schema.sql leaves unindexed).
import { fork, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
// The workloads of bench/workloads/ (issues 15 and 20, BENCH_ONLY=shop,hosted,fixture,memory,
// connections,netbox; bench/README.md lists their variables).
import { EXTRA_WORKLOADS, extraGoals } from './workloads/index.mjs';
import { expect, interleaved, onServerLog, serverLog } from './workloads/harness.mjs';
import { chatHistoryRows, insertChatHistory, insertLeakedRun, laneRowsLeft, pg, summarize, vacuum, APP_TABLES } from './common.mjs';
import { PglaneImpl, pglane } from './pglane-impl.mjs';
import { ReferenceImpl } from './baseline-reference.mjs';
import { BestImpl } from './baseline-best.mjs';
import { insertCompleteSetup, remainingRows } from '../__test__/reference.mjs';
import { CHAIN_SCHEMA, LEVELS, chainImpls } from './chain.mjs';

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');

const QUICK = process.env.BENCH_QUICK === '1';
const ONLY = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(',').map((s) => s.trim())) : null;
const RTT_MS = Number(process.env.BENCH_RTT_MS ?? 2);
const WORKERS = Number(process.env.BENCH_WORKERS ?? 10);
const FK_INDEXES = process.env.BENCH_FK_INDEXES === '1';
const wanted = (id) => !ONLY || ONLY.has(id);

// Iterations per implementation (after `warmup` unmeasured ones). Chosen so the whole run takes
// a few minutes on a 2-core machine and the medians move by a few percent between runs.
const ITER = QUICK
  ? { setup: [3, 10], cleanup: [3, 10], cleanup1000: [1, 4], sweep: [1, 3], fleetRounds: 1, fleetLoops: 4, latency: [2, 5], nameBatches: 4, chain: [3, 10] }
  : { setup: [20, 200], cleanup: [20, 200], cleanup1000: [4, 40], sweep: [2, 12], fleetRounds: 3, fleetLoops: 25, latency: [5, 30], nameBatches: 20, chain: [20, 200] };

const KEYS = ['a', 'b', 'c'];
const LABEL = { a: '(a) pglane', b: '(b) reference (pg)', c: '(c) best pg' };
const ORDERS = [['a', 'b', 'c'], ['b', 'c', 'a'], ['c', 'a', 'b']];

// --- The addon must be a release build ---------------------------------------------------------

/** Whether an ELF shared object has a `.debug_info` section (a debug build). */
function hasDebugInfo(path) {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(64);
    readSync(fd, head, 0, 64, 0);
    if (head.readUInt32BE(0) !== 0x7f454c46 || head[4] !== 2) return null;
    const shoff = Number(head.readBigUInt64LE(0x28));
    const shentsize = head.readUInt16LE(0x3a);
    const shnum = head.readUInt16LE(0x3c);
    const shstrndx = head.readUInt16LE(0x3e);
    const table = Buffer.alloc(shentsize * shnum);
    readSync(fd, table, 0, table.length, shoff);
    const strOff = Number(table.readBigUInt64LE(shstrndx * shentsize + 0x18));
    const strSize = Number(table.readBigUInt64LE(shstrndx * shentsize + 0x20));
    const names = Buffer.alloc(strSize);
    readSync(fd, names, 0, strSize, strOff);
    for (let i = 0; i < shnum; i++) {
      const at = table.readUInt32LE(i * shentsize);
      const name = names.toString('latin1', at, names.indexOf(0, at));
      if (name === '.debug_info') return true;
    }
    return false;
  } finally {
    closeSync(fd);
  }
}

function addonInfo() {
  const file = readdirSync(root).find((f) => /^pglane\..*\.node$/.test(f));
  if (!file) return { file: null, build: 'package' };
  let debug = null;
  try {
    debug = hasDebugInfo(join(root, file));
  } catch {
    /* not ELF */
  }
  return { file, build: debug === null ? 'unknown' : debug ? 'debug' : 'release', mtimeMs: statSync(join(root, file)).mtimeMs };
}

// --- Output ---------------------------------------------------------------------------------

const fmt = (v, digits = 2) => (Number.isFinite(v) ? v.toFixed(digits) : '-');
const pad = (s, n) => String(s).padStart(n);

function printWorkload(w) {
  // Workloads without implementations to compare (bench/workloads/) print their own lines.
  const keys = KEYS.filter((key) => w.results[key]);
  const n = w.results[keys[0]]?.n;
  console.log(`\n${w.title}   [${n === undefined ? '' : `n=${n} per implementation`}${n !== undefined && w.note ? '; ' : ''}${w.note ?? ''}]`);
  const unit = w.unit;
  if (keys.length) {
    console.log(
      `${''.padEnd(22)}${pad(`p50 ${unit}`, 11)}${pad(`p95 ${unit}`, 11)}${pad('round trips', 13)}${pad('statements', 12)}${pad('ratio (p50)', 13)}`,
    );
  }
  for (const k of keys) {
    const r = w.results[k];
    const ratio = k === 'a' || !w.results.a ? '' : `${k}/a ${fmt(r.p50 / w.results.a.p50, 2)}x`;
    console.log(
      `${(w.labels?.[k] ?? LABEL[k]).padEnd(22)}${pad(fmt(r.p50, unit === 'ns' ? 0 : 3), 11)}${pad(fmt(r.p95, unit === 'ns' ? 0 : 3), 11)}${pad(fmt(r.roundTrips, 0), 13)}${pad(fmt(r.statements, 0), 12)}${pad(ratio, 13)}`,
    );
  }
  for (const line of w.extraLines ?? []) console.log(line);
}

// --- Running interleaved: `interleaved` (workloads/harness.mjs) ---------------------------------

/** Times `fn` on implementation `impl`, with its round-trip and statement counters. */
async function timed(impl, fn) {
  const rt0 = impl.roundTrips;
  const st0 = impl.statements;
  const t0 = performance.now();
  const value = await fn();
  const ms = performance.now() - t0;
  return { ms, roundTrips: impl.roundTrips - rt0, statements: impl.statements - st0, value };
}

// --- Workloads ---------------------------------------------------------------------------------

async function completeSetupWorkload(impls, runIds, [warmup, iterations], title = 'complete setup (createWorkerScopedCompleteSetup: 10 rows)', id = 'setup') {
  const results = await interleaved({
    warmup,
    iterations,
    prepare: async (k) => impls[k].lane(runIds[k], 0),
    measure: (k, lane) => timed(impls[k], () => impls[k].completeSetup(lane)),
    check: async (k, lane, out) => {
      const s = out.value;
      for (const key of ['user', 'organization', 'membership', 'group', 'groupMember', 'model', 'groupModel', 'invite']) {
        expect(s?.[key]?.id, `${k}: setup has no ${key}`);
      }
      expect(s.user.identity?.id && s.user.profile?.id, `${k}: setup has no identity/profile`);
      expect(/^\$2[ab]\$04\$/.test(s.user.encrypted_password), `${k}: bcrypt cost 4 hash`);
      const report = await impls[k].cleanup(lane); // untimed
      expect(report.verified, `${k}: cleanup after setup verified`);
    },
  });
  return { id, title, unit: 'ms', results };
}

async function typicalCleanupWorkload(impls, runIds, admin, [warmup, iterations], title = 'cleanup of a typical test (11 kinds tracked)', id = 'cleanup') {
  const results = await interleaved({
    warmup,
    iterations,
    prepare: async (k) => {
      const lane = impls[k].lane(runIds[k], 1);
      const ids = await insertCompleteSetup(admin, lane.ctx);
      impls[k].trackCompleteSetup(lane, ids);
      return { lane, ids };
    },
    measure: (k, { lane }) => timed(impls[k], () => impls[k].cleanup(lane)),
    check: async (k, { ids }, out) => {
      expect(out.value.verified === true, `${k}: typical cleanup verified`);
      const left = Object.entries(await remainingRows(admin, ids)).filter(([, n]) => n > 0);
      expect(left.length === 0, `${k}: typical cleanup left ${JSON.stringify(left)}`);
    },
  });
  return { id, title, unit: 'ms', results };
}

async function cleanup1000Workload(impls, runIds, admin, [warmup, iterations]) {
  const results = await interleaved({
    warmup,
    iterations,
    prepare: async (k) => {
      const lane = impls[k].lane(runIds[k], 2);
      const ids = await insertChatHistory(admin, lane.ctx);
      const rows = chatHistoryRows(ids);
      impls[k].trackRows(lane, rows);
      return { lane, ids, rows };
    },
    measure: (k, { lane }) => timed(impls[k], () => impls[k].cleanup(lane)),
    check: async (k, { ids }, out) => {
      expect(out.value.verified === true, `${k}: 1,000-row cleanup verified`);
      const { rows } = await admin.query(
        `select (select count(*) from public.messages where conversation_id = any($1::uuid[]))
              + (select count(*) from public.conversations where id = any($1::uuid[]))
              + (select count(*) from auth.users where id = $2) + (select count(*) from public.organizations where id = $3) as n`,
        [ids.conversations, ids.user, ids.org],
      );
      expect(Number(rows[0].n) === 0, `${k}: 1,000-row cleanup left ${rows[0].n} rows`);
    },
  });
  return { id: 'cleanup1000', title: 'cleanup of 1,000 tracked rows (user, org, 10 conversations, 986 messages)', unit: 'ms', results };
}

async function sweepWorkload(impls, runIds, admin, [warmup, iterations]) {
  const results = await interleaved({
    warmup,
    iterations,
    prepare: async (k) => {
      await vacuum(admin);
      // The crashed run's lane, swept by a tracker of that run: a pattern cleanup deletes its
      // own run's lanes only.
      const leak = await insertLeakedRun(admin, pglane.generateRunId());
      await admin.query(`analyze ${APP_TABLES.join(', ')}`);
      return { leak, lane: impls[k].lane(leak.runId, 3) };
    },
    measure: (k, { leak, lane }) => timed(impls[k], () => impls[k].cleanupPattern(leak.pattern, lane)),
    check: async (k, { leak }, out) => {
      expect(out.value.verified === true, `${k}: sweep verified`);
      const left = await laneRowsLeft(admin, leak.pattern);
      expect(left === 0, `${k}: sweep left ${left} lane rows`);
    },
  });
  return { id: 'sweep', title: 'pattern sweep of 10,000 leaked rows (one run lane, 10 tables)', unit: 'ms', results };
}

/** 1,000,000 ctx.name() calls per implementation, in interleaved batches. */
function nameWorkload(impls, runIds, batches) {
  const BATCH = 50_000;
  const lanes = Object.fromEntries(KEYS.map((k) => [k, impls[k].lane(runIds[k], 4)]));
  // Eight different bases (nothing loop-invariant to hoist), and a character read from the end
  // of every name, which makes V8 flatten the concatenation as any real use of the name would.
  const BASES = ['Org', 'Group', 'Model', 'Chat', 'Invite', 'User', 'Team', 'Project'];
  const run = (ctx) => {
    let n = 0;
    for (let i = 0; i < BATCH; i++) {
      const s = ctx.name(BASES[i & 7]);
      n += s.charCodeAt(s.length - 2);
    }
    return n;
  };
  // One copy of the loop per implementation, so each call site stays monomorphic.
  const fns = {
    a: new Function('BATCH', 'BASES', `return ${run.toString()}`)(BATCH, BASES).bind(null, lanes.a.ctx),
    b: new Function('BATCH', 'BASES', `return ${run.toString()}`)(BATCH, BASES).bind(null, lanes.b.ctx),
    c: new Function('BATCH', 'BASES', `return ${run.toString()}`)(BATCH, BASES).bind(null, lanes.c.ctx),
  };
  // The same name from all three: `{run}-w{worker}-{test}-Org`.
  for (const k of KEYS) {
    const { ctx } = lanes[k];
    expect(ctx.name('Org') === `${runIds[k]}-w4-${ctx.testIndex}-Org`, `${k}: ctx.name() gives ${ctx.name('Org')}`);
  }
  let sink = 0;
  for (let w = 0; w < 4; w++) for (const k of KEYS) sink += fns[k]();
  const samples = { a: [], b: [], c: [] };
  for (let i = 0; i < batches; i++) {
    for (const k of ORDERS[i % ORDERS.length]) {
      const t0 = process.hrtime.bigint();
      sink += fns[k]();
      samples[k].push(Number(process.hrtime.bigint() - t0) / BATCH);
    }
  }
  const results = {};
  for (const k of KEYS) results[k] = { ...summarize(samples[k]), roundTrips: 0, statements: 0, calls: batches * BATCH };
  return {
    id: 'name',
    title: `ctx.name() x ${(batches * BATCH).toLocaleString('en-US')} (ns per call, per batch of ${BATCH.toLocaleString('en-US')})`,
    unit: 'ns',
    results,
    sink,
  };
}

/**
 * A row 5 levels down a chain of required parents: (a) inferred, (b) YAML factories, (c)
 * hand-written `pg` inserts in a transaction (bench/chain.mjs). Cleanup is not timed.
 */
async function chainWorkload(url, admin, [warmup, iterations]) {
  await admin.query(CHAIN_SCHEMA);
  const impls = chainImpls(url);
  try {
    for (const impl of Object.values(impls)) await impl.warm();
    const results = await interleaved({
      warmup,
      iterations,
      prepare: async (k) => impls[k].lane(pglane.generateRunId()),
      measure: (k, lane) => timed(impls[k], () => impls[k].create(lane)),
      check: async (k, lane, out) => {
        const row = k === 'c' ? out.value.row : out.value;
        expect(row?.id && row.l4_id, `${k}: the chain's last row has its parent`);
        if (k !== 'c') {
          let depth = 0;
          for (let r = row; r; r = r[`l${LEVELS - depth}`]) depth++;
          expect(depth === LEVELS, `${k}: ${LEVELS} levels come back (${depth})`);
        }
        await impls[k].clean(lane, out.value); // untimed
      },
    });
    return {
      id: 'chain',
      title: `a row ${LEVELS} levels down a chain of required parents (${LEVELS} rows)`,
      unit: 'ms',
      labels: { a: '(a) pglane, inferred', b: '(b) pglane, YAML', c: '(c) pg, 5 inserts' },
      results,
    };
  } finally {
    for (const impl of Object.values(impls)) await impl.close();
  }
}

/** WORKERS processes doing setup + cleanup loops at once, one implementation at a time. */
async function fleetWorkload(url, admin, { rounds, loops }) {
  const children = [];
  const waiters = new Map();
  const onMessage = (msg) => {
    if (msg.cmd === 'error') {
      console.error(msg.message);
      process.exitCode = 1;
    }
    const key = `${msg.worker}`;
    const w = waiters.get(key);
    if (w) {
      waiters.delete(key);
      msg.cmd === 'error' ? w.reject(new Error(msg.message)) : w.resolve(msg);
    }
  };
  const ask = (child, worker, msg) =>
    new Promise((resolve, reject) => {
      waiters.set(`${worker}`, { resolve, reject });
      child.send(msg);
    });
  for (let w = 0; w < WORKERS; w++) {
    const child = fork(join(here, 'worker.mjs'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    child.on('message', onMessage);
    children.push(child);
  }
  await Promise.all(children.map((c, w) => ask(c, w, { cmd: 'init', url, worker: w })));

  const poll = async (impl, stop) => {
    const max = new Map();
    while (!stop.done) {
      const { rows } = await admin.query(
        `select application_name, count(*)::int n from pg_stat_activity where application_name like $1 group by 1`,
        [`pglane-bench-${impl}-w%`],
      );
      for (const r of rows) max.set(r.application_name, Math.max(max.get(r.application_name) ?? 0, r.n));
      await new Promise((r) => setTimeout(r, 25));
    }
    return max;
  };

  const runRound = async (impl, n) => {
    const stop = { done: false };
    const polling = poll(impl, stop);
    const t0 = performance.now();
    const replies = await Promise.all(children.map((c, w) => ask(c, w, { cmd: 'run', impl, loops: n })));
    const wall = performance.now() - t0;
    stop.done = true;
    return { wall, replies, seen: await polling };
  };

  // Warm-up round per implementation, then `rounds` measured rounds each, rotating.
  for (const k of KEYS) await runRound(k, Math.max(2, Math.round(loops / 5)));
  const agg = Object.fromEntries(KEYS.map((k) => [k, { loop: [], setup: [], cleanup: [], rt: [], st: [], throughput: [], maxConn: 0, maxSeen: 0 }]));
  for (let r = 0; r < rounds; r++) {
    for (const k of ORDERS[r % ORDERS.length]) {
      const { wall, replies, seen } = await runRound(k, loops);
      const a = agg[k];
      for (const rep of replies) {
        for (const [loop, setup, cleanup, rt, st] of rep.samples) {
          a.loop.push(loop);
          a.setup.push(setup);
          a.cleanup.push(cleanup);
          a.rt.push(rt);
          a.st.push(st);
        }
        a.maxConn = Math.max(a.maxConn, rep.connections.max, rep.connections.open);
      }
      for (const n of seen.values()) a.maxSeen = Math.max(a.maxSeen, n);
      a.throughput.push((WORKERS * loops) / (wall / 1000));
    }
  }
  await Promise.all(
    children.map(
      (c) =>
        new Promise((resolve) => {
          c.once('exit', resolve);
          c.send({ cmd: 'exit' });
        }),
    ),
  );
  const results = {};
  for (const k of KEYS) {
    const a = agg[k];
    results[k] = {
      ...summarize(a.loop),
      roundTrips: summarize(a.rt).p50,
      statements: summarize(a.st).p50,
      setupP50: summarize(a.setup).p50,
      cleanupP50: summarize(a.cleanup).p50,
      throughput: summarize(a.throughput).p50,
      connectionsPerProcess: Math.max(a.maxConn, a.maxSeen),
      connectionsPerProcessPool: a.maxConn,
      connectionsPerProcessServer: a.maxSeen,
    };
  }
  const extraLines = [
    `${''.padEnd(22)}${pad('loops/s', 11)}${pad('setup p50', 11)}${pad('cleanup p50', 13)}${pad('max conns/process (pool, pg_stat_activity)', 46)}`,
    ...KEYS.map(
      (k) =>
        `${LABEL[k].padEnd(22)}${pad(fmt(results[k].throughput, 0), 11)}${pad(fmt(results[k].setupP50, 3), 11)}${pad(fmt(results[k].cleanupP50, 3), 13)}${pad(`${results[k].connectionsPerProcessPool}, ${results[k].connectionsPerProcessServer}`, 46)}`,
    ),
    `${''.padEnd(22)}throughput ratio a/b ${fmt(results.a.throughput / results.b.throughput)}x, a/c ${fmt(results.a.throughput / results.c.throughput)}x`,
  ];
  return {
    id: 'fleet',
    title: `${WORKERS} worker processes, setup + cleanup loops at once (ms per loop)`,
    unit: 'ms',
    note: `${rounds} rounds x ${WORKERS} workers x ${loops} loops`,
    results,
    extraLines,
  };
}

/** The setup and typical-cleanup workloads again, through a proxy adding network latency. */
async function latencyWorkloads(url, admin, [warmup, iterations]) {
  const target = new URL(url);
  const proxy = spawn(process.execPath, [join(here, 'latency-proxy.mjs'), target.hostname, target.port || '5432', String(RTT_MS / 2)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const port = await new Promise((resolve, reject) => {
      let buf = '';
      proxy.stdout.on('data', (d) => {
        buf += d;
        const nl = buf.indexOf('\n');
        if (nl >= 0) resolve(JSON.parse(buf.slice(0, nl)).port);
      });
      proxy.once('exit', (code) => reject(new Error(`latency proxy exited (${code})`)));
    });
    const via = new URL(url);
    via.hostname = '127.0.0.1';
    via.port = String(port);
    const proxied = via.toString();
    const impls = {
      a: new PglaneImpl(proxied, { applicationName: 'pglane-bench-a-rtt' }),
      b: new ReferenceImpl(proxied, { applicationName: 'pglane-bench-b-rtt' }),
      c: new BestImpl(proxied, { applicationName: 'pglane-bench-c-rtt' }),
    };
    try {
      for (const impl of Object.values(impls)) await impl.warm();
      // The round trip as measured: `select 1` through the proxy.
      const rtts = [];
      for (let i = 0; i < 30; i++) {
        const t0 = performance.now();
        await impls.c.db.query('select 1');
        rtts.push(performance.now() - t0);
      }
      const rtt = summarize(rtts.slice(5)).p50;
      const runIds = { a: pglane.generateRunId(), b: pglane.generateRunId(), c: pglane.generateRunId() };
      const note = `via a proxy adding ${RTT_MS} ms per round trip; measured select 1: ${fmt(rtt)} ms`;
      const setup = await completeSetupWorkload(impls, runIds, [warmup, iterations], `complete setup, ${RTT_MS} ms network round trip`, 'setupRtt');
      const cleanup = await typicalCleanupWorkload(impls, runIds, admin, [warmup, iterations], `cleanup of a typical test, ${RTT_MS} ms network round trip`, 'cleanupRtt');
      setup.note = note;
      cleanup.note = note;
      setup.measuredRttMs = rtt;
      cleanup.measuredRttMs = rtt;
      const out = [setup, cleanup];
      if (wanted('chain')) {
        const chain = await chainWorkload(proxied, admin, [warmup, iterations]);
        Object.assign(chain, { id: 'chainRtt', title: `${chain.title}, ${RTT_MS} ms network round trip`, note, measuredRttMs: rtt });
        out.push(chain);
      }
      return out;
    } finally {
      for (const impl of Object.values(impls)) await impl.close();
    }
  } finally {
    proxy.kill('SIGTERM');
  }
}

// --- Goals -------------------------------------------------------------------------------------

function goals(workloads) {
  const by = Object.fromEntries(workloads.map((w) => [w.id, w]));
  const ratio = (id, k) => (by[id] ? by[id].results[k].p50 / by[id].results.a.p50 : NaN);
  const list = [];
  if (by.cleanup) list.push({ goal: 'typical cleanup >= 10x faster than (b)', target: 10, measured: ratio('cleanup', 'b'), met: ratio('cleanup', 'b') >= 10 });
  if (by.cleanupRtt) list.push({ goal: `  (same, ${RTT_MS} ms round trip)`, target: 10, measured: ratio('cleanupRtt', 'b'), met: ratio('cleanupRtt', 'b') >= 10 });
  if (by.setup) list.push({ goal: 'complete setup >= 3x faster than (b)', target: 3, measured: ratio('setup', 'b'), met: ratio('setup', 'b') >= 3 });
  if (by.setupRtt) list.push({ goal: `  (same, ${RTT_MS} ms round trip)`, target: 3, measured: ratio('setupRtt', 'b'), met: ratio('setupRtt', 'b') >= 3 });
  for (const w of workloads) {
    if (!w.results.a || !w.results.c) continue;
    list.push({ goal: `no slower than (c): ${w.id}`, target: 1, measured: ratio(w.id, 'c'), met: ratio(w.id, 'c') >= 1 });
  }
  if (by.chain) list.push({ goal: 'inferred chain within 10% of YAML factories', target: 0.9, measured: ratio('chain', 'b'), met: ratio('chain', 'b') >= 0.9 });
  if (by.name) list.push({ goal: 'ctx.name() under 1 us per call', target: 1000, measured: by.name.results.a.p50, met: by.name.results.a.p50 < 1000, unit: 'ns' });
  if (by.fleet) {
    const n = by.fleet.results.a.connectionsPerProcess;
    list.push({ goal: 'at most 2 connections per worker process', target: 2, measured: n, met: n <= 2, unit: 'connections' });
  }
  list.push(...extraGoals(by));
  return list;
}

// --- Main --------------------------------------------------------------------------------------

async function main() {
  const addon = addonInfo();
  if (addon.build === 'debug') {
    console.warn(`\nWARNING: ${addon.file} is a DEBUG build: pglane's numbers will be too slow. Run \`npm run bench\` (it builds the release addon).\n`);
  }
  let embedded;
  let url = process.env.DATABASE_URL;
  if (!url) {
    const { startEmbeddedPostgres } = require('pglane/embedded');
    // The server's log goes to workloads that capture pglane's statements (the application
    // name first on each line); nothing is kept otherwise.
    embedded = await startEmbeddedPostgres({ onLog: onServerLog, postgresFlags: ['-c', 'log_line_prefix=%a|'] });
    serverLog.available = true;
    url = embedded.url;
  }
  const admin = new pg.Client({ connectionString: url, application_name: 'pglane-bench-admin' });
  await admin.connect();
  const started = new Date();
  const load0 = loadavg();
  const workloads = [];
  try {
    // The stand-in for Supabase Auth's schema on plain PostgreSQL; a Supabase database has its own.
    const supabase = (await admin.query("select exists (select 1 from pg_roles where rolname = 'supabase_auth_admin') as yes")).rows[0].yes;
    if (!supabase) await admin.query(readFileSync(join(root, 'examples/auth-stand-in.sql'), 'utf8'));
    await admin.query(readFileSync(join(root, 'examples/schema.sql'), 'utf8'));
    if (FK_INDEXES) {
      // An experiment: index the foreign-key columns examples/schema.sql leaves unindexed, whose
      // ON DELETE SET NULL / NO ACTION triggers otherwise scan the whole child table per parent.
      await admin.query(`create index if not exists bench_messages_user_idx on public.messages (user_id);
        create index if not exists bench_organizations_created_by_idx on public.organizations (created_by);
        create index if not exists bench_invites_invited_by_idx on public.invites (invited_by);
        create index if not exists bench_conversations_model_idx on public.conversations (model_id);`);
    }
    const server = (await admin.query('show server_version')).rows[0].server_version;
    console.log(`pglane benchmark: PostgreSQL ${server} (${embedded ? 'embedded' : 'DATABASE_URL'}), node ${process.version}, ` +
      `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, addon ${addon.file ?? 'package'} (${addon.build})${QUICK ? ', QUICK' : ''}${FK_INDEXES ? ', FK INDEXES ADDED' : ''}`);
    console.log('(a) pglane  (b) the reference algorithm with pg: a statement per row / per type  (c) the fewest statements with pg');
    console.log('Each implementation has its own pool of 2 connections; iterations are interleaved a b c / b c a / c a b.');

    const impls = { a: new PglaneImpl(url), b: new ReferenceImpl(url), c: new BestImpl(url) };
    const runIds = { a: pglane.generateRunId(), b: pglane.generateRunId(), c: pglane.generateRunId() };
    for (const impl of Object.values(impls)) await impl.warm();
    const step = async (id, fn) => {
      if (![].concat(id).some(wanted)) return;
      await vacuum(admin);
      const w = await fn();
      for (const one of Array.isArray(w) ? w : [w]) {
        workloads.push(one);
        printWorkload(one);
      }
    };
    try {
      await step('setup', () => completeSetupWorkload(impls, runIds, ITER.setup));
      await step('cleanup', () => typicalCleanupWorkload(impls, runIds, admin, ITER.cleanup));
      await step('cleanup1000', () => cleanup1000Workload(impls, runIds, admin, ITER.cleanup1000));
      await step('sweep', () => sweepWorkload(impls, runIds, admin, ITER.sweep));
      await step('name', () => nameWorkload(impls, runIds, ITER.nameBatches));
      await step('chain', () => chainWorkload(url, admin, ITER.chain));
    } finally {
      for (const impl of Object.values(impls)) await impl.close();
    }
    await step('fleet', () => fleetWorkload(url, admin, { rounds: ITER.fleetRounds, loops: ITER.fleetLoops }));
    if (RTT_MS > 0) await step('latency', () => latencyWorkloads(url, admin, ITER.latency));
    // The workloads of bench/workloads/ (issues 15 and 20); BENCH_ONLY takes a group or its ids.
    for (const extra of EXTRA_WORKLOADS) {
      const wants = (id) => wanted(extra.id) || wanted(id);
      await step([extra.id, ...extra.ids], () => extra.run({ url, admin, embedded, wanted: wants }));
    }

    const addonAfter = addonInfo();
    if (addonAfter.mtimeMs !== addon.mtimeMs) {
      console.warn(`\nWARNING: ${addon.file} was rebuilt during the run (now a ${addonAfter.build} build); the worker processes may have loaded another build. Run again.`);
      addon.rebuiltDuringRun = true;
    }
    const goalList = goals(workloads);
    console.log('\nGoals');
    for (const g of goalList) {
      const m = g.unit === 'ns' ? `${fmt(g.measured, 0)} ns` : g.unit === 'connections' ? `${g.measured}` : g.unit ? `${fmt(g.measured)} ${g.unit}` : `${fmt(g.measured)}x`;
      console.log(`  ${g.met ? 'MET    ' : 'NOT MET'}  ${g.goal.padEnd(44)} ${m}`);
    }
    const load1 = loadavg();
    const out = {
      startedAt: started.toISOString(),
      durationS: (Date.now() - started.getTime()) / 1000,
      quick: QUICK,
      machine: {
        cpus: cpus().length,
        cpuModel: cpus()[0]?.model,
        memGiB: Math.round(totalmem() / 2 ** 30),
        loadavgBefore: load0,
        loadavgAfter: load1,
        node: process.version,
        postgres: server,
        database: embedded ? 'embedded' : 'DATABASE_URL',
        addon,
      },
      iterations: ITER,
      workers: WORKERS,
      fkIndexes: FK_INDEXES,
      rttMs: RTT_MS,
      workloads: workloads.map(({ extraLines, sink, ...w }) => ({
        ...w,
        ratios: { b_a: w.results.b?.p50 / w.results.a?.p50, c_a: w.results.c?.p50 / w.results.a?.p50 },
      })),
      goals: goalList,
    };
    const dir = join(here, 'results');
    mkdirSync(dir, { recursive: true });
    const stamp = started.toISOString().replace(/[:.]/g, '-');
    const json = `${JSON.stringify(out, null, 2)}\n`;
    writeFileSync(join(dir, `${stamp}.json`), json);
    const official = !QUICK && !ONLY && !FK_INDEXES && RTT_MS === 2 && WORKERS === 10;
    if (official) writeFileSync(join(dir, 'latest.json'), json);
    console.log(`\nwrote bench/results/${stamp}.json${official ? ' and bench/results/latest.json' : ''} (${fmt(out.durationS, 0)} s)`);
    if (load1[0] > cpus().length * 1.5) {
      console.warn(`note: the load average was ${fmt(load1[0])} on ${cpus().length} cores; other processes competed with the benchmark.`);
    }
  } finally {
    await admin.end();
    await embedded?.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
