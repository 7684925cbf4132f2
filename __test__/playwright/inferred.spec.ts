// 10 workers x 40 tests create rows of tables nobody wrote a factory for, at once, in one
// database: inferred values (lane names, unique short codes, unique hashed integers, check
// lists) never collide, each test's parents are its own, and the lane fixture cleans it all.
import { expect, test } from 'pglane/playwright';
import pg from 'pg';

const SCHEMA = `
  select pg_advisory_xact_lock(7095312440219086199);
  create schema if not exists infer_pw;
  create table if not exists infer_pw.projects (id bigserial primary key, name text not null unique,
    code varchar(8) not null unique, status text not null check (status in ('open', 'closed')));
  create table if not exists infer_pw.tasks (id uuid primary key, project_id bigint not null references infer_pw.projects(id),
    title text not null, position int not null unique, done boolean not null default false);
  create table if not exists infer_pw.comments (id serial primary key, task_id uuid not null references infer_pw.tasks(id) on delete cascade,
    body text not null check (length(body) between 1 and 200));`;

let client: pg.Client;
test.beforeAll(async () => {
  client = new pg.Client({ connectionString: process.env.DATABASE_URL || process.env.PGLANE_DATABASE_URL });
  await client.connect();
  await client.query(`begin; ${SCHEMA}; commit;`);
});
test.afterAll(async () => {
  await client?.end();
});

for (let i = 0; i < 40; i++) {
  test(`inferred rows ${i}: no collisions, own parents, cleaned`, async ({ lane }) => {
    const tasks = await lane.factories.createList('infer_pw.tasks', 5);
    const comment = await lane.factories.create('infer_pw.comments', {}, { connect: { task: tasks[0] } });
    expect(comment.task_id).toBe(tasks[0].id);
    expect(new Set(tasks.map((t) => t.project_id)).size).toBe(5);
    for (const t of tasks) {
      expect(t.title.startsWith(lane.ctx.prefix('test'))).toBe(true);
      expect(t.project.status).toBe('open');
      expect(t.project.code).toHaveLength(8);
    }
    const mine = await client.query('select count(*)::int as n from infer_pw.projects where name like $1', [lane.ctx.testPattern()]);
    expect(mine.rows[0].n).toBe(5);
    expect(lane.tracker.count()).toBe(11);
  });
}
