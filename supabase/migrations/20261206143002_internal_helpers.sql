-- nightshift schema, part 15: helpers that only SQL calls move to schema `internal`.
--
-- A function in `public` is an endpoint: PostgREST exposes that schema, and service_role
-- could call a helper such as webhooks_store_event directly (store a webhook event that
-- nothing applies). The helpers also sat one letter away from what Python calls
-- (webhooks_store_event beside webhook_store_only). Every function Python calls by name
-- stays in public with its name and signature; the 21 helpers that only other SQL calls
-- move to `internal`, which PostgREST does not expose, and their callers are recreated
-- to call them by qualified name.
--
-- This is the first migration written against supabase/schemas/, which from now on holds
-- the current definition of every table, function and grant (one domain per file); a new
-- migration is what `nightshift db diff NAME` writes from a change there.

-- ---------------------------------------------------------------------------------------
-- the schema: reachable by service_role (which runs every function), by nobody else
-- ---------------------------------------------------------------------------------------
create schema if not exists internal;
revoke all on schema internal from public;
grant usage on schema internal to service_role;
-- As for public (part 1). Per-schema default privileges can add a grant but cannot take away
-- the global default (EXECUTE for PUBLIC), which is why secure_functions() still runs last.
alter default privileges in schema internal grant execute on functions to service_role;

-- ---------------------------------------------------------------------------------------
-- the move: `alter function ... set schema` keeps each function's oid, so the scoring
-- triggers (part 13) follow their functions without being recreated
-- ---------------------------------------------------------------------------------------
alter function secure_functions() set schema internal;
alter function outbox_is_suppressed(text, bigint, text) set schema internal;
alter function campaign_enroll_cap(campaigns, timestamptz) set schema internal;
alter function lead_recent_attempts(bigint, timestamptz) set schema internal;
alter function webhooks_store_event(text, text, text, jsonb, timestamptz) set schema internal;
alter function webhooks_mark_event(bigint, text, text) set schema internal;
alter function webhooks_message_rank(text) set schema internal;
alter function webhooks_call_rank(text) set schema internal;
alter function webhooks_suppress(text, bigint, text, text, text, timestamptz) set schema internal;
alter function webhooks_advance_lead(bigint, text, timestamptz) set schema internal;
alter function alert_severity_rank(text) set schema internal;
alter function alert_new_code() set schema internal;
alter function alert_is_silenced(text, timestamptz) set schema internal;
alter function appointments_cancel_pending(bigint, integer, text, timestamptz) set schema internal;
alter function appointments_view(bigint) set schema internal;
alter function appointment_cancel(bigint, text, timestamptz) set schema internal;
alter function status_aggregates(text, timestamptz) set schema internal;
alter function webhooks_vapi_lead(jsonb) set schema internal;
alter function scoring_mark(bigint[]) set schema internal;
alter function scoring_mark_new_rows() set schema internal;
alter function scoring_mark_row() set schema internal;

-- The webhook helpers take names that say what they do, so that no helper is one letter
-- away from a public webhook_... function.
alter function internal.webhooks_store_event(text, text, text, jsonb, timestamptz)
  rename to webhook_store_event;
alter function internal.webhooks_mark_event(bigint, text, text) rename to webhook_mark_event;
alter function internal.webhooks_message_rank(text) rename to message_status_rank;
alter function internal.webhooks_call_rank(text) rename to call_status_rank;
alter function internal.webhooks_suppress(text, bigint, text, text, text, timestamptz)
  rename to webhook_suppress;
alter function internal.webhooks_advance_lead(bigint, text, timestamptz)
  rename to lead_advance_status;
alter function internal.appointments_cancel_pending(bigint, integer, text, timestamptz)
  rename to appointment_cancel_reminders;
alter function internal.appointments_view(bigint) rename to appointment_view;
alter function internal.webhooks_vapi_lead(jsonb) rename to vapi_call_lead;

-- No caller since part 11 (20261126001100_webhook_ingest.sql): the Vapi functions insert
-- a missing call row themselves.
drop function public.webhooks_vapi_call(jsonb, timestamptz);

-- ---------------------------------------------------------------------------------------
-- secure_functions() covers both schemas
-- ---------------------------------------------------------------------------------------
create or replace function internal.secure_functions() returns integer
language plpgsql set search_path = public as $$
declare
  f record;
  v_n integer := 0;
begin
  for f in
    select p.oid::regprocedure as sig
      from pg_proc p join pg_namespace n on n.oid = p.pronamespace
     where n.nspname in ('public', 'internal')
  loop
    execute format('revoke all on function %s from public, anon, authenticated', f.sig);
    execute format('grant execute on function %s to service_role', f.sig);
    v_n := v_n + 1;
  end loop;
  return v_n;
end
$$;

-- ---------------------------------------------------------------------------------------
-- every function that calls a helper, recreated with the helper's qualified name; bodies
-- are otherwise those of the parts before (supabase/schemas/ has them with their comments)
-- ---------------------------------------------------------------------------------------

create or replace function internal.appointment_cancel(
  p_id bigint, p_reason text, p_now timestamptz
)
returns appointments
language plpgsql set search_path = public as $$
declare
  v appointments;
begin
  update appointments set status = 'cancelled', cancelled_at = p_now, updated_at = p_now,
         notes = concat_ws(' | ', notes, 'cancelled: ' || p_reason)
   where id = p_id and status in ('booked', 'confirmed')
  returning * into v;
  if not found then
    select * into v from appointments where id = p_id;
  end if;
  perform internal.appointment_cancel_reminders(p_id, 2147483647, 'cancelled', p_now);
  return v;
end
$$;

create or replace function internal.scoring_mark_new_rows()
returns trigger
language plpgsql set search_path = public as $$
begin
  if tg_table_name = 'leads' then
    perform internal.scoring_mark(array(select id from new_rows));
  else
    perform internal.scoring_mark(array(select lead_id from new_rows));
  end if;
  return null;
end
$$;

create or replace function internal.scoring_mark_row()
returns trigger
language plpgsql set search_path = public as $$
begin
  if tg_table_name = 'leads' then
    perform internal.scoring_mark(array[new.id]);
  elsif tg_table_name = 'webhook_events' then
    perform internal.scoring_mark(
      array(select l.id from leads l where l.phone = new.payload->>'From'));
  else
    perform internal.scoring_mark(array[new.lead_id]);
  end if;
  return null;
end
$$;

create or replace function claim_call(
  p_id bigint, p_max_in_flight integer default 10, p_reclaim_after_seconds integer default 600,
  p_now timestamptz default now()
) returns table (outcome text, call jsonb)
language plpgsql set search_path = public as $$
declare
  v calls;
  v_outcome text;
begin
  -- Serialises concurrent claims so the in-flight count below cannot be raced.
  perform pg_advisory_xact_lock(hashtext('claim_call'));
  select * into v from calls where id = p_id for update;
  if not found then
    raise exception 'no call %', p_id using errcode = 'P0002';
  end if;
  -- A call Vapi already accepted is done, whatever status the webhooks have reached.
  if v.status not in ('queued', 'placing') or v.vapi_call_id is not null then
    return query select 'done'::text, to_jsonb(v);
    return;
  end if;
  if internal.outbox_is_suppressed('call', v.lead_id, v.to_number) then
    update calls set status = 'cancelled', error_code = 'suppressed',
           error_message = 'do-not-call covers this number', updated_at = p_now
     where id = p_id returning * into v;
    return query select 'suppressed'::text, to_jsonb(v);
    return;
  end if;
  if v.status = 'placing'
     and v.claimed_at > p_now - make_interval(secs => p_reclaim_after_seconds) then
    return query select 'busy'::text, to_jsonb(v);
    return;
  end if;
  -- In flight = not ended and touched in the last 2 h: a row whose end-of-call webhook was
  -- lost stops counting then (the webhook reconciler closes it with GET /call/{id}).
  if v.status = 'queued' and (select count(*) from calls c where c.id <> p_id
        and c.status in ('placing', 'ringing', 'in-progress', 'forwarding')
        and c.updated_at > p_now - interval '2 hours') >= p_max_in_flight then
    return query select 'concurrency'::text, to_jsonb(v);
    return;
  end if;
  v_outcome := case when v.status = 'placing' then 'reclaimed' else 'claimed' end;
  update calls set status = 'placing', attempts = attempts + 1, claimed_at = p_now,
         updated_at = p_now,
         ambiguous_since = case when v_outcome = 'reclaimed'
                                then coalesce(ambiguous_since, claimed_at)
                                else ambiguous_since end
   where id = p_id returning * into v;
  return query select v_outcome, to_jsonb(v);
end
$$;

create or replace function claim_messages(
  p_ids bigint[], p_reclaim_after_seconds integer default 600, p_now timestamptz default now()
) returns table (outcome text, message jsonb)
language plpgsql set search_path = public as $$
#variable_conflict use_column
begin
  return query
  with locked as (
    select m.*, internal.outbox_is_suppressed(m.channel, m.lead_id, m.to_address) suppressed
      from messages m where m.id = any (p_ids) order by m.id for update
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

create or replace function enroll_leads(p_now timestamptz default now())
returns table (campaign_id bigint, slug text, enrolled integer, cap integer)
language plpgsql set search_path = public as $$
#variable_conflict use_column
declare
  c campaigns;
  v_cap integer;
  v_today integer;
  v_first integer;
  v_n integer;
  a jsonb;
begin
  for c in select * from campaigns where status = 'active' order by id for update loop
    a := coalesce(c.definition->'audience', '{}');
    v_cap := internal.campaign_enroll_cap(c, p_now);
    select count(*) into v_today from enrollments e
     where e.campaign_id = c.id and e.enrolled_at >= date_trunc('day', p_now);
    select s.delay_seconds into v_first from campaign_steps s
     where s.campaign_id = c.id order by s.position limit 1;
    v_n := 0;
    if v_first is not null and v_cap > v_today then
      insert into enrollments (campaign_id, lead_id, next_run_at, enrolled_at, updated_at)
      select c.id, l.id, p_now + make_interval(secs => v_first), p_now, p_now
        from leads l
       where l.status = any (coalesce(
               (select array_agg(x) from jsonb_array_elements_text(a->'status') x),
               array['new', 'contacted', 'engaged']))
         and (jsonb_typeof(a->'industry') is distinct from 'array' or l.industry in (select jsonb_array_elements_text(a->'industry')))
         and (jsonb_typeof(a->'source') is distinct from 'array' or l.source in (select jsonb_array_elements_text(a->'source')))
         and (jsonb_typeof(a->'state') is distinct from 'array' or l.state in (select jsonb_array_elements_text(a->'state')))
         and coalesce(l.score, 0) >= coalesce((a->>'min_score')::real, 0)
         and not (l.email_opted_out_at is not null and l.sms_opted_out_at is not null
                  and l.calls_opted_out_at is not null)
         and not exists (select 1 from enrollments e where e.campaign_id = c.id and e.lead_id = l.id)
       order by l.score desc nulls last, l.created_at desc, l.id
       limit v_cap - v_today
      on conflict do nothing;
      get diagnostics v_n = row_count;
    end if;
    return query select c.id, c.slug, v_n, v_cap;
  end loop;
end
$$;

create or replace function claim_due_steps(
  p_worker text, p_limit integer, p_lease_seconds integer, p_now timestamptz default now()
) returns table (step jsonb)
language plpgsql set search_path = public as $$
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

  -- Past the last step: complete.
  with done as (
    update enrollments e set status = 'completed', next_run_at = null, updated_at = p_now
     where e.id = any (v_ids)
       and not exists (select 1 from campaign_steps s
                        where s.campaign_id = e.campaign_id and s.position = e.current_step)
    returning e.id
  ), opted as (
    -- Opted out of this step's channel: stop (campaign stops on opt-out) or skip the step.
    update enrollments e
       set status = case when stops then 'stopped' else 'active' end,
           stopped_reason = case when stops then 'opted_out:' || ch else e.stopped_reason end,
           current_step = e.current_step + 1, updated_at = p_now
      from (select e2.id, s.channel ch,
                   coalesce((c.definition->'stop'->>'on_opt_out')::boolean, true) stops
              from enrollments e2
              join campaigns c on c.id = e2.campaign_id
              join campaign_steps s on s.campaign_id = e2.campaign_id
                                   and s.position = e2.current_step
              join leads l on l.id = e2.lead_id
             where e2.id = any (v_ids)
               and internal.outbox_is_suppressed(s.channel, l.id,
                     case when s.channel = 'email' then l.email else l.phone end)) o
     where e.id = o.id
    returning e.id
  )
  select coalesce(array_agg(id), '{}') into v_settled
    from (select id from done union all select id from opted) z;

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
  select jsonb_build_object(
    'enrollment_id', e.id, 'position', e.current_step, 'next_run_at', e.next_run_at,
    'campaign', jsonb_build_object('id', c.id, 'slug', c.slug, 'definition', c.definition),
    'step', jsonb_build_object('id', s.id, 'channel', s.channel, 'template', s.template,
                               'window', s.send_window, 'position', s.position,
                               'is_first_of_channel', not exists (
                                 select 1 from campaign_steps p where p.campaign_id = c.id
                                    and p.channel = s.channel and p.position < s.position)),
    'lead', to_jsonb(l) - 'score_reasons',
    'recent_attempts', internal.lead_recent_attempts(l.id, p_now),
    'sent_today', coalesce(t.n, 0))
    from leased e
    join campaigns c on c.id = e.campaign_id
    join campaign_steps s on s.campaign_id = e.campaign_id and s.position = e.current_step
    join leads l on l.id = e.lead_id
    left join today t on t.campaign_id = c.id and t.channel = s.channel
   order by e.next_run_at;
end
$$;

create or replace function call_queue(p_limit integer, p_now timestamptz default now())
returns table (call jsonb, in_flight integer)
language sql stable set search_path = public as $$
  select jsonb_build_object(
           'id', k.id, 'lead', to_jsonb(l) - 'score_reasons', 'not_before', k.not_before,
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
   order by l.score desc nulls last, l.created_at desc, k.id
   limit p_limit;
$$;

create or replace function webhook_twilio_inbound(
  p_dedupe_key text, p_kind text, p_payload jsonb, p_from text, p_notify jsonb,
  p_now timestamptz
) returns table (duplicate boolean, event_id bigint, lead_id bigint, stopped integer,
                 message_ids bigint[])
language plpgsql set search_path = public as $$
#variable_conflict use_column
declare
  v_event bigint;
  v_lead bigint;
  v_stopped integer := 0;
  v_ids bigint[] := '{}';
  v_msg jsonb;
begin
  v_event := internal.webhook_store_event('twilio', p_dedupe_key, 'sms.' || p_kind, p_payload,
                                           p_now);
  if v_event is null then
    return query select true, null::bigint, null::bigint, 0, '{}'::bigint[];
    return;
  end if;
  select l.id into v_lead from leads l where l.phone = p_from;
  if p_kind = 'stop' then
    perform internal.webhook_suppress('sms', v_lead, p_from, 'stop', 'twilio:inbound', p_now);
    v_stopped := apply_stop_rules(v_lead, 'opt_out', p_now);
    update messages set status = 'cancelled', error_code = 'suppressed', updated_at = p_now,
           status_history = status_history
             || jsonb_build_object('status', 'cancelled', 'at', p_now, 'reason', 'sms_stop')
     where channel = 'sms' and status = 'queued'
       and (to_address = p_from or messages.lead_id = v_lead);
  elsif p_kind = 'start' then
    update leads set sms_opted_out_at = null, updated_at = p_now where id = v_lead;
    delete from suppressions where channel = 'sms' and address = p_from and reason = 'stop';
  elsif p_kind = 'reply' then
    perform internal.lead_advance_status(v_lead, 'engaged', p_now);
    v_stopped := apply_stop_rules(v_lead, 'reply', p_now);
  end if;
  for v_msg in select * from jsonb_array_elements(coalesce(p_notify, '[]')) loop
    if v_msg->>'channel' = 'sms' and v_lead is not null then
      v_msg := v_msg || jsonb_build_object('lead_id', v_lead);
    end if;
    v_ids := v_ids || (select m.id from enqueue_message(v_msg, p_now) m);
  end loop;
  return query select false, v_event, v_lead, v_stopped, v_ids;
end
$$;

create or replace function webhook_twilio_status(
  p_dedupe_key text, p_payload jsonb, p_outbox_id bigint, p_message_sid text,
  p_twilio_status text, p_status text, p_error_code text, p_permanent boolean,
  p_opt_out boolean, p_now timestamptz
) returns table (duplicate boolean, event_id bigint, message_id bigint, status text)
language plpgsql set search_path = public as $$
#variable_conflict use_column
declare
  v_event bigint;
  v messages;
begin
  v_event := internal.webhook_store_event('twilio', p_dedupe_key, 'sms.status', p_payload, p_now);
  if v_event is null then
    return query select true, null::bigint, null::bigint, null::text;
    return;
  end if;
  -- by our id first, else by Twilio's sid (messages_provider_id_idx)
  select * into v from messages m where m.id = p_outbox_id and m.channel = 'sms' for update;
  if not found then
    select * into v from messages m
     where m.provider = 'twilio' and m.provider_id = p_message_sid limit 1 for update;
  end if;
  if v.id is null then
    perform internal.webhook_mark_event(v_event, 'ignored', 'no outbox message for this callback');
    return query select false, v_event, null::bigint, null::text;
    return;
  end if;
  update messages m set
    status = case when internal.message_status_rank(p_status)
                       > internal.message_status_rank(m.status)
                  then p_status else m.status end,
    provider_id = coalesce(m.provider_id, p_message_sid),
    error_code = coalesce(p_error_code, m.error_code), updated_at = p_now,
    status_history = m.status_history || jsonb_strip_nulls(jsonb_build_object(
      'status', p_twilio_status, 'at', p_now, 'source', 'twilio',
      'error_code', p_error_code, 'permanent', case when p_permanent then true end))
   where m.id = v.id returning * into v;
  if p_opt_out then
    perform internal.webhook_suppress('sms', v.lead_id, v.to_address, 'stop', 'twilio:21610',
                                      p_now);
    perform apply_stop_rules(v.lead_id, 'opt_out', p_now);
  end if;
  return query select false, v_event, v.id, v.status;
end
$$;

create or replace function webhook_resend_event(
  p_dedupe_key text, p_event_type text, p_payload jsonb, p_email_id text, p_outbox_id bigint,
  p_address text, p_status text, p_suppress text, p_click jsonb, p_now timestamptz
) returns table (duplicate boolean, event_id bigint, message_id bigint, lead_id bigint)
language plpgsql set search_path = public as $$
#variable_conflict use_column
declare
  v_event bigint;
  v messages;
  v_lead bigint;
begin
  v_event := internal.webhook_store_event('resend', p_dedupe_key, p_event_type, p_payload, p_now);
  if v_event is null then
    return query select true, null::bigint, null::bigint, null::bigint;
    return;
  end if;
  -- by Resend's email id (messages_provider_id_idx), else by our outbox_id tag
  select * into v from messages m
   where m.provider = 'resend' and m.provider_id = p_email_id limit 1 for update;
  if not found then
    select * into v from messages m where m.id = p_outbox_id and m.channel = 'email' for update;
  end if;
  v_lead := v.lead_id;
  if v_lead is null and p_address is not null then
    select l.id into v_lead from leads l where l.email = lower(p_address);
  end if;
  if v.id is not null then
    update messages m set
      status = case when internal.message_status_rank(p_status)
                         > internal.message_status_rank(m.status)
                    then p_status else m.status end,
      provider_id = coalesce(m.provider_id, p_email_id), updated_at = p_now,
      status_history = m.status_history || jsonb_strip_nulls(jsonb_build_object(
        'status', coalesce(p_status, p_event_type), 'at', p_now, 'source', 'resend',
        'event', p_event_type, 'created_at', p_payload->>'created_at'))
     where m.id = v.id;
  end if;
  if p_suppress is not null and p_address is not null then
    perform internal.webhook_suppress('email', v_lead, lower(p_address), p_suppress,
                              'resend:' || p_event_type, p_now);
    perform apply_stop_rules(v_lead, 'opt_out', p_now);
  end if;
  if p_click is not null then
    insert into click_events (token, message_id, lead_id, url, clicked_at, ip, user_agent)
    values ('resend:' || coalesce(p_email_id, ''), v.id, v_lead,
            coalesce(p_click->>'link', ''), p_now, (p_click->>'ip')::inet,
            p_click->>'user_agent');
    perform internal.lead_advance_status(v_lead, 'engaged', p_now);
  end if;
  if v.id is null and v_lead is null then
    perform internal.webhook_mark_event(v_event, 'ignored', 'no message or lead for this event');
  end if;
  return query select false, v_event, v.id, v_lead;
end
$$;

create or replace function webhook_vapi_status(
  p_dedupe_key text, p_payload jsonb, p_call jsonb, p_now timestamptz
) returns table (duplicate boolean, event_id bigint, call_id bigint, status text)
language plpgsql set search_path = public as $$
#variable_conflict use_column
declare
  v_event bigint;
  v_call bigint;
  v_result text;
  v_inserted boolean;
  v_id text := p_call->>'vapi_call_id';
  v_status text := p_call->>'status';
  v_started timestamptz := (p_call->>'started_at')::timestamptz;
  v_ended timestamptz := (p_call->>'ended_at')::timestamptz;
begin
  v_event := internal.webhook_store_event('vapi', p_dedupe_key, 'status-update', p_payload, p_now);
  if v_event is null then
    return query select true, null::bigint, null::bigint, null::text;
    return;
  end if;
  select c.id into v_call from calls c where c.vapi_call_id = v_id for update;
  if not found then
    insert into calls as c (idempotency_key, vapi_call_id, lead_id, to_number, status,
                            started_at, ended_at, ended_reason, created_at, updated_at)
    values ('vapi:' || v_id, v_id, internal.vapi_call_lead(p_call),
            coalesce(p_call->>'to_number', 'unknown'),
            case when internal.call_status_rank(v_status) > internal.call_status_rank('queued')
                 then v_status else 'queued' end,
            v_started, v_ended, p_call->>'ended_reason', p_now, p_now)
    on conflict (idempotency_key) do update set vapi_call_id = excluded.vapi_call_id
    returning c.id, c.status, (c.xmax = 0) into v_call, v_result, v_inserted;
    if v_inserted then
      return query select false, v_event, v_call, v_result;
      return;
    end if;
  end if;
  update calls c set
    status = case when internal.call_status_rank(v_status) > internal.call_status_rank(c.status)
                  then v_status else c.status end,
    started_at = coalesce(c.started_at, v_started),
    ended_at = coalesce(c.ended_at, v_ended),
    ended_reason = coalesce(c.ended_reason, p_call->>'ended_reason'),
    updated_at = p_now
   where c.id = v_call returning c.status into v_result;
  return query select false, v_event, v_call, v_result;
end
$$;

create or replace function webhook_vapi_report(
  p_dedupe_key text, p_payload jsonb, p_call jsonb, p_now timestamptz
) returns table (duplicate boolean, event_id bigint, call_id bigint, lead_id bigint,
                 outcome text, lead_phone text, lead_timezone text, lead_state text,
                 recent_attempts jsonb)
language plpgsql set search_path = public as $$
#variable_conflict use_column
declare
  v_event bigint;
  v_call bigint;
  v_lead bigint;
  v_placed timestamptz;
  v_inserted boolean := false;
  v_phone text;
  v_timezone text;
  v_state text;
  v_attempts jsonb := '[]';
  v_id text := p_call->>'vapi_call_id';
  v_outcome text := p_call->>'outcome';
  v_ended timestamptz := coalesce((p_call->>'ended_at')::timestamptz, p_now);
  v_started timestamptz := (p_call->>'started_at')::timestamptz;
  v_duration numeric := (p_call->>'duration_seconds')::numeric;
  v_cost numeric := (p_call->>'cost')::numeric;
  v_transcript text := nullif(p_call->>'transcript', '');
  v_analysis jsonb := coalesce(p_call->'analysis', '{}');
  v_step text := case v_outcome when 'booked' then 'booked' when 'answered' then 'engaged'
                                else 'contacted' end;
begin
  v_event := internal.webhook_store_event('vapi', p_dedupe_key, 'end-of-call-report', p_payload,
                                           p_now);
  if v_event is null then
    return query select true, null::bigint, null::bigint, null::bigint, null::text,
                        null::text, null::text, null::text, '[]'::jsonb;
    return;
  end if;
  select c.id into v_call from calls c where c.vapi_call_id = v_id for update;
  if not found then
    insert into calls as c (idempotency_key, vapi_call_id, lead_id, to_number, status,
                            ended_reason, outcome, started_at, ended_at, duration_seconds,
                            cost, summary, transcript, recording_url, analysis, created_at,
                            updated_at)
    values ('vapi:' || v_id, v_id, internal.vapi_call_lead(p_call),
            coalesce(p_call->>'to_number', 'unknown'), 'ended', p_call->>'ended_reason',
            v_outcome, v_started, v_ended, v_duration, v_cost, p_call->>'summary',
            v_transcript, p_call->>'recording_url', '{}'::jsonb || v_analysis, p_now, p_now)
    on conflict (idempotency_key) do update set vapi_call_id = excluded.vapi_call_id
    returning c.id, c.lead_id, c.placed_at, (c.xmax = 0)
      into v_call, v_lead, v_placed, v_inserted;
  end if;
  if not v_inserted then
    update calls c set
      status = case when c.status = 'cancelled' then c.status else 'ended' end,
      ended_reason = coalesce(p_call->>'ended_reason', c.ended_reason), outcome = v_outcome,
      started_at = coalesce(v_started, c.started_at),
      ended_at = v_ended,
      duration_seconds = coalesce(v_duration, c.duration_seconds),
      cost = coalesce(v_cost, c.cost),
      summary = coalesce(p_call->>'summary', c.summary),
      transcript = coalesce(v_transcript, c.transcript),
      recording_url = coalesce(p_call->>'recording_url', c.recording_url),
      analysis = c.analysis || v_analysis, updated_at = p_now
     where c.id = v_call returning c.lead_id, c.placed_at into v_lead, v_placed;
  end if;
  if v_lead is not null then
    update leads l set
      last_called_at = greatest(coalesce(l.last_called_at, v_ended), v_ended),
      call_attempts = l.call_attempts + case when v_placed is null then 1 else 0 end,
      status = case when array_position(array['new', 'contacted', 'engaged', 'booked'], l.status)
                         < array_position(array['new', 'contacted', 'engaged', 'booked'], v_step)
                    then v_step else l.status end,  -- internal.lead_advance_status, same update
      updated_at = p_now
     where l.id = v_lead returning l.phone, l.timezone, l.state
      into v_phone, v_timezone, v_state;
    if v_outcome = 'booked' then
      perform apply_stop_rules(v_lead, 'booking', p_now);
    end if;
    -- attempts (texts and calls) of the last 24 h, for the gate's per-state caps: the one
    -- definition (lead_recent_attempts: by when sent or placed). This copy counted rows by
    -- created_at, so a call queued yesterday and placed today was missed and the rescue
    -- text went out as a fourth contact (a 10,000-lead, 30-day simulation).
    v_attempts := internal.lead_recent_attempts(v_lead, p_now);
  end if;
  return query select false, v_event, v_call, v_lead, v_outcome, v_phone, v_timezone,
                      v_state, v_attempts;
end
$$;

create or replace function webhook_enqueue_rescue(
  p_lead_id bigint, p_message jsonb, p_now timestamptz
) returns setof messages
language plpgsql set search_path = public as $$
declare
  v_lead leads;
begin
  perform pg_advisory_xact_lock(hashtext('rescue:' || p_lead_id));
  select * into v_lead from leads where id = p_lead_id;
  if v_lead.id is null or v_lead.phone is null
     or internal.outbox_is_suppressed('sms', v_lead.id, v_lead.phone)
     or exists (select from messages m where m.lead_id = p_lead_id and m.kind = 'rescue'
                   and m.created_at > p_now - interval '24 hours') then
    return;
  end if;
  return query select * from enqueue_message(
    p_message || jsonb_build_object('lead_id', v_lead.id, 'to_address', v_lead.phone,
                                    'channel', 'sms', 'kind', 'rescue'), p_now);
end
$$;

create or replace function webhook_store_only(
  p_provider text, p_dedupe_key text, p_event_type text, p_payload jsonb, p_now timestamptz
) returns boolean
language plpgsql set search_path = public as $$
begin
  return internal.webhook_store_event(p_provider, p_dedupe_key, p_event_type, p_payload, p_now)
         is not null;
end
$$;

create or replace function webhook_book_appointment(p_booking jsonb, p_now timestamptz)
returns table (outcome text, appointment_id bigint, lead_id bigint, starts_at timestamptz)
language plpgsql set search_path = public as $$
#variable_conflict use_column
declare
  v appointments;
  v_lead bigint;
  v_start timestamptz := (p_booking->>'starts_at')::timestamptz;
  v_end timestamptz := (p_booking->>'ends_at')::timestamptz;
begin
  perform pg_advisory_xact_lock(hashtext('appointments'));
  select * into v from appointments a where a.external_id = p_booking->>'external_id';
  if found then
    return query select 'existing'::text, v.id, v.lead_id, v.starts_at;
    return;
  end if;
  if exists (select from webhook_booked_slots(v_start, v_end)) then
    return query select 'taken'::text, null::bigint, null::bigint, v_start;
    return;
  end if;
  select l.id into v_lead from leads l where l.phone = p_booking->>'phone';
  if v_lead is null then
    select c.lead_id into v_lead from calls c where c.vapi_call_id = p_booking->>'vapi_call_id';
  end if;
  if v_lead is null and p_booking->>'phone' ~ '^\+[1-9][0-9]{6,14}$' then
    insert into leads (name, phone, source, created_at, updated_at)
    values (p_booking->>'name', p_booking->>'phone', 'vapi', p_now, p_now)
    returning id into v_lead;
  end if;
  if v_lead is null then
    return query select 'no_lead'::text, null::bigint, null::bigint, v_start;
    return;
  end if;
  insert into appointments (lead_id, starts_at, ends_at, timezone, status, source,
                            external_id, notes, created_at, updated_at)
  values (v_lead, v_start, v_end, p_booking->>'timezone', 'booked', 'vapi',
          p_booking->>'external_id', p_booking->>'notes', p_now, p_now)
  returning * into v;
  perform internal.lead_advance_status(v_lead, 'booked', p_now);
  perform apply_stop_rules(v_lead, 'booking', p_now);
  return query select 'booked'::text, v.id, v_lead, v.starts_at;
end
$$;

create or replace function webhook_record_click(p_click jsonb, p_now timestamptz)
returns bigint
language plpgsql set search_path = public as $$
declare
  v_message bigint;
  v_lead bigint;
  v_id bigint;
begin
  select id, lead_id into v_message, v_lead from messages
   where id = (p_click->>'message_id')::bigint;
  select id into v_lead from leads
   where id = coalesce((p_click->>'lead_id')::bigint, v_lead);
  insert into click_events (token, message_id, lead_id, url, clicked_at, ip, user_agent)
  values (p_click->>'token', v_message, v_lead, p_click->>'url', p_now,
          (p_click->>'ip')::inet, left(p_click->>'user_agent', 500))
  returning id into v_id;
  update messages set status = 'clicked', updated_at = p_now,
         status_history = status_history
           || jsonb_build_object('status', 'clicked', 'at', p_now, 'source', 'link')
   where id = v_message
     and internal.message_status_rank(status) < internal.message_status_rank('clicked');
  perform internal.lead_advance_status(v_lead, 'engaged', p_now);
  return v_id;
end
$$;

create or replace function webhook_unsubscribe(
  p_email text, p_lead_id bigint, p_source text, p_now timestamptz
) returns table (already boolean, lead_id bigint)
language plpgsql set search_path = public as $$
#variable_conflict use_column
declare
  v_lead bigint;
  v_already boolean;
begin
  select l.id into v_lead from leads l
   where l.id = p_lead_id or (p_lead_id is null and l.email = lower(p_email))
   order by (l.id = p_lead_id) desc nulls last limit 1;
  v_already := exists (select from suppressions s
                        where s.channel in ('email', 'all') and s.address = lower(p_email));
  perform internal.webhook_suppress('email', v_lead, lower(p_email), 'unsubscribe', p_source,
                                    p_now);
  perform apply_stop_rules(v_lead, 'opt_out', p_now);
  return query select v_already, v_lead;
end
$$;

create or replace function alert_raise(
  p_key text, p_severity text, p_title text, p_details jsonb default '{}',
  p_escalate_after_seconds integer default 900, p_escalate_now boolean default false,
  p_now timestamptz default now()
) returns table (created boolean, alert jsonb)
language plpgsql set search_path = public as $$
declare
  v alerts;
  v_escalate timestamptz := case when p_escalate_now then p_now
                                 else p_now + make_interval(secs => p_escalate_after_seconds) end;
begin
  if internal.alert_severity_rank(p_severity) is null then
    raise exception 'unknown severity %', p_severity using errcode = '22023';
  end if;
  loop
    update alerts a set
      count = a.count + 1, last_seen_at = p_now, title = p_title,
      details = coalesce(p_details, '{}'),
      severity = case when internal.alert_severity_rank(p_severity)
                           > internal.alert_severity_rank(a.severity)
                      then p_severity else a.severity end,
      last_notified_at = case when internal.alert_severity_rank(p_severity)
                                   > internal.alert_severity_rank(a.severity)
                              then null else a.last_notified_at end,
      escalate_due_at = case when p_severity = 'critical'
                             then least(coalesce(a.escalate_due_at, v_escalate), v_escalate)
                             else a.escalate_due_at end
     where a.key = p_key and a.status = 'firing'
    returning * into v;
    if found then
      return query select false, to_jsonb(v);
      return;
    end if;
    begin
      insert into alerts (key, severity, code, title, details, first_seen_at, last_seen_at,
                          escalate_due_at)
      values (p_key, p_severity, internal.alert_new_code(), p_title, coalesce(p_details, '{}'),
              p_now,
              p_now, case when p_severity = 'critical' then v_escalate end)
      returning * into v;
    exception when unique_violation then
      continue;  -- a concurrent raise won the key, or the code collided: try again
    end;
    if p_severity = 'info' then
      insert into system_logs (at, level, source, message, context)
      values (p_now, 'info', 'alert', p_title,
              jsonb_build_object('key', p_key, 'details', coalesce(p_details, '{}')));
    end if;
    return query select true, to_jsonb(v);
    return;
  end loop;
end
$$;

create or replace function alerts_list(
  p_include_resolved boolean default false, p_limit integer default 50,
  p_now timestamptz default now()
) returns table (alert jsonb, silenced boolean)
language sql stable set search_path = public as $$
  select to_jsonb(a), internal.alert_is_silenced(a.key, p_now)
    from alerts a
   where p_include_resolved or a.status = 'firing'
   order by (a.status = 'firing') desc, a.last_seen_at desc, a.id desc
   limit p_limit;
$$;

create or replace function alert_notifications_due(
  p_hold_seconds integer, p_repeat_warning_seconds integer, p_repeat_critical_seconds integer,
  p_escalate boolean, p_now timestamptz default now()
) returns table (reason text, alert jsonb)
language sql stable set search_path = public as $$
  with candidates as (
    select a.* from alerts a
     where a.severity <> 'info' and not internal.alert_is_silenced(a.key, p_now)
       and (a.status = 'firing'
            or (a.resolve_notified_at is null and cardinality(a.notified_channels) > 0))
  )
  select 'new', to_jsonb(c) from candidates c
   where c.status = 'firing' and c.last_notified_at is null
     and c.first_seen_at <= p_now - make_interval(secs => p_hold_seconds)
  union all
  select 'repeat', to_jsonb(c) from candidates c
   where c.status = 'firing' and c.acknowledged_at is null and c.last_notified_at is not null
     and c.last_notified_at <= p_now - make_interval(secs => case c.severity
           when 'critical' then p_repeat_critical_seconds else p_repeat_warning_seconds end)
  union all
  select 'escalate', to_jsonb(c) from candidates c
   where p_escalate and c.status = 'firing' and c.severity = 'critical'
     and c.acknowledged_at is null and c.escalated_at is null and c.escalate_due_at <= p_now
  union all
  select 'resolved', to_jsonb(c) from candidates c
   where c.status = 'resolved';
$$;

create or replace function appointments_upsert(
  p_booking jsonb, p_now timestamptz, p_event jsonb default null
) returns table (outcome text, appointment jsonb)
language plpgsql set search_path = public as $$
declare
  v appointments;
  v_lead bigint;
  v_start timestamptz := (p_booking->>'starts_at')::timestamptz;
  v_end timestamptz := (p_booking->>'ends_at')::timestamptz;
  v_phone text := nullif(p_booking->>'phone', '');
  v_email text := lower(nullif(p_booking->>'email', ''));
begin
  perform pg_advisory_xact_lock(hashtext('appointments'));
  if p_event is not null and internal.webhook_store_event(
       'booking', p_event->>'dedupe_key', 'booking.' || coalesce(p_booking->>'status', 'booked'),
       p_event->'payload', p_now) is null then
    return query select 'duplicate'::text, null::jsonb;
    return;
  end if;
  select * into v from appointments a
   where a.external_id = p_booking->>'external_id' for update;
  if found then
    if p_booking->>'status' = 'cancelled' then
      return query select (case when v.status = 'cancelled' then 'unchanged'
                                else 'cancelled' end),
                          internal.appointment_view(
                            (internal.appointment_cancel(v.id, 'booking', p_now)).id);
    elsif v.starts_at = v_start and v.ends_at = v_end or v.status = 'cancelled' then
      return query select 'unchanged'::text, internal.appointment_view(v.id);
    else
      perform appointment_reschedule(v.id, v_start, v_end, p_now);
      return query select 'rescheduled'::text, internal.appointment_view(v.id);
    end if;
    return;
  end if;
  if p_booking->>'status' = 'cancelled' then
    return query select 'unknown'::text, null::jsonb;
    return;
  end if;
  select l.id into v_lead from leads l where l.phone = v_phone;
  if v_lead is null then
    select l.id into v_lead from leads l where l.email = v_email;
  end if;
  if v_lead is null and (v_phone is not null or v_email is not null) then
    insert into leads (name, phone, email, timezone, source, created_at, updated_at)
    values (p_booking->>'name', v_phone, v_email, p_booking->>'lead_timezone',
            coalesce(p_booking->>'source', 'booking'), p_now, p_now)
    returning id into v_lead;
  end if;
  if v_lead is null then
    return query select 'no_lead'::text, null::jsonb;
    return;
  end if;
  insert into appointments (lead_id, starts_at, ends_at, timezone, status, source,
                            external_id, notes, created_at, updated_at)
  values (v_lead, v_start, v_end, p_booking->>'timezone', 'booked',
          coalesce(p_booking->>'source', 'manual'), p_booking->>'external_id',
          p_booking->>'notes', p_now, p_now)
  returning * into v;
  perform internal.lead_advance_status(v_lead, 'booked', p_now);
  perform apply_stop_rules(v_lead, 'booking', p_now);
  return query select 'booked'::text, internal.appointment_view(v.id);
end
$$;

create or replace function appointment_reschedule(
  p_id bigint, p_starts_at timestamptz, p_ends_at timestamptz, p_now timestamptz
) returns appointments
language plpgsql set search_path = public as $$
declare
  v appointments;
begin
  update appointments set starts_at = p_starts_at, ends_at = p_ends_at,
         version = version + 1, status = 'booked', confirmed_at = null, updated_at = p_now
   where id = p_id and status in ('booked', 'confirmed', 'no_show')
  returning * into v;
  if found then
    perform internal.appointment_cancel_reminders(p_id, v.version, 'rescheduled', p_now);
  end if;
  return v;
end
$$;

create or replace function appointment_complete(p_id bigint, p_now timestamptz)
returns table (outcome text, appointment jsonb)
language plpgsql set search_path = public as $$
declare
  v appointments;
begin
  select * into v from appointments where id = p_id for update;
  if not found then
    return query select 'not_found'::text, null::jsonb;
    return;
  end if;
  if v.status not in ('booked', 'confirmed', 'no_show') then
    return query select 'refused'::text, internal.appointment_view(p_id);
    return;
  end if;
  update appointments set status = 'completed', completed_at = p_now, updated_at = p_now
   where id = p_id;
  perform internal.appointment_cancel_reminders(p_id, 2147483647, 'completed', p_now);
  return query select 'completed'::text, internal.appointment_view(p_id);
end
$$;

create or replace function appointment_get(p_id bigint)
returns jsonb
language sql stable set search_path = public as $$
  select internal.appointment_view(p_id);
$$;

create or replace function appointments_list(p_from timestamptz, p_to timestamptz,
                                             p_limit integer)
returns setof jsonb
language sql stable set search_path = public as $$
  select internal.appointment_view(a.id) from appointments a
   where a.starts_at >= p_from and a.starts_at < p_to
   order by a.starts_at, a.id limit p_limit;
$$;

create or replace function appointments_to_schedule(p_limit integer, p_now timestamptz)
returns setof jsonb
language sql stable set search_path = public as $$
  select internal.appointment_view(a.id) from appointments a
   where a.scheduled_version < a.version and a.status in ('booked', 'confirmed')
     and a.created_at <= p_now
   order by a.id limit p_limit;
$$;

create or replace function appointments_claim_due(
  p_holder text, p_limit integer, p_lease_seconds integer, p_now timestamptz
) returns table (reminder jsonb, appointment jsonb)
language plpgsql set search_path = public as $$
begin
  update appointment_reminders r set status = 'skipped', reason = 'too_late', updated_at = p_now
    from appointments a
   where a.id = r.appointment_id and r.status = 'scheduled' and r.due_at <= p_now
     and r.kind in ('reminder_24h', 'reminder_1h') and a.starts_at <= p_now;
  update appointment_reminders r set status = 'cancelled', reason = 'inactive', updated_at = p_now
    from appointments a
   where a.id = r.appointment_id and r.status = 'scheduled' and r.due_at <= p_now
     and (a.version <> r.version or a.status not in ('booked', 'confirmed'));
  return query
  with due as (
    select r.id from appointment_reminders r
     where r.due_at <= p_now
       and (r.status = 'scheduled' or (r.status = 'claimed' and r.lease_expires_at < p_now))
     order by r.due_at, r.id
     limit p_limit
     for update skip locked
  ), claimed as (
    update appointment_reminders r set status = 'claimed', lease_owner = p_holder,
           lease_expires_at = p_now + make_interval(secs => p_lease_seconds), updated_at = p_now
      from due where r.id = due.id
    returning r.*
  )
  select to_jsonb(c), internal.appointment_view(c.appointment_id)
    from claimed c order by c.due_at, c.id;
end
$$;

create or replace function appointment_for_reply(p_phone text, p_now timestamptz)
returns setof jsonb
language sql stable set search_path = public as $$
  select internal.appointment_view(a.id)
    from leads l join appointments a on a.lead_id = l.id
   where l.phone = p_phone and a.status in ('booked', 'confirmed') and a.ends_at > p_now
     and exists (select from appointment_reminders r
                  where r.appointment_id = a.id and r.channel = 'sms' and r.status = 'queued')
   order by a.starts_at limit 1;
$$;

create or replace function appointment_apply_reply(
  p_id bigint, p_action text, p_message jsonb, p_now timestamptz
) returns table (appointment jsonb, message_id bigint)
language plpgsql set search_path = public as $$
begin
  if p_action = 'confirm' then
    update appointments set status = 'confirmed', confirmed_at = p_now, updated_at = p_now
     where id = p_id and status = 'booked';
  elsif p_action = 'cancel' then
    perform internal.appointment_cancel(p_id, 'sms reply X', p_now);
  elsif p_action <> 'reschedule' then
    raise exception 'unknown reply action %', p_action using errcode = '22023';
  end if;
  return query select internal.appointment_view(p_id),
                      (select m.id from enqueue_message(p_message, p_now) m);
end
$$;

create or replace function status_refresh(p_tz text, p_now timestamptz)
returns timestamptz
language sql set search_path = public as $$
  insert into status_cache (tz, computed_at, value)
  values (p_tz, p_now, internal.status_aggregates(p_tz, p_now))
  on conflict (tz) do update set computed_at = excluded.computed_at, value = excluded.value
  returning computed_at;
$$;

create or replace function webhook_due_rescue_checks(p_now timestamptz, p_limit integer default 100)
returns table (message jsonb, lead_state text, lead_timezone text, recent_attempts jsonb)
language sql stable set search_path = public as $$
  select to_jsonb(m), l.state, l.timezone, internal.lead_recent_attempts(l.id, p_now)
    from messages m
    join leads l on l.id = m.lead_id
   where m.kind = 'rescue' and m.status = 'queued'
     and coalesce((m.payload->>'not_before')::timestamptz, m.created_at) <= p_now
   order by m.id limit p_limit;
$$;

-- ---------------------------------------------------------------------------------------
-- scoring_dirty (part 13) got RLS but no grants: a lead, message or call written as
-- service_role failed in its scoring trigger on a plain Postgres (on Supabase the platform's
-- default privileges granted it to anon and authenticated too). Now as every other table.
-- ---------------------------------------------------------------------------------------
revoke all on scoring_dirty from public, anon, authenticated;
grant all on scoring_dirty to service_role;
revoke all on sequence scoring_dirty_seq from public, anon, authenticated;
grant usage on sequence scoring_dirty_seq to service_role;

select internal.secure_functions();
