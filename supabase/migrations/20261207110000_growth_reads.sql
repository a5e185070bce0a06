-- Issue 19 (the growth job's cost per virtual day): the lead model's training read, the same
-- training set. Measured on a kept 10,000-lead x 8-day simulation database (seed 7), embedded
-- Postgres 16: the snapshot store keeps each snapshot's rows rendered as the training reads them
--   (`scoring_snapshot_times.columns`, rendered once when the snapshot is stored): a retrain
--   read every stored row and rendered it to text again (57,470 rows: ~160 ms of ~200 ms a
--   read, growing with the store to 200,000 rows); it now reads one value per snapshot and
--   the label (the leads booked within the horizon after each cutoff) is still read when
--   used. An erasure's cascade forgets the rendering of the snapshots it touched (the
--   trigger), so nothing of an erased person stays; the next retrain renders them again.
--   scoring_training_columns is replaced by scoring_training_chunks. The snapshots stored
--   before this migration have no rendering: the next retrain's scoring_snapshots_held
--   renders them.

alter table scoring_snapshot_times add column columns jsonb, add column n integer;

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

create or replace function scoring_snapshots_held(p_times timestamptz[], p_keep_from timestamptz)
returns table (cutoff_at timestamptz, n integer)
language plpgsql set search_path = public as $$
#variable_conflict use_column
begin
  delete from scoring_snapshot_times where cutoff_at < p_keep_from;
  update scoring_snapshot_times t set (columns, n) = (
           select c, (c->>'n')::integer from internal.scoring_snapshot_columns(t.cutoff_at) c)
   where t.cutoff_at = any(p_times) and t.columns is null;
  return query
  select t.cutoff_at, coalesce(t.n, 0)
    from scoring_snapshot_times t
   where t.cutoff_at = any(p_times)
   order by t.cutoff_at;
end
$$;

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
             select c, (c->>'n')::integer from internal.scoring_snapshot_columns(t.cutoff_at) c)
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

create or replace function scoring_training_chunks(
  p_now timestamptz, p_times timestamptz[], p_horizon_days integer
) returns table (cutoff_epoch double precision, n integer, columns jsonb, booked bigint[])
language sql stable set search_path = public as $$
  with bookings as materialized (
    select a.lead_id, a.created_at at from appointments a where a.lead_id is not null
    union all
    select k.lead_id, k.report_received_at from calls k
     where k.outcome = 'booked' and k.report_received_at is not null and k.lead_id is not null
  ), held as (
    select t.cutoff_at,
           coalesce(t.columns, internal.scoring_snapshot_columns(t.cutoff_at)) columns
      from scoring_snapshot_times t
     where t.cutoff_at = any(p_times)
       and t.cutoff_at + make_interval(days => p_horizon_days) <= p_now
  )
  select date_part('epoch', h.cutoff_at), (h.columns->>'n')::integer, h.columns,
         array(select distinct b.lead_id from bookings b
                where b.at > h.cutoff_at
                  and b.at <= h.cutoff_at + make_interval(days => p_horizon_days)
                order by 1)
    from held h
   order by h.cutoff_at;
$$;

drop function scoring_training_columns(timestamptz, timestamptz[], integer);

-- Executable by service_role only (99_grants: internal.secure_functions).
select internal.secure_functions();
