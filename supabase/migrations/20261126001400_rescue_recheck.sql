-- nightshift schema, part 14: a held rescue text is gated again when it is due.
--
-- A missed-call rescue text held for the permitted hours or a state attempt cap got its
-- send time when it was queued; meanwhile a campaign text or call could reach the lead, and
-- the held text then went out as a fourth contact in 24 h (FL/OK/MD). A 10,000-lead, 30-day
-- simulation found 15 such texts. The due texts now come with what the gate needs to decide
-- again at send time (app/campaigns/rescue.py).

-- Due rescue texts with their lead's state, timezone and contact attempts of the last 24 h.
create or replace function webhook_due_rescue_checks(p_now timestamptz, p_limit integer default 100)
returns table (message jsonb, lead_state text, lead_timezone text, recent_attempts jsonb)
language sql stable set search_path = public as $$
  select to_jsonb(m), l.state, l.timezone, lead_recent_attempts(l.id, p_now)
    from messages m
    join leads l on l.id = m.lead_id
   where m.kind = 'rescue' and m.status = 'queued'
     and coalesce((m.payload->>'not_before')::timestamptz, m.created_at) <= p_now
   order by m.id limit p_limit;
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

drop function if exists webhook_due_rescues(timestamptz, integer);  -- replaced by the above

select secure_functions();
