// A compile-time test (tsc -p examples/taskboard, run by npm run lint and __test__/types.test.mjs):
// with pglane-factories.d.ts, factory names, attributes and traits are checked and results are
// typed. Each @ts-expect-error must be an error, or tsc fails.
import { test, pglaneTest, type Lane } from 'pglane/playwright';
import type { TaskboardFactories, TaskRow } from './pglane-factories';

test('types', async ({ lane, workerLane }) => {
  const task = await lane.factories.create('task', { title: 'x', projectId: 1 }, { traits: ['done'] });
  const id: number = task.id;
  const status: 'todo' | 'doing' | 'done' = task.status;
  const board = await lane.factories.create('board');
  const owner: string = board.owner.email;
  const list: TaskRow[] = await workerLane.factories.createList('task', 2);
  const row = await lane.db.one<TaskRow>('select * from tasks limit 1');
  const title: string = row.title;
  void [id, status, owner, list, title];

  // @ts-expect-error: no factory "projet"
  await lane.factories.create('projet');
  // @ts-expect-error: "finishd" is no trait of task
  await lane.factories.create('task', {}, { traits: ['finishd'] });
  // @ts-expect-error: title is text
  await lane.factories.create('task', { title: 1 });
  // @ts-expect-error: no attribute "titel"
  await lane.factories.create('task', { titel: 'x' });
  // @ts-expect-error: a task has no "name"
  void task.name;
});

// The explicit form, for a project that does not augment PglaneFactories.
const typed = pglaneTest<TaskboardFactories>();
typed('explicit', async ({ lane }) => {
  const l: Lane<TaskboardFactories> = lane;
  // @ts-expect-error: traits are checked here too
  await l.factories.create('project', {}, { traits: ['done'] });
});
