-- drip_set_based: written by `nightshift db diff drip_set_based` from supabase/schemas/
-- at 2026-12-06 18:30:00 UTC. Functions as the schema files define
-- them, executable by service_role only. Review it, then record its sha256
-- (supabase/migrations.sha256).
--
-- Issue 19 (drip set-based): the opt-out and consent checks of a batch are joined into the
-- batch's own query instead of called per row; the settle's plan; the claim sends each
-- campaign and step once per batch.
-- Why: a SQL function whose body reads a table is never inlined as a scalar, so
-- internal.outbox_is_suppressed / internal.outbox_refusal cost a function call (an
-- executor start) per row, twice per claimed step in claim_due_steps (the opted and refused
-- passes), once per row in claim_messages and twice in mark_sending. A set-returning SQL
-- function with no SET clause IS inlined when joined laterally: internal.outbox_check (both
-- rules, one row); the scalar forms now read it, so each rule is written once and stays
-- exactly as strict. (The recent-attempts count stays a call per row: inlined, with stale
-- statistics -- messages analyzed empty, then filled -- it was planned as a scan of messages
-- per row, 1.1-2.5 s a batch instead of 60 ms.)
-- EXPLAIN ANALYZE, bench/dispatch.py's database (10,000 leads, 500 due steps, embedded
-- Postgres 16, 2 cores shared with other sessions):
--   the claim's checks of 500 steps: two function calls per row 25.8 ms (Hash Join, the
--     calls in its Join Filter) -> internal.outbox_check joined laterally 11.1 ms (SubPlans:
--     suppressions, leads_pkey, dnc_numbers, leads_needs_review_idx hashed, consents
--     key: ~1 us a probe);
--   claim_due_steps, 500 steps, warm: 85-138 ms -> 25-32 ms with the recent-attempts count
--     inlined too, 40-60 ms as kept (load average ~4; one checked pass instead of the opted
--     and refused passes each calling the checks);
--   mark_sending of 500 claimed rows: 24-31 ms -> 9-15 ms (measured while a bench ran).
--   complete_steps, 500 leased steps: 92-98 ms -> 28 ms (load average 5.5). Its lateral
--     lookup `where e1.id = r.id and e1.lease_owner = p_worker limit 1` was planned on
--     enrollments_leased_idx (the partial index of leased rows, added for
--     release_orphan_claims after the pkey fix): "Index Scan using enrollments_leased_idx on
--     enrollments e1 ... rows=1 loops=500, 0.135 ms each", every leased row read per item;
--     with the lease compared outside the `limit 1` subquery it is "Index Scan using
--     enrollments_pkey ... loops=500, 0.001 ms each" (EXPLAIN ANALYZE 106 -> 24 ms).

-- internal.outbox_check(text,text,bigint,text)  (13_consent.sql:89)
CREATE OR REPLACE FUNCTION internal.outbox_check(p_channel text, p_kind text, p_lead_id bigint, p_address text)
 RETURNS TABLE(suppressed boolean, refusal text)
 LANGUAGE sql
 STABLE
AS $function$
  select exists (
           select from suppressions s
            where s.address = case when p_channel = 'email' then lower(p_address) else p_address end
              and s.channel in (p_channel, 'all'))
      or exists (
           select from leads l
            where l.id = p_lead_id
              and (l.status = 'do_not_contact'
                   or (p_channel = 'email' and l.email_opted_out_at is not null)
                   or (p_channel = 'sms' and l.sms_opted_out_at is not null)
                   or (p_channel = 'call' and l.calls_opted_out_at is not null)))
      or (p_channel = 'call' and exists (select from dnc_numbers d where d.phone = p_address)),
         case
           when p_lead_id is null then null
           when (p_channel = 'call' or p_kind in ('marketing', 'rescue'))
                and exists (select from leads l where l.id = p_lead_id and l.needs_review is not null)
             then 'needs_review'
           when p_channel = 'sms' and p_kind in ('marketing', 'rescue')
                and exists (select from dnc_numbers d
                             where d.phone = p_address and d.scope = 'calls_texts')
             then 'dnc_list'
           else (select case when k.revoked_at is not null then n.need || '_consent_revoked'
                             when k.id is null then 'no_' || n.need || '_consent' end
                   from (select case when p_channel = 'call' then 'ai_voice'
                                     when p_channel = 'sms' and p_kind in ('marketing', 'rescue')
                                       then 'sms' end need) n
                   left join consents k on k.lead_id = p_lead_id and k.channel = n.need
                  where n.need is not null)
         end;
$function$;
revoke all on function internal.outbox_check(text,text,bigint,text) from public, anon, authenticated;
grant execute on function internal.outbox_check(text,text,bigint,text) to service_role;

-- internal.outbox_refusal(text,text,bigint,text)  (13_consent.sql:127)
CREATE OR REPLACE FUNCTION internal.outbox_refusal(p_channel text, p_kind text, p_lead_id bigint, p_address text)
 RETURNS text
 LANGUAGE sql
 STABLE
AS $function$
  select k.refusal from internal.outbox_check(p_channel, p_kind, p_lead_id, p_address) k;
$function$;
revoke all on function internal.outbox_refusal(text,text,bigint,text) from public, anon, authenticated;
grant execute on function internal.outbox_refusal(text,text,bigint,text) to service_role;

-- internal.outbox_is_suppressed(text,bigint,text)  (03_outbox.sql:172)
CREATE OR REPLACE FUNCTION internal.outbox_is_suppressed(p_channel text, p_lead_id bigint, p_address text)
 RETURNS boolean
 LANGUAGE sql
 STABLE
AS $function$
  select k.suppressed from internal.outbox_check(p_channel, null::text, p_lead_id, p_address) k;
$function$;
revoke all on function internal.outbox_is_suppressed(text,bigint,text) from public, anon, authenticated;
grant execute on function internal.outbox_is_suppressed(text,bigint,text) to service_role;

-- public.claim_due_steps(text,integer,integer,timestamp with time zone)  (02_campaigns.sql:213)
CREATE OR REPLACE FUNCTION public.claim_due_steps(p_worker text, p_limit integer, p_lease_seconds integer, p_now timestamp with time zone DEFAULT now())
 RETURNS TABLE(step jsonb)
 LANGUAGE plpgsql
 SET search_path TO 'public'
AS $function$
#variable_conflict use_column
declare
  v_ids bigint[];
  v_settled bigint[];
begin
  select coalesce(array_agg(x.id), '{}') into v_ids from (
    select e.id from enrollments e
     where e.status = 'active' and e.next_run_at <= p_now
       and (e.lease_expires_at is null or e.lease_expires_at <= p_now)
       and exists (select 1 from campaigns c where c.id = e.campaign_id and c.status = 'active')
     order by e.next_run_at
     limit p_limit
     for update of e skip locked) x;

  -- Each claimed step's opt-out and refusal, checked once for the batch (internal.outbox_check,
  -- inlined: a probe per rule and row instead of two function calls per row).
  with checked as materialized (
    select e2.id, l.id lead_id, s.channel ch,
           coalesce((c.definition->'stop'->>'on_opt_out')::boolean, true) stops,
           k.suppressed, k.refusal
      from enrollments e2
      join campaigns c on c.id = e2.campaign_id
      join campaign_steps s on s.campaign_id = e2.campaign_id and s.position = e2.current_step
      join leads l on l.id = e2.lead_id
      cross join lateral internal.outbox_check(s.channel, 'marketing', l.id,
                   case when s.channel = 'email' then l.email else l.phone end) k
     where e2.id = any (v_ids)
  ), done as (
    -- Past the last step: complete.
    update enrollments e set status = 'completed', next_run_at = null, updated_at = p_now
     where e.id = any (v_ids)
       and not exists (select 1 from campaign_steps s
                        where s.campaign_id = e.campaign_id and s.position = e.current_step)
    returning e.id
  ), opted as (
    -- Opted out of this step's channel: stop (campaign stops on opt-out) or skip the step.
    update enrollments e
       set status = case when o.stops then 'stopped' else 'active' end,
           stopped_reason = case when o.stops then 'opted_out:' || o.ch else e.stopped_reason end,
           current_step = e.current_step + 1, updated_at = p_now
      from checked o
     where e.id = o.id and o.suppressed
    returning e.id
  ), refused as (
    -- Not opted out, but refused (no consent on record for an AI call or a campaign text, a
    -- do-not-call list covering texts, a hold: internal.outbox_check): the step is skipped,
    -- and the next one waits its own delay, as after a step done (complete_steps 'advance').
    update enrollments e set current_step = e.current_step + 1, updated_at = p_now,
           next_run_at = p_now + make_interval(secs => coalesce((
             select s2.delay_seconds from campaign_steps s2
              where s2.campaign_id = e.campaign_id and s2.position = e.current_step + 1), 0))
      from checked r
     where e.id = r.id and not r.suppressed and r.refusal is not null
    returning e.id, r.lead_id, r.ch, r.refusal why
  ), skipped as (
    insert into consent_skips (lead_id, channel, reason, stage, at)
    select lead_id, ch, why, 'claim', p_now from refused where why like '%consent%'
    returning 1
  )
  select coalesce(array_agg(id), '{}') into v_settled
    from (select id from done union all select id from opted
          union all select id from refused) z;

  return query
  with leased as (
    update enrollments e set lease_owner = p_worker,
           lease_expires_at = p_now + make_interval(secs => p_lease_seconds)
     where e.id = any (v_ids) and not (e.id = any (v_settled))
    returning e.*
  ), today as (  -- sends so far today per campaign and channel, counted once per batch
    select m.campaign_id, m.channel, count(*) n from messages m
     where m.campaign_id in (select distinct campaign_id from leased)
       and m.created_at >= date_trunc('day', p_now)
     group by 1, 2
    union all
    select k.campaign_id, 'call', count(*) from calls k
     where k.campaign_id in (select distinct campaign_id from leased)
       and k.created_at >= date_trunc('day', p_now)
     group by 1
  )
  -- The campaign (its whole definition) and the step (its template) in full in the first row
  -- that has them, then only their id: a batch is mostly one campaign and a step or two, and
  -- repeating them in all 500 rows was half of the JSON built, sent and parsed.
  select jsonb_build_object(
    'enrollment_id', e.id, 'position', e.current_step, 'next_run_at', e.next_run_at,
    'campaign', case when row_number() over (partition by c.id order by e.next_run_at, e.id) = 1
                     then jsonb_build_object('id', c.id, 'slug', c.slug, 'definition', c.definition)
                     else jsonb_build_object('id', c.id) end,
    'step', case when row_number() over (partition by s.id order by e.next_run_at, e.id) = 1
                 then jsonb_build_object('id', s.id, 'channel', s.channel, 'template', s.template,
                               'window', s.send_window, 'position', s.position,
                               'is_first_of_channel', not exists (
                                 select 1 from campaign_steps p where p.campaign_id = c.id
                                    and p.channel = s.channel and p.position < s.position))
                 else jsonb_build_object('id', s.id) end,
    'lead', to_jsonb(l) - 'score_reasons',
    -- a call per row (not inlined): with stale statistics (messages analyzed empty, then
    -- filled) an inlined form was planned as a scan of messages per row (1.1-2.5 s a batch)
    'recent_attempts', internal.lead_recent_attempts(l.id, p_now),
    'sent_today', coalesce(t.n, 0))
    from leased e
    join campaigns c on c.id = e.campaign_id
    join campaign_steps s on s.campaign_id = e.campaign_id and s.position = e.current_step
    join leads l on l.id = e.lead_id
    left join today t on t.campaign_id = c.id and t.channel = s.channel
   order by e.next_run_at, e.id;
end
$function$;
revoke all on function public.claim_due_steps(text,integer,integer,timestamp with time zone) from public, anon, authenticated;
grant execute on function public.claim_due_steps(text,integer,integer,timestamp with time zone) to service_role;

-- public.claim_messages(bigint[],integer,timestamp with time zone)  (03_outbox.sql:281)
CREATE OR REPLACE FUNCTION public.claim_messages(p_ids bigint[], p_reclaim_after_seconds integer DEFAULT 600, p_now timestamp with time zone DEFAULT now())
 RETURNS TABLE(outcome text, message jsonb)
 LANGUAGE plpgsql
 SET search_path TO 'public'
AS $function$
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
$function$;
revoke all on function public.claim_messages(bigint[],integer,timestamp with time zone) from public, anon, authenticated;
grant execute on function public.claim_messages(bigint[],integer,timestamp with time zone) to service_role;

-- public.mark_sending(bigint[],timestamp with time zone)  (03_outbox.sql:347)
CREATE OR REPLACE FUNCTION public.mark_sending(p_ids bigint[], p_now timestamp with time zone DEFAULT now())
 RETURNS TABLE(id bigint, verdict text)
 LANGUAGE plpgsql
 SET search_path TO 'public'
AS $function$
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
$function$;
revoke all on function public.mark_sending(bigint[],timestamp with time zone) from public, anon, authenticated;
grant execute on function public.mark_sending(bigint[],timestamp with time zone) to service_role;

-- public.complete_steps(text,jsonb,timestamp with time zone)  (02_campaigns.sql:340)
CREATE OR REPLACE FUNCTION public.complete_steps(p_worker text, p_results jsonb, p_now timestamp with time zone DEFAULT now())
 RETURNS TABLE(enrollment_id bigint, status text, current_step integer, next_run_at timestamp with time zone)
 LANGUAGE plpgsql
 SET search_path TO 'public'
AS $function$
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
             select e1.campaign_id, e1.lead_id, e1.current_step, e1.lease_owner
               from enrollments e1 where e1.id = r.id limit 1) e
     where e.lease_owner = p_worker
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
$function$;
revoke all on function public.complete_steps(text,jsonb,timestamp with time zone) from public, anon, authenticated;
grant execute on function public.complete_steps(text,jsonb,timestamp with time zone) to service_role;
