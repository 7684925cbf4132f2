import { test, expect } from 'pglane/playwright';
import { CleanupManager, Factories } from 'pglane';

// Factories for this project's schema, defined as data.
const definitions = {
  factories: {
    board: { table: 'public.boards', fields: { id: { uuid: true }, name: { name: 'Board {{seq}}' } } },
    card: { table: 'public.cards', fields: { title: { name: 'Card {{seq}}' } } },
  },
};

test.describe.configure({ mode: 'parallel' });

for (const worker of ['first', 'second', 'third', 'fourth']) {
  test(`a board with cards is named in its own lane (${worker})`, async ({ lane }) => {
    const factories = Factories.fromObject(definitions, lane.db);
    const board = await factories.create('board', lane.ctx, lane.tracker, { name: 'Kanban' });
    expect(board.name).toBe(lane.ctx.name('Kanban'));
    const cards = await factories.createList('card', 3, lane.ctx, lane.tracker, { board_id: board.id });
    expect(cards.map((c) => c.board_id)).toEqual([board.id, board.id, board.id]);
    expect(lane.tracker.list()).toHaveLength(4);
  });
}

test('cleanup deletes the cards before their board and proves them gone', async ({ lane }) => {
  const factories = Factories.fromObject(definitions, lane.db);
  const board = await factories.create('board', lane.ctx, lane.tracker);
  await factories.createList('card', 2, lane.ctx, lane.tracker, { board_id: board.id });
  const report = await new CleanupManager(lane.db, lane.tracker, { verifyCleanup: true }).cleanup();
  expect(report.failures).toEqual([]);
  expect(report.deleted).toEqual({ 'public.boards': 1, 'public.cards': 2 });
  expect(report.verified).toBe(true);
});
