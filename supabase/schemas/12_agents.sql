-- The AI agents (Sarah, John) as pushed to Vapi, and the bookings they made in an external
-- calendar (repository: app/db/agents.py; docs/agents.md, docs/appointments.md).

-- A function body is checked when the function runs, not here: it may read a table that a
-- later file declares. (The migrations are applied with the check on.)
set check_function_bodies = off;

-- ---------------------------------------------------------------------------------------
-- tables
-- ---------------------------------------------------------------------------------------
-- One row per push of an agent definition: what was sent (the assistant body, the knowledge
-- files and the query tool, with their Vapi ids) so a later push knows what to update and
-- `nightshift agents rollback NAME VERSION` can send an older version again.
create table agent_versions (
  id                 bigint generated always as identity primary key,
  agent              text not null check (agent ~ '^[a-z0-9][a-z0-9_-]*$'),
  version            integer not null check (version > 0),
  content_hash       text not null,
  vapi_assistant_id  text not null,
  vapi_version       text,
  definition         jsonb not null,
  note               text,
  pushed_at          timestamptz not null,
  unique (agent, version)
);
alter table agent_versions enable row level security;
revoke all on agent_versions from public, anon, authenticated;
grant all on agent_versions to service_role;

-- A booking the agent made in an external calendar (Cal.com, GoHighLevel), by tool call:
-- a retried tool call finds it instead of booking twice.
create table calendar_bookings (
  key             text primary key,
  provider        text not null,
  external_uid    text,
  appointment_id  bigint references appointments (id) on delete set null,
  status          text not null check (status in ('booked', 'failed', 'cancelled')),
  starts_at       timestamptz not null,
  error           text,
  created_at      timestamptz not null,
  updated_at      timestamptz not null
);
alter table calendar_bookings enable row level security;
revoke all on calendar_bookings from public, anon, authenticated;
grant all on calendar_bookings to service_role;

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
-- agents
-- ---------------------------------------------------------------------------------------
-- Record a push: the agent's next version number, under a per-agent lock.
create or replace function agent_record_version(
  p_agent text, p_content_hash text, p_vapi_assistant_id text, p_vapi_version text,
  p_definition jsonb, p_note text, p_now timestamptz
)
returns setof agent_versions
language plpgsql set search_path = public as $$
declare
  v_next integer;
begin
  perform pg_advisory_xact_lock(hashtext('agent_versions:' || p_agent));
  select coalesce(max(a.version), 0) + 1 into v_next from agent_versions a where a.agent = p_agent;
  return query
    insert into agent_versions (agent, version, content_hash, vapi_assistant_id, vapi_version,
                                definition, note, pushed_at)
    values (p_agent, v_next, p_content_hash, p_vapi_assistant_id, p_vapi_version, p_definition,
            p_note, p_now)
    returning *;
end
$$;

-- The pushed versions of an agent, newest first (p_agent null: the latest of every agent).
create or replace function agent_versions_of(p_agent text)
returns setof agent_versions
language sql stable set search_path = public as $$
  select * from agent_versions a
   where (p_agent is not null and a.agent = p_agent)
      or (p_agent is null and a.version = (select max(b.version) from agent_versions b
                                            where b.agent = a.agent))
   order by a.agent, a.version desc;
$$;

-- The Vapi assistant id of an agent (by name, else the agent a campaign chose), from its
-- latest push; null when it was never pushed.
create or replace function agent_vapi_id(p_agent text, p_campaign text)
returns text
language sql stable set search_path = public as $$
  select a.vapi_assistant_id from agent_versions a
   where a.agent = coalesce(p_agent, (select c.definition->>'assistant' from campaigns c
                                       where c.slug = p_campaign))
   order by a.version desc
   limit 1;
$$;

-- ---------------------------------------------------------------------------------------
-- external calendar bookings
-- ---------------------------------------------------------------------------------------
create or replace function calendar_booking_get(p_key text)
returns setof calendar_bookings
language sql stable set search_path = public as $$
  select * from calendar_bookings where key = p_key;
$$;

create or replace function calendar_booking_put(
  p_key text, p_provider text, p_external_uid text, p_appointment_id bigint, p_status text,
  p_starts_at timestamptz, p_error text, p_now timestamptz
)
returns setof calendar_bookings
language sql set search_path = public as $$
  insert into calendar_bookings as b (key, provider, external_uid, appointment_id, status,
                                      starts_at, error, created_at, updated_at)
  values (p_key, p_provider, p_external_uid, p_appointment_id, p_status, p_starts_at, p_error,
          p_now, p_now)
  on conflict (key) do update
     set provider = excluded.provider,
         external_uid = coalesce(excluded.external_uid, b.external_uid),
         appointment_id = coalesce(excluded.appointment_id, b.appointment_id),
         status = excluded.status, starts_at = excluded.starts_at, error = excluded.error,
         updated_at = p_now
  returning *;
$$;

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
