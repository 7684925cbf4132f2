// Factories and queries without a browser: traits, lists, built values, typed rows, and the
// same names in every worker at once without a collision.
import { test, expect } from 'pglane/playwright';
import type { TaskRow, UserRow } from './pglane-factories';

test('traits and attributes shape a row; the row comes back as stored', async ({ lane }) => {
  const task = await lane.factories.create('task', { due_on: '2030-01-31' }, { traits: ['done', 'urgent'] });
  expect(task).toMatchObject({ status: 'done', priority: 1, due_on: '2030-01-31', assignee_id: null });
  expect(task.project?.owner?.email).toBe(lane.ctx.email('user1'));
  const stored = await lane.db.one<TaskRow>('select * from tasks where id = $1', [task.id]);
  const { project: _project, ...columns } = task;
  expect(stored).toEqual(columns);
});

test('an assignee set to null when the user goes (ON DELETE SET NULL) is still cleaned', async ({ lane }) => {
  const assignee = await lane.factories.create('user', { display_name: 'Ada' });
  const task = await lane.factories.create('task', { assignee_id: assignee.id });
  expect(await lane.db.execute('delete from users where id = $1', [assignee.id])).toBe(1);
  const row = await lane.db.one<Pick<TaskRow, 'assignee_id'>>('select assignee_id from tasks where id = $1', [task.id]);
  expect(row.assignee_id).toBeNull();
});

test('build gives the values without inserting', async ({ lane }) => {
  const draft = lane.factories.build('user', { display_name: 'Draft' });
  expect(draft.display_name).toBe(lane.ctx.name('Draft'));
  const found = await lane.db.query<UserRow>('select * from users where email = $1', [draft.email]);
  expect(found).toEqual([]);
});

for (const name of ['Apollo', 'Gemini', 'Mercury']) {
  test(`every worker creates a project named "${name}" at once, without a collision`, async ({ lane }) => {
    const project = await lane.factories.create('project', { name, slug: name.toLowerCase() });
    expect(project.slug).toBe(lane.ctx.slug(name.toLowerCase()));
    const same = await lane.db.query('select id from projects where slug = $1', [project.slug]);
    expect(same).toHaveLength(1);
  });
}
