// TLS against a real server that accepts only encrypted connections (pg_hba: hostssl only),
// with a certificate from a throwaway CA. The server is started here, so nothing is skipped.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { pglane, rejection, thrown } from './helpers.mjs';
import { APP_TABLES, applySchema, insertCompleteSetup, remainingRows, trackCompleteSetup } from './reference.mjs';
import { startTlsPostgres } from './servers.mjs';

const { Db, WorkerContext, ResourceTracker, CleanupManager } = pglane;

function withUrl(url, change) {
  const u = new URL(url);
  change(u);
  return u.toString();
}
const params = (url, pairs) => withUrl(url, (u) => Object.entries(pairs).forEach(([k, v]) => u.searchParams.set(k, v)));
const allZero = (counts) => Object.values(counts).every((v) => v === 0);

describe('TLS against a server that accepts only TLS', () => {
  let server;
  let url; // postgres://postgres:pw@localhost:port/postgres, no sslmode
  let witness;
  before(async () => {
    server = await startTlsPostgres();
    url = server.url;
    witness = new pg.Client({ connectionString: url, ssl: { ca: readFileSync(server.caFile), servername: 'localhost' } });
    await witness.connect();
  });
  after(async () => {
    await witness?.end();
    await server?.stop();
  });

  test('sslmode=require (and the default, prefer) encrypts the session', async () => {
    for (const mode of ['require', undefined]) {
      const db = Db.connect(mode ? params(url, { sslmode: mode }) : url);
      const info = await db.serverInfo();
      assert.equal(info.ssl, true, `sslmode=${mode ?? 'default'}`);
      assert.equal(info.database, 'postgres');
      const seen = await witness.query('select ssl from pg_stat_ssl where pid = $1', [info.backendPid]);
      assert.equal(seen.rows[0]?.ssl, true, 'the server agrees');
      db.close();
    }
  });

  test('sslmode=disable is refused by pg_hba with PGLANE_DB_TLS naming host, port and database', async () => {
    const err = await rejection(Db.connect(params(url, { sslmode: 'disable' })).serverInfo());
    assert.equal(err.code, 'PGLANE_DB_TLS', err.message);
    assert.equal(err.sqlstate, '28000');
    assert.ok(err.message.includes(`localhost:${server.port}/postgres`), err.message);
    assert.match(err.message, /sslmode=require/, 'says what to do');
    assert.ok(!err.message.includes(server.password), err.message);
  });

  test('verify-full with the right CA and host name passes; an unrelated CA is PGLANE_DB_TLS', async () => {
    const good = Db.connect(params(url, { sslmode: 'verify-full', sslrootcert: server.caFile }));
    assert.equal((await good.serverInfo()).ssl, true);
    good.close();
    const err = await rejection(Db.connect(params(url, { sslmode: 'verify-full', sslrootcert: server.otherCaFile })).serverInfo());
    assert.equal(err.code, 'PGLANE_DB_TLS', err.message);
    assert.ok(err.message.includes(`localhost:${server.port}/postgres`), err.message);
    assert.ok(!err.message.includes(server.password), err.message);
  });

  test('verify-ca checks the chain but not the host name; verify-full checks both', async () => {
    const byIp = withUrl(url, (u) => (u.hostname = '127.0.0.1'));
    const verifyCa = Db.connect(params(byIp, { sslmode: 'verify-ca', sslrootcert: server.caFile }));
    assert.equal((await verifyCa.serverInfo()).ssl, true);
    verifyCa.close();
    // 127.0.0.2 reaches the same server but is not in its certificate.
    const unnamed = withUrl(url, (u) => (u.hostname = '127.0.0.2'));
    const caOnly = Db.connect(params(unnamed, { sslmode: 'verify-ca', sslrootcert: server.caFile }));
    assert.equal((await caOnly.serverInfo()).ssl, true, 'verify-ca ignores the name');
    caOnly.close();
    const full = await rejection(Db.connect(params(unnamed, { sslmode: 'verify-full', sslrootcert: server.caFile })).serverInfo());
    assert.equal(full.code, 'PGLANE_DB_TLS', full.message);
    assert.match(full.message, /127\.0\.0\.2/);
    const wrongCa = await rejection(Db.connect(params(unnamed, { sslmode: 'verify-ca', sslrootcert: server.otherCaFile })).serverInfo());
    assert.equal(wrongCa.code, 'PGLANE_DB_TLS', 'verify-ca still checks the chain');
  });

  test('sslmode=require with an sslrootcert checks the chain, as libpq does', async () => {
    const ok = Db.connect(params(url, { sslmode: 'require', sslrootcert: server.caFile }));
    assert.equal((await ok.serverInfo()).ssl, true);
    ok.close();
    const err = await rejection(Db.connect(params(url, { sslmode: 'require', sslrootcert: server.otherCaFile })).serverInfo());
    assert.equal(err.code, 'PGLANE_DB_TLS', err.message);
  });

  test('a missing sslrootcert, or one holding no certificate, is PGLANE_INVALID_CONFIG at Db.connect, before connecting', () => {
    const missing = join(server.dataDir, '..', 'no-such-root.crt');
    const err = thrown(() => Db.connect(params(url, { sslmode: 'verify-full', sslrootcert: missing })));
    assert.equal(err.code, 'PGLANE_INVALID_CONFIG');
    assert.ok(err.message.includes('no-such-root.crt'), err.message);
    assert.ok(!err.message.includes(server.password), err.message);
    const notPem = join(server.dataDir, '..', 'not-a-cert.pem');
    writeFileSync(notPem, 'this is not a certificate\n');
    assert.equal(thrown(() => Db.connect(params(url, { sslmode: 'verify-ca', sslrootcert: notPem }))).code, 'PGLANE_INVALID_CONFIG');
  });

  test('a complete setup is cleaned up and verified over TLS (sslmode=require)', async () => {
    await applySchema(witness);
    const db = Db.connect(params(url, { sslmode: 'require' }), { applicationName: 'pglane-tls-cleanup' });
    const ctx = WorkerContext.create({ workerIndex: 1, testId: 'tls-cleanup' }, { runId: 'tlsrun01' });
    const neighbour = WorkerContext.create({ workerIndex: 2, testId: 'tls-cleanup' }, { runId: 'tlsrun01' });
    const ids = await insertCompleteSetup(witness, ctx);
    const other = await insertCompleteSetup(witness, neighbour);
    const tracker = ResourceTracker.forTest({}, ctx, db);
    trackCompleteSetup(tracker, ids);
    assert.equal(tracker.count(), 11);

    const report = await new CleanupManager(db, tracker).cleanup();
    assert.deepEqual(report.failures, []);
    assert.equal(report.verified, true);
    assert.equal(report.fallback, false);
    assert.equal(report.roundTrips, 1, 'delete and verify pipelined over TLS');
    assert.equal(report.totalDeleted, 11);
    const left = await remainingRows(witness, ids);
    assert.deepEqual(Object.keys(left).sort(), [...APP_TABLES].sort());
    assert.ok(allZero(left), JSON.stringify(left));
    const kept = await remainingRows(witness, other);
    for (const table of APP_TABLES) assert.equal(kept[table], 1, `the other lane lost ${table}`);
    assert.equal(tracker.count(), 0);
    assert.equal((await db.serverInfo()).ssl, true);
    db.close();
  });

  test('a password with @#/%: works percent-encoded over TLS; a wrong one is PGLANE_DB_AUTH and never shown', async () => {
    const role = `pglane_tls_pw_${process.pid}`;
    const secret = 'Tls@pw#1/2%3:x';
    const wrong = 'Wr0ng@#/%:pw';
    await witness.query(`create role ${role} login password '${secret}'`);
    try {
      const as = (pw) => params(withUrl(url, (u) => {
        u.username = role;
        u.password = encodeURIComponent(pw);
      }), { sslmode: 'require' });
      const good = Db.connect(as(secret));
      const info = await good.serverInfo();
      assert.equal(info.user, role);
      assert.equal(info.ssl, true);
      good.close();

      const bad = Db.connect(as(wrong));
      const err = await rejection(bad.serverInfo());
      assert.equal(err.code, 'PGLANE_DB_AUTH', err.message);
      assert.equal(err.sqlstate, '28P01');
      assert.ok(err.message.includes(role), err.message);
      assert.ok(err.message.includes(`localhost:${server.port}/postgres`), err.message);
      for (const pw of [secret, wrong]) {
        for (const form of [pw, encodeURIComponent(pw)]) {
          assert.ok(!err.message.includes(form), `message shows ${form}: ${err.message}`);
          assert.ok(!String(err.stack).includes(form), `stack shows ${form}`);
          assert.ok(!bad.url.includes(form), bad.url);
        }
      }
    } finally {
      await witness.query(`drop role if exists ${role}`);
    }
  });
});
