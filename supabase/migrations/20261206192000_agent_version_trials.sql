-- Issue 18 item 5: assistant versions in production (docs/agents.md "Version trials").
-- A version's role (current | candidate | retired), the version that placed or answered each
-- call, and the functions that split calls between the live versions.
-- Schema: supabase/schemas/12_agents.sql.
set check_function_bodies = off;

alter table agent_versions add column role text not null default 'current'
  check (role in ('current', 'candidate', 'retired'));
-- Until now every push replaced the one assistant: an agent's latest version is current.
update agent_versions a set role = 'retired'
 where a.version < (select max(b.version) from agent_versions b where b.agent = a.agent);
create unique index agent_versions_live_idx on agent_versions (agent, role)
  where role in ('current', 'candidate');

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

drop function agent_record_version(text, text, text, text, jsonb, text, timestamptz);
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

revoke all on function public.agent_record_version(text,text,text,text,jsonb,text,timestamp with time zone,text) from public, anon, authenticated;
grant execute on function public.agent_record_version(text,text,text,text,jsonb,text,timestamp with time zone,text) to service_role;
revoke all on function internal.agent_version_calls(text,integer) from public, anon, authenticated;
grant execute on function internal.agent_version_calls(text,integer) to service_role;
revoke all on function public.agent_live_versions(text,text) from public, anon, authenticated;
grant execute on function public.agent_live_versions(text,text) to service_role;
revoke all on function public.agent_version_stats(text) from public, anon, authenticated;
grant execute on function public.agent_version_stats(text) to service_role;
revoke all on function public.agent_call_assign(bigint,text,integer) from public, anon, authenticated;
grant execute on function public.agent_call_assign(bigint,text,integer) to service_role;
revoke all on function public.agent_choose_inbound(text,text,integer,timestamp with time zone) from public, anon, authenticated;
grant execute on function public.agent_choose_inbound(text,text,integer,timestamp with time zone) to service_role;
revoke all on function public.agent_set_role(text,text) from public, anon, authenticated;
grant execute on function public.agent_set_role(text,text) to service_role;
revoke all on function internal.agent_call_from_choice() from public, anon, authenticated;
grant execute on function internal.agent_call_from_choice() to service_role;
