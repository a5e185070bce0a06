-- Issue 19 (the fixed cost of a guardian run and of an appointments run, 8,640 each a
-- simulated month).
-- 1. The reads of guardian_reads (job_status, callback_gaps, new_error_fingerprints), of
--    the flush (alert_flush_reads, internal.alert_notifications_due, alert_pending_messages)
--    and appointments_next's appointments_to_schedule are plpgsql instead of SQL. A SQL
--    function with `set search_path` is never inlined, so each of their queries was parsed,
--    analysed and planned again at every call; plpgsql keeps the parsed queries per
--    connection (guardian_reads still plans them for each call's values: plan_cache_mode =
--    force_custom_plan, as do callback_gaps and new_error_fingerprints on their own: a
--    generic plan cannot see their windows). Same queries, same rows; their arguments and
--    result types are unchanged, so each is replaced in place (grants kept).
-- 2. guardian_reads also returns the flush's reads (`flush`: alert_flush_reads at the same
--    instant) when given the flush's arguments, so a guardian run that changes no alert
--    sends from them without a read of its own: a quiet run is db_ping + guardian_reads
--    (app/guardian/loop.py). New arguments: dropped and created again.
-- `.venv/bin/python bench/guardian_run_cost.py --runs 500 --rounds 3 --dsn ... --now
-- "2026-12-05 05:00+00"` on the kept database of `--leads 10000 --days 5 --seed 7`
-- (bench/history_reads.py keep) with this migration, the former functions as scratch
-- copies, taken in turn run by run, 3 rounds at load 8.8-9.4 (a shared machine: 2 pings
-- 2.94-4.53 ms), ms wall a call, before -> after in the same rounds:
--   a quiet run's reads, guardian_reads + alert_flush_reads -> guardian_reads:
--   10.40-13.03 -> 6.45-8.55 (34-38 % less in every round; client CPU 0.79-0.84 -> 0.47-0.51);
--   guardian_reads alone 7.75-9.84 -> 6.13-7.74; alert_flush_reads 3.60-4.73 -> 2.37-3.45;
--   appointments_next 2.08-3.19 -> 1.87-2.84.

create or replace function job_status(p_now timestamptz default now(), p_jobs text[] default null)
returns table (
  job text, run_id uuid, status text, started_at timestamptz, finished_at timestamptz,
  counts jsonb, error text, last_success_at timestamptz, lease_holder text,
  lease_expires_at timestamptz
)
language plpgsql stable set search_path = public as $$
begin
  return query
  select j.job, r.id, r.status, r.started_at, r.finished_at, r.counts, r.error,
         (select s.finished_at from job_runs s
           where s.job = j.job and s.status = 'succeeded'
           order by s.started_at desc limit 1),
         l.holder, l.expires_at
    from unnest(coalesce(p_jobs, array(select distinct x.job from job_runs x))) as j(job)
    join lateral (
      select * from job_runs r
       where r.job = j.job and r.status <> 'skipped'
       order by r.started_at desc, r.id limit 1
    ) r on true
    left join job_leases l on l.job = j.job and l.expires_at > p_now
   order by j.job;
end
$$;

create or replace function callback_gaps(p_from timestamptz, p_to timestamptz)
returns table (provider text, sends bigint, last_event_at timestamptz)
language plpgsql stable set search_path = public set plan_cache_mode = force_custom_plan
as $$
begin
  return query
  with sends as (
    select m.provider, count(*) as n from messages m
     where m.provider in ('twilio', 'resend') and m.sent_at >= p_from and m.sent_at < p_to
       and m.created_at >= p_from - interval '7 days'
     group by m.provider
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

create or replace function new_error_fingerprints(
  p_window_seconds integer, p_min_count integer, p_lookback_seconds integer,
  p_now timestamptz default now()
) returns table (fingerprint text, occurrences integer, sample text)
language plpgsql stable set search_path = public set plan_cache_mode = force_custom_plan
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

create or replace function internal.alert_notifications_due(
  p_hold_seconds integer, p_repeat_warning_seconds integer, p_repeat_critical_seconds integer,
  p_escalate boolean, p_now timestamptz default now()
) returns table (reason text, alert jsonb)
language plpgsql stable set search_path = public as $$
begin
  return query
  with candidates as (
    select a.* from alerts a
     where a.severity <> 'info' and not internal.alert_is_silenced(a.key, p_now)
       and (a.status = 'firing'
            or (a.resolve_notified_at is null and cardinality(a.notified_channels) > 0))
  )
  select 'new', to_jsonb(c) from candidates c
   where c.status = 'firing' and c.last_notified_at is null
     and c.first_seen_at <= p_now - make_interval(secs => p_hold_seconds)
  union all
  select 'repeat', to_jsonb(c) from candidates c
   where c.status = 'firing' and c.acknowledged_at is null and c.last_notified_at is not null
     and c.last_notified_at <= p_now - make_interval(secs => case c.severity
           when 'critical' then p_repeat_critical_seconds else p_repeat_warning_seconds end)
  union all
  select 'escalate', to_jsonb(c) from candidates c
   where p_escalate and c.status = 'firing' and c.severity = 'critical'
     and c.acknowledged_at is null and c.escalated_at is null and c.escalate_due_at <= p_now
  union all
  select 'resolved', to_jsonb(c) from candidates c
   where c.status = 'resolved';
end
$$;

create or replace function alert_pending_messages(
  p_reclaim_after_seconds integer default 600, p_now timestamptz default now()
) returns table (message_id bigint, channel text)
language plpgsql stable set search_path = public as $$
begin
  return query
  select m.id, m.channel from messages m
   where m.kind = 'alert' and m.created_at > p_now - interval '1 day'
     and (m.status = 'queued'
          or (m.status = 'sending'
              and m.claimed_at <= p_now - make_interval(secs => p_reclaim_after_seconds)))
   order by m.id;
end
$$;

create or replace function alert_flush_reads(
  p_hold_seconds integer, p_repeat_warning_seconds integer, p_repeat_critical_seconds integer,
  p_escalate boolean, p_reclaim_after_seconds integer default 600,
  p_now timestamptz default now()
) returns jsonb
language plpgsql stable set search_path = public as $$
begin
  return jsonb_build_object(
    'due', coalesce((select jsonb_agg(jsonb_build_object('reason', d.reason, 'alert', d.alert))
                       from internal.alert_notifications_due(
                              p_hold_seconds, p_repeat_warning_seconds,
                              p_repeat_critical_seconds, p_escalate, p_now) d), '[]'),
    'pending', coalesce((select jsonb_agg(to_jsonb(m) order by m.message_id)
                           from alert_pending_messages(p_reclaim_after_seconds, p_now) m),
                        '[]'));
end
$$;

create or replace function appointments_to_schedule(p_limit integer, p_now timestamptz)
returns setof jsonb
language plpgsql stable set search_path = public as $$
begin
  return query
  select internal.appointment_view(a.id) from appointments a
   where a.scheduled_version < a.version and a.status in ('booked', 'confirmed')
     and a.created_at <= p_now
   order by a.id limit p_limit;
end
$$;

drop function guardian_reads(timestamptz, text[], timestamptz, timestamptz, integer, integer,
                             integer, integer);

create or replace function guardian_reads(
  p_now timestamptz, p_jobs text[], p_gaps_from timestamptz, p_gaps_to timestamptz,
  p_min_count integer, p_database_ms integer, p_window_seconds integer default 3600,
  p_lookback_seconds integer default 604800, p_hold_seconds integer default null,
  p_repeat_warning_seconds integer default null, p_repeat_critical_seconds integer default null,
  p_escalate boolean default null, p_reclaim_after_seconds integer default 600
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
                                                            p_lookback_seconds, p_now) f), '[]'),
    'flush', case when p_escalate is not null then
               alert_flush_reads(p_hold_seconds, p_repeat_warning_seconds,
                                 p_repeat_critical_seconds, p_escalate,
                                 p_reclaim_after_seconds, p_now) end);
end
$$;

-- Executable by service_role only (99_grants: internal.secure_functions).
select internal.secure_functions();
