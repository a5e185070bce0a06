-- Issue 19: statements Postgres parsed and planned again at every call.
-- 1. claim_call read the opt-outs through internal.outbox_is_suppressed inside an IF: a SQL
--    function with a FROM is never inlined as a scalar, so its query was parsed and planned
--    at every claim. It now reads internal.outbox_check once (opt-out and refusal, the same
--    rule: the opt-out still wins, then the refusal) in a statement plpgsql plans once per
--    connection.
-- 2. internal.lead_recent_attempts (webhook_vapi_report for no-answer / busy / voicemail,
--    webhook_due_rescue_checks) is plpgsql with the same query: planned once per
--    connection instead of at every call. Same arguments and result: replaced in place.
-- Figures: bench/sqlplan_ab.py (bench/RESULTS.md "Planned per call").

create or replace function internal.lead_recent_attempts(p_lead_id bigint, p_now timestamptz)
returns jsonb
language plpgsql stable set search_path = public as $$
begin
  return (
    select coalesce(jsonb_agg(t order by t), '[]') from (
      select coalesce(m.sent_at, m.claimed_at) t from messages m
       where m.lead_id = p_lead_id and m.channel = 'sms' and m.kind in ('marketing', 'rescue')
         and m.claimed_at is not null and m.status <> 'cancelled'
      union all
      select coalesce(k.placed_at, k.claimed_at) from calls k
       where k.lead_id = p_lead_id and k.claimed_at is not null and k.status <> 'cancelled'
    ) x
    where t > p_now - interval '24 hours' and t <= p_now);
end
$$;


create or replace function claim_call(
  p_id bigint, p_max_in_flight integer default 10, p_reclaim_after_seconds integer default 600,
  p_now timestamptz default now(), p_send_before timestamptz default null
) returns table (outcome text, call jsonb)
language plpgsql set search_path = public as $$
declare
  v calls;
  v_outcome text;
  v_suppressed boolean;
  v_refusal text;
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
  -- Opt-outs and refusals in one read of internal.outbox_check, a statement plpgsql plans
  -- once per connection: internal.outbox_is_suppressed in the IF was a SQL function with a
  -- FROM, parsed and planned again at every claim (~0.25 ms). The opt-out still wins.
  select k.suppressed, k.refusal into v_suppressed, v_refusal
    from internal.outbox_check('call', 'marketing', v.lead_id, v.to_number) k;
  if v_suppressed then
    update calls set status = 'cancelled', error_code = 'suppressed',
           error_message = 'do-not-call covers this number', updated_at = p_now
     where id = p_id returning * into v;
    return query select 'suppressed'::text, to_jsonb(v);
    return;
  end if;
  -- A call is an AI voice: ai_voice consent on record, and no hold (outbox_check's refusal).
  if v_refusal is not null then
    update calls set status = 'cancelled', error_code = v_refusal,
           error_message = 'refused at claim: ' || v_refusal, updated_at = p_now
     where id = p_id returning * into v;
    if v_refusal like '%consent%' then
      insert into consent_skips (lead_id, channel, reason, stage, at)
      values (v.lead_id, 'call', v_refusal, 'call', p_now);
    end if;
    return query select 'refused'::text, to_jsonb(v);
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
$$;

