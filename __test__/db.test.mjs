import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { databaseUrl, pgClient, pglane, rejection, stopDatabase, thrown } from './helpers.mjs';

const { Db } = pglane;

function withUrl(url, change) {
  const u = new URL(url);
  change(u);
  return u.toString();
}

describe('Db', () => {
  let url;
  let witness;
  before(async () => {
    url = await databaseUrl();
    witness = await pgClient(url);
  });
  after(async () => {
    await witness?.end();
    await stopDatabase();
  });

  test('connects with application_name pglane and counts one round trip per query', async () => {
    const db = Db.connect(url);
    assert.equal(db.roundTrips, 0);
    const info = await db.serverInfo();
    assert.equal(info.applicationName, 'pglane');
    assert.ok(info.serverVersionNum >= 130000);
    assert.equal(db.roundTrips, 1);
    const seen = await witness.query('select application_name from pg_stat_activity where pid = $1', [info.backendPid]);
    assert.equal(seen.rows[0]?.application_name, 'pglane');
    db.close();
  });

  test('keeps at most poolSize connections (default 2)', async () => {
    const db = Db.connect(url);
    assert.equal(db.poolSize, 2);
    await Promise.all(Array.from({ length: 20 }, () => db.serverInfo()));
    assert.ok(db.openConnections <= 2, `opened ${db.openConnections}`);
    const small = Db.connect(url, { poolSize: 1, applicationName: 'pglane-small' });
    const infos = await Promise.all(Array.from({ length: 5 }, () => small.serverInfo()));
    assert.equal(new Set(infos.map((i) => i.backendPid)).size, 1);
    assert.equal(infos[0].applicationName, 'pglane-small');
    db.close();
    small.close();
  });

  test('Db.default() is shared and uses the configured database', async () => {
    const a = Db.default();
    const b = Db.connect();
    const info = await a.serverInfo();
    assert.equal(info.database, new URL(url).pathname.slice(1) || 'postgres');
    await b.serverInfo();
    assert.equal(a.roundTrips, b.roundTrips, 'one shared handle');
  });

  test('a wrong password is PGLANE_DB_AUTH and the message never shows it', async () => {
    const secret = 'S3cr3t@#/%pw';
    const bad = withUrl(url, (u) => (u.password = encodeURIComponent(secret)));
    const err = await rejection(Db.connect(bad).serverInfo());
    assert.equal(err.code, 'PGLANE_DB_AUTH');
    assert.equal(err.sqlstate, '28P01');
    assert.match(err.message, /127\.0\.0\.1:\d+\/\w+/);
    assert.ok(!err.message.includes(secret) && !err.message.includes(encodeURIComponent(secret)), err.message);
    assert.ok(!Db.connect(bad).url.includes('S3cr3t'));
  });

  test('an unknown role is PGLANE_DB_AUTH naming the role', async () => {
    const err = await rejection(Db.connect(withUrl(url, (u) => (u.username = 'no_such_role'))).serverInfo());
    assert.equal(err.code, 'PGLANE_DB_AUTH');
    assert.match(err.message, /no_such_role/);
  });

  test('a missing database is PGLANE_DB_NOT_FOUND naming it', async () => {
    const err = await rejection(Db.connect(withUrl(url, (u) => (u.pathname = '/pglane_missing_db'))).serverInfo());
    assert.equal(err.code, 'PGLANE_DB_NOT_FOUND');
    assert.match(err.message, /pglane_missing_db/);
  });

  test('a closed port is PGLANE_DB_UNREACHABLE naming host and port', async () => {
    const err = await rejection(Db.connect('postgres://u:pw@127.0.0.1:1/x?sslmode=disable', { connectTimeoutMs: 2000 }).serverInfo());
    assert.equal(err.code, 'PGLANE_DB_UNREACHABLE');
    assert.match(err.message, /127\.0\.0\.1:1\/x/);
  });

  test('sslmode=require against a server without TLS is PGLANE_DB_TLS', async (t) => {
    const { rows } = await witness.query('show ssl');
    if (rows[0].ssl === 'on') return t.skip('this server has TLS on; tls.test.mjs covers TLS servers');
    const err = await rejection(Db.connect(withUrl(url, (u) => u.searchParams.set('sslmode', 'require'))).serverInfo());
    assert.equal(err.code, 'PGLANE_DB_TLS');
    assert.match(err.message, /sslmode=require/);
  });

  test('too many connections is PGLANE_DB_TOO_MANY_CONNECTIONS', async () => {
    const role = `pglane_limited_${process.pid}`;
    await witness.query(`create role ${role} login password 'limited-pw' connection limit 1`);
    try {
      const limited = withUrl(url, (u) => {
        u.username = role;
        u.password = 'limited-pw';
      });
      const holder = await pgClient(limited);
      try {
        const err = await rejection(Db.connect(limited).serverInfo());
        assert.equal(err.code, 'PGLANE_DB_TOO_MANY_CONNECTIONS');
      } finally {
        await holder.end();
      }
    } finally {
      await witness.query(`drop role ${role}`);
    }
  });

  test('bad settings fail before connecting, with PGLANE_INVALID_CONFIG', () => {
    const cases = [
      'mysql://u:pw@h/d',
      'postgres://u:pw@h/d?sslmode=sometimes',
      'postgres://u:pw@h/d?sslrootcert=/no/such/root.crt',
      'postgres://u:pw@h:70000/d',
      'postgres://u:pw@h/d?unknown_param=1',
    ];
    for (const bad of cases) {
      const err = thrown(() => Db.connect(bad));
      assert.equal(err.code, 'PGLANE_INVALID_CONFIG', bad);
      assert.ok(!err.message.includes('pw@'), err.message);
    }
    assert.equal(thrown(() => Db.connect(url, { pooler: 'sometimes' })).code, 'PGLANE_INVALID_CONFIG');
    assert.equal(thrown(() => Db.connect(url, { poolSize: 0 })).code, 'PGLANE_INVALID_CONFIG');
  });
});
