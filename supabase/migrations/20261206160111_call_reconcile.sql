-- call_reconcile: written by `nightshift db diff call_reconcile` from supabase/schemas/
-- at 2026-12-06 16:01:11 UTC. Functions as the schema files define
-- them, executable by service_role only. Review it, then record its sha256
-- (supabase/migrations.sha256).

-- public.calls_awaiting_report(timestamp with time zone,timestamp with time zone,integer)  (03_outbox.sql:686)
CREATE OR REPLACE FUNCTION public.calls_awaiting_report(p_placed_before timestamp with time zone, p_placed_after timestamp with time zone, p_limit integer)
 RETURNS TABLE(id bigint, vapi_call_id text, status text, placed_at timestamp with time zone)
 LANGUAGE sql
 STABLE
 SET search_path TO 'public'
AS $function$
  select c.id, c.vapi_call_id, c.status, coalesce(c.placed_at, c.claimed_at, c.created_at)
    from calls c
   where c.provider = 'vapi' and c.vapi_call_id is not null and c.outcome is null
     and c.status not in ('cancelled', 'failed')
     and coalesce(c.placed_at, c.claimed_at, c.created_at) < p_placed_before
     and coalesce(c.placed_at, c.claimed_at, c.created_at) >= p_placed_after
   order by (c.payload->>'reconcile_checked_at')::timestamptz nulls first,
            coalesce(c.placed_at, c.claimed_at, c.created_at), c.id
   limit greatest(p_limit, 0)
$function$;
revoke all on function public.calls_awaiting_report(timestamp with time zone,timestamp with time zone,integer) from public, anon, authenticated;
grant execute on function public.calls_awaiting_report(timestamp with time zone,timestamp with time zone,integer) to service_role;

-- public.call_reconcile_checked(bigint,text,timestamp with time zone)  (03_outbox.sql:704)
CREATE OR REPLACE FUNCTION public.call_reconcile_checked(p_id bigint, p_reason text, p_now timestamp with time zone)
 RETURNS void
 LANGUAGE sql
 SET search_path TO 'public'
AS $function$
  update calls
     set payload = payload || jsonb_build_object('reconcile_checked_at', p_now,
                                                 'reconcile_reason', p_reason)
   where id = p_id
$function$;
revoke all on function public.call_reconcile_checked(bigint,text,timestamp with time zone) from public, anon, authenticated;
grant execute on function public.call_reconcile_checked(bigint,text,timestamp with time zone) to service_role;
