-- The simulator's reads (repository: app/db/simulate.py; docs/simulation.md).

-- A function body is checked when the function runs, not here: it may read a table that a
-- later file declares. (The migrations are applied with the check on.)
set check_function_bodies = off;

-- Every lead's contact addresses with its current score, so the simulator can match
-- nightshift's scores to the outcomes it simulated (AUC) without building SQL in Python.
create or replace function simulate_lead_scores()
returns table (lead_id bigint, phone text, email text, score real)
language sql stable set search_path = public as $$
  select l.id, l.phone, l.email, l.score from leads l order by l.id;
$$;


-- Campaigns the deliverability guard paused (and why), so a run's report says so instead of
-- silently measuring a stopped campaign.
create or replace function simulate_campaign_pauses()
returns table (campaign text, status text, paused_at timestamptz, reason text)
language sql stable set search_path = public as $$
  select c.slug, c.status, c.paused_at, c.paused_reason from campaigns c
   where c.paused_at is not null order by c.paused_at, c.slug;
$$;

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
-- only comparisons. tests/simulate/test_forward_rows.py holds the two reads equal. The
-- report reads simulate_forward_leads (below); this read is the reference its test holds.
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

-- The forward AUC's leads (app/simulate/report.py forward_auc), once per lead instead of
-- once per (lead, t): simulate_forward_rows' definitions as instants, every instant in epoch
-- microseconds. A lead is at risk at t when from_us <= t < until_us (null: never ends) and
-- no span [from, until) of spans_from_us/spans_until_us holds t (a call in flight); its label
-- at t is a booking in (t, t + horizon]. Only leads ever contacted and reachable on some
-- channel. A month's ~700 hourly times x the leads at risk at each were millions of rows
-- (10,000 leads, 30 days: 15 calls, 12.1 s, and ~15 s of Python over their tuples);
-- tests/simulate/test_report_forward.py holds the two reads equal.
create or replace function simulate_forward_leads()
returns table (lead_id bigint, from_us bigint, until_us bigint, bookings_us bigint[],
               spans_from_us bigint[], spans_until_us bigint[])
language sql stable set search_path = public as $$
  with placed as not materialized (  -- as simulate_forward_rows
    select k.id, k.lead_id, k.status, k.outcome, k.report_received_at,
           coalesce(k.placed_at, k.claimed_at,
                    case when k.vapi_call_id is not null then k.created_at end) at
      from calls k
  ), lead as materialized (
    select l.id, l.created_at,
           least((select min(m.sent_at) from messages m
                   where m.lead_id = l.id and m.kind in ('marketing', 'rescue')),
                 (select min(k.at) from placed k where k.lead_id = l.id)) first_at,
           -- at risk until booked (as simulate_forward_rows' booked_at) or until its last
           -- reachable channel's opt-out ('infinity': none)
           least((select min(a.created_at) from appointments a where a.lead_id = l.id),
                 (select min(greatest(k.at, k.report_received_at)) from placed k
                   where k.lead_id = l.id and k.outcome = 'booked' and k.at is not null
                     and k.report_received_at is not null),
                 greatest(case when l.email is not null
                               then coalesce(l.email_opted_out_at, 'infinity') end,
                          case when l.phone is not null
                               then coalesce(l.sms_opted_out_at, 'infinity') end,
                          case when l.phone is not null
                               then coalesce(l.calls_opted_out_at, 'infinity') end)) until_at,
           array(select (extract(epoch from a.created_at) * 1000000)::bigint
                   from appointments a where a.lead_id = l.id
                 union all
                 select (extract(epoch from k.report_received_at) * 1000000)::bigint
                   from placed k
                  where k.lead_id = l.id and k.outcome = 'booked'
                    and k.report_received_at is not null) bookings_us,
           -- in flight at t: placed by t, less than 2 h ago, report not received by t
           array(select (extract(epoch from k.at) * 1000000)::bigint from placed k
                  where k.lead_id = l.id and k.at is not null
                    and k.status not in ('failed', 'cancelled') order by k.at, k.id)
             spans_from_us,
           array(select (extract(epoch from least(k.at + interval '2 hours',
                                                   k.report_received_at)) * 1000000)::bigint
                   from placed k
                  where k.lead_id = l.id and k.at is not null
                    and k.status not in ('failed', 'cancelled') order by k.at, k.id)
             spans_until_us
      from leads l
     where l.email is not null or l.phone is not null
  )
  select x.id, (extract(epoch from greatest(x.created_at, x.first_at)) * 1000000)::bigint,
         case when x.until_at < 'infinity'
              then (extract(epoch from x.until_at) * 1000000)::bigint end,
         x.bookings_us, x.spans_from_us, x.spans_until_us
    from lead x
   where x.first_at is not null  -- never contacted: never at risk
   order by x.id;
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
