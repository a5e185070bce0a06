-- consent_hold_retries: written by `nightshift db diff consent_hold_retries` from supabase/schemas/
-- at 2026-12-06 15:38:22 UTC. Functions as the schema files define
-- them, executable by service_role only. Review it, then record its sha256
-- (supabase/migrations.sha256).

-- public.requeue_unanswered_calls(integer,integer,timestamp with time zone)  (02_campaigns.sql:474)
CREATE OR REPLACE FUNCTION public.requeue_unanswered_calls(p_max_attempts integer, p_spacing_seconds integer, p_now timestamp with time zone DEFAULT now())
 RETURNS integer
 LANGUAGE plpgsql
 SET search_path TO 'public'
AS $function$
declare
  v_n integer;
begin
  with unsettled as (
    select k.* from calls k
     where k.status = 'ended' and k.retry_settled_at is null
       and k.ended_reason in ('customer-did-not-answer', 'customer-busy', 'voicemail')
  ), eligible as (
    select k.* from unsettled k
      join leads l on l.id = k.lead_id
     where k.attempt < p_max_attempts
       and l.calls_opted_out_at is null and l.status not in ('booked', 'customer', 'do_not_contact')
       and l.needs_review is null  -- held for a human (internal.consent_hold)
       and (k.enrollment_id is null or exists (select 1 from enrollments e
                                               where e.id = k.enrollment_id
                                                 and e.status in ('active', 'completed')))
  ), queued as (
    insert into calls (idempotency_key, lead_id, enrollment_id, campaign_id, provider, to_number,
                       status, payload, attempt, not_before, created_at, updated_at)
    select regexp_replace(k.idempotency_key, '#\d+$', '') || '#' || (k.attempt + 1),
           k.lead_id, k.enrollment_id, k.campaign_id, k.provider, k.to_number, 'queued',
           k.payload, k.attempt + 1,
           coalesce(k.ended_at, k.updated_at) + make_interval(secs => p_spacing_seconds), p_now, p_now
      from eligible k
    on conflict (idempotency_key) do nothing
    returning 1
  ), settled as (
    update calls c set retry_settled_at = p_now
      from unsettled k
     where c.id = k.id
       and (k.attempt >= p_max_attempts or k.id in (select id from eligible))
    returning 1
  )
  select count(*) into v_n from queued;
  return v_n;
end
$function$;
revoke all on function public.requeue_unanswered_calls(integer,integer,timestamp with time zone) from public, anon, authenticated;
grant execute on function public.requeue_unanswered_calls(integer,integer,timestamp with time zone) to service_role;
