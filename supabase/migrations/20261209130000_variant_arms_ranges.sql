-- Issue 19, stop 26: internal.variant_arms reads each range's sends by its own index scan.
-- A SQL function with a SET clause is planned once per call with its arguments unknown;
-- the join of unnest(p_sent) with messages on the ranges' bounds was planned as a scan of
-- every message, so growth's hourly variant_stats (two ranges: the open hour and the
-- window's first partial hour) read the whole history at every call. Each range now reads
-- its own sends in a lateral subquery (OFFSET 0 keeps it apart, so the bounds are index
-- conditions). Same arguments and answers: replaced in place.
-- Figures: bench/growth_steps_ab.py (variant_stats on a kept day-28 database).

create or replace function internal.variant_arms(
  p_sent tstzmultirange, p_horizon_days integer, p_by_hour boolean
) returns table (hour timestamptz, campaign_id bigint, step_id bigint, channel text,
                 variant text, sent integer, clicked integer, replied integer, booked integer)
language sql stable set search_path = public as $$
  with sent as (
    select m.*
      from unnest(p_sent) r
     cross join lateral (
       select m.id, m.campaign_id, m.step_id, m.channel, m.payload->>'variant' variant,
              m.status, m.to_address, m.sent_at, m.lead_id
         from messages m
        where m.sent_at >= lower(r) and m.sent_at <= upper(r) and m.sent_at <@ r
          and m.step_id is not null and m.payload ? 'variant'
          and m.status not in ('failed', 'bounced', 'cancelled', 'undelivered')
       offset 0) m
  ), bookings as (
    select a.lead_id, array_agg(a.created_at) ats from appointments a
     where a.lead_id in (select s.lead_id from sent s)
     group by a.lead_id
  )
  select case when p_by_hour then date_trunc('hour', s.sent_at, 'UTC') end,
         s.campaign_id, s.step_id, s.channel, s.variant,
         count(*)::integer,
         count(*) filter (where s.status = 'clicked'
                             or exists (select from click_events e where e.message_id = s.id))::integer,
         count(*) filter (where s.channel = 'sms' and exists (
           select from webhook_events w
            where w.provider = 'twilio' and w.event_type = 'sms.reply'
              and w.payload->>'From' = s.to_address
              and w.received_at > s.sent_at and w.received_at <= s.sent_at + interval '7 days'))::integer,
         count(*) filter (where exists (
           select from unnest(b.ats) t(at)
            where t.at > s.sent_at and t.at <= s.sent_at + make_interval(days => p_horizon_days)))::integer
    from sent s
    left join bookings b on b.lead_id = s.lead_id
   group by 1, 2, 3, 4, 5;
$$;
