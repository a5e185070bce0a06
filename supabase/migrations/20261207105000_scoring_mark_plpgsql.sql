-- Issue 19: internal.scoring_mark (every marked write: outbox rows, calls, leads, SMS replies)
-- becomes plpgsql with the same body. As a SQL function that writes it was never inlined
-- (its callers PERFORM it from trigger functions) and was parsed and planned again in every
-- transaction. `.venv/bin/python bench/plan_cache.py` (1,000 calls each in its own transaction
-- on one connection, 6 rounds alternating, embedded Postgres 16, load 0.3): 0.314-0.327 ms a
-- call as SQL, 0.265-0.283 ms as plpgsql, the round trip included. Same rows. Internal: no
-- grant changes.

create or replace function internal.scoring_mark(p_lead_ids bigint[])
returns void
language plpgsql set search_path = public as $$
begin
  insert into scoring_dirty (lead_id)
  select distinct u.id from unnest(p_lead_ids) u(id) where u.id is not null
  on conflict (lead_id) do update set seq = nextval('scoring_dirty_seq');
end
$$;
