-- Issue 19 (the fixed cost of a guardian run and of an appointments run, 8,640 each a
-- simulated month; their reads do not grow with the history: on the kept database of day 28
-- of `--leads 10000 --days 30 --seed 7` every read of guardian_reads executes in well under
-- a millisecond by index lookups, and what was left was planning them at every call).
-- 1. guardian_reads no longer sets plan_cache_mode = force_custom_plan for every read it
--    makes: callback_gaps and new_error_fingerprints keep planning for each call's window
--    (their own setting), and the others (record_health_check, the firing keys,
--    job_status, the flush's reads) are planned as when they are called alone, by the plan
--    cache (a generic plan is kept only while it costs no more than the custom ones).
--    Same reads, same rows; the function is replaced in place (grants kept).
-- 2. appointments_next does not call appointments_claim_due when no reminder is due (none
--    'scheduled' or 'claimed' with due_at <= p_now: one probe of
--    appointment_reminders_due_idx, whose predicate is that status). Its two updates and
--    its claim read only such rows, so they would have changed and returned nothing; they
--    were planned at every quiet tick. Same result (`due` is []).
-- `.venv/bin/python bench/quiet_tick_ab.py --dsn ... --now "2026-12-28 05:00+00" --runs 400
-- --rounds 4` on a copy of the kept database of day 28 with this migration, the former
-- functions as scratch copies, the cases in a random order at each turn (06:20 UTC, load
-- 1.2-1.3), before -> after in the same rounds:
--   guardian_reads, server backend CPU a call: 1.69-1.84 -> 1.35-1.48 ms (19-20 % less in
--   every round); wall through the app's transport 2.12-2.64 -> 1.70-2.19 ms (16-20 %);
--   appointments_next (nothing due), server CPU 164-181 -> 98-109 us (39-40 % less); wall
--   0.42-0.50 -> 0.36-0.43 ms (13-18 %).
--   (The same at load 11.1-11.8, 06:06 UTC: server CPU 18-19 % and 31-38 % less.)
-- Both return the same answers (the bench checks it before timing).

create or replace function guardian_reads(
  p_now timestamptz, p_jobs text[], p_gaps_from timestamptz, p_gaps_to timestamptz,
  p_min_count integer, p_database_ms integer, p_window_seconds integer default 3600,
  p_lookback_seconds integer default 604800, p_hold_seconds integer default null,
  p_repeat_warning_seconds integer default null, p_repeat_critical_seconds integer default null,
  p_escalate boolean default null, p_reclaim_after_seconds integer default 600
) returns jsonb
language plpgsql set search_path = public as $$
declare
  v_probe jsonb;
begin
  select to_jsonb(h) into v_probe
    from record_health_check('database', true, p_database_ms, null, null, p_now) h;
  return jsonb_build_object(
    'database', v_probe,
    'firing', coalesce((select jsonb_agg(a.key) from alerts a where a.status = 'firing'), '[]'),
    'jobs', coalesce((select jsonb_agg(to_jsonb(j)) from job_status(p_now, p_jobs) j), '[]'),
    'gaps', coalesce((select jsonb_agg(to_jsonb(g))
                        from callback_gaps(p_gaps_from, p_gaps_to) g), '[]'),
    'fingerprints', coalesce((select jsonb_agg(to_jsonb(f))
                                from new_error_fingerprints(p_window_seconds, p_min_count,
                                                            p_lookback_seconds, p_now) f), '[]'),
    'flush', case when p_escalate is not null then
               alert_flush_reads(p_hold_seconds, p_repeat_warning_seconds,
                                 p_repeat_critical_seconds, p_escalate,
                                 p_reclaim_after_seconds, p_now) end);
end
$$;

create or replace function appointments_next(
  p_holder text, p_limit integer, p_lease_seconds integer, p_now timestamptz
) returns jsonb
language plpgsql set search_path = public as $$
declare
  v_pending jsonb;
begin
  select coalesce(jsonb_agg(t.x), '[]') into v_pending
    from appointments_to_schedule(p_limit, p_now) as t(x);
  if jsonb_array_length(v_pending) > 0 then
    return jsonb_build_object('pending', v_pending, 'due', null);
  end if;
  if not exists (select from appointment_reminders r
                  where r.due_at <= p_now and r.status in ('scheduled', 'claimed')) then
    return jsonb_build_object('pending', v_pending, 'due', '[]'::jsonb);
  end if;
  return jsonb_build_object('pending', v_pending, 'due', coalesce(
    (select jsonb_agg(jsonb_build_object('reminder', d.reminder, 'appointment', d.appointment))
       from appointments_claim_due(p_holder, p_limit, p_lease_seconds, p_now) d), '[]'));
end
$$;
