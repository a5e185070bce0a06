-- Issue 19, stop 28: the drip claim's reads planned by key.
-- claim_due_steps: `set enable_seqscan = off`. Its due select was planned from next_run_at's
-- histogram (the last ANALYZE's, not p_now's): on day 28 of a 10,000-lead month (33 steps
-- due at 13:05, 129 rows due with a paused campaign's) the planner estimated 942 and read
-- every enrollment (a sequential scan of 9,455 and a sort, 0.74 ms); by enrollments_due_idx
-- 0.10 ms (EXPLAIN ANALYZE, the rows already locked by the same transaction on both sides).
-- The claim's other statements read by key already: checks 0.40 / 0.38 ms, sent today 0.15 /
-- 0.15, lease + snapshot 1.21 / 1.18 (on / off). A sequential scan grows with the table; the
-- due rows do not.
-- internal.leads_recent_attempts (the claim's and call_queue's batch of recent attempts):
-- plpgsql with one generic plan per connection that reads by lead (force_generic_plan,
-- enable_seqscan = off, as mark_sending) instead of a SQL function with a SET clause,
-- parsed and planned at every call: on the same database at 14:05, median ms a call (round
-- trip included) 2 leads 0.76 -> 0.33, 10 leads 0.59 -> 0.23, 30 leads 0.62 -> 0.36,
-- 150 leads 1.42 -> 1.22, 500 leads 3.72 -> 3.08, the same rows.
-- Figures (bench/RESULTS.md): `.venv/bin/python bench/drip_claim_parts.py parts --dsn ...
-- --now "2026-12-28 13:05+00:00"` and `... attempts --now "2026-12-28 14:05+00:00"` on a
-- database kept by `bench/history_reads.py keep` (day 28, seed 7). The same rows claimed
-- (`bench/drip_claim_ab.py`, tests/campaigns/test_claim_reads.py).

create or replace function internal.leads_recent_attempts(p_lead_ids bigint[], p_now timestamptz)
returns table (lead_id bigint, attempts jsonb)
language plpgsql stable set search_path = public set plan_cache_mode = force_generic_plan
set enable_seqscan = off as $$
#variable_conflict use_column
begin
  return query
  select x.lead_id, jsonb_agg(x.t order by x.t) from (
    select m.lead_id, coalesce(m.sent_at, m.claimed_at) t from messages m
     where m.lead_id = any (p_lead_ids) and m.channel = 'sms'
       and m.kind in ('marketing', 'rescue') and m.claimed_at is not null
       and m.status <> 'cancelled'
    union all
    select k.lead_id, coalesce(k.placed_at, k.claimed_at) from calls k
     where k.lead_id = any (p_lead_ids) and k.claimed_at is not null and k.status <> 'cancelled'
  ) x
  where x.t > p_now - interval '24 hours' and x.t <= p_now
  group by x.lead_id;
end
$$;

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
