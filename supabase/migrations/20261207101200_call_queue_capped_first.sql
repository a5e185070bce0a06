-- Issue 19 (the month's fixed cost): call_queue drops a capped campaign's waiting calls at
-- the scan of calls, before joining each to its lead. campaign_manager reads the queue every
-- 15 minutes; once a campaign reaches its daily call cap its calls wait in the queue (day 3
-- of a 10,000-lead simulation, seed 7: 1,598 waiting calls, every one of a capped campaign),
-- and each was joined to its lead (an index scan of a leads table the hourly rescoring
-- keeps rewriting) and only then filtered out. EXPLAIN (ANALYZE, BUFFERS) on that database:
--   before: Nested Loop Left Join (Rows Removed by Filter: 1598) over Nested Loop (Index
--   Scan using calls_waiting_idx, 1,598 rows x Index Scan using leads_pkey, 1,598 loops):
--   10.0 ms, 6,643 buffers;
--   after: Index Scan using calls_waiting_idx, Filter ... NOT (hashed SubPlan 3), Rows
--   Removed by Filter: 1632, leads never read: 0.9 ms, 233 buffers.
-- The same rows: the condition moves from the joined campaign's id to the call's
-- campaign_id (equal when the campaign exists; a call whose campaign is gone passes both).
-- Executable by service_role only.

create or replace function call_queue(
  p_limit integer, p_now timestamptz default now(), p_order text default 'score'
)
returns table (call jsonb, in_flight integer)
language sql stable set search_path = public as $$
  with capped as (  -- once per call, not per waiting call
    select c.id from campaigns c
     where c.status = 'active' and c.definition->'caps'->'per_day'->>'call' is not null
       and (select count(*) from calls p
             where p.campaign_id = c.id
               and p.placed_at >= date_trunc('day', p_now) and p.placed_at <= p_now)
           >= (c.definition->'caps'->'per_day'->>'call')::integer
  )
  select jsonb_build_object(
           'id', k.id, 'lead', to_jsonb(l) - 'score_reasons', 'not_before', k.not_before,
           'window', k.payload->'window',
           'campaign', case when c.id is null then null else
             jsonb_build_object('id', c.id, 'slug', c.slug, 'definition', c.definition) end,
           'recent_attempts', internal.lead_recent_attempts(l.id, p_now)),
         (select count(*)::integer from calls f
           where f.status in ('placing', 'ringing', 'in-progress', 'forwarding')
             -- as claim_call: a call silent for 2 h lost its end-of-call report
             and f.updated_at > p_now - interval '2 hours')
    from calls k
    join leads l on l.id = k.lead_id
    left join campaigns c on c.id = k.campaign_id
   where k.status = 'queued' and k.vapi_call_id is null
     and (k.not_before is null or k.not_before <= p_now)
     and (c.id is null or c.status = 'active')
     -- on the call's own column, so a capped campaign's waiting calls are dropped at the scan
     -- of calls, before each is joined to its lead (day 3 of a 10,000-lead simulation: 1,598
     -- waiting calls of capped campaigns, 10.0 -> 0.9 ms; migration 20261207101200). The
     -- same rows: c.id = k.campaign_id when the campaign exists, and a missing campaign is
     -- in no cap either way.
     and (k.campaign_id is null or k.campaign_id not in (select id from capped))
   order by case when p_order = 'score' then l.score end desc nulls last,
            case when p_order = 'newest' then k.created_at end desc,
            case when p_order = 'random'
                 then md5(k.id::text || date_trunc('hour', p_now)::text) end,
            l.created_at desc, k.id
   limit p_limit;
$$;

revoke all on function call_queue(integer, timestamptz, text) from public, anon, authenticated;
grant execute on function call_queue(integer, timestamptz, text) to service_role;
