-- Issue 19: the simulator's report, its forward AUC read once per lead (simulate_forward_leads)
-- instead of once per (lead, hourly time) (simulate_forward_rows, kept: its test holds it
-- equal to scoring_features, and the new read's test holds the two equal). Figures:
-- bench/report_ab.py. Executable by service_role only.

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

revoke all on function simulate_forward_leads() from public, anon, authenticated;
grant execute on function simulate_forward_leads() to service_role;
