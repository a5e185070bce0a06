-- The outbox: messages (email, SMS) and calls, written before any provider is called; the
-- opt-out list every claim checks (repository: app/db/outbox.py).
--
-- Never twice: a row is written (queued), then CLAIMED (messages: 'sending', calls:
-- 'placing') before the provider is called, and the result is recorded after. A claim
-- re-checks every opt-out that covers the channel. A failure whose outcome is unknown
-- (timeout, dropped connection, 5xx) stamps `ambiguous_since`; whoever claims the row
-- next must first ask the provider whether it created the message/call since then.

-- A function body is checked when the function runs, not here: it may read a table that a
-- later file declares. (The migrations are applied with the check on.)
set check_function_bodies = off;

-- ---------------------------------------------------------------------------------------
-- messages: one row per intended send, written BEFORE the provider is called
-- ---------------------------------------------------------------------------------------
create table messages (
  id              bigint generated always as identity primary key,
  idempotency_key text not null unique,
  lead_id         bigint references leads (id) on delete set null,
  enrollment_id   bigint references enrollments (id) on delete set null,
  campaign_id     bigint references campaigns (id) on delete set null,
  step_id         bigint references campaign_steps (id) on delete set null,
  channel         text not null check (channel in ('email', 'sms')),
  kind            text not null default 'marketing',  -- marketing | transactional | alert | rescue
  provider        text not null,                      -- resend | twilio | dryrun
  provider_id     text,
  to_address      text not null,
  status          text not null default 'queued'
                  check (status in ('queued', 'sending', 'sent', 'delivered', 'opened',
                                    'clicked', 'failed', 'bounced', 'complained',
                                    'undelivered', 'cancelled', 'dry_run')),
                  -- dry_run: a dry-run twin "sent" it: stored, never reached anyone
  status_history  jsonb not null default '[]',
  attempts        integer not null default 0,
  error_code      text,
  error_message   text,
  payload         jsonb not null default '{}',
  created_at      timestamptz not null default now(),
  claimed_at      timestamptz,
  sent_at         timestamptz,
  updated_at      timestamptz not null default now(),
  ambiguous_since timestamptz   -- the provider may have the message: ask before resending
);
create index messages_provider_id_idx on messages (provider, provider_id)
  where provider_id is not null;
create index messages_lead_idx on messages (lead_id, created_at desc);
create index messages_pending_idx on messages (claimed_at) where status in ('queued', 'sending');
-- The deliverability guard's last 200 sends of a campaign per channel, newest first: read in
-- the index's order and stopped at 200, not every send of the campaign sorted (issue 19;
-- migration 20261207111000); the drip claim's sends today per capped campaign and channel
-- (a range of created_at), and a campaign's deletion (its messages' campaign_id set null).
-- It replaced messages_campaign_day_idx (campaign_id, created_at), which no reader needed
-- since: one index fewer to write per message written and per message recorded sent
-- (migration 20261208140000).
create index messages_campaign_channel_idx on messages (campaign_id, channel, created_at desc, id desc);
-- The alert storm cap: alert SMS per phone in a window.
create index messages_alert_idx on messages (to_address, created_at desc) where kind = 'alert';
-- Windows of messages by time (read by created_at).
create index messages_created_idx on messages (created_at);
-- The status page's deliverability section (internal.status_aggregates, hourly): the sent
-- marketing messages of 30 days, read from this index alone (an index-only scan, ~40 bytes
-- a row) instead of the heap (~970 bytes a row: payload, status_history; issue 19).
create index messages_marketing_sent_idx on messages (created_at)
  include (campaign_id, status, error_code) where kind = 'marketing' and sent_at is not null;
-- The sends of a window of time: the guardian's callback_gaps (05_alerts.sql), the console's
-- contacted (09_console.sql: an index-only scan), the digest's counts (07_appointments.sql),
-- the bandit's arms (06_scoring.sql). One index for them all since migration
-- 20261210150000_messages_sent_idx: it replaced messages_sent_provider_idx (provider,
-- sent_at) and messages_sent_lead_idx (the same key and columns, where lead_id is not null),
-- so every message inserted, and every update that is not HOT (a send, a status callback:
-- status is indexed), writes one index entry fewer, and each of those readers reads one
-- range of it (bench/webhook_sent_index_ab.py: the readers as fast, the writes a little
-- faster).
create index messages_sent_idx on messages (sent_at) include (lead_id, provider, status)
  where sent_at is not null;
alter table messages enable row level security;
revoke all on messages from public, anon, authenticated;
grant all on messages to service_role;

-- ---------------------------------------------------------------------------------------
-- calls (Vapi): the same outbox discipline, plus the campaign manager's queue and retries
-- ---------------------------------------------------------------------------------------
create table calls (
  id               bigint generated always as identity primary key,
  idempotency_key  text not null unique,
  vapi_call_id     text unique,
  lead_id          bigint references leads (id) on delete set null,
  enrollment_id    bigint references enrollments (id) on delete set null,
  campaign_id      bigint references campaigns (id) on delete set null,
  provider         text not null default 'vapi',
  to_number        text not null,
  status           text not null default 'queued'
                   check (status in ('queued', 'placing', 'ringing', 'in-progress',
                                     'forwarding', 'ended', 'failed', 'cancelled')),
  ended_reason     text,
  outcome          text,              -- answered | no_answer | voicemail | busy | booked | ...
  started_at       timestamptz,
  ended_at         timestamptz,
  duration_seconds numeric,
  cost             numeric,
  summary          text,
  transcript       text,
  recording_url    text,
  analysis         jsonb not null default '{}',
  created_at       timestamptz not null default now(),
  updated_at       timestamptz not null default now(),
  claimed_at       timestamptz,
  placed_at        timestamptz,
  attempts         integer not null default 0,
  error_code       text,
  error_message    text,
  payload          jsonb not null default '{}',
  ambiguous_since  timestamptz,       -- Vapi may have created the call: reconcile first
  not_before       timestamptz,       -- the campaign manager's chosen slot
  attempt          integer not null default 1,  -- 1 + the retries of an unanswered call
  retry_settled_at timestamptz,       -- the next attempt is queued, or none is left
  -- when nightshift RECEIVED each Vapi event (its own clock, not Vapi's timestamps): the
  -- first in-progress status-update (a human answered) and the end-of-call report. The
  -- scoring features count a call's outcome only from report_received_at (point in time).
  connected_at       timestamptz,
  report_received_at timestamptz,
  -- the call queue's order when the call was placed: the per-call model's chance that this
  -- call books, and which order placed it ('score', or 'random': the live control)
  queue_score      real,
  queue_order      text check (queue_order in ('score', 'random', 'oracle'))
);
-- Vapi's concurrency limit is counted over calls still in flight.
create index calls_in_flight_idx on calls (status)
  where status in ('queued', 'placing', 'ringing', 'in-progress', 'forwarding');
create index calls_lead_idx on calls (lead_id, created_at desc);
create index calls_campaign_day_idx on calls (campaign_id, created_at);
-- The calls placed today per campaign (calls_placed_today: the daily call caps).
create index calls_placed_idx on calls (placed_at) where campaign_id is not null;
-- The call queue: calls waiting for a slot, not yet handed to Vapi.
create index calls_waiting_idx on calls (not_before)
  where status = 'queued' and vapi_call_id is null;
-- ... by campaign: call_queue reads only the waiting calls of campaigns under their daily
-- call cap (and those outside a campaign), not a capped campaign's whole queue.
create index calls_waiting_campaign_idx on calls (campaign_id)
  where status = 'queued' and vapi_call_id is null;
create index calls_created_idx on calls (created_at);
-- requeue_unanswered_calls reads only the unanswered calls whose retry is not yet settled,
-- not every unanswered call ever made.
create index calls_retry_open_idx on calls (id)
  where status = 'ended' and retry_settled_at is null
    and ended_reason in ('customer-did-not-answer', 'customer-busy', 'voicemail');
alter table calls enable row level security;
revoke all on calls from public, anon, authenticated;
grant all on calls to service_role;

-- ---------------------------------------------------------------------------------------
-- suppressions: opted-out addresses, per channel ('all': every channel)
-- ---------------------------------------------------------------------------------------
create table suppressions (
  id         bigint generated always as identity primary key,
  channel    text not null check (channel in ('email', 'sms', 'call', 'all')),
  address    text not null,          -- E.164 phone or lower-cased email
  reason     text not null,          -- stop | unsubscribe | complaint | hard_bounce | dnc | manual
  source     text,
  created_at timestamptz not null default now(),
  unique (channel, address)
);
create index suppressions_address_idx on suppressions (address);
alter table suppressions enable row level security;
revoke all on suppressions from public, anon, authenticated;
grant all on suppressions to service_role;

-- ---------------------------------------------------------------------------------------
-- dnc_numbers: an imported do-not-call list (the national registry, an internal list);
-- every call claim scrubs against it (outbox_is_suppressed)
-- ---------------------------------------------------------------------------------------
create table dnc_numbers (
  phone     text primary key,        -- E.164
  source    text not null,           -- what list it came from (e.g. "FTC registry, area 212")
  list_date date,                    -- the list's own date (the registry: re-scrub every 31 d)
  added_at  timestamptz not null default now(),
  -- what the list covers: calls (the registry's telephone solicitations), or calls_texts
  -- (campaign and rescue texts too: internal.outbox_refusal)
  scope     text not null default 'calls' check (scope in ('calls', 'calls_texts'))
);
alter table dnc_numbers enable row level security;
revoke all on dnc_numbers from public, anon, authenticated;
grant all on dnc_numbers to service_role;

-- ---------------------------------------------------------------------------------------
-- helpers
-- ---------------------------------------------------------------------------------------

-- True when an opt-out (lead flag or suppression row) forbids this channel/address: the
-- `suppressed` of internal.outbox_check (13_consent.sql), which holds the rule, for callers
-- that check one row. A batch (the drip claim, the delivery claim, the last-moment check)
-- joins internal.outbox_check laterally instead: inlined into its query, one index probe per
-- rule and row, where a call of this function costs a function call per row (no function
-- whose body reads a table is inlined as a scalar; ~25 us a row at 10,000 leads).
-- No `set search_path`, unlike every other function, so that outbox_check is inlined here;
-- only service_role can execute it, so no caller brings another search_path.
create or replace function internal.outbox_is_suppressed(
  p_channel text, p_lead_id bigint, p_address text
)
returns boolean
language sql stable as $$
  select k.suppressed from internal.outbox_check(p_channel, null::text, p_lead_id, p_address) k;
$$;

-- A lead's contact attempts in the 24 h before p_now (the FL/OK/MD caps): texts and calls
-- counted at the moment they were actually attempted (sent / placed, else claimed), never at
-- the moment they were queued — a call queued yesterday and placed today counts today.
-- Campaign and missed-call rescue texts count; transactional ones (appointment
-- confirmations and reminders, HELP answers) are not solicitations.
-- plpgsql, so that its query is parsed and planned once per connection: a SQL function
-- whose body has a FROM is never inlined as a scalar, and was planned again at every call
-- (~0.6 ms of an end-of-call report that reads it, webhook_vapi_report).
create or replace function internal.lead_recent_attempts(p_lead_id bigint, p_now timestamptz)
returns jsonb
language plpgsql stable set search_path = public as $$
begin
  return (
    select coalesce(jsonb_agg(t order by t), '[]') from (
      select coalesce(m.sent_at, m.claimed_at) t from messages m
       where m.lead_id = p_lead_id and m.channel = 'sms' and m.kind in ('marketing', 'rescue')
         and m.claimed_at is not null and m.status <> 'cancelled'
      union all
      select coalesce(k.placed_at, k.claimed_at) from calls k
       where k.lead_id = p_lead_id and k.claimed_at is not null and k.status <> 'cancelled'
    ) x
    where t > p_now - interval '24 hours' and t <= p_now);
end
$$;

-- internal.lead_recent_attempts for a batch of leads (the drip claim's 500): one row per lead
-- with at least one attempt in the 24 h before p_now, the same rule (tests/campaigns/
-- test_claim_reads.py holds the two together; the scalar stays its own body, plpgsql, as it
-- is read by single-row callers). Not inlined into its callers (an inlined per-row form, its
-- plan cached while messages was near empty, scanned messages once per row:
-- 20261206183000_drip_set_based.sql). plpgsql with one generic plan per connection that
-- reads messages and calls by lead (messages_lead_idx, calls_lead_idx) whatever the tables'
-- sizes when it was made (`enable_seqscan = off`, as mark_sending): as a SQL function with a
-- SET clause its query was parsed and planned again at every claim and call_queue: 2-30
-- leads on day 28 of a 10,000-lead month, 0.59-0.76 ms a call, 0.23-0.36 since
-- (`bench/drip_claim_parts.py attempts`; migration 20261211110000).
create or replace function internal.leads_recent_attempts(p_lead_ids bigint[], p_now timestamptz)
returns table (lead_id bigint, attempts jsonb)
language plpgsql stable set search_path = public set plan_cache_mode = force_generic_plan
set enable_seqscan = off as $$
#variable_conflict use_column
begin
  return query
  select x.lead_id, jsonb_agg(x.t order by x.t) from (
    select m.lead_id, coalesce(m.sent_at, m.claimed_at) t from messages m
     where m.lead_id = any (p_lead_ids) and m.channel = 'sms'
       and m.kind in ('marketing', 'rescue') and m.claimed_at is not null
       and m.status <> 'cancelled'
    union all
    select k.lead_id, coalesce(k.placed_at, k.claimed_at) from calls k
     where k.lead_id = any (p_lead_ids) and k.claimed_at is not null and k.status <> 'cancelled'
  ) x
  where x.t > p_now - interval '24 hours' and x.t <= p_now
  group by x.lead_id;
end
$$;

-- ---------------------------------------------------------------------------------------
-- messages
-- ---------------------------------------------------------------------------------------

-- Writes outbox rows in one call: emails/SMS into messages, calls into calls (queued).
-- Items: {idempotency_key, channel (email|sms|call), provider, to_address (or to_number),
-- kind, lead_id, enrollment_id, campaign_id, step_id, payload}. The key is unique, so writing
-- the same key again (a re-run after a crash) finds the row written before instead of a second
-- one. Returns every item's row: its key, 'message' or 'call', id and status.
--
-- p_claim {channel: n}: the first n message items of each channel (in item order) are also
-- claimed for sending in this call, with claim_message's rules and outcomes (`outcome`, and
-- the row in `message`, as claim_messages returns them; null for the items not claimed): a
-- row this call creates is written already claimed ('sending', attempts 1, claimed_at
-- p_now) or, when an opt-out covers it (internal.outbox_check), already cancelled
-- ('suppressed'): one row version instead of a queued one then its claim; a row that existed
-- (a re-run after a crash) is claimed by claim_messages itself (claimed, busy, reclaimed
-- with ambiguous_since, done). The drip loop claims here the first chunk its limiter lets
-- out (OutboxDelivery.claim_chunk), the rest with claim_messages as their turn comes.
-- Planned once per connection, by key, as mark_sending (see there; migration
-- 20261210230000): its probes (the opt-outs, the keys written before) read by key.
create or replace function enqueue_outbox(
  p_items jsonb, p_now timestamptz default now(), p_claim jsonb default '{}',
  p_reclaim_after_seconds integer default 600
) returns table (idempotency_key text, kind text, id bigint, status text, outcome text,
                 message jsonb)
language plpgsql set search_path = public set plan_cache_mode = force_generic_plan
set enable_seqscan = off as $$
#variable_conflict use_column
declare
  v_rows jsonb;       -- the message rows this call created, as claim_messages returns rows
  v_fresh text[];     -- their keys
  v_claim text[];     -- the keys of the message items to claim
  v_found text[];     -- the keys of the message items whose row existed (none, but in a re-run)
  v_calls boolean;    -- some items are calls
begin
  with x as (
    select t.i, t.ord, t.i->>'channel' ch, coalesce(t.i->>'kind', 'marketing') kd,
           row_number() over (partition by t.i->>'channel' order by t.ord)
             <= coalesce((p_claim->>(t.i->>'channel'))::integer, 0) claim
      from jsonb_array_elements(p_items) with ordinality t(i, ord)
     where t.i->>'channel' in ('email', 'sms')
  ), c as materialized (  -- claim_messages' opt-out check (once a row: materialized)
    select x.*, k.suppressed
      from x cross join lateral internal.outbox_check(
             x.ch, x.kd, (x.i->>'lead_id')::bigint, x.i->>'to_address') k
  ), d as (
    select c.*, c.claim and c.suppressed cancel, c.claim and not c.suppressed go from c
  ), ins as (
    insert into messages as m (idempotency_key, lead_id, enrollment_id, campaign_id, step_id,
                               channel, kind, provider, to_address, payload, created_at,
                               updated_at, status, attempts, claimed_at, error_code,
                               error_message, status_history)
    select d.i->>'idempotency_key', (d.i->>'lead_id')::bigint, (d.i->>'enrollment_id')::bigint,
           (d.i->>'campaign_id')::bigint, (d.i->>'step_id')::bigint, d.ch, d.kd,
           d.i->>'provider', d.i->>'to_address', coalesce(d.i->'payload', '{}'), p_now, p_now,
           case when d.go then 'sending' when d.cancel then 'cancelled' else 'queued' end,
           case when d.go then 1 else 0 end,
           case when d.go then p_now end,
           case when d.cancel then 'suppressed' end,
           case when d.cancel then 'an opt-out covers this channel' end,
           case when d.go then jsonb_build_array(jsonb_build_object('status', 'sending',
                                                                    'at', p_now))
                when d.cancel then jsonb_build_array(jsonb_build_object(
                  'status', 'cancelled', 'at', p_now, 'reason', 'suppressed'))
                else '[]'::jsonb end
      from d order by d.ord
    -- A step written again (its row went back to the queue when its window closed before the
    -- send, see mark_sending) brings the window the gate found now: only that is refreshed.
    on conflict on constraint messages_idempotency_key_key do update
       set payload = m.payload
                     || jsonb_build_object('send_before', excluded.payload->'send_before')
     where m.status = 'queued' and m.payload ? 'send_before'
    returning m.*, (m.xmax = 0) created
  )
  select coalesce(jsonb_agg(to_jsonb(ins) - 'created') filter (where ins.created), '[]'),
         coalesce(array_agg(ins.idempotency_key) filter (where ins.created), '{}'),
         array(select c.i->>'idempotency_key' from c where c.claim)
    into v_rows, v_fresh, v_claim
    from ins;

  -- A statement that writes or reads nothing still costs: an insert of no call fires the
  -- statement triggers of calls (status_stale, scoring: a function call each), and the
  -- return below called claim_messages and probed messages and calls for no key. Most
  -- batches are all new message rows (migration 20261209120000).
  v_calls := jsonb_path_exists(p_items, '$[*] ? (@.channel == "call")');
  if v_calls then
    insert into calls (idempotency_key, lead_id, enrollment_id, campaign_id, provider,
                       to_number, status, payload, created_at, updated_at)
    select i->>'idempotency_key', (i->>'lead_id')::bigint, (i->>'enrollment_id')::bigint,
           (i->>'campaign_id')::bigint, coalesce(i->>'provider', 'vapi'),
           coalesce(i->>'to_address', i->>'to_number'), 'queued',
           coalesce(i->'payload', '{}'), p_now, p_now
      from jsonb_array_elements(p_items) i
     where i->>'channel' = 'call'
    on conflict on constraint calls_idempotency_key_key do nothing;
  end if;

  v_found := array(select i->>'idempotency_key' from jsonb_array_elements(p_items) i
                     where i->>'channel' in ('email', 'sms')
                    except select unnest(v_fresh));
  if cardinality(v_found) = 0 and not v_calls then  -- every row created by this call
    return query
    select r->>'idempotency_key', 'message'::text, (r->>'id')::bigint, r->>'status',
           case r->>'status' when 'sending' then 'claimed' when 'cancelled' then 'suppressed' end,
           case when r->>'status' <> 'queued' then r end
      from jsonb_array_elements(v_rows) r;
    return;
  end if;
  return query  -- a created row was claimed iff it is not queued (sending, or cancelled)
  select r->>'idempotency_key', 'message'::text, (r->>'id')::bigint, r->>'status',
         case r->>'status' when 'sending' then 'claimed' when 'cancelled' then 'suppressed' end,
         case when r->>'status' <> 'queued' then r end
    from jsonb_array_elements(v_rows) r
  union all  -- rows written before, to claim: claim_messages decides
  select k.message->>'idempotency_key', 'message'::text, (k.message->>'id')::bigint,
         k.message->>'status', k.outcome, k.message
    from claim_messages(array(select m.id from messages m
                               where m.idempotency_key = any (array(
                                       select unnest(v_found) intersect select unnest(v_claim)))
                               order by m.id),
                        p_reclaim_after_seconds, p_now) k
  union all  -- rows written before, not to claim
  select m.idempotency_key, 'message'::text, m.id, m.status, null::text, null::jsonb
    from messages m
   where m.idempotency_key = any (array(select unnest(v_found) except select unnest(v_claim)))
  union all
  select k.idempotency_key, 'call'::text, k.id, k.status, null::text, null::jsonb from calls k
   where k.idempotency_key = any (array(select i->>'idempotency_key'
                                          from jsonb_array_elements(p_items) i
                                         where i->>'channel' = 'call'));
end
$$;

-- Writes one outbox message (queued): enqueue_outbox with one item. The idempotency key is
-- unique: enqueueing the same key again returns the existing row unchanged.
create or replace function enqueue_message(p_message jsonb, p_now timestamptz default now())
returns setof messages
language plpgsql set search_path = public as $$
begin
  perform enqueue_outbox(jsonb_build_array(p_message), p_now);
  return query select * from messages where idempotency_key = p_message->>'idempotency_key';
end
$$;

-- Claims a message for sending. outcome:
--   claimed     queued → sending (attempts + 1, claimed_at = p_now)
--   reclaimed   it was 'sending' for longer than p_reclaim_after_seconds (a crashed run):
--               the earlier attempt's outcome is unknown, so ambiguous_since is set
--   suppressed  an opt-out covers it: the row is cancelled, nothing may be sent
--   busy        another worker holds a fresh claim
--   done        it is already past sending (sent, failed, cancelled, ...)
create or replace function claim_message(
  p_id bigint, p_reclaim_after_seconds integer default 600, p_now timestamptz default now()
) returns table (outcome text, message jsonb)
language plpgsql set search_path = public as $$
begin
  return query select * from claim_messages(array[p_id], p_reclaim_after_seconds, p_now);
  if not found then
    raise exception 'no message %', p_id using errcode = 'P0002';
  end if;
end
$$;

-- The batch form of claim_message (the drip loop claims a whole batch in one round trip;
-- claim_message is this with one id): one row per existing id, in the order given, with the
-- outcomes listed at claim_message.
-- Planned once per connection, by key (as mark_sending, see there): ~1 ms a call of a
-- 10,000-lead month's claims, ~0.2-0.4 ms since (server ms, `bench/outbox_writes_ab.py
-- days`; migration 20261210230000).
create or replace function claim_messages(
  p_ids bigint[], p_reclaim_after_seconds integer default 600, p_now timestamptz default now()
) returns table (outcome text, message jsonb)
language plpgsql set search_path = public set plan_cache_mode = force_generic_plan
set enable_seqscan = off as $$
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
$$;

-- The last-moment check, called by the sender after the rate limiter let the row go and
-- right before the provider request (a STOP can land while a claimed row waits for its turn).
-- One round trip for the rows given (the rows whose turn came together). Per row still
-- 'sending', in one statement:
--   go          no opt-out covers it and its window is open (payload.send_before, written by
--               drip from the gate: the end of the permitted window in every candidate zone,
--               absent = no window): the row stays 'sending' as its claim left it (its
--               claimed_at stays the earliest moment the provider may have it: reconciliation)
--   suppressed  an opt-out covers it now: the row is cancelled, nothing may be sent
--   refused     no opt-out, but it may not go (internal.outbox_refusal: the lead is held for
--               a human, a do-not-call list covers texts, no consent on record or revoked):
--               cancelled with the reason as error_code; a consent refusal is counted in
--               consent_skips
--   window      the permitted window closed while it waited: back to 'queued' (its step is
--               rescheduled; writing the step again refreshes send_before)
--   done        the row is not 'sending' any more (another worker, a webhook): not ours
-- Planned once per connection, by key (issue 19, migration 20261210230000): left to choose,
-- PL/pgSQL planned this statement (internal.outbox_check inlined: a probe per rule) again at
-- every call, a custom plan for the ids given, ~0.8-1.2 ms a call of the month's ~7,000,
-- most of one row. force_generic_plan keeps one plan per connection until the tables' next
-- ANALYZE, and enable_seqscan = off makes that plan read every table by its keys even when
-- it was made while the outbox was nearly empty (a kept sequential scan grows with the
-- table until the next ANALYZE): every row it reads is found by a key. Server ms a call
-- per virtual day, before (`--without 20261210230000`) and after: `bench/outbox_writes_ab.py
-- days`.
create or replace function mark_sending(p_ids bigint[], p_now timestamptz default now())
returns table (id bigint, verdict text)
language plpgsql set search_path = public set plan_cache_mode = force_generic_plan
set enable_seqscan = off as $$
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
$$;

-- The deadline of queued messages the caller's gate just allowed (the missed-call rescue
-- text: app/campaigns/rescue.py): p_items [{id, send_before}] is written into each queued
-- row's payload.send_before, which mark_sending enforces at the last moment (a text that
-- waited in the rate limiter past the end of the lead's permitted hours goes back to the
-- queue instead of out). Returns how many rows were stamped.
create or replace function outbox_send_before(p_items jsonb, p_now timestamptz default now())
returns integer
language sql set search_path = public as $$
  with stamped as (
    update messages m
       set payload = m.payload || jsonb_build_object('send_before', i->>'send_before'),
           updated_at = p_now
      from jsonb_array_elements(p_items) i
     where m.id = (i->>'id')::bigint and m.status = 'queued'
    returning 1
  )
  select count(*)::integer from stamped;
$$;

-- Records a provider's acceptance: provider id, and 'sent' unless a webhook already moved the
-- row further (a status callback can arrive before this). The provider may change (dryrun).
-- p_request, when given, is stored as payload.request (dry runs: what would have been sent).
create or replace function record_message_sent(
  p_id bigint, p_provider text, p_provider_id text, p_request jsonb default null,
  p_now timestamptz default now()
) returns setof messages
language plpgsql set search_path = public as $$
begin
  if record_messages_sent(jsonb_build_array(jsonb_build_object(
       'id', p_id, 'provider', p_provider, 'provider_id', p_provider_id,
       'request', p_request)), p_now) = 0 then
    raise exception 'no message %', p_id using errcode = 'P0002';
  end if;
  return query select * from messages where id = p_id;
end
$$;

-- The batch form of record_message_sent. p_results: [{id, provider, provider_id, request}].
-- Records each provider's acceptance: provider id, and 'sent' ('dry_run' for the dry-run
-- twin's: nothing reached anyone, never counted as sent) unless a webhook already moved the
-- row further (a status callback can arrive before this); `request` (dry runs: what would
-- have been sent) is kept in payload.request. Returns how many rows were recorded.
-- The rows are found by their ids (`m.id = any (...)`: the primary key), not by joining the
-- results: estimated at 100 rows (a set-returning function's default), that join was planned
-- as a hash of a sequential scan of all of messages while the table was small enough: in a
-- 10,000-lead month, server ms a call 0.5 on day 1 growing to ~3 by day 4 until the planner
-- turned to the index (the day follows the autoanalyze; `bench/outbox_writes_ab.py days
-- --without 20261210230000`). Planned once per connection, by key, as mark_sending (see
-- there; migration 20261210230000).
create or replace function record_messages_sent(p_results jsonb, p_now timestamptz default now())
returns integer
language plpgsql set search_path = public set plan_cache_mode = force_generic_plan
set enable_seqscan = off as $$
declare
  v_n integer;
begin
  with r as (
    select (v->>'id')::bigint id, v->>'provider' provider, v->>'provider_id' provider_id,
           nullif(v->'request', 'null'::jsonb) request
      from jsonb_array_elements(p_results) v
  )
  update messages m set
    provider = r.provider, provider_id = r.provider_id, ambiguous_since = null,
    error_code = null, error_message = null,
    status = case when m.status not in ('queued', 'sending') then m.status
                  when r.provider = 'dryrun' then 'dry_run' else 'sent' end,
    sent_at = coalesce(m.sent_at, p_now), updated_at = p_now,
    payload = case when r.request is null then m.payload
                   else m.payload || jsonb_build_object('request', r.request) end,
    status_history = m.status_history || jsonb_build_object(
      'status', case when r.provider = 'dryrun' then 'dry_run' else 'sent' end, 'at', p_now,
      'provider_id', r.provider_id)
  from r
  where m.id = r.id
    and m.id = any (array(select (v->>'id')::bigint from jsonb_array_elements(p_results) v));
  get diagnostics v_n = row_count;
  return v_n;
end
$$;

-- Records a failed send.
--   p_retry      true: back to 'queued' for a later run; false: 'failed' for good
--   p_ambiguous  the provider may have created it: keep/stamp ambiguous_since (= claim time)
--   p_opt_out    a channel to opt the lead out of, with a suppressions row for the address
--                (Twilio 21610: the recipient sent STOP). All in one transaction.
create or replace function record_message_failed(
  p_id bigint, p_error_code text, p_error_message text, p_retry boolean default false,
  p_ambiguous boolean default false, p_opt_out text default null, p_now timestamptz default now()
) returns setof messages
language plpgsql set search_path = public as $$
declare
  v messages;
begin
  update messages set
    status = case when p_retry then 'queued' else 'failed' end,
    error_code = p_error_code, error_message = left(p_error_message, 1000), updated_at = p_now,
    ambiguous_since = case when p_ambiguous then coalesce(ambiguous_since, claimed_at, p_now)
                           else ambiguous_since end,
    status_history = status_history || jsonb_build_object(
      'status', case when p_retry then 'queued' else 'failed' end, 'at', p_now,
      'error_code', p_error_code)
  where id = p_id returning * into v;
  if not found then
    raise exception 'no message %', p_id using errcode = 'P0002';
  end if;
  if p_opt_out is not null then
    perform outbox_opt_out(p_opt_out, v.lead_id, v.to_address, p_error_code, p_now);
  end if;
  return next v;
end
$$;

-- Opts a lead out of a channel and suppresses the address (idempotent; first reason kept).
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

-- The operator's do-not-contact (`nightshift leads dnc`, the import's do_not_contact column).
-- p_items: [{address: E.164 phone or lower-cased email, channels: [email|sms|call, ...]}].
-- Each matching lead (by phone or email) is opted out of every channel given, and the address
-- is suppressed for the channels it can carry (a phone: sms, call; an email: email) even when
-- no lead has it yet. Idempotent: the first opt-out time and reason are kept. Returns each
-- address with how many leads it matched.
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

-- Imports a do-not-call list: each E.164 number with the list's source, date and scope
-- ('calls', or 'calls_texts': campaign and rescue texts too); a number already listed takes
-- the newer list's. Returns how many numbers the list holds now.
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

-- One outbox message by id (no row when there is none).
create or replace function get_message(p_id bigint)
returns setof messages
language sql stable set search_path = public as $$
  select * from messages where id = p_id;
$$;

-- ---------------------------------------------------------------------------------------
-- calls
-- ---------------------------------------------------------------------------------------

-- Writes one outbox call (queued): enqueue_outbox with one item; the same idempotency key
-- returns the existing row.
create or replace function enqueue_call(p_call jsonb, p_now timestamptz default now())
returns setof calls
language plpgsql set search_path = public as $$
begin
  perform enqueue_outbox(jsonb_build_array(p_call || '{"channel": "call"}'), p_now);
  return query select * from calls where idempotency_key = p_call->>'idempotency_key';
end
$$;

-- Claims a call for placing (queued → placing). Outcomes as claim_message, plus
--   concurrency  p_max_in_flight calls are already placing or live: try again later
--   window       p_send_before (the end of the permitted window campaign_manager's gate found,
--                null = none) has passed: the row stays queued for a later run
-- A row that already has a vapi_call_id is 'done'. Do-not-call (lead flag or a 'call'/'all'
-- suppression) cancels the row ('suppressed'); so does a refusal ('refused': no ai_voice
-- consent on record, the lead held for a human; internal.outbox_refusal). No rate limiter waits between this claim and the request to
-- Vapi: it is the last-moment check of a call, in the round trip that marks it 'placing'.
create or replace function claim_call(
  p_id bigint, p_max_in_flight integer default 10, p_reclaim_after_seconds integer default 600,
  p_now timestamptz default now(), p_send_before timestamptz default null
) returns table (outcome text, call jsonb)
language plpgsql set search_path = public as $$
declare
  v calls;
  v_outcome text;
  v_suppressed boolean;
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
  -- Opt-outs and refusals in one read of internal.outbox_check, a statement plpgsql plans
  -- once per connection: internal.outbox_is_suppressed in the IF was a SQL function with a
  -- FROM, parsed and planned again at every claim (~0.25 ms). The opt-out still wins.
  select k.suppressed, k.refusal into v_suppressed, v_refusal
    from internal.outbox_check('call', 'marketing', v.lead_id, v.to_number) k;
  if v_suppressed then
    update calls set status = 'cancelled', error_code = 'suppressed',
           error_message = 'do-not-call covers this number', updated_at = p_now
     where id = p_id returning * into v;
    return query select 'suppressed'::text, to_jsonb(v);
    return;
  end if;
  -- A call is an AI voice: ai_voice consent on record, and no hold (outbox_check's refusal).
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

-- Records a placed call: Vapi's id and status ('queued' from the API → our 'placing' stays
-- until a status-update webhook moves it); stamps the lead's last_called_at.
create or replace function record_call_placed(
  p_id bigint, p_provider text, p_provider_call_id text, p_request jsonb default null,
  p_now timestamptz default now()
) returns setof calls
language plpgsql set search_path = public as $$
declare
  v calls;
begin
  update calls set
    provider = p_provider, vapi_call_id = coalesce(vapi_call_id, p_provider_call_id),
    placed_at = coalesce(placed_at, p_now), ambiguous_since = null,
    error_code = null, error_message = null, updated_at = p_now,
    -- a dry run never rings: it is over as soon as it is recorded
    status = case when p_provider = 'dryrun' and status = 'placing' then 'ended' else status end,
    ended_reason = case when p_provider = 'dryrun' then 'dry-run' else ended_reason end,
    payload = case when p_request is null then payload
                   else payload || jsonb_build_object('request', p_request) end
  where id = p_id returning * into v;
  if not found then
    raise exception 'no call %', p_id using errcode = 'P0002';
  end if;
  update leads set last_called_at = p_now, call_attempts = call_attempts + 1, updated_at = p_now
   where id = v.lead_id;
  return next v;
end
$$;

-- Records a failed placement: p_retry → back to 'queued', else 'failed'; p_ambiguous stamps
-- ambiguous_since (Vapi may have created the call: reconcile before placing again).
create or replace function record_call_failed(
  p_id bigint, p_error_code text, p_error_message text, p_retry boolean default false,
  p_ambiguous boolean default false, p_now timestamptz default now()
) returns setof calls
language plpgsql set search_path = public as $$
begin
  return query
  update calls set
    status = case when p_retry then 'queued' else 'failed' end,
    error_code = p_error_code, error_message = left(p_error_message, 1000), updated_at = p_now,
    ambiguous_since = case when p_ambiguous then coalesce(ambiguous_since, claimed_at, p_now)
                           else ambiguous_since end
  where id = p_id
  returning *;
  if not found then
    raise exception 'no call %', p_id using errcode = 'P0002';
  end if;
end
$$;

-- One outbox call by id (no row when there is none).
create or replace function get_call(p_id bigint)
returns setof calls
language sql stable set search_path = public as $$
  select * from calls where id = p_id;
$$;


-- Calls whose end-of-call report never arrived (issue 15, docs/webhooks.md "Lost
-- end-of-call reports"): placed with Vapi, no outcome, placed between p_placed_after and
-- p_placed_before (Vapi's maximum call duration plus a margin ago). Least recently
-- checked first, so calls Vapi does not know (404) or still reports in progress never
-- starve the others out of the bounded batch.
-- Only the calls still awaiting a report are in calls_awaiting_report_idx (issue 19: a scan of
-- every call placed with Vapi, growing with the history; migration 20261207111000).
create index calls_awaiting_report_idx on calls ((coalesce(placed_at, claimed_at, created_at)))
  where provider = 'vapi' and vapi_call_id is not null and outcome is null
    and status not in ('cancelled', 'failed');
create or replace function calls_awaiting_report(
  p_placed_before timestamptz, p_placed_after timestamptz, p_limit integer
) returns table (id bigint, vapi_call_id text, status text, placed_at timestamptz)
language sql stable set search_path = public as $$
  select c.id, c.vapi_call_id, c.status, coalesce(c.placed_at, c.claimed_at, c.created_at)
    from calls c
   where c.provider = 'vapi' and c.vapi_call_id is not null and c.outcome is null
     and c.status not in ('cancelled', 'failed')
     and coalesce(c.placed_at, c.claimed_at, c.created_at) < p_placed_before
     and coalesce(c.placed_at, c.claimed_at, c.created_at) >= p_placed_after
   order by (c.payload->>'reconcile_checked_at')::timestamptz nulls first,
            coalesce(c.placed_at, c.claimed_at, c.created_at), c.id
   limit greatest(p_limit, 0)
$$;

-- The reconciler looked at a call and left it (Vapi does not know it, it is still in
-- progress, the lookup failed): stamped in payload, not updated_at, which counts a call as
-- in flight for claim_call.
create or replace function call_reconcile_checked(
  p_id bigint, p_reason text, p_now timestamptz
) returns void
language sql set search_path = public as $$
  update calls
     set payload = payload || jsonb_build_object('reconcile_checked_at', p_now,
                                                 'reconcile_reason', p_reason)
   where id = p_id
$$;

-- Texts whose final status never arrived (issue 15, docs/webhooks.md "Lost status
-- callbacks"): sent through Twilio (a MessageSid is known), still 'sending' or 'sent', sent
-- between p_sent_after and p_sent_before (a day ago), asked about fewer than p_max_checks
-- times (a carrier that never sends a receipt leaves a text 'sent' for good). Least recently
-- checked first.
-- Only the texts still awaiting a status are in messages_awaiting_status_idx (issue 19: a
-- seq scan of every message ever written; migration 20261207111000).
create index messages_awaiting_status_idx on messages ((coalesce(sent_at, claimed_at, created_at)))
  where channel = 'sms' and provider = 'twilio' and provider_id is not null
    and status in ('sending', 'sent');
create or replace function messages_awaiting_status(
  p_sent_before timestamptz, p_sent_after timestamptz, p_limit integer,
  p_max_checks integer default 3
) returns table (id bigint, provider_id text, status text, lead_id bigint,
                 sent_at timestamptz)
language sql stable set search_path = public as $$
  select m.id, m.provider_id, m.status, m.lead_id, coalesce(m.sent_at, m.claimed_at, m.created_at)
    from messages m
   where m.channel = 'sms' and m.provider = 'twilio' and m.provider_id is not null
     and m.status in ('sending', 'sent')
     and coalesce(m.sent_at, m.claimed_at, m.created_at) < p_sent_before
     and coalesce(m.sent_at, m.claimed_at, m.created_at) >= p_sent_after
     and coalesce((m.payload->>'reconcile_checks')::integer, 0) < p_max_checks
   order by (m.payload->>'reconcile_checked_at')::timestamptz nulls first,
            coalesce(m.sent_at, m.claimed_at, m.created_at), m.id
   limit greatest(p_limit, 0)
$$;

-- The reconciler asked Twilio about a text and left it (not final yet, unknown to Twilio,
-- the lookup failed): stamped in payload with a count of checks; updated_at is left alone.
create or replace function message_reconcile_checked(
  p_id bigint, p_reason text, p_now timestamptz
) returns void
language sql set search_path = public as $$
  update messages
     set payload = payload || jsonb_build_object(
           'reconcile_checked_at', p_now, 'reconcile_reason', p_reason,
           'reconcile_checks', coalesce((payload->>'reconcile_checks')::integer, 0) + 1)
   where id = p_id
$$;
