-- nightshift schema, part 12: work that followed the size of the history, not of the change.
--
-- Measured in a 10,000-lead simulation (docs/simulation.md): scoring_apply rewrote every
-- lead each hour (382 ms) although most scores do not move from one hour to the next, and
-- variant_stats looked up each message's clicks and replies without an index (each lookup
-- a scan of click_events / webhook_events, so its cost grew with their product).

-- Writes a lead only when its score, reasons or hot flag change: an unchanged lead costs
-- no new row version and no index entry (leads_score_idx).
create or replace function scoring_apply(
  p_ids bigint[], p_scores double precision[], p_reasons jsonb, p_hot_threshold double precision,
  p_now timestamptz
) returns table (updated integer, newly_hot jsonb)
language plpgsql set search_path = public as $$
#variable_conflict use_column
declare
  v_updated integer;
  v_hot jsonb;
begin
  with input as (
    select u.id, greatest(0, least(100, u.score))::real score,
           coalesce(p_reasons->(u.ord::integer - 1), '[]') reasons, u.score >= p_hot_threshold hot
      from unnest(p_ids, p_scores) with ordinality u(id, score, ord)
  ), changed as (
    update leads l set
      score = i.score, score_reasons = i.reasons,
      hot_at = case when i.hot then coalesce(l.hot_at, p_now) end
      from input i
     where l.id = i.id
       and (l.score is distinct from i.score or l.score_reasons is distinct from i.reasons
            or (l.hot_at is not null) <> i.hot)
    returning l.id, l.name, l.score, l.score_reasons, l.hot_at
  )
  select count(*)::integer,
         coalesce(jsonb_agg(jsonb_build_object('lead_id', id, 'name', name, 'score', score,
                                               'reasons', score_reasons))
                  filter (where hot_at = p_now), '[]')
    into v_updated, v_hot
    from changed;
  return query select v_updated, v_hot;
end
$$;

-- variant_stats: a message's clicks, and the SMS replies from its address, by index; the
-- lead's bookings from one pass over appointments (the planner scanned the small
-- appointments table once per message: 134 of 182 ms with 5,000 messages).
create index if not exists click_events_message_idx on click_events (message_id);
create index if not exists webhook_events_sms_reply_idx
  on webhook_events ((payload->>'From'), received_at)
  where provider = 'twilio' and event_type = 'sms.reply';

create or replace function variant_stats(
  p_days integer, p_horizon_days integer, p_now timestamptz
) returns table (campaign_id bigint, step_id bigint, channel text, variant text,
                 sent integer, clicked integer, replied integer, booked integer)
language sql stable set search_path = public as $$
  with sent as (
    select m.id, m.campaign_id, m.step_id, m.channel, m.payload->>'variant' variant, m.status,
           m.to_address, m.sent_at, m.lead_id
      from messages m
     where m.step_id is not null and m.payload ? 'variant' and m.sent_at is not null
       and m.sent_at > p_now - make_interval(days => p_days) and m.sent_at <= p_now
       and m.status not in ('failed', 'bounced', 'cancelled', 'undelivered')
  ), bookings as (
    select a.lead_id, array_agg(a.created_at) ats from appointments a group by a.lead_id
  )
  select s.campaign_id, s.step_id, s.channel, s.variant,
         count(*)::integer,
         count(*) filter (where s.status = 'clicked'
                             or exists (select from click_events e where e.message_id = s.id))::integer,
         count(*) filter (where exists (
           select from webhook_events w
            where w.provider = 'twilio' and w.event_type = 'sms.reply'
              and w.payload->>'From' = s.to_address
              and w.received_at > s.sent_at and w.received_at <= s.sent_at + interval '7 days'))::integer,
         count(*) filter (where exists (
           select from unnest(b.ats) t(at)
            where t.at > s.sent_at and t.at <= s.sent_at + make_interval(days => p_horizon_days)))::integer
    from sent s
    left join bookings b on b.lead_id = s.lead_id
   group by 1, 2, 3, 4
   order by 2, 4;
$$;


-- requeue_unanswered_calls examined every unanswered call ever made, every 15 minutes (the
-- next attempt's key made a second insert a no-op, but each run still read them all). A
-- call is now marked once its retry is settled: the next attempt queued, or no attempt left.
-- Calls held back for a reason that can pass (lead status, opt-out, enrollment) stay
-- unmarked and are looked at again.
alter table calls add column if not exists retry_settled_at timestamptz;
create index if not exists calls_retry_open_idx on calls (id)
  where status = 'ended' and retry_settled_at is null
    and ended_reason in ('customer-did-not-answer', 'customer-busy', 'voicemail');

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
       and (k.attempt >= p_max_attempts or k.id in (select id from eligible))
    returning 1
  )
  select count(*) into v_n from queued;
  return v_n;
end
$$;

select secure_functions();
