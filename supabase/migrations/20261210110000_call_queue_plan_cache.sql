-- Issue 19 (campaign_manager's opening, manager_begin, a run every 15 minutes): call_queue
-- was a SQL function with a SET clause, which Postgres never inlines and plans again at
-- every call (generic: its arguments unknown). On the month's database kept at the end of
-- day 28 (`--leads 10000 --days 30 --seed 7`) and on one kept at the end of day 5, a run
-- whose campaigns are all capped (no candidate; 86 of the day's 96 runs) spent ~0.75 ms of
-- its ~1 ms call_queue planning it. Now PL/pgSQL: the same statement, its generic plan made
-- once per connection and kept until the tables' next ANALYZE. The same calls in the same
-- order (tests/campaigns/test_call_queue_plan_cache.py). Figures: bench/manager_begin_history.py
-- (its call_queue A/B, bench/RESULTS.md stop 27 MANAGER).

-- The call queue, hottest lead first (score, then newest lead): calls waiting in our queue
-- (no Vapi id yet) whose not_before has come, with what the gate needs (`window`: the call
-- step's own window, written into the call's payload by drip; null: the campaign's). `in_flight` counts
-- calls Vapi is still working on, for its concurrency limit. p_order picks which p_limit
-- candidates campaign_manager reorders: 'score' (the hottest), 'newest' (the latest
-- queued: the simulator's oracle) or 'random' (a hash of the call and the hour: every slot
-- random, the simulator's baseline). Calls of a campaign that placed its daily call cap
-- today (`caps.per_day.call`, counted as calls_placed_today) are not candidates: read
-- among the p_limit, the hottest leads' capped calls filled every candidate place and
-- the other campaigns' calls waited all day (issue 17: the score order placed ~15 % fewer
-- calls than random order).
-- The p_limit candidates are picked first; then each is read once: the lead's columns the
-- snapshot reads (LeadSnapshot), its 24 h attempts for the whole batch in one query
-- (internal.leads_recent_attempts, not a query per call), and its campaign's definition
-- on the first of that campaign's calls only (the others: {id}; ManagerRepository.call_queue
-- puts the one snapshot in each). Day 8 of a 10,000-lead simulation (200 candidates): 264 ->
-- 109 KB, 12.6-14.4 -> 8.5-9.6 ms a call (migration 20261207120000).
-- PL/pgSQL for its plan cache (issue 19, migration 20261210110000): as a SQL function with a
-- SET clause (never inlined) its statement was planned again at every call, generic (the
-- arguments unknown), ~0.75 ms of the ~1 ms a run whose campaigns are all capped (86 of the
-- 96 runs a day); here the same generic plan is made once per connection and kept until the
-- tables' next ANALYZE (force_generic_plan: the plan it always ran, not a custom one).
create or replace function call_queue(
  p_limit integer, p_now timestamptz default now(), p_order text default 'score'
)
returns table (call jsonb, in_flight integer)
language plpgsql stable set search_path = public set plan_cache_mode = force_generic_plan as $$
#variable_conflict use_column
begin
  return query
  with capped as (  -- once per call, not per waiting call
    select c.id from campaigns c
     where c.status = 'active' and c.definition->'caps'->'per_day'->>'call' is not null
       and (select count(*) from calls p
             where p.campaign_id = c.id
               and p.placed_at >= date_trunc('day', p_now) and p.placed_at <= p_now)
           >= (c.definition->'caps'->'per_day'->>'call')::integer
  ), open as materialized (  -- the campaigns whose waiting calls are candidates
    select c.id from campaigns c where c.status = 'active' and c.id not in (select id from capped)
  ), waiting as (
    -- Only the waiting calls that can be candidates are read (calls_waiting_campaign_idx):
    -- those outside a campaign, and those of each active campaign under its cap. Reading
    -- the whole waiting queue and dropping a capped campaign's calls grew with the queue
    -- (a campaign's calls wait while it is capped, most of a day: 7,043 waiting calls by day
    -- 28 of a 10,000-lead simulation, 1,203 buffers read for no candidate; migration
    -- 20261209110000). The same rows: campaign_id references campaigns (on delete set
    -- null), so a call's campaign exists, and it is a candidate when active and not capped.
    select k.id, k.lead_id, k.campaign_id, k.not_before, k.payload->'window' as "window",
           k.created_at
      from calls k
     where k.campaign_id is null and k.status = 'queued' and k.vapi_call_id is null
    union all
    select k.id, k.lead_id, k.campaign_id, k.not_before, k.payload->'window', k.created_at
      from open o
      join calls k on k.campaign_id = o.id and k.status = 'queued' and k.vapi_call_id is null
  ), picked as materialized (
    select k.id, k.lead_id, k.campaign_id, k.not_before, k."window",
           case when p_order = 'score' then l.score end as s1,
           case when p_order = 'newest' then k.created_at end as s2,
           case when p_order = 'random'
                then md5(k.id::text || date_trunc('hour', p_now)::text) end as s3,
           l.created_at as s4
      from waiting k
      join leads l on l.id = k.lead_id
     where (k.not_before is null or k.not_before <= p_now)
     order by s1 desc nulls last, s2 desc, s3, s4 desc, k.id
     limit p_limit
  )
  select jsonb_build_object(
           'id', q.id, 'not_before', q.not_before, 'window', q."window",
           'lead', jsonb_build_object(
             'id', l.id, 'status', l.status, 'name', l.name, 'phone', l.phone, 'email', l.email,
             'company', l.company, 'industry', l.industry, 'state', l.state,
             'timezone', l.timezone, 'source', l.source, 'attributes', l.attributes,
             'email_opted_out_at', l.email_opted_out_at, 'sms_opted_out_at', l.sms_opted_out_at,
             'calls_opted_out_at', l.calls_opted_out_at),
           'campaign', case
             when c.id is null then null
             when row_number() over (partition by c.id order by q.id) = 1
             then jsonb_build_object('id', c.id, 'slug', c.slug, 'definition', c.definition)
             else jsonb_build_object('id', c.id) end,
           'recent_attempts', coalesce(r.attempts, '[]')),
         (select count(*)::integer from calls f
           where f.status in ('placing', 'ringing', 'in-progress', 'forwarding')
             -- as claim_call: a call silent for 2 h lost its end-of-call report
             and f.updated_at > p_now - interval '2 hours')
    from picked q
    -- a probe a candidate: its generic plan, not knowing picked holds p_limit rows at most,
    -- hashed every lead (9,334 by day 28 of a 10,000-lead simulation) to join 200
    cross join lateral (select l.* from leads l where l.id = q.lead_id offset 0) l
    left join campaigns c on c.id = q.campaign_id
    left join internal.leads_recent_attempts(array(select lead_id from picked), p_now) r
      on r.lead_id = q.lead_id
   order by q.s1 desc nulls last, q.s2 desc, q.s3, q.s4 desc, q.id;
end
$$;
