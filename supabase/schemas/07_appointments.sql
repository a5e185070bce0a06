-- Appointments and their reminders, the daily digest and the status page
-- (repository: app/db/appointments.py).
--
-- An appointment has a `version` that grows on every reschedule; its messages (confirmation,
-- reminder_24h, reminder_1h, no_show, per channel) are planned as appointment_reminders rows
-- unique per (appointment, version, kind, channel) and sent through the outbox under the key
-- `appt:<id>:v<version>:<kind>:<channel>`: every message at most once, and a reschedule
-- cancels the old version's rows (and their still-queued outbox messages) in the same
-- transaction.

-- A function body is checked when the function runs, not here: it may read a table that a
-- later file declares. (The migrations are applied with the check on.)
set check_function_bodies = off;

-- ---------------------------------------------------------------------------------------
-- tables
-- ---------------------------------------------------------------------------------------
create table appointments (
  id                bigint generated always as identity primary key,
  lead_id           bigint not null references leads (id) on delete cascade,
  starts_at         timestamptz not null,
  ends_at           timestamptz not null check (ends_at > starts_at),
  timezone          text,
  status            text not null default 'booked'
                    check (status in ('booked', 'confirmed', 'rescheduled', 'cancelled',
                                      'completed', 'no_show')),
  source            text not null default 'manual',
  external_id       text unique,
  notes             text,
  created_at        timestamptz not null default now(),
  updated_at        timestamptz not null default now(),
  version           integer not null default 1,  -- + 1 on every reschedule
  scheduled_version integer not null default 0,  -- the version whose reminders are planned
  confirmed_at      timestamptz,
  cancelled_at      timestamptz,
  completed_at      timestamptz,
  no_show_at        timestamptz,
  -- The calendar's own time of the latest booking event applied (appointments_upsert):
  -- deliveries arrive out of order, an older event never overrides a newer one.
  event_at          timestamptz
);
create index appointments_upcoming_idx on appointments (starts_at)
  where status in ('booked', 'confirmed');
-- The appointments whose current version has no reminders planned yet.
create index appointments_unscheduled_idx on appointments (id)
  where scheduled_version < version and status in ('booked', 'confirmed');
create index appointments_lead_idx on appointments (lead_id, starts_at);
alter table appointments enable row level security;
revoke all on appointments from public, anon, authenticated;
grant all on appointments to service_role;

create table appointment_reminders (
  id               bigint generated always as identity primary key,
  appointment_id   bigint not null references appointments (id) on delete cascade,
  version          integer not null,
  kind             text not null
                   check (kind in ('confirmation', 'reminder_24h', 'reminder_1h', 'no_show')),
  channel          text not null check (channel in ('email', 'sms')),
  due_at           timestamptz not null,
  status           text not null default 'scheduled'
                   check (status in ('scheduled', 'claimed', 'queued', 'cancelled', 'skipped')),
  reason           text,
  lease_owner      text,
  lease_expires_at timestamptz,
  message_id       bigint references messages (id) on delete set null,
  created_at       timestamptz not null,
  updated_at       timestamptz not null,
  unique (appointment_id, version, kind, channel)
);
create index appointment_reminders_due_idx on appointment_reminders (due_at)
  where status in ('scheduled', 'claimed');
alter table appointment_reminders enable row level security;
revoke all on appointment_reminders from public, anon, authenticated;
grant all on appointment_reminders to service_role;

-- One row per local day whose digest went out: the "at most once a day" guard.
create table digests (
  day         date primary key,
  sent_at     timestamptz not null,
  message_ids bigint[] not null default '{}'
);
alter table digests enable row level security;
revoke all on digests from public, anon, authenticated;
grant all on digests to service_role;

-- The status page's window aggregates (funnel, calls per day, deliverability, lead scores)
-- scan weeks of rows; they are cached here and refreshed by the appointments loop every
-- 5 minutes, so a page load reads them instead of recomputing them.
create table status_cache (
  tz          text primary key,
  computed_at timestamptz not null,
  value       jsonb not null
);
alter table status_cache enable row level security;
revoke all on status_cache from public, anon, authenticated;
grant all on status_cache to service_role;

-- The status page's closed hours (issue 19, stop 25): the windowed sections (funnel, calls
-- per day, deliverability) summed per UTC hour of the rows' created_at, each hour computed
-- once after it closed and kept, so an hourly refresh reads the open hour and the windows'
-- edges from the rows and the rest from here. An hour is in status_hours when its sums are
-- in the three tables below; a write that changes what an hour sums (a late status callback,
-- a lead's new status, an erasure) logs the hour in status_stale (triggers below), and the
-- next refresh recomputes it. Hours older than the 30-day window are dropped.
create table status_hours (
  hour        timestamptz primary key,
  computed_at timestamptz not null
);
create table status_hour_leads (
  hour      timestamptz primary key,
  leads     integer not null,
  contacted integer not null,
  replied   integer not null,
  booked    integer not null
);
create table status_hour_calls (
  hour    timestamptz not null,
  outcome text not null,
  n       integer not null,
  primary key (hour, outcome)
);
create table status_hour_sends (
  hour        timestamptz not null,
  campaign_id bigint,
  sent        integer not null,
  bounced     integer not null,
  complained  integer not null,
  filtered    integer not null
);
create index status_hour_sends_hour_idx on status_hour_sends (hour);
-- Append-only (no key, so concurrent writers never wait on each other); emptied by the
-- refresh.
create table status_stale (
  hour timestamptz not null
);
alter table status_hours enable row level security;
alter table status_hour_leads enable row level security;
alter table status_hour_calls enable row level security;
alter table status_hour_sends enable row level security;
alter table status_stale enable row level security;
revoke all on status_hours, status_hour_leads, status_hour_calls, status_hour_sends,
  status_stale from public, anon, authenticated;
grant all on status_hours, status_hour_leads, status_hour_calls, status_hour_sends,
  status_stale to service_role;

-- The status page's lead scores (hot leads, scored leads) as changes, not a count over every
-- lead at each refresh (issue 19, stop 27): a lead whose score or hot_at turns null or not
-- null adds a row of +1/-1 (triggers below), a truncate of leads empties it, and the refresh
-- folds the rows into one (internal.status_rollup). Append-only between folds (no key), so
-- concurrent writers never wait on each other. The sums equal count(hot_at), count(score)
-- over leads at any snapshot: a change and its row commit together.
create table status_score_counts (
  hot    bigint not null,
  scored bigint not null
);
alter table status_score_counts enable row level security;
revoke all on status_score_counts from public, anon, authenticated;
grant all on status_score_counts to service_role;

-- The status page's browser sessions (POST /status/login). Only the SHA-256 of the cookie
-- is kept, so a copy of this table opens nothing; `token_tag` ties a session to the
-- STATUS_TOKEN it was opened with (rotating the token ends every session). Logout revokes.
create table status_sessions (
  id_hash    text primary key,
  token_tag  text not null,
  created_at timestamptz not null,
  expires_at timestamptz not null,
  revoked_at timestamptz
);
alter table status_sessions enable row level security;
revoke all on status_sessions from public, anon, authenticated;
grant all on status_sessions to service_role;

-- ---------------------------------------------------------------------------------------
-- helpers
-- ---------------------------------------------------------------------------------------

-- The appointment as the application sees it, with its lead's contact facts.
create or replace function internal.appointment_view(p_id bigint)
returns jsonb
language sql stable set search_path = public as $$
  select to_jsonb(a) || jsonb_build_object(
           'lead_name', l.name, 'phone', l.phone, 'email', l.email, 'state', l.state,
           'lead_timezone', l.timezone,
           'opted_out', array_remove(array[
              case when l.email_opted_out_at is not null then 'email' end,
              case when l.sms_opted_out_at is not null then 'sms' end,
              case when l.status = 'do_not_contact' then 'all' end], null))
    from appointments a join leads l on l.id = a.lead_id
   where a.id = p_id;
$$;

-- Cancels an appointment version's pending reminders and their still-queued outbox messages.
create or replace function internal.appointment_cancel_reminders(
  p_id bigint, p_below_version integer, p_reason text, p_now timestamptz
) returns integer
language plpgsql set search_path = public as $$
declare
  v_n integer;
begin
  update messages m set status = 'cancelled', error_code = p_reason, updated_at = p_now,
         status_history = m.status_history
           || jsonb_build_object('status', 'cancelled', 'at', p_now, 'reason', p_reason)
    from appointment_reminders r
   where r.appointment_id = p_id and r.version < p_below_version
     and r.message_id = m.id and m.status = 'queued';
  update appointment_reminders r set status = 'cancelled', reason = p_reason,
         lease_owner = null, lease_expires_at = null, updated_at = p_now
   where r.appointment_id = p_id and r.version < p_below_version
     and r.status in ('scheduled', 'claimed');
  get diagnostics v_n = row_count;
  return v_n;
end
$$;

-- Cancels an appointment (frees its slot) and everything still pending for it.
create or replace function internal.appointment_cancel(
  p_id bigint, p_reason text, p_now timestamptz
)
returns appointments
language plpgsql set search_path = public as $$
declare
  v appointments;
begin
  update appointments set status = 'cancelled', cancelled_at = p_now, updated_at = p_now,
         notes = concat_ws(' | ', notes, 'cancelled: ' || p_reason)
   where id = p_id and status in ('booked', 'confirmed')
  returning * into v;
  if not found then
    select * into v from appointments where id = p_id;
  end if;
  perform internal.appointment_cancel_reminders(p_id, 2147483647, 'cancelled', p_now);
  return v;
end
$$;

-- ---------------------------------------------------------------------------------------
-- bookings, reschedules, completion
-- ---------------------------------------------------------------------------------------

-- A booking from the generic webhook or the CLI. Idempotent per external_id: the same
-- booking again is 'unchanged', a new start is 'rescheduled' (version + 1, old reminders
-- cancelled), status 'cancelled' cancels. The lead is found by phone, else email, and
-- created when new. A new booking marks the lead booked and stops its drips.
-- p_event {dedupe_key, payload} (webhook deliveries) is stored in webhook_events first: a
-- replayed delivery is a 'duplicate' and changes nothing (an old body never undoes a move).
-- Events are ordered by their own time (p_booking.event_at, else p_now): one older than the
-- last applied is 'stale' and changes nothing; a cancellation that arrives before its
-- booking is kept as a cancelled appointment, so the late booking finds it cancelled.
create or replace function appointments_upsert(
  p_booking jsonb, p_now timestamptz, p_event jsonb default null
) returns table (outcome text, appointment jsonb)
language plpgsql set search_path = public as $$
declare
  v appointments;
  v_lead bigint;
  v_start timestamptz := (p_booking->>'starts_at')::timestamptz;
  v_end timestamptz := (p_booking->>'ends_at')::timestamptz;
  v_phone text := nullif(p_booking->>'phone', '');
  v_email text := lower(nullif(p_booking->>'email', ''));
  v_event_at timestamptz := coalesce((p_booking->>'event_at')::timestamptz, p_now);
  v_cancel boolean := p_booking->>'status' = 'cancelled';
begin
  perform pg_advisory_xact_lock(hashtext('appointments'));
  if p_event is not null and internal.webhook_store_event(
       'booking', p_event->>'dedupe_key', 'booking.' || coalesce(p_booking->>'status', 'booked'),
       p_event->'payload', p_now) is null then
    return query select 'duplicate'::text, null::jsonb;
    return;
  end if;
  select * into v from appointments a
   where a.external_id = p_booking->>'external_id' for update;
  if found then
    if v_event_at < v.event_at then
      return query select 'stale'::text, internal.appointment_view(v.id);
      return;
    end if;
    update appointments a set event_at = v_event_at where a.id = v.id;
    if v_cancel then
      return query select (case when v.status = 'cancelled' then 'unchanged'
                                else 'cancelled' end),
                          internal.appointment_view(
                            (internal.appointment_cancel(v.id, 'booking', p_now)).id);
    elsif v.starts_at = v_start and v.ends_at = v_end or v.status = 'cancelled' then
      return query select 'unchanged'::text, internal.appointment_view(v.id);
    else
      perform appointment_reschedule(v.id, v_start, v_end, p_now);
      return query select 'rescheduled'::text, internal.appointment_view(v.id);
    end if;
    return;
  end if;
  select l.id into v_lead from leads l where l.phone = v_phone;
  if v_lead is null then
    select l.id into v_lead from leads l where l.email = v_email;
  end if;
  if v_lead is null and (v_phone is not null or v_email is not null) then
    insert into leads (name, phone, email, timezone, source, created_at, updated_at)
    values (p_booking->>'name', v_phone, v_email, p_booking->>'lead_timezone',
            coalesce(p_booking->>'source', 'booking'), p_now, p_now)
    returning id into v_lead;
  end if;
  if v_lead is null then
    return query select 'no_lead'::text, null::jsonb;
    return;
  end if;
  insert into appointments (lead_id, starts_at, ends_at, timezone, status, source,
                            external_id, notes, created_at, updated_at, cancelled_at, event_at)
  values (v_lead, v_start, v_end, p_booking->>'timezone',
          case when v_cancel then 'cancelled' else 'booked' end,
          coalesce(p_booking->>'source', 'manual'), p_booking->>'external_id',
          p_booking->>'notes', p_now, p_now, case when v_cancel then p_now end, v_event_at)
  returning * into v;
  if v_cancel then  -- its booking has not arrived yet: remembered, nothing planned or stopped
    return query select 'cancelled'::text, internal.appointment_view(v.id);
    return;
  end if;
  perform internal.lead_advance_status(v_lead, 'booked', p_now);
  perform apply_stop_rules(v_lead, 'booking', p_now);
  return query select 'booked'::text, internal.appointment_view(v.id);
end
$$;

-- Moves an appointment: version + 1 (new reminders get planned), old ones cancelled.
create or replace function appointment_reschedule(
  p_id bigint, p_starts_at timestamptz, p_ends_at timestamptz, p_now timestamptz
) returns appointments
language plpgsql set search_path = public as $$
declare
  v appointments;
begin
  update appointments set starts_at = p_starts_at, ends_at = p_ends_at,
         version = version + 1, status = 'booked', confirmed_at = null, updated_at = p_now
   where id = p_id and status in ('booked', 'confirmed', 'no_show')
  returning * into v;
  if found then
    perform internal.appointment_cancel_reminders(p_id, v.version, 'rescheduled', p_now);
  end if;
  return v;
end
$$;

-- Marks an appointment completed (also after a no-show mark); pending messages cancelled.
create or replace function appointment_complete(p_id bigint, p_now timestamptz)
returns table (outcome text, appointment jsonb)
language plpgsql set search_path = public as $$
declare
  v appointments;
begin
  select * into v from appointments where id = p_id for update;
  if not found then
    return query select 'not_found'::text, null::jsonb;
    return;
  end if;
  if v.status not in ('booked', 'confirmed', 'no_show') then
    return query select 'refused'::text, internal.appointment_view(p_id);
    return;
  end if;
  update appointments set status = 'completed', completed_at = p_now, updated_at = p_now
   where id = p_id;
  perform internal.appointment_cancel_reminders(p_id, 2147483647, 'completed', p_now);
  return query select 'completed'::text, internal.appointment_view(p_id);
end
$$;

-- One appointment as the application sees it (null when there is none).
create or replace function appointment_get(p_id bigint)
returns jsonb
language sql stable set search_path = public as $$
  select internal.appointment_view(p_id);
$$;

-- Appointments starting in [p_from, p_to), soonest first.
create or replace function appointments_list(p_from timestamptz, p_to timestamptz,
                                             p_limit integer)
returns setof jsonb
language sql stable set search_path = public as $$
  select internal.appointment_view(a.id) from appointments a
   where a.starts_at >= p_from and a.starts_at < p_to
   order by a.starts_at, a.id limit p_limit;
$$;

-- ---------------------------------------------------------------------------------------
-- reminders: plan, claim, enqueue
-- ---------------------------------------------------------------------------------------

-- Active appointments whose current version has no plan yet (new or rescheduled).
-- plpgsql, not SQL: a SQL function with `set search_path` is never inlined, so its query was
-- parsed and planned again at every call (appointments_next makes one at every appointments
-- run, 8,640 a simulated month); plpgsql keeps it per connection (bench/guardian_run_cost.py).
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

-- Stores plans in one batch: p_plan {items: [{appointment_id, version, kind, channel,
-- due_at, status ('scheduled' | 'skipped'), reason}], appointments: [{id, version}]}. A plan
-- for a version that is no longer current is dropped (it was rescheduled meanwhile).
create or replace function appointments_schedule(p_plan jsonb, p_now timestamptz)
returns integer
language plpgsql set search_path = public as $$
declare
  v_n integer;
begin
  insert into appointment_reminders (appointment_id, version, kind, channel, due_at, status,
                                     reason, created_at, updated_at)
  select (i->>'appointment_id')::bigint, (i->>'version')::integer, i->>'kind', i->>'channel',
         (i->>'due_at')::timestamptz, coalesce(i->>'status', 'scheduled'), i->>'reason',
         p_now, p_now
    from jsonb_array_elements(p_plan->'items') i
    join appointments a on a.id = (i->>'appointment_id')::bigint
                       and a.version = (i->>'version')::integer
  on conflict (appointment_id, version, kind, channel) do nothing;
  get diagnostics v_n = row_count;
  update appointments a set scheduled_version = (x->>'version')::integer, updated_at = p_now
    from jsonb_array_elements(p_plan->'appointments') x
   where a.id = (x->>'id')::bigint and a.version = (x->>'version')::integer
     and a.scheduled_version < a.version;
  return v_n;
end
$$;

-- Claims due reminders under a lease (FOR UPDATE SKIP LOCKED: two runs never take the same
-- row). A reminder whose appointment already started is skipped, not sent late; a stale
-- version or an inactive appointment cancels the row.
create or replace function appointments_claim_due(
  p_holder text, p_limit integer, p_lease_seconds integer, p_now timestamptz
) returns table (reminder jsonb, appointment jsonb)
language plpgsql set search_path = public as $$
begin
  update appointment_reminders r set status = 'skipped', reason = 'too_late', updated_at = p_now
    from appointments a
   where a.id = r.appointment_id and r.status = 'scheduled' and r.due_at <= p_now
     and r.kind in ('reminder_24h', 'reminder_1h') and a.starts_at <= p_now;
  update appointment_reminders r set status = 'cancelled', reason = 'inactive', updated_at = p_now
    from appointments a
   where a.id = r.appointment_id and r.status = 'scheduled' and r.due_at <= p_now
     and (a.version <> r.version or a.status not in ('booked', 'confirmed'));
  return query
  with due as (
    select r.id from appointment_reminders r
     where r.due_at <= p_now
       and (r.status = 'scheduled' or (r.status = 'claimed' and r.lease_expires_at < p_now))
     order by r.due_at, r.id
     limit p_limit
     for update skip locked
  ), claimed as (
    update appointment_reminders r set status = 'claimed', lease_owner = p_holder,
           lease_expires_at = p_now + make_interval(secs => p_lease_seconds), updated_at = p_now
      from due where r.id = due.id
    returning r.*
  )
  select to_jsonb(c), internal.appointment_view(c.appointment_id)
    from claimed c order by c.due_at, c.id;
end
$$;

-- A quiet appointments tick in one round trip (issue 19: 8,640 ticks in a simulated month):
-- {"pending": the versions to plan (appointments_to_schedule), "due": the due reminders
-- claimed (appointments_claim_due) or null}. The claim is made here only when nothing is
-- pending: a plan stored this tick could be due at once (a confirmation), so with pending
-- versions the loop plans first and claims in its own call, as before. When no reminder is
-- due (none 'scheduled' or 'claimed' with due_at <= p_now, one probe of
-- appointment_reminders_due_idx), the claim, which would change and return nothing, is not
-- made: most ticks, and its three statements were planned at each (migration
-- 20261209150000).
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

-- An appointments run's start and its tick's first read in one round trip (issue 19: 8,640
-- runs a simulated month, each paid start_job_run and appointments_next as two): takes the
-- job's lease and records the run (start_job_run, as the runner's own start), then, only
-- when the run got the lease, makes appointments_next with p_holder, p_limit and
-- p_claim_seconds. Answers {"start": start_job_run's row, "read": appointments_next's
-- answer, or null}. The read is made in a block of its own: when it fails, it is undone
-- alone, the run stays recorded and `read` is null (the tick then reads in its own call and
-- meets the failure there, recorded as a failed run as before). The runner calls it only
-- when the webhook spool is empty (app/jobs/runner.py: the drain comes before the body).
create or replace function appointments_begin(
  p_job text, p_run_id uuid, p_holder text, p_lease_seconds integer,
  p_modal_call_id text, p_now timestamptz, p_limit integer, p_claim_seconds integer
) returns jsonb
language plpgsql set search_path = public as $$
declare
  v_start jsonb;
  v_read jsonb;
begin
  select to_jsonb(s) into v_start
    from start_job_run(p_job, p_run_id, p_holder, p_lease_seconds, p_modal_call_id, p_now) s;
  if v_start->>'status' = 'running' then
    begin
      v_read := appointments_next(p_holder, p_limit, p_claim_seconds, p_now);
    exception when others then
      v_read := null;
    end;
  end if;
  return jsonb_build_object('start', v_start, 'read', v_read);
end
$$;

-- Settles claimed reminders in one batch: p_items [{reminder_id, message (an outbox message)
-- | skip (reason)}]. A no_show item marks the appointment no_show in the same transaction
-- (even when its text is skipped), only while it is still booked/confirmed: a completion
-- that won the race skips it.
create or replace function appointments_enqueue(p_items jsonb, p_now timestamptz)
returns table (reminder_id bigint, message_id bigint, status text)
language plpgsql set search_path = public as $$
#variable_conflict use_column
declare
  v_item jsonb;
  r appointment_reminders;
  v_msg bigint;
begin
  for v_item in select * from jsonb_array_elements(p_items) loop
    select * into r from appointment_reminders x
     where x.id = (v_item->>'reminder_id')::bigint and x.status = 'claimed' for update;
    continue when not found;
    if r.kind = 'no_show' then
      update appointments set status = 'no_show', no_show_at = p_now, updated_at = p_now
       where id = r.appointment_id and status in ('booked', 'confirmed') and version = r.version;
      if not found then
        v_item := jsonb_build_object('skip', 'not_pending');
      end if;
    end if;
    if v_item ? 'message' then
      v_msg := (select m.id from enqueue_message(v_item->'message', p_now) m);
      update appointment_reminders set status = 'queued', message_id = v_msg,
             lease_owner = null, lease_expires_at = null, updated_at = p_now
       where id = r.id;
      return query select r.id, v_msg, 'queued'::text;
    else
      update appointment_reminders set status = 'skipped', reason = v_item->>'skip',
             lease_owner = null, lease_expires_at = null, updated_at = p_now
       where id = r.id;
      return query select r.id, null::bigint, 'skipped'::text;
    end if;
  end loop;
end
$$;

-- ---------------------------------------------------------------------------------------
-- replies to a reminder (C / R / X)
-- ---------------------------------------------------------------------------------------

-- The appointment an SMS from p_phone answers: the lead's soonest active appointment that
-- has not ended and to which we already texted a confirmation or reminder.
create or replace function appointment_for_reply(p_phone text, p_now timestamptz)
returns setof jsonb
language sql stable set search_path = public as $$
  select internal.appointment_view(a.id)
    from leads l join appointments a on a.lead_id = l.id
   where l.phone = p_phone and a.status in ('booked', 'confirmed') and a.ends_at > p_now
     and exists (select from appointment_reminders r
                  where r.appointment_id = a.id and r.channel = 'sms' and r.status = 'queued')
   order by a.starts_at limit 1;
$$;

-- Applies a reply and queues our answer in one transaction: confirm | reschedule | cancel.
create or replace function appointment_apply_reply(
  p_id bigint, p_action text, p_message jsonb, p_now timestamptz
) returns table (appointment jsonb, message_id bigint)
language plpgsql set search_path = public as $$
begin
  if p_action = 'confirm' then
    update appointments set status = 'confirmed', confirmed_at = p_now, updated_at = p_now
     where id = p_id and status = 'booked';
  elsif p_action = 'cancel' then
    perform internal.appointment_cancel(p_id, 'sms reply X', p_now);
  elsif p_action <> 'reschedule' then
    raise exception 'unknown reply action %', p_action using errcode = '22023';
  end if;
  return query select internal.appointment_view(p_id),
                      (select m.id from enqueue_message(p_message, p_now) m);
end
$$;

-- ---------------------------------------------------------------------------------------
-- the daily digest
-- ---------------------------------------------------------------------------------------

-- The digest's numbers for [p_from, p_to) in one round trip.
create or replace function digest_numbers(
  p_from timestamptz, p_to timestamptz, p_hot_limit integer, p_now timestamptz
) returns jsonb
language sql stable set search_path = public as $$
  select jsonb_build_object(
    'leads', (select count(*) from leads where created_at >= p_from and created_at < p_to),
    'messages', coalesce((select jsonb_object_agg(channel, n) from (
        select channel, count(*) n from messages
         where sent_at >= p_from and sent_at < p_to and kind = 'marketing'
         group by channel) x), '{}'),
    'transactional', (select count(*) from messages
         where sent_at >= p_from and sent_at < p_to and kind <> 'marketing'),
    'replies', (select count(*) from webhook_events
         where event_type = 'sms.reply' and received_at >= p_from and received_at < p_to),
    'calls', coalesce((select jsonb_object_agg(outcome, n) from (
        select coalesce(outcome, status) outcome, count(*) n from calls
         where created_at >= p_from and created_at < p_to group by 1) x), '{}'),
    'bookings', (select count(*) from appointments
         where created_at >= p_from and created_at < p_to),
    'no_shows', (select count(*) from appointments
         where no_show_at >= p_from and no_show_at < p_to),
    'opt_outs', (select count(*) from suppressions
         where created_at >= p_from and created_at < p_to),
    'hot_leads', coalesce((select jsonb_agg(h) from (
        select l.id, l.name, l.phone, round(l.score::numeric, 1) score from leads l
         where l.hot_at is not null and l.status not in ('booked', 'customer', 'lost',
                                                         'do_not_contact')
         order by l.score desc nulls last, l.id limit p_hot_limit) h), '[]'),
    'jobs', coalesce((select jsonb_agg(jsonb_build_object(
        'job', j.job, 'status', j.status, 'last_success_at', j.last_success_at,
        'failed', (select count(*) from job_runs r where r.job = j.job
                     and r.status = 'failed' and r.started_at >= p_from
                     and r.started_at < p_to)) order by j.job)
        from job_status(p_now) j), '[]'),
    'alerts_fired', (select count(*) from alerts
         where first_seen_at >= p_from and first_seen_at < p_to),
    'alerts_resolved', (select count(*) from alerts
         where resolved_at >= p_from and resolved_at < p_to),
    'failures', coalesce((select jsonb_agg(f) from (
        select fingerprint, sum(occurrences)::integer occurrences, max(sample) sample
          from failure_patterns
         where day >= (p_from at time zone 'UTC')::date and day <= (p_to at time zone 'UTC')::date
         group by fingerprint order by 2 desc, 1 limit 5) f), '[]'),
    -- leads held for a human now (13_consent.sql), and the steps refused that day
    'held', (select count(*) from leads where needs_review is not null),
    'held_leads', coalesce((select jsonb_agg(h) from (
        select l.id, l.phone, l.email, l.needs_review reason from leads l
         where l.needs_review is not null order by l.updated_at desc, l.id limit 5) h), '[]'),
    'consent_skipped', coalesce((select jsonb_object_agg(reason, n) from (
        select reason, count(distinct lead_id) n from consent_skips
         where at >= p_from and at < p_to group by reason) s), '{}'));
$$;

-- Whether the digest of p_day already went out.
create or replace function digest_sent(p_day date)
returns boolean
language sql stable set search_path = public as $$
  select exists (select from digests where day = p_day);
$$;

-- Records the day's digest and queues its emails atomically; no ids when already sent.
create or replace function digest_record(p_day date, p_messages jsonb, p_now timestamptz)
returns table (message_ids bigint[])
language plpgsql set search_path = public as $$
declare
  v_ids bigint[] := '{}';
  v_msg jsonb;
begin
  insert into digests (day, sent_at) values (p_day, p_now) on conflict (day) do nothing;
  if not found then
    return query select '{}'::bigint[];
    return;
  end if;
  for v_msg in select * from jsonb_array_elements(p_messages) loop
    v_ids := v_ids || (select m.id from enqueue_message(v_msg, p_now) m);
  end loop;
  update digests set message_ids = v_ids where day = p_day;
  return query select v_ids;
end
$$;

-- ---------------------------------------------------------------------------------------
-- the status page: every section in one round trip
-- ---------------------------------------------------------------------------------------

-- The aggregate sections computed from the rows alone (one pass per table): what
-- internal.status_rolled must answer, exactly (tests/status/test_rollup.py and
-- bench/status_rollup_ab.py compare them).
create or replace function internal.status_aggregates(p_tz text, p_now timestamptz)
returns jsonb
language sql stable set search_path = public as $$
  select jsonb_build_object(
    'computed_at', p_now,
    'funnel', (select jsonb_build_array(
        jsonb_build_object('days', 7,
          'leads', count(*) filter (where w7),
          'contacted', count(*) filter (where w7 and contacted),
          'replied', count(*) filter (where w7 and replied),
          'booked', count(*) filter (where w7 and booked)),
        jsonb_build_object('days', 30, 'leads', count(*),
          'contacted', count(*) filter (where contacted),
          'replied', count(*) filter (where replied),
          'booked', count(*) filter (where booked)))
      from (select l.created_at > p_now - interval '7 days' as w7,
                   l.status <> 'new' or l.last_contacted_at is not null
                     or l.last_called_at is not null as contacted,
                   l.status in ('engaged', 'booked', 'customer') as replied,
                   l.status in ('booked', 'customer') as booked
              from leads l
             where l.created_at > p_now - interval '30 days' and l.created_at <= p_now) f),
    'calls_per_day', coalesce((select jsonb_agg(jsonb_build_object(
        'day', to_char(c.day, 'YYYY-MM-DD'), 'outcome', c.outcome, 'n', c.n)
        order by c.day, c.outcome) from (
        select (created_at at time zone p_tz)::date as day,
               coalesce(outcome, status) as outcome, count(*) as n
          from calls
         where created_at > p_now - interval '14 days' and created_at <= p_now
         group by 1, 2) c), '[]'),
    'deliverability', coalesce((select jsonb_agg(jsonb_build_object(
        'campaign', coalesce(c.slug, '(none)'), 'sent', d.sent, 'bounced', d.bounced,
        'complained', d.complained, 'filtered', d.filtered) order by c.slug) from (
        select m.campaign_id, count(*) as sent,
               count(*) filter (where m.status = 'bounced') as bounced,
               count(*) filter (where m.status = 'complained') as complained,
               count(*) filter (where m.error_code = '30007') as filtered
          from messages m
         where m.created_at > p_now - interval '30 days' and m.created_at <= p_now
           and m.kind = 'marketing' and m.sent_at is not null
         group by 1) d left join campaigns c on c.id = d.campaign_id), '[]'),
    'scores', (select jsonb_build_object('hot_leads', count(*) filter (where hot_at is not null),
                                         'scored_leads', count(score))
                 from leads));
$$;

-- Logs the hour of a changed row (leads, calls, messages: each row's created_at) as stale
-- for the status page's closed hours: row-level, for updates and deletes (the triggers'
-- conditions name the columns the sums read).
create or replace function internal.status_stale_row()
returns trigger
language plpgsql set search_path = public as $$
begin
  if tg_op = 'UPDATE' then
    insert into status_stale (hour)
    select distinct date_trunc('hour', t, 'UTC') from unnest(array[old.created_at, new.created_at]) t;
  else
    insert into status_stale (hour) values (date_trunc('hour', old.created_at, 'UTC'));
  end if;
  return null;
end
$$;

-- The same for inserted rows, once per statement and hour (a batch of leads, a drip tick's
-- sends); only the sent marketing messages count on the page.
create or replace function internal.status_stale_new_rows()
returns trigger
language plpgsql set search_path = public as $$
begin
  if tg_table_name = 'messages' then
    insert into status_stale (hour)
    select distinct date_trunc('hour', n.created_at, 'UTC') from new_rows n
     where n.kind = 'marketing' and n.sent_at is not null;
  else
    insert into status_stale (hour)
    select distinct date_trunc('hour', n.created_at, 'UTC') from new_rows n;
  end if;
  return null;
end
$$;

-- Brings the closed hours up to date for p_now: the hours logged stale are dropped, every
-- closed hour of the 30-day window not kept (the hour that just closed, the dropped ones)
-- is summed from its rows, hours before the window are dropped. Serialized by an advisory
-- lock (the growth job and a page load may refresh at once). The log is consumed by a
-- statement before the sums are read by a later one, so a change committed in between
-- is either in the sums or still logged: never lost. Returns the hours summed.
create or replace function internal.status_rollup(p_now timestamptz)
returns integer
language plpgsql set search_path = public as $$
declare
  v_open timestamptz := date_trunc('hour', p_now, 'UTC');
  v_first timestamptz := date_trunc('hour', p_now - interval '30 days', 'UTC') + interval '1 hour';
  v_n integer;
begin
  perform pg_advisory_xact_lock(hashtext('status_rollup'));
  -- the lead scores' change rows folded into one (a row committed meanwhile stays for the
  -- next fold: the delete removes only the rows it sees, and their sum is written back)
  if (select count(*) from status_score_counts) > 1 then
    with d as (
      delete from status_score_counts returning hot, scored
    )
    insert into status_score_counts (hot, scored)
    select coalesce(sum(hot), 0), coalesce(sum(scored), 0) from d;
  end if;
  with stale as (
    delete from status_stale returning hour
  ), hours as (
    select distinct hour from stale
  ), k as (
    delete from status_hours h using hours x where h.hour = x.hour
  ), l as (
    delete from status_hour_leads h using hours x where h.hour = x.hour
  ), c as (
    delete from status_hour_calls h using hours x where h.hour = x.hour
  )
  delete from status_hour_sends h using hours x where h.hour = x.hour;
  delete from status_hours where hour < v_first;
  delete from status_hour_leads where hour < v_first;
  delete from status_hour_calls where hour < v_first;
  delete from status_hour_sends where hour < v_first;
  with missing as (
    select g.h from generate_series(v_first, v_open - interval '1 hour', interval '1 hour') g(h)
     where not exists (select from status_hours s where s.hour = g.h)
  ), k as (
    insert into status_hours (hour, computed_at) select h, p_now from missing
  ), l as (
    insert into status_hour_leads (hour, leads, contacted, replied, booked)
    select m.h, count(*),
           count(*) filter (where x.status <> 'new' or x.last_contacted_at is not null
                                  or x.last_called_at is not null),
           count(*) filter (where x.status in ('engaged', 'booked', 'customer')),
           count(*) filter (where x.status in ('booked', 'customer'))
      from missing m
      join leads x on x.created_at >= m.h and x.created_at < m.h + interval '1 hour'
     group by m.h
  ), c as (
    insert into status_hour_calls (hour, outcome, n)
    select m.h, coalesce(x.outcome, x.status), count(*)
      from missing m
      join calls x on x.created_at >= m.h and x.created_at < m.h + interval '1 hour'
     group by 1, 2
  ), s as (
    insert into status_hour_sends (hour, campaign_id, sent, bounced, complained, filtered)
    select m.h, x.campaign_id, count(*), count(*) filter (where x.status = 'bounced'),
           count(*) filter (where x.status = 'complained'),
           count(*) filter (where x.error_code = '30007')
      from missing m
      join messages x on x.created_at >= m.h and x.created_at < m.h + interval '1 hour'
     where x.kind = 'marketing' and x.sent_at is not null
     group by 1, 2
  )
  select count(*) into v_n from missing;
  return v_n;
end
$$;

-- The aggregate sections as internal.status_aggregates computes them, from the closed hours
-- (internal.status_rollup, run first) and, read from the rows by index, the open hour up to
-- p_now and the windows' first partial hours. Calls per day are summed by the local day of
-- each hour, exact when p_tz's offset is whole hours at both ends of the 14 days (no zone
-- changes its offset twice in 14 days); otherwise (a :30 or :45 zone) that section is read
-- from the rows as before.
create or replace function internal.status_rolled(p_tz text, p_now timestamptz)
returns jsonb
language plpgsql stable set search_path = public as $$
declare
  v_open timestamptz := date_trunc('hour', p_now, 'UTC');
  v_30 timestamptz := p_now - interval '30 days';
  v_14 timestamptz := p_now - interval '14 days';
  v_7 timestamptz := p_now - interval '7 days';
  v_h30 timestamptz := date_trunc('hour', p_now - interval '30 days', 'UTC') + interval '1 hour';
  v_h14 timestamptz := date_trunc('hour', p_now - interval '14 days', 'UTC') + interval '1 hour';
  v_h7 timestamptz := date_trunc('hour', p_now - interval '7 days', 'UTC') + interval '1 hour';
  v_aligned boolean;
  v_funnel jsonb;
  v_calls jsonb;
  v_sends jsonb;
begin
  v_aligned := (select bool_and(extract(minute from t at time zone p_tz) = 0
                                and extract(second from t at time zone p_tz) = 0)
                  from unnest(array[v_h14, v_open]) t);
  -- kept hours (the 7 days from v_h7), then rows: the 30 days' first partial hour, the
  -- 7 days' (its 30-day part is a kept hour) and the open hour
  select jsonb_build_array(
      jsonb_build_object('days', 7, 'leads', coalesce(sum(f.leads7), 0),
        'contacted', coalesce(sum(f.contacted7), 0), 'replied', coalesce(sum(f.replied7), 0),
        'booked', coalesce(sum(f.booked7), 0)),
      jsonb_build_object('days', 30, 'leads', coalesce(sum(f.leads), 0),
        'contacted', coalesce(sum(f.contacted), 0), 'replied', coalesce(sum(f.replied), 0),
        'booked', coalesce(sum(f.booked), 0)))
    into v_funnel
    from (select r.leads, r.contacted, r.replied, r.booked,
                 case when r.hour >= v_h7 then r.leads else 0 end as leads7,
                 case when r.hour >= v_h7 then r.contacted else 0 end as contacted7,
                 case when r.hour >= v_h7 then r.replied else 0 end as replied7,
                 case when r.hour >= v_h7 then r.booked else 0 end as booked7
            from status_hour_leads r where r.hour >= v_h30 and r.hour < v_open
          union all
          select case when y.w30 then 1 else 0 end, case when y.w30 and y.contacted then 1 else 0 end,
                 case when y.w30 and y.replied then 1 else 0 end,
                 case when y.w30 and y.booked then 1 else 0 end,
                 case when y.w7 then 1 else 0 end, case when y.w7 and y.contacted then 1 else 0 end,
                 case when y.w7 and y.replied then 1 else 0 end,
                 case when y.w7 and y.booked then 1 else 0 end
            from (select x.created_at > v_7 as w7, x.created_at < v_h30 or x.created_at >= v_open
                           as w30,
                         x.status <> 'new' or x.last_contacted_at is not null
                           or x.last_called_at is not null as contacted,
                         x.status in ('engaged', 'booked', 'customer') as replied,
                         x.status in ('booked', 'customer') as booked
                    from leads x
                   where x.created_at > v_30 and x.created_at < v_h30
                  union all
                  select true, false, x.status <> 'new' or x.last_contacted_at is not null
                           or x.last_called_at is not null,
                         x.status in ('engaged', 'booked', 'customer'),
                         x.status in ('booked', 'customer')
                    from leads x
                   where x.created_at > v_7 and x.created_at < v_h7
                  union all
                  select true, true, x.status <> 'new' or x.last_contacted_at is not null
                           or x.last_called_at is not null,
                         x.status in ('engaged', 'booked', 'customer'),
                         x.status in ('booked', 'customer')
                    from leads x
                   where x.created_at >= v_open and x.created_at <= p_now) y) f;
  select coalesce(jsonb_agg(jsonb_build_object(
      'day', to_char(c.day, 'YYYY-MM-DD'), 'outcome', c.outcome, 'n', c.n)
      order by c.day, c.outcome), '[]')
    into v_calls
    from (select d.day, d.outcome, sum(d.n) as n
            from (select (r.hour at time zone p_tz)::date as day, r.outcome, r.n
                    from status_hour_calls r
                   where v_aligned and r.hour >= v_h14 and r.hour < v_open
                  union all
                  select (x.created_at at time zone p_tz)::date, coalesce(x.outcome, x.status), 1
                    from calls x
                   where v_aligned and x.created_at > v_14 and x.created_at < v_h14
                  union all
                  select (x.created_at at time zone p_tz)::date, coalesce(x.outcome, x.status), 1
                    from calls x
                   where v_aligned and x.created_at >= v_open and x.created_at <= p_now
                  union all
                  select (x.created_at at time zone p_tz)::date, coalesce(x.outcome, x.status), 1
                    from calls x
                   where not v_aligned and x.created_at > v_14 and x.created_at <= p_now) d
           group by 1, 2) c;
  select coalesce(jsonb_agg(jsonb_build_object(
      'campaign', coalesce(c.slug, '(none)'), 'sent', s.sent, 'bounced', s.bounced,
      'complained', s.complained, 'filtered', s.filtered) order by c.slug), '[]')
    into v_sends
    from (select d.campaign_id, sum(d.sent) as sent, sum(d.bounced) as bounced,
                 sum(d.complained) as complained, sum(d.filtered) as filtered
            from (select r.campaign_id, r.sent, r.bounced, r.complained, r.filtered
                    from status_hour_sends r where r.hour >= v_h30 and r.hour < v_open
                  union all
                  select m.campaign_id, 1, case when m.status = 'bounced' then 1 else 0 end,
                         case when m.status = 'complained' then 1 else 0 end,
                         case when m.error_code = '30007' then 1 else 0 end
                    from messages m
                   where ((m.created_at > v_30 and m.created_at < v_h30)
                          or (m.created_at >= v_open and m.created_at <= p_now))
                     and m.kind = 'marketing' and m.sent_at is not null) d
           group by 1) s
    left join campaigns c on c.id = s.campaign_id;
  return jsonb_build_object(
    'computed_at', p_now, 'funnel', v_funnel, 'calls_per_day', v_calls,
    'deliverability', v_sends,
    'scores', (select jsonb_build_object('hot_leads', coalesce(sum(n.hot), 0)::bigint,
                                         'scored_leads', coalesce(sum(n.scored), 0)::bigint)
                 from status_score_counts n));
end
$$;

-- Recomputes the cached aggregates (the growth job's status step, hourly; a page load when
-- the cache is older than its limit): the closed hours brought up to date, then summed.
create or replace function status_refresh(p_tz text, p_now timestamptz)
returns timestamptz
language plpgsql set search_path = public as $$
begin
  perform internal.status_rollup(p_now);
  insert into status_cache (tz, computed_at, value)
  values (p_tz, p_now, internal.status_rolled(p_tz, p_now))
  on conflict (tz) do update set computed_at = excluded.computed_at, value = excluded.value;
  return p_now;
end
$$;

-- What the closed hours sum: a lead's created_at, status and first contact or call; a
-- call's created_at and outcome (else status); a sent marketing message's created_at,
-- campaign, bounce or complaint and carrier filtering (30007). Any other change (a score,
-- an open, a delivery) leaves every hour as it was.
create trigger leads_status_stale_insert after insert on leads
  referencing new table as new_rows
  for each statement execute function internal.status_stale_new_rows();
create trigger leads_status_stale_update after update on leads for each row
  when (old.created_at is distinct from new.created_at or old.status is distinct from new.status
        or (old.last_contacted_at is null) <> (new.last_contacted_at is null)
        or (old.last_called_at is null) <> (new.last_called_at is null))
  execute function internal.status_stale_row();
create trigger leads_status_stale_delete after delete on leads for each row
  execute function internal.status_stale_row();
create trigger calls_status_stale_insert after insert on calls
  referencing new table as new_rows
  for each statement execute function internal.status_stale_new_rows();
create trigger calls_status_stale_update after update on calls for each row
  when (old.created_at is distinct from new.created_at
        or coalesce(old.outcome, old.status) is distinct from coalesce(new.outcome, new.status))
  execute function internal.status_stale_row();
create trigger calls_status_stale_delete after delete on calls for each row
  execute function internal.status_stale_row();
create trigger messages_status_stale_insert after insert on messages
  referencing new table as new_rows
  for each statement execute function internal.status_stale_new_rows();
create trigger messages_status_stale_delete after delete on messages for each row
  when (old.kind = 'marketing' and old.sent_at is not null)
  execute function internal.status_stale_row();

-- The lead scores' change rows (status_score_counts): +1/-1 for each of hot_at and score
-- that turned not null / null. Row-level with WHEN clauses, so a write that leaves both as
-- they were (an import, a rescore of a scored lead) queues nothing. No SET search_path (a
-- SET clause costs every call): the table is named with its schema.
create or replace function internal.status_scores_row()
returns trigger
language plpgsql as $$
begin
  if tg_op = 'INSERT' then
    insert into public.status_score_counts (hot, scored)
    values ((new.hot_at is not null)::int, (new.score is not null)::int);
  elsif tg_op = 'DELETE' then
    insert into public.status_score_counts (hot, scored)
    values (-(old.hot_at is not null)::int, -(old.score is not null)::int);
  else
    insert into public.status_score_counts (hot, scored)
    values ((new.hot_at is not null)::int - (old.hot_at is not null)::int,
            (new.score is not null)::int - (old.score is not null)::int);
  end if;
  return null;
end
$$;

create or replace function internal.status_scores_truncate()
returns trigger
language plpgsql as $$
begin
  -- after a fold in progress (internal.status_rollup), so its row is deleted too
  perform pg_advisory_xact_lock(hashtext('status_rollup'));
  delete from public.status_score_counts;
  return null;
end
$$;

create trigger leads_status_scores_insert after insert on leads for each row
  when (new.score is not null or new.hot_at is not null)
  execute function internal.status_scores_row();
create trigger leads_status_scores_update after update of score, hot_at on leads for each row
  when ((old.score is null) <> (new.score is null) or (old.hot_at is null) <> (new.hot_at is null))
  execute function internal.status_scores_row();
create trigger leads_status_scores_delete after delete on leads for each row
  when (old.score is not null or old.hot_at is not null)
  execute function internal.status_scores_row();
create trigger leads_status_scores_truncate after truncate on leads
  for each statement execute function internal.status_scores_truncate();

-- A message's update logs the hours of both rollups (the status page's, by created_at; the
-- A/B counts', by sent_at) in one trigger, its conditions checked in the function, not in
-- a WHEN clause: PostgreSQL prepares a trigger's WHEN again for every UPDATE statement, and
-- two long ones cost each single-row update (a webhook's status callback) several times
-- what these checks do (bench/RESULTS.md, ROLLUP). No SET search_path (a SET clause costs
-- every call): the tables are named with their schema.
create or replace function internal.messages_rollup_stale()
returns trigger
language plpgsql as $$
begin
  if (old.kind = 'marketing' and old.sent_at is not null
      or new.kind = 'marketing' and new.sent_at is not null)
     and (old.created_at is distinct from new.created_at or old.kind is distinct from new.kind
          or old.campaign_id is distinct from new.campaign_id
          or (old.sent_at is null) <> (new.sent_at is null)
          or (old.status is distinct from new.status
              and (old.status in ('bounced', 'complained')
                   or new.status in ('bounced', 'complained')))
          or coalesce(old.error_code = '30007', false)
             <> coalesce(new.error_code = '30007', false)) then
    insert into public.status_stale (hour)
    select distinct date_trunc('hour', t, 'UTC')
      from unnest(array[old.created_at, new.created_at]) t;
  end if;
  if (old.step_id is not null and old.sent_at is not null
      or new.step_id is not null and new.sent_at is not null)
     and (old.sent_at is distinct from new.sent_at or old.step_id is distinct from new.step_id
          or old.campaign_id is distinct from new.campaign_id
          or old.channel is distinct from new.channel
          or old.to_address is distinct from new.to_address
          or old.lead_id is distinct from new.lead_id
          or (old.status is distinct from new.status
              and (old.status in ('failed', 'bounced', 'cancelled', 'undelivered', 'clicked')
                   or new.status in ('failed', 'bounced', 'cancelled', 'undelivered',
                                     'clicked')))
          or (old.payload->'variant') is distinct from (new.payload->'variant')) then
    insert into public.variant_stale (hour)
    select distinct date_trunc('hour', t, 'UTC')
      from unnest(array[old.sent_at, new.sent_at]) t where t is not null;
  end if;
  return null;
end
$$;
create trigger messages_rollup_stale_update
  after update of status, sent_at, error_code, kind, campaign_id, created_at, step_id, channel,
                  to_address, lead_id, payload on messages
  for each row execute function internal.messages_rollup_stale();

-- An appointment changes the A/B bookings of its lead's sends (06_scoring.sql: variant_stats).
create trigger appointments_variant_stale_insert after insert on appointments for each row
  execute function internal.variant_stale_row();
create trigger appointments_variant_stale_update after update on appointments for each row
  when (old.lead_id is distinct from new.lead_id or old.created_at is distinct from new.created_at)
  execute function internal.variant_stale_row();
create trigger appointments_variant_stale_delete after delete on appointments for each row
  execute function internal.variant_stale_row();

-- Every section of the status page in one round trip: the live sections (jobs, alerts, API
-- health, model, appointments) read now; the aggregates from the cache when it is younger
-- than p_max_age_seconds, else recomputed (and cached) now.
create or replace function status_snapshot(p_tz text, p_max_age_seconds integer,
                                           p_now timestamptz)
returns jsonb
language plpgsql set search_path = public as $$
declare
  v_agg jsonb;
begin
  select value into v_agg from status_cache
   where tz = p_tz and computed_at <= p_now
     and computed_at > p_now - make_interval(secs => p_max_age_seconds);
  if v_agg is null then
    perform status_refresh(p_tz, p_now);
    select value into v_agg from status_cache where tz = p_tz;
  end if;
  return (v_agg - 'scores') || (v_agg->'scores') || jsonb_build_object(
    'now', p_now,
    'jobs', coalesce((select jsonb_agg(to_jsonb(j)) from job_status(p_now) j), '[]'),
    'alerts', coalesce((select jsonb_agg(jsonb_build_object(
        'code', a.code, 'key', a.key, 'severity', a.severity, 'title', a.title,
        'count', a.count, 'first_seen_at', a.first_seen_at, 'last_seen_at', a.last_seen_at,
        'acknowledged_at', a.acknowledged_at) order by a.first_seen_at desc)
        from alerts a where a.status = 'firing'), '[]'),
    'health', coalesce((select jsonb_agg(h order by h.target) from (
        select target, (array_agg(ok order by checked_at desc))[1] as ok,
               (array_agg(latency_ms order by checked_at desc))[1] as latency_ms,
               round(avg(latency_ms))::integer as avg_latency_ms,
               max(checked_at) as checked_at
          from health_checks
         where checked_at > p_now - interval '24 hours' and checked_at <= p_now
         group by target) h), '[]'),
    'model', (select jsonb_build_object('version', m.version, 'kind', m.kind,
                                        'trained_at', m.trained_at, 'metrics', m.metrics)
                from score_models m where m.trained_at <= p_now
               order by m.version desc limit 1),
    'appointments', jsonb_build_object(
        'upcoming', (select count(*) from appointments where status in ('booked', 'confirmed')
                      and starts_at > p_now),
        'booked_7d', (select count(*) from appointments
                       where created_at > p_now - interval '7 days' and created_at <= p_now),
        'no_show_7d', (select count(*) from appointments
                        where no_show_at > p_now - interval '7 days' and no_show_at <= p_now)));
end
$$;

-- ---------------------------------------------------------------------------------------
-- status page sessions
-- ---------------------------------------------------------------------------------------

-- Opens a session; sessions that ended over a day ago are deleted on the way (the table
-- stays as small as the number of recent logins).
create or replace function status_session_open(
  p_id_hash text, p_token_tag text, p_expires_at timestamptz, p_now timestamptz
) returns void
language plpgsql set search_path = public as $$
begin
  delete from status_sessions
   where least(expires_at, coalesce(revoked_at, expires_at)) < p_now - interval '1 day';
  insert into status_sessions (id_hash, token_tag, created_at, expires_at)
  values (p_id_hash, p_token_tag, p_now, p_expires_at);
end
$$;

-- True while the session is open: not revoked, not expired, same STATUS_TOKEN.
create or replace function status_session_valid(
  p_id_hash text, p_token_tag text, p_now timestamptz
) returns boolean
language sql stable set search_path = public as $$
  select exists (select from status_sessions s
                  where s.id_hash = p_id_hash and s.token_tag = p_token_tag
                    and s.revoked_at is null and s.expires_at > p_now);
$$;

-- Logout: the session ends now, whoever holds a copy of the cookie.
create or replace function status_session_revoke(p_id_hash text, p_now timestamptz)
returns void
language plpgsql set search_path = public as $$
begin
  update status_sessions set revoked_at = p_now
   where id_hash = p_id_hash and revoked_at is null;
end
$$;
