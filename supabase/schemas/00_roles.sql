-- Roles, schemas and the privileges every other file relies on.
--
-- nightshift reaches its data only through its functions, which only `service_role` (and
-- the role that owns them) may execute. `anon` and `authenticated`, the roles a browser could
-- reach through PostgREST, get nothing: every table has row-level security on and no policy
-- and is granted to service_role only, and no function is executable by them.
--
-- Two schemas hold the functions:
--   public    what Python calls by name (app/db/*.py). PostgREST exposes this schema.
--   internal  helpers that only other SQL calls. PostgREST does not expose it, so a helper
--             is never an endpoint, and a helper's name never competes with a public one.
--
-- The files of this directory apply in lexicographic order (the numeric prefix), each to a
-- database that already has what the files before it declare.

-- A function body is checked when the function runs, not here: it may read a table that a
-- later file declares. (The migrations are applied with the check on.)
set check_function_bodies = off;

-- Supabase creates these roles; a plain Postgres (the embedded server, the tests) does not.
do $$
begin
  if not exists (select from pg_roles where rolname = 'anon') then
    create role anon nologin noinherit;
  end if;
  if not exists (select from pg_roles where rolname = 'authenticated') then
    create role authenticated nologin noinherit;
  end if;
  if not exists (select from pg_roles where rolname = 'service_role') then
    create role service_role nologin noinherit bypassrls;
  end if;
end
$$;

grant usage on schema public to service_role;

create schema if not exists internal;
revoke all on schema internal from public;
grant usage on schema internal to service_role;

-- Functions created from now on by this role are executable by service_role. Per-schema
-- default privileges add to the global ones and cannot take away the global default
-- (EXECUTE for PUBLIC): the revoke below only undoes a platform's per-schema grant (Supabase
-- grants anon and authenticated in public). internal.secure_functions() revokes the rest;
-- 99_grants.sql runs it once every function is declared.
alter default privileges in schema public revoke execute on functions from anon, authenticated;
alter default privileges in schema public grant execute on functions to service_role;
alter default privileges in schema internal grant execute on functions to service_role;

-- Makes every function of public and internal executable by service_role only, whoever
-- created it (default privileges only cover the role that set them and cannot revoke
-- PUBLIC's EXECUTE); returns how many functions it covered. 99_grants.sql runs it last.
create or replace function internal.secure_functions() returns integer
language plpgsql set search_path = public as $$
declare
  f record;
  v_n integer := 0;
begin
  for f in
    select p.oid::regprocedure as sig
      from pg_proc p join pg_namespace n on n.oid = p.pronamespace
     where n.nspname in ('public', 'internal')
  loop
    execute format('revoke all on function %s from public, anon, authenticated', f.sig);
    execute format('grant execute on function %s to service_role', f.sig);
    v_n := v_n + 1;
  end loop;
  return v_n;
end
$$;

