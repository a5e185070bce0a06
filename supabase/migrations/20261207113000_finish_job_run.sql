-- Issue 19 (the fixed cost of a job run): finish_job_run returns nothing instead of the
-- finished job_runs row. Every run of every job ends with this call and no caller read the
-- row (app/jobs/runner.py); it was sent, parsed and validated into a model at every run.
-- `.venv/bin/python bench/job_run_cost.py --runs 1000 --rounds 4` (the app's transport and
-- repository, 30,000 job_runs rows in place, the two finishes taken in turn run by run; 4
-- rounds at load 4.9-5.1): a start + finish pair 0.683-1.077 -> 0.648-0.999 ms wall
-- (4-7 % less in every round), 0.371-0.421 -> 0.340-0.391 ms of the client's CPU (7-8 %).
-- The same writes: the run's row, the lease released, a failure logged.
-- A function's return type cannot be changed in place: dropped and created again.

drop function finish_job_run(uuid, text, jsonb, text, timestamptz);

create or replace function finish_job_run(
  p_run_id uuid, p_status text, p_counts jsonb default '{}', p_error text default null,
  p_now timestamptz default now()
) returns void
language plpgsql set search_path = public as $$
declare
  v_job text;
begin
  if p_status not in ('succeeded', 'failed') then
    raise exception 'p_status must be succeeded or failed, not %', p_status using errcode = '22023';
  end if;
  update job_runs
     set status = p_status, finished_at = p_now, counts = coalesce(p_counts, '{}'), error = p_error
   where id = p_run_id
  returning job into v_job;
  if not found then
    raise exception 'no job run %', p_run_id using errcode = 'P0002';
  end if;
  delete from job_leases where job = v_job and run_id = p_run_id;
  if p_status = 'failed' then
    insert into system_logs (at, level, source, message, context, run_id, code, key)
    values (p_now, 'error', 'job:' || v_job, coalesce(p_error, 'job failed'),
            jsonb_build_object('job', v_job, 'counts', coalesce(p_counts, '{}')), p_run_id,
            coalesce(nullif(split_part(p_error, ':', 1), ''), 'job_failed'), p_run_id::text);
  end if;
end
$$;

-- Executable by service_role only (99_grants: internal.secure_functions).
select internal.secure_functions();
