// The lane fixture releases a test's advisory locks when the test ends, even when the test
// forgot to unlock: the next test, on another connection, can take the key at once.
import { test, expect, DbLocks } from 'pglane/playwright';

test.describe.configure({ mode: 'serial' });

const key = `fixture-release-${process.env.PGLANE_RUN_ID}`;

test('takes a lock and never unlocks it', async ({ lane }) => {
  await lane.locks.lock(key);
  const other = new DbLocks(lane.db);
  expect(await other.tryLock(key)).toBe(false);
});

test('the next test finds the lock free', async ({ lane }) => {
  const other = new DbLocks(lane.db);
  expect(await other.tryLock(key)).toBe(true);
  await other.releaseAll();
  expect(await lane.locks.held()).toEqual([]);
});
