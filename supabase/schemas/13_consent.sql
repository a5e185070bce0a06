-- Consent records and the refusals they gate (issue 14, docs/consent.md "Consent records";
-- repository: app/db/consent.py).
--
-- A lead's consent per channel: `sms` (marketing texts), `email`, `calls`, `ai_voice` (a call
-- by an AI voice: an "artificial voice" under the TCPA since FCC 24-17, so prior express
-- consent). An AI call goes only to a lead with `ai_voice` consent on record, a marketing or
-- rescue text only with `sms` consent; appointment texts (transactional), alerts to the
-- operator and emails (CAN-SPAM is an opt-out regime) need none. Every claim checks it
-- (claim_due_steps, claim_call) and so does the last-moment check (mark_sending); a step or
-- row refused for want of consent is counted in consent_skips with the reason.

-- A function body is checked when the function runs, not here: it may read a table that a
-- later file declares. (The migrations are applied with the check on.)
set check_function_bodies = off;

-- ---------------------------------------------------------------------------------------
-- tables
-- ---------------------------------------------------------------------------------------
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

-- ---------------------------------------------------------------------------------------
-- the gate
-- ---------------------------------------------------------------------------------------

-- What may stop an automated contact to this lead, both rules in one row:
-- `suppressed`: an opt-out forbids this channel/address (a suppression row for the address,
-- the lead's do_not_contact status or its opt-out of the channel, a do-not-call list for a
-- call) — the row is cancelled / the step stopped or skipped;
-- `refusal`: why it may not go although no opt-out covers it, or null when it may:
--   needs_review          the lead is held for a human (campaign and rescue texts and
--                         emails, every call; appointment texts still go)
--   dnc_list              the number is on an imported do-not-call list whose scope covers
--                         texts (campaign and rescue texts; calls: `suppressed`)
--   no_<c>_consent        no consent on record for the channel it needs (calls: ai_voice;
--                         campaign and rescue texts: sms)
--   <c>_consent_revoked   the consent was revoked
-- A row with no lead (an alert to the operator) is never refused. Callers give `suppressed`
-- precedence. A set-returning SQL function with no SET clause, so that a batch joining it
-- laterally gets it inlined as subqueries of its own plan (the drip claim: 26 -> 11 ms per
-- 500 steps, EXPLAIN ANALYZE in 20261206183000_drip_set_based.sql); the scalar forms
-- (internal.outbox_is_suppressed, internal.outbox_refusal) read it for one row.
create or replace function internal.outbox_check(
  p_channel text, p_kind text, p_lead_id bigint, p_address text
) returns table (suppressed boolean, refusal text)
language sql stable as $$
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
$$;

-- Why an automated contact to this lead may not go, or null when it may: the `refusal` of
-- internal.outbox_check (above), for callers that check one row. Opt-outs are
-- internal.outbox_is_suppressed's.
create or replace function internal.outbox_refusal(
  p_channel text, p_kind text, p_lead_id bigint, p_address text
) returns text
language sql stable as $$
  select k.refusal from internal.outbox_check(p_channel, p_kind, p_lead_id, p_address) k;
$$;

-- Records consent for a lead: p_items [{channel, source, granted_at, text, url}] (granted_at
-- defaults to p_now). A channel already on record keeps its first grant; a revoked consent
-- stays revoked (an import never undoes an opt-out: a new opt-in is a human's decision,
-- recorded with source 'operator' after the revocation). Returns how many were new.
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

-- Marks a lead's consents of p_channels (sms | email | calls | ai_voice) revoked.
create or replace function internal.consent_revoke(
  p_lead_id bigint, p_channels text[], p_by text, p_now timestamptz
) returns void
language sql set search_path = public as $$
  update consents set revoked_at = p_now, revoked_by = left(p_by, 200), updated_at = p_now
   where lead_id = p_lead_id and channel = any (p_channels) and revoked_at is null;
$$;

-- Consent records for the leads given by phone or email (`nightshift leads consent`, the
-- booking form): p_items [{address, channel, source, granted_at, text, url}]. Returns each
-- address with how many leads it matched.
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

-- A lead's consent records (`nightshift leads show`, tests).
create or replace function consent_list(p_lead_id bigint)
returns setof consents
language sql stable set search_path = public as $$
  select * from consents where lead_id = p_lead_id order by channel;
$$;

-- ---------------------------------------------------------------------------------------
-- holds and their release
-- ---------------------------------------------------------------------------------------

-- `nightshift leads release PHONE_OR_EMAIL`: a person looked at a held lead's words and
-- decided they were not an opt-out. Clears leads.needs_review, sets the enrollments the hold
-- paused (stopped_reason 'needs_review') back to active, and records the release. A lead not
-- held is left alone (released = false). One row per matching lead.
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

-- What `nightshift status`, the status page and the digest show about consent: leads held
-- for a human (count and the latest few, with the reason), and the steps and rows refused
-- since p_since per reason (distinct leads and times).
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
