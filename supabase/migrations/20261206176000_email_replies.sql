-- email_replies: issue 16 item 3 (a lead's email reply). Table and function as
-- supabase/schemas/16_email_replies.sql defines them; the function executable by service_role only.

create table email_replies (
  id             bigint generated always as identity primary key,
  email_id       text not null unique,            -- Resend's id of the received email
  event_id       bigint references webhook_events (id) on delete set null,
  lead_id        bigint references leads (id) on delete set null,
  enrollment_id  bigint references enrollments (id) on delete set null,
  message_id     bigint references messages (id) on delete set null,  -- the email it answers
  matched_by     text not null check (matched_by in ('token', 'sender', 'none')),
  from_address   text not null,
  subject        text,
  body           text not null default '',
  kind           text not null check (kind in ('reply', 'opt_out', 'ambiguous', 'auto_reply')),
  reason         text,
  body_fetched   boolean not null default true,   -- false: no API key, metadata only
  received_at    timestamptz not null
);
-- A lead's timeline, newest first.
create index email_replies_lead_idx on email_replies (lead_id, received_at desc);
alter table email_replies enable row level security;
revoke all on email_replies from public, anon, authenticated;
grant all on email_replies to service_role;

-- One received email, classified by the caller and applied in one transaction under
-- p_dedupe_key (`resend:received:<email id>`: Resend's retries and replays find it taken →
-- duplicate, nothing changes). The lead is the reply token's (p_reply.lead_id, when that
-- lead exists), else the lead with the sender's address. Then, by p_reply.kind:
--   reply      → lead engaged + stop rules 'on_reply';
--   opt_out    → internal.consent_opt_out on p_reply.scope; email in scope also suppresses
--                the sender's own address (a reply may come from another mailbox);
--   ambiguous  → all automated contact held (internal.consent_hold), not engaged;
--   auto_reply → recorded only (an out-of-office is not an answer).
-- p_notify: outbox messages to enqueue with it (the operator's copy of the reply).
create or replace function webhook_resend_inbound(
  p_dedupe_key text, p_reply jsonb, p_payload jsonb, p_notify jsonb, p_now timestamptz
) returns table (duplicate boolean, event_id bigint, reply_id bigint, lead_id bigint,
                 stopped integer, message_ids bigint[])
language plpgsql set search_path = public as $$
#variable_conflict use_column
declare
  v_kind text := p_reply->>'kind';
  v_from text := lower(coalesce(p_reply->>'from_address', ''));
  v_scope text[] := array(select jsonb_array_elements_text(coalesce(p_reply->'scope', '[]')));
  v_event bigint;
  v_lead bigint;
  v_enrollment bigint;
  v_message bigint;
  v_matched text := 'none';
  v_reply bigint;
  v_stopped integer := 0;
  v_ids bigint[] := '{}';
  v_msg jsonb;
begin
  v_event := internal.webhook_store_event('resend', p_dedupe_key, 'email.' || v_kind,
                                           p_payload, p_now);
  if v_event is null then
    return query select true, null::bigint, null::bigint, null::bigint, 0, '{}'::bigint[];
    return;
  end if;
  if p_reply->>'lead_id' ~ '^[0-9]{1,18}$' then
    select l.id into v_lead from leads l where l.id = (p_reply->>'lead_id')::bigint;
  end if;
  if v_lead is not null then
    v_matched := 'token';
    select e.id into v_enrollment from enrollments e
     where e.id = (p_reply->>'enrollment_id')::bigint and e.lead_id = v_lead;
    select m.id into v_message from messages m
     where m.idempotency_key = 'drip:' || (p_reply->>'enrollment_id') || ':'
                               || (p_reply->>'position');
  elsif v_from <> '' then
    select l.id into v_lead from leads l where l.email = v_from order by l.id limit 1;
    v_matched := case when v_lead is null then 'none' else 'sender' end;
  end if;
  insert into email_replies (email_id, event_id, lead_id, enrollment_id, message_id,
                             matched_by, from_address, subject, body, kind, reason,
                             body_fetched, received_at)
  values (p_reply->>'email_id', v_event, v_lead, v_enrollment, v_message, v_matched, v_from,
          p_reply->>'subject', coalesce(p_reply->>'body', ''), v_kind, p_reply->>'reason',
          coalesce((p_reply->>'body_fetched')::boolean, true), p_now)
  on conflict (email_id) do nothing
  returning id into v_reply;
  if v_reply is null then  -- stored before under another dedupe key: change nothing
    perform internal.webhook_mark_event(v_event, 'ignored', 'email id already recorded');
    return query select true, v_event, null::bigint, v_lead, 0, '{}'::bigint[];
    return;
  end if;
  if v_kind = 'opt_out' then
    if 'email' = any (v_scope) and v_from <> '' then
      perform outbox_opt_out('email', v_lead, v_from, 'resend:inbound', p_now);
    end if;
    v_stopped := internal.consent_opt_out(v_lead, null, v_scope, 'resend:inbound', p_now);
  elsif v_kind = 'ambiguous' then
    perform internal.consent_hold(v_lead, 'ambiguous reply by email: '
                                  || coalesce(p_reply->>'reason', '?') || ': '
                                  || left(coalesce(p_reply->>'body', ''), 300), p_now);
  elsif v_kind = 'reply' and v_lead is not null then
    perform internal.lead_advance_status(v_lead, 'engaged', p_now);
    v_stopped := apply_stop_rules(v_lead, 'reply', p_now);
  end if;
  if v_lead is null then
    perform internal.webhook_mark_event(v_event, 'ignored', 'no lead for this sender');
  end if;
  for v_msg in select * from jsonb_array_elements(coalesce(p_notify, '[]')) loop
    v_ids := v_ids || (select m.id from enqueue_message(v_msg, p_now) m);
  end loop;
  return query select false, v_event, v_reply, v_lead, v_stopped, v_ids;
end
$$;
revoke all on function public.webhook_resend_inbound(text,jsonb,jsonb,jsonb,timestamp with time zone) from public, anon, authenticated;
grant execute on function public.webhook_resend_inbound(text,jsonb,jsonb,jsonb,timestamp with time zone) to service_role;
