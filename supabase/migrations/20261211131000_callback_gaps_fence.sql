-- Issue 19, stop 28: callback_gaps (read at every guardian run, 8,640 a simulated month)
-- checks its week bound on messages.created_at on the window's sends, behind `offset 0`,
-- instead of letting the planner use it as a second index range. Same predicate, same rows.
-- Without statistics (a fresh database: a simulated month's first week or more, until
-- autovacuum first analyses messages) the planner ANDed messages_created_idx over the whole
-- week with messages_sent_idx's window at every call; in the month the read grew with that
-- week (`.venv/bin/python bench/guardian_days.py --stop 8 --analyze-from 8`, no statistics
-- until day 8: 0.58 -> 1.46 ms a call from day 1 to day 8, against 0.61-0.76 with an
-- ANALYZE each day, `--analyze-from 1`; 10:48-10:54 UTC, load 7.6-9.7). Analysed, the
-- planner read the window alone as it does now.
-- `.venv/bin/python bench/callback_gaps_stats_ab.py --dsn ... --until "2026-12-08 05:00+00"
-- --calls 400 --rounds 4` on the kept database of day 28 (6,406 messages before day 8, in
-- scratch copies never analysed; before and after called in turn on one connection over a
-- window moving a minute a call; 10:57-10:58 UTC, load ~4): no statistics, 0.63-0.68 ->
-- 0.51-0.57 ms a call (0.81-0.84x in every round; the plan loses its BitmapAnd); analysed,
-- the same plan (messages_sent_idx alone), 0.90-1.24x, within the load's noise. Small: ~0.1
-- ms a guardian run while messages has no statistics. The same answers over every window
-- (the bench compares them first).
create or replace function callback_gaps(p_from timestamptz, p_to timestamptz)
returns table (provider text, sends bigint, last_event_at timestamptz)
language plpgsql stable set search_path = public set plan_cache_mode = force_custom_plan
as $$
begin
  return query
  with sends as (
    select sent.provider, count(*) as n
      from (select m.provider, m.created_at from messages m
             where m.provider in ('twilio', 'resend') and m.sent_at >= p_from and m.sent_at < p_to
            offset 0) sent
     where sent.created_at >= p_from - interval '7 days'
     group by sent.provider
    union all
    select 'vapi', count(*) from calls c
     where c.provider = 'vapi' and c.placed_at >= p_from and c.placed_at < p_to
  )
  select s.provider, sum(s.n)::bigint,
         (select max(w.received_at) from webhook_events w where w.provider = s.provider)
    from sends s
   where s.n > 0
   group by s.provider
   order by s.provider;
end
$$;
