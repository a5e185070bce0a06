-- Issue 19, stop 27: the outbox's write path (enqueue_outbox, claim_messages, mark_sending,
-- record_messages_sent) planned once per connection and by key, and the record of a send
-- found by its ids. The same rows written, the same answers
-- (tests/campaigns/test_outbox_write_plans.py).
-- mark_sending and claim_messages: left to choose, PL/pgSQL planned their statement again at
-- every call (a custom plan for the ids given), most of the ~1 ms a call of the month's
-- ~7,000 one-row last-moment checks and ~4,500 claims. Now force_generic_plan (one plan per
-- connection, kept until the tables' next ANALYZE) with enable_seqscan = off, so that a plan
-- made while the outbox was nearly empty still reads every table by its keys once it has
-- grown (a kept sequential scan grew with the table until the next ANALYZE).
-- record_messages_sent: its update joined the results (a set-returning function, estimated
-- at 100 rows) to messages, planned as a hash of a sequential scan of messages while the
-- table was small enough (server ms a call 0.5 on day 1 of a 10,000-lead month growing to
-- ~3 by day 4, until the planner turned to the index); it now finds the rows by their ids
-- (the primary key), planned as the others.
-- Figures (bench/RESULTS.md): `.venv/bin/python bench/outbox_writes_ab.py days --dir DIR`
-- (server ms a call per virtual day of a 10,000-lead simulation, track_functions; with
-- `--without 20261210230000` the before) and
-- `.venv/bin/python bench/outbox_writes_ab.py ab --dsn ...` (the earlier text against this
-- one on a kept database, rolled back).

create or replace function enqueue_outbox(
  p_items jsonb, p_now timestamptz default now(), p_claim jsonb default '{}',
  p_reclaim_after_seconds integer default 600
) returns table (idempotency_key text, kind text, id bigint, status text, outcome text,
                 message jsonb)
language plpgsql set search_path = public set plan_cache_mode = force_generic_plan
set enable_seqscan = off as $$
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

create or replace function claim_messages(
  p_ids bigint[], p_reclaim_after_seconds integer default 600, p_now timestamptz default now()
) returns table (outcome text, message jsonb)
language plpgsql set search_path = public set plan_cache_mode = force_generic_plan
set enable_seqscan = off as $$
#variable_conflict use_column
begin
  return query
  with locked as (  -- internal.outbox_check inlined: a probe per rule and row, no call
    select m.*, k.suppressed
      from messages m
      cross join lateral internal.outbox_check(m.channel, m.kind, m.lead_id, m.to_address) k
     where m.id = any (p_ids) order by m.id for update of m
  ), decided as (
    select l.id, case
             when l.status not in ('queued', 'sending') then 'done'
             when l.suppressed then 'suppressed'
             when l.status = 'sending'
                  and l.claimed_at > p_now - make_interval(secs => p_reclaim_after_seconds)
               then 'busy'
             when l.status = 'sending' then 'reclaimed'
             else 'claimed' end verdict
      from locked l
  ), cancelled as (
    update messages m set status = 'cancelled', error_code = 'suppressed',
           error_message = 'an opt-out covers this channel', updated_at = p_now,
           status_history = m.status_history
             || jsonb_build_object('status', 'cancelled', 'at', p_now, 'reason', 'suppressed')
      from decided d where m.id = d.id and d.verdict = 'suppressed'
    returning m.*
  ), claimed as (
    -- a reclaimed row's earlier attempt has an unknown outcome: it becomes ambiguous
    update messages m set status = 'sending', attempts = m.attempts + 1, claimed_at = p_now,
           updated_at = p_now,
           ambiguous_since = case when d.verdict = 'reclaimed'
                                  then coalesce(m.ambiguous_since, m.claimed_at)
                                  else m.ambiguous_since end,
           status_history = m.status_history
             || jsonb_build_object('status', 'sending', 'at', p_now)
      from decided d where m.id = d.id and d.verdict in ('claimed', 'reclaimed')
    returning m.*
  )
  select d.verdict, coalesce(to_jsonb(c), to_jsonb(x), to_jsonb(l) - 'suppressed')
    from decided d
    join locked l on l.id = d.id
    left join claimed c on c.id = d.id
    left join cancelled x on x.id = d.id
   order by array_position(p_ids, d.id);
end
$$;

create or replace function mark_sending(p_ids bigint[], p_now timestamptz default now())
returns table (id bigint, verdict text)
language plpgsql set search_path = public set plan_cache_mode = force_generic_plan
set enable_seqscan = off as $$
#variable_conflict use_column
begin
  return query
  with locked as (
    select m.id, m.status, m.payload, m.lead_id, m.channel, k.suppressed, k.refusal
      from messages m
      cross join lateral internal.outbox_check(m.channel, m.kind, m.lead_id, m.to_address) k
     where m.id = any (p_ids) order by m.id for update of m
  ), decided as (
    select l.id, l.lead_id, l.channel, l.refusal, case
             when l.status <> 'sending' then 'done'
             when l.suppressed then 'suppressed'
             when l.refusal is not null then 'refused'
             when (l.payload->>'send_before')::timestamptz <= p_now then 'window'
             else 'go' end verdict
      from locked l
  ), updated as (
    update messages m set
      status = case when d.verdict = 'window' then 'queued' else 'cancelled' end,
      error_code = case d.verdict when 'suppressed' then 'suppressed'
                                  when 'refused' then d.refusal else 'outside_window' end,
      error_message = case d.verdict
                        when 'suppressed' then 'an opt-out covers this channel (at send time)'
                        when 'refused' then 'refused at send time: ' || d.refusal
                        else 'the permitted window closed before the send' end,
      updated_at = p_now,
      status_history = m.status_history || jsonb_build_object(
        'status', case when d.verdict = 'window' then 'queued' else 'cancelled' end,
        'at', p_now, 'reason', coalesce(d.refusal, d.verdict))
      from decided d where m.id = d.id and d.verdict in ('suppressed', 'refused', 'window')
    returning m.id
  ), skipped as (
    insert into consent_skips (lead_id, channel, reason, stage, at)
    select d.lead_id, d.channel, d.refusal, 'send', p_now from decided d
     where d.verdict = 'refused' and d.refusal like '%consent%'
    returning 1
  )
  select d.id, d.verdict from decided d;
end
$$;

create or replace function record_messages_sent(p_results jsonb, p_now timestamptz default now())
returns integer
language plpgsql set search_path = public set plan_cache_mode = force_generic_plan
set enable_seqscan = off as $$
declare
  v_n integer;
begin
  with r as (
    select (v->>'id')::bigint id, v->>'provider' provider, v->>'provider_id' provider_id,
           nullif(v->'request', 'null'::jsonb) request
      from jsonb_array_elements(p_results) v
  )
  update messages m set
    provider = r.provider, provider_id = r.provider_id, ambiguous_since = null,
    error_code = null, error_message = null,
    status = case when m.status not in ('queued', 'sending') then m.status
                  when r.provider = 'dryrun' then 'dry_run' else 'sent' end,
    sent_at = coalesce(m.sent_at, p_now), updated_at = p_now,
    payload = case when r.request is null then m.payload
                   else m.payload || jsonb_build_object('request', r.request) end,
    status_history = m.status_history || jsonb_build_object(
      'status', case when r.provider = 'dryrun' then 'dry_run' else 'sent' end, 'at', p_now,
      'provider_id', r.provider_id)
  from r
  where m.id = r.id
    and m.id = any (array(select (v->>'id')::bigint from jsonb_array_elements(p_results) v));
  get diagnostics v_n = row_count;
  return v_n;
end
$$;
