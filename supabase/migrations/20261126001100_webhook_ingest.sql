-- nightshift schema, part 11: webhook ingest at 800 requests/s (bench/webhook_ingest.py).
--
-- Same signatures, same results as part 5 (20261126000400_webhooks.sql); less work per
-- event, measured per call in the Postgres backend:
-- - the helpers every webhook function calls (store an event, advance a lead) were SQL
--   functions that write, so never inlined: Postgres parsed and planned their body again in
--   every transaction. In plpgsql their statements are planned once per connection;
-- - a Vapi event for a call we have no row for (inbound calls, calls placed elsewhere)
--   inserted the row and then updated it: two row versions and two entries in each of the
--   calls indexes. The row is now inserted with the event applied; an existing row is
--   updated once, as before;
-- - an end-of-call report updated its lead twice (call bookkeeping, then the funnel
--   status): now one update. A call without a lead skips the lead work, which found no row.
-- Every function still takes the caller's clock as p_now.

-- Stores one event; its id, or null when the dedupe key was already taken (a duplicate).
create or replace function webhooks_store_event(
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

create or replace function webhooks_mark_event(p_id bigint, p_status text, p_error text)
returns void
language plpgsql set search_path = public as $$
begin
  update webhook_events set status = p_status, error = p_error where id = p_id;
end
$$;

-- Moves a lead forward in the funnel, never backwards and never out of do_not_contact.
create or replace function webhooks_advance_lead(p_lead_id bigint, p_status text, p_now timestamptz)
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
create or replace function webhooks_vapi_lead(p_call jsonb) returns bigint
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

-- The calls row of a Vapi call id, created when missing (inbound calls, calls placed
-- elsewhere): lead from the numeric metadata lead_id, else from the customer number.
create or replace function webhooks_vapi_call(p_call jsonb, p_now timestamptz)
returns calls
language plpgsql set search_path = public as $$
declare
  v calls;
  v_id text := p_call->>'vapi_call_id';
begin
  select * into v from calls where vapi_call_id = v_id for update;
  if found then
    return v;
  end if;
  insert into calls (idempotency_key, vapi_call_id, lead_id, to_number, status, created_at,
                     updated_at)
  values ('vapi:' || v_id, v_id, webhooks_vapi_lead(p_call),
          coalesce(p_call->>'to_number', 'unknown'), 'queued', p_now, p_now)
  on conflict (idempotency_key) do update set vapi_call_id = excluded.vapi_call_id
  returning * into v;
  return v;
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
  v_event := webhooks_store_event('vapi', p_dedupe_key, 'status-update', p_payload, p_now);
  if v_event is null then
    return query select true, null::bigint, null::bigint, null::text;
    return;
  end if;
  select c.id into v_call from calls c where c.vapi_call_id = v_id for update;
  if not found then
    insert into calls as c (idempotency_key, vapi_call_id, lead_id, to_number, status,
                            started_at, ended_at, ended_reason, created_at, updated_at)
    values ('vapi:' || v_id, v_id, webhooks_vapi_lead(p_call),
            coalesce(p_call->>'to_number', 'unknown'),
            case when webhooks_call_rank(v_status) > webhooks_call_rank('queued')
                 then v_status else 'queued' end,
            v_started, v_ended, p_call->>'ended_reason', p_now, p_now)
    on conflict (idempotency_key) do update set vapi_call_id = excluded.vapi_call_id
    returning c.id, c.status, (c.xmax = 0) into v_call, v_result, v_inserted;
    if v_inserted then
      return query select false, v_event, v_call, v_result;
      return;
    end if;
  end if;
  update calls c set
    status = case when webhooks_call_rank(v_status) > webhooks_call_rank(c.status)
                  then v_status else c.status end,
    started_at = coalesce(c.started_at, v_started),
    ended_at = coalesce(c.ended_at, v_ended),
    ended_reason = coalesce(c.ended_reason, p_call->>'ended_reason'),
    updated_at = p_now
   where c.id = v_call returning c.status into v_result;
  return query select false, v_event, v_call, v_result;
end
$$;

-- An end-of-call report, applied once per call: the call row (ended, outcome, duration,
-- cost, transcript, summary, recording, analysis) and the lead (last_called_at, attempts
-- when the call was not placed through our outbox, funnel status, stop rule 'on_booking').
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
  v_event := webhooks_store_event('vapi', p_dedupe_key, 'end-of-call-report', p_payload, p_now);
  if v_event is null then
    return query select true, null::bigint, null::bigint, null::bigint, null::text,
                        null::text, null::text, null::text, '[]'::jsonb;
    return;
  end if;
  select c.id into v_call from calls c where c.vapi_call_id = v_id for update;
  if not found then
    insert into calls as c (idempotency_key, vapi_call_id, lead_id, to_number, status,
                            ended_reason, outcome, started_at, ended_at, duration_seconds,
                            cost, summary, transcript, recording_url, analysis, created_at,
                            updated_at)
    values ('vapi:' || v_id, v_id, webhooks_vapi_lead(p_call),
            coalesce(p_call->>'to_number', 'unknown'), 'ended', p_call->>'ended_reason',
            v_outcome, v_started, v_ended, v_duration, v_cost, p_call->>'summary',
            v_transcript, p_call->>'recording_url', '{}'::jsonb || v_analysis, p_now, p_now)
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
      analysis = c.analysis || v_analysis, updated_at = p_now
     where c.id = v_call returning c.lead_id, c.placed_at into v_lead, v_placed;
  end if;
  if v_lead is not null then
    update leads l set
      last_called_at = greatest(coalesce(l.last_called_at, v_ended), v_ended),
      call_attempts = l.call_attempts + case when v_placed is null then 1 else 0 end,
      status = case when array_position(array['new', 'contacted', 'engaged', 'booked'], l.status)
                         < array_position(array['new', 'contacted', 'engaged', 'booked'], v_step)
                    then v_step else l.status end,  -- webhooks_advance_lead, same update
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
    v_attempts := lead_recent_attempts(v_lead, p_now);
  end if;
  return query select false, v_event, v_call, v_lead, v_outcome, v_phone, v_timezone,
                      v_state, v_attempts;
end
$$;

-- Stores a Vapi message that needs no processing (hang, ...); false when a duplicate.
create or replace function webhook_store_only(
  p_provider text, p_dedupe_key text, p_event_type text, p_payload jsonb, p_now timestamptz
) returns boolean
language plpgsql set search_path = public as $$
begin
  return webhooks_store_event(p_provider, p_dedupe_key, p_event_type, p_payload, p_now)
         is not null;
end
$$;

select secure_functions();
