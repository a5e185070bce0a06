-- Issue 18 item 4: the training documents built by the growth job, versioned
-- (docs/agents.md "The training loop"). Schema: supabase/schemas/12_agents.sql.
set check_function_bodies = off;

-- The training documents (objection_responses.md, call_handling_playbook.md) built by the
-- growth job from ended calls: one row per build whose content changed (docs/agents.md
-- "The training loop"). `published` names, per agent, the agent version that carried this
-- build into Vapi's knowledge base; null until published.
create table training_builds (
  id            bigint generated always as identity primary key,
  version       integer not null unique check (version > 0),
  sha256        text not null,
  documents     jsonb not null,
  calls         integer not null check (calls >= 0),
  built_at      timestamptz not null,
  published_at  timestamptz,
  published     jsonb
);
alter table training_builds enable row level security;
revoke all on training_builds from public, anon, authenticated;
grant all on training_builds to service_role;

-- ---------------------------------------------------------------------------------------
-- the training loop (docs/agents.md)
-- ---------------------------------------------------------------------------------------
-- The conversations the training documents learn from: answered or booked calls that ended
-- in (p_since, p_now], newest first. The hour is the call's start in p_timezone.
create or replace function training_calls(
  p_since timestamptz, p_now timestamptz, p_timezone text, p_limit integer
)
returns table (call_id bigint, outcome text, hour integer, duration_seconds numeric,
               transcript text, analysis jsonb)
language sql stable set search_path = public as $$
  select k.id, k.outcome,
         extract(hour from coalesce(k.started_at, k.ended_at) at time zone p_timezone)::integer,
         k.duration_seconds, k.transcript, k.analysis
    from calls k
   where k.outcome in ('answered', 'booked')
     and k.ended_at > p_since and k.ended_at <= p_now
   order by k.ended_at desc, k.id
   limit p_limit;
$$;

-- Record a build when its content changed: the next version under a lock; nothing (no row)
-- when the latest build has the same sha256.
create or replace function training_build_record(
  p_sha256 text, p_documents jsonb, p_calls integer, p_now timestamptz
)
returns setof training_builds
language plpgsql set search_path = public as $$
declare
  v_latest training_builds;
begin
  perform pg_advisory_xact_lock(hashtext('training_builds'));
  select * into v_latest from training_builds order by version desc limit 1;
  if found and v_latest.sha256 = p_sha256 then
    return;
  end if;
  return query
    insert into training_builds (version, sha256, documents, calls, built_at)
    values (coalesce(v_latest.version, 0) + 1, p_sha256, p_documents, p_calls, p_now)
    returning *;
end
$$;

-- The newest builds, newest first (the diff reads the last two; publishing the first).
create or replace function training_builds_latest(p_limit integer)
returns setof training_builds
language sql stable set search_path = public as $$
  select * from training_builds order by version desc limit p_limit;
$$;

-- The newest published build (what every push of an agent carries), if any.
create or replace function training_build_published()
returns setof training_builds
language sql stable set search_path = public as $$
  select * from training_builds where published_at is not null
   order by version desc limit 1;
$$;

-- Mark a build published: p_published maps each agent to the version that carried it.
create or replace function training_build_mark_published(
  p_version integer, p_published jsonb, p_now timestamptz
)
returns setof training_builds
language sql set search_path = public as $$
  update training_builds
     set published_at = p_now, published = coalesce(published, '{}') || p_published
   where version = p_version
  returning *;
$$;

revoke all on function public.training_calls(timestamp with time zone,timestamp with time zone,text,integer) from public, anon, authenticated;
grant execute on function public.training_calls(timestamp with time zone,timestamp with time zone,text,integer) to service_role;
revoke all on function public.training_build_record(text,jsonb,integer,timestamp with time zone) from public, anon, authenticated;
grant execute on function public.training_build_record(text,jsonb,integer,timestamp with time zone) to service_role;
revoke all on function public.training_builds_latest(integer) from public, anon, authenticated;
grant execute on function public.training_builds_latest(integer) to service_role;
revoke all on function public.training_build_published() from public, anon, authenticated;
grant execute on function public.training_build_published() to service_role;
revoke all on function public.training_build_mark_published(integer,jsonb,timestamp with time zone) from public, anon, authenticated;
grant execute on function public.training_build_mark_published(integer,jsonb,timestamp with time zone) to service_role;
