-- Determinism (a seed's simulation gave two reports): the drip claim picked its batch among
-- due steps by next_run_at alone. enroll_leads makes hundreds of steps due at one instant (a
-- wave of 536-700 enrollments in a 10,000-lead run, batches of 500), so which of them a batch
-- took followed the rows' physical order, which is not the same from run to run (where a
-- row's new version lands depends on the space vacuum has freed, and autovacuum runs on
-- wall-clock time): two runs of `nightshift simulate --leads 10000 --days 8 --seed 7` split
-- the day-6 wave differently and diverged from there (caps, then every later figure). The
-- claim now orders by (next_run_at, id), and its index carries id so the batch can still be
-- read in index order, without a sort. deliverability_check's last 200 emails/texts per
-- campaign likewise: a batch's messages share created_at, so id breaks the ties (which 200
-- decide a pause).
-- webhook_vapi_caller's latest enrollment of the caller: a lead enrolled in two campaigns
-- at one instant named either campaign; the newest id now.
-- Executable by service_role only.

drop index if exists enrollments_due_idx;
create index enrollments_due_idx on enrollments (next_run_at, id) where status = 'active';

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
  ), today as (  -- sends so far today per campaign and channel, counted once per batch
    select m.campaign_id, m.channel, count(*) n from messages m
     where m.campaign_id in (select distinct campaign_id from leased)
       and m.created_at >= date_trunc('day', p_now)
     group by 1, 2
    union all
    select k.campaign_id, 'call', count(*) from calls k
     where k.campaign_id in (select distinct campaign_id from leased)
       and k.created_at >= date_trunc('day', p_now)
     group by 1
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
    'lead', to_jsonb(l) - 'score_reasons',
    -- a call per row (not inlined): with stale statistics (messages analyzed empty, then
    -- filled) an inlined form was planned as a scan of messages per row (1.1-2.5 s a batch)
    'recent_attempts', internal.lead_recent_attempts(l.id, p_now),
    'sent_today', coalesce(t.n, 0))
    from leased e
    join campaigns c on c.id = e.campaign_id
    join campaign_steps s on s.campaign_id = e.campaign_id and s.position = e.current_step
    join leads l on l.id = e.lead_id
    left join today t on t.campaign_id = c.id and t.channel = s.channel
   order by e.next_run_at, e.id;
end
$$;

create or replace function deliverability_check(
  p_now timestamptz default now(), p_min_sample integer default 20
) returns table (campaign_id bigint, slug text, metric text, rate numeric, threshold numeric,
                 sample integer)
language plpgsql set search_path = public as $$
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

create or replace function webhook_vapi_caller(p_phone text)
returns table (lead_id bigint, name text, status text, company text, campaign text)
language plpgsql stable set search_path = public as $$
begin
  return query
  select l.id, l.name, l.status, l.company,
         (select c.slug from enrollments e join campaigns c on c.id = e.campaign_id
           where e.lead_id = l.id order by e.enrolled_at desc, e.id desc limit 1)
    from leads l where l.phone = p_phone;
end
$$;

revoke all on function claim_due_steps(text, integer, integer, timestamptz) from public, anon, authenticated;
grant execute on function claim_due_steps(text, integer, integer, timestamptz) to service_role;
revoke all on function deliverability_check(timestamptz, integer) from public, anon, authenticated;
grant execute on function deliverability_check(timestamptz, integer) to service_role;
revoke all on function webhook_vapi_caller(text) from public, anon, authenticated;
grant execute on function webhook_vapi_caller(text) to service_role;
