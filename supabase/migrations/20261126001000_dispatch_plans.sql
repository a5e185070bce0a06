-- nightshift schema, part 10: query plans of the drip tick that follow the batch, not the
-- table statistics.
--
-- complete_steps found its enrollments by `lease_owner = p_worker`, joined to the batch.
-- ANALYZE sees lease_owner almost always null, so the planner expects ONE row to match a
-- worker's name, scans enrollments for it and joins the batch's jsonb to each match by
-- a filter: 500 x 500 comparisons per call, 50-170 ms measured at 10,000 enrollments
-- (bench/dispatch.py), against 9 ms once the batch drives the join. The lateral
-- subquery below is looked up by primary key for each batch item; `limit 1` keeps the
-- planner from flattening it back into the join it chose before.

create or replace function complete_steps(
  p_worker text, p_results jsonb, p_now timestamptz default now()
) returns table (enrollment_id bigint, status text, current_step integer, next_run_at timestamptz)
language plpgsql set search_path = public as $$
#variable_conflict use_column
begin
  return query
  with r as (
    select (i->>'enrollment_id')::bigint id, i->>'action' action,
           (i->>'at')::timestamptz at, i->>'reason' reason
      from jsonb_array_elements(p_results) i
  ), nxt as (
    select r.*, e.campaign_id, e.lead_id,
           (select s.delay_seconds from campaign_steps s
             where s.campaign_id = e.campaign_id and s.position = e.current_step + 1) next_delay
      from r cross join lateral (
             select e1.campaign_id, e1.lead_id, e1.current_step from enrollments e1
              where e1.id = r.id and e1.lease_owner = p_worker limit 1) e
  ), flagged as (
    update leads l set needs_review = n.reason, updated_at = p_now
      from nxt n where l.id = n.lead_id and n.action = 'review'
    returning l.id
  )
  update enrollments e set
    current_step = case when n.action = 'advance' then e.current_step + 1 else e.current_step end,
    status = case
      when n.action = 'advance' and n.next_delay is null then 'completed'
      when n.action = 'stop' then 'stopped'
      when n.action = 'review' then 'paused'
      else e.status end,
    next_run_at = case
      when n.action = 'advance' then p_now + make_interval(secs => coalesce(n.next_delay, 0))
      when n.action = 'reschedule' then n.at
      else e.next_run_at end,
    stopped_reason = case when n.action in ('stop', 'review') then n.reason else e.stopped_reason end,
    lease_owner = null, lease_expires_at = null, updated_at = p_now
  from nxt n
  where e.id = n.id
  returning e.id, e.status, e.current_step, e.next_run_at;
end
$$;

-- outbox_is_suppressed and lead_recent_attempts run once per claimed step (drip claim,
-- delivery claim, call queue). Their `set search_path` kept the planner from inlining them:
-- each call paid a function call with a search_path switch, 14 and 11 us at 10,000 leads in
-- bench/dispatch.py and 71 and 50 us in a 10,000-lead simulation by day 6. Inlined into the
-- calling statement (whose function sets search_path = public) they cost a subquery.
-- Safe: secure_functions() leaves EXECUTE to service_role alone, so no caller with another
-- search_path can call them directly.
alter function outbox_is_suppressed(text, bigint, text) reset search_path;
alter function lead_recent_attempts(bigint, timestamptz) reset search_path;


-- enqueue_outbox, then claim_messages on its message rows, in one round trip: for a drip
-- batch whose provider sends at once (no rate limit: a dry run), where the claim would
-- follow the write by microseconds anyway. The same two functions, the same rules (a row
-- written before by a crashed run is claimed, reclaimed or left busy as claim_messages
-- decides; an opt-out cancels). One row per item: its outbox row, and for a message the
-- claim's outcome and row.
create or replace function enqueue_outbox_claimed(
  p_items jsonb, p_reclaim_after_seconds integer default 600, p_now timestamptz default now()
) returns table (idempotency_key text, kind text, id bigint, status text, outcome text,
                 message jsonb)
language plpgsql set search_path = public as $$
#variable_conflict use_column
declare
  v_rows jsonb;
  v_ids bigint[];
begin
  -- two statements, so the claim's snapshot sees the rows just written
  select coalesce(jsonb_agg(to_jsonb(e)), '[]') into v_rows from enqueue_outbox(p_items, p_now) e;
  select coalesce(array_agg((x->>'id')::bigint), '{}') into v_ids
    from jsonb_array_elements(v_rows) x where x->>'kind' = 'message';
  return query
  select x->>'idempotency_key', x->>'kind', (x->>'id')::bigint, x->>'status', c.outcome, c.message
    from jsonb_array_elements(v_rows) x
    left join claim_messages(v_ids, p_reclaim_after_seconds, p_now) c
      on x->>'kind' = 'message' and (c.message->>'id')::bigint = (x->>'id')::bigint;
end
$$;

select secure_functions();
