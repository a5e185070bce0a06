-- Issue 19, stop 26: the growth job's training step rebuilt both training documents from
-- every answered call of the last 90 days at every hourly run (app.scoring.playbook: parse,
-- redact, rank), though most hours no call ended. training_inputs keys what a build would
-- read without reading a transcript (an md5 of the selected calls' id and xmin: a call
-- that ends, changes or leaves the window changes it); the latest build keeps the key it
-- was built from (`inputs`, also kept when a build gave the same content), and a run with
-- the same key builds nothing: same versions, same documents. Figures:
-- bench/training_skip_ab.py.
alter table training_builds add column inputs text;

create or replace function training_inputs(
  p_since timestamptz, p_now timestamptz, p_limit integer
)
returns table (calls text, latest text)
language sql stable set search_path = public as $$
  select (select md5(coalesce(string_agg(r.id::text || ':' || r.x::text, ','
                                         order by r.ended_at desc, r.id), ''))
            from (select k.id, k.xmin as x, k.ended_at from calls k
                   where k.outcome in ('answered', 'booked')
                     and k.ended_at > p_since and k.ended_at <= p_now
                   order by k.ended_at desc, k.id
                   limit p_limit) r),
         (select b.inputs from training_builds b order by b.version desc limit 1);
$$;

drop function training_build_record(text, jsonb, integer, timestamptz);
create or replace function training_build_record(
  p_sha256 text, p_documents jsonb, p_calls integer, p_now timestamptz, p_inputs text
)
returns setof training_builds
language plpgsql set search_path = public as $$
declare
  v_latest training_builds;
begin
  perform pg_advisory_xact_lock(hashtext('training_builds'));
  select * into v_latest from training_builds order by version desc limit 1;
  if found and v_latest.sha256 = p_sha256 then
    update training_builds set inputs = p_inputs
     where id = v_latest.id and inputs is distinct from p_inputs;
    return;
  end if;
  return query
    insert into training_builds (version, sha256, documents, calls, built_at, inputs)
    values (coalesce(v_latest.version, 0) + 1, p_sha256, p_documents, p_calls, p_now, p_inputs)
    returning *;
end
$$;

revoke all on function training_inputs(timestamptz, timestamptz, integer)
  from public, anon, authenticated;
grant execute on function training_inputs(timestamptz, timestamptz, integer) to service_role;
revoke all on function training_build_record(text, jsonb, integer, timestamptz, text)
  from public, anon, authenticated;
grant execute on function training_build_record(text, jsonb, integer, timestamptz, text)
  to service_role;
