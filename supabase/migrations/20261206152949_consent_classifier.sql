-- consent_classifier: written by `nightshift db diff consent_classifier` from supabase/schemas/
-- at 2026-12-06 15:29:49 UTC. Functions as the schema files define
-- them, executable by service_role only. Review it, then record its sha256
-- (supabase/migrations.sha256).

drop function if exists public.webhook_twilio_inbound(text,text,jsonb,text,jsonb,timestamp with time zone);

-- public.enroll_leads(timestamp with time zone)  (02_campaigns.sql:134)
CREATE OR REPLACE FUNCTION public.enroll_leads(p_now timestamp with time zone DEFAULT now())
 RETURNS TABLE(campaign_id bigint, slug text, enrolled integer, cap integer)
 LANGUAGE plpgsql
 SET search_path TO 'public'
AS $function$
#variable_conflict use_column
declare
  c campaigns;
  v_cap integer;
  v_today integer;
  v_first integer;
  v_n integer;
  a jsonb;
begin
  for c in select * from campaigns where status = 'active' order by id for update loop
    a := coalesce(c.definition->'audience', '{}');
    v_cap := internal.campaign_enroll_cap(c, p_now);
    select count(*) into v_today from enrollments e
     where e.campaign_id = c.id and e.enrolled_at >= date_trunc('day', p_now);
    select s.delay_seconds into v_first from campaign_steps s
     where s.campaign_id = c.id order by s.position limit 1;
    v_n := 0;
    if v_first is not null and v_cap > v_today then
      insert into enrollments (campaign_id, lead_id, next_run_at, enrolled_at, updated_at)
      select c.id, l.id, p_now + make_interval(secs => v_first), p_now, p_now
        from leads l
       where l.status = any (coalesce(
               (select array_agg(x) from jsonb_array_elements_text(a->'status') x),
               array['new', 'contacted', 'engaged']))
         and (jsonb_typeof(a->'industry') is distinct from 'array' or l.industry in (select jsonb_array_elements_text(a->'industry')))
         and (jsonb_typeof(a->'source') is distinct from 'array' or l.source in (select jsonb_array_elements_text(a->'source')))
         and (jsonb_typeof(a->'state') is distinct from 'array' or l.state in (select jsonb_array_elements_text(a->'state')))
         and coalesce(l.score, 0) >= coalesce((a->>'min_score')::real, 0)
         and not (l.email_opted_out_at is not null and l.sms_opted_out_at is not null
                  and l.calls_opted_out_at is not null)
         and l.needs_review is null  -- held for a human (internal.consent_hold)
         and not exists (select 1 from enrollments e where e.campaign_id = c.id and e.lead_id = l.id)
       order by l.score desc nulls last, l.created_at desc, l.id
       limit v_cap - v_today
      on conflict do nothing;
      get diagnostics v_n = row_count;
    end if;
    return query select c.id, c.slug, v_n, v_cap;
  end loop;
end
$function$;
revoke all on function public.enroll_leads(timestamp with time zone) from public, anon, authenticated;
grant execute on function public.enroll_leads(timestamp with time zone) to service_role;

-- internal.consent_opt_out(bigint,text,text[],text,timestamp with time zone)  (04_webhooks.sql:162)
CREATE OR REPLACE FUNCTION internal.consent_opt_out(p_lead_id bigint, p_phone text, p_channels text[], p_source text, p_now timestamp with time zone)
 RETURNS integer
 LANGUAGE plpgsql
 SET search_path TO 'public'
AS $function$
declare
  v leads;
  v_channel text;
  v_address text;
begin
  select * into v from leads where id = p_lead_id for update;
  if v.id is null then
    foreach v_channel in array p_channels loop
      if p_phone is not null and v_channel in ('sms', 'call') then
        perform outbox_opt_out(v_channel, null, p_phone, p_source, p_now);
      end if;
    end loop;
    return 0;
  end if;
  foreach v_channel in array p_channels loop
    v_address := case v_channel when 'email' then v.email else v.phone end;
    if v_address is not null then
      perform outbox_opt_out(v_channel, v.id, v_address, p_source, p_now);
    else  -- no address to suppress: the lead's flag still says no
      update leads set
        sms_opted_out_at = case when v_channel = 'sms'
                                then coalesce(sms_opted_out_at, p_now) else sms_opted_out_at end,
        email_opted_out_at = case when v_channel = 'email'
                                  then coalesce(email_opted_out_at, p_now)
                                  else email_opted_out_at end,
        calls_opted_out_at = case when v_channel = 'call'
                                  then coalesce(calls_opted_out_at, p_now)
                                  else calls_opted_out_at end,
        updated_at = p_now
       where id = v.id;
    end if;
  end loop;
  update messages m set status = 'cancelled', error_code = 'suppressed', updated_at = p_now,
         status_history = m.status_history
           || jsonb_build_object('status', 'cancelled', 'at', p_now, 'reason', p_source)
   where m.lead_id = v.id and m.status = 'queued' and m.channel = any (p_channels);
  if 'call' = any (p_channels) then
    update calls k set status = 'cancelled', error_code = 'suppressed',
           error_message = 'the lead opted out of calls', updated_at = p_now
     where k.lead_id = v.id and k.status = 'queued' and k.vapi_call_id is null;
  end if;
  return apply_stop_rules(v.id, 'opt_out', p_now);
end
$function$;
revoke all on function internal.consent_opt_out(bigint,text,text[],text,timestamp with time zone) from public, anon, authenticated;
grant execute on function internal.consent_opt_out(bigint,text,text[],text,timestamp with time zone) to service_role;

-- internal.consent_hold(bigint,text,timestamp with time zone)  (04_webhooks.sql:216)
CREATE OR REPLACE FUNCTION internal.consent_hold(p_lead_id bigint, p_reason text, p_now timestamp with time zone)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'public'
AS $function$
begin
  if p_lead_id is null then
    return;
  end if;
  update leads set needs_review = left(p_reason, 500), updated_at = p_now where id = p_lead_id;
  update enrollments set status = 'paused', stopped_reason = 'needs_review',
         lease_owner = null, lease_expires_at = null, updated_at = p_now
   where lead_id = p_lead_id and status = 'active';
  update messages m set status = 'cancelled', error_code = 'needs_review', updated_at = p_now,
         status_history = m.status_history
           || jsonb_build_object('status', 'cancelled', 'at', p_now, 'reason', 'needs_review')
   where m.lead_id = p_lead_id and m.status = 'queued' and m.kind in ('marketing', 'rescue');
  update calls k set status = 'cancelled', error_code = 'needs_review',
         error_message = 'held: the lead''s words need a human', updated_at = p_now
   where k.lead_id = p_lead_id and k.status = 'queued' and k.vapi_call_id is null;
end
$function$;
revoke all on function internal.consent_hold(bigint,text,timestamp with time zone) from public, anon, authenticated;
grant execute on function internal.consent_hold(bigint,text,timestamp with time zone) to service_role;

-- public.webhook_twilio_inbound(text,text,jsonb,text,jsonb,timestamp with time zone,text[],text)  (04_webhooks.sql:249)
CREATE OR REPLACE FUNCTION public.webhook_twilio_inbound(p_dedupe_key text, p_kind text, p_payload jsonb, p_from text, p_notify jsonb, p_now timestamp with time zone, p_scope text[] DEFAULT NULL::text[], p_reason text DEFAULT NULL::text)
 RETURNS TABLE(duplicate boolean, event_id bigint, lead_id bigint, stopped integer, message_ids bigint[])
 LANGUAGE plpgsql
 SET search_path TO 'public'
AS $function$
#variable_conflict use_column
declare
  v_event bigint;
  v_lead bigint;
  v_stopped integer := 0;
  v_ids bigint[] := '{}';
  v_msg jsonb;
  v_others text[] := array(select unnest(coalesce(p_scope, '{}')) except select 'sms');
begin
  v_event := internal.webhook_store_event('twilio', p_dedupe_key, 'sms.' || p_kind,
                                           coalesce(p_payload, '{}') || jsonb_strip_nulls(jsonb_build_object(
                                             'nightshift_scope', to_jsonb(p_scope),
                                             'nightshift_reason', p_reason)),
                                           p_now);
  if v_event is null then
    return query select true, null::bigint, null::bigint, 0, '{}'::bigint[];
    return;
  end if;
  select l.id into v_lead from leads l where l.phone = p_from;
  if p_kind = 'stop' then
    perform internal.webhook_suppress('sms', v_lead, p_from, 'stop', 'twilio:inbound', p_now);
    v_stopped := apply_stop_rules(v_lead, 'opt_out', p_now);
    update messages set status = 'cancelled', error_code = 'suppressed', updated_at = p_now,
           status_history = status_history
             || jsonb_build_object('status', 'cancelled', 'at', p_now, 'reason', 'sms_stop')
     where channel = 'sms' and status = 'queued'
       and (to_address = p_from or messages.lead_id = v_lead);
    if cardinality(v_others) > 0 then
      v_stopped := v_stopped + internal.consent_opt_out(v_lead, p_from, v_others,
                                                        'twilio:inbound', p_now);
    end if;
  elsif p_kind = 'start' then
    update leads set sms_opted_out_at = null, updated_at = p_now where id = v_lead;
    delete from suppressions where channel = 'sms' and address = p_from and reason = 'stop';
  elsif p_kind = 'ambiguous' then
    perform internal.consent_hold(v_lead, 'ambiguous reply by SMS: '
                                  || coalesce(p_reason, '?') || ': '
                                  || left(coalesce(p_payload->>'Body', ''), 300), p_now);
  elsif p_kind = 'reply' then
    perform internal.lead_advance_status(v_lead, 'engaged', p_now);
    v_stopped := apply_stop_rules(v_lead, 'reply', p_now);
  end if;
  for v_msg in select * from jsonb_array_elements(coalesce(p_notify, '[]')) loop
    if v_msg->>'channel' = 'sms' and v_lead is not null then
      v_msg := v_msg || jsonb_build_object('lead_id', v_lead);
    end if;
    v_ids := v_ids || (select m.id from enqueue_message(v_msg, p_now) m);
  end loop;
  return query select false, v_event, v_lead, v_stopped, v_ids;
end
$function$;
revoke all on function public.webhook_twilio_inbound(text,text,jsonb,text,jsonb,timestamp with time zone,text[],text) from public, anon, authenticated;
grant execute on function public.webhook_twilio_inbound(text,text,jsonb,text,jsonb,timestamp with time zone,text[],text) to service_role;

-- public.webhook_vapi_opt_out(text,text,jsonb,jsonb,text[],text,timestamp with time zone)  (04_webhooks.sql:429)
CREATE OR REPLACE FUNCTION public.webhook_vapi_opt_out(p_dedupe_key text, p_event_type text, p_payload jsonb, p_call jsonb, p_channels text[], p_reason text, p_now timestamp with time zone)
 RETURNS TABLE(duplicate boolean, event_id bigint, lead_id bigint, stopped integer)
 LANGUAGE plpgsql
 SET search_path TO 'public'
AS $function$
#variable_conflict use_column
declare
  v_event bigint;
  v_lead bigint;
  v_phone text := p_call->>'to_number';
begin
  v_event := internal.webhook_store_event(
    'vapi', p_dedupe_key, p_event_type,
    jsonb_build_object('message', coalesce(p_payload, '{}'), 'channels', to_jsonb(p_channels),
                       'reason', p_reason), p_now);
  if v_event is null then
    return query select true, null::bigint, null::bigint, 0;
    return;
  end if;
  select c.lead_id into v_lead from calls c where c.vapi_call_id = p_call->>'vapi_call_id';
  v_lead := coalesce(v_lead, internal.vapi_call_lead(p_call));
  if v_lead is not null then
    select coalesce(l.phone, v_phone) into v_phone from leads l where l.id = v_lead;
  end if;
  return query select false, v_event, v_lead,
    internal.consent_opt_out(v_lead, v_phone, p_channels, 'vapi:' || p_event_type, p_now);
end
$function$;
revoke all on function public.webhook_vapi_opt_out(text,text,jsonb,jsonb,text[],text,timestamp with time zone) from public, anon, authenticated;
grant execute on function public.webhook_vapi_opt_out(text,text,jsonb,jsonb,text[],text,timestamp with time zone) to service_role;

-- public.webhook_enqueue_rescue(bigint,jsonb,timestamp with time zone)  (04_webhooks.sql:742)
CREATE OR REPLACE FUNCTION public.webhook_enqueue_rescue(p_lead_id bigint, p_message jsonb, p_now timestamp with time zone)
 RETURNS SETOF public.messages
 LANGUAGE plpgsql
 SET search_path TO 'public'
AS $function$
declare
  v_lead leads;
begin
  perform pg_advisory_xact_lock(hashtext('rescue:' || p_lead_id));
  select * into v_lead from leads where id = p_lead_id;
  if v_lead.id is null or v_lead.phone is null
     or internal.outbox_is_suppressed('sms', v_lead.id, v_lead.phone)
     or v_lead.needs_review is not null  -- held for a human (internal.consent_hold)
     or exists (select from messages m where m.lead_id = p_lead_id and m.kind = 'rescue'
                   and m.created_at > p_now - interval '24 hours') then
    return;
  end if;
  return query select * from enqueue_message(
    p_message || jsonb_build_object('lead_id', v_lead.id, 'to_address', v_lead.phone,
                                    'channel', 'sms', 'kind', 'rescue'), p_now);
end
$function$;
revoke all on function public.webhook_enqueue_rescue(bigint,jsonb,timestamp with time zone) from public, anon, authenticated;
grant execute on function public.webhook_enqueue_rescue(bigint,jsonb,timestamp with time zone) to service_role;
