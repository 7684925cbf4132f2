-- The reference application of pglane's preset: an AI chat product on Supabase.
--
-- The app's tables with foreign keys to auth.users and row-level security written as a
-- Supabase project would. It uses the `auth` schema and never changes it, so it loads as
-- `postgres` on a real Supabase database (local stack or hosted). On plain PostgreSQL, load
-- examples/auth-stand-in.sql first (roles, a minimal `auth` schema).
-- Idempotent, and safe to apply from several processes at once (an advisory lock serialises it).

begin;
select pg_advisory_xact_lock(7095312440219086101);


create table if not exists public.profiles (
  id uuid primary key references auth.users (id) on delete cascade,
  email text not null,
  full_name text,
  avatar_url text,
  onboarded boolean not null default false,
  created_at timestamptz not null default now()
);

create table if not exists public.organizations (
  id uuid primary key default gen_random_uuid(),
  name text not null,
  slug text not null unique,
  created_by uuid references auth.users (id) on delete set null,
  created_at timestamptz not null default now()
);

create table if not exists public.organization_members (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references public.organizations (id) on delete cascade,
  user_id uuid not null references auth.users (id) on delete cascade,
  role text not null default 'member' check (role in ('owner', 'admin', 'member')),
  created_at timestamptz not null default now(),
  unique (organization_id, user_id)
);
create index if not exists organization_members_user_idx on public.organization_members (user_id);

create table if not exists public.groups (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references public.organizations (id) on delete cascade,
  name text not null,
  description text,
  created_at timestamptz not null default now(),
  unique (organization_id, name)
);

create table if not exists public.group_members (
  id uuid primary key default gen_random_uuid(),
  group_id uuid not null references public.groups (id) on delete cascade,
  user_id uuid not null references auth.users (id) on delete cascade,
  created_at timestamptz not null default now(),
  unique (group_id, user_id)
);
create index if not exists group_members_user_idx on public.group_members (user_id);

create table if not exists public.models (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references public.organizations (id) on delete cascade,
  name text not null,
  provider text not null default 'openai',
  model_key text not null default 'gpt-4o-mini',
  created_at timestamptz not null default now()
);
create index if not exists models_org_idx on public.models (organization_id);

create table if not exists public.group_models (
  id uuid primary key default gen_random_uuid(),
  group_id uuid not null references public.groups (id) on delete cascade,
  model_id uuid not null references public.models (id) on delete cascade,
  created_at timestamptz not null default now(),
  unique (group_id, model_id)
);
create index if not exists group_models_model_idx on public.group_models (model_id);

create table if not exists public.invites (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references public.organizations (id) on delete cascade,
  email text not null,
  role text not null default 'member' check (role in ('owner', 'admin', 'member')),
  token text not null unique default md5(random()::text || clock_timestamp()::text),
  invited_by uuid references auth.users (id) on delete set null,
  accepted_at timestamptz,
  created_at timestamptz not null default now()
);
create index if not exists invites_org_idx on public.invites (organization_id);

-- Conversations reference their org and user with NO ACTION: the app never deletes an org
-- with conversations, so cleanup must find and delete them first.
create table if not exists public.conversations (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references public.organizations (id),
  user_id uuid not null references auth.users (id),
  model_id uuid references public.models (id) on delete set null,
  title text not null,
  created_at timestamptz not null default now()
);
create index if not exists conversations_org_idx on public.conversations (organization_id);
create index if not exists conversations_user_idx on public.conversations (user_id);

create table if not exists public.messages (
  id uuid primary key default gen_random_uuid(),
  conversation_id uuid not null references public.conversations (id) on delete cascade,
  user_id uuid references auth.users (id) on delete set null,
  role text not null default 'user' check (role in ('user', 'assistant', 'system')),
  content text not null,
  created_at timestamptz not null default now()
);
create index if not exists messages_conversation_idx on public.messages (conversation_id);

-- Row-level security, as a Supabase project writes it. Membership checks go through a
-- security-definer function so that policies on organization_members do not recurse.

create or replace function public.is_org_member(org uuid) returns boolean
language sql stable security definer set search_path = public as $$
  select exists (select 1 from public.organization_members m where m.organization_id = org and m.user_id = auth.uid())
$$;
grant execute on function public.is_org_member(uuid) to anon, authenticated, service_role;

grant usage on schema public to anon, authenticated, service_role;
grant select, insert, update, delete on all tables in schema public to authenticated, service_role;

alter table public.profiles enable row level security;
alter table public.organizations enable row level security;
alter table public.organization_members enable row level security;
alter table public.groups enable row level security;
alter table public.group_members enable row level security;
alter table public.models enable row level security;
alter table public.group_models enable row level security;
alter table public.invites enable row level security;
alter table public.conversations enable row level security;
alter table public.messages enable row level security;

drop policy if exists "own profile" on public.profiles;
create policy "own profile" on public.profiles for all to authenticated
  using (id = auth.uid()) with check (id = auth.uid());

drop policy if exists "members see their organizations" on public.organizations;
create policy "members see their organizations" on public.organizations for select to authenticated
  using (public.is_org_member(id));

drop policy if exists "members see memberships of their organizations" on public.organization_members;
create policy "members see memberships of their organizations" on public.organization_members for select to authenticated
  using (public.is_org_member(organization_id));

drop policy if exists "members see groups" on public.groups;
create policy "members see groups" on public.groups for select to authenticated
  using (public.is_org_member(organization_id));

drop policy if exists "members see group members" on public.group_members;
create policy "members see group members" on public.group_members for select to authenticated
  using (exists (select 1 from public.groups g where g.id = group_id and public.is_org_member(g.organization_id)));

drop policy if exists "members see models" on public.models;
create policy "members see models" on public.models for select to authenticated
  using (public.is_org_member(organization_id));

drop policy if exists "members see group models" on public.group_models;
create policy "members see group models" on public.group_models for select to authenticated
  using (exists (select 1 from public.groups g where g.id = group_id and public.is_org_member(g.organization_id)));

drop policy if exists "members see invites" on public.invites;
create policy "members see invites" on public.invites for select to authenticated
  using (public.is_org_member(organization_id));

drop policy if exists "own conversations" on public.conversations;
create policy "own conversations" on public.conversations for all to authenticated
  using (user_id = auth.uid() and public.is_org_member(organization_id))
  with check (user_id = auth.uid() and public.is_org_member(organization_id));

drop policy if exists "messages of own conversations" on public.messages;
create policy "messages of own conversations" on public.messages for all to authenticated
  using (exists (select 1 from public.conversations c where c.id = conversation_id and c.user_id = auth.uid()))
  with check (exists (select 1 from public.conversations c where c.id = conversation_id and c.user_id = auth.uid()));

commit;
