-- Taskboard: the schema of a small project-management app (users, projects, tasks, comments,
-- tags). pglane's global setup applies this file once per database (schemaFiles in
-- playwright.config.ts) and records it; a second run against the same database skips it.

create type task_status as enum ('todo', 'doing', 'done');

create table users (
  id uuid primary key default gen_random_uuid(),
  email text not null unique,
  display_name text not null,
  created_at timestamptz not null default now()
);

create table projects (
  id bigint generated always as identity primary key,
  owner_id uuid not null references users (id),
  name text not null,
  slug text not null unique,
  archived_at timestamptz,
  created_at timestamptz not null default now()
);

create table tasks (
  id bigint generated always as identity primary key,
  project_id bigint not null references projects (id) on delete cascade,
  assignee_id uuid references users (id) on delete set null,
  title text not null check (length(title) > 0),
  status task_status not null default 'todo',
  priority int not null default 2 check (priority between 1 and 3),
  due_on date,
  created_at timestamptz not null default now()
);
create index tasks_project_idx on tasks (project_id);

create table comments (
  id uuid primary key default gen_random_uuid(),
  task_id bigint not null references tasks (id) on delete cascade,
  author_id uuid not null references users (id),
  body text not null,
  created_at timestamptz not null default now()
);
create index comments_task_idx on comments (task_id);

create table tags (
  id serial primary key,
  project_id bigint not null references projects (id) on delete cascade,
  name text not null,
  color text not null default '#888888',
  unique (project_id, name)
);

create table task_tags (
  task_id bigint not null references tasks (id) on delete cascade,
  tag_id int not null references tags (id) on delete cascade,
  primary key (task_id, tag_id)
);
