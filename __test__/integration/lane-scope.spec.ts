import { test, expect } from 'pglane/playwright';

test.describe('lane in beforeAll', () => {
  test.beforeAll(async ({ lane }) => {
    await lane.factories.create('note');
  });
  test('never runs: its beforeAll failed', async () => {
    expect(true).toBe(true);
  });
});

test.describe('workerLane in beforeAll', () => {
  let noteId: number;
  test.beforeAll(async ({ workerLane }) => {
    noteId = (await workerLane.factories.create('note', { title: 'Shared' })).id as number;
  });
  for (const n of [1, 2, 3]) {
    test(`test ${n} sees the shared note`, async ({ lane, workerLane }) => {
      const row = await lane.db.one<{ title: string }>('select title from it_notes where id = $1', [noteId]);
      expect(row.title).toBe(workerLane.ctx.name('Shared'));
    });
  }
});
