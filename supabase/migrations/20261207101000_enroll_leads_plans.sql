-- Issue 19 (the month's fixed cost): enroll_leads is planned at every call, and a
-- campaign's enrollments today are counted from an index.
-- enroll_leads ran its INSERT ... SELECT on the generic plan a pooled connection cached in
--   the simulation's first hour (enrollments nearly empty, never analysed yet) until an
--   autoanalyze threw it away. 10,000 leads, seed 7, the day's first run (500 + 75..125
--   enrollments), through the simulator's pooled connection vs a new connection at the
--   same virtual instant (its call rolled back): day 1 0.28-0.44 s vs 0.04-0.12 s, day 2
--   0.76-1.91 s vs 0.04-0.12 s (either plan_cache_mode on the new connection), day 3 3.2 s.
--   With plan_cache_mode = force_custom_plan on the function (the same run otherwise): day
--   2 0.047 s, day 3 0.085 s; every enroll_leads call of 3.1 virtual days 0.78 s in all
--   (298 calls), against 5.1 s for 4 days (384 calls) before. The same statement, the same
--   ORDER BY (score, created_at, id: a total order) and LIMIT: the same enrollments.
--   Planned with the call's values, the statement does not scan every lead: EXPLAIN
--   (ANALYZE, BUFFERS) of speed-to-lead's SELECT at day 3 (9,498 leads 'new', 2,000
--   enrolled, LIMIT 400): Limit -> Incremental Sort (presorted on score) -> Nested Loop Anti
--   Join: Index Scan using leads_score_idx (795 rows read) x Index Only Scan using
--   enrollments_campaign_id_lead_id_key (795 loops), 6.7 ms, 4,107 buffers; the recall
--   campaign's (LIMIT 100): 150 rows read, 0.4 ms. A run after the day's cap is reached
--   reads only the count and the first step: 2.5 ms for both campaigns.
-- enrollments_campaign_enrolled_idx: the cap's count of today's enrollments was a seq scan
--   of every enrollment (day 3: 2,350 rows, 0.5 ms, 192 times a virtual day, growing with
--   the history).
-- Executable by service_role only.

create index enrollments_campaign_enrolled_idx on enrollments (campaign_id, enrolled_at);

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
begin
  for c in select * from campaigns where status = 'active' order by id for update loop
    a := coalesce(c.definition->'audience', '{}');
    v_cap := internal.campaign_enroll_cap(c, p_now);
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
       order by l.score desc nulls last, l.created_at desc, l.id
       limit v_cap - v_today
      on conflict do nothing;
      get diagnostics v_n = row_count;
    end if;
    return query select c.id, c.slug, v_n, v_cap;
  end loop;
end
$$;

revoke all on function enroll_leads(timestamptz) from public, anon, authenticated;
grant execute on function enroll_leads(timestamptz) to service_role;
