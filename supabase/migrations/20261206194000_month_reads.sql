-- Issue 19 (a month simulated in five minutes), reads that followed the history:
-- scoring_first_lead_at: training_rows reads no snapshot before the first lead (a 180-day
--   window over a young deployment is mostly empty snapshots: in a 10,000-lead simulation
--   at day 12, 96 of the 103 reads of a retrain, 2.4 s of its 7 s read; the rows are the
--   same).
-- simulate_forward_rows: the simulator's forward AUC reads the at-risk rows and labels of
--   ~700 hourly times without computing every feature (day 12 of a 10,000-lead simulation:
--   443,265 rows in 1.4 s instead of 15.9 s, the same rows: EXCEPT ALL both ways empty).
-- simulate_scores: the scores kept after each growth run, as two arrays.
-- scoring_features planned with random_page_cost = 1.1 (its tables are cached, on SSD): with
--   the default 4 its label's appointments lookup was a seq scan per row. EXPLAIN ANALYZE
--   (timing off) of 7 training snapshots at day 12 of a 10,000-lead simulation (20,852
--   lead-snapshots): 1,028-1,321 ms -> 593-717 ms (Seq Scan on appointments, 19,613 loops
--   -> Index Scan using appointments_lead_idx); 5 reads of 300 leads at now: 0.29-0.42 s ->
--   0.13-0.19 s. Only the plan changes (its rows are ordered by cutoff and lead).
--   And its `msg` part parses a message's status_history once (its first open), not once
--   per (message, snapshot): an open by t is a first open <= t. The 44 snapshots of the
--   day-12 database (72,554 rows) 1,039 -> 680 ms; the rows, the hourly read of every lead
--   and 400 (lead, cutoff) pairs: EXCEPT ALL both ways empty.
-- Executable by service_role only.

-- When the first lead was created (null: no lead yet). A training snapshot before it has no
-- rows (scoring_features reads the leads created by t), so training_rows does not read it:
-- a young deployment's 180-day window is mostly such snapshots (a 10,000-lead simulation
-- read 96 empty chunks of ~25 ms at every retrain).
create or replace function scoring_first_lead_at()
returns timestamptz
language sql stable set search_path = public as $$
  select min(l.created_at) from leads l;
$$;

-- The forward AUC's rows (app/simulate/report.py): for each t of p_times, the leads at risk
-- at t and whether they booked in (t, t + p_horizon_days] (null while that window is open
-- at p_now): the lead_id, cutoff_at and label of scoring_features(p_now, p_times =>
-- p_times, p_at_risk => true, p_horizon_days => p_horizon_days), the same definitions
-- without the features. That read counted every lead's messages, opens, clicks and calls
-- at each of a month's ~700 hourly times: at day 12 of a 10,000-lead simulation 443,265
-- rows, 15.9 s in SQL (1.4 s here) and 31 s with their dicts, read in one call at the end
-- (the month's 7.1 GB peak).
-- Per lead once: its first contact, its first booking (an appointment, or a booked call
-- whose report came), its booking times and the spans of its calls; then per (lead, t)
-- only comparisons. tests/simulate/test_forward_rows.py holds the two reads equal.
create or replace function simulate_forward_rows(
  p_now timestamptz, p_times timestamptz[], p_horizon_days integer
) returns table (lead_id bigint, cutoff_at timestamptz, label boolean)
language sql stable set search_path = public as $$
  with placed as not materialized (  -- a call counts from when it was placed (as
    -- scoring_features); not materialized: each lead's calls are read by calls_lead_idx
    select k.id, k.lead_id, k.status, k.outcome, k.report_received_at,
           coalesce(k.placed_at, k.claimed_at,
                    case when k.vapi_call_id is not null then k.created_at end) at
      from calls k
  ), lead as materialized (  -- once per lead, not per (lead, t)
    select l.id, l.created_at, l.email is not null has_email, l.phone is not null has_phone,
           l.email_opted_out_at, l.sms_opted_out_at, l.calls_opted_out_at,
           least((select min(m.sent_at) from messages m
                   where m.lead_id = l.id and m.kind in ('marketing', 'rescue')),
                 (select min(k.at) from placed k where k.lead_id = l.id)) first_at,
           -- booked by t: an appointment created by t, or a booked call placed and
           -- reported by t
           least((select min(a.created_at) from appointments a where a.lead_id = l.id),
                 (select min(greatest(k.at, k.report_received_at)) from placed k
                   where k.lead_id = l.id and k.outcome = 'booked' and k.at is not null
                     and k.report_received_at is not null)) booked_at,
           -- the label's bookings: appointments created, booked calls' reports received
           array(select a.created_at from appointments a where a.lead_id = l.id
                 union all
                 select k.report_received_at from placed k
                  where k.lead_id = l.id and k.outcome = 'booked'
                    and k.report_received_at is not null) bookings,
           -- in flight at t: placed in (t - 2 h, t], not failed or cancelled, report not
           -- received by t
           array(select k.at from placed k where k.lead_id = l.id and k.at is not null
                    and k.status not in ('failed', 'cancelled') order by k.at, k.id) spans_at,
           array(select k.report_received_at from placed k
                  where k.lead_id = l.id and k.at is not null
                    and k.status not in ('failed', 'cancelled') order by k.at, k.id)
             spans_report
      from leads l
  )
  select x.id, t.at,
         case when p_horizon_days is null
                or t.at + make_interval(days => p_horizon_days) > p_now then null
              else exists (select from unnest(x.bookings) b(at)
                            where b.at > t.at
                              and b.at <= t.at + make_interval(days => p_horizon_days)) end
    from lead x cross join unnest(p_times) t(at)
   where x.created_at <= t.at and t.at <= p_now
     and x.first_at <= t.at
     and (x.booked_at is null or x.booked_at > t.at)
     and ((x.has_email and (x.email_opted_out_at is null or x.email_opted_out_at > t.at))
          or (x.has_phone and (x.sms_opted_out_at is null or x.sms_opted_out_at > t.at))
          or (x.has_phone and (x.calls_opted_out_at is null or x.calls_opted_out_at > t.at)))
     and not exists (select from unnest(x.spans_at, x.spans_report) s(at, report)
                      where s.at <= t.at and s.at > t.at - interval '2 hours'
                        and not coalesce(s.report <= t.at, false))
   order by t.at, x.id;
$$;

-- Every scored lead's id and score, ascending by id, as two arrays: the simulator keeps them
-- after each hourly growth run (app/simulate/report.py ScoreLog: 12 bytes a lead, where
-- simulate_lead_scores' rows were ~10,000 validated objects an hour).
create or replace function simulate_scores()
returns table (lead_ids bigint[], scores real[])
language sql stable set search_path = public as $$
  select coalesce(array_agg(l.id order by l.id), '{}'),
         coalesce(array_agg(l.score order by l.id), '{}')
    from leads l where l.score is not null;
$$;

revoke all on function scoring_first_lead_at() from public, anon, authenticated;
grant execute on function scoring_first_lead_at() to service_role;
revoke all on function simulate_forward_rows(timestamptz, timestamptz[], integer) from public, anon, authenticated;
grant execute on function simulate_forward_rows(timestamptz, timestamptz[], integer) to service_role;
revoke all on function simulate_scores() from public, anon, authenticated;
grant execute on function simulate_scores() to service_role;

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
-- 10,000-lead simulation, 0.8 ms with the values). random_page_cost = 1.1 (the tables it
-- reads are cached, on SSD): with the default 4 the label's appointments lookup was a seq
-- scan per row (EXPLAIN ANALYZE, 7 snapshots at day 12 of a 10,000-lead simulation: 1.1 s
-- -> 0.6 s; 300 leads' scoring read 2x faster; issue 19, 20261206194000_month_reads.sql).
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
    -- <= t, so status_history is parsed once per message, not once per (message, t)
    select m.lead_id, m.sent_at, m.channel,
           case when m.channel = 'email' then (
             select min((h->>'at')::timestamptz) from jsonb_array_elements(m.status_history) h
              where h->>'status' in ('opened', 'clicked')) end first_open
      from messages m
     where m.kind in ('marketing', 'rescue') and m.lead_id in (select p.id from pop p)
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
