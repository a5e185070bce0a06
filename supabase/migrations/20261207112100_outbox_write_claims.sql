-- The drip batch's outbox write and its delivery claim in one statement (issue 19): with
-- `p_claim` {channel: n}, enqueue_outbox also claims the first n message items of each channel
-- (the first chunk its limiter lets out, OutboxDelivery.claim_chunk; the whole batch for a
-- fast limiter). A row it creates is written already claimed ('sending', attempts 1,
-- claimed_at, its status history's 'sending' entry) or, under an opt-out, already cancelled:
-- one row version, where the write then claim_messages made two (a queued row, then its
-- claimed version with an entry in each of messages' indexes again). A row that existed (a
-- re-run after a crash) is claimed by claim_messages itself, as before: busy while young,
-- reclaimed with ambiguous_since after p_reclaim_after_seconds. Without p_claim it is the
-- write it was (enqueue_message, enqueue_call).
-- Measured (500 texts of bench/dispatch.py's seed, 10,000 leads, 10,000 messages and
-- growing, each side committed, the sides alternating on one connection, median of 10):
-- enqueue_outbox then claim_messages, in one transaction, 51.4 ms -> this 39.6 ms (SQL
-- only, a one-off script); through the repositories, Python's parsing included, two calls
-- -> one (`bench/drip_sql_ab.py`, load ~4): 97.7 -> 80.6 ms (tree/ref 0.53-0.93). Per 500 rows the write's foreign-key checks remain (EXPLAIN
-- ANALYZE: lead 2.0, enrollment 1.9, campaign 4.3, step 7.5 ms, a check per row each), and
-- the scoring marks' statement trigger (2.4 ms). A first form that picked the rows to claim
-- by comparing each key with the array of created keys (500 x 500 text comparisons, twice)
-- measured no faster than the two calls: the rows it created are told by their status.
-- The return type changes (the claim's outcome and row): dropped first.

drop function if exists enqueue_outbox(jsonb, timestamptz);

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

  insert into calls (idempotency_key, lead_id, enrollment_id, campaign_id, provider, to_number,
                     status, payload, created_at, updated_at)
  select i->>'idempotency_key', (i->>'lead_id')::bigint, (i->>'enrollment_id')::bigint,
         (i->>'campaign_id')::bigint, coalesce(i->>'provider', 'vapi'),
         coalesce(i->>'to_address', i->>'to_number'), 'queued',
         coalesce(i->'payload', '{}'), p_now, p_now
    from jsonb_array_elements(p_items) i
   where i->>'channel' = 'call'
  on conflict on constraint calls_idempotency_key_key do nothing;

  v_found := array(select i->>'idempotency_key' from jsonb_array_elements(p_items) i
                     where i->>'channel' in ('email', 'sms')
                    except select unnest(v_fresh));
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

select internal.secure_functions();
