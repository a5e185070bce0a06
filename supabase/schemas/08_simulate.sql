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

