-- Issue 19 (reads that grew with the history): four of campaign_manager's reads every 15
-- minutes read rows they could never return. Each index below holds, or is read in the
-- order of, only what the read can return (the same rows); deliverability_check is planned
-- per call, and requeue_unanswered_calls settles the calls whose retry can never come.
-- EXPLAIN (ANALYZE, BUFFERS) on the database of `nightshift simulate --leads 10000 --days 8
-- --seed 7` kept at its end (12,682 messages, 5,030 calls), the bodies with the arguments
-- campaign_manager passes at 2026-12-08 05:00 UTC; then ms per call of the function itself
-- (median of 20, rolled back; day 1 of the same run for scale):
--
-- messages_awaiting_status (the reconciler of lost Twilio status callbacks):
--   before: Seq Scan on messages, Rows Removed by Filter: 12682, 2,069 buffers: 8.06 ms;
--   after: Index Scan using messages_awaiting_status_idx (the texts still 'sending'/'sent'
--   with a MessageSid: none here), 0.06 ms. Per call 0.42 (day 1) -> 4.00 (day 8) -> 0.31 ms.
--   The seq scan was not even bounded by the 7-day horizon: it read every message ever sent.
-- calls_awaiting_report (the reconciler of lost end-of-call reports):
--   before: Bitmap Index Scan on calls_vapi_call_id_key (1,118 rows: every call placed
--   with Vapi), Rows Removed by Filter: 1011, 1.47 ms;
--   after: Bitmap Index Scan on calls_awaiting_report_idx (0 rows), 0.07 ms. Per call 0.28
--   -> 0.46 -> 0.33 ms.
-- deliverability_check (the last 200 sends per campaign and channel):
--   before: Index Scan Backward using messages_campaign_day_idx (campaign_id only: a
--   campaign's emails and texts interleaved; the texts' read walked 2,245 rows, Rows
--   Removed by Filter: 1781, and sorts by (created_at, id)), 2.58 ms for campaign 1;
--   after: Index Scan using messages_campaign_channel_idx, 200 rows each, no sort, 0.94 ms.
--   Per call (both campaigns) 0.94 -> 1.26 -> 0.59 ms (0.92-0.94 ms planned per call, below,
--   beside 1.26-1.28 ms before in interleaved rounds). A campaign that stopped sending on
--   one channel made that channel's read walk its whole history.
--   And planned per call (plan_cache_mode = force_custom_plan): plpgsql keeps a generic plan
--   after five calls, generic in c.id, and inside a simulation that plan was an Index Scan
--   Backward using messages_created_idx for both campaigns: for the campaign with few texts
--   (76) it walked every message (Rows Removed by Filter: 3912; day 3, 3,987 messages),
--   3.6-10.3 ms against 0.37-0.52 ms for the custom plan at the same moment, and the
--   function took 10.6-12.5 ms a call (`bench/sim_profile.py --leads 10000 --days 8`: 96
--   calls 0.1 s on day 2, 0.5-1.2 s a day from day 5 on, with the index alone).
-- requeue_unanswered_calls (every campaign_manager run): a call whose retry can never be
--   queued because its enrollment stopped (the lead replied: a stop is final) was left
--   unsettled and re-read, with its lead and enrollment, at every run for good: 92 such calls
--   by day 8 (1.17 ms a call against 0.26 on day 1), growing with the history. Now settled
--   like a call out of attempts; the calls whose hold can pass (the lead's status, an
--   opt-out, a hold for a human, a paused enrollment) are still looked at again.
-- The partial indexes hold the rows in flight only (a text leaves at its final status, a call
-- with its outcome), so they stay small whatever the history; messages_campaign_channel_idx
-- is one more entry per message written.

create index messages_campaign_channel_idx on messages (campaign_id, channel, created_at desc, id desc);

create index calls_awaiting_report_idx on calls ((coalesce(placed_at, claimed_at, created_at)))
  where provider = 'vapi' and vapi_call_id is not null and outcome is null
    and status not in ('cancelled', 'failed');

create index messages_awaiting_status_idx on messages ((coalesce(sent_at, claimed_at, created_at)))
  where channel = 'sms' and provider = 'twilio' and provider_id is not null
    and status in ('sending', 'sent');

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
