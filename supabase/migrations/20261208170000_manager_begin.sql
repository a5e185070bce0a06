-- Issue 19 (a campaign_manager run's cost): manager_begin, a manager run's first call. A run
-- opened with four round trips, one transaction each: enroll_leads, deliverability_check,
-- requeue_unanswered_calls, call_queue; now one, the same statements in the same order.
-- Figures: bench/RESULTS.md "Simulator" (stop 25, CMRUN; bench/manager_begin_ab.py).

-- A campaign_manager run's opening reads and writes, in one round trip and one transaction,
-- in the order the run made them one call each (issue 19: four round trips a run, 96 runs a
-- day; nothing needs Python between them): enroll_leads, deliverability_check,
-- requeue_unanswered_calls, then call_queue (each statement of this function sees the
-- writes of the one before, as the separate calls did). The run raises the pause alerts
-- after it (they write only alerts). One row (a table, so both transports return it alike),
-- its jsonb: {enrolled: [enroll_leads' rows], paused: [deliverability_check's rows],
-- requeued, queue: [call_queue's calls, in order], in_flight}.
create or replace function manager_begin(
  p_now timestamptz, p_max_attempts integer, p_spacing_seconds integer, p_limit integer,
  p_order text default 'score'
) returns table (tick jsonb)
language plpgsql set search_path = public as $$
declare
  v_enrolled jsonb;
  v_paused jsonb;
  v_requeued integer;
  v_queue jsonb;
  v_in_flight integer;
begin
  select coalesce(jsonb_agg(to_jsonb(e) - 'n' order by e.n), '[]') into v_enrolled
    from enroll_leads(p_now) with ordinality e(campaign_id, slug, enrolled, cap, n);
  select coalesce(jsonb_agg(to_jsonb(d) - 'n' order by d.n), '[]') into v_paused
    from deliverability_check(p_now) with ordinality d(
           campaign_id, slug, metric, rate, threshold, sample, n);
  v_requeued := requeue_unanswered_calls(p_max_attempts, p_spacing_seconds, p_now);
  select coalesce(jsonb_agg(q.call order by q.n), '[]'), coalesce(min(q.in_flight), 0)
    into v_queue, v_in_flight
    from call_queue(p_limit, p_now, p_order) with ordinality q(call, in_flight, n);
  return query select jsonb_build_object(
    'enrolled', v_enrolled, 'paused', v_paused, 'requeued', v_requeued,
    'queue', v_queue, 'in_flight', v_in_flight);
end
$$;

-- Executable by service_role only (99_grants: internal.secure_functions).
select internal.secure_functions();
