-- Webhooks (Vapi, Twilio, Resend, the booking page), tracked links, unsubscribe and the
-- missed-call rescue text (repository: app/db/webhooks.py).
--
-- Each provider event is stored in webhook_events under a dedupe key AND applied in the
-- same function (one transaction): a duplicate delivery finds the key taken, returns
-- duplicate = true and changes nothing. Statuses only move forward (a late or repeated
-- callback never moves a message or a call backwards). Opt-outs reuse outbox_opt_out,
-- stop rules the campaigns' apply_stop_rules.

-- A function body is checked when the function runs, not here: it may read a table that a
-- later file declares. (The migrations are applied with the check on.)
set check_function_bodies = off;

-- ---------------------------------------------------------------------------------------
-- tables
-- ---------------------------------------------------------------------------------------
create table webhook_events (
  id           bigint generated always as identity primary key,
  provider     text not null check (provider in ('vapi', 'twilio', 'resend', 'booking')),
  dedupe_key   text not null unique,
  event_type   text not null,
  payload      jsonb not null,
  status       text not null default 'received'
               check (status in ('received', 'processed', 'ignored', 'failed')),
  error        text,
  received_at  timestamptz not null default now(),
  processed_at timestamptz
);
create index webhook_events_pending_idx on webhook_events (received_at)
  where status = 'received';
-- The latest event of each provider (the guardian's silent-callbacks check, callback_gaps).
create index webhook_events_provider_idx on webhook_events (provider, received_at desc);
-- The SMS replies from an address (variant_stats, the scoring features), by index.
create index webhook_events_sms_reply_idx
  on webhook_events ((payload->>'From'), received_at)
  where provider = 'twilio' and event_type = 'sms.reply';
alter table webhook_events enable row level security;
revoke all on webhook_events from public, anon, authenticated;
grant all on webhook_events to service_role;

create table click_events (
  id          bigint generated always as identity primary key,
  token       text not null,
  message_id  bigint references messages (id) on delete set null,
  lead_id     bigint references leads (id) on delete set null,
  url         text not null,
  clicked_at  timestamptz not null default now(),
  ip          inet,
  user_agent  text
);
create index click_events_lead_idx on click_events (lead_id, clicked_at desc);
-- A message's clicks (variant_stats), by index.
create index click_events_message_idx on click_events (message_id);
alter table click_events enable row level security;
revoke all on click_events from public, anon, authenticated;
grant all on click_events to service_role;

-- ---------------------------------------------------------------------------------------
-- helpers
-- ---------------------------------------------------------------------------------------

-- Stores one event; its id, or null when the dedupe key was already taken (a duplicate).
-- The helpers that write are plpgsql, not SQL: a SQL function that writes is never inlined,
-- so Postgres parsed and planned its body again in every transaction; plpgsql plans its
-- statements once per connection (bench/webhook_ingest.py, 800 requests/s).
create or replace function internal.webhook_store_event(
  p_provider text, p_dedupe_key text, p_event_type text, p_payload jsonb, p_now timestamptz
) returns bigint
language plpgsql set search_path = public as $$
declare
  v_id bigint;
begin
  insert into webhook_events (provider, dedupe_key, event_type, payload, status, received_at,
                              processed_at)
  values (p_provider, p_dedupe_key, p_event_type, coalesce(p_payload, '{}'), 'processed',
          p_now, p_now)
  on conflict (dedupe_key) do nothing
  returning id into v_id;
  return v_id;
end
$$;

-- Marks a stored event 'ignored' or 'failed', with the reason.
create or replace function internal.webhook_mark_event(p_id bigint, p_status text, p_error text)
returns void
language plpgsql set search_path = public as $$
begin
  update webhook_events set status = p_status, error = p_error where id = p_id;
end
$$;

-- Order of message statuses: a status of a lower rank never replaces a higher one.
-- (No search_path: immutable SQL that Postgres inlines into its callers.)
create or replace function internal.message_status_rank(p_status text) returns integer
language sql immutable as $$
  select case p_status
    when 'queued' then 0 when 'sending' then 1 when 'sent' then 2
    when 'delivered' then 3 when 'undelivered' then 3 when 'failed' then 3
    when 'cancelled' then 3 when 'opened' then 4 when 'clicked' then 5
    when 'bounced' then 6 when 'complained' then 7 else -1 end;
$$;

-- Order of call statuses, as message_status_rank: a call only moves forward.
create or replace function internal.call_status_rank(p_status text) returns integer
language sql immutable as $$
  select case p_status
    when 'queued' then 0 when 'placing' then 1 when 'ringing' then 2
    when 'in-progress' then 3 when 'forwarding' then 4
    when 'ended' then 5 when 'failed' then 5 when 'cancelled' then 5 else -1 end;
$$;

-- Suppresses an address with the right reason (stop | unsubscribe | complaint | hard_bounce)
-- and opts the lead out of the channel (outbox_opt_out keeps the first reason).
create or replace function internal.webhook_suppress(
  p_channel text, p_lead_id bigint, p_address text, p_reason text, p_source text,
  p_now timestamptz
) returns void
language plpgsql set search_path = public as $$
begin
  insert into suppressions (channel, address, reason, source, created_at)
  values (p_channel, p_address, p_reason, p_source, p_now)
  on conflict (channel, address) do nothing;
  perform outbox_opt_out(p_channel, p_lead_id, p_address, p_source, p_now);
end
$$;

-- Moves a lead forward in the funnel, never backwards and never out of do_not_contact.
create or replace function internal.lead_advance_status(
  p_lead_id bigint, p_status text, p_now timestamptz
)
returns void
language plpgsql set search_path = public as $$
begin
  update leads set status = p_status, updated_at = p_now
   where id = p_lead_id
     and array_position(array['new', 'contacted', 'engaged', 'booked'], status)
         < array_position(array['new', 'contacted', 'engaged', 'booked'], p_status);
end
$$;

-- The lead of a Vapi call we have no row for: the numeric metadata lead_id when that lead
-- exists, else the lead with the customer number.
create or replace function internal.vapi_call_lead(p_call jsonb) returns bigint
language plpgsql stable set search_path = public as $$
declare
  v_lead bigint;
begin
  if p_call->>'lead_id' ~ '^[0-9]{1,18}$' then
    select id into v_lead from leads where id = (p_call->>'lead_id')::bigint;
  end if;
  if v_lead is null and p_call->>'to_number' is not null then
    select id into v_lead from leads where phone = p_call->>'to_number';
  end if;
  return v_lead;
end
$$;

-- An opt-out from the lead's own words (an inbound text, a call's transcript, the Vapi optOut
-- tool), applied at once to every channel it covers (p_channels: call | email | sms): the
-- lead's flags and suppressions of its addresses (outbox_opt_out), the queued texts, emails
-- and calls of those channels cancelled, the stop rule 'on_opt_out'. Returns how many
-- enrollments stopped. Without a lead, p_phone (when given) is still suppressed for the phone
-- channels, so a number we hold no lead for is never called or texted either.
create or replace function internal.consent_opt_out(
  p_lead_id bigint, p_phone text, p_channels text[], p_source text, p_now timestamptz
) returns integer
language plpgsql set search_path = public as $$
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
$$;

-- A text that may revoke consent but may not (issue 14: "ambiguous"): every automated contact
-- to the lead is held until a human looks. The lead is flagged needs_review with the reason
-- (shown to the human), its active enrollments are paused, its queued automated texts and
-- emails (marketing, rescue) and its calls not yet handed to Vapi are cancelled, and
-- enroll_leads skips it. Transactional texts (appointment reminders) are left alone.
create or replace function internal.consent_hold(
  p_lead_id bigint, p_reason text, p_now timestamptz
) returns void
language plpgsql set search_path = public as $$
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
$$;

-- ---------------------------------------------------------------------------------------
-- Twilio
-- ---------------------------------------------------------------------------------------

-- One inbound SMS, classified by the caller (app.consent.keywords: stop | start | help | ack |
-- ambiguous | reply), stored and applied: stop → SMS opt-out of the sender's number (lead
-- flag, suppression, stop rules, queued SMS cancelled) and of every other channel in
-- p_scope (internal.consent_opt_out); start → opted back in to SMS; ambiguous → all
-- automated contact held (internal.consent_hold, p_reason kept), the lead NOT engaged;
-- reply → lead engaged + stop rules 'on_reply'.
-- p_notify: outbox messages to enqueue with it (operator notification, HELP answer).
create or replace function webhook_twilio_inbound(
  p_dedupe_key text, p_kind text, p_payload jsonb, p_from text, p_notify jsonb,
  p_now timestamptz, p_scope text[] default null, p_reason text default null
) returns table (duplicate boolean, event_id bigint, lead_id bigint, stopped integer,
                 message_ids bigint[])
language plpgsql set search_path = public as $$
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
$$;

-- A status callback for an outbox SMS, found by the `outbox` id of the callback URL, else
-- by MessageSid. p_status is in our vocabulary (null: history only). p_opt_out (21610)
-- opts the recipient out of SMS. The error code stays on the row (30007 is counted by the
-- campaign manager's deliverability guard).
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

-- ---------------------------------------------------------------------------------------
-- Resend
-- ---------------------------------------------------------------------------------------

-- One Resend (Svix) event. The message is found by Resend's email id, else by the numeric
-- outbox id tag. p_suppress (hard_bounce | complaint) suppresses the address and opts the
-- lead out of email; p_click records a click_events row and marks the lead engaged.
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

-- ---------------------------------------------------------------------------------------
-- Vapi
-- ---------------------------------------------------------------------------------------

-- An opt-out said on a call (issue 14): the `optOut` tool the assistant calls, or a revocation
-- found in the end-of-call report's transcript. Stored under p_dedupe_key (a duplicate
-- changes nothing) and applied at once to p_channels (internal.consent_opt_out). The lead is
-- the call's, else the metadata lead_id / customer number (internal.vapi_call_lead); with
-- no lead the number itself is suppressed for calls and texts.
create or replace function webhook_vapi_opt_out(
  p_dedupe_key text, p_event_type text, p_payload jsonb, p_call jsonb, p_channels text[],
  p_reason text, p_now timestamptz
) returns table (duplicate boolean, event_id bigint, lead_id bigint, stopped integer)
language plpgsql set search_path = public as $$
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
$$;

-- A status-update: moves the call forward only (a late 'in-progress' never reopens it).
-- An existing row is updated in place; a new one is inserted with the update applied (when
-- a concurrent event inserted it first, the update is applied to that row).
create or replace function webhook_vapi_status(
  p_dedupe_key text, p_payload jsonb, p_call jsonb, p_now timestamptz
) returns table (duplicate boolean, event_id bigint, call_id bigint, status text)
language plpgsql set search_path = public as $$
#variable_conflict use_column
declare
  v_event bigint;
  v_call bigint;
  v_result text;
  v_inserted boolean;
  v_id text := p_call->>'vapi_call_id';
  v_status text := p_call->>'status';
  v_started timestamptz := (p_call->>'started_at')::timestamptz;
  v_ended timestamptz := (p_call->>'ended_at')::timestamptz;
begin
  v_event := internal.webhook_store_event('vapi', p_dedupe_key, 'status-update', p_payload, p_now);
  if v_event is null then
    return query select true, null::bigint, null::bigint, null::text;
    return;
  end if;
  select c.id into v_call from calls c where c.vapi_call_id = v_id for update;
  if not found then
    insert into calls as c (idempotency_key, vapi_call_id, lead_id, to_number, status,
                            started_at, ended_at, ended_reason, connected_at, created_at,
                            updated_at)
    values ('vapi:' || v_id, v_id, internal.vapi_call_lead(p_call),
            coalesce(p_call->>'to_number', 'unknown'),
            case when internal.call_status_rank(v_status) > internal.call_status_rank('queued')
                 then v_status else 'queued' end,
            v_started, v_ended, p_call->>'ended_reason',
            case when v_status in ('in-progress', 'forwarding') then p_now end, p_now, p_now)
    on conflict (idempotency_key) do update set vapi_call_id = excluded.vapi_call_id
    returning c.id, c.status, (c.xmax = 0) into v_call, v_result, v_inserted;
    if v_inserted then
      return query select false, v_event, v_call, v_result;
      return;
    end if;
  end if;
  update calls c set
    status = case when internal.call_status_rank(v_status) > internal.call_status_rank(c.status)
                  then v_status else c.status end,
    started_at = coalesce(c.started_at, v_started),
    ended_at = coalesce(c.ended_at, v_ended),
    ended_reason = coalesce(c.ended_reason, p_call->>'ended_reason'),
    -- received time of the first sign that a human answered (scoring: point in time)
    connected_at = coalesce(c.connected_at,
                            case when v_status in ('in-progress', 'forwarding') then p_now end),
    updated_at = p_now
   where c.id = v_call returning c.status into v_result;
  return query select false, v_event, v_call, v_result;
end
$$;

-- An end-of-call report, applied once per call: the call row (ended, outcome, duration,
-- cost, transcript, summary, recording, analysis) and the lead (last_called_at, attempts
-- when the call was not placed through our outbox, funnel status, stop rule 'on_booking').
-- A call we have no row for is inserted with the report applied (one row version), and the
-- lead is updated once (bookkeeping and funnel status together); a call without a lead
-- skips the lead work. recent_attempts is the lead's contacts of the last 24 h for an
-- outcome that queues a rescue text (no_answer, busy, voicemail), else empty.
create or replace function webhook_vapi_report(
  p_dedupe_key text, p_payload jsonb, p_call jsonb, p_now timestamptz
) returns table (duplicate boolean, event_id bigint, call_id bigint, lead_id bigint,
                 outcome text, lead_phone text, lead_timezone text, lead_state text,
                 recent_attempts jsonb)
language plpgsql set search_path = public as $$
#variable_conflict use_column
declare
  v_event bigint;
  v_call bigint;
  v_lead bigint;
  v_placed timestamptz;
  v_inserted boolean := false;
  v_reported timestamptz;  -- a report applied before (a replay): no second attempt counted
  v_phone text;
  v_timezone text;
  v_state text;
  v_attempts jsonb := '[]';
  v_id text := p_call->>'vapi_call_id';
  v_outcome text := p_call->>'outcome';
  v_ended timestamptz := coalesce((p_call->>'ended_at')::timestamptz, p_now);
  v_started timestamptz := (p_call->>'started_at')::timestamptz;
  v_duration numeric := (p_call->>'duration_seconds')::numeric;
  v_cost numeric := (p_call->>'cost')::numeric;
  v_transcript text := nullif(p_call->>'transcript', '');
  v_analysis jsonb := coalesce(p_call->'analysis', '{}');
  v_step text := case v_outcome when 'booked' then 'booked' when 'answered' then 'engaged'
                                else 'contacted' end;
begin
  v_event := internal.webhook_store_event('vapi', p_dedupe_key, 'end-of-call-report', p_payload,
                                           p_now);
  if v_event is null then
    return query select true, null::bigint, null::bigint, null::bigint, null::text,
                        null::text, null::text, null::text, '[]'::jsonb;
    return;
  end if;
  select c.id, c.report_received_at into v_call, v_reported
    from calls c where c.vapi_call_id = v_id for update;
  if not found then
    insert into calls as c (idempotency_key, vapi_call_id, lead_id, to_number, status,
                            ended_reason, outcome, started_at, ended_at, duration_seconds,
                            cost, summary, transcript, recording_url, analysis,
                            report_received_at, created_at, updated_at)
    values ('vapi:' || v_id, v_id, internal.vapi_call_lead(p_call),
            coalesce(p_call->>'to_number', 'unknown'), 'ended', p_call->>'ended_reason',
            v_outcome, v_started, v_ended, v_duration, v_cost, p_call->>'summary',
            v_transcript, p_call->>'recording_url', '{}'::jsonb || v_analysis, p_now, p_now,
            p_now)
    on conflict (idempotency_key) do update set vapi_call_id = excluded.vapi_call_id
    returning c.id, c.lead_id, c.placed_at, (c.xmax = 0)
      into v_call, v_lead, v_placed, v_inserted;
  end if;
  if not v_inserted then
    update calls c set
      status = case when c.status = 'cancelled' then c.status else 'ended' end,
      ended_reason = coalesce(p_call->>'ended_reason', c.ended_reason), outcome = v_outcome,
      started_at = coalesce(v_started, c.started_at),
      ended_at = v_ended,
      duration_seconds = coalesce(v_duration, c.duration_seconds),
      cost = coalesce(v_cost, c.cost),
      summary = coalesce(p_call->>'summary', c.summary),
      transcript = coalesce(v_transcript, c.transcript),
      recording_url = coalesce(p_call->>'recording_url', c.recording_url),
      analysis = c.analysis || v_analysis,
      -- outcome, duration, endedReason and analysis are known from this instant (scoring)
      report_received_at = coalesce(c.report_received_at, p_now), updated_at = p_now
     where c.id = v_call returning c.lead_id, c.placed_at into v_lead, v_placed;
  end if;
  if v_lead is not null then
    update leads l set
      last_called_at = greatest(coalesce(l.last_called_at, v_ended), v_ended),
      call_attempts = l.call_attempts
                      + case when v_placed is null and v_reported is null then 1 else 0 end,
      status = case when array_position(array['new', 'contacted', 'engaged', 'booked'], l.status)
                         < array_position(array['new', 'contacted', 'engaged', 'booked'], v_step)
                    then v_step else l.status end,  -- internal.lead_advance_status, same update
      updated_at = p_now
     where l.id = v_lead returning l.phone, l.timezone, l.state
      into v_phone, v_timezone, v_state;
    if v_outcome = 'booked' then
      perform apply_stop_rules(v_lead, 'booking', p_now);
    end if;
    -- attempts (texts and calls) of the last 24 h, for the gate's per-state caps: the one
    -- definition (lead_recent_attempts: by when sent or placed). This copy counted rows by
    -- created_at, so a call queued yesterday and placed today was missed and the rescue
    -- text went out as a fourth contact (a 10,000-lead, 30-day simulation).
    -- Only the outcomes that queue a rescue text read them (app.campaigns.rescue
    -- RESCUE_OUTCOMES): a SQL function with a FROM is planned again at every call, 0.6-0.7
    -- ms of a report with a lead (a third of this function's time), for a list nothing else
    -- reads.
    if v_outcome in ('no_answer', 'busy', 'voicemail') then
      v_attempts := internal.lead_recent_attempts(v_lead, p_now);
    end if;
  end if;
  return query select false, v_event, v_call, v_lead, v_outcome, v_phone, v_timezone,
                      v_state, v_attempts;
end
$$;

-- The stored events `nightshift webhooks replay` re-applies (app/webhooks/replay.py), by id
-- after p_after_id, at most p_limit: received since p_since, of provider or event type
-- p_kind, the one event p_id; by default only events whose application did not take
-- (ignored, failed, received), every one with p_include_processed. Never the rows a replay
-- stored itself (dedupe keys 'replay:...').
create or replace function webhook_events_for_replay(
  p_since timestamptz default null, p_kind text default null, p_id bigint default null,
  p_include_processed boolean default false, p_after_id bigint default 0,
  p_limit integer default 500
) returns table (id bigint, provider text, dedupe_key text, event_type text, payload jsonb,
                 status text, received_at timestamptz)
language sql stable set search_path = public as $$
  select w.id, w.provider, w.dedupe_key, w.event_type, w.payload, w.status, w.received_at
    from webhook_events w
   where w.id > coalesce(p_after_id, 0)
     and (p_id is null or w.id = p_id)
     and (p_since is null or w.received_at >= p_since)
     and (p_kind is null or w.provider = p_kind or w.event_type = p_kind)
     and (p_include_processed or w.status <> 'processed')
     and w.dedupe_key not like 'replay:%'
   order by w.id
   limit greatest(p_limit, 0)
$$;

-- How many events webhook_events_for_replay selects (the replay's progress bar).
create or replace function webhook_events_replay_count(
  p_since timestamptz default null, p_kind text default null, p_id bigint default null,
  p_include_processed boolean default false
) returns bigint
language sql stable set search_path = public as $$
  select count(*) from webhook_events_for_replay(p_since, p_kind, p_id, p_include_processed,
                                                 0, 2147483647)
$$;

-- Stores a Vapi message that needs no processing (hang, ...); false when a duplicate.
create or replace function webhook_store_only(
  p_provider text, p_dedupe_key text, p_event_type text, p_payload jsonb, p_now timestamptz
) returns boolean
language plpgsql set search_path = public as $$
begin
  return internal.webhook_store_event(p_provider, p_dedupe_key, p_event_type, p_payload, p_now)
         is not null;
end
$$;

-- The caller of an inbound call: lead, status and the campaign of its latest enrollment
-- (the newest id among enrollments made at one instant: one lead, two campaigns).
-- plpgsql, not SQL: a SQL function with `set search_path` is never inlined, so its query was
-- planned again at every assistant-request; plpgsql plans it once per connection.
create or replace function webhook_vapi_caller(p_phone text)
returns table (lead_id bigint, name text, status text, company text, campaign text)
language plpgsql stable set search_path = public as $$
begin
  return query
  select l.id, l.name, l.status, l.company,
         (select c.slug from enrollments e join campaigns c on c.id = e.campaign_id
           where e.lead_id = l.id order by e.enrolled_at desc, e.id desc limit 1)
    from leads l where l.phone = p_phone;
end
$$;

-- ---------------------------------------------------------------------------------------
-- bookings, tracked links, unsubscribe
-- ---------------------------------------------------------------------------------------

-- Appointments overlapping [p_from, p_to) that still hold their slot.
create or replace function webhook_booked_slots(p_from timestamptz, p_to timestamptz)
returns table (starts_at timestamptz, ends_at timestamptz)
language sql stable set search_path = public as $$
  select a.starts_at, a.ends_at from appointments a
   where a.status in ('booked', 'confirmed', 'rescheduled')
     and a.starts_at < p_to and a.ends_at > p_from
   order by a.starts_at;
$$;

-- bookAppointment: idempotent per external id (Vapi's toolCallId); the lead is found by
-- phone (created when the caller is new); a slot overlapping a held one is 'taken'.
-- Booking marks the lead booked and applies the stop rule 'on_booking'.
create or replace function webhook_book_appointment(p_booking jsonb, p_now timestamptz)
returns table (outcome text, appointment_id bigint, lead_id bigint, starts_at timestamptz)
language plpgsql set search_path = public as $$
#variable_conflict use_column
declare
  v appointments;
  v_lead bigint;
  v_start timestamptz := (p_booking->>'starts_at')::timestamptz;
  v_end timestamptz := (p_booking->>'ends_at')::timestamptz;
begin
  perform pg_advisory_xact_lock(hashtext('appointments'));
  select * into v from appointments a where a.external_id = p_booking->>'external_id';
  if found then
    return query select 'existing'::text, v.id, v.lead_id, v.starts_at;
    return;
  end if;
  if exists (select from webhook_booked_slots(v_start, v_end)) then
    return query select 'taken'::text, null::bigint, null::bigint, v_start;
    return;
  end if;
  select l.id into v_lead from leads l where l.phone = p_booking->>'phone';
  if v_lead is null then
    select c.lead_id into v_lead from calls c where c.vapi_call_id = p_booking->>'vapi_call_id';
  end if;
  if v_lead is null and p_booking->>'phone' ~ '^\+[1-9][0-9]{6,14}$' then
    insert into leads (name, phone, source, created_at, updated_at)
    values (p_booking->>'name', p_booking->>'phone', 'vapi', p_now, p_now)
    returning id into v_lead;
  end if;
  if v_lead is null then
    return query select 'no_lead'::text, null::bigint, null::bigint, v_start;
    return;
  end if;
  insert into appointments (lead_id, starts_at, ends_at, timezone, status, source,
                            external_id, notes, created_at, updated_at)
  values (v_lead, v_start, v_end, p_booking->>'timezone', 'booked', 'vapi',
          p_booking->>'external_id', p_booking->>'notes', p_now, p_now)
  returning * into v;
  perform internal.lead_advance_status(v_lead, 'booked', p_now);
  perform apply_stop_rules(v_lead, 'booking', p_now);
  return query select 'booked'::text, v.id, v_lead, v.starts_at;
end
$$;

-- A click on /r/<token>: a click_events row; the message moves to 'clicked' and the lead
-- to 'engaged'. Ids that no longer exist are dropped rather than refused, but a click on a
-- link sent to a person who is gone (erased: the token's lead no longer exists, or the
-- message was emptied by console_erase_lead) records nothing at all: null.
create or replace function webhook_record_click(p_click jsonb, p_now timestamptz)
returns bigint
language plpgsql set search_path = public as $$
declare
  v_message bigint;
  v_lead bigint;
  v_erased boolean := false;
  v_id bigint;
begin
  -- the message the link was sent in: its outbox id, else its outbox key (a drip link is
  -- rendered before its row exists; app/core/tokens.py); neither: an old token, no message
  select id, lead_id, to_address = 'erased' into v_message, v_lead, v_erased from messages
   where id = (p_click->>'message_id')::bigint;
  if v_message is null and p_click->>'message_key' is not null then
    select id, lead_id, to_address = 'erased' into v_message, v_lead, v_erased from messages
     where idempotency_key = p_click->>'message_key';
  end if;
  select id into v_lead from leads
   where id = coalesce((p_click->>'lead_id')::bigint, v_lead);
  if v_lead is null and (p_click->>'lead_id' is not null or coalesce(v_erased, false)) then
    return null;
  end if;
  insert into click_events (token, message_id, lead_id, url, clicked_at, ip, user_agent)
  values (p_click->>'token', v_message, v_lead, p_click->>'url', p_now,
          (p_click->>'ip')::inet, left(p_click->>'user_agent', 500))
  returning id into v_id;
  update messages set status = 'clicked', updated_at = p_now,
         status_history = status_history
           || jsonb_build_object('status', 'clicked', 'at', p_now, 'source', 'link')
   where id = v_message
     and internal.message_status_rank(status) < internal.message_status_rank('clicked');
  perform internal.lead_advance_status(v_lead, 'engaged', p_now);
  return v_id;
end
$$;

-- A click on a text's short link /l/<code> (app/core/short_links.py): the URL of link
-- p_link of the message with outbox key p_key (a drip step), or of the rescue text of call
-- p_call_id; null when there is none (never sent, or its lead erased: the row's payload and
-- lead are gone) and then nothing is recorded. With p_record (not a link-preview robot) a
-- click_events row names the message (variant_stats), the message moves to 'clicked' and
-- the lead to 'engaged'. p_click: {token, ip, user_agent}.
create or replace function webhook_short_link_click(
  p_key text, p_call_id bigint, p_link integer, p_click jsonb, p_record boolean,
  p_now timestamptz
) returns text
language plpgsql set search_path = public as $$
declare
  v_key text := p_key;
  v_message bigint;
  v_lead bigint;
  v_url text;
begin
  if v_key is null then  -- the rescue key names the lead too: `rescue:<lead>:<call>`
    select 'rescue:' || c.lead_id || ':' || c.id into v_key
      from calls c where c.id = p_call_id and c.lead_id is not null;
  end if;
  select m.id, m.lead_id, m.payload->'links'->>p_link into v_message, v_lead, v_url
    from messages m where m.idempotency_key = v_key;
  if v_url is null or v_lead is null then
    return null;
  end if;
  if p_record then
    insert into click_events (token, message_id, lead_id, url, clicked_at, ip, user_agent)
    values (left(p_click->>'token', 200), v_message, v_lead, v_url, p_now,
            (p_click->>'ip')::inet, left(p_click->>'user_agent', 500));
    update messages set status = 'clicked', updated_at = p_now,
           status_history = status_history
             || jsonb_build_object('status', 'clicked', 'at', p_now, 'source', 'short_link')
     where id = v_message
       and internal.message_status_rank(status) < internal.message_status_rank('clicked');
    perform internal.lead_advance_status(v_lead, 'engaged', p_now);
  end if;
  return v_url;
end
$$;

-- One-click unsubscribe (RFC 8058): suppress the address, opt the lead out of email, apply
-- the stop rule 'on_opt_out'. Idempotent: `already` says it had been done before.
create or replace function webhook_unsubscribe(
  p_email text, p_lead_id bigint, p_source text, p_now timestamptz
) returns table (already boolean, lead_id bigint)
language plpgsql set search_path = public as $$
#variable_conflict use_column
declare
  v_lead bigint;
  v_already boolean;
begin
  select l.id into v_lead from leads l
   where l.id = p_lead_id or (p_lead_id is null and l.email = lower(p_email))
   order by (l.id = p_lead_id) desc nulls last limit 1;
  v_already := exists (select from suppressions s
                        where s.channel in ('email', 'all') and s.address = lower(p_email));
  perform internal.webhook_suppress('email', v_lead, lower(p_email), 'unsubscribe', p_source,
                                    p_now);
  perform apply_stop_rules(v_lead, 'opt_out', p_now);
  return query select v_already, v_lead;
end
$$;

-- ---------------------------------------------------------------------------------------
-- the missed-call rescue text
-- ---------------------------------------------------------------------------------------

-- The missed-call rescue text: at most one per lead per 24 h, however many reports arrive
-- (serialised per lead), never to an SMS opt-out nor to a lead held for a human (needs_review).
-- Returns the queued message, or nothing.
-- The row is written here, as enqueue_message writes a message it does not claim (queued,
-- no attempt, empty history; a key written before: that row, unchanged): going through
-- enqueue_outbox cost ~1.2 ms more a rescue, mostly claim_messages called with no ids and
-- the opt-out check planned again at every call (outbox_is_suppressed is a SQL function with
-- a FROM, never inlined; here internal.outbox_check is read in a statement plpgsql plans
-- once per connection). Postgres time a rescue 1.36 -> 0.18 ms, the backend's CPU 1.47 ->
-- 0.29 ms (bench/webhook_store_ab.py; migration 20261208130000_webhook_store_lean.sql).
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

-- Due rescue texts with their lead's state, timezone and contact attempts of the last 24 h.
-- plpgsql, not SQL: a SQL function with `set search_path` is never inlined, so its query was
-- parsed and planned at every call (every drip run that claimed steps, and every empty one,
-- reads it: drip_begin, drip_settle); plpgsql plans it once per connection. The query reads
-- messages_pending_idx (queued or sending), whose rows are few at any instant, whatever the
-- plan. (bench/rescue_checks_ab.py; migration 20261209180000_rescue_checks_plpgsql.sql.)
create or replace function webhook_due_rescue_checks(p_now timestamptz, p_limit integer default 100)
returns table (message jsonb, lead_state text, lead_timezone text, recent_attempts jsonb)
language plpgsql stable set search_path = public as $$
begin
  return query
  select to_jsonb(m), l.state, l.timezone, internal.lead_recent_attempts(l.id, p_now)
    from messages m
    join leads l on l.id = m.lead_id
   where m.kind = 'rescue' and m.status = 'queued'
     and coalesce((m.payload->>'not_before')::timestamptz, m.created_at) <= p_now
   order by m.id limit p_limit;
end
$$;

-- Holds a queued rescue text until p_not_before, or cancels it (p_not_before null: the gate
-- refuses it for good, e.g. an opt-out). Returns whether the row was still queued.
create or replace function webhook_hold_rescue(
  p_id bigint, p_not_before timestamptz, p_reason text, p_now timestamptz
) returns boolean
language plpgsql set search_path = public as $$
begin
  update messages m set
    payload = case when p_not_before is null then m.payload
                   else m.payload || jsonb_build_object('not_before', p_not_before) end,
    status = case when p_not_before is null then 'cancelled' else m.status end,
    error_code = case when p_not_before is null then p_reason else m.error_code end,
    updated_at = p_now,
    status_history = m.status_history || jsonb_build_object(
      'status', case when p_not_before is null then 'cancelled' else 'held' end,
      'at', p_now, 'reason', p_reason)
   where m.id = p_id and m.kind = 'rescue' and m.status = 'queued';
  return found;
end
$$;

