-- Issue 19, stop 26: the connected calls by end. quality_weekly (growth's quality step, the
-- digest, the status page: connected calls that ended in the last 14 days) and
-- training_calls (growth's training step: answered or booked calls of the last 90 days;
-- that outcome implies this predicate) read every call ever made, at every call: both are
-- SQL functions planned with their arguments unknown, and without an index on ended_at
-- the plan was a scan of `calls`. quality_pending (growth's quality step: the ended calls
-- not scored yet, the first p_limit by id) read the row of every call ever made to find
-- the few not scored: it now finds them in calls_ended_idx and call_quality's key alone
-- (index-only, merged by id) and reads only those calls. Same arguments and answers.
-- Figures: bench/growth_steps_ab.py.
create index calls_talked_ended_idx on calls (ended_at)
  where connected_at is not null or outcome in ('answered', 'booked');
create index calls_ended_idx on calls (id) include (ended_at) where status = 'ended';

create or replace function quality_pending(p_limit integer, p_now timestamptz)
returns table (call_id bigint, ended_reason text, outcome text, duration_seconds numeric,
               analysis jsonb, transcript text, messages jsonb)
language sql stable set search_path = public as $$
  select k.id, k.ended_reason, k.outcome, k.duration_seconds, k.analysis, k.transcript,
         coalesce((select w.payload->'message'->'artifact'->'messages' from webhook_events w
                    where w.dedupe_key = 'vapi:' || k.vapi_call_id || ':end-of-call-report'),
                  '[]')
    from calls k
   where k.id in (select c.id from calls c
                   where c.status = 'ended' and c.ended_at <= p_now
                     and not exists (select from call_quality q where q.call_id = c.id)
                   order by c.id
                   limit p_limit)
   order by k.id;
$$;
