-- Issue 19 (the fixed cost of the 5-minute jobs' runs): an appointments run's start and its
-- tick's first read in one round trip. The runner (app/jobs/runner.py) calls a job's begin
-- function, when the job declares one (registry `begin`) and the webhook spool is empty,
-- instead of start_job_run; appointments_begin calls start_job_run itself, then, only when
-- the run got the lease, appointments_next. Same rows recorded, same read.
-- `.venv/bin/python bench/run_begin_ab.py --dsn ... --now "2026-12-28 05:03+00" --runs 400
-- --rounds 4` on a copy of the kept database of day 28 of `--leads 10000 --days 30 --seed 7`
-- with this migration (08:32 UTC, load 6.4-7.0), whole quiet runs through app.jobs.runner
-- in shuffled turns, wall ms a run: appointments 3.86-7.28 -> 2.84-4.93 (22-32 % less in
-- every round; this process's CPU 0.84-1.12 -> 0.61-0.81 ms), start_job_run +
-- appointments_next + finish_job_run -> appointments_begin + finish_job_run.

-- An appointments run's start and its tick's first read in one round trip (issue 19: 8,640
-- runs a simulated month, each paid start_job_run and appointments_next as two): takes the
-- job's lease and records the run (start_job_run, as the runner's own start), then, only
-- when the run got the lease, makes appointments_next with p_holder, p_limit and
-- p_claim_seconds. Answers {"start": start_job_run's row, "read": appointments_next's
-- answer, or null}. The read is made in a block of its own: when it fails, it is undone
-- alone, the run stays recorded and `read` is null (the tick then reads in its own call and
-- meets the failure there, recorded as a failed run as before). The runner calls it only
-- when the webhook spool is empty (app/jobs/runner.py: the drain comes before the body).
create or replace function appointments_begin(
  p_job text, p_run_id uuid, p_holder text, p_lease_seconds integer,
  p_modal_call_id text, p_now timestamptz, p_limit integer, p_claim_seconds integer
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
      v_read := appointments_next(p_holder, p_limit, p_claim_seconds, p_now);
    exception when others then
      v_read := null;
    end;
  end if;
  return jsonb_build_object('start', v_start, 'read', v_read);
end
$$;

-- Executable by service_role only (99_grants: internal.secure_functions).
select internal.secure_functions();
