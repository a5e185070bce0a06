-- Tiered alerts and the guardian's records: health probes, job restarts, new error
-- fingerprints (repository: app/db/alerts.py).
--
-- Alerts: one firing row per key (unique partial index alerts_firing_key); raising it again
-- only counts. Notifications are outbox rows (messages.kind = 'alert'), written together with
-- the alert's bookkeeping in ONE function, then delivered by the providers' delivery layer, so
-- a notification is never sent twice.

-- A function body is checked when the function runs, not here: it may read a table that a
-- later file declares. (The migrations are applied with the check on.)
set check_function_bodies = off;

-- ---------------------------------------------------------------------------------------
-- tables
-- ---------------------------------------------------------------------------------------
create table alerts (
  id                  bigint generated always as identity primary key,
  key                 text not null,
  severity            text not null check (severity in ('info', 'warning', 'critical')),
  status              text not null default 'firing' check (status in ('firing', 'resolved')),
  code                text not null unique,        -- short code for `ACK <code>`
  title               text not null,
  details             jsonb not null default '{}',
  count               integer not null default 1,
  first_seen_at       timestamptz not null default now(),
  last_seen_at        timestamptz not null default now(),
  last_notified_at    timestamptz,
  acknowledged_at     timestamptz,
  acknowledged_by     text,
  escalated_at        timestamptz,
  resolved_at         timestamptz,
  notified_channels   text[] not null default '{}',  -- every channel a notification used
  notifications       integer not null default 0,
  escalate_due_at     timestamptz,                 -- critical: when an unacked alert escalates
  resolve_notified_at timestamptz
);
-- Deduplication: one firing alert per key.
create unique index alerts_firing_key on alerts (key) where status = 'firing';
create index alerts_recent_idx on alerts (last_seen_at desc);
alter table alerts enable row level security;
revoke all on alerts from public, anon, authenticated;
grant all on alerts to service_role;

-- A silenced key ('*' at the end: a prefix) is never notified while `until` is ahead.
create table alert_silences (
  key        text primary key,
  until      timestamptz not null,
  reason     text,
  created_at timestamptz not null default now()
);
alter table alert_silences enable row level security;
revoke all on alert_silences from public, anon, authenticated;
grant all on alert_silences to service_role;

create table health_checks (
  id          bigint generated always as identity primary key,
  target      text not null,
  ok          boolean not null,
  latency_ms  integer,
  status_code integer,
  error       text,
  checked_at  timestamptz not null default now()
);
create index health_checks_target_idx on health_checks (target, checked_at desc);
alter table health_checks enable row level security;
revoke all on health_checks from public, anon, authenticated;
grant all on health_checks to service_role;

-- The guardian's restarts of a job, for its per-hour restart cap.
create table job_restarts (
  id     bigint generated always as identity primary key,
  job    text not null,
  at     timestamptz not null,
  reason text not null
);
create index job_restarts_job_idx on job_restarts (job, at desc);
alter table job_restarts enable row level security;
revoke all on job_restarts from public, anon, authenticated;
grant all on job_restarts to service_role;

-- ---------------------------------------------------------------------------------------
-- helpers
-- ---------------------------------------------------------------------------------------

-- info < warning < critical; null for an unknown severity.
create or replace function internal.alert_severity_rank(p_severity text)
returns integer
language sql immutable set search_path = public as $$
  select array_position(array['info', 'warning', 'critical'], p_severity);
$$;

-- A short code for `ACK <code>`: 4 characters without look-alikes (0/O, 1/I/L).
create or replace function internal.alert_new_code()
returns text
language sql volatile set search_path = public as $$
  select string_agg(substr('ABCDEFGHJKMNPQRSTUVWXYZ23456789', 1 + floor(random() * 31)::int, 1), '')
    from generate_series(1, 4);
$$;

-- True when an active silence covers the key (exact, or a prefix silence ending in '*').
create or replace function internal.alert_is_silenced(p_key text, p_now timestamptz)
returns boolean
language sql stable set search_path = public as $$
  select exists (
    select from alert_silences s
     where s.until > p_now
       and (s.key = p_key
            or (right(s.key, 1) = '*' and starts_with(p_key, left(s.key, -1)))));
$$;

-- ---------------------------------------------------------------------------------------
-- alerts
-- ---------------------------------------------------------------------------------------

-- Raise or dedupe, atomically. A firing alert with the key only gets count + 1, last_seen_at,
-- the new title/details, and a severity upgrade (which makes its first notification due
-- again at the higher tier). Otherwise a new firing row with a fresh code. An info alert is
-- also written to system_logs when it is new. `created` says which happened.
create or replace function alert_raise(
  p_key text, p_severity text, p_title text, p_details jsonb default '{}',
  p_escalate_after_seconds integer default 900, p_escalate_now boolean default false,
  p_now timestamptz default now()
) returns table (created boolean, alert jsonb)
language plpgsql set search_path = public as $$
declare
  v alerts;
  v_escalate timestamptz := case when p_escalate_now then p_now
                                 else p_now + make_interval(secs => p_escalate_after_seconds) end;
begin
  if internal.alert_severity_rank(p_severity) is null then
    raise exception 'unknown severity %', p_severity using errcode = '22023';
  end if;
  loop
    update alerts a set
      count = a.count + 1, last_seen_at = p_now, title = p_title,
      details = coalesce(p_details, '{}'),
      severity = case when internal.alert_severity_rank(p_severity)
                           > internal.alert_severity_rank(a.severity)
                      then p_severity else a.severity end,
      last_notified_at = case when internal.alert_severity_rank(p_severity)
                                   > internal.alert_severity_rank(a.severity)
                              then null else a.last_notified_at end,
      escalate_due_at = case when p_severity = 'critical'
                             then least(coalesce(a.escalate_due_at, v_escalate), v_escalate)
                             else a.escalate_due_at end
     where a.key = p_key and a.status = 'firing'
    returning * into v;
    if found then
      return query select false, to_jsonb(v);
      return;
    end if;
    begin
      insert into alerts (key, severity, code, title, details, first_seen_at, last_seen_at,
                          escalate_due_at)
      values (p_key, p_severity, internal.alert_new_code(), p_title, coalesce(p_details, '{}'),
              p_now,
              p_now, case when p_severity = 'critical' then v_escalate end)
      returning * into v;
    exception when unique_violation then
      continue;  -- a concurrent raise won the key, or the code collided: try again
    end;
    if p_severity = 'info' then
      insert into system_logs (at, level, source, message, context)
      values (p_now, 'info', 'alert', p_title,
              jsonb_build_object('key', p_key, 'details', coalesce(p_details, '{}')));
    end if;
    return query select true, to_jsonb(v);
    return;
  end loop;
end
$$;

-- Resolves the firing alert with the key (none firing → no row).
create or replace function alert_resolve(p_key text, p_now timestamptz default now())
returns setof alerts
language sql set search_path = public as $$
  update alerts set status = 'resolved', resolved_at = p_now, last_seen_at = p_now
   where key = p_key and status = 'firing'
  returning *;
$$;

-- Acknowledges the firing alert with the code (case-insensitive); the first ack is kept.
create or replace function alert_acknowledge(
  p_code text, p_by text, p_now timestamptz default now()
) returns setof alerts
language sql set search_path = public as $$
  update alerts set acknowledged_at = coalesce(acknowledged_at, p_now),
                    acknowledged_by = coalesce(acknowledged_by, p_by)
   where code = upper(trim(p_code)) and status = 'firing'
  returning *;
$$;

-- Silences a key (or a prefix: 'job.*') until p_until; silencing it again replaces both.
create or replace function alert_silence(
  p_key text, p_until timestamptz, p_reason text default null, p_now timestamptz default now()
) returns setof alert_silences
language sql set search_path = public as $$
  insert into alert_silences (key, until, reason, created_at)
  values (p_key, p_until, p_reason, p_now)
  on conflict (key) do update set until = excluded.until, reason = excluded.reason,
                                  created_at = excluded.created_at
  returning *;
$$;

-- The silences still in force at p_now.
create or replace function alert_silences_active(p_now timestamptz default now())
returns setof alert_silences
language sql stable set search_path = public as $$
  select * from alert_silences where until > p_now order by key;
$$;

-- Alerts for `nightshift alerts list`: firing first, then the most recently seen.
create or replace function alerts_list(
  p_include_resolved boolean default false, p_limit integer default 50,
  p_now timestamptz default now()
) returns table (alert jsonb, silenced boolean)
language sql stable set search_path = public as $$
  select to_jsonb(a), internal.alert_is_silenced(a.key, p_now)
    from alerts a
   where p_include_resolved or a.status = 'firing'
   order by (a.status = 'firing') desc, a.last_seen_at desc, a.id desc
   limit p_limit;
$$;

-- The newest alert with the key, firing or resolved.
create or replace function alert_by_key(p_key text)
returns setof alerts
language sql stable set search_path = public as $$
  select * from alerts where key = p_key order by id desc limit 1;
$$;

-- The notifications due now, one row per (reason, alert):
--   new        firing, never notified, older than the grouping window (p_hold_seconds)
--   repeat     firing, unacknowledged, last notified a repeat interval ago
--   escalate   critical, firing, unacknowledged, escalation due and not yet done
--   resolved   resolved after at least one notification, resolution not yet sent
-- info alerts and silenced keys are never due.
-- plpgsql, as the flush's other reads (alert_flush_reads).
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

-- Writes a batch of alert notifications atomically: the outbox rows (kind 'alert') and each
-- alert's bookkeeping. p_batch = {"messages": [message, ...],
--   "alerts": [{"id": 1, "reason": "new|repeat|escalate|resolved", "channels": ["sms"]}]}.
-- Idempotent: a message key already enqueued returns its existing row. Returns the ids.
create or replace function alert_record_notifications(
  p_batch jsonb, p_now timestamptz default now()
)
returns table (message_id bigint)
language plpgsql set search_path = public as $$
declare
  v_item jsonb;
  v_channels text[];
begin
  for v_item in select * from jsonb_array_elements(coalesce(p_batch->'alerts', '[]')) loop
    v_channels := array(select jsonb_array_elements_text(coalesce(v_item->'channels', '[]')));
    update alerts a set
      last_notified_at = case when v_item->>'reason' in ('new', 'repeat') then p_now
                              else a.last_notified_at end,
      notifications = a.notifications + 1,
      escalated_at = case when v_item->>'reason' = 'escalate' then p_now else a.escalated_at end,
      resolve_notified_at = case when v_item->>'reason' = 'resolved' then p_now
                                 else a.resolve_notified_at end,
      notified_channels = array(select distinct unnest(a.notified_channels || v_channels)
                                 order by 1)
     where a.id = (v_item->>'id')::bigint;
  end loop;
  return query
    select (enqueue_message(m, p_now)).id
      from jsonb_array_elements(coalesce(p_batch->'messages', '[]')) m;
end
$$;

-- Alert notifications still to deliver: queued (never tried, or requeued after a provider
-- error) or stuck in 'sending' past the reclaim time; only the last day's.
-- plpgsql, as the flush's other reads (alert_flush_reads).
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

-- A flush's two reads in one round trip (issue 19: the guardian flushes at every run, 288
-- times a day): the notifications due now (internal.alert_notifications_due) and the alert rows still
-- to deliver (alert_pending_messages), read at the same instant. A flush that then records
-- notifications reads the pending rows again (app/alerts/dispatch.py).
-- plpgsql, and so are both reads: a SQL function with `set search_path` is never inlined,
-- so each query was parsed and planned again at every call; plpgsql keeps the parsed
-- queries per connection (bench/guardian_run_cost.py).
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

-- Alert SMS per phone since p_since (the storm cap's window), and whether the one storm
-- summary was already written in it.
create or replace function alert_sms_counts(p_phones text[], p_since timestamptz)
returns table (phone text, sent integer, summary_sent boolean)
language sql stable set search_path = public as $$
  select p.phone,
         count(m.id) filter (where coalesce(m.payload->>'storm', 'false') <> 'true')::integer,
         coalesce(bool_or(m.payload->>'storm' = 'true'), false)
    from unnest(p_phones) as p(phone)
    left join messages m
      on m.to_address = p.phone and m.kind = 'alert' and m.channel = 'sms'
     and m.created_at >= p_since and m.status not in ('failed', 'cancelled')
   group by p.phone;
$$;

-- Records an alert that was sent straight through the providers while the database was
-- unreachable, once it is back: merged into the firing alert with the key, else a new one.
create or replace function alert_record_direct(
  p_key text, p_severity text, p_title text, p_details jsonb, p_channels text[],
  p_sent_at timestamptz, p_now timestamptz default now()
) returns setof alerts
language plpgsql set search_path = public as $$
declare
  v_id bigint;
begin
  select (r.alert->>'id')::bigint into v_id
    from alert_raise(p_key, p_severity, p_title, p_details, 900, false, p_sent_at) r;
  return query
  update alerts set
    last_notified_at = greatest(coalesce(last_notified_at, p_sent_at), p_sent_at),
    notifications = notifications + 1,
    first_seen_at = least(first_seen_at, p_sent_at),
    notified_channels = array(select distinct unnest(notified_channels || p_channels) order by 1),
    details = details || jsonb_build_object('sent_directly_at', p_sent_at, 'recorded_at', p_now)
   where id = v_id
  returning *;
end
$$;

-- ---------------------------------------------------------------------------------------
-- guardian
-- ---------------------------------------------------------------------------------------

-- Records one probe and returns how many failures in a row the target has now had.
create or replace function record_health_check(
  p_target text, p_ok boolean, p_latency_ms integer default null,
  p_status_code integer default null, p_error text default null, p_now timestamptz default now()
) returns table (id bigint, consecutive_failures integer)
language plpgsql set search_path = public as $$
declare
  v_id bigint;
  v_last_ok timestamptz;
begin
  insert into health_checks (target, ok, latency_ms, status_code, error, checked_at)
  values (p_target, p_ok, p_latency_ms, p_status_code, left(p_error, 1000), p_now)
  returning health_checks.id into v_id;
  select max(h.checked_at) into v_last_ok from health_checks h
   where h.target = p_target and h.ok;
  return query
    select v_id, (select count(*)::integer from health_checks h
                   where h.target = p_target and not h.ok
                     and h.checked_at > coalesce(v_last_ok, '-infinity'::timestamptz));
end
$$;

-- The newest probes, every target. (Nothing in app/ calls it today.)
create or replace function recent_health_checks(p_limit integer default 50)
returns setof health_checks
language sql stable set search_path = public as $$
  select * from health_checks order by checked_at desc, id desc limit p_limit;
$$;

-- Decides and records a restart atomically: allowed while the job had fewer than
-- p_max_per_hour restarts in the last hour (serialised per job by an advisory lock).
create or replace function record_job_restart(
  p_job text, p_max_per_hour integer, p_reason text, p_now timestamptz default now()
) returns table (allowed boolean, restarts_last_hour integer)
language plpgsql set search_path = public as $$
declare
  v_count integer;
begin
  perform pg_advisory_xact_lock(hashtext('job_restart:' || p_job));
  select count(*) into v_count from job_restarts r
   where r.job = p_job and r.at > p_now - interval '1 hour';
  if v_count >= p_max_per_hour then
    return query select false, v_count;
    return;
  end if;
  insert into job_restarts (job, at, reason) values (p_job, p_now, p_reason);
  return query select true, v_count + 1;
end
$$;

-- The error/critical log messages, masked into fingerprints (URLs, uuids, hex ids and
-- numbers replaced), seen more than p_min_count times in the last p_window_seconds and
-- never in the p_lookback_seconds before that window.
-- plpgsql, not SQL, as every read of guardian_reads: a SQL function with `set search_path`
-- is never inlined, so its query was parsed and planned again at every call; plpgsql keeps
-- the parsed query per connection (bench/guardian_run_cost.py). Planned by the plan cache
-- (migration 20261210101000): every call reads the same shape, the week before p_now by
-- system_logs_at_idx, whatever the window; planning it at every guardian run was a tenth of
-- guardian_reads' server time on the kept database of day 28 (bench/fingerprint_plans_ab.py).
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

-- The guardian's silent-callbacks check (issue 15): per provider, what was sent through it
-- in [p_from, p_to) (texts and emails by sent_at, calls by placed_at; dry runs are their own
-- provider, 'dryrun', and never counted) and when its latest webhook event arrived. Sends
-- with no event since p_from mean callbacks are being lost (a wrong URL, a dead endpoint, a
-- rotated secret). Index lookups bounded by the window, not the history (issue 19: a seq
-- scan of messages, 4.7 ms at 4,838 messages and growing, 0.4 ms with these):
-- messages_sent_idx (03_outbox.sql), calls_placed_provider_idx; webhook_events_provider_idx
-- gives each provider's latest event. plpgsql, planned for each call's window: a generic
-- plan ANDs messages_created_idx over the whole week of messages. The week bound on
-- created_at is checked on the window's rows (behind `offset 0`), never planned as a second
-- index range: without statistics (a fresh database, a simulated month's first week) the
-- planner ANDed messages_created_idx over the week at every call (migration
-- 20261211131000).
create index calls_placed_provider_idx on calls (provider, placed_at)
  where placed_at is not null;
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

-- What one guardian run reads, in one round trip (issue 19: a simulated month runs the
-- guardian 8,640 times, and these were five calls each): it records the database probe that
-- just succeeded (record_health_check 'database', with the probe's p_database_ms; its row
-- as `database`), then reads the keys of the firing alerts, the registry's job states
-- (job_status), the providers' callback gaps (callback_gaps) and the new error fingerprints
-- (new_error_fingerprints), each as that function's rows, and, when p_escalate is given, the
-- flush's reads at the same instant (alert_flush_reads with the p_hold_seconds ...
-- p_reclaim_after_seconds given, as `flush`; else `flush` is null): a run that changes no
-- alert flushes from them instead of reading again (app/guardian/loop.py).
-- Each read is planned as its own function says, as when it is called alone: callback_gaps
-- for each call's window (force_custom_plan: a generic plan cannot see it), the others
-- (record_health_check, the firing keys, job_status, new_error_fingerprints, the flush's
-- reads: index lookups by key, ranges or partial indexes) by the plan cache, which keeps a generic
-- plan only while it costs no more than the custom ones. Planning them all again at every
-- run was a fifth of the call on the kept day-28 database (migration 20261209150000).
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
