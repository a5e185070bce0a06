-- last_moment_check: written by `nightshift db diff last_moment_check` from supabase/schemas/
-- at 2026-12-06 15:26:26 UTC. Functions as the schema files define
-- them, executable by service_role only. Review it, then record its sha256
-- (supabase/migrations.sha256).

drop function if exists public.claim_call(bigint,integer,integer,timestamp with time zone);

-- public.call_queue(integer,timestamp with time zone)  (02_campaigns.sql:432)
CREATE OR REPLACE FUNCTION public.call_queue(p_limit integer, p_now timestamp with time zone DEFAULT now())
 RETURNS TABLE(call jsonb, in_flight integer)
 LANGUAGE sql
 STABLE
 SET search_path TO 'public'
AS $function$
  select jsonb_build_object(
           'id', k.id, 'lead', to_jsonb(l) - 'score_reasons', 'not_before', k.not_before,
           'window', k.payload->'window',
           'campaign', case when c.id is null then null else
             jsonb_build_object('id', c.id, 'slug', c.slug, 'definition', c.definition) end,
           'recent_attempts', internal.lead_recent_attempts(l.id, p_now)),
         (select count(*)::integer from calls f
           where f.status in ('placing', 'ringing', 'in-progress', 'forwarding')
             -- as claim_call: a call silent for 2 h lost its end-of-call report
             and f.updated_at > p_now - interval '2 hours')
    from calls k
    join leads l on l.id = k.lead_id
    left join campaigns c on c.id = k.campaign_id
   where k.status = 'queued' and k.vapi_call_id is null
     and (k.not_before is null or k.not_before <= p_now)
     and (c.id is null or c.status = 'active')
   order by l.score desc nulls last, l.created_at desc, k.id
   limit p_limit;
$function$;
revoke all on function public.call_queue(integer,timestamp with time zone) from public, anon, authenticated;
grant execute on function public.call_queue(integer,timestamp with time zone) to service_role;

-- public.enqueue_outbox(jsonb,timestamp with time zone)  (03_outbox.sql:188)
CREATE OR REPLACE FUNCTION public.enqueue_outbox(p_items jsonb, p_now timestamp with time zone DEFAULT now())
 RETURNS TABLE(idempotency_key text, kind text, id bigint, status text)
 LANGUAGE plpgsql
 SET search_path TO 'public'
AS $function$
#variable_conflict use_column
begin
  insert into messages (idempotency_key, lead_id, enrollment_id, campaign_id, step_id, channel,
                        kind, provider, to_address, payload, created_at, updated_at)
  select i->>'idempotency_key', (i->>'lead_id')::bigint, (i->>'enrollment_id')::bigint,
         (i->>'campaign_id')::bigint, (i->>'step_id')::bigint, i->>'channel',
         coalesce(i->>'kind', 'marketing'), i->>'provider', i->>'to_address',
         coalesce(i->'payload', '{}'), p_now, p_now
    from jsonb_array_elements(p_items) i
   where i->>'channel' in ('email', 'sms')
  -- A step written again (its row went back to the queue when its window closed before the
  -- send, see mark_sending) brings the window the gate found now: only that is refreshed.
  on conflict on constraint messages_idempotency_key_key do update
     set payload = messages.payload
                   || jsonb_build_object('send_before', excluded.payload->'send_before')
   where messages.status = 'queued' and messages.payload ? 'send_before';

  insert into calls (idempotency_key, lead_id, enrollment_id, campaign_id, provider, to_number,
                     status, payload, created_at, updated_at)
  select i->>'idempotency_key', (i->>'lead_id')::bigint, (i->>'enrollment_id')::bigint,
         (i->>'campaign_id')::bigint, coalesce(i->>'provider', 'vapi'),
         coalesce(i->>'to_address', i->>'to_number'), 'queued',
         coalesce(i->'payload', '{}'), p_now, p_now
    from jsonb_array_elements(p_items) i
   where i->>'channel' = 'call'
  on conflict on constraint calls_idempotency_key_key do nothing;

  return query
  select m.idempotency_key, 'message'::text, m.id, m.status from messages m
   where m.idempotency_key in (select i->>'idempotency_key' from jsonb_array_elements(p_items) i)
  union all
  select k.idempotency_key, 'call'::text, k.id, k.status from calls k
   where k.idempotency_key in (select i->>'idempotency_key' from jsonb_array_elements(p_items) i);
end
$function$;
revoke all on function public.enqueue_outbox(jsonb,timestamp with time zone) from public, anon, authenticated;
grant execute on function public.enqueue_outbox(jsonb,timestamp with time zone) to service_role;

-- public.mark_sending(bigint[],timestamp with time zone)  (03_outbox.sql:320)
CREATE OR REPLACE FUNCTION public.mark_sending(p_ids bigint[], p_now timestamp with time zone DEFAULT now())
 RETURNS TABLE(id bigint, verdict text)
 LANGUAGE plpgsql
 SET search_path TO 'public'
AS $function$
#variable_conflict use_column
begin
  return query
  with locked as (
    select m.id, m.status, m.payload,
           internal.outbox_is_suppressed(m.channel, m.lead_id, m.to_address) suppressed
      from messages m where m.id = any (p_ids) order by m.id for update
  ), decided as (
    select l.id, case
             when l.status <> 'sending' then 'done'
             when l.suppressed then 'suppressed'
             when (l.payload->>'send_before')::timestamptz <= p_now then 'window'
             else 'go' end verdict
      from locked l
  ), updated as (
    update messages m set
      status = case d.verdict when 'suppressed' then 'cancelled' else 'queued' end,
      error_code = case d.verdict when 'suppressed' then 'suppressed' else 'outside_window' end,
      error_message = case d.verdict
                        when 'suppressed' then 'an opt-out covers this channel (at send time)'
                        else 'the permitted window closed before the send' end,
      updated_at = p_now,
      status_history = m.status_history || jsonb_build_object(
        'status', case d.verdict when 'suppressed' then 'cancelled' else 'queued' end,
        'at', p_now, 'reason', d.verdict)
      from decided d where m.id = d.id and d.verdict in ('suppressed', 'window')
    returning m.id
  )
  select d.id, d.verdict from decided d;
end
$function$;
revoke all on function public.mark_sending(bigint[],timestamp with time zone) from public, anon, authenticated;
grant execute on function public.mark_sending(bigint[],timestamp with time zone) to service_role;

-- public.claim_call(bigint,integer,integer,timestamp with time zone,timestamp with time zone)  (03_outbox.sql:490)
CREATE OR REPLACE FUNCTION public.claim_call(p_id bigint, p_max_in_flight integer DEFAULT 10, p_reclaim_after_seconds integer DEFAULT 600, p_now timestamp with time zone DEFAULT now(), p_send_before timestamp with time zone DEFAULT NULL::timestamp with time zone)
 RETURNS TABLE(outcome text, call jsonb)
 LANGUAGE plpgsql
 SET search_path TO 'public'
AS $function$
declare
  v calls;
  v_outcome text;
begin
  -- Serialises concurrent claims so the in-flight count below cannot be raced.
  perform pg_advisory_xact_lock(hashtext('claim_call'));
  select * into v from calls where id = p_id for update;
  if not found then
    raise exception 'no call %', p_id using errcode = 'P0002';
  end if;
  -- A call Vapi already accepted is done, whatever status the webhooks have reached.
  if v.status not in ('queued', 'placing') or v.vapi_call_id is not null then
    return query select 'done'::text, to_jsonb(v);
    return;
  end if;
  if internal.outbox_is_suppressed('call', v.lead_id, v.to_number) then
    update calls set status = 'cancelled', error_code = 'suppressed',
           error_message = 'do-not-call covers this number', updated_at = p_now
     where id = p_id returning * into v;
    return query select 'suppressed'::text, to_jsonb(v);
    return;
  end if;
  if v.status = 'queued' and p_send_before <= p_now then
    return query select 'window'::text, to_jsonb(v);
    return;
  end if;
  if v.status = 'placing'
     and v.claimed_at > p_now - make_interval(secs => p_reclaim_after_seconds) then
    return query select 'busy'::text, to_jsonb(v);
    return;
  end if;
  -- In flight = not ended and touched in the last 2 h: a row whose end-of-call webhook was
  -- lost stops counting then (the webhook reconciler closes it with GET /call/{id}).
  if v.status = 'queued' and (select count(*) from calls c where c.id <> p_id
        and c.status in ('placing', 'ringing', 'in-progress', 'forwarding')
        and c.updated_at > p_now - interval '2 hours') >= p_max_in_flight then
    return query select 'concurrency'::text, to_jsonb(v);
    return;
  end if;
  v_outcome := case when v.status = 'placing' then 'reclaimed' else 'claimed' end;
  update calls set status = 'placing', attempts = attempts + 1, claimed_at = p_now,
         updated_at = p_now,
         ambiguous_since = case when v_outcome = 'reclaimed'
                                then coalesce(ambiguous_since, claimed_at)
                                else ambiguous_since end
   where id = p_id returning * into v;
  return query select v_outcome, to_jsonb(v);
end
$function$;
revoke all on function public.claim_call(bigint,integer,integer,timestamp with time zone,timestamp with time zone) from public, anon, authenticated;
grant execute on function public.claim_call(bigint,integer,integer,timestamp with time zone,timestamp with time zone) to service_role;
