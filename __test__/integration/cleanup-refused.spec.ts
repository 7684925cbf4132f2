import { test, expect } from 'pglane/playwright';

test('a row a trigger refuses to delete', async ({ lane }) => {
  const kept = await lane.factories.create('archivedNote');
  expect(kept.title).toBe(lane.ctx.name('Archived 1'));
});

test('a clean test in the same run', async ({ lane }) => {
  await lane.factories.create('note');
});
