-- Issue 19 (the fixed cost of the 5-minute jobs' runs): a drip run's start and its first call
-- (drip_begin), and a campaign_manager run's start and its opening (manager_begin), each in
-- one round trip, as appointments_begin (20261210100000) does for appointments. The runner
-- (app/jobs/runner.py) calls a job's begin function, when the job declares one (registry
-- `begin`) and the webhook spool is empty, instead of start_job_run. Same rows recorded,
-- same reads and writes. tests/campaigns/test_run_begin.py; figures: bench/run_begin_ab.py.

-- A drip run's start and its first call in one round trip (issue 19: 8,640 runs a simulated
-- month, each paid start_job_run and drip_begin as two): takes the job's lease and records
-- the run (start_job_run, as the runner's own start), then, only when the run got the lease,
-- makes drip_begin with p_worker, p_limit, p_claim_seconds (its release of dead runs' claims
-- stays under the lease just taken). Answers {"start": start_job_run's row, "read":
-- drip_begin's tick, or null}. The read is made in a block of its own: when it fails, it is
-- undone alone (no step stays claimed), the run stays recorded and `read` is null (the run
-- then calls drip_begin itself and meets the failure there, recorded as a failed run as
-- before). The runner calls it only when the webhook spool is empty (app/jobs/runner.py: a
-- STOP spooled during an outage is applied before drip claims).
create or replace function drip_run_begin(
  p_job text, p_run_id uuid, p_holder text, p_lease_seconds integer,
  p_modal_call_id text, p_now timestamptz, p_worker text, p_limit integer,
  p_claim_seconds integer
) returns jsonb
language plpgsql set search_path = public as $$
declare
  v_start jsonb;
  v_read jsonb;
begin
  select to_jsonb(s) into v_start
    from start_job_run(p_job, p_run_id, p_holder, p_lease_seconds, p_modal_call_id, p_now) s;
  if v_start->>'status' = 'running' then
    begin
      select d.tick into v_read from drip_begin(p_worker, p_limit, p_claim_seconds, p_now) d;
    exception when others then
      v_read := null;
    end;
  end if;
  return jsonb_build_object('start', v_start, 'read', v_read);
end
$$;

-- A campaign_manager run's start and its opening (manager_begin) in one round trip (issue
-- 19: 2,880 runs a simulated month, each paid start_job_run and manager_begin as two): takes
-- the job's lease and records the run (start_job_run, as the runner's own start), then, only
-- when the run got the lease, makes manager_begin with the other arguments. Answers
-- {"start": start_job_run's row, "read": manager_begin's tick, or null}. The opening is made
-- in a block of its own: when it fails, its writes (enrolments, pauses, requeues) are undone
-- alone, the run stays recorded and `read` is null (the run then calls manager_begin itself
-- and meets the failure there, recorded as a failed run as before). The runner calls it only
-- when the webhook spool is empty (app/jobs/runner.py).
create or replace function manager_run_begin(
  p_job text, p_run_id uuid, p_holder text, p_lease_seconds integer,
  p_modal_call_id text, p_now timestamptz, p_max_attempts integer,
  p_spacing_seconds integer, p_limit integer, p_order text
) returns jsonb
language plpgsql set search_path = public as $$
declare
  v_start jsonb;
  v_read jsonb;
begin
  select to_jsonb(s) into v_start
    from start_job_run(p_job, p_run_id, p_holder, p_lease_seconds, p_modal_call_id, p_now) s;
  if v_start->>'status' = 'running' then
    begin
      select m.tick into v_read
        from manager_begin(p_now, p_max_attempts, p_spacing_seconds, p_limit, p_order) m;
    exception when others then
      v_read := null;
    end;
  end if;
  return jsonb_build_object('start', v_start, 'read', v_read);
end
$$;

-- Executable by service_role only (99_grants: internal.secure_functions).
select internal.secure_functions();
