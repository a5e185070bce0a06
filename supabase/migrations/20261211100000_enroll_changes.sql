-- Issue 19, stop 28: enroll_leads reads only the leads changed since a campaign's last
-- complete pass. It read every lead of each active campaign's audience against the
-- campaign's enrollments at every campaign_manager run (96 a day): on the month's database
-- kept at the end of day 28 (`--leads 10000 --days 30 --seed 7`) 6,017 probes for ~2
-- enrolments, the costliest part of manager_run_begin. Now a pass that stayed under its
-- LIMIT is remembered (enroll_passes, with the audience it read), the leads inserted or
-- changed in a column the audience reads are logged (enroll_pending, by triggers on leads),
-- and the next call reads only those for that campaign: the same candidates, so the same
-- leads in the same order (tests/campaigns/test_enroll_changes.py). On that database at
-- 2026-12-28 05:00, a run 15 minutes after a complete pass, with 10-200 leads' scores risen
-- and 2 new leads since (both enrolled alike), REF -> tree, ms a call (median, 30 interleaved
-- reps, rolled back; load ~5): enroll_leads 11.3 -> 1.1 (10), 6.3 -> 1.6 (200); the whole
-- opening, manager_begin, 10.6 -> 1.6 (10), 10.1 -> 2.2 (200); with 1,000 logged leads the
-- two sides are level (4.8 / 4.6). A 6-day simulation of the same month logged 11 leads a
-- run; the log costs a score write 3-7 us a logged lead (`--writes`). Printed by
-- `.venv/bin/python bench/manager_enroll_ab.py --dsn ... --now "2026-12-28 05:00+00" --reps 30
-- --changed 0,10,50,200,1000` (bench/RESULTS.md, stop 28 MANAGER).
-- enroll_passes starts empty: the first call after this migration makes full passes.

-- enroll_leads' memory (issue 19): it read every lead of each campaign's audience at every
-- run (6,017 probes for ~2 enrolments by day 28 of a 10,000-lead simulation). A pass that
-- did not reach its LIMIT left no matching lead unenrolled; after it, only a lead that was
-- inserted or changed in a column the audience reads can newly match. enroll_pending logs
-- those leads (the triggers after enroll_leads), enroll_passes the campaigns whose last pass
-- was complete, with the audience it read. No foreign key on lead_id: its check would lock
-- each lead's row; a deleted lead's entry joins no lead.
create table enroll_pending (
  lead_id bigint not null
);
alter table enroll_pending enable row level security;
revoke all on enroll_pending from public, anon, authenticated;
grant all on enroll_pending to service_role;

create table enroll_passes (
  campaign_id bigint primary key references campaigns (id) on delete cascade,
  audience    jsonb not null  -- the audience the complete pass read
);
alter table enroll_passes enable row level security;
revoke all on enroll_passes from public, anon, authenticated;
grant all on enroll_passes to service_role;

-- Enrolls matching leads into every active campaign, up to each campaign's cap for today
-- (UTC day), hottest (score) then newest first. A lead in a stopped/booked/opted-out state,
-- held for a human (needs_review),
-- or already enrolled in the campaign is never enrolled. Returns one row per campaign.
-- Planned at every call (plan_cache_mode): a pooled connection kept the generic plan it
-- cached in the first hour, when enrollments was nearly empty, until an autoanalyze; in a
-- 10,000-lead simulation the day's first run (625 enrollments) took 0.8 s on day 2 and
-- 3.2 s on day 3 over that connection, 0.05-0.12 s on a new one (either plan mode), and
-- 0.05-0.09 s planned per call (the migration 20261207101000 has the figures).
-- A campaign whose last pass (the previous call's) was complete, with the same audience,
-- reads only the leads logged in enroll_pending since (issue 19, migration 20261211100000):
-- the same candidates as a full pass, since every other matching lead is enrolled already,
-- so the same leads in the same order. A full pass otherwise: the campaign's first, a new
-- audience, a pass that reached its LIMIT (a capped day continues on the next), a call that
-- made no pass (no step, today's cap already met), a campaign that was not active at the
-- last call; and the lead of a deleted enrollment is logged (it may match again).
create or replace function enroll_leads(p_now timestamptz default now())
returns table (campaign_id bigint, slug text, enrolled integer, cap integer)
language plpgsql set search_path = public set plan_cache_mode = force_custom_plan as $$
#variable_conflict use_column
declare
  c campaigns;
  v_cap integer;
  v_today integer;
  v_first integer;
  v_n integer;
  a jsonb;
  v_changed bigint[];
  v_full boolean;
  v_done bigint[] := '{}';
begin
  -- The leads changed since the last call, read and emptied first: a change committed after
  -- this statement's snapshot stays logged for the next call (a pass below may see it too).
  with taken as (delete from enroll_pending returning lead_id)
  select coalesce(array_agg(distinct lead_id), '{}') into v_changed from taken;
  for c in select * from campaigns where status = 'active' order by id for update loop
    a := coalesce(c.definition->'audience', '{}');
    v_cap := internal.campaign_enroll_cap(c, p_now);
    v_done := v_done || c.id;
    -- A full pass unless the last call's pass of this campaign was complete for this audience.
    v_full := not coalesce(
      (select p.audience = a from enroll_passes p where p.campaign_id = c.id), false);
    if not v_full and cardinality(v_changed) = 0 then
      -- nothing changed since a complete pass: no lead can newly match
      return query select c.id, c.slug, 0, v_cap;
      continue;
    end if;
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
         and l.needs_review is null  -- held for a human (internal.consent_hold)
         and not exists (select 1 from enrollments e where e.campaign_id = c.id and e.lead_id = l.id)
         and (v_full or l.id = any (v_changed))  -- planned per call: a constant here
       order by l.score desc nulls last, l.created_at desc, l.id
       limit v_cap - v_today
      on conflict do nothing;
      get diagnostics v_n = row_count;
    end if;
    if v_first is not null and v_cap > v_today and v_n < v_cap - v_today then
      -- under its LIMIT: every lead matching `a` is enrolled now (not v_full: remembered)
      if v_full then
        insert into enroll_passes as p (campaign_id, audience) values (c.id, a)
        on conflict (campaign_id) do update set audience = excluded.audience;
      end if;
    else
      delete from enroll_passes p where p.campaign_id = c.id;
    end if;
    return query select c.id, c.slug, v_n, v_cap;
  end loop;
  -- A campaign not active now did not see these changes: its next pass reads every lead.
  delete from enroll_passes p where p.campaign_id <> all (v_done);
end
$$;

-- What can make a lead newly match an audience (enroll_leads): its insert, and an update of
-- a column the audience reads in the direction that can admit it (any status, industry,
-- source or state; a score that rises; an opt-out or a hold for a human lifted). A row-level
-- trigger with that WHEN for updates (the test costs nothing on the other updates), a
-- statement-level one for inserts.
create or replace function internal.enroll_pending_new_rows()
returns trigger
language plpgsql set search_path = public as $$
begin
  insert into enroll_pending (lead_id) select id from new_rows;
  return null;
end
$$;

create or replace function internal.enroll_pending_row()
returns trigger
language plpgsql set search_path = public as $$
begin
  insert into enroll_pending (lead_id) values (new.id);
  return null;
end
$$;

-- An enrollment deleted (its lead kept) makes its lead a candidate again: logged as a
-- changed lead (a deleted lead's entry joins no lead). Enrollments emptied: every campaign's
-- next pass reads every lead.
create or replace function internal.enroll_pending_old_rows()
returns trigger
language plpgsql set search_path = public as $$
begin
  insert into enroll_pending (lead_id) select lead_id from old_rows;
  return null;
end
$$;

create or replace function internal.enroll_passes_forget()
returns trigger
language plpgsql set search_path = public as $$
begin
  delete from enroll_passes;
  return null;
end
$$;

create trigger leads_enroll_insert after insert on leads
  referencing new table as new_rows
  for each statement execute function internal.enroll_pending_new_rows();
create trigger leads_enroll_update after update on leads for each row
  when (old.status is distinct from new.status
        or old.industry is distinct from new.industry or old.source is distinct from new.source
        or old.state is distinct from new.state
        or coalesce(new.score, 0) > coalesce(old.score, 0)
        or (old.email_opted_out_at is not null and new.email_opted_out_at is null)
        or (old.sms_opted_out_at is not null and new.sms_opted_out_at is null)
        or (old.calls_opted_out_at is not null and new.calls_opted_out_at is null)
        or (old.needs_review is not null and new.needs_review is null))
  execute function internal.enroll_pending_row();
create trigger enrollments_enroll_delete after delete on enrollments
  referencing old table as old_rows
  for each statement execute function internal.enroll_pending_old_rows();
create trigger enrollments_enroll_truncate after truncate on enrollments
  for each statement execute function internal.enroll_passes_forget();

-- Executable by service_role only (99_grants: internal.secure_functions).
select internal.secure_functions();
