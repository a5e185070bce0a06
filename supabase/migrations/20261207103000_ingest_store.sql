-- Issue 19 (webhook ingest), the end-of-call report's store path:
-- webhook_vapi_report reads the lead's contact attempts of the last 24 h only for the
--   outcomes that queue a rescue text (no_answer, busy, voicemail: app.campaigns.rescue
--   RESCUE_OUTCOMES), the one thing that reads them. internal.lead_recent_attempts is a SQL
--   function with a FROM, so Postgres 16 plans its UNION over messages and calls again at
--   every call (it is never inlined): `select internal.lead_recent_attempts(5, now())`
--   0.69-0.72 ms against 0.13 ms for the same body in plpgsql (Planning Time 0.35 ms,
--   Execution Time 0.03 ms in EXPLAIN ANALYZE of the body). Server time of 1,000 reports
--   with a lead and a 'booked' outcome in one transaction (track_functions):
--   lead_recent_attempts 714 ms of webhook_vapi_report's 1,993 ms. Nothing else changes.
-- webhook_vapi_caller (every assistant-request) is plpgsql: as a SQL function with
--   `set search_path` it was never inlined and its query was planned at every call; 1,000
--   calls on one connection, 3,000 leads: 0.22-0.37 ms -> 0.10-0.23 ms a call (`select 1`
--   0.05-0.07 ms). Same rows.
-- Executable by service_role only (create or replace keeps the grants).

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

-- The caller of an inbound call: lead, status and the campaign of its latest enrollment.
-- plpgsql, not SQL: a SQL function with `set search_path` is never inlined, so its query was
-- planned again at every assistant-request; plpgsql plans it once per connection.
create or replace function webhook_vapi_caller(p_phone text)
returns table (lead_id bigint, name text, status text, company text, campaign text)
language plpgsql stable set search_path = public as $$
begin
  return query
  select l.id, l.name, l.status, l.company,
         (select c.slug from enrollments e join campaigns c on c.id = e.campaign_id
           where e.lead_id = l.id order by e.enrolled_at desc limit 1)
    from leads l where l.phone = p_phone;
end
$$;
