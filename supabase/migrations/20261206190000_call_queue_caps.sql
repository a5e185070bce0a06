-- Issue 17: a campaign at its daily call cap no longer fills the call queue's candidates
-- (the score order placed ~15 % fewer calls than random order: the hottest leads' capped
-- calls took every place among the candidates read, the other campaign's calls waited).

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
     and (c.id is null or c.id not in (select id from capped))
   order by case when p_order = 'score' then l.score end desc nulls last,
            case when p_order = 'newest' then k.created_at end desc,
            case when p_order = 'random'
                 then md5(k.id::text || date_trunc('hour', p_now)::text) end,
            l.created_at desc, k.id
   limit p_limit;
$$;

revoke all on function public.call_queue(integer,timestamp with time zone,text) from public, anon, authenticated;
grant execute on function public.call_queue(integer,timestamp with time zone,text) to service_role;
