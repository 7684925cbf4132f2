// What the workloads in this folder share: interleaved measurement of any set of
// implementations, timing with round-trip counters, child processes, the latency proxy, and the
// embedded server's log (run.mjs forwards it here). run.mjs has its own copies of the first
// helpers; these take any keys (a, b, c and extra variants such as c0).
import { fork, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { summarize } from '../common.mjs';

export const BENCH_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
export const ROOT = join(BENCH_DIR, '..');
export const QUICK = process.env.BENCH_QUICK === '1';

export const LABEL = { a: '(a) pglane', b: '(b) reference (pg)', c: '(c) best pg' };
const ROTATIONS = (keys) => keys.map((_, i) => [...keys.slice(i), ...keys.slice(0, i)]);

export function expect(cond, what) {
  if (!cond) throw new Error(`benchmark check failed: ${what}`);
}

export const fmt = (v, digits = 2) => (Number.isFinite(v) ? v.toFixed(digits) : '-');
export const pad = (s, n) => String(s).padStart(n);
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Times `fn` on implementation `impl` (anything with `roundTrips` and `statements` counters). */
export async function timed(impl, fn) {
  const rt0 = impl.roundTrips;
  const st0 = impl.statements;
  const t0 = performance.now();
  const value = await fn();
  const ms = performance.now() - t0;
  return { ms, roundTrips: impl.roundTrips - rt0, statements: impl.statements - st0, value };
}

/**
 * `warmup + iterations` rounds over `keys`, in rotating order (a b c / b c a / c a b ...).
 * `prepare(key)` and `check(key, prepared, outcome)` are untimed; `measure(key, prepared)`
 * returns { ms, roundTrips, statements }. Resolves with a summary per key.
 */
export async function interleaved({ keys = ['a', 'b', 'c'], warmup, iterations, prepare, measure, check }) {
  const orders = ROTATIONS(keys);
  const samples = Object.fromEntries(keys.map((k) => [k, []]));
  for (let i = 0; i < warmup + iterations; i++) {
    for (const k of orders[i % orders.length]) {
      const prepared = await prepare(k);
      const outcome = await measure(k, prepared);
      if (check) await check(k, prepared, outcome);
      if (i >= warmup) samples[k].push(outcome);
    }
  }
  const results = {};
  for (const k of keys) {
    const s = summarize(samples[k].map((o) => o.ms));
    s.roundTrips = summarize(samples[k].map((o) => o.roundTrips)).p50;
    s.statements = summarize(samples[k].map((o) => o.statements)).p50;
    s.roundTripsMax = Math.max(...samples[k].map((o) => o.roundTrips));
    results[k] = s;
  }
  return results;
}

/** A line for an extra variant, in the columns of run.mjs' table. */
export function variantLine(label, r, base, ratioLabel = '/a') {
  return `${label.padEnd(22)}${pad(fmt(r.p50, 3), 11)}${pad(fmt(r.p95, 3), 11)}${pad(fmt(r.roundTrips, 0), 13)}${pad(fmt(r.statements, 0), 12)}${pad(
    base ? `${ratioLabel} ${fmt(r.p50 / base.p50)}x` : '',
    13,
  )}`;
}

// --- The embedded server's log ------------------------------------------------------------------

const logSinks = new Set();

/** run.mjs passes this as the embedded server's `onLog`: lines go to whoever listens. */
export function onServerLog(line) {
  for (const sink of logSinks) sink(line);
}

/** Whether run.mjs forwards the server's log (an embedded server), so statements can be captured. */
export const serverLog = { available: false };

/** Collects the server's log lines while `fn` runs; resolves with them. */
export async function captureServerLog(fn) {
  const lines = [];
  const sink = (l) => lines.push(l);
  logSinks.add(sink);
  try {
    await fn();
    await sleep(300); // the server writes its log asynchronously
  } finally {
    logSinks.delete(sink);
  }
  return lines;
}

// --- The latency proxy -----------------------------------------------------------------------------

/** Starts bench/latency-proxy.mjs in front of `url`'s server; resolves with the proxied URL. */
export async function startLatencyProxy(url, rttMs) {
  const target = new URL(url);
  const proxy = spawn(process.execPath, [join(BENCH_DIR, 'latency-proxy.mjs'), target.hostname, target.port || '5432', String(rttMs / 2)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
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
  return { url: via.toString(), stop: () => proxy.kill('SIGTERM') };
}

// --- Child processes -------------------------------------------------------------------------------

/**
 * Forks `n` processes of `file` that answer messages `{ cmd, ... }` with `{ cmd: 'done' | 'error',
 * ... }` (one answer per message). `ask(i, msg)` resolves with process i's answer, rejects on
 * 'error' or when it exits before answering.
 */
export function forkProcesses(file, n, { execArgv = [], env = process.env } = {}) {
  const children = [];
  for (let i = 0; i < n; i++) {
    const child = fork(file, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv, env });
    const state = { child, waiting: null, exited: null };
    child.on('message', (msg) => {
      const w = state.waiting;
      state.waiting = null;
      if (!w) return;
      if (msg.cmd === 'error') w.reject(Object.assign(new Error(`process ${i}: ${msg.message}`), { child: i, code: msg.code }));
      else w.resolve(msg);
    });
    child.on('exit', (code, signal) => {
      state.exited = { code, signal };
      state.waiting?.reject(new Error(`process ${i} exited (${code ?? signal}) before answering`));
      state.waiting = null;
    });
    children.push(state);
  }
  const ask = (i, msg) =>
    new Promise((resolve, reject) => {
      const s = children[i];
      if (s.exited) return reject(new Error(`process ${i} has exited (${s.exited.code ?? s.exited.signal})`));
      s.waiting = { resolve, reject };
      s.child.send(msg);
    });
  const stop = () =>
    Promise.all(
      children.map(
        (s) =>
          new Promise((resolve) => {
            if (s.exited) return resolve();
            const timer = setTimeout(() => s.child.kill('SIGKILL'), 10_000);
            s.child.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            s.child.send({ cmd: 'exit' });
          }),
      ),
    );
  return { ask, stop, size: n };
}

/**
 * For a child process: answers each message with `handler(msg)`'s result as `{ cmd: 'done', ...
 * }`, or `{ cmd: 'error', message, code }`; `{ cmd: 'exit' }` runs `onExit` and exits.
 */
export function serveParent(handler, onExit = async () => {}) {
  const send = (msg) => new Promise((resolve) => process.send(msg, resolve));
  process.on('message', async (msg) => {
    if (msg.cmd === 'exit') {
      await onExit().catch(() => {});
      process.exit(0);
    }
    try {
      await send({ cmd: 'done', ...(await handler(msg)) });
    } catch (err) {
      await send({ cmd: 'error', message: err?.stack ?? String(err), code: err?.code });
    }
  });
  process.on('disconnect', () => process.exit(0));
}

/** Peak connections per `application_name` matching `like`, polled every `everyMs` until stopped. */
export function pollConnections(admin, like, everyMs = 20) {
  const state = { done: false, peakByApp: new Map(), peakTotal: 0, peakServer: 0, polls: 0 };
  const loop = (async () => {
    while (!state.done) {
      const { rows } = await admin.query(
        `select application_name as app, count(*)::int as n, sum(count(*)) over ()::int as total,
                (select count(*)::int from pg_stat_activity where backend_type = 'client backend') as server
         from pg_stat_activity where application_name like $1 group by 1`,
        [like],
      );
      state.polls++;
      for (const r of rows) state.peakByApp.set(r.app, Math.max(state.peakByApp.get(r.app) ?? 0, r.n));
      if (rows.length) {
        state.peakTotal = Math.max(state.peakTotal, rows[0].total);
        state.peakServer = Math.max(state.peakServer, rows[0].server);
      }
      await sleep(everyMs);
    }
  })();
  return {
    state,
    async stop() {
      state.done = true;
      await loop;
      return state;
    },
  };
}
