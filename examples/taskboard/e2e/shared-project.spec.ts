// Data a file's tests share: created once per worker in beforeAll with `workerLane`, cleaned
// when the worker ends. Each test's own rows still go with its `lane`.
import { test, expect } from 'pglane/playwright';
import type { ProjectRow } from './pglane-factories';

let project: ProjectRow;

test.beforeAll(async ({ workerLane }) => {
  project = await workerLane.factories.create('project', { name: 'Shared roadmap' }, { traits: ['archived'] });
});

test('the shared project is there for every test of the file', async ({ lane, workerLane }) => {
  const row = await lane.db.one<Pick<ProjectRow, 'name' | 'archived_at'>>('select name, archived_at from projects where id = $1', [project.id]);
  expect(row.name).toBe(workerLane.ctx.name('Shared roadmap'));
  expect(row.archived_at).not.toBeNull();
});

test('a test adds tasks to the shared project; they go after the test, the project stays', async ({ lane }) => {
  const tasks = await lane.factories.createList('task', 3, { project }, { traits: ['urgent'] });
  expect(tasks.map((t) => t.priority)).toEqual([1, 1, 1]);
  const mine = await lane.db.query<{ n: number }>('select count(*)::int as n from tasks where project_id = $1 and title like $2', [project.id, lane.ctx.testPattern()]);
  expect(mine).toEqual([{ n: 3 }]);
});

test('the shared project in the browser shows this test\'s task', async ({ page, lane }) => {
  const task = await lane.factories.create('task', { projectId: project.id, title: 'Visible' });
  await page.goto(`/projects/${project.id}`);
  await expect(page.locator(`[data-testid=task][data-id="${task.id}"]`)).toHaveText(task.title);
});

test('a tag of the shared project, tagged on a task of this test', async ({ lane }) => {
  const link = await lane.factories.create('taskTag', {
    task: await lane.factories.create('task', { project }),
    tag: await lane.factories.create('tag', { project, name: 'release' }),
  });
  const tags = await lane.db.query<{ name: string }>(
    'select g.name from task_tags tt join tags g on g.id = tt.tag_id where tt.task_id = $1',
    [link.task_id],
  );
  expect(tags).toEqual([{ name: lane.ctx.name('release') }]);
});
