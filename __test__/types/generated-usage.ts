// Compiled by generated-types.test.mjs against the types `npx pglane types` generates for the
// schema and factories in that test. Correct use compiles; each misuse is marked `@ts-expect-error`, so it
// must fail to compile (an unused directive is an error), and the test also compiles the file
// without the directives and checks each misuse's error.
import { test } from 'pglane/playwright';
import { Factories, ResourceTracker, WorkerContext, typedFactories } from 'pglane';
import type { Factories as Generated, Result, Row } from './pglane-types';

test('factories are typed by the generated map', async ({ lane }) => {
  // Any table is a factory; the result is the row as pglane returns it, with its parents.
  const task = await lane.factories.create('public.tasks', { title: 'Write the docs' });
  const title: string = task.title;
  const projectId: number = task.project_id; // bigint: a number, as to_json gives it
  const status: 'todo' | 'doing' | 'done' = task.status;
  const estimate: number | null = task.estimate;
  const tags: string[] = task.tags;
  const budget: number | null | undefined = task.project?.budget; // numeric: a number
  task.project?.name.toUpperCase();
  // Definitions, their traits and steps.
  const finished = await lane.factories.create('task', { title: 'Ship' }, { traits: ['finished'] });
  const board = await lane.factories.create('board', { project: { name: 'Roadmap' } });
  const boardTitle: string = board.first.title;
  // Parents connected by row, by key, through connect; attributes of every JSON shape.
  await lane.factories.create('public.tasks', { project: board.project });
  await lane.factories.create('public.tasks', { project_id: '5', meta: { a: [1, 'x', null] }, due: '2026-01-01' });
  await lane.factories.create('tasks', {}, { connect: { project: board.project }, fill: 'all' });
  const projects = await lane.factories.createList('public.projects', 2, { budget: 12.5 });
  const firstName: string = projects[0].name;
  const draft = lane.factories.build('public.projects', { name: 'Draft' });
  const row: Row<'public.tasks'> = task;
  const result: Result<'board'> = board;
  void [title, projectId, status, estimate, tags, budget, finished, boardTitle, firstName, draft, row, result];

  // @ts-expect-error title is text
  await lane.factories.create('public.tasks', { title: 1 });
  // @ts-expect-error no trait of that name
  await lane.factories.create('task', {}, { traits: ['finishd'] });
  // @ts-expect-error a table without a definition has no traits
  await lane.factories.create('public.projects', {}, { traits: ['finished'] });
  // @ts-expect-error no table or factory of that name
  await lane.factories.create('public.taks');
  // @ts-expect-error no column of that name
  await lane.factories.create('public.tasks', { titel: 'x' });
  // @ts-expect-error not a label of task_status
  await lane.factories.create('public.tasks', { status: 'blocked' });
  // @ts-expect-error a generated column takes no value
  await lane.factories.create('public.tasks', { search: 'x' });
  // @ts-expect-error bigint comes back as a number
  const wrong: string = task.project_id;
  // @ts-expect-error no relation of that name
  await lane.factories.create('public.tasks', {}, { connect: { projet: board.project } });
  // @ts-expect-error a step takes its factory's attributes
  await lane.factories.create('board', { first: { title: false } });
  void wrong;
});

// The same map for a registry used outside the fixture.
export async function outside(ctx: WorkerContext, tracker: ResourceTracker) {
  const registry = typedFactories<Generated>(Factories.fromSchema());
  const project = await registry.create('public.projects', ctx, tracker, { name: 'Acme' });
  const name: string = project.name;
  // @ts-expect-error name is text
  await registry.create('public.projects', ctx, tracker, { name: 1 });
  return name;
}
