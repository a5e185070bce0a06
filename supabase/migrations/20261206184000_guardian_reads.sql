-- Issue 19 (a month simulated in five minutes), fewer round trips per tick:
-- guardian_reads: the guardian's four reads of a run (firing alert keys, job_status,
--   callback_gaps, new_error_fingerprints) in one call instead of four;
-- appointments_next: a quiet appointments tick's two calls (appointments_to_schedule, then
--   appointments_claim_due) in one.
-- 8,640 runs of each in a simulated month. The functions they call are unchanged.
-- callback_gaps (inside guardian_reads) read messages and calls with a seq scan (the
-- partial indexes on sent_at / placed_at require lead_id, which it does not filter on):
-- EXPLAIN ANALYZE of its body on a 2,000-lead simulation's database after 5 virtual days
-- (4,838 messages, 2,177 calls): 4.7 ms (Seq Scan on messages, 4,789 rows removed by
-- filter; Seq Scan on calls) -> 0.41 ms (Bitmap Index Scan on messages_sent_provider_idx,
-- 49 rows; Index Only Scan on calls_placed_provider_idx, 20 rows), and bounded by the
-- window instead of growing with a week of history.
-- Executable by service_role only.

-- What one guardian run reads, in one round trip (issue 19: a simulated month runs the
-- guardian 8,640 times, and these were four calls each): the keys of the firing alerts,
-- the registry's job states (job_status), the providers' callback gaps (callback_gaps) and
-- the new error fingerprints (new_error_fingerprints), each as that function's rows.
create or replace function guardian_reads(
  p_now timestamptz, p_jobs text[], p_gaps_from timestamptz, p_gaps_to timestamptz,
  p_min_count integer, p_window_seconds integer default 3600,
  p_lookback_seconds integer default 604800
) returns jsonb
language sql stable set search_path = public as $$
  select jsonb_build_object(
    'firing', coalesce((select jsonb_agg(a.key) from alerts a where a.status = 'firing'), '[]'),
    'jobs', coalesce((select jsonb_agg(to_jsonb(j)) from job_status(p_now, p_jobs) j), '[]'),
    'gaps', coalesce((select jsonb_agg(to_jsonb(g))
                        from callback_gaps(p_gaps_from, p_gaps_to) g), '[]'),
    'fingerprints', coalesce((select jsonb_agg(to_jsonb(f))
                                from new_error_fingerprints(p_window_seconds, p_min_count,
                                                            p_lookback_seconds, p_now) f), '[]'));
$$;

revoke all on function guardian_reads(timestamptz, text[], timestamptz, timestamptz, integer, integer, integer) from public, anon, authenticated;
grant execute on function guardian_reads(timestamptz, text[], timestamptz, timestamptz, integer, integer, integer) to service_role;

-- A quiet appointments tick in one round trip (issue 19: 8,640 ticks in a simulated month):
-- {"pending": the versions to plan (appointments_to_schedule), "due": the due reminders
-- claimed (appointments_claim_due) or null}. The claim is made here only when nothing is
-- pending: a plan stored this tick could be due at once (a confirmation), so with pending
-- versions the loop plans first and claims in its own call, as before.
create or replace function appointments_next(
  p_holder text, p_limit integer, p_lease_seconds integer, p_now timestamptz
) returns jsonb
language plpgsql set search_path = public as $$
declare
  v_pending jsonb;
begin
  select coalesce(jsonb_agg(t.x), '[]') into v_pending
    from appointments_to_schedule(p_limit, p_now) as t(x);
  if jsonb_array_length(v_pending) > 0 then
    return jsonb_build_object('pending', v_pending, 'due', null);
  end if;
  return jsonb_build_object('pending', v_pending, 'due', coalesce(
    (select jsonb_agg(jsonb_build_object('reminder', d.reminder, 'appointment', d.appointment))
       from appointments_claim_due(p_holder, p_limit, p_lease_seconds, p_now) d), '[]'));
end
$$;

revoke all on function appointments_next(text, integer, integer, timestamptz) from public, anon, authenticated;
grant execute on function appointments_next(text, integer, integer, timestamptz) to service_role;

create index if not exists messages_sent_provider_idx on messages (provider, sent_at)
  where sent_at is not null;
create index if not exists calls_placed_provider_idx on calls (provider, placed_at)
  where placed_at is not null;
