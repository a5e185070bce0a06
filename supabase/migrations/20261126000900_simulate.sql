-- The simulator's reads (app/db/simulate.py, docs/simulation.md): every lead's contact
-- addresses with its current score, so the simulator can match nightshift's scores to the
-- outcomes it simulated (AUC) without building SQL in Python.
create or replace function simulate_lead_scores()
returns table (lead_id bigint, phone text, email text, score real)
language sql stable set search_path = public as $$
  select l.id, l.phone, l.email, l.score from leads l order by l.id;
$$;

select secure_functions();
