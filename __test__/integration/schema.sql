-- The schema of pglane's integration checks (playwright-integration.test.mjs): notes, and
-- archived notes that a trigger refuses to delete.
create table if not exists it_notes (
  id serial primary key,
  title text not null
);
create table if not exists it_archived (
  id serial primary key,
  note_id int not null references it_notes (id),
  title text not null
);
create or replace function it_archived_keep() returns trigger language plpgsql as $$
  begin raise exception 'archived notes are kept for the audit'; end $$;
drop trigger if exists it_keep on it_archived;
create trigger it_keep before delete on it_archived for each row execute function it_archived_keep();
