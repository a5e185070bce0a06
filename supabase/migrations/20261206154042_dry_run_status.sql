-- dry_run_status: written by `nightshift db diff dry_run_status` from supabase/schemas/
-- at 2026-12-06 15:40:42 UTC. Functions as the schema files define
-- them, executable by service_role only. Review it, then record its sha256
-- (supabase/migrations.sha256).
--
-- A dry-run twin's send is stored as 'dry_run', never 'sent' (the constraint by hand).

alter table messages drop constraint messages_status_check;
alter table messages add constraint messages_status_check
  check (status in ('queued', 'sending', 'sent', 'delivered', 'opened', 'clicked', 'failed',
                    'bounced', 'complained', 'undelivered', 'cancelled', 'dry_run'));

-- public.record_messages_sent(jsonb,timestamp with time zone)  (03_outbox.sql:394)
CREATE OR REPLACE FUNCTION public.record_messages_sent(p_results jsonb, p_now timestamp with time zone DEFAULT now())
 RETURNS integer
 LANGUAGE plpgsql
 SET search_path TO 'public'
AS $function$
declare
  v_n integer;
begin
  with r as (
    select (v->>'id')::bigint id, v->>'provider' provider, v->>'provider_id' provider_id,
           nullif(v->'request', 'null'::jsonb) request
      from jsonb_array_elements(p_results) v
  )
  update messages m set
    provider = r.provider, provider_id = r.provider_id, ambiguous_since = null,
    error_code = null, error_message = null,
    status = case when m.status not in ('queued', 'sending') then m.status
                  when r.provider = 'dryrun' then 'dry_run' else 'sent' end,
    sent_at = coalesce(m.sent_at, p_now), updated_at = p_now,
    payload = case when r.request is null then m.payload
                   else m.payload || jsonb_build_object('request', r.request) end,
    status_history = m.status_history || jsonb_build_object(
      'status', case when r.provider = 'dryrun' then 'dry_run' else 'sent' end, 'at', p_now,
      'provider_id', r.provider_id)
  from r where m.id = r.id;
  get diagnostics v_n = row_count;
  return v_n;
end
$function$;
revoke all on function public.record_messages_sent(jsonb,timestamp with time zone) from public, anon, authenticated;
grant execute on function public.record_messages_sent(jsonb,timestamp with time zone) to service_role;
