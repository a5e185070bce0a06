-- Issue 19, stop 27: the drip's claim and settle of a small batch (most drip runs that claim
-- steps claim a few).
--
-- claim_due_steps (in drip_begin: 21.1 s of the 10,000-lead month, 2.44 ms a call, 4.5-4.9
-- ms a call on days 7-8: bench/sim_profile.py's days, summed) counted the day's sends of each capped
-- campaign (`sent_today`) in a CTE of its last statement. Once the tables' statistics had
-- grown, the planner put that count on the inner side of a nested loop over the batch and
-- counted the day's messages again for each claimed step; and its date range kept that
-- statement on custom plans, planned again at every call. The count is now its own
-- statement, read into a map before the steps are leased: the same rows, the same
-- `sent_today` (tests/campaigns/test_claim_sent_today.py).
--
-- complete_steps (drip_settle's, and each earlier batch's settle) joined the batch to
-- enrollments on `e.id = n.id` alone: planned for the 100 rows jsonb_array_elements is
-- assumed to return, the update hashed a sequential scan of every enrollment, growing with
-- the table. The batch's ids are now also its index condition: the same rows settled.
--
-- bench/drip_claim_ab.py (ms a call, rolled back, interleaved with HEAD's functions on
-- simulation databases kept at the end of days 7 and 28 by bench/history_reads.py keep),
-- tree/ref: claim of 151 steps on day 7 0.20, of 495 0.18-0.23, of 2 steps on day 28 0.62;
-- settle of 2 steps on day 28 0.15, of 33 0.36, of 399 0.87 (bench/RESULTS.md stop 27 DRIP).

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
create or replace function claim_due_steps(
  p_worker text, p_limit integer, p_lease_seconds integer, p_now timestamptz default now()
) returns table (step jsonb)
language plpgsql set search_path = public as $$
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
