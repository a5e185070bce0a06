-- rescue_deadline: issue 14 (no text to a lead outside legal hours): the deadline of a rescue
-- text the gate just allowed is stamped on its row (payload.send_before), which mark_sending
-- enforces at the last moment. Function as supabase/schemas/03_outbox.sql defines it,
-- executable by service_role only.

create or replace function outbox_send_before(p_items jsonb, p_now timestamptz default now())
returns integer
language sql set search_path = public as $$
  with stamped as (
    update messages m
       set payload = m.payload || jsonb_build_object('send_before', i->>'send_before'),
           updated_at = p_now
      from jsonb_array_elements(p_items) i
     where m.id = (i->>'id')::bigint and m.status = 'queued'
    returning 1
  )
  select count(*)::integer from stamped;
$$;
revoke all on function public.outbox_send_before(jsonb,timestamp with time zone) from public, anon, authenticated;
grant execute on function public.outbox_send_before(jsonb,timestamp with time zone) to service_role;
