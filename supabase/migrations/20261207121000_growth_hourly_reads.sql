-- Issue 19 (growth's hourly reads and the retrain's new snapshot; GROWTH2, stop 24).
-- Measured on a kept 10,000-lead x 8-day simulation database (seed 7), embedded Postgres 16,
-- HEAD's SQL and this one's alternating in one process (bench/growth_reads_ab.py, medians;
-- bench/RESULTS.md "Simulator"), every answer identical:
-- - the status page's deliverability section read the sent marketing messages of 30 days
--   from the messages heap (2,069 pages for 12,682 rows, ~970 bytes a row); it reads them
--   from messages_marketing_sent_idx alone (an index-only scan, 85 pages):
--   internal.status_aggregates 25.9 -> 20.3 ms a call;
-- - variant_stats probed the SMS replies (webhook_events_sms_reply_idx) for every sent
--   message, emails included, whose to_address is never an SMS sender: it probes SMS only
--   (5,604 of 12,682 messages): 27.5 -> 21.2 ms a call;
-- - scoring_features without p_lead_ids (the hourly scoring of every lead, the retrain's
--   new snapshot) read the wanted leads' messages by a semi-join with `pop`, estimated at
--   200 leads: 9,711 probes of messages_lead_idx; it reads every message in one pass and
--   keeps the wanted leads' (the same rows): a new snapshot 86.3 -> 72.5 ms, every lead
--   98.5 -> 87.3 ms; with p_lead_ids (the call queue's 200 candidates) still by that index,
--   one scan of the ids (= any) for 200 probes (6.2 / 6.5 ms medians, 4.6 ms both mins).

create index messages_marketing_sent_idx on messages (created_at)
  include (campaign_id, status, error_code) where kind = 'marketing' and sent_at is not null;

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
language plpgsql stable set search_path = public set plan_cache_mode = force_custom_plan
set random_page_cost = 1.1 as $$
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
  ), sent as materialized (
    -- each message of the wanted leads once, with its first open (the first 'opened' or
    -- 'clicked' of its status_history, by receipt): an open by cutoff t is a first open
    -- <= t, so status_history is parsed once per message, not once per (message, t).
    -- Without p_lead_ids the wanted leads are (nearly) every lead: every message is read
    -- in one pass and `msg` keeps those of `pop` (a semi-join with `pop`, estimated at 200
    -- leads, probed messages_lead_idx once per lead: 9,711 probes, issue 19)
    select m.lead_id, m.sent_at, m.channel,
           case when m.channel = 'email' then (
             select min((h->>'at')::timestamptz) from jsonb_array_elements(m.status_history) h
              where h->>'status' in ('opened', 'clicked')) end first_open
      from messages m
     where m.kind in ('marketing', 'rescue') and m.lead_id is not null
       and (p_lead_ids is null or m.lead_id = any(p_lead_ids))
  ), msg as (
    select p.id, p.cutoff, min(m.sent_at) first_at,
           count(*) filter (where m.channel = 'email') emails_sent,
           count(*) filter (where m.first_open <= p.cutoff) opened,
           count(*) filter (where m.channel = 'sms') sms_sent,
           max(m.first_open) filter (where m.first_open <= p.cutoff) last_open
      from pop p join sent m on m.lead_id = p.id
     where m.sent_at <= p.cutoff
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
   group by 1, 2, 3, 4
   order by 2, 4;
$$;
