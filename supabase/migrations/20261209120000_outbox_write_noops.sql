-- Issue 19 (a drip run's fixed cost): the outbox write does no statement that writes or reads
-- nothing. A drip batch is almost always new message rows and no call: the insert into calls
-- of no row still fired the statement triggers of calls (status_stale, scoring), and the
-- return still called claim_messages and probed messages and calls for keys that were not
-- there. They run now only when some item is a call, or some row existed before (a re-run
-- after a crash); the rows returned are the same (tests/campaigns/test_outbox_write_noops.py).
-- On the database of a 10,000-lead, seed-7 simulation kept at the end of day 28, a write of
-- 12 items (the 12 most recent drip messages under new keys, 2 texts and 20 emails claimed),
-- each call rolled back, the two functions in turn: `.venv/bin/python bench/drip_small_ab.py
-- --dsn DSN --now "2026-12-28 13:05+00" --now "2026-12-27 23:55+00"` (figures in
-- bench/RESULTS.md, stop 26, DRIPTICK).

-- Writes outbox rows in one call: emails/SMS into messages, calls into calls (queued).
-- Items: {idempotency_key, channel (email|sms|call), provider, to_address (or to_number),
-- kind, lead_id, enrollment_id, campaign_id, step_id, payload}. The key is unique, so writing
-- the same key again (a re-run after a crash) finds the row written before instead of a second
-- one. Returns every item's row: its key, 'message' or 'call', id and status.
--
-- p_claim {channel: n}: the first n message items of each channel (in item order) are also
-- claimed for sending in this call, with claim_message's rules and outcomes (`outcome`, and
-- the row in `message`, as claim_messages returns them; null for the items not claimed): a
-- row this call creates is written already claimed ('sending', attempts 1, claimed_at
-- p_now) or, when an opt-out covers it (internal.outbox_check), already cancelled
-- ('suppressed'): one row version instead of a queued one then its claim; a row that existed
-- (a re-run after a crash) is claimed by claim_messages itself (claimed, busy, reclaimed
-- with ambiguous_since, done). The drip loop claims here the first chunk its limiter lets
-- out (OutboxDelivery.claim_chunk), the rest with claim_messages as their turn comes.
create or replace function enqueue_outbox(
  p_items jsonb, p_now timestamptz default now(), p_claim jsonb default '{}',
  p_reclaim_after_seconds integer default 600
) returns table (idempotency_key text, kind text, id bigint, status text, outcome text,
                 message jsonb)
language plpgsql set search_path = public as $$
#variable_conflict use_column
declare
  v_rows jsonb;       -- the message rows this call created, as claim_messages returns rows
  v_fresh text[];     -- their keys
  v_claim text[];     -- the keys of the message items to claim
  v_found text[];     -- the keys of the message items whose row existed (none, but in a re-run)
  v_calls boolean;    -- some items are calls
begin
  with x as (
    select t.i, t.ord, t.i->>'channel' ch, coalesce(t.i->>'kind', 'marketing') kd,
           row_number() over (partition by t.i->>'channel' order by t.ord)
             <= coalesce((p_claim->>(t.i->>'channel'))::integer, 0) claim
      from jsonb_array_elements(p_items) with ordinality t(i, ord)
     where t.i->>'channel' in ('email', 'sms')
  ), c as materialized (  -- claim_messages' opt-out check (once a row: materialized)
    select x.*, k.suppressed
      from x cross join lateral internal.outbox_check(
             x.ch, x.kd, (x.i->>'lead_id')::bigint, x.i->>'to_address') k
  ), d as (
    select c.*, c.claim and c.suppressed cancel, c.claim and not c.suppressed go from c
  ), ins as (
    insert into messages as m (idempotency_key, lead_id, enrollment_id, campaign_id, step_id,
                               channel, kind, provider, to_address, payload, created_at,
                               updated_at, status, attempts, claimed_at, error_code,
                               error_message, status_history)
    select d.i->>'idempotency_key', (d.i->>'lead_id')::bigint, (d.i->>'enrollment_id')::bigint,
           (d.i->>'campaign_id')::bigint, (d.i->>'step_id')::bigint, d.ch, d.kd,
           d.i->>'provider', d.i->>'to_address', coalesce(d.i->'payload', '{}'), p_now, p_now,
           case when d.go then 'sending' when d.cancel then 'cancelled' else 'queued' end,
           case when d.go then 1 else 0 end,
           case when d.go then p_now end,
           case when d.cancel then 'suppressed' end,
           case when d.cancel then 'an opt-out covers this channel' end,
           case when d.go then jsonb_build_array(jsonb_build_object('status', 'sending',
                                                                    'at', p_now))
                when d.cancel then jsonb_build_array(jsonb_build_object(
                  'status', 'cancelled', 'at', p_now, 'reason', 'suppressed'))
                else '[]'::jsonb end
      from d order by d.ord
    -- A step written again (its row went back to the queue when its window closed before the
    -- send, see mark_sending) brings the window the gate found now: only that is refreshed.
    on conflict on constraint messages_idempotency_key_key do update
       set payload = m.payload
                     || jsonb_build_object('send_before', excluded.payload->'send_before')
     where m.status = 'queued' and m.payload ? 'send_before'
    returning m.*, (m.xmax = 0) created
  )
  select coalesce(jsonb_agg(to_jsonb(ins) - 'created') filter (where ins.created), '[]'),
         coalesce(array_agg(ins.idempotency_key) filter (where ins.created), '{}'),
         array(select c.i->>'idempotency_key' from c where c.claim)
    into v_rows, v_fresh, v_claim
    from ins;

  -- A statement that writes or reads nothing still costs: an insert of no call fires the
  -- statement triggers of calls (status_stale, scoring: a function call each), and the
  -- return below called claim_messages and probed messages and calls for no key. Most
  -- batches are all new message rows (migration 20261209120000).
  v_calls := jsonb_path_exists(p_items, '$[*] ? (@.channel == "call")');
  if v_calls then
    insert into calls (idempotency_key, lead_id, enrollment_id, campaign_id, provider,
                       to_number, status, payload, created_at, updated_at)
    select i->>'idempotency_key', (i->>'lead_id')::bigint, (i->>'enrollment_id')::bigint,
           (i->>'campaign_id')::bigint, coalesce(i->>'provider', 'vapi'),
           coalesce(i->>'to_address', i->>'to_number'), 'queued',
           coalesce(i->'payload', '{}'), p_now, p_now
      from jsonb_array_elements(p_items) i
     where i->>'channel' = 'call'
    on conflict on constraint calls_idempotency_key_key do nothing;
  end if;

  v_found := array(select i->>'idempotency_key' from jsonb_array_elements(p_items) i
                     where i->>'channel' in ('email', 'sms')
                    except select unnest(v_fresh));
  if cardinality(v_found) = 0 and not v_calls then  -- every row created by this call
    return query
    select r->>'idempotency_key', 'message'::text, (r->>'id')::bigint, r->>'status',
           case r->>'status' when 'sending' then 'claimed' when 'cancelled' then 'suppressed' end,
           case when r->>'status' <> 'queued' then r end
      from jsonb_array_elements(v_rows) r;
    return;
  end if;
  return query  -- a created row was claimed iff it is not queued (sending, or cancelled)
  select r->>'idempotency_key', 'message'::text, (r->>'id')::bigint, r->>'status',
         case r->>'status' when 'sending' then 'claimed' when 'cancelled' then 'suppressed' end,
         case when r->>'status' <> 'queued' then r end
    from jsonb_array_elements(v_rows) r
  union all  -- rows written before, to claim: claim_messages decides
  select k.message->>'idempotency_key', 'message'::text, (k.message->>'id')::bigint,
         k.message->>'status', k.outcome, k.message
    from claim_messages(array(select m.id from messages m
                               where m.idempotency_key = any (array(
                                       select unnest(v_found) intersect select unnest(v_claim)))
                               order by m.id),
                        p_reclaim_after_seconds, p_now) k
  union all  -- rows written before, not to claim
  select m.idempotency_key, 'message'::text, m.id, m.status, null::text, null::jsonb
    from messages m
   where m.idempotency_key = any (array(select unnest(v_found) except select unnest(v_claim)))
  union all
  select k.idempotency_key, 'call'::text, k.id, k.status, null::text, null::jsonb from calls k
   where k.idempotency_key = any (array(select i->>'idempotency_key'
                                          from jsonb_array_elements(p_items) i
                                         where i->>'channel' = 'call'));
end
$$;
