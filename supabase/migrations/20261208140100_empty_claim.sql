-- Issue 19 (drip against its ceilings): an empty claim returns at once. Most drip runs of a
-- simulated day claim nothing (drip_begin 288 calls a day), and every run ends on a claim
-- that comes back short; with nothing claimed, the checks-and-settles statement and the
-- snapshot's statement wrote and returned nothing but still ran. An empty claim on
-- bench/dispatch.py's seed after its run (10,000 leads, nothing due), 8 alternating rounds
-- of 50 calls: 7.417 ms a call before, 2.876 after, 0.18-0.61 per round (load ~5;
-- `.venv/bin/python bench/drip_sql_ab.py --ref 677e1af --empty --rounds 8`). On a simulated
-- database (10,000 leads, seed 7, kept at the end of day 3 by bench/history_reads.py keep),
-- at 2026-12-03 04:58 UTC: 2.025 ms before, 0.334 after, 0.16-0.17 per round (load ~3.5;
-- the same command with --dsn and --now); an empty drip_begin there takes ~0.85 ms in all.
-- Only the early return is new.

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

  return query
  with leased as (
    update enrollments e set lease_owner = p_worker,
           lease_expires_at = p_now + make_interval(secs => p_lease_seconds)
     where e.id = any (v_ids) and not (e.id = any (v_settled))
    returning e.*
  ), capped as (  -- the channels a campaign of the batch caps per day (caps.per_day): only
    -- those are counted; a call step's cap is applied where calls are placed (campaign_manager)
    select distinct e.campaign_id, ch.channel from leased e
      join campaigns c on c.id = e.campaign_id
     cross join lateral jsonb_object_keys(c.definition->'caps'->'per_day') ch(channel)
     where ch.channel in ('email', 'sms')
  ), today as (  -- sends so far today per capped campaign and channel, counted once per batch
    select m.campaign_id, m.channel, count(*) n from messages m
      join capped p on p.campaign_id = m.campaign_id and p.channel = m.channel
     where m.created_at >= date_trunc('day', p_now)
     group by 1, 2
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
    'sent_today', coalesce(t.n, 0))
    from leased e
    join campaigns c on c.id = e.campaign_id
    join campaign_steps s on s.campaign_id = e.campaign_id and s.position = e.current_step
    join leads l on l.id = e.lead_id
    -- the batch's recent attempts in one query, planned for this call's leads (not inlined:
    -- an inlined per-row form, its plan cached while messages was near empty, scanned
    -- messages once per row, 1.1-2.5 s a batch; a call per row re-planned its query 500 times)
    left join internal.leads_recent_attempts(array(select lead_id from leased), p_now) r
      on r.lead_id = l.id
    left join today t on t.campaign_id = c.id and t.channel = s.channel
   order by e.next_run_at, e.id;
end
$$;
