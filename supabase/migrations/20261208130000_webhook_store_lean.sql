-- Issue 19 (a webhook's cost in the month), the store functions of the busiest webhooks:
-- webhook_enqueue_rescue (every missed call's rescue text) writes its row itself, as
--   enqueue_message writes a message it does not claim (queued, no attempt, empty history;
--   a key written before: that row, unchanged), instead of through enqueue_outbox, which
--   called claim_messages with no ids and read the opt-out through outbox_is_suppressed (a
--   SQL function with a FROM: planned again at every call); internal.outbox_check is read in
--   a statement plpgsql plans once per connection. Same rows, same refusals.
-- webhook_resend_event and webhook_twilio_status (every delivery event and status callback)
--   find and update the message in one statement instead of a SELECT ... FOR UPDATE of the
--   whole row then an UPDATE; the Twilio one returns only the columns it uses.
-- Server time a call (track_functions), this migration's functions against the ones before
--   it on one connection, alternating rounds: see bench/webhook_store_ab.py and
--   bench/RESULTS.md "Webhook ingest".
-- Executable by service_role only (create or replace keeps the grants).

create or replace function webhook_twilio_status(
  p_dedupe_key text, p_payload jsonb, p_outbox_id bigint, p_message_sid text,
  p_twilio_status text, p_status text, p_error_code text, p_permanent boolean,
  p_opt_out boolean, p_now timestamptz
) returns table (duplicate boolean, event_id bigint, message_id bigint, status text)
language plpgsql set search_path = public as $$
#variable_conflict use_column
declare
  v_event bigint;
  v_id bigint;
  v_status text;
  v_lead bigint;
  v_to text;
begin
  v_event := internal.webhook_store_event('twilio', p_dedupe_key, 'sms.status', p_payload, p_now);
  if v_event is null then
    return query select true, null::bigint, null::bigint, null::text;
    return;
  end if;
  -- the message by our id first, else by Twilio's sid (messages_provider_id_idx), found and
  -- updated in one statement (the row is locked as it is updated), only what is used returned
  update messages m set
    status = case when internal.message_status_rank(p_status)
                       > internal.message_status_rank(m.status)
                  then p_status else m.status end,
    provider_id = coalesce(m.provider_id, p_message_sid),
    error_code = coalesce(p_error_code, m.error_code), updated_at = p_now,
    status_history = m.status_history || jsonb_strip_nulls(jsonb_build_object(
      'status', p_twilio_status, 'at', p_now, 'source', 'twilio',
      'error_code', p_error_code, 'permanent', case when p_permanent then true end))
   where m.id = coalesce(
           (select x.id from messages x where x.id = p_outbox_id and x.channel = 'sms'),
           (select x.id from messages x
             where x.provider = 'twilio' and x.provider_id = p_message_sid limit 1))
  returning m.id, m.status, m.lead_id, m.to_address into v_id, v_status, v_lead, v_to;
  if v_id is null then
    perform internal.webhook_mark_event(v_event, 'ignored', 'no outbox message for this callback');
    return query select false, v_event, null::bigint, null::text;
    return;
  end if;
  if p_opt_out then
    perform internal.webhook_suppress('sms', v_lead, v_to, 'stop', 'twilio:21610', p_now);
    perform apply_stop_rules(v_lead, 'opt_out', p_now);
  end if;
  return query select false, v_event, v_id, v_status;
end
$$;

create or replace function webhook_resend_event(
  p_dedupe_key text, p_event_type text, p_payload jsonb, p_email_id text, p_outbox_id bigint,
  p_address text, p_status text, p_suppress text, p_click jsonb, p_now timestamptz
) returns table (duplicate boolean, event_id bigint, message_id bigint, lead_id bigint)
language plpgsql set search_path = public as $$
#variable_conflict use_column
declare
  v_event bigint;
  v_id bigint;
  v_lead bigint;
begin
  v_event := internal.webhook_store_event('resend', p_dedupe_key, p_event_type, p_payload, p_now);
  if v_event is null then
    return query select true, null::bigint, null::bigint, null::bigint;
    return;
  end if;
  -- the message by Resend's email id (messages_provider_id_idx), else by our outbox_id tag,
  -- found and updated in one statement (the row is locked as it is updated)
  update messages m set
    status = case when internal.message_status_rank(p_status)
                       > internal.message_status_rank(m.status)
                  then p_status else m.status end,
    provider_id = coalesce(m.provider_id, p_email_id), updated_at = p_now,
    status_history = m.status_history || jsonb_strip_nulls(jsonb_build_object(
      'status', coalesce(p_status, p_event_type), 'at', p_now, 'source', 'resend',
      'event', p_event_type, 'created_at', p_payload->>'created_at'))
   where m.id = coalesce(
           (select x.id from messages x
             where x.provider = 'resend' and x.provider_id = p_email_id limit 1),
           (select x.id from messages x where x.id = p_outbox_id and x.channel = 'email'))
  returning m.id, m.lead_id into v_id, v_lead;
  if v_lead is null and p_address is not null then
    select l.id into v_lead from leads l where l.email = lower(p_address);
  end if;
  if p_suppress is not null and p_address is not null then
    perform internal.webhook_suppress('email', v_lead, lower(p_address), p_suppress,
                              'resend:' || p_event_type, p_now);
    perform apply_stop_rules(v_lead, 'opt_out', p_now);
  end if;
  if p_click is not null then
    insert into click_events (token, message_id, lead_id, url, clicked_at, ip, user_agent)
    values ('resend:' || coalesce(p_email_id, ''), v_id, v_lead,
            coalesce(p_click->>'link', ''), p_now, (p_click->>'ip')::inet,
            p_click->>'user_agent');
    perform internal.lead_advance_status(v_lead, 'engaged', p_now);
  end if;
  if v_id is null and v_lead is null then
    perform internal.webhook_mark_event(v_event, 'ignored', 'no message or lead for this event');
  end if;
  return query select false, v_event, v_id, v_lead;
end
$$;

create or replace function webhook_enqueue_rescue(
  p_lead_id bigint, p_message jsonb, p_now timestamptz
) returns setof messages
language plpgsql set search_path = public as $$
declare
  v_lead leads;
  v_suppressed boolean;
begin
  perform pg_advisory_xact_lock(hashtext('rescue:' || p_lead_id));
  select * into v_lead from leads where id = p_lead_id;
  if v_lead.id is null or v_lead.phone is null
     or v_lead.needs_review is not null then  -- held for a human (internal.consent_hold)
    return;
  end if;
  select k.suppressed into v_suppressed
    from internal.outbox_check('sms', null::text, v_lead.id, v_lead.phone) k;
  if v_suppressed
     or exists (select from messages m where m.lead_id = p_lead_id and m.kind = 'rescue'
                   and m.created_at > p_now - interval '24 hours') then
    return;
  end if;
  return query
  insert into messages as m (idempotency_key, lead_id, channel, kind, provider, to_address,
                             payload, created_at, updated_at)
  values (p_message->>'idempotency_key', v_lead.id, 'sms', 'rescue', p_message->>'provider',
          v_lead.phone, coalesce(p_message->'payload', '{}'), p_now, p_now)
  on conflict on constraint messages_idempotency_key_key do nothing
  returning m.*;
  if not found then  -- written before (the key names the lead and the call): that row
    return query select * from messages m
                  where m.idempotency_key = p_message->>'idempotency_key';
  end if;
end
$$;
