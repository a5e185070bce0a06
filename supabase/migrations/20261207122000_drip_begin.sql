-- Issue 19 (a quiet job run's cost): drip_begin, a drip run's first call. An empty drip run
-- (most of the month's 8,640) was three round trips: release_orphan_claims, claim_due_steps,
-- webhook_due_rescue_checks; now one, the same statements in the same order.
-- Figures: bench/RESULTS.md "Simulator" (stop 24, IDLE).
-- release_orphan_claims is now called by drip_begin only: moved to schema internal.

drop function release_orphan_claims(timestamptz);

-- Frees the steps a drip run claimed and never settled (issue 15: a run killed mid-batch
-- left its claims leased for DRIP_LEASE_SECONDS, 10 minutes of no sending). Called at the
-- start of a drip run (drip_begin), which holds the job's single-flight lease
-- (app/jobs/runner.py): no other drip run is alive, so every claim still leased belongs to a
-- dead one. The number freed.
create or replace function internal.release_orphan_claims(p_now timestamptz default now())
returns integer
language plpgsql set search_path = public as $$
declare
  v_n integer;
begin
  update enrollments e set lease_owner = null, lease_expires_at = null, updated_at = p_now
   where e.lease_owner is not null and e.lease_expires_at > p_now;
  get diagnostics v_n = row_count;
  return v_n;
end
$$;

-- A drip run's first call (app/campaigns/drip.py, under the job's lease): release the steps
-- of drip runs that died (internal.release_orphan_claims), then the first claim
-- (claim_due_steps), in that order in one transaction; when nothing was claimed the run
-- ends here, so the due rescue texts (webhook_due_rescue_checks) come back too, read at the
-- moment the run would have read them: an empty run is one round trip instead of three
-- (issue 19). One row (a table, so both transports return it alike), its jsonb:
-- {released, steps: [claim_due_steps' rows, in order], rescues: [rows] or null (steps were
-- claimed: the run reads them after its sends, as before)}.
create or replace function drip_begin(
  p_worker text, p_limit integer, p_lease_seconds integer, p_now timestamptz,
  p_rescue_limit integer default 100
) returns table (tick jsonb)
language plpgsql set search_path = public as $$
declare
  v_released integer := internal.release_orphan_claims(p_now);
  v_steps jsonb;
begin
  select coalesce(jsonb_agg(c.step order by c.n), '[]') into v_steps
    from claim_due_steps(p_worker, p_limit, p_lease_seconds, p_now) with ordinality c(step, n);
  return query select jsonb_build_object(
    'released', v_released, 'steps', v_steps,
    'rescues', case when jsonb_array_length(v_steps) > 0 then null else (
      select coalesce(jsonb_agg(jsonb_build_object(
               'message', r.message, 'lead_state', r.lead_state,
               'lead_timezone', r.lead_timezone, 'recent_attempts', r.recent_attempts)
             order by r.n), '[]')
        from webhook_due_rescue_checks(p_now, p_rescue_limit) with ordinality r(
               message, lead_state, lead_timezone, recent_attempts, n)) end);
end
$$;

-- Executable by service_role only (99_grants: internal.secure_functions).
select internal.secure_functions();
