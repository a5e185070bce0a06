-- consent_records: issue 14 (consent records per lead and channel; refusals for want of
-- consent, holds and do-not-call lists that cover texts, in the claims and the last-moment
-- check; the release of a held lead). Tables and functions as supabase/schemas/13_consent.sql
-- and the gate functions of 01_core.sql, 02_campaigns.sql and 03_outbox.sql define them;
-- functions executable by service_role only. Written by hand (the tables come first).

create table consents (
  id           bigint generated always as identity primary key,
  lead_id      bigint not null references leads (id) on delete cascade,
  channel      text not null check (channel in ('sms', 'email', 'calls', 'ai_voice')),
  granted_at   timestamptz not null,
  source       text not null
               check (source in ('import', 'booking_form', 'inbound_call', 'web_form',
                                 'operator')),
  consent_text text,                 -- the words the person agreed to
  consent_url  text,                 -- or where they stand (the form, the recording)
  revoked_at   timestamptz,          -- an opt-out of the channel (kept: the record stays)
  revoked_by   text,                 -- what revoked it (stop, dnc, optOut tool, ...)
  created_at   timestamptz not null default now(),
  updated_at   timestamptz not null default now(),
  unique (lead_id, channel)
);
alter table consents enable row level security;
revoke all on consents from public, anon, authenticated;
grant all on consents to service_role;

-- A step or an outbox row refused for want of consent (or for a hold, a do-not-call list):
-- what `nightshift status` counts per reason.
create table consent_skips (
  id       bigint generated always as identity primary key,
  lead_id  bigint references leads (id) on delete cascade,
  channel  text not null,            -- sms | call
  reason   text not null,            -- no_sms_consent | sms_consent_revoked | no_ai_voice_consent | ...
  stage    text not null,            -- claim (drip) | send (mark_sending) | call (claim_call)
  at       timestamptz not null
);
create index consent_skips_at_idx on consent_skips (at);
alter table consent_skips enable row level security;
revoke all on consent_skips from public, anon, authenticated;
grant all on consent_skips to service_role;

-- The operator's releases of held leads (`nightshift leads release`): who, when, why held.
create table consent_releases (
  id          bigint generated always as identity primary key,
  lead_id     bigint not null references leads (id) on delete cascade,
  held_reason text not null,         -- leads.needs_review as it was
  released_by text not null,
  note        text,
  enrollments integer not null,      -- paused enrollments set back to active
  at          timestamptz not null
);
alter table consent_releases enable row level security;
revoke all on consent_releases from public, anon, authenticated;
grant all on consent_releases to service_role;

-- A do-not-call list's scope: calls (as before), or calls_texts.
alter table dnc_numbers
  add column scope text not null default 'calls' check (scope in ('calls', 'calls_texts'));

-- dnc_import takes the list's scope (p_scope): the old signature goes.
drop function public.dnc_import(text[], text, date, timestamp with time zone);

create or replace function internal.outbox_refusal(
  p_channel text, p_kind text, p_lead_id bigint, p_address text
) returns text
language sql stable as $$
  select case
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
$$;
revoke all on function internal.outbox_refusal(text,text,bigint,text) from public, anon, authenticated;
grant execute on function internal.outbox_refusal(text,text,bigint,text) to service_role;

create or replace function internal.consent_record(
  p_lead_id bigint, p_items jsonb, p_now timestamptz
) returns integer
language plpgsql set search_path = public as $$
declare
  v_n integer;
begin
  insert into consents (lead_id, channel, granted_at, source, consent_text, consent_url,
                        created_at, updated_at)
  select p_lead_id, i->>'channel', coalesce((i->>'granted_at')::timestamptz, p_now),
         i->>'source', i->>'text', i->>'url', p_now, p_now
    from jsonb_array_elements(coalesce(p_items, '[]')) i
  on conflict (lead_id, channel) do update
     set source = excluded.source, granted_at = excluded.granted_at,
         consent_text = excluded.consent_text, consent_url = excluded.consent_url,
         revoked_at = null, revoked_by = null, updated_at = p_now
   where consents.revoked_at is not null and excluded.source = 'operator'
     and excluded.granted_at > consents.revoked_at;
  get diagnostics v_n = row_count;
  return v_n;
end
$$;
revoke all on function internal.consent_record(bigint,jsonb,timestamp with time zone) from public, anon, authenticated;
grant execute on function internal.consent_record(bigint,jsonb,timestamp with time zone) to service_role;

create or replace function internal.consent_revoke(
  p_lead_id bigint, p_channels text[], p_by text, p_now timestamptz
) returns void
language sql set search_path = public as $$
  update consents set revoked_at = p_now, revoked_by = left(p_by, 200), updated_at = p_now
   where lead_id = p_lead_id and channel = any (p_channels) and revoked_at is null;
$$;
revoke all on function internal.consent_revoke(bigint,text[],text,timestamp with time zone) from public, anon, authenticated;
grant execute on function internal.consent_revoke(bigint,text[],text,timestamp with time zone) to service_role;

create or replace function consent_grant(p_items jsonb, p_now timestamptz default now())
returns table (address text, leads integer)
language plpgsql set search_path = public as $$
#variable_conflict use_column
declare
  v jsonb;
  v_lead bigint;
  v_n integer;
begin
  for v in select * from jsonb_array_elements(p_items) loop
    v_n := 0;
    for v_lead in select l.id from leads l
                   where l.phone = v->>'address' or l.email = lower(v->>'address') loop
      perform internal.consent_record(v_lead, jsonb_build_array(v - 'address'), p_now);
      v_n := v_n + 1;
    end loop;
    address := v->>'address';
    leads := v_n;
    return next;
  end loop;
end
$$;
revoke all on function public.consent_grant(jsonb,timestamp with time zone) from public, anon, authenticated;
grant execute on function public.consent_grant(jsonb,timestamp with time zone) to service_role;

create or replace function consent_list(p_lead_id bigint)
returns setof consents
language sql stable set search_path = public as $$
  select * from consents where lead_id = p_lead_id order by channel;
$$;
revoke all on function public.consent_list(bigint) from public, anon, authenticated;
grant execute on function public.consent_list(bigint) to service_role;

create or replace function consent_release(
  p_address text, p_by text, p_note text default null, p_now timestamptz default now()
) returns table (lead_id bigint, released boolean, held_reason text, enrollments integer)
language plpgsql set search_path = public as $$
#variable_conflict use_column
declare
  v leads;
  v_n integer;
begin
  for v in select * from leads l
            where l.phone = p_address or l.email = lower(p_address)
            order by l.id for update loop
    if v.needs_review is null then
      return query select v.id, false, null::text, 0;
      continue;
    end if;
    update enrollments e set status = 'active', stopped_reason = null,
           next_run_at = greatest(coalesce(e.next_run_at, p_now), p_now), updated_at = p_now
     where e.lead_id = v.id and e.status = 'paused' and e.stopped_reason = 'needs_review';
    get diagnostics v_n = row_count;
    update leads set needs_review = null, updated_at = p_now where id = v.id;
    insert into consent_releases (lead_id, held_reason, released_by, note, enrollments, at)
    values (v.id, v.needs_review, p_by, p_note, v_n, p_now);
    return query select v.id, true, v.needs_review, v_n;
  end loop;
end
$$;
revoke all on function public.consent_release(text,text,text,timestamp with time zone) from public, anon, authenticated;
grant execute on function public.consent_release(text,text,text,timestamp with time zone) to service_role;

create or replace function consent_summary(p_since timestamptz, p_limit integer default 10)
returns jsonb
language sql stable set search_path = public as $$
  select jsonb_build_object(
    'held', (select count(*) from leads where needs_review is not null),
    'held_leads', coalesce((
      select jsonb_agg(h order by h.updated_at desc) from (
        select l.id, l.phone, l.email, l.needs_review reason, l.updated_at
          from leads l where l.needs_review is not null
         order by l.updated_at desc limit p_limit) h), '[]'),
    'skipped', coalesce((
      select jsonb_agg(s order by s.reason) from (
        select k.reason, k.channel, count(distinct k.lead_id) leads, count(*) times
          from consent_skips k where k.at >= p_since
         group by k.reason, k.channel) s), '[]'));
$$;
revoke all on function public.consent_summary(timestamp with time zone,integer) from public, anon, authenticated;
grant execute on function public.consent_summary(timestamp with time zone,integer) to service_role;

create or replace function upsert_leads(p_leads jsonb, p_now timestamptz default now())
returns table (inserted integer, updated integer)
language plpgsql set search_path = public as $$
declare
  v_item jsonb;
  v_id bigint;
  v_ins integer := 0;
  v_upd integer := 0;
begin
  for v_item in select * from jsonb_array_elements(coalesce(p_leads, '[]')) loop
    select id into v_id from leads
     where (v_item->>'phone' is not null and phone = v_item->>'phone')
        or (v_item->>'email' is not null and email = lower(v_item->>'email'))
     order by (phone = v_item->>'phone') desc nulls last
     limit 1
     for update;
    if v_id is null then
      insert into leads (name, phone, email, company, industry, state, timezone, source,
                         attributes, created_at, updated_at)
      values (v_item->>'name', v_item->>'phone', lower(v_item->>'email'), v_item->>'company',
              v_item->>'industry', v_item->>'state', v_item->>'timezone', v_item->>'source',
              coalesce(v_item->'attributes', '{}'), p_now, p_now)
      returning id into v_id;
      v_ins := v_ins + 1;
    else
      update leads set
        name = coalesce(v_item->>'name', name),
        phone = coalesce(phone, v_item->>'phone'),
        email = coalesce(email, lower(v_item->>'email')),
        company = coalesce(v_item->>'company', company),
        industry = coalesce(v_item->>'industry', industry),
        state = coalesce(v_item->>'state', state),
        timezone = coalesce(v_item->>'timezone', timezone),
        source = coalesce(source, v_item->>'source'),
        attributes = attributes || coalesce(v_item->'attributes', '{}'),
        updated_at = p_now
      where id = v_id;
      v_upd := v_upd + 1;
    end if;
    if jsonb_typeof(v_item->'consents') = 'array' then  -- 13_consent.sql
      perform internal.consent_record(v_id, v_item->'consents', p_now);
    end if;
  end loop;
  return query select v_ins, v_upd;
end
$$;
revoke all on function public.upsert_leads(jsonb,timestamp with time zone) from public, anon, authenticated;
grant execute on function public.upsert_leads(jsonb,timestamp with time zone) to service_role;

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
  ), refused as (
    -- Not opted out, but refused (no consent on record for an AI call or a campaign text, a
    -- do-not-call list covering texts, a hold: internal.outbox_refusal): the step is skipped,
    -- and the next one waits its own delay, as after a step done (complete_steps 'advance').
    update enrollments e set current_step = e.current_step + 1, updated_at = p_now,
           next_run_at = p_now + make_interval(secs => coalesce((
             select s2.delay_seconds from campaign_steps s2
              where s2.campaign_id = e.campaign_id and s2.position = e.current_step + 1), 0))
      from (select e2.id, l.id lead_id, s.channel ch,
                   internal.outbox_refusal(s.channel, 'marketing', l.id,
                     case when s.channel = 'email' then l.email else l.phone end) why
              from enrollments e2
              join campaign_steps s on s.campaign_id = e2.campaign_id
                                   and s.position = e2.current_step
              join leads l on l.id = e2.lead_id
             where e2.id = any (v_ids)
               and not internal.outbox_is_suppressed(s.channel, l.id,
                     case when s.channel = 'email' then l.email else l.phone end)) r
     where e.id = r.id and r.why is not null
    returning e.id, r.lead_id, r.ch, r.why
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
revoke all on function public.claim_due_steps(text,integer,integer,timestamp with time zone) from public, anon, authenticated;
grant execute on function public.claim_due_steps(text,integer,integer,timestamp with time zone) to service_role;

create or replace function mark_sending(p_ids bigint[], p_now timestamptz default now())
returns table (id bigint, verdict text)
language plpgsql set search_path = public as $$
#variable_conflict use_column
begin
  return query
  with locked as (
    select m.id, m.status, m.payload, m.lead_id, m.channel,
           internal.outbox_is_suppressed(m.channel, m.lead_id, m.to_address) suppressed,
           internal.outbox_refusal(m.channel, m.kind, m.lead_id, m.to_address) refusal
      from messages m where m.id = any (p_ids) order by m.id for update
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
revoke all on function public.mark_sending(bigint[],timestamp with time zone) from public, anon, authenticated;
grant execute on function public.mark_sending(bigint[],timestamp with time zone) to service_role;

create or replace function claim_call(
  p_id bigint, p_max_in_flight integer default 10, p_reclaim_after_seconds integer default 600,
  p_now timestamptz default now(), p_send_before timestamptz default null
) returns table (outcome text, call jsonb)
language plpgsql set search_path = public as $$
declare
  v calls;
  v_outcome text;
  v_refusal text;
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
  -- A call is an AI voice: ai_voice consent on record, and no hold (internal.outbox_refusal).
  v_refusal := internal.outbox_refusal('call', 'marketing', v.lead_id, v.to_number);
  if v_refusal is not null then
    update calls set status = 'cancelled', error_code = v_refusal,
           error_message = 'refused at claim: ' || v_refusal, updated_at = p_now
     where id = p_id returning * into v;
    if v_refusal like '%consent%' then
      insert into consent_skips (lead_id, channel, reason, stage, at)
      values (v.lead_id, 'call', v_refusal, 'call', p_now);
    end if;
    return query select 'refused'::text, to_jsonb(v);
    return;
  end if;
  if v.status = 'queued' and p_send_before <= p_now then
    return query select 'window'::text, to_jsonb(v);
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
revoke all on function public.claim_call(bigint,integer,integer,timestamp with time zone,timestamp with time zone) from public, anon, authenticated;
grant execute on function public.claim_call(bigint,integer,integer,timestamp with time zone,timestamp with time zone) to service_role;

create or replace function outbox_opt_out(
  p_channel text, p_lead_id bigint, p_address text, p_source text, p_now timestamptz
) returns void
language plpgsql set search_path = public as $$
begin
  if p_channel not in ('email', 'sms', 'call') then
    raise exception 'unknown opt-out channel %', p_channel using errcode = '22023';
  end if;
  update leads set
    sms_opted_out_at = case when p_channel = 'sms'
                            then coalesce(sms_opted_out_at, p_now) else sms_opted_out_at end,
    email_opted_out_at = case when p_channel = 'email'
                              then coalesce(email_opted_out_at, p_now) else email_opted_out_at end,
    calls_opted_out_at = case when p_channel = 'call'
                              then coalesce(calls_opted_out_at, p_now) else calls_opted_out_at end,
    updated_at = p_now
  where id = p_lead_id;
  insert into suppressions (channel, address, reason, source, created_at)
  values (p_channel, case when p_channel = 'email' then lower(p_address) else p_address end,
          case p_channel when 'sms' then 'stop' when 'email' then 'unsubscribe' else 'dnc' end,
          p_source, p_now)
  on conflict (channel, address) do nothing;
  -- the consent on record for the channel is revoked too (an AI call is a call)
  perform internal.consent_revoke(
    p_lead_id, case p_channel when 'call' then array['calls', 'ai_voice'] else array[p_channel] end,
    coalesce(p_source, 'opt_out'), p_now);
end
$$;
revoke all on function public.outbox_opt_out(text,bigint,text,text,timestamp with time zone) from public, anon, authenticated;
grant execute on function public.outbox_opt_out(text,bigint,text,text,timestamp with time zone) to service_role;

create or replace function do_not_contact(
  p_items jsonb, p_source text, p_now timestamptz default now()
) returns table (address text, leads integer)
language plpgsql set search_path = public as $$
#variable_conflict use_column
declare
  v jsonb;
  v_channels text[];
  v_n integer;
begin
  for v in select * from jsonb_array_elements(p_items) loop
    v_channels := array(select jsonb_array_elements_text(v->'channels'));
    if not v_channels <@ array['email', 'sms', 'call'] then
      raise exception 'unknown channel in %', v_channels using errcode = '22023';
    end if;
    update leads l set
      email_opted_out_at = case when 'email' = any (v_channels)
                                then coalesce(l.email_opted_out_at, p_now) else l.email_opted_out_at end,
      sms_opted_out_at = case when 'sms' = any (v_channels)
                              then coalesce(l.sms_opted_out_at, p_now) else l.sms_opted_out_at end,
      calls_opted_out_at = case when 'call' = any (v_channels)
                                then coalesce(l.calls_opted_out_at, p_now) else l.calls_opted_out_at end,
      updated_at = p_now
     where l.phone = v->>'address' or lower(l.email) = v->>'address';
    get diagnostics v_n = row_count;
    perform internal.consent_revoke(l.id, array(
              select x from unnest(v_channels) c,
                     unnest(case when c = 'call' then array['calls', 'ai_voice']
                                 else array[c] end) x), 'do_not_contact:' || p_source, p_now)
       from leads l where l.phone = v->>'address' or lower(l.email) = v->>'address';
    insert into suppressions (channel, address, reason, source, created_at)
    select c, v->>'address', 'manual', p_source, p_now from unnest(v_channels) c
     where (c = 'email') = (position('@' in v->>'address') > 0)
    on conflict (channel, address) do nothing;
    address := v->>'address';
    leads := v_n;
    return next;
  end loop;
end
$$;
revoke all on function public.do_not_contact(jsonb,text,timestamp with time zone) from public, anon, authenticated;
grant execute on function public.do_not_contact(jsonb,text,timestamp with time zone) to service_role;

create or replace function dnc_import(
  p_phones text[], p_source text, p_list_date date default null, p_now timestamptz default now(),
  p_scope text default 'calls'
) returns integer
language sql set search_path = public as $$
  with upserted as (
    insert into dnc_numbers (phone, source, list_date, added_at, scope)
    select distinct p, p_source, p_list_date, p_now, p_scope from unnest(p_phones) p
    on conflict (phone) do update
       set source = excluded.source, list_date = excluded.list_date, added_at = excluded.added_at,
           scope = excluded.scope
    returning 1
  )
  select count(*)::integer from upserted;
$$;
revoke all on function public.dnc_import(text[],text,date,timestamp with time zone,text) from public, anon, authenticated;
grant execute on function public.dnc_import(text[],text,date,timestamp with time zone,text) to service_role;

create or replace function digest_numbers(
  p_from timestamptz, p_to timestamptz, p_hot_limit integer, p_now timestamptz
) returns jsonb
language sql stable set search_path = public as $$
  select jsonb_build_object(
    'leads', (select count(*) from leads where created_at >= p_from and created_at < p_to),
    'messages', coalesce((select jsonb_object_agg(channel, n) from (
        select channel, count(*) n from messages
         where sent_at >= p_from and sent_at < p_to and kind = 'marketing'
         group by channel) x), '{}'),
    'transactional', (select count(*) from messages
         where sent_at >= p_from and sent_at < p_to and kind <> 'marketing'),
    'replies', (select count(*) from webhook_events
         where event_type = 'sms.reply' and received_at >= p_from and received_at < p_to),
    'calls', coalesce((select jsonb_object_agg(outcome, n) from (
        select coalesce(outcome, status) outcome, count(*) n from calls
         where created_at >= p_from and created_at < p_to group by 1) x), '{}'),
    'bookings', (select count(*) from appointments
         where created_at >= p_from and created_at < p_to),
    'no_shows', (select count(*) from appointments
         where no_show_at >= p_from and no_show_at < p_to),
    'opt_outs', (select count(*) from suppressions
         where created_at >= p_from and created_at < p_to),
    'hot_leads', coalesce((select jsonb_agg(h) from (
        select l.id, l.name, l.phone, round(l.score::numeric, 1) score from leads l
         where l.hot_at is not null and l.status not in ('booked', 'customer', 'lost',
                                                         'do_not_contact')
         order by l.score desc nulls last, l.id limit p_hot_limit) h), '[]'),
    'jobs', coalesce((select jsonb_agg(jsonb_build_object(
        'job', j.job, 'status', j.status, 'last_success_at', j.last_success_at,
        'failed', (select count(*) from job_runs r where r.job = j.job
                     and r.status = 'failed' and r.started_at >= p_from
                     and r.started_at < p_to)) order by j.job)
        from job_status(p_now) j), '[]'),
    'alerts_fired', (select count(*) from alerts
         where first_seen_at >= p_from and first_seen_at < p_to),
    'alerts_resolved', (select count(*) from alerts
         where resolved_at >= p_from and resolved_at < p_to),
    'failures', coalesce((select jsonb_agg(f) from (
        select fingerprint, sum(occurrences)::integer occurrences, max(sample) sample
          from failure_patterns
         where day >= (p_from at time zone 'UTC')::date and day <= (p_to at time zone 'UTC')::date
         group by fingerprint order by 2 desc, 1 limit 5) f), '[]'),
    -- leads held for a human now (13_consent.sql), and the steps refused that day
    'held', (select count(*) from leads where needs_review is not null),
    'held_leads', coalesce((select jsonb_agg(h) from (
        select l.id, l.phone, l.email, l.needs_review reason from leads l
         where l.needs_review is not null order by l.updated_at desc, l.id limit 5) h), '[]'),
    'consent_skipped', coalesce((select jsonb_object_agg(reason, n) from (
        select reason, count(distinct lead_id) n from consent_skips
         where at >= p_from and at < p_to group by reason) s), '{}'));
$$;
revoke all on function public.digest_numbers(timestamp with time zone,timestamp with time zone,integer,timestamp with time zone) from public, anon, authenticated;
grant execute on function public.digest_numbers(timestamp with time zone,timestamp with time zone,integer,timestamp with time zone) to service_role;
