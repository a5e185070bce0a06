-- Campaigns: definitions and steps, enrollment, the drip claim and its batch completion, stop
-- rules, and the campaign manager (deliverability guard, call queue, call retries)
-- (repository: app/db/campaigns.py).
--
-- The drip loop is: claim_due_steps (one call, FOR UPDATE SKIP LOCKED + lease) → the gate
-- and rendering in Python → enqueue_outbox (one call: every outbox row of the batch, each
-- channel's first chunk written already claimed) → the provider calls → complete_steps (one
-- call: every enrollment of the batch).

-- A function body is checked when the function runs, not here: it may read a table that a
-- later file declares. (The migrations are applied with the check on.)
set check_function_bodies = off;

-- ---------------------------------------------------------------------------------------
-- tables
-- ---------------------------------------------------------------------------------------
create table campaigns (
  id            bigint generated always as identity primary key,
  slug          text not null unique check (slug ~ '^[a-z0-9][a-z0-9-]*$'),
  name          text not null,
  status        text not null default 'active'
                check (status in ('draft', 'active', 'paused', 'archived')),
  definition    jsonb not null default '{}',   -- audience, window, caps, stop rules
  paused_reason text,
  paused_at     timestamptz,
  resumed_at    timestamptz,
  created_at    timestamptz not null default now(),
  updated_at    timestamptz not null default now()
);
alter table campaigns enable row level security;
revoke all on campaigns from public, anon, authenticated;
grant all on campaigns to service_role;

create table campaign_steps (
  id            bigint generated always as identity primary key,
  campaign_id   bigint not null references campaigns (id) on delete cascade,
  position      integer not null check (position >= 0),
  channel       text not null check (channel in ('email', 'sms', 'call')),
  delay_seconds integer not null default 0 check (delay_seconds >= 0),
  template      jsonb not null default '{}',   -- subject/body or A/B variants
  send_window   jsonb,
  unique (campaign_id, position)
);
alter table campaign_steps enable row level security;
revoke all on campaign_steps from public, anon, authenticated;
grant all on campaign_steps to service_role;

create table enrollments (
  id               bigint generated always as identity primary key,
  campaign_id      bigint not null references campaigns (id) on delete cascade,
  lead_id          bigint not null references leads (id) on delete cascade,
  status           text not null default 'active'
                   check (status in ('active', 'completed', 'stopped', 'paused')),
  current_step     integer not null default 0,
  next_run_at      timestamptz,
  lease_owner      text,
  lease_expires_at timestamptz,
  stopped_reason   text,
  enrolled_at      timestamptz not null default now(),
  updated_at       timestamptz not null default now(),
  -- lead first: it is also the index of a lead's enrollments (the stop rules, the console,
  -- a lead's deletion); a campaign's are read through enrollments_campaign_enrolled_idx. One
  -- index fewer to write at each claim and settle (migration 20261208140000).
  unique (lead_id, campaign_id)
);
-- The drip claim's hot path: due active enrollments only, in the claim's total order (id
-- breaks the ties of a whole enrollment wave due at one instant).
create index enrollments_due_idx on enrollments (next_run_at, id) where status = 'active';
-- enroll_leads' count of a campaign's enrollments today (its cap): a seq scan of every
-- enrollment, every 15 minutes, without it.
create index enrollments_campaign_enrolled_idx on enrollments (campaign_id, enrolled_at);
-- The claims still leased (release_orphan_claims): almost always none.
create index enrollments_leased_idx on enrollments (lease_expires_at)
  where lease_owner is not null;
alter table enrollments enable row level security;
revoke all on enrollments from public, anon, authenticated;
grant all on enrollments to service_role;

-- enroll_leads' memory (issue 19): it read every lead of each campaign's audience at every
-- run (6,017 probes for ~2 enrolments by day 28 of a 10,000-lead simulation). A pass that
-- did not reach its LIMIT left no matching lead unenrolled; after it, only a lead that was
-- inserted or changed in a column the audience reads can newly match. enroll_pending logs
-- those leads (the triggers after enroll_leads), enroll_passes the campaigns whose last pass
-- was complete, with the audience it read. No foreign key on lead_id: its check would lock
-- each lead's row; a deleted lead's entry joins no lead.
create table enroll_pending (
  lead_id bigint not null
);
alter table enroll_pending enable row level security;
revoke all on enroll_pending from public, anon, authenticated;
grant all on enroll_pending to service_role;

create table enroll_passes (
  campaign_id bigint primary key references campaigns (id) on delete cascade,
  audience    jsonb not null  -- the audience the complete pass read
);
alter table enroll_passes enable row level security;
revoke all on enroll_passes from public, anon, authenticated;
grant all on enroll_passes to service_role;

-- ---------------------------------------------------------------------------------------
-- campaigns and enrollment
-- ---------------------------------------------------------------------------------------

-- Loads a campaign (jsonb from the validated YAML) by slug. Steps are upserted by position,
-- so enrolled leads keep their positions; steps past the new end are removed (enrollments
-- beyond the end complete at their next claim).
create or replace function upsert_campaign(p_campaign jsonb, p_now timestamptz default now())
returns table (campaign_id bigint, slug text, status text, steps integer, created boolean)
language plpgsql set search_path = public as $$
#variable_conflict use_column
declare
  v_id bigint;
  v_created boolean;
  v_step jsonb;
  v_pos integer := 0;
begin
  insert into campaigns as c (slug, name, status, definition, created_at, updated_at)
  values (p_campaign->>'slug', p_campaign->>'name', coalesce(p_campaign->>'status', 'active'),
          p_campaign->'definition', p_now, p_now)
  on conflict (slug) do update
    set name = excluded.name, definition = excluded.definition, updated_at = p_now,
        status = case when c.status = 'paused' then c.status else excluded.status end
  returning c.id, (xmax = 0) into v_id, v_created;

  for v_step in select * from jsonb_array_elements(p_campaign->'steps') loop
    insert into campaign_steps (campaign_id, position, channel, delay_seconds, template, send_window)
    values (v_id, v_pos, v_step->>'channel', (v_step->>'delay_seconds')::integer,
            v_step->'template', nullif(v_step->'window', 'null'::jsonb))
    on conflict (campaign_id, position) do update
      set channel = excluded.channel, delay_seconds = excluded.delay_seconds,
          template = excluded.template, send_window = excluded.send_window;
    v_pos := v_pos + 1;
  end loop;
  delete from campaign_steps s where s.campaign_id = v_id and s.position >= v_pos;
  return query select c.id, c.slug, c.status, v_pos, v_created from campaigns c where c.id = v_id;
end
$$;

-- Every campaign with its step count and active enrollments (`nightshift campaigns list`).
create or replace function list_campaigns()
returns table (id bigint, slug text, name text, status text, paused_reason text,
               active_enrollments bigint, steps bigint)
language sql stable set search_path = public as $$
  select c.id, c.slug, c.name, c.status, c.paused_reason,
         (select count(*) from enrollments e where e.campaign_id = c.id and e.status = 'active'),
         (select count(*) from campaign_steps s where s.campaign_id = c.id)
    from campaigns c order by c.slug;
$$;

-- Today's enrollment cap of a campaign: min(new_per_day, ramp_start + ramp_step * days live).
create or replace function internal.campaign_enroll_cap(p_campaign campaigns, p_now timestamptz)
returns integer
language sql stable set search_path = public as $$
  select least(
    coalesce((p_campaign.definition->'caps'->>'new_per_day')::integer, 100),
    coalesce((p_campaign.definition->'caps'->>'ramp_start')::integer, 1000000)
      + coalesce((p_campaign.definition->'caps'->>'ramp_step')::integer, 0)
        * greatest(0, (p_now::date - p_campaign.created_at::date)));
$$;

-- Enrolls matching leads into every active campaign, up to each campaign's cap for today
-- (UTC day), hottest (score) then newest first. A lead in a stopped/booked/opted-out state,
-- held for a human (needs_review),
-- or already enrolled in the campaign is never enrolled. Returns one row per campaign.
-- Planned at every call (plan_cache_mode): a pooled connection kept the generic plan it
-- cached in the first hour, when enrollments was nearly empty, until an autoanalyze; in a
-- 10,000-lead simulation the day's first run (625 enrollments) took 0.8 s on day 2 and
-- 3.2 s on day 3 over that connection, 0.05-0.12 s on a new one (either plan mode), and
-- 0.05-0.09 s planned per call (the migration 20261207101000 has the figures).
-- A campaign whose last pass (the previous call's) was complete, with the same audience,
-- reads only the leads logged in enroll_pending since (issue 19, migration 20261211100000):
-- the same candidates as a full pass, since every other matching lead is enrolled already,
-- so the same leads in the same order. A full pass otherwise: the campaign's first, a new
-- audience, a pass that reached its LIMIT (a capped day continues on the next), a call that
-- made no pass (no step, today's cap already met), a campaign that was not active at the
-- last call; and the lead of a deleted enrollment is logged (it may match again).
create or replace function enroll_leads(p_now timestamptz default now())
returns table (campaign_id bigint, slug text, enrolled integer, cap integer)
language plpgsql set search_path = public set plan_cache_mode = force_custom_plan as $$
#variable_conflict use_column
declare
  c campaigns;
  v_cap integer;
  v_today integer;
  v_first integer;
  v_n integer;
  a jsonb;
  v_changed bigint[];
  v_full boolean;
  v_done bigint[] := '{}';
begin
  -- The leads changed since the last call, read and emptied first: a change committed after
  -- this statement's snapshot stays logged for the next call (a pass below may see it too).
  with taken as (delete from enroll_pending returning lead_id)
  select coalesce(array_agg(distinct lead_id), '{}') into v_changed from taken;
  for c in select * from campaigns where status = 'active' order by id for update loop
    a := coalesce(c.definition->'audience', '{}');
    v_cap := internal.campaign_enroll_cap(c, p_now);
    v_done := v_done || c.id;
    -- A full pass unless the last call's pass of this campaign was complete for this audience.
    v_full := not coalesce(
      (select p.audience = a from enroll_passes p where p.campaign_id = c.id), false);
    if not v_full and cardinality(v_changed) = 0 then
      -- nothing changed since a complete pass: no lead can newly match
      return query select c.id, c.slug, 0, v_cap;
      continue;
    end if;
    select count(*) into v_today from enrollments e
     where e.campaign_id = c.id and e.enrolled_at >= date_trunc('day', p_now);
    select s.delay_seconds into v_first from campaign_steps s
     where s.campaign_id = c.id order by s.position limit 1;
    v_n := 0;
    if v_first is not null and v_cap > v_today then
      insert into enrollments (campaign_id, lead_id, next_run_at, enrolled_at, updated_at)
      select c.id, l.id, p_now + make_interval(secs => v_first), p_now, p_now
        from leads l
       where l.status = any (coalesce(
               (select array_agg(x) from jsonb_array_elements_text(a->'status') x),
               array['new', 'contacted', 'engaged']))
         and (jsonb_typeof(a->'industry') is distinct from 'array' or l.industry in (select jsonb_array_elements_text(a->'industry')))
         and (jsonb_typeof(a->'source') is distinct from 'array' or l.source in (select jsonb_array_elements_text(a->'source')))
         and (jsonb_typeof(a->'state') is distinct from 'array' or l.state in (select jsonb_array_elements_text(a->'state')))
         and coalesce(l.score, 0) >= coalesce((a->>'min_score')::real, 0)
         and not (l.email_opted_out_at is not null and l.sms_opted_out_at is not null
                  and l.calls_opted_out_at is not null)
         and l.needs_review is null  -- held for a human (internal.consent_hold)
         and not exists (select 1 from enrollments e where e.campaign_id = c.id and e.lead_id = l.id)
         and (v_full or l.id = any (v_changed))  -- planned per call: a constant here
       order by l.score desc nulls last, l.created_at desc, l.id
       limit v_cap - v_today
      on conflict do nothing;
      get diagnostics v_n = row_count;
    end if;
    if v_first is not null and v_cap > v_today and v_n < v_cap - v_today then
      -- under its LIMIT: every lead matching `a` is enrolled now (not v_full: remembered)
      if v_full then
        insert into enroll_passes as p (campaign_id, audience) values (c.id, a)
        on conflict (campaign_id) do update set audience = excluded.audience;
      end if;
    else
      delete from enroll_passes p where p.campaign_id = c.id;
    end if;
    return query select c.id, c.slug, v_n, v_cap;
  end loop;
  -- A campaign not active now did not see these changes: its next pass reads every lead.
  delete from enroll_passes p where p.campaign_id <> all (v_done);
end
$$;

-- What can make a lead newly match an audience (enroll_leads): its insert, and an update of
-- a column the audience reads in the direction that can admit it (any status, industry,
-- source or state; a score that rises; an opt-out or a hold for a human lifted). A row-level
-- trigger with that WHEN for updates (the test costs nothing on the other updates), a
-- statement-level one for inserts.
create or replace function internal.enroll_pending_new_rows()
returns trigger
language plpgsql set search_path = public as $$
begin
  insert into enroll_pending (lead_id) select id from new_rows;
  return null;
end
$$;

create or replace function internal.enroll_pending_row()
returns trigger
language plpgsql set search_path = public as $$
begin
  insert into enroll_pending (lead_id) values (new.id);
  return null;
end
$$;

-- An enrollment deleted (its lead kept) makes its lead a candidate again: logged as a
-- changed lead (a deleted lead's entry joins no lead). Enrollments emptied: every campaign's
-- next pass reads every lead.
create or replace function internal.enroll_pending_old_rows()
returns trigger
language plpgsql set search_path = public as $$
begin
  insert into enroll_pending (lead_id) select lead_id from old_rows;
  return null;
end
$$;

create or replace function internal.enroll_passes_forget()
returns trigger
language plpgsql set search_path = public as $$
begin
  delete from enroll_passes;
  return null;
end
$$;

create trigger leads_enroll_insert after insert on leads
  referencing new table as new_rows
  for each statement execute function internal.enroll_pending_new_rows();
create trigger leads_enroll_update after update on leads for each row
  when (old.status is distinct from new.status
        or old.industry is distinct from new.industry or old.source is distinct from new.source
        or old.state is distinct from new.state
        or coalesce(new.score, 0) > coalesce(old.score, 0)
        or (old.email_opted_out_at is not null and new.email_opted_out_at is null)
        or (old.sms_opted_out_at is not null and new.sms_opted_out_at is null)
        or (old.calls_opted_out_at is not null and new.calls_opted_out_at is null)
        or (old.needs_review is not null and new.needs_review is null))
  execute function internal.enroll_pending_row();
create trigger enrollments_enroll_delete after delete on enrollments
  referencing old table as old_rows
  for each statement execute function internal.enroll_pending_old_rows();
create trigger enrollments_enroll_truncate after truncate on enrollments
  for each statement execute function internal.enroll_passes_forget();

-- ---------------------------------------------------------------------------------------
-- the drip: claim a batch of due steps, settle it, stop on events
-- ---------------------------------------------------------------------------------------

-- Frees the steps a drip run claimed and never settled (issue 15: a run killed mid-batch
-- left its claims leased for DRIP_LEASE_SECONDS, 10 minutes of no sending). Called at the
-- start of a drip run (drip_begin), which holds the job's single-flight lease
-- (app/jobs/runner.py): no other drip run is alive, so every claim still leased belongs to a
-- dead one. The number freed.
create or replace function internal.release_orphan_claims(p_now timestamptz default now())
returns integer
language plpgsql set search_path = public as $$
declare
  v_n integer;
begin
  update enrollments e set lease_owner = null, lease_expires_at = null, updated_at = p_now
   where e.lease_owner is not null and e.lease_expires_at > p_now;
  get diagnostics v_n = row_count;
  return v_n;
end
$$;

-- Claims up to p_limit due steps for p_worker: active enrollments of active campaigns whose
-- next_run_at has come and whose lease is free. FOR UPDATE SKIP LOCKED + a lease, so
-- overlapping runs and retries never take the same step twice. An enrollment whose lead is
-- opted out of the step's channel is settled here (stopped when the campaign stops on
-- opt-out, else the step is skipped) and not returned; so is one whose step is refused
-- (internal.outbox_check: no ai_voice consent for a call, no sms consent for a text, ...:
-- the step is skipped and counted in consent_skips). One jsonb row per claimed step, its
-- campaign and step in full in the first row that has them and by id after (the repository,
-- app/db/campaigns.py, puts them back in every row), the lead's texts and calls of the last
-- 24 h (internal.leads_recent_attempts), and `sent_today`: the campaign's sends today on the
-- step's channel where the campaign caps that channel per day (0 where it does not: unread).
-- Parts for 500 steps of 10,000, EXPLAIN ANALYZE: 20261207112000_drip_claim_reads.sql.
-- `enable_seqscan = off`: the due select reads enrollments_due_idx, never every enrollment.
-- The planner estimates the due rows from next_run_at's histogram, made at the last ANALYZE,
-- not at p_now: on day 28 of a 10,000-lead month (13:05, 33 steps due, 129 rows due with a
-- paused campaign's) it estimated 942 and chose a sequential scan of all 9,455 enrollments
-- and a sort, 0.74 ms; by the index 0.10 (EXPLAIN ANALYZE, `bench/drip_claim_parts.py
-- parts`; the claim's other statements read by key already and plan the same; migration
-- 20261211110000). The scan grows with the table, the due rows do not.
create or replace function claim_due_steps(
  p_worker text, p_limit integer, p_lease_seconds integer, p_now timestamptz default now()
) returns table (step jsonb)
language plpgsql set search_path = public set enable_seqscan = off as $$
#variable_conflict use_column
declare
  v_ids bigint[];
  v_settled bigint[];
  v_today jsonb;
begin
  select coalesce(array_agg(x.id), '{}') into v_ids from (
    select e.id from enrollments e
     where e.status = 'active' and e.next_run_at <= p_now
       and (e.lease_expires_at is null or e.lease_expires_at <= p_now)
       and exists (select 1 from campaigns c where c.id = e.campaign_id and c.status = 'active')
     -- a total order: enroll_leads makes hundreds of steps due at one instant, and with
     -- next_run_at alone the rows a batch took among them followed their physical order,
     -- which differs from run to run (space freed by vacuum, on wall-clock time, is reused)
     order by e.next_run_at, e.id
     limit p_limit
     for update of e skip locked) x;
  -- Nothing due (most drip runs of a day, and the last claim of every run): the two
  -- statements below would write and return nothing, but each still ran for no row (7.4 ->
  -- 2.9 ms a call with this return, load ~5: bench/drip_sql_ab.py --empty; migration
  -- 20261208140100).
  if cardinality(v_ids) = 0 then
    return;
  end if;

  -- Each claimed step's opt-out and refusal, checked once for the batch (internal.outbox_check,
  -- inlined: a probe per rule and row instead of two function calls per row).
  with checked as materialized (
    select e2.id, l.id lead_id, s.channel ch,
           coalesce((c.definition->'stop'->>'on_opt_out')::boolean, true) stops,
           k.suppressed, k.refusal
      from enrollments e2
      join campaigns c on c.id = e2.campaign_id
      join campaign_steps s on s.campaign_id = e2.campaign_id and s.position = e2.current_step
      join leads l on l.id = e2.lead_id
      cross join lateral internal.outbox_check(s.channel, 'marketing', l.id,
                   case when s.channel = 'email' then l.email else l.phone end) k
     where e2.id = any (v_ids)
  ), done as (
    -- Past the last step: complete.
    update enrollments e set status = 'completed', next_run_at = null, updated_at = p_now
     where e.id = any (v_ids)
       and not exists (select 1 from campaign_steps s
                        where s.campaign_id = e.campaign_id and s.position = e.current_step)
    returning e.id
  ), opted as (
    -- Opted out of this step's channel: stop (campaign stops on opt-out) or skip the step.
    update enrollments e
       set status = case when o.stops then 'stopped' else 'active' end,
           stopped_reason = case when o.stops then 'opted_out:' || o.ch else e.stopped_reason end,
           current_step = e.current_step + 1, updated_at = p_now
      from checked o
     where e.id = o.id and o.suppressed
    returning e.id
  ), refused as (
    -- Not opted out, but refused (no consent on record for an AI call or a campaign text, a
    -- do-not-call list covering texts, a hold: internal.outbox_check): the step is skipped,
    -- and the next one waits its own delay, as after a step done (complete_steps 'advance').
    update enrollments e set current_step = e.current_step + 1, updated_at = p_now,
           next_run_at = p_now + make_interval(secs => coalesce((
             select s2.delay_seconds from campaign_steps s2
              where s2.campaign_id = e.campaign_id and s2.position = e.current_step + 1), 0))
      from checked r
     where e.id = r.id and not r.suppressed and r.refusal is not null
    returning e.id, r.lead_id, r.ch, r.refusal why
  ), skipped as (
    insert into consent_skips (lead_id, channel, reason, stage, at)
    select lead_id, ch, why, 'claim', p_now from refused where why like '%consent%'
    returning 1
  )
  select coalesce(array_agg(id), '{}') into v_settled
    from (select id from done union all select id from opted
          union all select id from refused) z;

  -- Sends so far today per capped campaign and channel, counted once per batch, for the
  -- steps leased below: the channels a campaign of the batch caps per day (caps.per_day)
  -- only; a call step's cap is applied where calls are placed (campaign_manager). Its own
  -- statement, read into a map: as a CTE of the statement below, the planner put its
  -- aggregate on the inner side of a nested loop over the batch once the tables' statistics
  -- had grown, counting the day's messages again for each step, and its date range made
  -- every call plan that statement again (custom plans). bench/drip_claim_ab.py, claim
  -- tree/ref: 151 steps on day 7 of a 10,000-lead month 0.20, 2 steps on day 28 0.62
  -- (migration 20261210140000).
  select coalesce(jsonb_object_agg(t.campaign_id || ':' || t.channel, t.n), '{}') into v_today
    from (select m.campaign_id, m.channel, count(*) n from messages m
            join (select distinct e.campaign_id, ch.channel from enrollments e
                    join campaigns c on c.id = e.campaign_id
                   cross join lateral jsonb_object_keys(c.definition->'caps'->'per_day') ch(channel)
                   where e.id = any (v_ids) and not (e.id = any (v_settled))
                     and ch.channel in ('email', 'sms')) p
              on p.campaign_id = m.campaign_id and p.channel = m.channel
           where m.created_at >= date_trunc('day', p_now)
           group by 1, 2) t;

  return query
  with leased as (
    update enrollments e set lease_owner = p_worker,
           lease_expires_at = p_now + make_interval(secs => p_lease_seconds)
     where e.id = any (v_ids) and not (e.id = any (v_settled))
    returning e.*
  )
  -- The campaign (its whole definition) and the step (its template) in full in the first row
  -- that has them, then only their id: a batch is mostly one campaign and a step or two, and
  -- repeating them in all 500 rows was half of the JSON built, sent and parsed.
  select jsonb_build_object(
    'enrollment_id', e.id, 'position', e.current_step, 'next_run_at', e.next_run_at,
    'campaign', case when row_number() over (partition by c.id order by e.next_run_at, e.id) = 1
                     then jsonb_build_object('id', c.id, 'slug', c.slug, 'definition', c.definition)
                     else jsonb_build_object('id', c.id) end,
    'step', case when row_number() over (partition by s.id order by e.next_run_at, e.id) = 1
                 then jsonb_build_object('id', s.id, 'channel', s.channel, 'template', s.template,
                               'window', s.send_window, 'position', s.position,
                               'is_first_of_channel', not exists (
                                 select 1 from campaign_steps p where p.campaign_id = c.id
                                    and p.channel = s.channel and p.position < s.position))
                 else jsonb_build_object('id', s.id) end,
    -- the lead's columns the snapshot reads (LeadSnapshot), not the whole row
    'lead', jsonb_build_object(
      'id', l.id, 'status', l.status, 'name', l.name, 'phone', l.phone, 'email', l.email,
      'company', l.company, 'industry', l.industry, 'state', l.state, 'timezone', l.timezone,
      'source', l.source, 'attributes', l.attributes,
      'email_opted_out_at', l.email_opted_out_at, 'sms_opted_out_at', l.sms_opted_out_at,
      'calls_opted_out_at', l.calls_opted_out_at),
    'recent_attempts', coalesce(r.attempts, '[]'),
    'sent_today', coalesce((v_today->>(c.id || ':' || s.channel))::bigint, 0))
    from leased e
    join campaigns c on c.id = e.campaign_id
    join campaign_steps s on s.campaign_id = e.campaign_id and s.position = e.current_step
    join leads l on l.id = e.lead_id
    -- the batch's recent attempts in one query, planned for this call's leads (not inlined:
    -- an inlined per-row form, its plan cached while messages was near empty, scanned
    -- messages once per row, 1.1-2.5 s a batch; a call per row re-planned its query 500 times)
    left join internal.leads_recent_attempts(array(select lead_id from leased), p_now) r
      on r.lead_id = l.id
   order by e.next_run_at, e.id;
end
$$;

-- A drip run's first call (app/campaigns/drip.py, under the job's lease): release the steps
-- of drip runs that died (internal.release_orphan_claims), then the first claim
-- (claim_due_steps), in that order in one transaction; when nothing was claimed the run
-- ends here, so the due rescue texts (webhook_due_rescue_checks) come back too, read at the
-- moment the run would have read them: an empty run is one round trip instead of three
-- (issue 19). One row (a table, so both transports return it alike), its jsonb:
-- {released, steps: [claim_due_steps' rows, in order], rescues: [rows] or null (steps were
-- claimed: the run reads them after its sends, as before)}.
create or replace function drip_begin(
  p_worker text, p_limit integer, p_lease_seconds integer, p_now timestamptz,
  p_rescue_limit integer default 100
) returns table (tick jsonb)
language plpgsql set search_path = public as $$
declare
  v_released integer := internal.release_orphan_claims(p_now);
  v_steps jsonb;
begin
  select coalesce(jsonb_agg(c.step order by c.n), '[]') into v_steps
    from claim_due_steps(p_worker, p_limit, p_lease_seconds, p_now) with ordinality c(step, n);
  return query select jsonb_build_object(
    'released', v_released, 'steps', v_steps,
    'rescues', case when jsonb_array_length(v_steps) > 0 then null else (
      select coalesce(jsonb_agg(jsonb_build_object(
               'message', r.message, 'lead_state', r.lead_state,
               'lead_timezone', r.lead_timezone, 'recent_attempts', r.recent_attempts)
             order by r.n), '[]')
        from webhook_due_rescue_checks(p_now, p_rescue_limit) with ordinality r(
               message, lead_state, lead_timezone, recent_attempts, n)) end);
end
$$;

-- A drip run's start and its first call in one round trip (issue 19: 8,640 runs a simulated
-- month, each paid start_job_run and drip_begin as two): takes the job's lease and records
-- the run (start_job_run, as the runner's own start), then, only when the run got the lease,
-- makes drip_begin with p_worker, p_limit, p_claim_seconds (its release of dead runs' claims
-- stays under the lease just taken). Answers {"start": start_job_run's row, "read":
-- drip_begin's tick, or null}. The read is made in a block of its own: when it fails, it is
-- undone alone (no step stays claimed), the run stays recorded and `read` is null (the run
-- then calls drip_begin itself and meets the failure there, recorded as a failed run as
-- before). The runner calls it only when the webhook spool is empty (app/jobs/runner.py: a
-- STOP spooled during an outage is applied before drip claims).
create or replace function drip_run_begin(
  p_job text, p_run_id uuid, p_holder text, p_lease_seconds integer,
  p_modal_call_id text, p_now timestamptz, p_worker text, p_limit integer,
  p_claim_seconds integer
) returns jsonb
language plpgsql set search_path = public as $$
declare
  v_start jsonb;
  v_read jsonb;
begin
  select to_jsonb(s) into v_start
    from start_job_run(p_job, p_run_id, p_holder, p_lease_seconds, p_modal_call_id, p_now) s;
  if v_start->>'status' = 'running' then
    begin
      select d.tick into v_read from drip_begin(p_worker, p_limit, p_claim_seconds, p_now) d;
    exception when others then
      v_read := null;
    end;
  end if;
  return jsonb_build_object('start', v_start, 'read', v_read);
end
$$;

-- Settles a batch of claimed steps in one call. Each item: {enrollment_id, action, at, reason}
--   advance     the step is done: move to the next step (its delay from now) or complete
--   reschedule  not permitted now: run again at `at` (the gate's next permitted instant)
--   stop        stop this enrollment (reason kept)
--   review      a human must look (e.g. unknown timezone): enrollment paused, lead flagged
-- Only enrollments still leased by p_worker are touched; the lease is released.
--
-- The batch drives the join: ANALYZE sees lease_owner almost always null, so a join on
-- `lease_owner = p_worker` was planned for ONE matching row and filtered 500 x 500 pairs per
-- call (50-170 ms at 10,000 enrollments in bench/dispatch.py, 9 ms this way). The lateral
-- subquery is a primary-key lookup per item; `limit 1` keeps the planner from flattening it
-- back into that join, and the lease is compared outside it: inside, the planner took the
-- partial index of leased rows (enrollments_leased_idx) for each item and filtered every
-- leased row by id, 500 x 500 again (90 ms per 500, 20261206183000_drip_set_based.sql).
create or replace function complete_steps(
  p_worker text, p_results jsonb, p_now timestamptz default now()
) returns table (enrollment_id bigint, status text, current_step integer, next_run_at timestamptz)
language plpgsql set search_path = public as $$
#variable_conflict use_column
begin
  return query
  with r as (
    select (i->>'enrollment_id')::bigint id, i->>'action' action,
           (i->>'at')::timestamptz at, i->>'reason' reason
      from jsonb_array_elements(p_results) i
  ), nxt as (
    select r.*, e.campaign_id, e.lead_id,
           (select s.delay_seconds from campaign_steps s
             where s.campaign_id = e.campaign_id and s.position = e.current_step + 1) next_delay
      from r cross join lateral (
             select e1.campaign_id, e1.lead_id, e1.current_step, e1.lease_owner
               from enrollments e1 where e1.id = r.id limit 1) e
     where e.lease_owner = p_worker
  ), flagged as (
    update leads l set needs_review = n.reason, updated_at = p_now
      from nxt n where l.id = n.lead_id and n.action = 'review'
    returning l.id
  )
  update enrollments e set
    current_step = case when n.action = 'advance' then e.current_step + 1 else e.current_step end,
    status = case
      when n.action = 'advance' and n.next_delay is null then 'completed'
      when n.action = 'stop' then 'stopped'
      when n.action = 'review' then 'paused'
      else e.status end,
    next_run_at = case
      when n.action = 'advance' then p_now + make_interval(secs => coalesce(n.next_delay, 0))
      when n.action = 'reschedule' then n.at
      else e.next_run_at end,
    stopped_reason = case when n.action in ('stop', 'review') then n.reason else e.stopped_reason end,
    lease_owner = null, lease_expires_at = null, updated_at = p_now
  from nxt n
  -- the batch's ids as an index condition: joined on `e.id = n.id` alone, the update was
  -- planned for the 100 rows jsonb_array_elements is assumed to return and hashed a
  -- sequential scan of every enrollment against a batch of a few (bench/drip_claim_ab.py,
  -- settle tree/ref on day 28 of a 10,000-lead month: 2 steps 0.15, 33 steps 0.36;
  -- migration 20261210140000)
  where e.id = n.id and e.id = any (array(select n2.id from nxt n2))
  returning e.id, e.status, e.current_step, e.next_run_at;
end
$$;

-- A drip run's last settle (app/campaigns/drip.py: the batch no claim follows): the batch
-- settled (complete_steps), then the due rescue texts (webhook_due_rescue_checks) read at the
-- moment the run read them next, after its settle: every run that claimed steps made the
-- two calls one after the other, now one round trip (issue 19; migration 20261209121000).
-- One row, its jsonb: {settled: the enrollments settled, rescues: [rows as drip_begin's]}.
create or replace function drip_settle(
  p_worker text, p_results jsonb, p_now timestamptz, p_rescue_limit integer default 100
) returns table (tick jsonb)
language plpgsql set search_path = public as $$
declare
  v_settled integer;
begin
  select count(*) into v_settled from complete_steps(p_worker, p_results, p_now);
  return query select jsonb_build_object(
    'settled', v_settled,
    'rescues', (
      select coalesce(jsonb_agg(jsonb_build_object(
               'message', r.message, 'lead_state', r.lead_state,
               'lead_timezone', r.lead_timezone, 'recent_attempts', r.recent_attempts)
             order by r.n), '[]')
        from webhook_due_rescue_checks(p_now, p_rescue_limit) with ordinality r(
               message, lead_state, lead_timezone, recent_attempts, n)));
end
$$;

-- Stops a lead's active enrollments on an event, per each campaign's stop rules:
-- p_event 'reply' | 'booking' | 'opt_out' (campaign key stop.on_<event>, default true).
-- On 'reply', a campaign with stop.company_on_reply also stops every lead of the company.
-- Used by the webhooks (replies, STOP) and appointments (bookings). Returns how many stopped.
create or replace function apply_stop_rules(
  p_lead_id bigint, p_event text, p_now timestamptz default now()
) returns integer
language plpgsql set search_path = public as $$
#variable_conflict use_column
declare
  v_n integer;
  v_company text;
begin
  if p_event not in ('reply', 'booking', 'opt_out') then
    raise exception 'unknown stop event %', p_event using errcode = '22023';
  end if;
  select lower(company) into v_company from leads where id = p_lead_id;
  update enrollments e set status = 'stopped', stopped_reason = p_event, next_run_at = null,
         lease_owner = null, lease_expires_at = null, updated_at = p_now
    from campaigns c
   where c.id = e.campaign_id and e.status in ('active', 'paused')
     and coalesce((c.definition->'stop'->>('on_' || p_event))::boolean, true)
     and (e.lead_id = p_lead_id
          or (p_event = 'reply' and v_company is not null
              and coalesce((c.definition->'stop'->>'company_on_reply')::boolean, false)
              and e.lead_id in (select l.id from leads l where lower(l.company) = v_company)));
  get diagnostics v_n = row_count;
  return v_n;
end
$$;

-- ---------------------------------------------------------------------------------------
-- campaign_manager: deliverability guard, call queue, call retries
-- ---------------------------------------------------------------------------------------

-- Pauses every active campaign whose recent sends look like a deliverability problem:
-- hard bounces > 5 % of its last 200 emails, complaints > 0.1 %, or SMS carrier filtering
-- (Twilio 30007) > 2 % of its last 200 texts, each over at least p_min_sample sends.
-- A campaign resumed by hand in the last 7 days is paused again only at twice the threshold.
-- Each campaign's read is planned for that campaign (issue 19, migration 20261207111000): the
-- plan cached after five calls is generic in c.id, and it walked messages_created_idx back
-- through every message of a campaign with few texts (10 ms a call on day 3 of a simulated
-- month, growing); planned per call it reads 200 rows per channel from
-- messages_campaign_channel_idx.
create or replace function deliverability_check(
  p_now timestamptz default now(), p_min_sample integer default 20
) returns table (campaign_id bigint, slug text, metric text, rate numeric, threshold numeric,
                 sample integer)
language plpgsql set search_path = public set plan_cache_mode = force_custom_plan as $$
#variable_conflict use_column
declare
  c campaigns;
  r record;
  v_factor numeric;
begin
  for c in select * from campaigns where status = 'active' order by id for update loop
    v_factor := case when c.resumed_at > p_now - interval '7 days' then 2 else 1 end;
    for r in
      with emails as (
        select m.status, m.error_code from messages m
         where m.campaign_id = c.id and m.channel = 'email'
           and m.status not in ('queued', 'sending', 'cancelled')
         order by m.created_at desc, m.id desc limit 200  -- a batch shares created_at
      ), texts as (
        select m.status, m.error_code from messages m
         where m.campaign_id = c.id and m.channel = 'sms'
           and m.status not in ('queued', 'sending', 'cancelled')
         order by m.created_at desc, m.id desc limit 200
      )
      select 'hard_bounce_rate' metric, 0.05 threshold, count(*) n,
             count(*) filter (where status = 'bounced') bad from emails
      union all
      select 'complaint_rate', 0.001, count(*), count(*) filter (where status = 'complained') from emails
      union all
      select 'carrier_filtered_rate', 0.02, count(*), count(*) filter (where error_code = '30007') from texts
    loop
      if r.n >= p_min_sample and r.bad::numeric / r.n > r.threshold * v_factor then
        update campaigns set status = 'paused', paused_at = p_now, updated_at = p_now,
               paused_reason = format('%s %s%% over the last %s sends (limit %s%%)', r.metric,
                                      round(100.0 * r.bad / r.n, 2), r.n, 100 * r.threshold * v_factor)
         where id = c.id;
        return query select c.id, c.slug, r.metric::text, round(r.bad::numeric / r.n, 4),
                            r.threshold * v_factor, r.n::integer;
        exit;
      end if;
    end loop;
  end loop;
end
$$;

-- `nightshift campaigns resume SLUG`: lifts a pause and starts the 7-day cool-off.
create or replace function resume_campaign(p_slug text, p_now timestamptz default now())
returns table (campaign_id bigint, slug text, status text, was text)
language plpgsql set search_path = public as $$
#variable_conflict use_column
declare
  v_was text;
begin
  select status into v_was from campaigns where slug = p_slug for update;
  if not found then
    raise exception 'no campaign %', p_slug using errcode = 'P0002';
  end if;
  update campaigns set status = 'active', paused_reason = null, paused_at = null,
         resumed_at = case when v_was = 'paused' then p_now else resumed_at end, updated_at = p_now
   where slug = p_slug;
  return query select c.id, c.slug, c.status, v_was from campaigns c where c.slug = p_slug;
end
$$;

-- The call queue, hottest lead first (score, then newest lead): calls waiting in our queue
-- (no Vapi id yet) whose not_before has come, with what the gate needs (`window`: the call
-- step's own window, written into the call's payload by drip; null: the campaign's). `in_flight` counts
-- calls Vapi is still working on, for its concurrency limit. p_order picks which p_limit
-- candidates campaign_manager reorders: 'score' (the hottest), 'newest' (the latest
-- queued: the simulator's oracle) or 'random' (a hash of the call and the hour: every slot
-- random, the simulator's baseline). Calls of a campaign that placed its daily call cap
-- today (`caps.per_day.call`, counted as calls_placed_today) are not candidates: read
-- among the p_limit, the hottest leads' capped calls filled every candidate place and
-- the other campaigns' calls waited all day (issue 17: the score order placed ~15 % fewer
-- calls than random order).
-- The p_limit candidates are picked first; then each is read once: the lead's columns the
-- snapshot reads (LeadSnapshot), its 24 h attempts for the whole batch in one query
-- (internal.leads_recent_attempts, not a query per call), and its campaign's definition
-- on the first of that campaign's calls only (the others: {id}; ManagerRepository.call_queue
-- puts the one snapshot in each). Day 8 of a 10,000-lead simulation (200 candidates): 264 ->
-- 109 KB, 12.6-14.4 -> 8.5-9.6 ms a call (migration 20261207120000).
-- PL/pgSQL for its plan cache (issue 19, migration 20261210110000): as a SQL function with a
-- SET clause (never inlined) its statement was planned again at every call, generic (the
-- arguments unknown), ~0.75 ms of the ~1 ms a run whose campaigns are all capped (86 of the
-- 96 runs a day); here the same generic plan is made once per connection and kept until the
-- tables' next ANALYZE (force_generic_plan: the plan it always ran, not a custom one).
create or replace function call_queue(
  p_limit integer, p_now timestamptz default now(), p_order text default 'score'
)
returns table (call jsonb, in_flight integer)
language plpgsql stable set search_path = public set plan_cache_mode = force_generic_plan as $$
#variable_conflict use_column
begin
  return query
  with capped as (  -- once per call, not per waiting call
    select c.id from campaigns c
     where c.status = 'active' and c.definition->'caps'->'per_day'->>'call' is not null
       and (select count(*) from calls p
             where p.campaign_id = c.id
               and p.placed_at >= date_trunc('day', p_now) and p.placed_at <= p_now)
           >= (c.definition->'caps'->'per_day'->>'call')::integer
  ), open as materialized (  -- the campaigns whose waiting calls are candidates
    select c.id from campaigns c where c.status = 'active' and c.id not in (select id from capped)
  ), waiting as (
    -- Only the waiting calls that can be candidates are read (calls_waiting_campaign_idx):
    -- those outside a campaign, and those of each active campaign under its cap. Reading
    -- the whole waiting queue and dropping a capped campaign's calls grew with the queue
    -- (a campaign's calls wait while it is capped, most of a day: 7,043 waiting calls by day
    -- 28 of a 10,000-lead simulation, 1,203 buffers read for no candidate; migration
    -- 20261209110000). The same rows: campaign_id references campaigns (on delete set
    -- null), so a call's campaign exists, and it is a candidate when active and not capped.
    select k.id, k.lead_id, k.campaign_id, k.not_before, k.payload->'window' as "window",
           k.created_at
      from calls k
     where k.campaign_id is null and k.status = 'queued' and k.vapi_call_id is null
    union all
    select k.id, k.lead_id, k.campaign_id, k.not_before, k.payload->'window', k.created_at
      from open o
      join calls k on k.campaign_id = o.id and k.status = 'queued' and k.vapi_call_id is null
  ), picked as materialized (
    select k.id, k.lead_id, k.campaign_id, k.not_before, k."window",
           case when p_order = 'score' then l.score end as s1,
           case when p_order = 'newest' then k.created_at end as s2,
           case when p_order = 'random'
                then md5(k.id::text || date_trunc('hour', p_now)::text) end as s3,
           l.created_at as s4
      from waiting k
      join leads l on l.id = k.lead_id
     where (k.not_before is null or k.not_before <= p_now)
     order by s1 desc nulls last, s2 desc, s3, s4 desc, k.id
     limit p_limit
  )
  select jsonb_build_object(
           'id', q.id, 'not_before', q.not_before, 'window', q."window",
           'lead', jsonb_build_object(
             'id', l.id, 'status', l.status, 'name', l.name, 'phone', l.phone, 'email', l.email,
             'company', l.company, 'industry', l.industry, 'state', l.state,
             'timezone', l.timezone, 'source', l.source, 'attributes', l.attributes,
             'email_opted_out_at', l.email_opted_out_at, 'sms_opted_out_at', l.sms_opted_out_at,
             'calls_opted_out_at', l.calls_opted_out_at),
           'campaign', case
             when c.id is null then null
             when row_number() over (partition by c.id order by q.id) = 1
             then jsonb_build_object('id', c.id, 'slug', c.slug, 'definition', c.definition)
             else jsonb_build_object('id', c.id) end,
           'recent_attempts', coalesce(r.attempts, '[]')),
         (select count(*)::integer from calls f
           where f.status in ('placing', 'ringing', 'in-progress', 'forwarding')
             -- as claim_call: a call silent for 2 h lost its end-of-call report
             and f.updated_at > p_now - interval '2 hours')
    from picked q
    -- a probe a candidate: its generic plan, not knowing picked holds p_limit rows at most,
    -- hashed every lead (9,334 by day 28 of a 10,000-lead simulation) to join 200
    cross join lateral (select l.* from leads l where l.id = q.lead_id offset 0) l
    left join campaigns c on c.id = q.campaign_id
    left join internal.leads_recent_attempts(array(select lead_id from picked), p_now) r
      on r.lead_id = q.lead_id
   order by q.s1 desc nulls last, q.s2 desc, q.s3, q.s4 desc, q.id;
end
$$;

-- Calls placed per campaign since the start of p_now's day (UTC, as the drip's daily caps
-- count): campaign_manager applies each campaign's daily call cap when it places calls, so
-- the queue's order decides who gets the day's slots (the drip queues every call step).
create or replace function calls_placed_today(p_now timestamptz default now())
returns table (campaign_id bigint, placed integer)
language sql stable set search_path = public as $$
  select k.campaign_id, count(*)::integer from calls k
   where k.campaign_id is not null
     and k.placed_at >= date_trunc('day', p_now) and k.placed_at <= p_now
   group by 1;
$$;

-- campaign_manager's chosen slot for a waiting call (best time to call): not before p_at.
create or replace function defer_call(
  p_id bigint, p_at timestamptz, p_now timestamptz default now()
)
returns boolean
language sql set search_path = public as $$
  update calls set not_before = p_at, updated_at = p_now
   where id = p_id and status = 'queued' and vapi_call_id is null
  returning true;
$$;

-- Queues the next attempt of calls that ended unanswered (no answer, busy, voicemail), up
-- to p_max_attempts per enrollment step, not before p_spacing_seconds after the last one.
-- A call is marked (retry_settled_at) once its retry is settled: the next attempt queued,
-- or no attempt left; so a run reads only the open ones (calls_retry_open_idx), not every
-- unanswered call ever made. Calls held back for a reason that can pass (lead status,
-- opt-out, a hold for a human, a paused enrollment) stay unmarked and are looked at again; a
-- call of a stopped enrollment is marked: a stop is final (nothing makes a stopped enrollment
-- active again), and these were re-read at every run for good (issue 19: 92 of them by day 8
-- of a 10,000-lead simulation, growing with the history; migration 20261207111000).
create or replace function requeue_unanswered_calls(
  p_max_attempts integer, p_spacing_seconds integer, p_now timestamptz default now()
) returns integer
language plpgsql set search_path = public as $$
declare
  v_n integer;
begin
  with unsettled as (
    select k.* from calls k
     where k.status = 'ended' and k.retry_settled_at is null
       and k.ended_reason in ('customer-did-not-answer', 'customer-busy', 'voicemail')
  ), eligible as (
    select k.* from unsettled k
      join leads l on l.id = k.lead_id
     where k.attempt < p_max_attempts
       and l.calls_opted_out_at is null and l.status not in ('booked', 'customer', 'do_not_contact')
       and l.needs_review is null  -- held for a human (internal.consent_hold)
       and (k.enrollment_id is null or exists (select 1 from enrollments e
                                               where e.id = k.enrollment_id
                                                 and e.status in ('active', 'completed')))
  ), queued as (
    insert into calls (idempotency_key, lead_id, enrollment_id, campaign_id, provider, to_number,
                       status, payload, attempt, not_before, created_at, updated_at)
    select regexp_replace(k.idempotency_key, '#\d+$', '') || '#' || (k.attempt + 1),
           k.lead_id, k.enrollment_id, k.campaign_id, k.provider, k.to_number, 'queued',
           k.payload, k.attempt + 1,
           coalesce(k.ended_at, k.updated_at) + make_interval(secs => p_spacing_seconds), p_now, p_now
      from eligible k
    on conflict (idempotency_key) do nothing
    returning 1
  ), settled as (
    update calls c set retry_settled_at = p_now
      from unsettled k
     where c.id = k.id
       and (k.attempt >= p_max_attempts or k.id in (select id from eligible)
            or exists (select 1 from enrollments e
                        where e.id = k.enrollment_id and e.status = 'stopped'))
    returning 1
  )
  select count(*) into v_n from queued;
  return v_n;
end
$$;

-- A campaign_manager run's opening reads and writes, in one round trip and one transaction,
-- in the order the run made them one call each (issue 19: four round trips a run, 96 runs a
-- day; nothing needs Python between them): enroll_leads, deliverability_check,
-- requeue_unanswered_calls, then call_queue (each statement of this function sees the
-- writes of the one before, as the separate calls did). The run raises the pause alerts
-- after it (they write only alerts). One row (a table, so both transports return it alike),
-- its jsonb: {enrolled: [enroll_leads' rows], paused: [deliverability_check's rows],
-- requeued, queue: [call_queue's calls, in order], in_flight}.
create or replace function manager_begin(
  p_now timestamptz, p_max_attempts integer, p_spacing_seconds integer, p_limit integer,
  p_order text default 'score'
) returns table (tick jsonb)
language plpgsql set search_path = public as $$
declare
  v_enrolled jsonb;
  v_paused jsonb;
  v_requeued integer;
  v_queue jsonb;
  v_in_flight integer;
begin
  select coalesce(jsonb_agg(to_jsonb(e) - 'n' order by e.n), '[]') into v_enrolled
    from enroll_leads(p_now) with ordinality e(campaign_id, slug, enrolled, cap, n);
  select coalesce(jsonb_agg(to_jsonb(d) - 'n' order by d.n), '[]') into v_paused
    from deliverability_check(p_now) with ordinality d(
           campaign_id, slug, metric, rate, threshold, sample, n);
  v_requeued := requeue_unanswered_calls(p_max_attempts, p_spacing_seconds, p_now);
  select coalesce(jsonb_agg(q.call order by q.n), '[]'), coalesce(min(q.in_flight), 0)
    into v_queue, v_in_flight
    from call_queue(p_limit, p_now, p_order) with ordinality q(call, in_flight, n);
  return query select jsonb_build_object(
    'enrolled', v_enrolled, 'paused', v_paused, 'requeued', v_requeued,
    'queue', v_queue, 'in_flight', v_in_flight);
end
$$;

-- A campaign_manager run's start and its opening (manager_begin) in one round trip (issue
-- 19: 2,880 runs a simulated month, each paid start_job_run and manager_begin as two): takes
-- the job's lease and records the run (start_job_run, as the runner's own start), then, only
-- when the run got the lease, makes manager_begin with the other arguments. Answers
-- {"start": start_job_run's row, "read": manager_begin's tick, or null}. The opening is made
-- in a block of its own: when it fails, its writes (enrolments, pauses, requeues) are undone
-- alone, the run stays recorded and `read` is null (the run then calls manager_begin itself
-- and meets the failure there, recorded as a failed run as before). The runner calls it only
-- when the webhook spool is empty (app/jobs/runner.py).
create or replace function manager_run_begin(
  p_job text, p_run_id uuid, p_holder text, p_lease_seconds integer,
  p_modal_call_id text, p_now timestamptz, p_max_attempts integer,
  p_spacing_seconds integer, p_limit integer, p_order text
) returns jsonb
language plpgsql set search_path = public as $$
declare
  v_start jsonb;
  v_read jsonb;
begin
  select to_jsonb(s) into v_start
    from start_job_run(p_job, p_run_id, p_holder, p_lease_seconds, p_modal_call_id, p_now) s;
  if v_start->>'status' = 'running' then
    begin
      select m.tick into v_read
        from manager_begin(p_now, p_max_attempts, p_spacing_seconds, p_limit, p_order) m;
    exception when others then
      v_read := null;
    end;
  end if;
  return jsonb_build_object('start', v_start, 'read', v_read);
end
$$;

