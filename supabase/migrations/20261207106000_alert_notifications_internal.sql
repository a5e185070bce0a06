-- alert_notifications_due is now read only inside alert_flush_reads (the guardian's flush reads
-- both in one call since 20261207101100): moved to schema internal, as every helper only SQL
-- calls (tests/db/test_internal_helpers.py); AlertsRepository.notifications_due, its last
-- Python caller, is gone. Same body, same rows.

create or replace function internal.alert_notifications_due(
  p_hold_seconds integer, p_repeat_warning_seconds integer, p_repeat_critical_seconds integer,
  p_escalate boolean, p_now timestamptz default now()
) returns table (reason text, alert jsonb)
language sql stable set search_path = public as $$
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
$$;

create or replace function alert_flush_reads(
  p_hold_seconds integer, p_repeat_warning_seconds integer, p_repeat_critical_seconds integer,
  p_escalate boolean, p_reclaim_after_seconds integer default 600,
  p_now timestamptz default now()
) returns jsonb
language sql stable set search_path = public as $$
  select jsonb_build_object(
    'due', coalesce((select jsonb_agg(jsonb_build_object('reason', d.reason, 'alert', d.alert))
                       from internal.alert_notifications_due(
                              p_hold_seconds, p_repeat_warning_seconds,
                              p_repeat_critical_seconds, p_escalate, p_now) d), '[]'),
    'pending', coalesce((select jsonb_agg(to_jsonb(m) order by m.message_id)
                           from alert_pending_messages(p_reclaim_after_seconds, p_now) m),
                        '[]'));
$$;

drop function if exists alert_notifications_due(integer, integer, integer, boolean, timestamptz);

revoke all on function internal.alert_notifications_due(integer, integer, integer, boolean, timestamptz)
  from public, anon, authenticated;
grant execute on function internal.alert_notifications_due(integer, integer, integer, boolean, timestamptz)
  to service_role;
