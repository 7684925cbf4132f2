-- Profiles made by a trigger, as Supabase's "managing user data" guide does it: every new
-- auth.users row gets its public.profiles row from `on_auth_user_created`. Optional: the preset
-- adopts the trigger's profile (it upserts by id), so it works with and without this file.
-- Loads as `postgres` on a real Supabase database (a trigger on auth.users needs the TRIGGER
-- privilege Supabase grants `postgres`, not ownership). Idempotent.

begin;
select pg_advisory_xact_lock(7095312440219086101);

create or replace function public.handle_new_user()
returns trigger
language plpgsql
security definer set search_path = ''
as $$
begin
  insert into public.profiles (id, email, full_name)
  values (new.id, coalesce(new.email, ''), new.raw_user_meta_data ->> 'full_name');
  return new;
end;
$$;

do $$
begin
  if not exists (select 1 from pg_trigger where tgname = 'on_auth_user_created' and tgrelid = 'auth.users'::regclass) then
    create trigger on_auth_user_created
      after insert on auth.users
      for each row execute procedure public.handle_new_user();
  end if;
end $$;

commit;
