-- Issue 19 (the month's fixed cost): a guardian run makes 5 database calls, not 7.
-- guardian_reads records the database probe (record_health_check 'database', the latency
--   db_ping measured) in the same round trip as its reads: it was a call of its own.
-- alert_flush_reads: a flush's notifications due and alert rows to deliver, in one call
--   (alert_notifications_due, then alert_pending_messages: two calls at every guardian run
--   and every job run that raised an alert). A flush that records notifications reads the
--   pending rows again, as before.
-- 288 guardian runs a virtual day: 576 database calls fewer a day (its own calls 1,440 ->
-- 864, beside start_job_run and finish_job_run), the same rows (tests/guardian/).
-- Executable by service_role only.

drop function if exists guardian_reads(timestamptz, text[], timestamptz, timestamptz, integer,
                                       integer, integer);

create or replace function guardian_reads(
  p_now timestamptz, p_jobs text[], p_gaps_from timestamptz, p_gaps_to timestamptz,
  p_min_count integer, p_database_ms integer, p_window_seconds integer default 3600,
  p_lookback_seconds integer default 604800
) returns jsonb
-- planned per call as the sql function it was (a cached generic plan would keep the plan
-- of an early, nearly empty database: enroll_leads, migration 20261207101000)
language plpgsql set search_path = public set plan_cache_mode = force_custom_plan as $$
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
                                                            p_lookback_seconds, p_now) f), '[]'));
end
$$;

create or replace function alert_flush_reads(
  p_hold_seconds integer, p_repeat_warning_seconds integer, p_repeat_critical_seconds integer,
  p_escalate boolean, p_reclaim_after_seconds integer default 600,
  p_now timestamptz default now()
) returns jsonb
language sql stable set search_path = public as $$
  select jsonb_build_object(
    'due', coalesce((select jsonb_agg(jsonb_build_object('reason', d.reason, 'alert', d.alert))
                       from alert_notifications_due(p_hold_seconds, p_repeat_warning_seconds,
                                                    p_repeat_critical_seconds, p_escalate,
                                                    p_now) d), '[]'),
    'pending', coalesce((select jsonb_agg(to_jsonb(m) order by m.message_id)
                           from alert_pending_messages(p_reclaim_after_seconds, p_now) m),
                        '[]'));
$$;

revoke all on function guardian_reads(timestamptz, text[], timestamptz, timestamptz, integer, integer, integer, integer) from public, anon, authenticated;
grant execute on function guardian_reads(timestamptz, text[], timestamptz, timestamptz, integer, integer, integer, integer) to service_role;
revoke all on function alert_flush_reads(integer, integer, integer, boolean, integer, timestamptz) from public, anon, authenticated;
grant execute on function alert_flush_reads(integer, integer, integer, boolean, integer, timestamptz) to service_role;
