// The board in the browser: data from the factories, actions through the UI, checks with
// lane.db. Whatever the app creates under a test's project is cleaned up with it.
import { test, expect } from 'pglane/playwright';
import type { CommentRow, TaskRow } from './pglane-factories';

test('the board shows a project\'s tasks, their status and tags', async ({ page, lane }) => {
  const board = await lane.factories.create('board', { project: { name: 'Apollo' } });
  expect(board.project.name).toBe(lane.ctx.name('Apollo'));

  await page.goto(`/projects/${board.project.id}`);
  await expect(page.getByTestId('project-name')).toHaveText(board.project.name);
  await expect(page.getByTestId('task')).toHaveCount(3);
  const first = page.locator(`[data-testid=task][data-id="${board.first.id}"]`);
  await expect(first.getByTestId('tag')).toHaveText(board.tag.name);
  await expect(page.locator(`[data-testid=task][data-id="${board.shipped.id}"]`)).toHaveAttribute('data-status', 'done');
});

test('a task added through the form is saved in its project', async ({ page, lane }) => {
  const project = await lane.factories.create('project');
  await page.goto(`/projects/${project.id}`);
  const title = lane.ctx.name('Write the launch post');
  await page.getByLabel('title').fill(title);
  await page.getByRole('button', { name: 'Add task' }).click();
  await expect(page.getByTestId('task')).toHaveText([title]);

  // The app inserted it, not a factory: nobody tracked it, and cleanup still finds it
  // (it references the test's project).
  const task = await lane.db.one<TaskRow>('select * from tasks where project_id = $1', [project.id]);
  expect(task).toMatchObject({ title, status: 'todo', priority: 2 });
});

test('a comment posted in the UI is written by the project\'s owner', async ({ page, lane }) => {
  const task = await lane.factories.create('task', { title: 'Fix the login' });
  await page.goto(`/tasks/${task.id}`);
  await page.getByLabel('comment').fill('Reproduced on Safari');
  await page.getByRole('button', { name: 'Comment' }).click();
  await expect(page.getByTestId('comment')).toHaveCount(1);

  const comments = await lane.db.many<CommentRow & { owner: string }>(
    'select c.*, p.owner_id as owner from comments c join tasks t on t.id = c.task_id join projects p on p.id = t.project_id where c.task_id = $1',
    [task.id],
  );
  expect(comments).toHaveLength(1);
  expect(comments[0].author_id).toBe(comments[0].owner);
  expect(comments[0].body).toBe('Reproduced on Safari');
});

test('marking a task done in the UI updates it and nothing else', async ({ page, lane }) => {
  const project = await lane.factories.create('project');
  const [a, b] = await lane.factories.createList('task', 2, { project });
  await page.goto(`/tasks/${a.id}`);
  await page.getByRole('button', { name: 'Done' }).click();
  await expect(page.locator(`[data-testid=task][data-id="${a.id}"]`)).toHaveAttribute('data-status', 'done');
  const statuses = await lane.db.query<{ id: number; status: string }>('select id, status from tasks where id = any($1) order by id', [[a.id, b.id]]);
  expect(statuses).toEqual([
    { id: a.id, status: 'done' },
    { id: b.id, status: 'todo' },
  ]);
});
