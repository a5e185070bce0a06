-- Issue 19 (a month simulated in five minutes): the growth job's retrains recomputed the
-- features of every training snapshot of the window at each retrain (four a virtual day in
-- the simulator), then decoded them as one dict of 27 columns per row. The snapshot feature
-- store computes a snapshot once and keeps it:
-- scoring_snapshot_times / scoring_snapshots (the rows: every lead at risk at t, features as
--   of t; an erased lead's rows go with it; older than the window: deleted);
-- scoring_snapshots_held: the held snapshots' row counts (and the pruning);
-- scoring_snapshots_fill: computes the snapshots not held yet (scoring_features);
-- scoring_training_columns: the training set as one text per numeric column, labels joined
--   at read.
-- Measured on the database of a 10,000-lead simulation kept at day 10 (80,984 training rows,
-- load average 4-5): the old read 2.52 s + 0.49 s to sort and decode its dicts; a retrain
-- now 0.71 s with its one new snapshot (0.21-0.34 s of it), 0.44 s with none; the same rows,
-- labels and features (numpy equality), and the store's rows equal scoring_features
-- recomputed at every held snapshot (EXCEPT ALL both ways: 0 rows). 242,952 rows (copies):
-- 0.7-1.3 s a call, 0.3-0.8 s to parse. Computing the whole window once (the first retrain
-- after this migration): 6.75 s at day 10.
-- Executable by service_role only.

-- The snapshot feature store (issue 19): the training's rows (every lead at risk at a
-- snapshot time t, its features as of t) computed once per t and kept, so a retrain computes
-- only the snapshots that are new since the last one. A feature as of t reads only facts
-- received by t; a snapshot is stored once its label window has closed (t <= now - horizon),
-- and what it holds is the value as of when it was computed: a later change to a lead's own
-- columns (industry, source, state, phone, email, opt-outs) or to a call's status does not
-- rewrite it (docs/scoring.md, "The snapshot store"). The label (booked in (t, t + horizon])
-- is joined when read. An erased lead's rows go with it (the foreign key); snapshots older
-- than the training window are deleted. A migration that changes scoring_features must
-- empty scoring_snapshot_times (the rows follow) so the store is computed again.
create table scoring_snapshot_times (
  cutoff_at   timestamptz primary key,
  computed_at timestamptz not null
);
alter table scoring_snapshot_times enable row level security;
revoke all on scoring_snapshot_times from public, anon, authenticated;
grant all on scoring_snapshot_times to service_role;

create table scoring_snapshots (
  cutoff_at timestamptz not null references scoring_snapshot_times (cutoff_at) on delete cascade,
  lead_id   bigint not null references leads (id) on delete cascade,
  industry text, source text, state text,
  lead_age_days real, days_since_enquiry real, email_ok real, sms_ok real, call_ok real,
  emails_sent integer, emails_opened integer, clicks integer, sms_sent integer,
  sms_replies integer, calls_answered integer, calls_unanswered integer,
  calls_voicemail integer, days_since_engagement real,
  primary key (cutoff_at, lead_id)
);
create index scoring_snapshots_lead_idx on scoring_snapshots (lead_id);  -- erasure's cascade
alter table scoring_snapshots enable row level security;
revoke all on scoring_snapshots from public, anon, authenticated;
grant all on scoring_snapshots to service_role;

-- The snapshot store's held snapshots among p_times, with their row counts (a held snapshot
-- with no lead at risk counts 0); first deletes the snapshots before p_keep_from (older than
-- the training window: the store stays bounded).
create or replace function scoring_snapshots_held(p_times timestamptz[], p_keep_from timestamptz)
returns table (cutoff_at timestamptz, n integer)
language plpgsql set search_path = public as $$
#variable_conflict use_column
begin
  delete from scoring_snapshot_times where cutoff_at < p_keep_from;
  return query
  select t.cutoff_at, (select count(*) from scoring_snapshots s
                        where s.cutoff_at = t.cutoff_at)::integer
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
  end if;
  return query
  select t.at, (select count(*) from scoring_snapshots s where s.cutoff_at = t.at)::integer
    from unnest(p_times) t(at)
   where exists (select from scoring_snapshot_times h where h.cutoff_at = t.at)
   order by t.at;
end
$$;

-- The training set of the stored snapshots p_times as columns, each row labelled booked in
-- (t, t + p_horizon_days] (an appointment created, or a booked call's report received, in
-- that window: scoring_features' label); rows whose window is still open at p_now are left
-- out. One row: a numeric column is one comma-separated text (numpy parses it without a
-- Python object per value; integers, and the 0/1 reachability, as integers, ten times
-- faster to parse: a null count is 0, which the model's transforms already made of it; a
-- null real is 'nan'), a categorical one a text[]; `cutoff_epoch`: the cutoffs as epoch
-- seconds, `label` 1/0. A dict per row, then an array per column, were
-- the cost: 242,952 rows took 2.1-2.3 s a call as arrays. The columns share one row order
-- (one aggregate pass), not a sorted one: the caller sorts (the sort here cost 0.38 of
-- 1.3 s). Each lead's booking times are one array joined by hash: a lookup of the bookings
-- per row scanned them all for every row.
create or replace function scoring_training_columns(
  p_now timestamptz, p_times timestamptz[], p_horizon_days integer
) returns table (
  lead_id text, cutoff_epoch text, label text, industry text[], source text[], state text[],
  lead_age_days text, days_since_enquiry text, email_ok text, sms_ok text, call_ok text,
  emails_sent text, emails_opened text, clicks text, sms_sent text, sms_replies text,
  calls_answered text, calls_unanswered text, calls_voicemail text,
  days_since_engagement text
)
language sql stable set search_path = public as $$
  with booked as (
    select b.lead_id, array_agg(b.at) ats
      from (select a.lead_id, a.created_at at from appointments a
            union all
            select k.lead_id, k.report_received_at from calls k
             where k.outcome = 'booked' and k.report_received_at is not null) b
     group by b.lead_id
  ), rows as (
    select s.*, exists (select from unnest(b.ats) t(at) where t.at > s.cutoff_at
                          and t.at <= s.cutoff_at + make_interval(days => p_horizon_days)) label
      from scoring_snapshots s
      left join booked b on b.lead_id = s.lead_id
     where s.cutoff_at = any(p_times)
       and s.cutoff_at + make_interval(days => p_horizon_days) <= p_now
  )
  select string_agg(r.lead_id::text, ','),
         string_agg(extract(epoch from r.cutoff_at)::double precision::text, ','),
         string_agg(r.label::integer::text, ','),
         coalesce(array_agg(r.industry), '{}'), coalesce(array_agg(r.source), '{}'),
         coalesce(array_agg(r.state), '{}'),
         string_agg(coalesce(r.lead_age_days::text, 'nan'), ','),
         string_agg(coalesce(r.days_since_enquiry::text, 'nan'), ','),
         string_agg(coalesce(r.email_ok::integer, 0)::text, ','),
         string_agg(coalesce(r.sms_ok::integer, 0)::text, ','),
         string_agg(coalesce(r.call_ok::integer, 0)::text, ','),
         string_agg(coalesce(r.emails_sent, 0)::text, ','),
         string_agg(coalesce(r.emails_opened, 0)::text, ','),
         string_agg(coalesce(r.clicks, 0)::text, ','),
         string_agg(coalesce(r.sms_sent, 0)::text, ','),
         string_agg(coalesce(r.sms_replies, 0)::text, ','),
         string_agg(coalesce(r.calls_answered, 0)::text, ','),
         string_agg(coalesce(r.calls_unanswered, 0)::text, ','),
         string_agg(coalesce(r.calls_voicemail, 0)::text, ','),
         string_agg(coalesce(r.days_since_engagement::text, 'nan'), ',')
    from rows r;
$$;

revoke all on function scoring_snapshots_held(timestamptz[], timestamptz) from public, anon, authenticated;
grant execute on function scoring_snapshots_held(timestamptz[], timestamptz) to service_role;
revoke all on function scoring_snapshots_fill(timestamptz, timestamptz[]) from public, anon, authenticated;
grant execute on function scoring_snapshots_fill(timestamptz, timestamptz[]) to service_role;
revoke all on function scoring_training_columns(timestamptz, timestamptz[], integer) from public, anon, authenticated;
grant execute on function scoring_training_columns(timestamptz, timestamptz[], integer) to service_role;
