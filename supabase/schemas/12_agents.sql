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
  -- the version trials (docs/agents.md "Version trials"): 'current' answers and places the
  -- agent's calls, a 'candidate' (its own Vapi assistant) shares them by Thompson sampling,
  -- 'retired' gets none. At most one current and one candidate per agent.
  role               text not null default 'current'
                     check (role in ('current', 'candidate', 'retired')),
  unique (agent, version)
);
create unique index agent_versions_live_idx on agent_versions (agent, role)
  where role in ('current', 'candidate');
alter table agent_versions enable row level security;
revoke all on agent_versions from public, anon, authenticated;
grant all on agent_versions to service_role;

-- Which agent version placed (outbound) or answered (inbound) a call: columns of `calls`
-- (03_outbox.sql) declared here, beside the versions they name. Null: no agent was chosen.
alter table calls add column agent text, add column agent_version integer;
create index calls_agent_version_idx on calls (agent, agent_version)
  where agent_version is not null;

-- The version an inbound assistant-request chose, by Vapi call id: the calls row does not
-- exist yet when Vapi asks; the insert trigger below copies it onto the row.
create table agent_call_choices (
  vapi_call_id  text primary key,
  agent         text not null,
  version       integer not null,
  chosen_at     timestamptz not null
);
alter table agent_call_choices enable row level security;
revoke all on agent_call_choices from public, anon, authenticated;
grant all on agent_call_choices to service_role;

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
-- build into Vapi's knowledge base; null until published. `inputs`: the key of the calls
-- (and builder) the latest build attempt read (app.agents.training): an hourly attempt whose
-- key is this one has nothing new to read and is not rebuilt; null for older builds.
create table training_builds (
  id            bigint generated always as identity primary key,
  version       integer not null unique check (version > 0),
  sha256        text not null,
  documents     jsonb not null,
  calls         integer not null check (calls >= 0),
  built_at      timestamptz not null,
  published_at  timestamptz,
  published     jsonb,
  inputs        text
);
alter table training_builds enable row level security;
revoke all on training_builds from public, anon, authenticated;
grant all on training_builds to service_role;

-- ---------------------------------------------------------------------------------------
-- agents
-- ---------------------------------------------------------------------------------------
-- Record a push: the agent's next version number, under a per-agent lock, in role p_role
-- ('current' or 'candidate'); the version that held that role before is retired.
create or replace function agent_record_version(
  p_agent text, p_content_hash text, p_vapi_assistant_id text, p_vapi_version text,
  p_definition jsonb, p_note text, p_now timestamptz, p_role text default 'current'
)
returns setof agent_versions
language plpgsql set search_path = public as $$
declare
  v_next integer;
begin
  perform pg_advisory_xact_lock(hashtext('agent_versions:' || p_agent));
  select coalesce(max(a.version), 0) + 1 into v_next from agent_versions a where a.agent = p_agent;
  update agent_versions a set role = 'retired' where a.agent = p_agent and a.role = p_role;
  return query
    insert into agent_versions (agent, version, content_hash, vapi_assistant_id, vapi_version,
                                definition, note, pushed_at, role)
    values (p_agent, v_next, p_content_hash, p_vapi_assistant_id, p_vapi_version, p_definition,
            p_note, p_now, p_role)
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

-- The Vapi assistant id of an agent's current version (by name, else the agent a campaign
-- chose); null when it was never pushed.
create or replace function agent_vapi_id(p_agent text, p_campaign text)
returns text
language sql stable set search_path = public as $$
  select a.vapi_assistant_id from agent_versions a
   where a.agent = coalesce(p_agent, (select c.definition->>'assistant' from campaigns c
                                       where c.slug = p_campaign))
     and a.role = 'current'
   order by a.version desc
   limit 1;
$$;

-- What a version's calls have shown: the calls whose end-of-call report arrived, those
-- answered (outcome answered or booked), booked, and their call quality (0-100) sum/count.
create or replace function internal.agent_version_calls(p_agent text, p_version integer)
returns table (calls bigint, answered bigint, booked bigint, quality_sum numeric,
               quality_n bigint)
language sql stable set search_path = public as $$
  select count(*), count(*) filter (where k.outcome in ('answered', 'booked')),
         count(*) filter (where k.outcome = 'booked'), coalesce(sum(q.score), 0),
         count(q.score)
    from calls k left join call_quality q on q.call_id = k.id
   where k.agent = p_agent and k.agent_version = p_version
     and k.report_received_at is not null;
$$;

-- The live versions of an agent (by name, else the agent a campaign chose): current first,
-- then the candidate, each with its calls' figures. Without a candidate nothing is counted
-- (one row, zeros): the hot path of every call placement stays one index read.
create or replace function agent_live_versions(p_agent text, p_campaign text)
returns table (agent text, role text, version integer, vapi_assistant_id text, calls bigint,
               answered bigint, booked bigint, quality_sum numeric, quality_n bigint)
language plpgsql stable set search_path = public as $$
#variable_conflict use_column
declare
  v_agent text := coalesce(p_agent, (select c.definition->>'assistant' from campaigns c
                                      where c.slug = p_campaign));
begin
  if not exists (select from agent_versions a where a.agent = v_agent
                                                and a.role = 'candidate') then
    return query
      select a.agent, a.role, a.version, a.vapi_assistant_id, 0::bigint, 0::bigint,
             0::bigint, 0::numeric, 0::bigint
        from agent_versions a where a.agent = v_agent and a.role = 'current';
    return;
  end if;
  return query
    select a.agent, a.role, a.version, a.vapi_assistant_id, s.calls, s.answered, s.booked,
           s.quality_sum, s.quality_n
      from agent_versions a
     cross join lateral internal.agent_version_calls(a.agent, a.version) s
     where a.agent = v_agent and a.role in ('current', 'candidate')
     order by a.role desc;
end
$$;

-- Per agent and version, for the console, the digest and `agents status`: every live
-- version and every retired one that made calls (p_agent null: every agent).
create or replace function agent_version_stats(p_agent text)
returns table (agent text, role text, version integer, vapi_assistant_id text,
               pushed_at timestamptz, calls bigint, answered bigint, booked bigint,
               quality_sum numeric, quality_n bigint)
language sql stable set search_path = public as $$
  select a.agent, a.role, a.version, a.vapi_assistant_id, a.pushed_at, s.calls, s.answered,
         s.booked, s.quality_sum, s.quality_n
    from agent_versions a
   cross join lateral internal.agent_version_calls(a.agent, a.version) s
   where (p_agent is null or a.agent = p_agent) and (a.role <> 'retired' or s.calls > 0)
   order by a.agent, a.version desc;
$$;

-- The version chosen for an outbound call, on its row; the version the row keeps. A row
-- claimed again (a retry after an ambiguous failure: Vapi may have placed the call already)
-- keeps the version chosen first while it is live, so the call Vapi made is counted for
-- the assistant that made it.
create or replace function agent_call_assign(p_call bigint, p_agent text, p_version integer)
returns integer
language sql set search_path = public as $$
  update calls c
     set agent = p_agent,
         agent_version = case
           when c.agent = p_agent and exists (select from agent_versions a
                                              where a.agent = p_agent
                                                and a.version = c.agent_version
                                                and a.role <> 'retired')
           then c.agent_version else p_version end
   where c.id = p_call
  returning c.agent_version;
$$;

-- The version an inbound assistant-request chose: kept by Vapi call id (the first choice
-- wins: Vapi may ask again), and put on the call's row when it exists already.
create or replace function agent_choose_inbound(
  p_vapi_call_id text, p_agent text, p_version integer, p_now timestamptz
)
returns void
language sql set search_path = public as $$
  insert into agent_call_choices (vapi_call_id, agent, version, chosen_at)
  values (p_vapi_call_id, p_agent, p_version, p_now)
  on conflict (vapi_call_id) do nothing;
  update calls set agent = p_agent, agent_version = p_version
   where vapi_call_id = p_vapi_call_id and agent is null;
$$;

-- `agents promote NAME`: the candidate becomes current, the current is retired;
-- `agents retire NAME`: the candidate is retired. The rows changed (none: no candidate).
create or replace function agent_set_role(p_agent text, p_action text)
returns setof agent_versions
language plpgsql set search_path = public as $$
begin
  perform pg_advisory_xact_lock(hashtext('agent_versions:' || p_agent));
  if not exists (select from agent_versions a where a.agent = p_agent
                                                and a.role = 'candidate') then
    return;
  end if;
  if p_action = 'promote' then
    return query update agent_versions a set role = 'retired'
                  where a.agent = p_agent and a.role = 'current' returning *;
    return query update agent_versions a set role = 'current'
                  where a.agent = p_agent and a.role = 'candidate' returning *;
  elsif p_action = 'retire' then
    return query update agent_versions a set role = 'retired'
                  where a.agent = p_agent and a.role = 'candidate' returning *;
  else
    raise exception 'agent_set_role: unknown action %', p_action;
  end if;
end
$$;

-- An inbound call's row, inserted by its first Vapi event, takes the version its
-- assistant-request chose.
create or replace function internal.agent_call_from_choice()
returns trigger
language plpgsql set search_path = public as $$
begin
  select c.agent, c.version into new.agent, new.agent_version
    from agent_call_choices c where c.vapi_call_id = new.vapi_call_id;
  return new;
end
$$;

create trigger calls_agent_choice before insert on calls for each row
  when (new.vapi_call_id is not null and new.agent is null)
  execute function internal.agent_call_from_choice();

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

-- What the training documents would be read from: an md5 of the (id, xmin) of exactly the
-- rows training_calls(p_since, p_now, any zone, p_limit) returns (any update of a call
-- gives its row a new xmin), and the latest build's `inputs`. Reads no transcript.
create or replace function training_inputs(
  p_since timestamptz, p_now timestamptz, p_limit integer
)
returns table (calls text, latest text)
language sql stable set search_path = public as $$
  select (select md5(coalesce(string_agg(r.id::text || ':' || r.x::text, ','
                                         order by r.ended_at desc, r.id), ''))
            from (select k.id, k.xmin as x, k.ended_at from calls k
                   where k.outcome in ('answered', 'booked')
                     and k.ended_at > p_since and k.ended_at <= p_now
                   order by k.ended_at desc, k.id
                   limit p_limit) r),
         (select b.inputs from training_builds b order by b.version desc limit 1);
$$;

-- Record a build when its content changed: the next version under a lock; nothing (no row)
-- when the latest build has the same sha256 (it then keeps p_inputs as its `inputs`).
create or replace function training_build_record(
  p_sha256 text, p_documents jsonb, p_calls integer, p_now timestamptz, p_inputs text
)
returns setof training_builds
language plpgsql set search_path = public as $$
declare
  v_latest training_builds;
begin
  perform pg_advisory_xact_lock(hashtext('training_builds'));
  select * into v_latest from training_builds order by version desc limit 1;
  if found and v_latest.sha256 = p_sha256 then
    update training_builds set inputs = p_inputs
     where id = v_latest.id and inputs is distinct from p_inputs;
    return;
  end if;
  return query
    insert into training_builds (version, sha256, documents, calls, built_at, inputs)
    values (coalesce(v_latest.version, 0) + 1, p_sha256, p_documents, p_calls, p_now, p_inputs)
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
