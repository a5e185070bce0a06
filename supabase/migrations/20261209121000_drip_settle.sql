-- Issue 19 (a drip run's fixed cost): a run that claimed steps settled its last batch
-- (complete_steps) and then read the due rescue texts (webhook_due_rescue_checks), two round
-- trips one after the other in every such run (4,598 rescue reads in the profiled month,
-- `.venv/bin/python bench/sim_profile.py --leads 10000 --days 30 --seed 7`). drip_settle
-- makes them one: the settle, then the read, in that order. The empty run's rescue read is
-- drip_begin's (20261207122000_drip_begin.sql). tests/campaigns/test_drip_settle.py.

-- A drip run's last settle (app/campaigns/drip.py: the batch no claim follows): the batch
-- settled (complete_steps), then the due rescue texts (webhook_due_rescue_checks) read at the
-- moment the run read them next, after its settle: every run that claimed steps made the
-- two calls one after the other, now one round trip (issue 19; migration 20261209121000).
-- One row, its jsonb: {settled: the enrollments settled, rescues: [rows as drip_begin's]}.
create or replace function drip_settle(
  p_worker text, p_results jsonb, p_now timestamptz, p_rescue_limit integer default 100
) returns table (tick jsonb)
language plpgsql set search_path = public as $$
declare
  v_settled integer;
begin
  select count(*) into v_settled from complete_steps(p_worker, p_results, p_now);
  return query select jsonb_build_object(
    'settled', v_settled,
    'rescues', (
      select coalesce(jsonb_agg(jsonb_build_object(
               'message', r.message, 'lead_state', r.lead_state,
               'lead_timezone', r.lead_timezone, 'recent_attempts', r.recent_attempts)
             order by r.n), '[]')
        from webhook_due_rescue_checks(p_now, p_rescue_limit) with ordinality r(
               message, lead_state, lead_timezone, recent_attempts, n)));
end
$$;
