-- Issue 17, point-in-time learning (docs/scoring.md): calls record when nightshift RECEIVED
-- each Vapi event (first in-progress, end-of-call report) and the queue's order when placed;
-- scoring_features counts only facts received by each row's cutoff, builds the training
-- snapshots (p_times) and at-risk rows, labels booked in (cutoff, cutoff + horizon];
-- scoring_call_outcomes and scoring_mark_call_order serve the per-call model.

alter table calls
  add column connected_at timestamptz,
  add column report_received_at timestamptz,
  add column queue_score real,
  add column queue_order text check (queue_order in ('score', 'random', 'oracle'));

-- calls ended before this migration: their report's receipt is best known as their end
update calls set report_received_at = coalesce(ended_at, updated_at)
 where status = 'ended' and report_received_at is null;

drop function if exists scoring_features(text, integer, integer, timestamptz, bigint[]);

-- The feature matrix: one row per (lead, cutoff), counting only the facts nightshift had
-- RECEIVED by the cutoff. Training and scoring read this one function, so they can never
-- differ (docs/scoring.md, "point in time").
--   which rows: p_lead_ids with p_cutoffs (pairs: the per-call rows, a call's placed_at);
--     p_lead_ids alone, each at p_now; p_times: every lead created by t, at each t (the
--     training snapshots); nothing: every lead at p_now (scoring).
--   p_at_risk: only rows of leads at risk at their cutoff: contacted, not booked, reachable
--     on some channel, no call in flight (placed, report not received yet, < 2 h ago).
--   p_horizon_days: adds `label` = booked in (cutoff, cutoff + horizon], null while that
--     window is still open at p_now (the only column that reads facts after the cutoff).
-- Received times: a message when sent, an open or click of an email when its webhook came
-- (status_history), a link click when it was clicked, an SMS reply when received, a call's
-- outcome when its end-of-call report was received (calls.report_received_at), a booking
-- when the appointment was created or the booked call's report received.
--
-- plpgsql with plan_cache_mode = force_custom_plan: planned for each call's values. A plan
-- made without them (a SQL function's) cannot drop `p_lead_ids is null or ...` and scanned
-- every message, click and call for a handful of leads (100-280 ms per call in a
-- 10,000-lead simulation, 0.8 ms with the values).
create or replace function scoring_features(
  p_now timestamptz, p_lead_ids bigint[] default null, p_cutoffs timestamptz[] default null,
  p_times timestamptz[] default null, p_at_risk boolean default false,
  p_horizon_days integer default null
) returns table (
  lead_id bigint, cutoff_at timestamptz, label boolean, first_contact_at timestamptz,
  industry text, source text, state text, lead_age_days real, days_since_enquiry real,
  email_ok real, sms_ok real, call_ok real,
  emails_sent integer, emails_opened integer, clicks integer, sms_sent integer,
  sms_replies integer, calls_answered integer, calls_unanswered integer,
  calls_voicemail integer, days_since_engagement real,
  last_click_at timestamptz, last_click_campaign text, last_reply_at timestamptz,
  last_answered_at timestamptz, booked boolean, call_in_flight boolean
)
language plpgsql stable set search_path = public set plan_cache_mode = force_custom_plan as $$
#variable_conflict use_column
begin
  return query
  with want as (
    select u.id, least(coalesce(u.cutoff, p_now), p_now) cutoff
      from unnest(p_lead_ids, p_cutoffs) u(id, cutoff)
     where p_lead_ids is not null
    union all
    select l.id, t.at from leads l cross join unnest(p_times) t(at)
     where p_lead_ids is null and p_times is not null and l.created_at <= t.at and t.at <= p_now
    union all
    select l.id, p_now from leads l where p_lead_ids is null and p_times is null
  ), pop as (
    select w.cutoff, l.id, l.industry, l.source, l.state, l.phone, l.email, l.created_at,
           l.email_opted_out_at, l.sms_opted_out_at, l.calls_opted_out_at
      from want w join leads l on l.id = w.id
  ), msg as (
    select p.id, p.cutoff, min(m.sent_at) first_at,
           count(*) filter (where m.channel = 'email') emails_sent,
           count(o.opened_at) opened,
           count(*) filter (where m.channel = 'sms') sms_sent,
           max(o.opened_at) last_open
      from pop p join messages m on m.lead_id = p.id
      left join lateral (
        select min((h->>'at')::timestamptz) opened_at
          from jsonb_array_elements(m.status_history) h
         where h->>'status' in ('opened', 'clicked') and (h->>'at')::timestamptz <= p.cutoff
      ) o on m.channel = 'email'
     where m.sent_at <= p.cutoff and m.kind in ('marketing', 'rescue')
     group by p.id, p.cutoff
  ), clk as (
    select p.id, p.cutoff, count(*) n, max(e.clicked_at) last_at,
           (array_agg(c.slug order by e.clicked_at desc))[1] last_campaign
      from pop p join click_events e on e.lead_id = p.id
      left join messages m on m.id = e.message_id
      left join campaigns c on c.id = m.campaign_id
     where e.clicked_at <= p.cutoff
     group by p.id, p.cutoff
  ), rep as (
    select p.id, p.cutoff, count(*) n, max(w.received_at) last_at
      from pop p join webhook_events w on w.payload->>'From' = p.phone
     where w.provider = 'twilio' and w.event_type = 'sms.reply' and w.received_at <= p.cutoff
     group by p.id, p.cutoff
  ), cal as (
    select p.id, p.cutoff, min(coalesce(k.placed_at, k.claimed_at, case when k.vapi_call_id is not null then k.created_at end)) first_at,
           count(*) filter (where r.known and k.outcome in ('answered', 'booked')) answered,
           count(*) filter (where r.known and k.outcome in ('no_answer', 'busy')) unanswered,
           count(*) filter (where r.known and k.outcome = 'voicemail') voicemail,
           max(k.report_received_at) filter (where r.known and k.outcome in ('answered', 'booked'))
             last_answered,
           bool_or(r.known and k.outcome = 'booked') booked,
           bool_or(not r.known and k.status not in ('failed', 'cancelled')
                   and coalesce(k.placed_at, k.claimed_at, case when k.vapi_call_id is not null then k.created_at end) > p.cutoff - interval '2 hours')
             in_flight
      -- a call counts from when it was placed (claimed, or first heard of for a call we did
      -- not place): one still waiting in our queue is no contact yet
      from pop p join calls k on k.lead_id = p.id
      cross join lateral (select coalesce(k.report_received_at <= p.cutoff, false) known) r
     where coalesce(k.placed_at, k.claimed_at, case when k.vapi_call_id is not null then k.created_at end) <= p.cutoff
     group by p.id, p.cutoff
  ), appt as (
    select p.id, p.cutoff from pop p join appointments a on a.lead_id = p.id
     where a.created_at <= p.cutoff group by p.id, p.cutoff
  ), rows as (
    select p.*, least(m.first_at, k.first_at) first_at,
           (p.email is not null and (p.email_opted_out_at is null or p.email_opted_out_at > p.cutoff))::integer::real email_ok,
           (p.phone is not null and (p.sms_opted_out_at is null or p.sms_opted_out_at > p.cutoff))::integer::real sms_ok,
           (p.phone is not null and (p.calls_opted_out_at is null or p.calls_opted_out_at > p.cutoff))::integer::real call_ok,
           m.emails_sent, m.opened, m.sms_sent, m.last_open, c.n clicks, c.last_at click_at,
           c.last_campaign, r.n replies, r.last_at reply_at, k.answered, k.unanswered,
           k.voicemail, k.last_answered,
           coalesce(k.booked, false) or a.id is not null booked,
           coalesce(k.in_flight, false) in_flight
      from pop p
      left join msg m on m.id = p.id and m.cutoff = p.cutoff
      left join clk c on c.id = p.id and c.cutoff = p.cutoff
      left join rep r on r.id = p.id and r.cutoff = p.cutoff
      left join cal k on k.id = p.id and k.cutoff = p.cutoff
      left join appt a on a.id = p.id and a.cutoff = p.cutoff
  )
  select x.id, x.cutoff,
         case when p_horizon_days is null
                or x.cutoff + make_interval(days => p_horizon_days) > p_now then null
              else exists (select from appointments a where a.lead_id = x.id
                              and a.created_at > x.cutoff
                              and a.created_at <= x.cutoff + make_interval(days => p_horizon_days))
                or exists (select from calls k where k.lead_id = x.id and k.outcome = 'booked'
                              and k.report_received_at > x.cutoff
                              and k.report_received_at
                                  <= x.cutoff + make_interval(days => p_horizon_days)) end,
         x.first_at, x.industry, x.source, x.state,
         -- age when first contacted (an attribute of the lead, not of the cutoff's clock)
         (extract(epoch from (coalesce(least(x.first_at, x.cutoff), x.cutoff) - x.created_at)) / 86400.0)::real,
         (extract(epoch from (x.cutoff - x.created_at)) / 86400.0)::real,
         x.email_ok, x.sms_ok, x.call_ok,
         coalesce(x.emails_sent, 0)::integer, coalesce(x.opened, 0)::integer,
         coalesce(x.clicks, 0)::integer, coalesce(x.sms_sent, 0)::integer,
         coalesce(x.replies, 0)::integer, coalesce(x.answered, 0)::integer,
         coalesce(x.unanswered, 0)::integer, coalesce(x.voicemail, 0)::integer,
         (extract(epoch from (x.cutoff - greatest(x.click_at, x.reply_at, x.last_answered,
                                                  x.last_open))) / 86400.0)::real,
         x.click_at, x.last_campaign, x.reply_at, x.last_answered, x.booked, x.in_flight
    from rows x
   where not p_at_risk
      or (x.first_at is not null and not x.booked and not x.in_flight
          and x.email_ok + x.sms_ok + x.call_ok > 0)
   order by x.cutoff, x.id;
end
$$;

-- The placed calls whose end-of-call report was received in (p_since, p_now], with the
-- lead, when the call was placed and whether it booked: the per-call model's training
-- rows (its features: scoring_features at placed_at).
create or replace function scoring_call_outcomes(p_since timestamptz, p_now timestamptz)
returns table (call_id bigint, lead_id bigint, placed_at timestamptz, booked boolean,
               queue_score real, queue_order text)
language sql stable set search_path = public as $$
  select k.id, k.lead_id, k.placed_at,
         k.outcome = 'booked' or exists (
           select from appointments a where a.lead_id = k.lead_id
              and a.created_at >= k.placed_at and a.created_at <= k.report_received_at),
         k.queue_score, k.queue_order
    from calls k
   where k.lead_id is not null and k.placed_at is not null
     and k.report_received_at > p_since and k.report_received_at <= p_now
   order by k.placed_at, k.id;
$$;

-- Records the queue's order of calls being placed (p_ids[i]: p_scores[i], p_orders[i]):
-- the per-call model's chance and whether the slot was the random live control.
create or replace function scoring_mark_call_order(
  p_ids bigint[], p_scores double precision[], p_orders text[]
) returns integer
language plpgsql set search_path = public as $$
declare
  v_n integer;
begin
  update calls k set queue_score = u.score, queue_order = u.kind
    from unnest(p_ids, p_scores, p_orders) u(id, score, kind)
   where k.id = u.id;
  get diagnostics v_n = row_count;
  return v_n;
end
$$;


create or replace function webhook_vapi_status(
  p_dedupe_key text, p_payload jsonb, p_call jsonb, p_now timestamptz
) returns table (duplicate boolean, event_id bigint, call_id bigint, status text)
language plpgsql set search_path = public as $$
#variable_conflict use_column
declare
  v_event bigint;
  v_call bigint;
  v_result text;
  v_inserted boolean;
  v_id text := p_call->>'vapi_call_id';
  v_status text := p_call->>'status';
  v_started timestamptz := (p_call->>'started_at')::timestamptz;
  v_ended timestamptz := (p_call->>'ended_at')::timestamptz;
begin
  v_event := internal.webhook_store_event('vapi', p_dedupe_key, 'status-update', p_payload, p_now);
  if v_event is null then
    return query select true, null::bigint, null::bigint, null::text;
    return;
  end if;
  select c.id into v_call from calls c where c.vapi_call_id = v_id for update;
  if not found then
    insert into calls as c (idempotency_key, vapi_call_id, lead_id, to_number, status,
                            started_at, ended_at, ended_reason, connected_at, created_at,
                            updated_at)
    values ('vapi:' || v_id, v_id, internal.vapi_call_lead(p_call),
            coalesce(p_call->>'to_number', 'unknown'),
            case when internal.call_status_rank(v_status) > internal.call_status_rank('queued')
                 then v_status else 'queued' end,
            v_started, v_ended, p_call->>'ended_reason',
            case when v_status in ('in-progress', 'forwarding') then p_now end, p_now, p_now)
    on conflict (idempotency_key) do update set vapi_call_id = excluded.vapi_call_id
    returning c.id, c.status, (c.xmax = 0) into v_call, v_result, v_inserted;
    if v_inserted then
      return query select false, v_event, v_call, v_result;
      return;
    end if;
  end if;
  update calls c set
    status = case when internal.call_status_rank(v_status) > internal.call_status_rank(c.status)
                  then v_status else c.status end,
    started_at = coalesce(c.started_at, v_started),
    ended_at = coalesce(c.ended_at, v_ended),
    ended_reason = coalesce(c.ended_reason, p_call->>'ended_reason'),
    -- received time of the first sign that a human answered (scoring: point in time)
    connected_at = coalesce(c.connected_at,
                            case when v_status in ('in-progress', 'forwarding') then p_now end),
    updated_at = p_now
   where c.id = v_call returning c.status into v_result;
  return query select false, v_event, v_call, v_result;
end
$$;


create or replace function webhook_vapi_report(
  p_dedupe_key text, p_payload jsonb, p_call jsonb, p_now timestamptz
) returns table (duplicate boolean, event_id bigint, call_id bigint, lead_id bigint,
                 outcome text, lead_phone text, lead_timezone text, lead_state text,
                 recent_attempts jsonb)
language plpgsql set search_path = public as $$
#variable_conflict use_column
declare
  v_event bigint;
  v_call bigint;
  v_lead bigint;
  v_placed timestamptz;
  v_inserted boolean := false;
  v_phone text;
  v_timezone text;
  v_state text;
  v_attempts jsonb := '[]';
  v_id text := p_call->>'vapi_call_id';
  v_outcome text := p_call->>'outcome';
  v_ended timestamptz := coalesce((p_call->>'ended_at')::timestamptz, p_now);
  v_started timestamptz := (p_call->>'started_at')::timestamptz;
  v_duration numeric := (p_call->>'duration_seconds')::numeric;
  v_cost numeric := (p_call->>'cost')::numeric;
  v_transcript text := nullif(p_call->>'transcript', '');
  v_analysis jsonb := coalesce(p_call->'analysis', '{}');
  v_step text := case v_outcome when 'booked' then 'booked' when 'answered' then 'engaged'
                                else 'contacted' end;
begin
  v_event := internal.webhook_store_event('vapi', p_dedupe_key, 'end-of-call-report', p_payload,
                                           p_now);
  if v_event is null then
    return query select true, null::bigint, null::bigint, null::bigint, null::text,
                        null::text, null::text, null::text, '[]'::jsonb;
    return;
  end if;
  select c.id into v_call from calls c where c.vapi_call_id = v_id for update;
  if not found then
    insert into calls as c (idempotency_key, vapi_call_id, lead_id, to_number, status,
                            ended_reason, outcome, started_at, ended_at, duration_seconds,
                            cost, summary, transcript, recording_url, analysis,
                            report_received_at, created_at, updated_at)
    values ('vapi:' || v_id, v_id, internal.vapi_call_lead(p_call),
            coalesce(p_call->>'to_number', 'unknown'), 'ended', p_call->>'ended_reason',
            v_outcome, v_started, v_ended, v_duration, v_cost, p_call->>'summary',
            v_transcript, p_call->>'recording_url', '{}'::jsonb || v_analysis, p_now, p_now,
            p_now)
    on conflict (idempotency_key) do update set vapi_call_id = excluded.vapi_call_id
    returning c.id, c.lead_id, c.placed_at, (c.xmax = 0)
      into v_call, v_lead, v_placed, v_inserted;
  end if;
  if not v_inserted then
    update calls c set
      status = case when c.status = 'cancelled' then c.status else 'ended' end,
      ended_reason = coalesce(p_call->>'ended_reason', c.ended_reason), outcome = v_outcome,
      started_at = coalesce(v_started, c.started_at),
      ended_at = v_ended,
      duration_seconds = coalesce(v_duration, c.duration_seconds),
      cost = coalesce(v_cost, c.cost),
      summary = coalesce(p_call->>'summary', c.summary),
      transcript = coalesce(v_transcript, c.transcript),
      recording_url = coalesce(p_call->>'recording_url', c.recording_url),
      analysis = c.analysis || v_analysis,
      -- outcome, duration, endedReason and analysis are known from this instant (scoring)
      report_received_at = coalesce(c.report_received_at, p_now), updated_at = p_now
     where c.id = v_call returning c.lead_id, c.placed_at into v_lead, v_placed;
  end if;
  if v_lead is not null then
    update leads l set
      last_called_at = greatest(coalesce(l.last_called_at, v_ended), v_ended),
      call_attempts = l.call_attempts + case when v_placed is null then 1 else 0 end,
      status = case when array_position(array['new', 'contacted', 'engaged', 'booked'], l.status)
                         < array_position(array['new', 'contacted', 'engaged', 'booked'], v_step)
                    then v_step else l.status end,  -- internal.lead_advance_status, same update
      updated_at = p_now
     where l.id = v_lead returning l.phone, l.timezone, l.state
      into v_phone, v_timezone, v_state;
    if v_outcome = 'booked' then
      perform apply_stop_rules(v_lead, 'booking', p_now);
    end if;
    -- attempts (texts and calls) of the last 24 h, for the gate's per-state caps: the one
    -- definition (lead_recent_attempts: by when sent or placed). This copy counted rows by
    -- created_at, so a call queued yesterday and placed today was missed and the rescue
    -- text went out as a fourth contact (a 10,000-lead, 30-day simulation).
    v_attempts := internal.lead_recent_attempts(v_lead, p_now);
  end if;
  return query select false, v_event, v_call, v_lead, v_outcome, v_phone, v_timezone,
                      v_state, v_attempts;
end
$$;

revoke all on function public.scoring_features(timestamp with time zone,bigint[],timestamp with time zone[],timestamp with time zone[],boolean,integer) from public, anon, authenticated;
grant execute on function public.scoring_features(timestamp with time zone,bigint[],timestamp with time zone[],timestamp with time zone[],boolean,integer) to service_role;
revoke all on function public.scoring_call_outcomes(timestamp with time zone,timestamp with time zone) from public, anon, authenticated;
grant execute on function public.scoring_call_outcomes(timestamp with time zone,timestamp with time zone) to service_role;
revoke all on function public.scoring_mark_call_order(bigint[],double precision[],text[]) from public, anon, authenticated;
grant execute on function public.scoring_mark_call_order(bigint[],double precision[],text[]) to service_role;

-- Campaigns the deliverability guard paused (and why), so a run's report says so instead of
-- silently measuring a stopped campaign.
create or replace function simulate_campaign_pauses()
returns table (campaign text, status text, paused_at timestamptz, reason text)
language sql stable set search_path = public as $$
  select c.slug, c.status, c.paused_at, c.paused_reason from campaigns c
   where c.paused_at is not null order by c.paused_at, c.slug;
$$;
revoke all on function public.simulate_campaign_pauses() from public, anon, authenticated;
grant execute on function public.simulate_campaign_pauses() to service_role;

-- The leads whose enquiry came after p_since (created since): their "days since the
-- enquiry" moves fastest, so the hourly run rescores them even when nothing marked them.
create or replace function scoring_recent_leads(p_since timestamptz)
returns bigint[]
language sql stable set search_path = public as $$
  select coalesce(array_agg(l.id order by l.id), '{}') from leads l where l.created_at > p_since;
$$;
revoke all on function public.scoring_recent_leads(timestamp with time zone) from public, anon, authenticated;
grant execute on function public.scoring_recent_leads(timestamp with time zone) to service_role;

-- Call quality of the connected calls (a human answered) that ended in the last 7 days and
-- in the 7 days before: how many, their average score and (this week) how many scored
-- below p_below. For the digest, the status page and the growth run's drop alert.
create or replace function quality_weekly(p_below integer, p_now timestamptz)
returns table (week_calls integer, week_avg real, week_low integer, previous_calls integer,
               previous_avg real)
language sql stable set search_path = public as $$
  with q as (
    select q.score, k.ended_at > p_now - interval '7 days' this_week
      from call_quality q join calls k on k.id = q.call_id
     where k.ended_at > p_now - interval '14 days' and k.ended_at <= p_now
       and (k.connected_at is not null or k.outcome in ('answered', 'booked'))
  )
  select count(*) filter (where this_week)::integer,
         (avg(score) filter (where this_week))::real,
         count(*) filter (where this_week and score < p_below)::integer,
         count(*) filter (where not this_week)::integer,
         (avg(score) filter (where not this_week))::real
    from q;
$$;
revoke all on function public.quality_weekly(integer,timestamp with time zone) from public, anon, authenticated;
grant execute on function public.quality_weekly(integer,timestamp with time zone) to service_role;

create index calls_placed_idx on calls (placed_at) where campaign_id is not null;

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
revoke all on function public.calls_placed_today(timestamp with time zone) from public, anon, authenticated;
grant execute on function public.calls_placed_today(timestamp with time zone) to service_role;

drop function if exists call_queue(integer, timestamptz);
-- The call queue, hottest lead first (score, then newest lead): calls waiting in our queue
-- (no Vapi id yet) whose not_before has come, with what the gate needs (`window`: the call
-- step's own window, written into the call's payload by drip; null: the campaign's). `in_flight` counts
-- calls Vapi is still working on, for its concurrency limit. p_order picks which p_limit
-- candidates campaign_manager reorders: 'score' (the hottest), 'newest' (the latest
-- queued: the simulator's oracle) or 'random' (a hash of the call and the hour: every slot
-- random, the simulator's baseline).
create or replace function call_queue(
  p_limit integer, p_now timestamptz default now(), p_order text default 'score'
)
returns table (call jsonb, in_flight integer)
language sql stable set search_path = public as $$
  select jsonb_build_object(
           'id', k.id, 'lead', to_jsonb(l) - 'score_reasons', 'not_before', k.not_before,
           'window', k.payload->'window',
           'campaign', case when c.id is null then null else
             jsonb_build_object('id', c.id, 'slug', c.slug, 'definition', c.definition) end,
           'recent_attempts', internal.lead_recent_attempts(l.id, p_now)),
         (select count(*)::integer from calls f
           where f.status in ('placing', 'ringing', 'in-progress', 'forwarding')
             -- as claim_call: a call silent for 2 h lost its end-of-call report
             and f.updated_at > p_now - interval '2 hours')
    from calls k
    join leads l on l.id = k.lead_id
    left join campaigns c on c.id = k.campaign_id
   where k.status = 'queued' and k.vapi_call_id is null
     and (k.not_before is null or k.not_before <= p_now)
     and (c.id is null or c.status = 'active')
   order by case when p_order = 'score' then l.score end desc nulls last,
            case when p_order = 'newest' then k.created_at end desc,
            case when p_order = 'random'
                 then md5(k.id::text || date_trunc('hour', p_now)::text) end,
            l.created_at desc, k.id
   limit p_limit;
$$;

revoke all on function public.call_queue(integer,timestamp with time zone,text) from public, anon, authenticated;
grant execute on function public.call_queue(integer,timestamp with time zone,text) to service_role;

-- Every placed call's lead, when it was placed and when its end-of-call report came (null:
-- not yet): the report checks, independently of scoring_features, that no training row was
-- observed while one of its lead's calls was in progress.
create or replace function simulate_call_spans()
returns table (lead_id bigint, placed_at timestamptz, report_received_at timestamptz)
language sql stable set search_path = public as $$
  select k.lead_id, coalesce(k.placed_at, k.claimed_at), k.report_received_at from calls k
   where k.lead_id is not null and coalesce(k.placed_at, k.claimed_at) is not null
   order by 1, 2;
$$;
revoke all on function public.simulate_call_spans() from public, anon, authenticated;
grant execute on function public.simulate_call_spans() to service_role;
