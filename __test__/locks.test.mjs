import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { databaseUrl, pgClient, pglane, rejection, stopDatabase } from './helpers.mjs';

const { DbLocks, Db } = pglane;

function run(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['__test__/lock-worker.mjs', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`worker exited ${code}`))));
  });
}

/** Advisory locks the server shows for a 64-bit key. */
async function holders(client, locks, key) {
  const k = BigInt(locks.keyOf(key));
  const u = BigInt.asUintN(64, k);
  const { rows } = await client.query(
    "select pid from pg_locks where locktype = 'advisory' and granted and objsubid = 1 and classid = $1::oid and objid = $2::oid",
    [String(u >> 32n), String(u & 0xffffffffn)],
  );
  return rows.map((r) => r.pid);
}

describe('DbLocks', () => {
  let url;
  let client;
  before(async () => {
    url = await databaseUrl();
    client = await pgClient(url);
    await client.query('create table if not exists pglane_lock_counter (id int primary key, n int not null)');
  });
  after(async () => {
    await client.query('drop table if exists pglane_lock_counter');
    await client?.end();
    await stopDatabase();
  });

  test('lock, re-entry, held() and unlock, as the server sees them', async () => {
    const locks = new DbLocks(null);
    await locks.lock('job:a');
    await locks.lock('job:a');
    assert.deepEqual((await locks.held()).map((h) => [h.name, h.scope, h.count]), [['job:a', 'session', 2]]);
    assert.equal((await holders(client, locks, 'job:a')).length, 1);
    await locks.unlock('job:a');
    assert.equal((await holders(client, locks, 'job:a')).length, 1, 'still held once');
    await locks.unlock('job:a');
    assert.equal((await holders(client, locks, 'job:a')).length, 0);
    const err = await rejection(locks.unlock('job:a'));
    assert.equal(err.code, 'PGLANE_LOCK_NOT_HELD');
    assert.match(err.message, /job:a/);
  });

  test('string keys hash to stable 64-bit keys in a namespace', () => {
    const a = new DbLocks(null);
    const b = new DbLocks(null, { namespace: 'myapp' });
    assert.equal(a.keyOf('user:alice@x.test'), '4764534327335055819');
    assert.notEqual(a.keyOf('k'), b.keyOf('k'));
  });

  test('tryLock is false while another holder has the key, and true once it is free', async () => {
    const one = new DbLocks(null);
    const two = new DbLocks(null);
    assert.equal(await one.tryLock('slot'), true);
    assert.equal(await two.tryLock('slot'), false);
    await one.unlock('slot');
    assert.equal(await two.tryLock('slot'), true);
    await two.releaseAll();
  });

  test('a lock that stays taken times out with PGLANE_LOCK_TIMEOUT', async () => {
    const one = new DbLocks(null);
    const two = new DbLocks(null);
    await one.lock('busy');
    const started = Date.now();
    const err = await rejection(two.lock('busy', { timeoutMs: 300 }));
    assert.equal(err.code, 'PGLANE_LOCK_TIMEOUT');
    assert.match(err.message, /busy/);
    assert.ok(Date.now() - started < 5000);
    assert.deepEqual(await two.held(), []);
    await one.releaseAll();
    await two.lock('busy', { timeoutMs: 1000 });
    await two.releaseAll();
  });

  test('two holders waiting for each other get PGLANE_DEADLOCK from Postgres', async () => {
    const a = new DbLocks(null);
    const b = new DbLocks(null);
    await a.lock('left');
    await b.lock('right');
    // The victim lets go of what it holds, so the other waiter gets through.
    const wait = (holder, key) => holder.lock(key, { timeoutMs: 8000 }).catch(async (err) => {
      await holder.releaseAll();
      throw err;
    });
    const results = await Promise.allSettled([wait(a, 'right'), wait(b, 'left')]);
    const failed = results.filter((r) => r.status === 'rejected');
    assert.equal(failed.length, 1, 'Postgres breaks the deadlock by failing one waiter');
    assert.equal(failed[0].reason.code, 'PGLANE_DEADLOCK');
    assert.match(failed[0].reason.message, /deadlock/);
    await a.releaseAll();
    await b.releaseAll();
  });

  test('transaction locks hold an open transaction and go with the last unlock', async () => {
    const locks = new DbLocks(null);
    const other = new DbLocks(null);
    await locks.lock('tx:1', { scope: 'transaction' });
    await locks.lock('tx:2', { scope: 'transaction' });
    assert.equal(await other.tryLock('tx:1'), false);
    await locks.unlock('tx:1');
    assert.equal((await holders(client, locks, 'tx:2')).length, 1);
    await locks.unlock('tx:2');
    assert.equal(await other.tryLock('tx:1'), true);
    await other.releaseAll();
  });

  test('withLock releases the lock when the callback throws, and returns its value', async () => {
    const locks = new DbLocks(null);
    const value = await locks.withLock('wl', async () => 42);
    assert.equal(value, 42);
    await assert.rejects(locks.withLock('wl', async () => { throw new Error('boom'); }), /boom/);
    assert.deepEqual(await locks.held(), []);
    assert.equal((await holders(client, locks, 'wl')).length, 0);
    assert.equal(await locks.withEmailLock('Alice@X.test', () => 'ok'), 'ok');
  });

  test('concurrent withLock calls on one DbLocks take turns; a nested one re-enters', async () => {
    const locks = new DbLocks(null);
    let inside = 0;
    let most = 0;
    await Promise.all(Array.from({ length: 5 }, () => locks.withLock('turns', async () => {
      inside++;
      most = Math.max(most, inside);
      await new Promise((r) => setTimeout(r, 10));
      inside--;
    })));
    assert.equal(most, 1);
    const nested = await locks.withLock('turns', () => locks.withLock('turns', () => 'inner'), { timeoutMs: 2000 });
    assert.equal(nested, 'inner');
    assert.deepEqual(await locks.held(), []);
  });

  test('releaseAll frees everything and hands the connection back', async () => {
    const db = Db.connect(url, { poolSize: 1 });
    const locks = new DbLocks(db);
    await locks.lock('r1');
    await locks.lock(['7', '8'].map(Number));
    await locks.lock('r2', { scope: 'transaction' });
    assert.equal(await locks.releaseAll(), 3);
    assert.deepEqual(await locks.held(), []);
    await db.serverInfo(); // the pool's only connection is free again
    db.close();
  });

  test('bad keys are PGLANE_INVALID_ARGUMENT, a bad scope PGLANE_INVALID_CONFIG', async () => {
    const locks = new DbLocks(null);
    assert.equal((await rejection(locks.lock(''))).code, 'PGLANE_INVALID_ARGUMENT');
    assert.equal((await rejection(locks.lock([1]))).code, 'PGLANE_INVALID_ARGUMENT');
    assert.equal((await rejection(locks.lock([1, 2 ** 40]))).code, 'PGLANE_INVALID_ARGUMENT');
    assert.equal((await rejection(locks.lock('x', { scope: 'forever' }))).code, 'PGLANE_INVALID_CONFIG');
  });

  test('10 processes x 100 locked read-then-write increments count exactly 1000; unlocked they lose updates', async () => {
    await client.query('insert into pglane_lock_counter values (1, 0), (2, 0) on conflict (id) do update set n = 0');
    await Promise.all(Array.from({ length: 10 }, () => run(['count', 'locked', '100', '1'])));
    await Promise.all(Array.from({ length: 10 }, () => run(['count', 'unlocked', '100', '2'])));
    const { rows } = await client.query('select id, n from pglane_lock_counter order by id');
    assert.equal(rows[0].n, 1000, 'with the lock');
    assert.ok(rows[1].n < 1000, `without the lock updates are lost (got ${rows[1].n})`);
  });

  test('killing the holder process frees the key for the others', async () => {
    const child = spawn(process.execPath, ['__test__/lock-worker.mjs', 'hold', 'orphan'], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise((resolve, reject) => {
      child.stdout.on('data', (d) => String(d).includes('ready') && resolve());
      child.on('exit', (code) => reject(new Error(`holder exited early (${code})`)));
    });
    const locks = new DbLocks(null);
    assert.equal(await locks.tryLock('orphan'), false);
    child.kill('SIGKILL');
    await locks.lock('orphan', { timeoutMs: 10_000 });
    assert.equal((await locks.held()).length, 1);
    await locks.releaseAll();
  });
});
