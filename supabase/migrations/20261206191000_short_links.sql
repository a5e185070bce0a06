-- Issue 17 item 5: short tracked links in texts (/l/<code>, app/core/short_links.py): a
-- click resolves the message by its outbox key and redirects to the URL stored in its
-- payload.links, counted for its A/B variant like an email click. A click on an erased
-- person's link (either kind) records nothing.

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

select internal.secure_functions();
