-- Issue 19 (the fixed cost of a guardian run, 8,640 a simulated month): new_error_fingerprints,
-- read by guardian_reads at every run, no longer sets plan_cache_mode = force_custom_plan.
-- Its one query reads the week before p_now (window + lookback) of system_logs by
-- system_logs_at_idx whatever the window, so a plan made for one call serves the next; it
-- was planned again at every run. Now the plan cache plans it (a generic plan kept only while
-- it costs no more than the custom ones). Same query, same rows; replaced in place.
-- `.venv/bin/python bench/fingerprint_plans_ab.py --dsn ... --now "2026-12-28 05:00+00"
-- --runs 300 --rounds 6` on a copy of the kept database of day 28 of `--leads 10000 --days 30
-- --seed 7` with this migration (08:42 UTC, load 5.8, the order of the two alternating by
-- round): guardian_reads' server backend CPU a call 1000-1173 us before, 921-1076 us after,
-- less in every round (9-241 us; 98 us, 9 %, on average); the same answers.

create or replace function new_error_fingerprints(
  p_window_seconds integer, p_min_count integer, p_lookback_seconds integer,
  p_now timestamptz default now()
) returns table (fingerprint text, occurrences integer, sample text)
language plpgsql stable set search_path = public
as $$
begin
  return query
  with masked as (
    select l.at, l.message,
           regexp_replace(regexp_replace(regexp_replace(regexp_replace(l.message,
             'https?://[^[:space:]]+', '<url>', 'g'),
             '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}', '<id>', 'g'),
             '\m[0-9a-fA-F]{8,}\M', '<hex>', 'g'),
             '[0-9]+', '<n>', 'g') as fingerprint
      from system_logs l
     where l.level in ('error', 'critical')
       and l.at > p_now - make_interval(secs => p_window_seconds + p_lookback_seconds)
       and l.at <= p_now
  )
  select m.fingerprint, count(*)::integer, min(m.message)
    from masked m
   where m.at > p_now - make_interval(secs => p_window_seconds)
   group by m.fingerprint
  having count(*) > p_min_count
     and not exists (select from masked o where o.fingerprint = m.fingerprint
                       and o.at <= p_now - make_interval(secs => p_window_seconds))
   order by count(*) desc;
end
$$;

-- Executable by service_role only (99_grants: internal.secure_functions).
select internal.secure_functions();
