// The throwaway PostgreSQL 15 cluster of pg15.mjs: a password is required over TCP, stop()
// removes everything, and a test process killed outright leaves no server and no files behind.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { connect as tcpConnect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import pg from 'pg';
import { pg15SkipReason, startPg15 } from './pg15.mjs';

const PG15 = fileURLToPath(new URL('./pg15.mjs', import.meta.url));

function listening(port) {
  return new Promise((resolve) => {
    const sock = tcpConnect({ host: '127.0.0.1', port });
    sock.once('connect', () => (sock.destroy(), resolve(true)));
    sock.once('error', () => resolve(false));
  });
}

async function until(what, check, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`timed out waiting until ${what}`);
}

describe('a throwaway PostgreSQL 15 cluster', { skip: pg15SkipReason() ?? false }, () => {
  test('serves its superuser with a password on loopback; stop() removes its directory and keeps its log', async () => {
    const server = await startPg15();
    try {
      assert.match(server.url, /^postgres:\/\/postgres:[^@]+@127\.0\.0\.1:\d+\/postgres\?sslmode=disable$/);
      assert.equal(server.safeUrl.includes(server.password), false);
      assert.equal(Math.floor(server.version / 10000), 15);
      const client = new pg.Client({ connectionString: server.url });
      await client.connect();
      const me = (await client.query('select current_user as u, (select rolsuper from pg_roles where rolname = current_user) as su')).rows[0];
      await client.end();
      assert.deepEqual(me, { u: 'postgres', su: true });
      const noPassword = new pg.Client({ connectionString: server.urlFor('postgres', 'wrong') });
      await assert.rejects(noPassword.connect(), /password authentication failed/);
      await noPassword.end().catch(() => {});
      assert.ok(existsSync(server.dataDir));
    } finally {
      await server.stop();
    }
    assert.equal(existsSync(server.socketDir), false, 'directory removed');
    assert.equal(await listening(server.port), false, 'server gone');
    assert.match(server.log(), /database system is ready to accept connections/);
  });

  test('a server that cannot start says why, from its log, and leaves no directory', async () => {
    const before = new Set(readdirSync(tmpdir()).filter((f) => f.startsWith('pglane-cluster-')));
    await assert.rejects(startPg15({ settings: { shared_buffers: 'bogus' } }), /did not start[\s\S]*FATAL: {2}invalid value for parameter "shared_buffers": "bogus"/);
    const left = readdirSync(tmpdir()).filter((f) => f.startsWith('pglane-cluster-') && !before.has(f));
    assert.deepEqual(left, []);
  });

  test('a test process killed with SIGKILL leaves no server and no directory', async () => {
    // A child starts a cluster, prints where, and is killed before it can clean up.
    const child = spawn(process.execPath, [
      '--input-type=module',
      '-e',
      `const { startPg15 } = await import(${JSON.stringify(PG15)});
       const s = await startPg15();
       console.log(JSON.stringify({ port: s.port, dir: s.socketDir }));
       setInterval(() => {}, 1000);`,
    ], { stdio: ['ignore', 'pipe', 'inherit'] });
    const started = await new Promise((resolve, reject) => {
      child.stdout.once('data', (d) => resolve(JSON.parse(String(d))));
      child.once('exit', (code) => reject(new Error(`child exited early (${code})`)));
    });
    assert.ok(await listening(started.port));
    child.kill('SIGKILL');
    await until('the orphaned server is gone', async () => !(await listening(started.port)));
    await until('its directory is removed', () => !existsSync(started.dir));
  });
});
