-- The simulator's reads (repository: app/db/simulate.py; docs/simulation.md).

-- A function body is checked when the function runs, not here: it may read a table that a
-- later file declares. (The migrations are applied with the check on.)
set check_function_bodies = off;

-- Every lead's contact addresses with its current score, so the simulator can match
-- nightshift's scores to the outcomes it simulated (AUC) without building SQL in Python.
create or replace function simulate_lead_scores()
returns table (lead_id bigint, phone text, email text, score real)
language sql stable set search_path = public as $$
  select l.id, l.phone, l.email, l.score from leads l order by l.id;
$$;


-- Campaigns the deliverability guard paused (and why), so a run's report says so instead of
-- silently measuring a stopped campaign.
create or replace function simulate_campaign_pauses()
returns table (campaign text, status text, paused_at timestamptz, reason text)
language sql stable set search_path = public as $$
  select c.slug, c.status, c.paused_at, c.paused_reason from campaigns c
   where c.paused_at is not null order by c.paused_at, c.slug;
$$;

-- Every placed call's lead, when it was placed and when its end-of-call report came (null:
-- not yet): the report checks, independently of scoring_features, that no training row was
-- observed while one of its lead's calls was in progress.
create or replace function simulate_call_spans()
returns table (lead_id bigint, placed_at timestamptz, report_received_at timestamptz)
language sql stable set search_path = public as $$
  select k.lead_id, coalesce(k.placed_at, k.claimed_at), k.report_received_at from calls k
   where k.lead_id is not null and coalesce(k.placed_at, k.claimed_at) is not null
   order by 1, 2;
$$;
