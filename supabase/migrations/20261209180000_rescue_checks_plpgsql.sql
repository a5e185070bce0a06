-- Issue 19 (a drip run's fixed cost): webhook_due_rescue_checks, the due rescue texts' read
-- that every drip run makes (an empty run inside drip_begin, one that claimed steps inside
-- drip_settle: 4,598 + the empty runs' reads in the profiled month, `.venv/bin/python
-- bench/sim_profile.py --leads 10000 --days 30 --seed 7`), was a SQL function with
-- `set search_path`: never inlined, so its query was parsed and planned at every call.
-- It is plpgsql now (`return query` of the same select: planned once per connection).
-- Same rows, same order (bench/rescue_checks_ab.py checks both texts agree before timing;
-- tests/webhooks/test_rescue_checks_plpgsql.py). The function is replaced in place (grants
-- kept). Figures: `.venv/bin/python bench/rescue_checks_ab.py --dsn ... --now
-- "2026-12-28 13:05+00"` on a copy of the kept database of day 28 of the month (see
-- bench/RESULTS.md).

create or replace function webhook_due_rescue_checks(p_now timestamptz, p_limit integer default 100)
returns table (message jsonb, lead_state text, lead_timezone text, recent_attempts jsonb)
language plpgsql stable set search_path = public as $$
begin
  return query
  select to_jsonb(m), l.state, l.timezone, internal.lead_recent_attempts(l.id, p_now)
    from messages m
    join leads l on l.id = m.lead_id
   where m.kind = 'rescue' and m.status = 'queued'
     and coalesce((m.payload->>'not_before')::timestamptz, m.created_at) <= p_now
   order by m.id limit p_limit;
end
$$;
