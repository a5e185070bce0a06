-- The core: leads, the system log, job runs and their single-flight leases
-- (repository: app/db/repositories.py).
--
-- Python never builds SQL for the data model: every read and write is a function, called by
-- name with named arguments over PostgresTransport or PostgREST. Each function that depends
-- on time takes the caller's clock as p_now, so tests and the simulator can move time.
--
-- Every table, here and in the files after this one, has row-level security on and no
-- policy, and is granted to service_role only: anon and authenticated see nothing.

-- A function body is checked when the function runs, not here: it may read a table that a
-- later file declares. (The migrations are applied with the check on.)
set check_function_bodies = off;

-- ---------------------------------------------------------------------------------------
-- leads
-- ---------------------------------------------------------------------------------------
create table leads (
  id                 bigint generated always as identity primary key,
  name               text,
  phone              text check (phone ~ '^\+[1-9][0-9]{6,14}$'),  -- E.164
  email              text check (email = lower(email) and position('@' in email) > 1),
  company            text,
  industry           text,
  state              text check (state ~ '^[A-Z]{2}$'),
  timezone           text,
  source             text,
  status             text not null default 'new'
                     check (status in ('new', 'contacted', 'engaged', 'booked', 'customer',
                                       'lost', 'do_not_contact')),
  score              real check (score between 0 and 100),
  score_reasons      jsonb not null default '[]',
  attributes         jsonb not null default '{}',
  last_called_at     timestamptz,
  call_attempts      integer not null default 0,
  last_contacted_at  timestamptz,
  email_opted_out_at timestamptz,
  sms_opted_out_at   timestamptz,
  calls_opted_out_at timestamptz,      -- do-not-call
  needs_review       text,             -- why a human must look (e.g. unknown timezone)
  created_at         timestamptz not null default now(),
  updated_at         timestamptz not null default now(),
  hot_at             timestamptz,      -- crossed the hot score threshold (null: not hot)
  check (phone is not null or email is not null)
);
create unique index leads_phone_key on leads (phone) where phone is not null;
create unique index leads_email_key on leads (email) where email is not null;
create index leads_status_idx on leads (status);
create index leads_score_idx on leads (score desc nulls last);
alter table leads enable row level security;
revoke all on leads from public, anon, authenticated;
grant all on leads to service_role;

-- ---------------------------------------------------------------------------------------
-- system_logs
-- ---------------------------------------------------------------------------------------
create table system_logs (
  id       bigint generated always as identity primary key,
  at       timestamptz not null default now(),
  level    text not null check (level in ('debug', 'info', 'warning', 'error', 'critical')),
  source   text not null,
  message  text not null,
  context  jsonb not null default '{}',
  run_id   uuid
);
create index system_logs_at_idx on system_logs (at desc);
alter table system_logs enable row level security;
revoke all on system_logs from public, anon, authenticated;
grant all on system_logs to service_role;

-- ---------------------------------------------------------------------------------------
-- job runs and leases
-- ---------------------------------------------------------------------------------------
create table job_runs (
  id            uuid primary key,
  job           text not null,
  status        text not null
                check (status in ('running', 'succeeded', 'failed', 'skipped', 'abandoned')),
  holder        text,
  started_at    timestamptz not null,
  finished_at   timestamptz,
  counts        jsonb not null default '{}',
  error         text,
  modal_call_id text
);
create index job_runs_job_idx on job_runs (job, started_at desc);
create index job_runs_running_idx on job_runs (job) where status = 'running';
alter table job_runs enable row level security;
revoke all on job_runs from public, anon, authenticated;
grant all on job_runs to service_role;

-- At most one row per job: the single-flight lease.
create table job_leases (
  job         text primary key,
  run_id      uuid not null,
  holder      text not null,
  acquired_at timestamptz not null,
  expires_at  timestamptz not null
);
alter table job_leases enable row level security;
revoke all on job_leases from public, anon, authenticated;
grant all on job_leases to service_role;

-- ---------------------------------------------------------------------------------------
-- functions
-- ---------------------------------------------------------------------------------------

-- The guardian's database probe: the server's clock and version.
create or replace function db_ping()
returns table (server_time timestamptz, server_version text)
language sql stable set search_path = public as $$
  select now(), current_setting('server_version');
$$;

-- One system_logs row (the structured log's database sink); returns its id.
create or replace function write_system_log(
  p_level text, p_source text, p_message text,
  p_context jsonb default '{}', p_run_id uuid default null, p_now timestamptz default now()
) returns bigint
language sql set search_path = public as $$
  insert into system_logs (at, level, source, message, context, run_id)
  values (p_now, p_level, p_source, p_message, coalesce(p_context, '{}'), p_run_id)
  returning id;
$$;

-- The newest log rows at p_min_level or above.
create or replace function recent_system_logs(
  p_limit integer default 50, p_min_level text default 'info'
)
returns setof system_logs
language sql stable set search_path = public as $$
  select * from system_logs
  where array_position(array['debug','info','warning','error','critical'], level)
        >= array_position(array['debug','info','warning','error','critical'], p_min_level)
  order by at desc, id desc
  limit p_limit;
$$;

-- Single-flight start of a job run. Takes the job's lease when it is free or expired and
-- records the run as 'running'; when another run holds a live lease, records this run as
-- 'skipped' and returns at once. Atomic: two concurrent callers cannot both get 'running'
-- (the second ON CONFLICT re-checks the WHERE against the row the first one wrote).
create or replace function start_job_run(
  p_job text, p_run_id uuid, p_holder text, p_lease_seconds integer,
  p_modal_call_id text default null, p_now timestamptz default now()
) returns table (run_id uuid, status text, blocked_by uuid, lease_expires_at timestamptz)
language plpgsql set search_path = public as $$
declare
  v_taken uuid;
  v_blocker uuid;
  v_expires timestamptz := p_now + make_interval(secs => p_lease_seconds);
begin
  if p_lease_seconds is null or p_lease_seconds <= 0 then
    raise exception 'p_lease_seconds must be positive' using errcode = '22023';
  end if;
  insert into job_leases as l (job, run_id, holder, acquired_at, expires_at)
  values (p_job, p_run_id, p_holder, p_now, v_expires)
  on conflict (job) do update
    set run_id = excluded.run_id, holder = excluded.holder,
        acquired_at = excluded.acquired_at, expires_at = excluded.expires_at
    where l.expires_at <= p_now
  returning l.run_id into v_taken;

  if v_taken is null then
    select l.run_id into v_blocker from job_leases l where l.job = p_job;
    insert into job_runs (id, job, status, holder, started_at, finished_at, error, modal_call_id)
    values (p_run_id, p_job, 'skipped', p_holder, p_now, p_now,
            'another run holds the lease: ' || v_blocker, p_modal_call_id);
    return query select p_run_id, 'skipped'::text, v_blocker, null::timestamptz;
    return;
  end if;

  -- A run that was still 'running' when its lease expired crashed or was killed.
  update job_runs r
     set status = 'abandoned', finished_at = p_now,
         error = 'lease expired before the run finished'
   where r.job = p_job and r.status = 'running' and r.id <> p_run_id;
  insert into job_runs (id, job, status, holder, started_at, modal_call_id)
  values (p_run_id, p_job, 'running', p_holder, p_now, p_modal_call_id);
  return query select p_run_id, 'running'::text, null::uuid, v_expires;
end
$$;

-- Records how a run ended and releases its lease (only if it still holds it).
-- A failed run is also written to system_logs.
create or replace function finish_job_run(
  p_run_id uuid, p_status text, p_counts jsonb default '{}', p_error text default null,
  p_now timestamptz default now()
) returns setof job_runs
language plpgsql set search_path = public as $$
declare
  v_run job_runs;
begin
  if p_status not in ('succeeded', 'failed') then
    raise exception 'p_status must be succeeded or failed, not %', p_status using errcode = '22023';
  end if;
  update job_runs
     set status = p_status, finished_at = p_now, counts = coalesce(p_counts, '{}'), error = p_error
   where id = p_run_id
  returning * into v_run;
  if not found then
    raise exception 'no job run %', p_run_id using errcode = 'P0002';
  end if;
  delete from job_leases where job = v_run.job and run_id = p_run_id;
  if p_status = 'failed' then
    insert into system_logs (at, level, source, message, context, run_id)
    values (p_now, 'error', 'job:' || v_run.job, coalesce(p_error, 'job failed'),
            jsonb_build_object('job', v_run.job, 'counts', coalesce(p_counts, '{}')), p_run_id);
  end if;
  return next v_run;
end
$$;

-- The latest run of each job in p_jobs (the registry; when null, every job that ever ran),
-- with its live lease if any. Index lookups per job (job_runs_job_idx), so the cost does not
-- grow with the run history the guardian reads every five minutes.
create or replace function job_status(p_now timestamptz default now(), p_jobs text[] default null)
returns table (
  job text, run_id uuid, status text, started_at timestamptz, finished_at timestamptz,
  counts jsonb, error text, last_success_at timestamptz, lease_holder text,
  lease_expires_at timestamptz
)
language sql stable set search_path = public as $$
  select j.job, r.id, r.status, r.started_at, r.finished_at, r.counts, r.error,
         (select s.finished_at from job_runs s
           where s.job = j.job and s.status = 'succeeded'
           order by s.started_at desc limit 1),
         l.holder, l.expires_at
    from unnest(coalesce(p_jobs, array(select distinct job from job_runs))) as j(job)
    join lateral (
      select * from job_runs r
       where r.job = j.job and r.status <> 'skipped'
       order by r.started_at desc, r.id limit 1
    ) r on true
    left join job_leases l on l.job = j.job and l.expires_at > p_now
   order by j.job;
$$;

-- Inserts or merges leads given as a jsonb array of objects with the leads' column names.
-- A lead matches an existing one on phone, else on email. Returns the counts.
-- (The campaigns issue's CSV import validates and normalises before calling this.)
create or replace function upsert_leads(p_leads jsonb, p_now timestamptz default now())
returns table (inserted integer, updated integer)
language plpgsql set search_path = public as $$
declare
  v_item jsonb;
  v_id bigint;
  v_ins integer := 0;
  v_upd integer := 0;
begin
  for v_item in select * from jsonb_array_elements(coalesce(p_leads, '[]')) loop
    select id into v_id from leads
     where (v_item->>'phone' is not null and phone = v_item->>'phone')
        or (v_item->>'email' is not null and email = lower(v_item->>'email'))
     order by (phone = v_item->>'phone') desc nulls last
     limit 1
     for update;
    if v_id is null then
      insert into leads (name, phone, email, company, industry, state, timezone, source,
                         attributes, created_at, updated_at)
      values (v_item->>'name', v_item->>'phone', lower(v_item->>'email'), v_item->>'company',
              v_item->>'industry', v_item->>'state', v_item->>'timezone', v_item->>'source',
              coalesce(v_item->'attributes', '{}'), p_now, p_now);
      v_ins := v_ins + 1;
    else
      update leads set
        name = coalesce(v_item->>'name', name),
        phone = coalesce(phone, v_item->>'phone'),
        email = coalesce(email, lower(v_item->>'email')),
        company = coalesce(v_item->>'company', company),
        industry = coalesce(v_item->>'industry', industry),
        state = coalesce(v_item->>'state', state),
        timezone = coalesce(v_item->>'timezone', timezone),
        source = coalesce(source, v_item->>'source'),
        attributes = attributes || coalesce(v_item->'attributes', '{}'),
        updated_at = p_now
      where id = v_id;
      v_upd := v_upd + 1;
    end if;
  end loop;
  return query select v_ins, v_upd;
end
$$;

-- How many leads there are, in total and per status.
create or replace function count_leads()
returns table (total bigint, by_status jsonb)
language sql stable set search_path = public as $$
  select (select count(*) from leads),
         coalesce((select jsonb_object_agg(status, n)
                     from (select status, count(*) n from leads group by status) s), '{}');
$$;

