// On a server that can JIT-compile (Debian's PostgreSQL 15 ships its LLVM provider), pglane's
// cleanup and count statements run with JIT off: a trigger on the cleaned table records the
// setting the statement ran with. (The embedded server has no JIT provider; the Rust test
// `cleanup_statements_run_with_jit_off_and_leave_the_session_as_it_was` covers it there.)
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { pglane, pgClient } from './helpers.mjs';
import { pg15SkipReason, startPg15 } from './pg15.mjs';

const { WorkerContext, ResourceTracker, CleanupManager, Db } = pglane;

describe('JIT on a server that has it', { skip: pg15SkipReason() ?? false }, () => {
  let server;
  let client;
  before(async () => {
    server = await startPg15();
    client = await pgClient(server.url);
    await client.query(`
      create table seen (jit text);
      create table parents (id int primary key, name text);
      create function record() returns trigger language plpgsql as $$
      begin insert into seen values (current_setting('jit')); return old; end $$;
      create trigger record before delete on parents for each row execute function record();`);
  });
  after(async () => {
    await client?.end();
    await server?.stop();
  });

  test('the server could JIT; pglane cleanup statements run with it off', async () => {
    const { rows: [can] } = await client.query("select current_setting('jit') as jit, pg_jit_available() as available");
    assert.deepEqual(can, { jit: 'on', available: true });
    const db = Db.connect(server.url);
    const ctx = WorkerContext.create({ workerIndex: 1, testId: 'jit' }, { runId: pglane.generateRunId() });
    await client.query('insert into parents values (1, $1), (2, $2)', [ctx.name('tracked'), ctx.name('by name')]);
    const tracker = ResourceTracker.forTest({}, ctx, db);
    tracker.track('public.parents', 1);
    const manager = new CleanupManager(db, tracker);
    const report = await manager.cleanup();
    assert.equal(report.verified, true);
    assert.equal(report.roundTrips, 1, 'begin, set, the statement and commit in one round trip');
    const swept = await manager.cleanupPattern('test');
    assert.equal(swept.verified, true);
    const { rows } = await client.query('select jit from seen');
    assert.deepEqual(rows.map((r) => r.jit), ['off', 'off']);
    db.close();
  });
});
