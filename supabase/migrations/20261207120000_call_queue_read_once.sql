-- Issue 19 (campaign_manager's call queue, every 15 minutes): the 200 candidates were each
-- sent with their campaign's whole definition (113 KB of a 264 KB answer on day 8 of
-- `nightshift simulate --leads 10000 --days 8 --seed 7`: two campaigns, 200 copies), the
-- whole leads row, and a query per row for the lead's 24 h attempts. Now the candidates are
-- picked first, then read once each: the lead's snapshot columns, the batch's attempts in
-- one internal.leads_recent_attempts call, a campaign's definition on its first call only
-- (ManagerRepository.call_queue shares the snapshot). The same calls in the same order
-- with the same attempts (tests/campaigns/test_call_queue_reads.py).
-- On that database kept at its end, at 2026-12-08 05:00 UTC, 30 interleaved A/B rounds in
-- one session (rolled back; bench/call_queue_ab.py --ref 79c4f85): 264,220 -> 108,773
-- bytes, median 12.6-14.4 -> 8.5-9.6 ms a call (fetched and decoded by psycopg).
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
  ), picked as materialized (
    select k.id, k.lead_id, k.campaign_id, k.not_before, k.payload->'window' as "window",
           case when p_order = 'score' then l.score end as s1,
           case when p_order = 'newest' then k.created_at end as s2,
           case when p_order = 'random'
                then md5(k.id::text || date_trunc('hour', p_now)::text) end as s3,
           l.created_at as s4
      from calls k
      join leads l on l.id = k.lead_id
      left join campaigns c on c.id = k.campaign_id
     where k.status = 'queued' and k.vapi_call_id is null
       and (k.not_before is null or k.not_before <= p_now)
       and (c.id is null or c.status = 'active')
       -- on the call's own column, so a capped campaign's waiting calls are dropped at the
       -- scan of calls, before each is joined to its lead (day 3 of a 10,000-lead
       -- simulation: 1,598 waiting calls of capped campaigns, 10.0 -> 0.9 ms; migration
       -- 20261207101200). The same rows: c.id = k.campaign_id when the campaign exists,
       -- and a missing campaign is in no cap either way.
       and (k.campaign_id is null or k.campaign_id not in (select id from capped))
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
    join leads l on l.id = q.lead_id
    left join campaigns c on c.id = q.campaign_id
    left join internal.leads_recent_attempts(array(select lead_id from picked), p_now) r
      on r.lead_id = q.lead_id
   order by q.s1 desc nulls last, q.s2 desc, q.s3, q.s4 desc, q.id;
$$;
