-- The install test's own application: boards with cards, nothing from pglane's preset.
create table if not exists public.boards (
  id uuid primary key,
  name text not null unique
);
create table if not exists public.cards (
  id bigserial primary key,
  board_id uuid not null references public.boards (id),
  title text not null
);
