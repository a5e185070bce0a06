-- booking_event_order: written by `nightshift db diff booking_event_order` from supabase/schemas/
-- at 2026-12-06 15:28:51 UTC, then trimmed to this change (the diff also listed other
-- engineers' work in progress) and given its column by hand. Booking events are ordered by
-- their own time (appointments.event_at); a cancellation that arrives before its booking
-- is kept as a cancelled appointment (issue 15).

alter table appointments add column event_at timestamptz;

-- public.appointments_upsert(jsonb,timestamp with time zone,jsonb)  (07_appointments.sql:174)
CREATE OR REPLACE FUNCTION public.appointments_upsert(p_booking jsonb, p_now timestamp with time zone, p_event jsonb DEFAULT NULL::jsonb)
 RETURNS TABLE(outcome text, appointment jsonb)
 LANGUAGE plpgsql
 SET search_path TO 'public'
AS $function$
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
$function$;
revoke all on function public.appointments_upsert(jsonb,timestamp with time zone,jsonb) from public, anon, authenticated;
grant execute on function public.appointments_upsert(jsonb,timestamp with time zone,jsonb) to service_role;
