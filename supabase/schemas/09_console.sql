-- The operator's console (app/console/, docs/console.md; repository: app/db/console.py):
-- the overview every page and /status read, lead search and timeline, campaign funnels,
-- call breakdowns, the audit of every operator action, and erasure.

-- A function body is checked when the function runs, not here: it may read a table that a
-- later file declares. (The migrations are applied with the check on.)
set check_function_bodies = off;

-- ---------------------------------------------------------------------------------------
-- console_audit: what an operator did, when, from which session
-- ---------------------------------------------------------------------------------------
create table console_audit (
  id          bigint generated always as identity primary key,
  at          timestamptz not null,
  action      text not null,          -- pause | resume | dnc | erase | ack | silence | ...
  lead_id     bigint,                 -- no foreign key: an erased lead's audit stays
  campaign_id bigint,
  target      text,                   -- what was acted on (slug, alert code, appointment id)
  detail      jsonb not null default '{}',  -- never an address or a name
  session     text not null           -- 'bearer' or the first 12 hex of the session's hash
);
create index console_audit_lead_idx on console_audit (lead_id, at desc) where lead_id is not null;
create index console_audit_campaign_idx on console_audit (campaign_id, at desc)
  where campaign_id is not null;
alter table console_audit enable row level security;
revoke all on console_audit from public, anon, authenticated;
grant all on console_audit to service_role;

-- ---------------------------------------------------------------------------------------
-- console_erasures: the SHA-256 of each erased phone and email, nothing else. A lead is
-- never created again with one of them (the trigger below): a re-import skips the row.
-- ---------------------------------------------------------------------------------------
create table console_erasures (
  address_hash text primary key,      -- sha256 hex of the E.164 phone or lower-cased email
  erased_at    timestamptz not null
);
alter table console_erasures enable row level security;
revoke all on console_erasures from public, anon, authenticated;
grant all on console_erasures to service_role;

-- The hash kept of an address (E.164 phone or email, lower-cased, trimmed).
create or replace function internal.console_address_hash(p_address text)
returns text
language sql immutable set search_path = public as $$
  select encode(sha256(convert_to(lower(btrim(p_address)), 'UTF8')), 'hex');
$$;

-- Whether a phone or an email belongs to an erased person (the import path may ask first,
-- to report the row; the trigger below refuses it anyway).
create or replace function console_is_erased(p_phone text, p_email text)
returns boolean
language sql stable set search_path = public as $$
  select exists (select from console_erasures e
                  where e.address_hash in (internal.console_address_hash(p_phone),
                                           internal.console_address_hash(p_email)));
$$;

-- A new lead whose phone or email was erased is not created (the insert is skipped): an
-- import of an old export, a form or an inbound text never brings them back.
create or replace function internal.console_refuse_erased()
returns trigger
language plpgsql set search_path = public as $$
begin
  if exists (select from console_erasures) and console_is_erased(new.phone, new.email) then
    return null;
  end if;
  return new;
end
$$;

create trigger leads_refuse_erased before insert on leads
  for each row execute function internal.console_refuse_erased();

-- Nor is an erased phone or email given to another lead (an import row that merges by one
-- address and brings the erased other): that address is left as it was.
create or replace function internal.console_keep_erased_out()
returns trigger
language plpgsql set search_path = public as $$
begin
  if not exists (select from console_erasures) then
    return new;
  end if;
  if new.phone is distinct from old.phone and console_is_erased(new.phone, null) then
    new.phone := old.phone;
  end if;
  if new.email is distinct from old.email and console_is_erased(null, new.email) then
    new.email := old.email;
  end if;
  return new;
end
$$;

create trigger leads_keep_erased_out before update of phone, email on leads
  for each row execute function internal.console_keep_erased_out();

-- ---------------------------------------------------------------------------------------
-- indexes the overview reads (tables of 01_core.sql and 03_outbox.sql; declared here with
-- the queries that need them): every request computes the windows live
-- ---------------------------------------------------------------------------------------
create index leads_created_idx on leads (created_at);
create index leads_needs_review_idx on leads (updated_at desc) where needs_review is not null;
create index leads_hot_uncalled_idx on leads (score desc nulls last, id)
  where hot_at is not null and last_called_at is null;
-- contacted: index-only scans of the sends (messages_sent_idx, 03_outbox.sql) and the placed
-- calls of the window
create index calls_placed_lead_idx on calls (placed_at) include (lead_id, provider)
  where lead_id is not null;

-- ---------------------------------------------------------------------------------------
-- the overview: one definition of each figure, read by /console and /status
-- ---------------------------------------------------------------------------------------

-- The figures of today, 7 days and 30 days, each window [p_from, p_now] with p_from one of
-- p_starts (today's local midnight, 6 and 29 days before), one pass per table. contacted:
-- distinct leads with a message a provider accepted or a call placed in the window (dry runs
-- excluded), read live from the outbox; a lead counts in every window that holds its latest
-- contact (all windows end now).
create or replace function internal.console_windows(p_starts timestamptz[], p_now timestamptz)
returns jsonb
language plpgsql stable set search_path = public as $$
declare
  t1 timestamptz := p_starts[1];
  t7 timestamptz := p_starts[2];
  t30 timestamptz := p_starts[3];
  v_leads bigint[];
  v_contacted bigint[];
  v_sms bigint[];
  v_email bigint[] := array[0, 0, 0];
  v_answered bigint[];
  v_bookings bigint[];
  v_opt_outs bigint[];
begin
  select array[count(*) filter (where created_at >= t1), count(*) filter (where created_at >= t7),
               count(*)]
    into v_leads from leads where created_at >= t30 and created_at <= p_now;
  select array[count(*) filter (where at >= t1), count(*) filter (where at >= t7), count(*)]
    into v_contacted from (
      select x.lead_id, max(x.at) at from (
        select m.lead_id, m.sent_at at from messages m
         where m.lead_id is not null and m.sent_at >= t30 and m.sent_at <= p_now
           and m.provider <> 'dryrun' and m.status <> 'dry_run'
        union all
        select c.lead_id, c.placed_at from calls c
         where c.lead_id is not null and c.placed_at >= t30 and c.placed_at <= p_now
           and c.provider <> 'dryrun') x
       group by x.lead_id) y;
  select array[count(*) filter (where received_at >= t1),
               count(*) filter (where received_at >= t7), count(*)]
    into v_sms from webhook_events
   where provider = 'twilio' and event_type = 'sms.reply'
     and received_at >= t30 and received_at <= p_now;
  -- email replies (09_email_replies.sql), auto-replies excluded; read only where that table
  -- exists, so this file does not depend on the order the two land in
  if to_regclass('public.email_replies') is not null then
    execute 'select array[count(*) filter (where received_at >= $1),'
            ' count(*) filter (where received_at >= $2), count(*)] from email_replies'
            ' where kind <> ''auto_reply'' and received_at >= $3 and received_at <= $4'
      into v_email using t1, t7, t30, p_now;
  end if;
  select array[count(*) filter (where at >= t1), count(*) filter (where at >= t7), count(*)]
    into v_answered from (
      select coalesce(ended_at, placed_at, created_at) at from calls
       where outcome in ('answered', 'booked')) c
   where at >= t30 and at <= p_now;
  select array[count(*) filter (where created_at >= t1), count(*) filter (where created_at >= t7),
               count(*)]
    into v_bookings from appointments where created_at >= t30 and created_at <= p_now;
  select array[count(distinct address) filter (where created_at >= t1),
               count(distinct address) filter (where created_at >= t7), count(distinct address)]
    into v_opt_outs from suppressions where created_at >= t30 and created_at <= p_now;
  return (select jsonb_object_agg(w.key, jsonb_build_object(
      'from', p_starts[w.i], 'to', p_now, 'leads_added', v_leads[w.i],
      'contacted', v_contacted[w.i], 'replies', v_sms[w.i] + v_email[w.i],
      'calls_answered', v_answered[w.i], 'bookings', v_bookings[w.i],
      'opt_outs', v_opt_outs[w.i]))
    from unnest(array['today', 'days_7', 'days_30']) with ordinality w(key, i));
end
$$;

-- Today, 7 days and 30 days (whole days in p_tz, today up to p_now), paused campaigns with
-- why, leads held for a human, and the hottest leads never called.
create or replace function console_overview(p_tz text, p_now timestamptz, p_limit integer)
returns jsonb
language sql stable set search_path = public as $$
  with midnight as (  -- local midnights: a day is 23 or 25 hours across a DST change
    select ((p_now at time zone p_tz)::date - d)::timestamp at time zone p_tz as at, d
      from unnest(array[0, 6, 29]) d
  )
  select internal.console_windows(array(select at from midnight order by d), p_now)
    || jsonb_build_object(
    'paused_campaigns', coalesce((select jsonb_agg(jsonb_build_object(
        'slug', c.slug, 'name', c.name, 'paused_reason', c.paused_reason,
        'paused_at', c.paused_at) order by c.paused_at desc nulls last)
        from campaigns c where c.status = 'paused'), '[]'),
    'needs_human', coalesce((select jsonb_agg(h) from (
        select l.id, l.name, l.needs_review, l.updated_at from leads l
         where l.needs_review is not null order by l.updated_at desc limit p_limit) h), '[]'),
    'hot_not_called', coalesce((select jsonb_agg(h) from (
        select l.id, l.name, round(l.score::numeric, 1) score, l.hot_at from leads l
         where l.hot_at is not null and l.last_called_at is null
           and l.status not in ('booked', 'customer', 'lost', 'do_not_contact')
           and not exists (select from calls c where c.lead_id = l.id and c.placed_at is not null)
         order by l.score desc nulls last, l.id limit p_limit) h), '[]'));
$$;

-- ---------------------------------------------------------------------------------------
-- leads: search and the timeline
-- ---------------------------------------------------------------------------------------

-- Leads matching a name, phone or email fragment (case-insensitive; a phone matches on its
-- digits), a status, a minimum score and a campaign; best score first.
create or replace function console_leads(
  p_query text, p_status text, p_min_score double precision, p_campaign text,
  p_limit integer
) returns jsonb
language sql stable set search_path = public as $$
  select coalesce(jsonb_agg(r), '[]') from (
    select l.id, l.name, l.phone, l.email, l.status, round(l.score::numeric, 1) score,
           l.needs_review, l.created_at,
           (select jsonb_agg(c.slug order by c.slug) from enrollments e
              join campaigns c on c.id = e.campaign_id where e.lead_id = l.id) campaigns
      from leads l
     where (coalesce(p_query, '') = ''
            or l.name ilike '%' || p_query || '%' or l.email ilike '%' || p_query || '%'
            or (length(regexp_replace(p_query, '\D', '', 'g')) >= 3
                and l.phone like '%' || regexp_replace(p_query, '\D', '', 'g') || '%'))
       and (coalesce(p_status, '') = '' or l.status = p_status)
       and (p_min_score is null or l.score >= p_min_score)
       and (coalesce(p_campaign, '') = '' or exists (
             select from enrollments e join campaigns c on c.id = e.campaign_id
              where e.lead_id = l.id and c.slug = p_campaign))
     order by l.score desc nulls last, l.id desc
     limit greatest(p_limit, 0)) r;
$$;

-- One lead with its whole history, newest first: messages (with what was sent), calls
-- (summary, transcript, recording, quality), clicks, replies (text and email), opt-outs,
-- consent records (when the consents table exists), appointments and operator actions.
create or replace function console_lead(p_id bigint)
returns jsonb
language plpgsql stable set search_path = public as $$
declare
  v_lead leads;
  v_events jsonb;
  v_consents jsonb := '[]';
  v_emails jsonb := '[]';
begin
  select * into v_lead from leads where id = p_id;
  if not found then
    return null;
  end if;
  if to_regclass('public.consents') is not null then  -- 13_consent.sql
    execute 'select coalesce(jsonb_agg(jsonb_build_object(''kind'', ''consent'','
            ' ''at'', c->''granted_at'', ''channel'', c->>''channel'', ''source'', c->>''source'','
            ' ''text'', c->>''consent_text'', ''url'', c->>''consent_url'','
            ' ''revoked_at'', c->''revoked_at'', ''revoked_by'', c->>''revoked_by'')), ''[]'')'
            ' from (select to_jsonb(x) c from consents x where x.lead_id = $1) s'
      into v_consents using p_id;
  end if;
  if to_regclass('public.email_replies') is not null then
    execute 'select coalesce(jsonb_agg(jsonb_build_object(''kind'', ''reply'','
            ' ''channel'', ''email'', ''at'', r.received_at, ''subject'', r.subject,'
            ' ''text'', r.body, ''taken_as'', r.kind)), ''[]'')'
            ' from email_replies r where r.lead_id = $1'
      into v_emails using p_id;
  end if;
  select coalesce(jsonb_agg(e order by (e->>'at')::timestamptz desc nulls last), '[]') into v_events from (
    select jsonb_build_object('kind', 'message', 'at', coalesce(m.sent_at, m.created_at),
             'id', m.id, 'channel', m.channel, 'status', m.status, 'message_kind', m.kind,
             'subject', m.payload->>'subject', 'body', m.payload->>'body',
             'html', m.payload->>'html', 'variant', m.payload->>'variant',
             'error_code', m.error_code) e
      from messages m where m.lead_id = p_id
    union all
    select jsonb_build_object('kind', 'call', 'at', coalesce(c.placed_at, c.created_at),
             'id', c.id, 'status', c.status, 'outcome', c.outcome, 'summary', c.summary,
             'transcript', c.transcript, 'recording_url', c.recording_url,
             'duration_seconds', c.duration_seconds, 'quality', q.score,
             'quality_reasons', q.reasons)
      from calls c left join call_quality q on q.call_id = c.id where c.lead_id = p_id
    union all
    select jsonb_build_object('kind', 'click', 'at', k.clicked_at, 'url', k.url)
      from click_events k where k.lead_id = p_id
    union all
    select jsonb_build_object('kind', 'reply', 'at', w.received_at, 'channel', 'sms',
             'text', w.payload->>'Body')
      from webhook_events w
     where w.provider = 'twilio' and w.event_type = 'sms.reply' and v_lead.phone is not null
       and w.payload->>'From' = v_lead.phone
    union all
    select jsonb_build_object('kind', 'opt_out', 'at', s.created_at, 'channel', s.channel,
             'reason', s.reason)
      from suppressions s where s.address in (v_lead.phone, v_lead.email)
    union all
    select jsonb_build_object('kind', 'appointment', 'at', a.starts_at, 'id', a.id,
             'status', a.status, 'ends_at', a.ends_at, 'source', a.source)
      from appointments a where a.lead_id = p_id
    union all
    select jsonb_build_object('kind', 'action', 'at', u.at, 'action', u.action,
             'target', u.target, 'detail', u.detail, 'session', u.session)
      from console_audit u where u.lead_id = p_id
    union all
    select value from jsonb_array_elements(v_consents)
    union all
    select value from jsonb_array_elements(v_emails)
  ) t(e);
  return jsonb_build_object('lead', to_jsonb(v_lead) - 'attributes', 'timeline', v_events);
end
$$;

-- ---------------------------------------------------------------------------------------
-- campaigns, calls, appointments, alerts
-- ---------------------------------------------------------------------------------------

-- Every campaign with its per-step funnel (enrolled leads at or past the step; messages
-- sent, delivered, clicked; calls placed and answered), its A/B variants with their current
-- win probability (campaign_steps.template.ab.weights, written by the growth run) and the
-- operator actions on it.
create or replace function console_campaigns(p_slug text)
returns jsonb
language sql stable set search_path = public as $$
  select coalesce(jsonb_agg(jsonb_build_object(
      'id', c.id, 'slug', c.slug, 'name', c.name, 'status', c.status,
      'paused_reason', c.paused_reason, 'paused_at', c.paused_at,
      'enrolled', (select count(*) from enrollments e where e.campaign_id = c.id),
      'steps', coalesce((select jsonb_agg(jsonb_build_object(
          'position', s.position, 'channel', s.channel,
          'reached', (select count(*) from enrollments e
                       where e.campaign_id = c.id and e.current_step >= s.position),
          'sent', (select count(*) from messages m where m.step_id = s.id
                    and m.sent_at is not null and m.status <> 'dry_run'),
          'delivered', (select count(*) from messages m where m.step_id = s.id
                         and m.status in ('delivered', 'opened', 'clicked')),
          'clicked', (select count(*) from messages m where m.step_id = s.id
                       and (m.status = 'clicked'
                            or exists (select from click_events k where k.message_id = m.id))),
          'calls_placed', (select count(*) from calls k join enrollments e on e.id = k.enrollment_id
                            where e.campaign_id = c.id and s.channel = 'call'
                              and k.placed_at is not null and k.provider <> 'dryrun'),
          'calls_answered', (select count(*) from calls k join enrollments e on e.id = k.enrollment_id
                              where e.campaign_id = c.id and s.channel = 'call'
                                and k.outcome in ('answered', 'booked')),
          'variants', coalesce((select jsonb_agg(jsonb_build_object(
              'name', v->>'name',
              'p_best', (s.template->'ab'->'weights'->>(v->>'name'))::numeric,
              'winner', s.template->'ab'->>'winner' = v->>'name',
              'sent', (select count(*) from messages m where m.step_id = s.id
                        and m.sent_at is not null and m.payload->>'variant' = v->>'name')))
              from jsonb_array_elements(case
                     when jsonb_typeof(s.template->'variants') = 'array' then s.template->'variants'
                     when s.channel = 'call' then '[]'
                     else '[{"name": "a"}]' end) v), '[]'))  -- no variants: one, named a
          order by s.position) from campaign_steps s where s.campaign_id = c.id), '[]'),
      'actions', coalesce((select jsonb_agg(jsonb_build_object(
          'at', u.at, 'action', u.action, 'detail', u.detail, 'session', u.session)
          order by u.at desc, u.id desc) from console_audit u where u.campaign_id = c.id), '[]'))
      order by c.slug), '[]')
    from campaigns c
   where p_slug is null or c.slug = p_slug;
$$;

-- Pauses a campaign by hand (resume: resume_campaign); the reason is shown beside it.
create or replace function console_campaign_pause(p_slug text, p_reason text, p_now timestamptz)
returns table (campaign_id bigint, slug text, status text, was text)
language plpgsql set search_path = public as $$
#variable_conflict use_column
declare
  v_was text;
begin
  select status into v_was from campaigns where slug = p_slug for update;
  if not found then
    raise exception 'no campaign %', p_slug using errcode = 'P0002';
  end if;
  update campaigns set status = 'paused', paused_at = p_now, updated_at = p_now,
         paused_reason = left(coalesce(nullif(btrim(p_reason), ''), 'paused by the operator'), 300)
   where slug = p_slug and status <> 'paused';
  return query select c.id, c.slug, c.status, v_was from campaigns c where c.slug = p_slug;
end
$$;

-- Calls since p_from by assistant and by local hour: outcomes and mean quality.
create or replace function console_calls(p_tz text, p_from timestamptz, p_now timestamptz)
returns jsonb
language sql stable set search_path = public as $$
  with k as (
    select coalesce(c.payload->>'assistant', c.payload->'request'->>'assistantId', 'default')
             as assistant,
           extract(hour from coalesce(c.placed_at, c.created_at) at time zone p_tz)::integer
             as hour,
           coalesce(c.outcome, c.status) as outcome, q.score as quality
      from calls c left join call_quality q on q.call_id = c.id
     where coalesce(c.placed_at, c.created_at) >= p_from
       and coalesce(c.placed_at, c.created_at) <= p_now and c.provider <> 'dryrun'
  )
  select jsonb_build_object(
    'by_assistant', coalesce((select jsonb_agg(a order by a.assistant) from (
        select assistant, count(*) calls, jsonb_object_agg(outcome, n) outcomes,
               round(avg(quality)::numeric, 1) quality
          from (select assistant, outcome, count(*) n, avg(quality) quality from k
                 group by 1, 2) x group by 1) a), '[]'),
    'by_hour', coalesce((select jsonb_agg(h order by h.hour) from (
        select hour, count(*) calls, jsonb_object_agg(outcome, n) outcomes,
               round(avg(quality)::numeric, 1) quality
          from (select hour, outcome, count(*) n, avg(quality) quality from k
                 group by 1, 2) x group by 1) h), '[]'));
$$;

-- Upcoming appointments (booked or confirmed, not yet started) with their lead's name.
create or replace function console_appointments(p_now timestamptz, p_limit integer)
returns jsonb
language sql stable set search_path = public as $$
  select coalesce(jsonb_agg(r order by r.starts_at), '[]') from (
    select a.id, a.lead_id, l.name, a.starts_at, a.ends_at, a.status, a.source
      from appointments a join leads l on l.id = a.lead_id
     where a.status in ('booked', 'confirmed') and a.ends_at > p_now
     order by a.starts_at limit greatest(p_limit, 0)) r;
$$;

-- Cancels an appointment from the console (its reminders are cancelled with it); `was` is
-- its status before (only booked or confirmed ones are cancelled).
create or replace function console_appointment_cancel(p_id bigint, p_now timestamptz)
returns table (id bigint, lead_id bigint, status text, was text)
language plpgsql set search_path = public as $$
declare
  v_was text;
  v appointments;
begin
  select a.status into v_was from appointments a where a.id = p_id for update;
  if not found then
    raise exception 'no appointment %', p_id using errcode = 'P0002';
  end if;
  if v_was not in ('booked', 'confirmed') then
    return query select a.id, a.lead_id, a.status, v_was from appointments a where a.id = p_id;
    return;
  end if;
  v := internal.appointment_cancel(p_id, 'cancelled in the console', p_now);
  return query select v.id, v.lead_id, v.status, v_was;
end
$$;

-- ---------------------------------------------------------------------------------------
-- actions: the audit and erasure
-- ---------------------------------------------------------------------------------------

-- Records one operator action.
create or replace function console_audit_record(
  p_action text, p_lead_id bigint, p_campaign_id bigint, p_target text, p_detail jsonb,
  p_session text, p_now timestamptz
) returns bigint
language sql set search_path = public as $$
  insert into console_audit (at, action, lead_id, campaign_id, target, detail, session)
  values (p_now, p_action, p_lead_id, p_campaign_id, p_target, coalesce(p_detail, '{}'),
          p_session)
  returning id;
$$;

-- Erases a lead: its queued sends cancelled, the personal data of its messages, calls,
-- clicks and replies removed, the lead deleted (enrollments and appointments with it), and
-- only the SHA-256 of its phone and email kept (console_erasures) so no import or inbound
-- event creates it again. The audit row is written in the same transaction.
create or replace function console_erase_lead(p_id bigint, p_session text, p_now timestamptz)
returns boolean
language plpgsql set search_path = public as $$
declare
  v_lead leads;
begin
  select * into v_lead from leads where id = p_id for update;
  if not found then
    return false;
  end if;
  insert into console_erasures (address_hash, erased_at)
  select internal.console_address_hash(a), p_now
    from unnest(array[v_lead.phone, v_lead.email]) a where a is not null
  on conflict (address_hash) do nothing;
  update messages set status = case when status = 'queued' then 'cancelled' else status end,
         to_address = 'erased', payload = '{}', error_message = null, updated_at = p_now
   where lead_id = p_id;
  update calls set status = case when status = 'queued' then 'cancelled' else status end,
         to_number = 'erased', summary = null, transcript = null, recording_url = null,
         analysis = '{}', payload = '{}', error_message = null, updated_at = p_now
   where lead_id = p_id;
  update click_events set ip = null, user_agent = null where lead_id = p_id;
  -- the events that carried them: texts from and status callbacks to the phone, Resend
  -- events to (and replies from) the email, Vapi events of the lead's calls (dedupe keys are
  -- vapi:<call id>:..., transcripts inside)
  update webhook_events set payload = jsonb_build_object('erased', true)
   where (provider = 'twilio' and v_lead.phone is not null
          and v_lead.phone in (payload->>'From', payload->>'To'))
      or (provider = 'resend' and v_lead.email is not null
          and (payload->'data'->'to' ? v_lead.email
               or lower(payload->'data'->>'from') like '%' || v_lead.email || '%'))
      or (provider = 'vapi' and split_part(dedupe_key, ':', 2) in (
            select c.vapi_call_id from calls c where c.lead_id = p_id and c.vapi_call_id is not null));
  if to_regclass('public.email_replies') is not null then
    execute 'update email_replies set from_address = ''erased'', subject = null, body = '''''
            ' where lead_id = $1' using p_id;
  end if;
  -- the hashes above stand in for the opt-outs: no lead with these addresses comes back
  delete from suppressions where address in (v_lead.phone, v_lead.email);
  delete from leads where id = p_id;
  perform console_audit_record('erase', p_id, null, null, '{}', p_session, p_now);
  return true;
end
$$;
