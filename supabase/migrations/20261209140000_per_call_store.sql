-- Issue 19, stop 26 (growth's per-call model): the per-call feature store. Each retrain read
-- every call of the training window's features as of placed_at again (scoring_features of
-- (lead, placed_at) pairs, growing with the calls); now each call's row is computed once, by
-- the first retrain after its report, and read from scoring_call_rows (figures below:
-- bench/per_call_store.py).

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

-- The snapshot store's rows lose the foreign key to their snapshot time: checking it locked
-- that one scoring_snapshot_times row once per row inserted, most of a fill's insert (8,602
-- rows after day 28 of a 10,000-lead simulation: bench/snapshot_fill_ab.py); a deleted
-- snapshot time's rows are deleted by a statement trigger instead of the cascade.
alter table scoring_snapshots drop constraint scoring_snapshots_cutoff_at_fkey;

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

-- A snapshot's rendering is kept as `json` (its text), not `jsonb`: the training read sent
-- every chosen snapshot's rendering printed again from jsonb (~30 snapshots, ~16 MB, at each
-- retrain late in a 10,000-lead month: bench/snapshot_fill_ab.py prints the read's ms); now
-- the stored text is sent as it is. The same values reach the client (its JSON parser).
alter table scoring_snapshot_times alter column columns type json using columns::json;

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

drop function scoring_training_chunks(timestamptz, timestamptz[], integer);
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

-- Executable by service_role only (99_grants: internal.secure_functions).
select internal.secure_functions();
