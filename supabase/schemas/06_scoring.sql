-- Scoring and growth: lead scores (features in one pass, models kept as JSON, scores written
-- back in batch and kept current by marks on the leads that changed), best time to call, A/B
-- variant statistics and winners, failure patterns per day, call quality and the training
-- export (repository: app/db/scoring.py).

-- A function body is checked when the function runs, not here: it may read a table that a
-- later file declares. (The migrations are applied with the check on.)
set check_function_bodies = off;

-- ---------------------------------------------------------------------------------------
-- tables
-- ---------------------------------------------------------------------------------------

-- One row per trained (or prior) scoring model: JSON only, never pickle.
create table score_models (
  id         bigint generated always as identity primary key,
  version    integer not null unique,
  kind       text not null check (kind in ('logistic', 'prior')),
  features   jsonb not null default '{}',   -- the feature spec the model reads
  model      jsonb not null,
  metrics    jsonb not null default '{}',
  trained_at timestamptz not null,
  applied_at timestamptz                    -- every lead was scored with it (scoring_clear)
);
alter table score_models enable row level security;
revoke all on score_models from public, anon, authenticated;
grant all on score_models to service_role;

-- A/B: per step, the posterior of each variant and the promoted winner (once decided).
create table variant_decisions (
  step_id     bigint primary key references campaign_steps (id) on delete cascade,
  campaign_id bigint not null references campaigns (id) on delete cascade,
  goal        text not null check (goal in ('click', 'reply', 'booking')),
  arms        jsonb not null default '{}',   -- variant -> {n, successes}
  p_best      jsonb not null default '{}',   -- variant -> probability of being best
  winner      text,
  promoted_at timestamptz,
  updated_at  timestamptz not null
);
alter table variant_decisions enable row level security;
revoke all on variant_decisions from public, anon, authenticated;
grant all on variant_decisions to service_role;

-- The A/B arms' closed hours (issue 19, stop 25): the counts of variant_stats summed per UTC
-- hour of the sends (sent_at) and per step and variant, each hour computed once after it
-- closed and kept for the horizon it was counted with, so the hourly variants step reads
-- the open hour and the window's first partial hour from the rows and the rest from here.
-- A write that changes a send's counts logs the send's hour in variant_stale (triggers
-- below): the send itself (status, variant, address, lead), a click on it, an SMS reply
-- from its number within 7 days, an appointment of its lead, an erasure; the next call
-- recomputes the hour.
create table variant_hours (
  hour         timestamptz primary key,
  horizon_days integer not null,
  computed_at  timestamptz not null
);
create table variant_hour_arms (
  hour        timestamptz not null,
  campaign_id bigint,
  step_id     bigint not null,
  channel     text not null,
  variant     text,
  sent        integer not null,
  clicked     integer not null,
  replied     integer not null,
  booked      integer not null
);
create index variant_hour_arms_hour_idx on variant_hour_arms (hour);
-- Append-only (no key: concurrent writers never wait on each other); emptied by the read.
create table variant_stale (
  hour timestamptz not null
);
-- The sends an SMS reply may count for, by the number they went to (the reply's trigger).
create index messages_step_sms_to_idx on messages (to_address, sent_at)
  where step_id is not null and channel = 'sms';
alter table variant_hours enable row level security;
alter table variant_hour_arms enable row level security;
alter table variant_stale enable row level security;
revoke all on variant_hours, variant_hour_arms, variant_stale from public, anon, authenticated;
grant all on variant_hours, variant_hour_arms, variant_stale to service_role;

-- Error fingerprints (ids, numbers, URLs masked) counted per UTC day.
create table failure_patterns (
  fingerprint   text not null,
  day           date not null,
  occurrences   integer not null,
  source        text,
  sample        text,
  first_seen_at timestamptz not null,
  primary key (fingerprint, day)
);
alter table failure_patterns enable row level security;
revoke all on failure_patterns from public, anon, authenticated;
grant all on failure_patterns to service_role;

-- One quality score (0-100) per finished call, with the reasons behind it.
create table call_quality (
  call_id   bigint primary key references calls (id) on delete cascade,
  score     integer not null check (score between 0 and 100),
  reasons   jsonb not null default '[]',
  scored_at timestamptz not null
);
create index call_quality_low_idx on call_quality (score);
-- The connected calls by end (quality_weekly's 14 days; training_calls' answered or booked
-- calls, whose outcome implies the predicate): without it both read every call ever made.
create index calls_talked_ended_idx on calls (ended_at)
  where connected_at is not null or outcome in ('answered', 'booked');
-- The ended calls by id (quality_pending: the ones not scored yet, from the index alone).
create index calls_ended_idx on calls (id) include (ended_at) where status = 'ended';
alter table call_quality enable row level security;
revoke all on call_quality from public, anon, authenticated;
grant all on call_quality to service_role;

-- The leads whose features changed since they were last scored. A lead is marked when
-- something its features read changes (the triggers at the end of this file), and the
-- hourly run scores only the marked leads; every lead is scored when a new model is stored.
-- A sequence, not a clock, orders the marks (a trigger has no caller's p_now): a run takes
-- the marks up to the sequence it read and clears only those, so a lead marked while the
-- run scored stays marked for the next one.
create sequence scoring_dirty_seq;
create table scoring_dirty (
  lead_id bigint primary key,  -- no foreign key: its check would lock each lead's row; a
                               -- deleted lead's mark finds no features and is cleared
  seq     bigint not null default nextval('scoring_dirty_seq')
);
alter table scoring_dirty enable row level security;
revoke all on scoring_dirty from public, anon, authenticated;
grant all on scoring_dirty to service_role;
revoke all on sequence scoring_dirty_seq from public, anon, authenticated;
grant usage on sequence scoring_dirty_seq to service_role;

-- The snapshot feature store (issue 19): the training's rows (every lead at risk at a
-- snapshot time t, its features as of t) computed once per t and kept, so a retrain computes
-- only the snapshots that are new since the last one. A feature as of t reads only facts
-- received by t; a snapshot is stored once its label window has closed (t <= now - horizon),
-- and what it holds is the value as of when it was computed: a later change to a lead's own
-- columns (industry, source, state, phone, email, opt-outs) or to a call's status does not
-- rewrite it (docs/scoring.md, "The snapshot store"). The label (booked in (t, t + horizon])
-- is joined when read. An erased lead's rows go with it (the foreign key); snapshots older
-- than the training window are deleted. A migration that changes scoring_features must
-- empty scoring_snapshot_times with `delete` (the rows follow, by a trigger: not `truncate`)
-- so the store is computed again.
-- `columns`: the snapshot's rows as the training reads them
-- (internal.scoring_snapshot_columns), rendered once when stored: a retrain then reads one
-- value per snapshot instead of rendering every row of the window again (57,470 rows: 160 of
-- its ~200 ms). Null when its rows changed since (an erasure: the trigger on
-- scoring_snapshots below) or when stored before the column existed: rendered again by the
-- next retrain's scoring_snapshots_held, and the read renders a null one itself meanwhile.
-- A migration that changes the rendering sets `columns` to null. `json`, not `jsonb`: kept as
-- the text it is sent as, so a read sends it as it is (a retrain reads ~30 of them, ~16 MB;
-- jsonb printed them again at every read: bench/snapshot_fill_ab.py prints the read's ms).
create table scoring_snapshot_times (
  cutoff_at   timestamptz primary key,
  computed_at timestamptz not null,
  columns     json,
  n           integer   -- its row count, with the rendering (read without detoasting it)
);
alter table scoring_snapshot_times enable row level security;
revoke all on scoring_snapshot_times from public, anon, authenticated;
grant all on scoring_snapshot_times to service_role;

-- `cutoff_at` is its scoring_snapshot_times row's, with no foreign key: checking it locked
-- that one row once per row inserted, most of a fill's insert (8,602 rows after day 28 of a
-- 10,000-lead simulation: bench/snapshot_fill_ab.py); the rows of a deleted snapshot time
-- are deleted by the trigger below instead of a cascade. `lead_id` is a lead's, with no
-- foreign key either (its check was a query per row inserted: ~40 of that fill's ~200 ms of
-- server CPU; bench/first_open_ab.py --fill, `fk` against `tree`): an erased lead's rows are
-- deleted by the trigger on leads below, and the fill locks its leads first (one statement),
-- so a lead is never erased while its rows are being stored (they are deleted with it after).
create table scoring_snapshots (
  cutoff_at timestamptz not null,
  lead_id   bigint not null,
  industry text, source text, state text,
  lead_age_days real, days_since_enquiry real, email_ok real, sms_ok real, call_ok real,
  emails_sent integer, emails_opened integer, clicks integer, sms_sent integer,
  sms_replies integer, calls_answered integer, calls_unanswered integer,
  calls_voicemail integer, days_since_engagement real,
  primary key (cutoff_at, lead_id)
);
create index scoring_snapshots_lead_idx on scoring_snapshots (lead_id);  -- erasure's delete
alter table scoring_snapshots enable row level security;
revoke all on scoring_snapshots from public, anon, authenticated;
grant all on scoring_snapshots to service_role;

-- A deleted lead (an erased person) takes its snapshot rows with it: what `on delete
-- cascade` did, once per statement (their renderings are then forgotten by the trigger on
-- scoring_snapshots below).
create or replace function internal.scoring_snapshots_erase()
returns trigger
language plpgsql set search_path = public as $$
begin
  delete from scoring_snapshots s where s.lead_id in (select o.id from old_rows o);
  return null;
end
$$;
create trigger leads_scoring_snapshots_erase after delete on leads
  referencing old table as old_rows
  for each statement execute function internal.scoring_snapshots_erase();
-- (`truncate leads ... cascade` emptied them too: it still does.)
create or replace function internal.scoring_snapshots_truncate()
returns trigger
language plpgsql set search_path = public as $$
begin
  truncate scoring_snapshots;
  return null;
end
$$;
create trigger leads_scoring_snapshots_truncate after truncate on leads
  for each statement execute function internal.scoring_snapshots_truncate();

-- A snapshot whose rows are deleted (an erased person's, by the cascade from leads) forgets
-- its rendered columns, which still held them: nothing of an erased person stays in the
-- store. (Deleting a whole snapshot time deletes the rendering with its row.)
create or replace function internal.scoring_snapshots_forget()
returns trigger
language plpgsql set search_path = public as $$
begin
  update scoring_snapshot_times t set columns = null, n = null
   where t.columns is not null and t.cutoff_at in (select o.cutoff_at from old_rows o);
  return null;
end
$$;
create trigger scoring_snapshots_forget after delete on scoring_snapshots
  referencing old table as old_rows
  for each statement execute function internal.scoring_snapshots_forget();

-- A deleted snapshot time takes its rows with it (older than the window, or emptied by a
-- migration): what `on delete cascade` did, once per statement.
create or replace function internal.scoring_snapshot_times_drop()
returns trigger
language plpgsql set search_path = public as $$
begin
  delete from scoring_snapshots s where s.cutoff_at in (select o.cutoff_at from old_rows o);
  return null;
end
$$;
create trigger scoring_snapshot_times_drop after delete on scoring_snapshot_times
  referencing old table as old_rows
  for each statement execute function internal.scoring_snapshot_times_drop();

-- The per-call feature store (issue 19, stop 26): the per-call model's rows (each placed call
-- whose report was received, its lead's features as of placed_at) computed once, by the first
-- retrain after the report, and kept while the call is in the training window, so a retrain
-- computes only the calls reported since the last one (scoring_call_columns) instead of every
-- call of the window again. As with the snapshots, a feature as of placed_at reads only facts
-- received by then, and what is kept is the value as of when it was computed (docs/scoring.md,
-- "The snapshot store"). A row is the call's while the call keeps its lead, placed_at and
-- report time (`received_at`); otherwise it is computed again. An erased person's rows go
-- with their lead (the foreign key: calls keep the call with no lead), a deleted call's with
-- the call; rows of calls reported before the window are deleted by the read.
create table scoring_call_rows (
  call_id     bigint primary key references calls (id) on delete cascade,
  lead_id     bigint not null references leads (id) on delete cascade,
  placed_at   timestamptz not null,
  received_at timestamptz not null,
  industry text, source text, state text,
  lead_age_days real, days_since_enquiry real, email_ok real, sms_ok real, call_ok real,
  emails_sent integer, emails_opened integer, clicks integer, sms_sent integer,
  sms_replies integer, calls_answered integer, calls_unanswered integer,
  calls_voicemail integer, days_since_engagement real
);
create index scoring_call_rows_lead_idx on scoring_call_rows (lead_id);  -- erasure's cascade
alter table scoring_call_rows enable row level security;
revoke all on scoring_call_rows from public, anon, authenticated;
grant all on scoring_call_rows to service_role;

-- A message's first open: the first 'opened' or 'clicked' of its status_history, by receipt
-- (`at`), kept on the row by the trigger below whenever status_history is written (every
-- writer appends to it: the webhooks, the outbox, cancellations), so the features read one
-- column instead of parsing every message's history at every read (a snapshot fill parsed
-- all ~15,000 emails of a 10,000-lead month's day 28; bench/first_open_ab.py). A column of
-- `messages` (03_outbox.sql) declared here, beside its one reader. Not indexed: an update
-- that sets it stays a HOT update when its others do.
alter table messages add column first_open_at timestamptz;

-- Sets first_open_at from the row's status_history (null: no open yet).
create or replace function internal.messages_first_open()
returns trigger
language plpgsql set search_path = public as $$
begin
  new.first_open_at := (select min((h->>'at')::timestamptz)
                          from jsonb_array_elements(new.status_history) h
                         where h->>'status' in ('opened', 'clicked'));
  return new;
end
$$;
-- Only a history that holds an open (checked in C, no function call), or a row that held
-- one (a rewritten history, or first_open_at written directly), runs the function: the
-- other writes (sends, deliveries, cancellations: nearly all) keep it null as it is.
create trigger messages_first_open before insert or update of status_history, first_open_at
  on messages for each row
  when (new.first_open_at is not null
        or new.status_history @? '$[*] ? (@.status == "opened" || @.status == "clicked")')
  execute function internal.messages_first_open();

-- ---------------------------------------------------------------------------------------
-- lead scoring
-- ---------------------------------------------------------------------------------------

-- The feature matrix: one row per (lead, cutoff), counting only the facts nightshift had
-- RECEIVED by the cutoff. Training and scoring read this one function, so they can never
-- differ (docs/scoring.md, "point in time").
--   which rows: p_lead_ids with p_cutoffs (pairs: the per-call rows, a call's placed_at);
--     p_lead_ids alone, each at p_now; p_times: every lead created by t, at each t (the
--     training snapshots); nothing: every lead at p_now (scoring).
--   p_at_risk: only rows of leads at risk at their cutoff: contacted, not booked, reachable
--     on some channel, no call in flight (placed, report not received yet, < 2 h ago).
--   p_horizon_days: adds `label` = booked in (cutoff, cutoff + horizon], null while that
--     window is still open at p_now (the only column that reads facts after the cutoff).
-- Received times: a message when sent, an open or click of an email when its webhook came
-- (status_history), a link click when it was clicked, an SMS reply when received, a call's
-- outcome when its end-of-call report was received (calls.report_received_at), a booking
-- when the appointment was created or the booked call's report received.
--
-- The rows are internal.scoring_feature_rows' (below: the one definition), a SQL function
-- inlined into each of this function's two statements with `p_by_list` a constant there, so
-- a plan reads only its own case and no `p_lead_ids is null or ...` is left to plan around
-- (a plan that kept such a condition scanned every message, click and call for a handful
-- of leads: 100-280 ms per call in a 10,000-lead simulation, 0.8 ms without it).
-- A list of up to 2,000 leads (the hourly scoring pass, the per-call rows, the call queue's
-- scores) runs the generic plan, made once per connection (plan_cache_mode =
-- force_generic_plan for that statement): each of its reads starts from the listed leads
-- by a lead index (messages, calls, clicks, replies; appointments are few), right for any
-- length of list, while planning the statement for each call's values was most of a small
-- list's call: on the day-28 database of a 10,000-lead simulation (bench/feature_read_plans.py,
-- two runs of 7 rounds, medians) planning took 1.5-1.6 ms of a 1-lead call's ~2 ms,
-- 2.0-3.7 ms for 300 leads, 3.6-5.2 ms for 2,000, 5.1-10.2 ms for 2,900 calls' pairs; the
-- generic plan's 0.0-0.9 ms, its execution no slower (2,000 leads 37-77 ms against
-- 49-91 ms) and about the same for all 9,334 leads. Every lead (at p_now or at each of
-- p_times) is planned for its values (force_custom_plan): the values choose hash joins
-- over whole tables.
-- random_page_cost = 1.1 (the tables it
-- reads are cached, on SSD): with the default 4 the label's appointments lookup was a seq
-- scan per row (EXPLAIN ANALYZE, 7 snapshots at day 12 of a 10,000-lead simulation: 1.1 s
-- -> 0.6 s; 300 leads' scoring read 2x faster; issue 19, 20261206194000_month_reads.sql).
-- scoring_features' rows (see there): `p_by_list` true reads p_lead_ids (with p_cutoffs),
-- false every lead at p_now or at each of p_times. No SET clause, not strict: inlined into
-- its caller's statement (a SET would stop the inlining), under the caller's search_path.
create or replace function internal.scoring_feature_rows(
  p_now timestamptz, p_by_list boolean, p_lead_ids bigint[], p_cutoffs timestamptz[],
  p_times timestamptz[], p_at_risk boolean, p_horizon_days integer
) returns table (
  lead_id bigint, cutoff_at timestamptz, label boolean, first_contact_at timestamptz,
  industry text, source text, state text, lead_age_days real, days_since_enquiry real,
  email_ok real, sms_ok real, call_ok real,
  emails_sent integer, emails_opened integer, clicks integer, sms_sent integer,
  sms_replies integer, calls_answered integer, calls_unanswered integer,
  calls_voicemail integer, days_since_engagement real,
  last_click_at timestamptz, last_click_campaign text, last_reply_at timestamptz,
  last_answered_at timestamptz, booked boolean, call_in_flight boolean
)
language sql stable as $$
  with want as (
    select u.id, least(coalesce(u.cutoff, p_now), p_now) cutoff
      from unnest(p_lead_ids, p_cutoffs) u(id, cutoff)
     where p_by_list
    union all
    select l.id, t.at from leads l cross join unnest(p_times) t(at)
     where not p_by_list and p_times is not null and l.created_at <= t.at and t.at <= p_now
    union all
    select l.id, p_now from leads l where not p_by_list and p_times is null
  ), pop as (
    select w.cutoff, l.id, l.industry, l.source, l.state, l.phone, l.email, l.created_at,
           l.email_opted_out_at, l.sms_opted_out_at, l.calls_opted_out_at
      from want w join leads l on l.id = w.id
  ), sent as materialized (
    -- each message of the wanted leads once, with its first open (messages.first_open_at:
    -- the first 'opened' or 'clicked' of its status_history, by receipt, kept by a trigger):
    -- an open by cutoff t is a first open <= t.
    -- Without p_lead_ids the wanted leads are (nearly) every lead: every message is read
    -- in one pass and `msg` keeps those of `pop` (a semi-join with `pop`, estimated at 200
    -- leads, probed messages_lead_idx once per lead: 9,711 probes, issue 19)
    select m.lead_id, m.sent_at, m.channel,
           case when m.channel = 'email' then m.first_open_at end first_open
      from messages m
     where m.kind in ('marketing', 'rescue') and m.lead_id is not null
       and (not p_by_list or m.lead_id = any(p_lead_ids))
  ), msg as (
    select p.id, p.cutoff, min(m.sent_at) first_at,
           count(*) filter (where m.channel = 'email') emails_sent,
           count(*) filter (where m.first_open <= p.cutoff) opened,
           count(*) filter (where m.channel = 'sms') sms_sent,
           max(m.first_open) filter (where m.first_open <= p.cutoff) last_open
      from pop p join sent m on m.lead_id = p.id
     where m.sent_at <= p.cutoff
     group by p.id, p.cutoff
  ), clk as (
    select p.id, p.cutoff, count(*) n, max(e.clicked_at) last_at,
           (array_agg(c.slug order by e.clicked_at desc))[1] last_campaign
      from pop p join click_events e on e.lead_id = p.id
      left join messages m on m.id = e.message_id
      left join campaigns c on c.id = m.campaign_id
     where e.clicked_at <= p.cutoff
     group by p.id, p.cutoff
  ), rep as (
    select p.id, p.cutoff, count(*) n, max(w.received_at) last_at
      from pop p join webhook_events w on w.payload->>'From' = p.phone
     where w.provider = 'twilio' and w.event_type = 'sms.reply' and w.received_at <= p.cutoff
     group by p.id, p.cutoff
  ), cal as (
    select p.id, p.cutoff, min(coalesce(k.placed_at, k.claimed_at, case when k.vapi_call_id is not null then k.created_at end)) first_at,
           count(*) filter (where r.known and k.outcome in ('answered', 'booked')) answered,
           count(*) filter (where r.known and k.outcome in ('no_answer', 'busy')) unanswered,
           count(*) filter (where r.known and k.outcome = 'voicemail') voicemail,
           max(k.report_received_at) filter (where r.known and k.outcome in ('answered', 'booked'))
             last_answered,
           bool_or(r.known and k.outcome = 'booked') booked,
           bool_or(not r.known and k.status not in ('failed', 'cancelled')
                   and coalesce(k.placed_at, k.claimed_at, case when k.vapi_call_id is not null then k.created_at end) > p.cutoff - interval '2 hours')
             in_flight
      -- a call counts from when it was placed (claimed, or first heard of for a call we did
      -- not place): one still waiting in our queue is no contact yet
      from pop p join calls k on k.lead_id = p.id
      cross join lateral (select coalesce(k.report_received_at <= p.cutoff, false) known) r
     where coalesce(k.placed_at, k.claimed_at, case when k.vapi_call_id is not null then k.created_at end) <= p.cutoff
     group by p.id, p.cutoff
  ), appt as (
    select p.id, p.cutoff from pop p join appointments a on a.lead_id = p.id
     where a.created_at <= p.cutoff group by p.id, p.cutoff
  ), rows as (
    select p.*, least(m.first_at, k.first_at) first_at,
           (p.email is not null and (p.email_opted_out_at is null or p.email_opted_out_at > p.cutoff))::integer::real email_ok,
           (p.phone is not null and (p.sms_opted_out_at is null or p.sms_opted_out_at > p.cutoff))::integer::real sms_ok,
           (p.phone is not null and (p.calls_opted_out_at is null or p.calls_opted_out_at > p.cutoff))::integer::real call_ok,
           m.emails_sent, m.opened, m.sms_sent, m.last_open, c.n clicks, c.last_at click_at,
           c.last_campaign, r.n replies, r.last_at reply_at, k.answered, k.unanswered,
           k.voicemail, k.last_answered,
           coalesce(k.booked, false) or a.id is not null booked,
           coalesce(k.in_flight, false) in_flight
      from pop p
      left join msg m on m.id = p.id and m.cutoff = p.cutoff
      left join clk c on c.id = p.id and c.cutoff = p.cutoff
      left join rep r on r.id = p.id and r.cutoff = p.cutoff
      left join cal k on k.id = p.id and k.cutoff = p.cutoff
      left join appt a on a.id = p.id and a.cutoff = p.cutoff
  )
  select x.id, x.cutoff,
         case when p_horizon_days is null
                or x.cutoff + make_interval(days => p_horizon_days) > p_now then null
              else exists (select from appointments a where a.lead_id = x.id
                              and a.created_at > x.cutoff
                              and a.created_at <= x.cutoff + make_interval(days => p_horizon_days))
                or exists (select from calls k where k.lead_id = x.id and k.outcome = 'booked'
                              and k.report_received_at > x.cutoff
                              and k.report_received_at
                                  <= x.cutoff + make_interval(days => p_horizon_days)) end,
         x.first_at, x.industry, x.source, x.state,
         -- age when first contacted (an attribute of the lead, not of the cutoff's clock)
         (extract(epoch from (coalesce(least(x.first_at, x.cutoff), x.cutoff) - x.created_at)) / 86400.0)::real,
         (extract(epoch from (x.cutoff - x.created_at)) / 86400.0)::real,
         x.email_ok, x.sms_ok, x.call_ok,
         coalesce(x.emails_sent, 0)::integer, coalesce(x.opened, 0)::integer,
         coalesce(x.clicks, 0)::integer, coalesce(x.sms_sent, 0)::integer,
         coalesce(x.replies, 0)::integer, coalesce(x.answered, 0)::integer,
         coalesce(x.unanswered, 0)::integer, coalesce(x.voicemail, 0)::integer,
         (extract(epoch from (x.cutoff - greatest(x.click_at, x.reply_at, x.last_answered,
                                                  x.last_open))) / 86400.0)::real,
         x.click_at, x.last_campaign, x.reply_at, x.last_answered, x.booked, x.in_flight
    from rows x
   where not p_at_risk
      or (x.first_at is not null and not x.booked and not x.in_flight
          and x.email_ok + x.sms_ok + x.call_ok > 0)
   order by x.cutoff, x.id
$$;

create or replace function scoring_features(
  p_now timestamptz, p_lead_ids bigint[] default null, p_cutoffs timestamptz[] default null,
  p_times timestamptz[] default null, p_at_risk boolean default false,
  p_horizon_days integer default null
) returns table (
  lead_id bigint, cutoff_at timestamptz, label boolean, first_contact_at timestamptz,
  industry text, source text, state text, lead_age_days real, days_since_enquiry real,
  email_ok real, sms_ok real, call_ok real,
  emails_sent integer, emails_opened integer, clicks integer, sms_sent integer,
  sms_replies integer, calls_answered integer, calls_unanswered integer,
  calls_voicemail integer, days_since_engagement real,
  last_click_at timestamptz, last_click_campaign text, last_reply_at timestamptz,
  last_answered_at timestamptz, booked boolean, call_in_flight boolean
)
language plpgsql stable set search_path = public set plan_cache_mode = force_custom_plan
set random_page_cost = 1.1 as $$
begin
  if p_lead_ids is not null then
    perform set_config('plan_cache_mode', 'force_generic_plan', true);
    return query
      select * from internal.scoring_feature_rows(
        p_now, true, p_lead_ids, p_cutoffs, null, p_at_risk, p_horizon_days) f;
  else
    return query
      select * from internal.scoring_feature_rows(
        p_now, false, null, null, p_times, p_at_risk, p_horizon_days) f;
  end if;
end
$$;

-- The scoring pass's read (score_all): scoring_features at p_now of p_lead_ids (every lead
-- when null; with p_cutoffs, each lead as of its cutoff: the per-call model's rows) as one
-- value of columns, every column in one shared row order (one aggregate pass; the caller
-- sorts by `cutoff_at`, `lead_id`): a numeric column is one comma-separated text that numpy parses
-- (reals as float4 text, 'nan' for null; counts and the 0/1 reachability as integers,
-- never null there), a categorical or quoted one a JSON array, a timestamp as epoch
-- microseconds (exact). Rows as dicts, then columns made of them, were most of a pass's
-- Python (with the texts of scoring_apply: a 10,000-lead pass's client CPU 120 -> 35 ms,
-- an hourly one's of 1,975 leads 27 -> 12 ms; bench/scoring_hourly.py).
create or replace function scoring_feature_columns(
  p_now timestamptz, p_lead_ids bigint[] default null, p_cutoffs timestamptz[] default null
) returns jsonb
language sql stable set search_path = public as $$
  select jsonb_build_object(
    'n', count(*),
    'lead_id', coalesce(string_agg(f.lead_id::text, ','), ''),
    'cutoff_at',
      coalesce(string_agg(((extract(epoch from f.cutoff_at) * 1000000)::bigint)::text, ','), ''),
    'industry', coalesce(jsonb_agg(f.industry), '[]'),
    'source', coalesce(jsonb_agg(f.source), '[]'),
    'state', coalesce(jsonb_agg(f.state), '[]'),
    'lead_age_days', coalesce(string_agg(coalesce(f.lead_age_days::text, 'nan'), ','), ''),
    'days_since_enquiry',
      coalesce(string_agg(coalesce(f.days_since_enquiry::text, 'nan'), ','), ''),
    'email_ok', coalesce(string_agg(f.email_ok::integer::text, ','), ''),
    'sms_ok', coalesce(string_agg(f.sms_ok::integer::text, ','), ''),
    'call_ok', coalesce(string_agg(f.call_ok::integer::text, ','), ''),
    'emails_sent', coalesce(string_agg(f.emails_sent::text, ','), ''),
    'emails_opened', coalesce(string_agg(f.emails_opened::text, ','), ''),
    'clicks', coalesce(string_agg(f.clicks::text, ','), ''),
    'sms_sent', coalesce(string_agg(f.sms_sent::text, ','), ''),
    'sms_replies', coalesce(string_agg(f.sms_replies::text, ','), ''),
    'calls_answered', coalesce(string_agg(f.calls_answered::text, ','), ''),
    'calls_unanswered', coalesce(string_agg(f.calls_unanswered::text, ','), ''),
    'calls_voicemail', coalesce(string_agg(f.calls_voicemail::text, ','), ''),
    'days_since_engagement',
      coalesce(string_agg(coalesce(f.days_since_engagement::text, 'nan'), ','), ''),
    'last_click_at',
      coalesce(jsonb_agg((extract(epoch from f.last_click_at) * 1000000)::bigint), '[]'),
    'last_click_campaign', coalesce(jsonb_agg(f.last_click_campaign), '[]'),
    'last_reply_at',
      coalesce(jsonb_agg((extract(epoch from f.last_reply_at) * 1000000)::bigint), '[]'),
    'last_answered_at',
      coalesce(jsonb_agg((extract(epoch from f.last_answered_at) * 1000000)::bigint), '[]'))
    from scoring_features(p_now, p_lead_ids, p_cutoffs) f;
$$;

-- The placed calls whose end-of-call report was received in (p_since, p_now], with the
-- lead, when the call was placed and whether it booked: the per-call model's training
-- rows (its features: scoring_features at placed_at).
create or replace function scoring_call_outcomes(p_since timestamptz, p_now timestamptz)
returns table (call_id bigint, lead_id bigint, placed_at timestamptz, booked boolean,
               queue_score real, queue_order text)
language sql stable set search_path = public as $$
  select k.id, k.lead_id, k.placed_at,
         k.outcome = 'booked' or exists (
           select from appointments a where a.lead_id = k.lead_id
              and a.created_at >= k.placed_at and a.created_at <= k.report_received_at),
         k.queue_score, k.queue_order
    from calls k
   where k.lead_id is not null and k.placed_at is not null
     and k.report_received_at > p_since and k.report_received_at <= p_now
   order by k.placed_at, k.id;
$$;

-- The per-call model's features: the calls of scoring_call_outcomes(p_since, p_now), each
-- with its lead's features as of placed_at (scoring_features, the one definition), read from
-- the per-call store (scoring_call_rows) after computing the calls it does not hold yet (or
-- whose lead, placed_at or report time changed since) and deleting the rows of calls reported
-- at or before p_since. One value, rendered as scoring_snapshot_columns renders a snapshot:
-- `n`, `call_id` and `lead_id` and each numeric column comma-separated (counts and the 0/1
-- reachability as integers, reals as float4 text, 'nan' for null), each categorical one a
-- JSON array; one shared row order (the caller matches rows to calls by call_id).
-- Recomputing every call of the window at each retrain grew with the calls (2,900 calls at
-- the retrain after day 28 of a 10,000-lead simulation: the read's server CPU 70 -> 20 ms,
-- the identical model; bench/per_call_store.py).
create or replace function scoring_call_columns(p_since timestamptz, p_now timestamptz)
returns jsonb
language plpgsql set search_path = public as $$
declare
  v_ids bigint[];
  v_leads bigint[];
  v_placed timestamptz[];
  v_received timestamptz[];
begin
  delete from scoring_call_rows r where r.received_at <= p_since;
  select array_agg(k.id), array_agg(k.lead_id), array_agg(k.placed_at),
         array_agg(k.report_received_at)
    into v_ids, v_leads, v_placed, v_received
    from calls k
   where k.lead_id is not null and k.placed_at is not null
     and k.report_received_at > p_since and k.report_received_at <= p_now
     and not exists (select from scoring_call_rows r
                      where r.call_id = k.id and r.lead_id = k.lead_id
                        and r.placed_at = k.placed_at and r.received_at = k.report_received_at);
  if v_ids is not null then
    delete from scoring_call_rows r where r.call_id = any(v_ids);  -- a changed call's old row
    insert into scoring_call_rows (call_id, lead_id, placed_at, received_at, industry, source,
      state, lead_age_days, days_since_enquiry, email_ok, sms_ok, call_ok, emails_sent,
      emails_opened, clicks, sms_sent, sms_replies, calls_answered, calls_unanswered,
      calls_voicemail, days_since_engagement)
    select u.id, u.lead_id, u.placed_at, u.received_at, f.industry, f.source, f.state,
           f.lead_age_days, f.days_since_enquiry, f.email_ok, f.sms_ok, f.call_ok,
           f.emails_sent, f.emails_opened, f.clicks, f.sms_sent, f.sms_replies,
           f.calls_answered, f.calls_unanswered, f.calls_voicemail, f.days_since_engagement
      from unnest(v_ids, v_leads, v_placed, v_received) u(id, lead_id, placed_at, received_at)
      join (select distinct on (f.lead_id, f.cutoff_at) f.*  -- a (lead, instant) pair once
              from scoring_features(p_now, v_leads, v_placed) f
             order by f.lead_id, f.cutoff_at) f
        on f.lead_id = u.lead_id and f.cutoff_at = u.placed_at
    on conflict (call_id) do nothing;  -- stored by a concurrent run meanwhile: kept
  end if;
  return (
    select jsonb_build_object(
      'n', count(*),
      'call_id', coalesce(string_agg(r.call_id::text, ','), ''),
      'lead_id', coalesce(string_agg(r.lead_id::text, ','), ''),
      'industry', coalesce(jsonb_agg(r.industry), '[]'),
      'source', coalesce(jsonb_agg(r.source), '[]'),
      'state', coalesce(jsonb_agg(r.state), '[]'),
      'lead_age_days', coalesce(string_agg(coalesce(r.lead_age_days::text, 'nan'), ','), ''),
      'days_since_enquiry',
        coalesce(string_agg(coalesce(r.days_since_enquiry::text, 'nan'), ','), ''),
      'email_ok', coalesce(string_agg(coalesce(r.email_ok::integer, 0)::text, ','), ''),
      'sms_ok', coalesce(string_agg(coalesce(r.sms_ok::integer, 0)::text, ','), ''),
      'call_ok', coalesce(string_agg(coalesce(r.call_ok::integer, 0)::text, ','), ''),
      'emails_sent', coalesce(string_agg(coalesce(r.emails_sent, 0)::text, ','), ''),
      'emails_opened', coalesce(string_agg(coalesce(r.emails_opened, 0)::text, ','), ''),
      'clicks', coalesce(string_agg(coalesce(r.clicks, 0)::text, ','), ''),
      'sms_sent', coalesce(string_agg(coalesce(r.sms_sent, 0)::text, ','), ''),
      'sms_replies', coalesce(string_agg(coalesce(r.sms_replies, 0)::text, ','), ''),
      'calls_answered', coalesce(string_agg(coalesce(r.calls_answered, 0)::text, ','), ''),
      'calls_unanswered', coalesce(string_agg(coalesce(r.calls_unanswered, 0)::text, ','), ''),
      'calls_voicemail', coalesce(string_agg(coalesce(r.calls_voicemail, 0)::text, ','), ''),
      'days_since_engagement',
        coalesce(string_agg(coalesce(r.days_since_engagement::text, 'nan'), ','), ''))
      from scoring_call_rows r
     where r.received_at > p_since and r.received_at <= p_now);
end
$$;

-- Records the queue's order of calls being placed (p_ids[i]: p_scores[i], p_orders[i]):
-- the per-call model's chance and whether the slot was the random live control.
create or replace function scoring_mark_call_order(
  p_ids bigint[], p_scores double precision[], p_orders text[]
) returns integer
language plpgsql set search_path = public as $$
declare
  v_n integer;
begin
  update calls k set queue_score = u.score, queue_order = u.kind
    from unnest(p_ids, p_scores, p_orders) u(id, score, kind)
   where k.id = u.id;
  get diagnostics v_n = row_count;
  return v_n;
end
$$;

-- Stores a model (JSON) as the next version; returns the row.
create or replace function scoring_save_model(
  p_kind text, p_features jsonb, p_model jsonb, p_metrics jsonb, p_now timestamptz
) returns setof score_models
language plpgsql set search_path = public as $$
begin
  perform pg_advisory_xact_lock(hashtext('score_models'));
  return query
  insert into score_models (version, kind, features, model, metrics, trained_at)
  values ((select coalesce(max(version), 0) + 1 from score_models), p_kind,
          coalesce(p_features, '{}'), p_model, coalesce(p_metrics, '{}'), p_now)
  returning *;
end
$$;

-- The newest model trained at or before p_now (nothing when none was ever saved).
create or replace function scoring_latest_model(p_now timestamptz)
returns setof score_models
language sql stable set search_path = public as $$
  select * from score_models where trained_at <= p_now order by version desc limit 1;
$$;

-- Writes a batch of scores in one call: the i-th lead of p_ids gets the i-th score of
-- p_scores and the reasons p_reasons->(i-1). A lead reaching p_hot_threshold gets hot_at
-- (kept while it stays hot); one falling below loses it. Returns how many leads were
-- updated and the newly hot ones. Writes a lead only when its score, reasons or hot flag
-- change: an unchanged lead costs no new row version and no index entry (leads_score_idx);
-- rewriting every lead each hour took 382 ms in a 10,000-lead simulation.
-- p_ids and p_scores are comma-separated texts (the scores as Python's repr prints them,
-- which float8 reads back exactly), not arrays: a client dumps an array value by value
-- (psycopg, in Python; see scoring_feature_columns for the pass's figures). Lists of
-- different lengths are refused.
create or replace function scoring_apply(
  p_ids text, p_scores text, p_reasons jsonb, p_hot_threshold double precision,
  p_now timestamptz
) returns table (updated integer, newly_hot jsonb)
language plpgsql set search_path = public as $$
#variable_conflict use_column
declare
  v_ids bigint[] := string_to_array(p_ids, ',')::bigint[];
  v_scores double precision[] := string_to_array(p_scores, ',')::double precision[];
  v_updated integer;
  v_hot jsonb;
begin
  if cardinality(v_ids) <> cardinality(v_scores) then
    raise exception 'scoring_apply: % ids, % scores', cardinality(v_ids), cardinality(v_scores);
  end if;
  with input as (
    select u.id, greatest(0, least(100, u.score))::real score,
           coalesce(p_reasons->(u.ord::integer - 1), '[]') reasons, u.score >= p_hot_threshold hot
      from unnest(v_ids, v_scores) with ordinality u(id, score, ord)
  ), changed as (
    update leads l set
      score = i.score, score_reasons = i.reasons,
      hot_at = case when i.hot then coalesce(l.hot_at, p_now) end
      from input i
     where l.id = i.id
       and (l.score is distinct from i.score or l.score_reasons is distinct from i.reasons
            or (l.hot_at is not null) <> i.hot)
    returning l.id, l.name, l.score, l.score_reasons, l.hot_at
  )
  select count(*)::integer,
         coalesce(jsonb_agg(jsonb_build_object('lead_id', id, 'name', name, 'score', score,
                                               'reasons', score_reasons))
                  filter (where hot_at = p_now), '[]')
    into v_updated, v_hot
    from changed;
  return query select v_updated, v_hot;
end
$$;

-- The highest-scored leads with their reasons (the CLI's view of the call order).
create or replace function scoring_top_leads(p_limit integer, p_now timestamptz)
returns table (lead_id bigint, name text, status text, score real, score_reasons jsonb,
               hot_at timestamptz)
language sql stable set search_path = public as $$
  select l.id, l.name, l.status, l.score, l.score_reasons, l.hot_at
    from leads l
   where l.score is not null and l.created_at <= p_now
   order by l.score desc, l.id
   limit p_limit;
$$;

-- ---------------------------------------------------------------------------------------
-- the marks: which leads to score next
-- ---------------------------------------------------------------------------------------

-- Marks leads for the next scoring run (a lead marked again gets a newer mark). plpgsql: it
-- is only ever PERFORMed by the triggers below (never inlined), and a SQL function that
-- writes is parsed and planned again in every transaction; this plans once per connection.
create or replace function internal.scoring_mark(p_lead_ids bigint[])
returns void
language plpgsql set search_path = public as $$
begin
  insert into scoring_dirty (lead_id)
  select distinct u.id from unnest(p_lead_ids) u(id) where u.id is not null
  on conflict (lead_id) do update set seq = nextval('scoring_dirty_seq');
end
$$;

-- The statement-level trigger for inserts: marks the lead of every new row (`new_rows`).
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

-- The row-level trigger: marks the lead of the changed row (for an SMS reply, the lead
-- with the sender's number).
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

-- What the features read: a lead's own columns, its messages (written, opened, clicked), its
-- clicks, its calls once ended, and SMS replies from its number.
create trigger leads_scoring_insert after insert on leads
  referencing new table as new_rows
  for each statement execute function internal.scoring_mark_new_rows();
create trigger leads_scoring_update after update on leads for each row
  when (old.status is distinct from new.status
        or old.email_opted_out_at is distinct from new.email_opted_out_at
        or old.sms_opted_out_at is distinct from new.sms_opted_out_at
        or old.calls_opted_out_at is distinct from new.calls_opted_out_at
        or old.industry is distinct from new.industry or old.source is distinct from new.source
        or old.state is distinct from new.state or old.phone is distinct from new.phone
        or old.email is distinct from new.email)
  execute function internal.scoring_mark_row();
create trigger messages_scoring_insert after insert on messages
  referencing new table as new_rows
  for each statement execute function internal.scoring_mark_new_rows();
-- (A send is marked when its row is written, ahead of the send in the same drip tick; a
-- row sent hours later, after a retry, is caught by the next full pass at the latest.)
create trigger messages_scoring_update after update of status on messages for each row
  when (new.lead_id is not null and new.status in ('opened', 'clicked')
        and old.status is distinct from new.status)
  execute function internal.scoring_mark_row();
create trigger calls_scoring_insert after insert on calls
  referencing new table as new_rows
  for each statement execute function internal.scoring_mark_new_rows();
create trigger calls_scoring_update after update of status on calls for each row
  when (new.lead_id is not null and new.status = 'ended' and old.status is distinct from 'ended')
  execute function internal.scoring_mark_row();
create trigger click_events_scoring_insert after insert on click_events for each row
  when (new.lead_id is not null)
  execute function internal.scoring_mark_row();
create trigger webhook_events_scoring_insert after insert on webhook_events for each row
  when (new.provider = 'twilio' and new.event_type = 'sms.reply')
  execute function internal.scoring_mark_row();

-- The marked leads and the highest mark among them (pass it to scoring_clear).
create or replace function scoring_marked()
returns table (lead_ids bigint[], upto bigint)
language sql stable set search_path = public as $$
  select coalesce(array_agg(lead_id order by lead_id), '{}'), coalesce(max(seq), 0)
    from scoring_dirty;
$$;

-- The leads whose enquiry came after p_since (created since): their "days since the
-- enquiry" moves fastest, so the hourly run rescores them even when nothing marked them.
create or replace function scoring_recent_leads(p_since timestamptz)
returns bigint[]
language sql stable set search_path = public as $$
  select coalesce(array_agg(l.id order by l.id), '{}') from leads l where l.created_at > p_since;
$$;

-- When the first lead was created (null: no lead yet). A training snapshot before it has no
-- rows (scoring_features reads the leads created by t), so training_rows does not read it:
-- a young deployment's 180-day window is mostly such snapshots (a 10,000-lead simulation
-- read 96 empty chunks of ~25 ms at every retrain).
create or replace function scoring_first_lead_at()
returns timestamptz
language sql stable set search_path = public as $$
  select min(l.created_at) from leads l;
$$;

-- The snapshot store's held snapshots among p_times, with their row counts (a held snapshot
-- with no lead at risk counts 0); first deletes the snapshots before p_keep_from (older than
-- the training window: the store stays bounded), then renders again the held ones whose
-- rendered columns were forgotten (an erasure) or never made.
create or replace function scoring_snapshots_held(p_times timestamptz[], p_keep_from timestamptz)
returns table (cutoff_at timestamptz, n integer)
language plpgsql set search_path = public as $$
#variable_conflict use_column
begin
  delete from scoring_snapshot_times where cutoff_at < p_keep_from;
  update scoring_snapshot_times t set (columns, n) = (
           select c::json, (c->>'n')::integer
             from internal.scoring_snapshot_columns(t.cutoff_at) c)
   where t.cutoff_at = any(p_times) and t.columns is null;
  return query
  select t.cutoff_at, coalesce(t.n, 0)
    from scoring_snapshot_times t
   where t.cutoff_at = any(p_times)
   order by t.cutoff_at;
end
$$;

-- Computes and stores the snapshots p_times (those not held yet): every lead at risk at t,
-- its features as of t (scoring_features, the one definition). Returns each stored
-- snapshot's row count. A snapshot computed by a concurrent run is kept as it is.
create or replace function scoring_snapshots_fill(p_now timestamptz, p_times timestamptz[])
returns table (cutoff_at timestamptz, n integer)
language plpgsql set search_path = public as $$
#variable_conflict use_column
declare
  v_new timestamptz[];
begin
  with added as (
    insert into scoring_snapshot_times (cutoff_at, computed_at)
    select distinct t.at, p_now from unnest(p_times) t(at) where t.at <= p_now
    on conflict (cutoff_at) do nothing
    returning cutoff_at
  )
  select coalesce(array_agg(a.cutoff_at), '{}') into v_new from added a;
  if cardinality(v_new) > 0 then
    -- every lead a new snapshot may hold (created by its time), locked against deletion
    -- until this transaction ends (what the foreign key's check did, row by row): a lead
    -- being erased is waited for and then not read (the insert's snapshot is taken after),
    -- and an erasure that comes later deletes the rows stored here.
    perform from leads l
      where l.created_at <= (select max(t.at) from unnest(v_new) t(at))
      for key share;
    insert into scoring_snapshots (cutoff_at, lead_id, industry, source, state, lead_age_days,
      days_since_enquiry, email_ok, sms_ok, call_ok, emails_sent, emails_opened, clicks,
      sms_sent, sms_replies, calls_answered, calls_unanswered, calls_voicemail,
      days_since_engagement)
    select f.cutoff_at, f.lead_id, f.industry, f.source, f.state, f.lead_age_days,
           f.days_since_enquiry, f.email_ok, f.sms_ok, f.call_ok, f.emails_sent,
           f.emails_opened, f.clicks, f.sms_sent, f.sms_replies, f.calls_answered,
           f.calls_unanswered, f.calls_voicemail, f.days_since_engagement
      from scoring_features(p_now, p_times => v_new, p_at_risk => true) f;
    update scoring_snapshot_times t set (columns, n) = (
             select c::json, (c->>'n')::integer
               from internal.scoring_snapshot_columns(t.cutoff_at) c)
     where t.cutoff_at = any(v_new);
  end if;
  return query
  select h.cutoff_at, coalesce(h.n, (select count(*) from scoring_snapshots s
                                      where s.cutoff_at = h.cutoff_at)::integer)
    from scoring_snapshot_times h
   where h.cutoff_at = any(p_times)
   order by h.cutoff_at;
end
$$;

-- One stored snapshot's rows rendered as the training reads them: `n` rows; a numeric column
-- is one comma-separated text (numpy parses it without a Python object per value; integers,
-- and the 0/1 reachability, as integers, ten times faster to parse: a null count is 0,
-- which the model's transforms already made of it; a null real is 'nan'), a categorical one
-- a JSON array. Every column in one shared row order (one aggregate pass), not a sorted
-- one: the caller sorts. A dict per row, then an array per column, were the cost once
-- (242,952 rows: 2.1-2.3 s a call as arrays); rendering every row at every retrain was
-- next (57,470 rows: 160 of ~200 ms a read), so it is stored with the snapshot.
create or replace function internal.scoring_snapshot_columns(p_at timestamptz)
returns jsonb
language sql stable set search_path = public as $$
  select jsonb_build_object(
    'n', count(*),
    'lead_id', coalesce(string_agg(s.lead_id::text, ','), ''),
    'industry', coalesce(jsonb_agg(s.industry), '[]'),
    'source', coalesce(jsonb_agg(s.source), '[]'),
    'state', coalesce(jsonb_agg(s.state), '[]'),
    'lead_age_days', coalesce(string_agg(coalesce(s.lead_age_days::text, 'nan'), ','), ''),
    'days_since_enquiry',
      coalesce(string_agg(coalesce(s.days_since_enquiry::text, 'nan'), ','), ''),
    'email_ok', coalesce(string_agg(coalesce(s.email_ok::integer, 0)::text, ','), ''),
    'sms_ok', coalesce(string_agg(coalesce(s.sms_ok::integer, 0)::text, ','), ''),
    'call_ok', coalesce(string_agg(coalesce(s.call_ok::integer, 0)::text, ','), ''),
    'emails_sent', coalesce(string_agg(coalesce(s.emails_sent, 0)::text, ','), ''),
    'emails_opened', coalesce(string_agg(coalesce(s.emails_opened, 0)::text, ','), ''),
    'clicks', coalesce(string_agg(coalesce(s.clicks, 0)::text, ','), ''),
    'sms_sent', coalesce(string_agg(coalesce(s.sms_sent, 0)::text, ','), ''),
    'sms_replies', coalesce(string_agg(coalesce(s.sms_replies, 0)::text, ','), ''),
    'calls_answered', coalesce(string_agg(coalesce(s.calls_answered, 0)::text, ','), ''),
    'calls_unanswered', coalesce(string_agg(coalesce(s.calls_unanswered, 0)::text, ','), ''),
    'calls_voicemail', coalesce(string_agg(coalesce(s.calls_voicemail, 0)::text, ','), ''),
    'days_since_engagement',
      coalesce(string_agg(coalesce(s.days_since_engagement::text, 'nan'), ','), ''))
    from scoring_snapshots s
   where s.cutoff_at = p_at;
$$;

-- The training set of the stored snapshots p_times, one row per snapshot (cutoff order):
-- its cutoff as epoch seconds, its row count, its rendered columns (rendered now when they
-- were forgotten) and `booked`, the leads booked in (t, t + p_horizon_days] (an
-- appointment created, or a booked call's report received, in that window:
-- scoring_features' label; a row's label is whether its lead is among them). Snapshots
-- whose window is still open at p_now are left out. The label is read here, when used,
-- not stored.
create or replace function scoring_training_chunks(
  p_now timestamptz, p_times timestamptz[], p_horizon_days integer
) returns table (cutoff_epoch double precision, n integer, columns json, booked bigint[])
language sql stable set search_path = public as $$
  with bookings as materialized (
    select a.lead_id, a.created_at at from appointments a where a.lead_id is not null
    union all
    select k.lead_id, k.report_received_at from calls k
     where k.outcome = 'booked' and k.report_received_at is not null and k.lead_id is not null
  ), held as (
    select t.cutoff_at, t.n,
           coalesce(t.columns, internal.scoring_snapshot_columns(t.cutoff_at)::json) columns
      from scoring_snapshot_times t
     where t.cutoff_at = any(p_times)
       and t.cutoff_at + make_interval(days => p_horizon_days) <= p_now
  )
  select date_part('epoch', h.cutoff_at), coalesce(h.n, (h.columns->>'n')::integer), h.columns,
         array(select distinct b.lead_id from bookings b
                where b.at > h.cutoff_at
                  and b.at <= h.cutoff_at + make_interval(days => p_horizon_days)
                order by 1)
    from held h
   order by h.cutoff_at;
$$;

-- Clears the marks up to p_upto (a lead marked again since keeps its newer mark); with
-- p_version, records that every lead was scored with that model.
create or replace function scoring_clear(p_upto bigint, p_version integer, p_now timestamptz)
returns integer
language plpgsql set search_path = public as $$
declare
  v_n integer;
begin
  delete from scoring_dirty where seq <= p_upto;
  get diagnostics v_n = row_count;
  if p_version is not null then
    update score_models set applied_at = p_now where version = p_version and applied_at is null;
  end if;
  return v_n;
end
$$;

-- ---------------------------------------------------------------------------------------
-- best time to call
-- ---------------------------------------------------------------------------------------

-- Finished calls of the last p_days per lead state and local hour of the call (the lead's
-- timezone, else p_default_tz; an unknown zone name falls back too): attempts, answered
-- (talked, booked included), booked.
create or replace function timing_call_stats(
  p_days integer, p_default_tz text, p_now timestamptz
) returns table (state text, local_hour integer, attempts integer, answered integer,
                 booked integer)
language sql stable set search_path = public as $$
  with zones as (select name from pg_timezone_names)
  select coalesce(l.state, '??'),
         extract(hour from (coalesce(k.started_at, k.ended_at)
                            at time zone coalesce(z.name, p_default_tz)))::integer h,
         count(*)::integer,
         count(*) filter (where k.outcome in ('answered', 'booked'))::integer,
         count(*) filter (where k.outcome = 'booked')::integer
    from calls k
    join leads l on l.id = k.lead_id
    left join zones z on z.name = l.timezone
   where k.status = 'ended' and k.outcome is not null and k.outcome <> 'failed'
     and coalesce(k.started_at, k.ended_at) > p_now - make_interval(days => p_days)
     and coalesce(k.started_at, k.ended_at) <= p_now
   group by 1, 2
   order by 1, 2;
$$;

-- ---------------------------------------------------------------------------------------
-- A/B variants
-- ---------------------------------------------------------------------------------------

-- The arms' counts of the sends in p_sent (per step and variant, and per UTC hour of the
-- send when p_by_hour): how many were sent and how many reached each goal: clicked (a click
-- on the message), replied (an SMS from the lead within 7 days of the send), booked (an
-- appointment within p_horizon_days of the send). Clicks and replies are looked up by index
-- (click_events_message_idx, webhook_events_sms_reply_idx) and the sends' leads'
-- appointments read in one pass: a lookup per message scanned those tables (134 of 182 ms
-- with 5,000 messages). Only an SMS can have a reply probed: an email's to_address is never
-- an SMS sender (From), so its probe always missed (issue 19: over half of the probes with
-- 10,000 leads). Each range's sends are read by its own index scan (a lateral subquery,
-- kept apart by OFFSET 0): a SQL function with a SET clause is planned once with p_sent
-- unknown, and the join on the ranges' bounds was planned as a scan of every message (issue
-- 19, stop 26: growth's hourly variant_stats 72.8 -> 6.6 ms, median, on a kept database at
-- day 28 of 10,000 leads; bench/growth_steps_ab.py).
create or replace function internal.variant_arms(
  p_sent tstzmultirange, p_horizon_days integer, p_by_hour boolean
) returns table (hour timestamptz, campaign_id bigint, step_id bigint, channel text,
                 variant text, sent integer, clicked integer, replied integer, booked integer)
language sql stable set search_path = public as $$
  with sent as (
    select m.*
      from unnest(p_sent) r
     cross join lateral (
       select m.id, m.campaign_id, m.step_id, m.channel, m.payload->>'variant' variant,
              m.status, m.to_address, m.sent_at, m.lead_id
         from messages m
        where m.sent_at >= lower(r) and m.sent_at <= upper(r) and m.sent_at <@ r
          and m.step_id is not null and m.payload ? 'variant'
          and m.status not in ('failed', 'bounced', 'cancelled', 'undelivered')
       offset 0) m
  ), bookings as (
    select a.lead_id, array_agg(a.created_at) ats from appointments a
     where a.lead_id in (select s.lead_id from sent s)
     group by a.lead_id
  )
  select case when p_by_hour then date_trunc('hour', s.sent_at, 'UTC') end,
         s.campaign_id, s.step_id, s.channel, s.variant,
         count(*)::integer,
         count(*) filter (where s.status = 'clicked'
                             or exists (select from click_events e where e.message_id = s.id))::integer,
         count(*) filter (where s.channel = 'sms' and exists (
           select from webhook_events w
            where w.provider = 'twilio' and w.event_type = 'sms.reply'
              and w.payload->>'From' = s.to_address
              and w.received_at > s.sent_at and w.received_at <= s.sent_at + interval '7 days'))::integer,
         count(*) filter (where exists (
           select from unnest(b.ats) t(at)
            where t.at > s.sent_at and t.at <= s.sent_at + make_interval(days => p_horizon_days)))::integer
    from sent s
    left join bookings b on b.lead_id = s.lead_id
   group by 1, 2, 3, 4, 5;
$$;

-- The same counts from the rows alone over the messages sent in the last p_days: what
-- variant_stats must answer, exactly (tests/scoring/test_variant_rollup.py and
-- bench/status_rollup_ab.py compare them).
create or replace function internal.variant_stats_rows(
  p_days integer, p_horizon_days integer, p_now timestamptz
) returns table (campaign_id bigint, step_id bigint, channel text, variant text,
                 sent integer, clicked integer, replied integer, booked integer)
language sql stable set search_path = public as $$
  select a.campaign_id, a.step_id, a.channel, a.variant, a.sent, a.clicked, a.replied, a.booked
    from internal.variant_arms(
      tstzmultirange(tstzrange(p_now - make_interval(days => p_days), p_now, '(]')),
      p_horizon_days, false) a
   order by 2, 4, 1, 3;
$$;

-- Brings the arms' closed hours [p_first, p_open) up to date: every hour when the horizon
-- changed, else the hours logged stale and the ones not kept yet (the hour that just
-- closed); hours before p_first dropped. Serialized by an advisory lock; the log is consumed
-- by a statement before a later one reads the rows, so a change committed in between is
-- in the counts or still logged. Returns the hours summed.
create or replace function internal.variant_rollup(
  p_first timestamptz, p_open timestamptz, p_horizon_days integer, p_now timestamptz
) returns integer
language plpgsql set search_path = public as $$
declare
  v_missing tstzmultirange;
  v_n integer;
begin
  perform pg_advisory_xact_lock(hashtext('variant_rollup'));
  if exists (select from variant_hours v where v.horizon_days <> p_horizon_days) then
    delete from variant_hours;
    delete from variant_hour_arms;
  end if;
  with stale as (
    delete from variant_stale returning hour
  ), hours as (
    select distinct s.hour from stale s
  ), k as (
    delete from variant_hours v using hours x where v.hour = x.hour
  )
  delete from variant_hour_arms v using hours x where v.hour = x.hour;
  delete from variant_hours v where v.hour < p_first;
  delete from variant_hour_arms v where v.hour < p_first;
  select count(*), range_agg(tstzrange(g.h, g.h + interval '1 hour', '[)'))
    into v_n, v_missing
    from generate_series(p_first, p_open - interval '1 hour', interval '1 hour') g(h)
   where not exists (select from variant_hours v where v.hour = g.h);
  if v_n = 0 then
    return 0;
  end if;
  insert into variant_hours (hour, horizon_days, computed_at)
  select g.h, p_horizon_days, p_now
    from unnest(v_missing) r, generate_series(lower(r), upper(r) - interval '1 hour',
                                              interval '1 hour') g(h);
  insert into variant_hour_arms (hour, campaign_id, step_id, channel, variant, sent, clicked,
                                 replied, booked)
  select a.hour, a.campaign_id, a.step_id, a.channel, a.variant, a.sent, a.clicked, a.replied,
         a.booked
    from internal.variant_arms(v_missing, p_horizon_days, true) a;
  return v_n;
end
$$;

-- Per step and variant, over messages sent in the last p_days: how many were sent and how
-- many reached each goal (internal.variant_arms): the closed hours kept
-- (internal.variant_rollup) summed with the open hour and the window's first partial hour
-- read from the rows.
create or replace function variant_stats(
  p_days integer, p_horizon_days integer, p_now timestamptz
) returns table (campaign_id bigint, step_id bigint, channel text, variant text,
                 sent integer, clicked integer, replied integer, booked integer)
language plpgsql set search_path = public as $$
#variable_conflict use_column
declare
  v_from timestamptz := p_now - make_interval(days => p_days);
  v_open timestamptz := date_trunc('hour', p_now, 'UTC');
  v_first timestamptz := date_trunc('hour', p_now - make_interval(days => p_days), 'UTC')
                         + interval '1 hour';
begin
  perform internal.variant_rollup(v_first, v_open, p_horizon_days, p_now);
  return query
  select a.campaign_id, a.step_id, a.channel, a.variant, sum(a.sent)::integer,
         sum(a.clicked)::integer, sum(a.replied)::integer, sum(a.booked)::integer
    from (select k.campaign_id, k.step_id, k.channel, k.variant, k.sent, k.clicked, k.replied,
                 k.booked
            from variant_hour_arms k where k.hour >= v_first and k.hour < v_open
          union all
          select r.campaign_id, r.step_id, r.channel, r.variant, r.sent, r.clicked, r.replied,
                 r.booked
            from internal.variant_arms(
              tstzmultirange(tstzrange(v_from, v_first, '()'), tstzrange(v_open, p_now, '[]')),
              p_horizon_days, false) r) a
   group by 1, 2, 3, 4
   order by 2, 4, 1, 3;
end
$$;

-- Logs the send hours whose counts a changed row may change (row-level; the triggers'
-- conditions name what the counts read): a send's own hour(s); a click's message's; an SMS
-- reply's sends to its number in the 7 days before it; an appointment's lead's sends before
-- it (any horizon).
create or replace function internal.variant_stale_row()
returns trigger
language plpgsql set search_path = public as $$
begin
  if tg_op <> 'INSERT' then
    perform internal.variant_mark(tg_table_name, to_jsonb(old));
  end if;
  if tg_op <> 'DELETE' then
    perform internal.variant_mark(tg_table_name, to_jsonb(new));
  end if;
  return null;
end
$$;

create or replace function internal.variant_mark(p_table text, p_row jsonb)
returns void
language plpgsql set search_path = public as $$
declare
  v_at timestamptz;
begin
  if p_table = 'messages' then
    if p_row->>'sent_at' is not null and p_row->>'step_id' is not null then
      insert into variant_stale (hour)
      values (date_trunc('hour', (p_row->>'sent_at')::timestamptz, 'UTC'));
    end if;
  elsif p_table = 'click_events' then
    insert into variant_stale (hour)
    select date_trunc('hour', m.sent_at, 'UTC') from messages m
     where m.id = (p_row->>'message_id')::bigint and m.sent_at is not null
       and m.step_id is not null;
  elsif p_table = 'webhook_events' then
    v_at := (p_row->>'received_at')::timestamptz;
    insert into variant_stale (hour)
    select distinct date_trunc('hour', m.sent_at, 'UTC') from messages m
     where m.to_address = p_row->'payload'->>'From' and m.step_id is not null
       and m.channel = 'sms' and m.sent_at >= v_at - interval '7 days' and m.sent_at < v_at;
  elsif p_table = 'appointments' then
    v_at := (p_row->>'created_at')::timestamptz;
    insert into variant_stale (hour)
    select distinct date_trunc('hour', m.sent_at, 'UTC') from messages m
     where m.lead_id = (p_row->>'lead_id')::bigint and m.step_id is not null
       and m.sent_at < v_at;
  end if;
end
$$;

-- The sends inserted already sent, once per statement and hour.
create or replace function internal.variant_stale_new_sends()
returns trigger
language plpgsql set search_path = public as $$
begin
  insert into variant_stale (hour)
  select distinct date_trunc('hour', n.sent_at, 'UTC') from new_rows n
   where n.step_id is not null and n.sent_at is not null;
  return null;
end
$$;

create trigger messages_variant_stale_insert after insert on messages
  referencing new table as new_rows
  for each statement execute function internal.variant_stale_new_sends();
-- (A send's update: internal.messages_rollup_stale, 07_appointments.sql, with the status
-- page's.)
create trigger messages_variant_stale_delete after delete on messages for each row
  when (old.step_id is not null and old.sent_at is not null)
  execute function internal.variant_stale_row();
create trigger click_events_variant_stale_insert after insert on click_events for each row
  when (new.message_id is not null)
  execute function internal.variant_stale_row();
create trigger click_events_variant_stale_update after update on click_events for each row
  when (old.message_id is distinct from new.message_id)
  execute function internal.variant_stale_row();
create trigger click_events_variant_stale_delete after delete on click_events for each row
  when (old.message_id is not null)
  execute function internal.variant_stale_row();
create trigger webhook_events_variant_stale_insert after insert on webhook_events for each row
  when (new.provider = 'twilio' and new.event_type = 'sms.reply')
  execute function internal.variant_stale_row();
create trigger webhook_events_variant_stale_update after update on webhook_events for each row
  when ((old.provider = 'twilio' and old.event_type = 'sms.reply'
         or new.provider = 'twilio' and new.event_type = 'sms.reply')
        and (old.provider is distinct from new.provider
             or old.event_type is distinct from new.event_type
             or old.received_at is distinct from new.received_at
             or (old.payload->>'From') is distinct from (new.payload->>'From')))
  execute function internal.variant_stale_row();
create trigger webhook_events_variant_stale_delete after delete on webhook_events for each row
  when (old.provider = 'twilio' and old.event_type = 'sms.reply')
  execute function internal.variant_stale_row();
-- (The appointments' variant triggers are in 07_appointments.sql, which declares the table.)

-- Records the bandit's view of each step (p_decisions: [{step_id, campaign_id, goal, arms,
-- p_best, winner}]) and publishes it where the drip's variant choice reads it:
-- campaign_steps.template.ab = {winner, weights}. A winner, once promoted, stays (its
-- promoted_at is kept); reloading a campaign drops template.ab until the next growth run.
create or replace function variant_record(p_decisions jsonb, p_now timestamptz)
returns setof variant_decisions
language plpgsql set search_path = public as $$
begin
  insert into variant_decisions as v (step_id, campaign_id, goal, arms, p_best, winner,
                                      promoted_at, updated_at)
  select (d->>'step_id')::bigint, (d->>'campaign_id')::bigint, d->>'goal',
         coalesce(d->'arms', '{}'), coalesce(d->'p_best', '{}'), d->>'winner',
         case when d->>'winner' is not null then p_now end, p_now
    from jsonb_array_elements(coalesce(p_decisions, '[]')) d
   where exists (select from campaign_steps s where s.id = (d->>'step_id')::bigint)
  on conflict (step_id) do update set
    goal = excluded.goal, arms = excluded.arms, p_best = excluded.p_best,
    winner = coalesce(v.winner, excluded.winner),
    promoted_at = coalesce(v.promoted_at, excluded.promoted_at), updated_at = p_now;

  update campaign_steps s
     set template = s.template || jsonb_build_object('ab', jsonb_strip_nulls(
           jsonb_build_object('winner', v.winner, 'weights', v.p_best)))
    from variant_decisions v
   where v.step_id = s.id
     and v.step_id in (select (d->>'step_id')::bigint
                         from jsonb_array_elements(coalesce(p_decisions, '[]')) d);
  return query
  select * from variant_decisions
   where step_id in (select (d->>'step_id')::bigint
                       from jsonb_array_elements(coalesce(p_decisions, '[]')) d)
   order by step_id;
end
$$;

-- Every recorded A/B decision with its campaign and step (`nightshift insights variants`).
create or replace function variant_decisions_list()
returns table (campaign text, step_position integer, channel text, goal text, arms jsonb,
               p_best jsonb, winner text, promoted_at timestamptz, updated_at timestamptz)
language sql stable set search_path = public as $$
  select c.slug, s.position, s.channel, v.goal, v.arms, v.p_best, v.winner, v.promoted_at,
         v.updated_at
    from variant_decisions v
    join campaign_steps s on s.id = v.step_id
    join campaigns c on c.id = v.campaign_id
   order by c.slug, s.position;
$$;

-- ---------------------------------------------------------------------------------------
-- failure patterns, call quality, the training export
-- ---------------------------------------------------------------------------------------

-- The error and critical log lines since p_since (the growth job fingerprints them).
create or replace function failure_log_lines(p_since timestamptz, p_now timestamptz)
returns table (at timestamptz, source text, message text)
language sql stable set search_path = public as $$
  select l.at, l.source, l.message from system_logs l
   where l.level in ('error', 'critical') and l.at >= p_since and l.at <= p_now
   order by l.at, l.id;
$$;

-- Replaces the counts of the given (fingerprint, day) pairs (p_rows: [{fingerprint, day,
-- occurrences, source, sample, first_at}]), so recounting a day is idempotent.
-- first_seen_at is the earliest occurrence of the fingerprint ever recorded.
create or replace function failure_record(p_rows jsonb, p_now timestamptz)
returns integer
language plpgsql set search_path = public as $$
declare
  v_n integer;
begin
  insert into failure_patterns as f (fingerprint, day, occurrences, source, sample, first_seen_at)
  select r->>'fingerprint', (r->>'day')::date, (r->>'occurrences')::integer, r->>'source',
         left(r->>'sample', 500),
         least(coalesce((r->>'first_at')::timestamptz, p_now),
               (select min(o.first_seen_at) from failure_patterns o
                 where o.fingerprint = r->>'fingerprint'))
    from jsonb_array_elements(coalesce(p_rows, '[]')) r
  on conflict (fingerprint, day) do update set
    occurrences = excluded.occurrences, source = excluded.source, sample = excluded.sample,
    first_seen_at = least(f.first_seen_at, excluded.first_seen_at);
  get diagnostics v_n = row_count;
  return v_n;
end
$$;

-- The top patterns of p_now's UTC day, with their average over the p_days before and
-- whether they are new (first seen today).
create or replace function failure_summary(p_days integer, p_limit integer, p_now timestamptz)
returns table (fingerprint text, today integer, previous_daily_avg real, first_seen_at timestamptz,
               is_new boolean, sample text)
language sql stable set search_path = public as $$
  select t.fingerprint, t.occurrences,
         coalesce((select sum(o.occurrences)::real / p_days from failure_patterns o
                    where o.fingerprint = t.fingerprint and o.day < t.day
                      and o.day >= t.day - p_days), 0),
         t.first_seen_at, (t.first_seen_at at time zone 'UTC')::date = t.day, t.sample
    from failure_patterns t
   where t.day = (p_now at time zone 'UTC')::date
   order by t.occurrences desc, t.fingerprint
   limit p_limit;
$$;

-- Finished calls not scored yet, with the artifact messages of their end-of-call report.
-- The first p_limit are found in calls_ended_idx and call_quality's key alone (index-only,
-- merged by id), then only those calls are read: the rows of every call ever made were
-- read to find the few not scored (issue 19, stop 26).
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

-- Stores a batch of call quality scores ({call_id, score, reasons}); a call scored again
-- keeps its newest score, a call that no longer exists is skipped. Returns how many rows
-- were written.
create or replace function quality_record(p_rows jsonb, p_now timestamptz)
returns integer
language plpgsql set search_path = public as $$
declare
  v_n integer;
begin
  insert into call_quality (call_id, score, reasons, scored_at)
  select (r->>'call_id')::bigint, (r->>'score')::integer, coalesce(r->'reasons', '[]'), p_now
    from jsonb_array_elements(coalesce(p_rows, '[]')) r
   where exists (select from calls k where k.id = (r->>'call_id')::bigint)
  on conflict (call_id) do update set score = excluded.score, reasons = excluded.reasons,
                                      scored_at = excluded.scored_at;
  get diagnostics v_n = row_count;
  return v_n;
end
$$;

-- Call quality of the connected calls (a human answered) that ended in the last 7 days and
-- in the 7 days before: how many, their average score and (this week) how many scored
-- below p_below. For the digest, the status page and the growth run's drop alert.
create or replace function quality_weekly(p_below integer, p_now timestamptz)
returns table (week_calls integer, week_avg real, week_low integer, previous_calls integer,
               previous_avg real)
language sql stable set search_path = public as $$
  with q as (
    select q.score, k.ended_at > p_now - interval '7 days' this_week
      from call_quality q join calls k on k.id = q.call_id
     where k.ended_at > p_now - interval '14 days' and k.ended_at <= p_now
       and (k.connected_at is not null or k.outcome in ('answered', 'booked'))
  )
  select count(*) filter (where this_week)::integer,
         (avg(score) filter (where this_week))::real,
         count(*) filter (where this_week and score < p_below)::integer,
         count(*) filter (where not this_week)::integer,
         (avg(score) filter (where not this_week))::real
    from q;
$$;

-- Calls scored below p_below, lowest first, for review.
create or replace function quality_low(p_below integer, p_limit integer)
returns table (call_id bigint, vapi_call_id text, lead_id bigint, score integer, reasons jsonb,
               ended_reason text, ended_at timestamptz)
language sql stable set search_path = public as $$
  select k.id, k.vapi_call_id, k.lead_id, q.score, q.reasons, k.ended_reason, k.ended_at
    from call_quality q join calls k on k.id = q.call_id
   where q.score < p_below
   order by q.score, k.ended_at desc
   limit p_limit;
$$;

-- Booked calls with a transcript, newest first (the training export's input).
create or replace function training_booked_calls(p_limit integer, p_now timestamptz)
returns table (call_id bigint, vapi_call_id text, ended_at timestamptz, transcript text,
               summary text, analysis jsonb)
language sql stable set search_path = public as $$
  select k.id, k.vapi_call_id, k.ended_at, k.transcript, k.summary, k.analysis
    from calls k
   where k.outcome = 'booked' and coalesce(k.transcript, '') <> '' and k.ended_at <= p_now
   order by k.ended_at desc, k.id
   limit p_limit;
$$;

