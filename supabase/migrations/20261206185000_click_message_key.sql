-- Issue 17 item 5: a click names the message its link was sent in by the outbox key sealed
-- in the token (drip links are rendered before their row exists), so variant_stats counts
-- nightshift's own clicks per A/B variant.

-- A click on /r/<token>: a click_events row; the message moves to 'clicked' and the lead
-- to 'engaged'. Ids that no longer exist are dropped rather than refused.
create or replace function webhook_record_click(p_click jsonb, p_now timestamptz)
returns bigint
language plpgsql set search_path = public as $$
declare
  v_message bigint;
  v_lead bigint;
  v_id bigint;
begin
  -- the message the link was sent in: its outbox id, else its outbox key (a drip link is
  -- rendered before its row exists; app/core/tokens.py); neither: an old token, no message
  select id, lead_id into v_message, v_lead from messages
   where id = (p_click->>'message_id')::bigint;
  if v_message is null and p_click->>'message_key' is not null then
    select id, lead_id into v_message, v_lead from messages
     where idempotency_key = p_click->>'message_key';
  end if;
  select id into v_lead from leads
   where id = coalesce((p_click->>'lead_id')::bigint, v_lead);
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
