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
  run_id   uuid,
  -- a failure's stable shape (record_failure): a short reason, what failed, whose lead
  code     text,
  key      text,
  lead_id  bigint  -- no foreign key: a log outlives the lead it names
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
-- Each job's successful runs, newest first: job_status's "last success" is one probe of it,
-- with or without statistics (without, the planner took 'succeeded' for a rare status and
-- read every run of the job; migration 20261211130000).
create index job_runs_succeeded_idx on job_runs (job, started_at desc) where status = 'succeeded';
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

-- One failure in its stable shape (app/db/failures.py): source, code, key, lead, message,
-- for failure learning and the status page. Returns the row's id.
create or replace function record_failure(
  p_source text, p_code text, p_message text, p_key text default null,
  p_lead_id bigint default null, p_level text default 'error', p_context jsonb default '{}',
  p_run_id uuid default null, p_now timestamptz default now()
) returns bigint
language sql set search_path = public as $$
  insert into system_logs (at, level, source, message, context, run_id, code, key, lead_id)
  values (p_now, coalesce(p_level, 'error'), p_source, p_message, coalesce(p_context, '{}'),
          p_run_id, p_code, p_key, p_lead_id)
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

-- The heartbeat of a running job: moves its lease's expiry to p_now + p_lease_seconds while
-- run p_run_id still holds it. False when the lease is gone (expired and taken by another
-- run): the caller logs it. A short lease renewed every few seconds lets the next run take
-- over within one lease of a crash, instead of the job's whole timeout.
create or replace function renew_job_lease(
  p_job text, p_run_id uuid, p_lease_seconds integer, p_now timestamptz default now()
) returns boolean
language plpgsql set search_path = public as $$
begin
  if p_lease_seconds is null or p_lease_seconds <= 0 then
    raise exception 'p_lease_seconds must be positive' using errcode = '22023';
  end if;
  update job_leases l set expires_at = p_now + make_interval(secs => p_lease_seconds)
   where l.job = p_job and l.run_id = p_run_id;
  return found;
end
$$;

-- Records how a run ended and releases its lease (only if it still holds it).
-- A failed run is also written to system_logs. Returns nothing: the runner needs only that it
-- committed (sending the row back, parsed and validated, was 4-7 % of a start + finish pair's
-- wall: bench/job_run_cost.py).
create or replace function finish_job_run(
  p_run_id uuid, p_status text, p_counts jsonb default '{}', p_error text default null,
  p_now timestamptz default now()
) returns void
language plpgsql set search_path = public as $$
declare
  v_job text;
begin
  if p_status not in ('succeeded', 'failed') then
    raise exception 'p_status must be succeeded or failed, not %', p_status using errcode = '22023';
  end if;
  update job_runs
     set status = p_status, finished_at = p_now, counts = coalesce(p_counts, '{}'), error = p_error
   where id = p_run_id
  returning job into v_job;
  if not found then
    raise exception 'no job run %', p_run_id using errcode = 'P0002';
  end if;
  delete from job_leases where job = v_job and run_id = p_run_id;
  if p_status = 'failed' then
    insert into system_logs (at, level, source, message, context, run_id, code, key)
    values (p_now, 'error', 'job:' || v_job, coalesce(p_error, 'job failed'),
            jsonb_build_object('job', v_job, 'counts', coalesce(p_counts, '{}')), p_run_id,
            coalesce(nullif(split_part(p_error, ':', 1), ''), 'job_failed'), p_run_id::text);
  end if;
end
$$;

-- The latest run of each job in p_jobs (the registry; when null, every job that ever ran),
-- with its live lease if any. Index lookups per job (job_runs_job_idx; the last success by
-- job_runs_succeeded_idx), so the cost does not grow with the run history the guardian reads
-- every five minutes, whether job_runs was analysed yet or not.
-- plpgsql, not SQL: a SQL function with `set search_path` is never inlined, so its query was
-- parsed and planned again at every call (guardian_reads calls it at every guardian run,
-- 8,640 a simulated month); plpgsql keeps the parsed query per connection
-- (bench/guardian_run_cost.py).
create or replace function job_status(p_now timestamptz default now(), p_jobs text[] default null)
returns table (
  job text, run_id uuid, status text, started_at timestamptz, finished_at timestamptz,
  counts jsonb, error text, last_success_at timestamptz, lease_holder text,
  lease_expires_at timestamptz
)
language plpgsql stable set search_path = public as $$
begin
  return query
  select j.job, r.id, r.status, r.started_at, r.finished_at, r.counts, r.error,
         (select s.finished_at from job_runs s
           where s.job = j.job and s.status = 'succeeded'
           order by s.started_at desc limit 1),
         l.holder, l.expires_at
    from unnest(coalesce(p_jobs, array(select distinct x.job from job_runs x))) as j(job)
    join lateral (
      select * from job_runs r
       where r.job = j.job and r.status <> 'skipped'
       order by r.started_at desc, r.id limit 1
    ) r on true
    left join job_leases l on l.job = j.job and l.expires_at > p_now
   order by j.job;
end
$$;

-- Inserts or merges leads given as a jsonb array of objects with the leads' column names.
-- A lead matches an existing one on phone, else on email. Returns the counts. An item's
-- `consents` ([{channel, source, granted_at, text, url}]) are recorded
-- (internal.consent_record).
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
              coalesce(v_item->'attributes', '{}'), p_now, p_now)
      returning id into v_id;
      -- null when the console's erasure trigger refused an erased person (09_console.sql)
      v_ins := v_ins + (v_id is not null)::int;
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
    if v_id is not null and jsonb_typeof(v_item->'consents') = 'array' then  -- 13_consent.sql
      perform internal.consent_record(v_id, v_item->'consents', p_now);
    end if;
  end loop;
  return query select v_ins, v_upd;
end
$$;

-- The CSV import's merge (app/campaigns/leads_import.py), row by row, reporting every row's
-- outcome so no merge is silent. A row matches a lead on phone, else on email. On a match the
-- lead's name, phone and email are KEPT (a later duplicate never renames a person); a
-- different value from the file is reported ('kept'), and a different phone or email is also
-- saved in attributes.other_phones / other_emails (never dropped); an email that belongs to
-- another lead is reported ('conflict') and left where it is; an empty name/phone/email is
-- filled ('added'). company, industry, state and timezone take the file's value ('updated'
-- when one was replaced). 'skipped': an insert trigger refused the row (the console's erased
-- people are never re-created). An item's `consents` are recorded as upsert_leads records them.
-- p_dry_run: the same work, rolled back, so the outcomes say what an import would do (rows of
-- the same call see each other, as in the real run).
create or replace function import_leads(p_leads jsonb, p_now timestamptz default now(),
                                        p_dry_run boolean default false)
returns table (idx integer, action text, lead_id bigint, matched_on text, changes jsonb)
language plpgsql set search_path = public as $$
declare
  v_item jsonb;
  v_i integer := 0;
  v_phone text;
  v_email text;
  v_name text;
  v_by_phone bigint;
  v_by_email bigint;
  v_lead leads%rowtype;
  v_attrs jsonb;
  v_changes jsonb;
  v_field text;
  v_new text;
  v_old text;
  v_out jsonb[] := '{}';  -- array_append on an expanded array: no copy per row
begin
  begin
    for v_item in select * from jsonb_array_elements(coalesce(p_leads, '[]')) loop
      v_phone := nullif(v_item->>'phone', '');
      v_email := lower(nullif(v_item->>'email', ''));
      v_name := nullif(btrim(v_item->>'name'), '');
      v_attrs := coalesce(v_item->'attributes', '{}');
      v_by_phone := null;
      v_by_email := null;
      select l.id into v_by_phone from leads l where v_phone is not null and l.phone = v_phone;
      select l.id into v_by_email from leads l where v_email is not null and l.email = v_email;
      if v_by_phone is null and v_by_email is null then
        insert into leads (name, phone, email, company, industry, state, timezone, source,
                           attributes, created_at, updated_at)
        values (v_name, v_phone, v_email, v_item->>'company', v_item->>'industry',
                v_item->>'state', v_item->>'timezone', v_item->>'source', v_attrs, p_now, p_now)
        returning leads.id into v_lead.id;  -- null: a trigger refused the row (an erased person)
        v_out := array_append(v_out, jsonb_build_object(
          'idx', v_i, 'action', case when v_lead.id is null then 'skipped' else 'created' end,
          'lead_id', v_lead.id, 'changes', '[]'::jsonb));
      else
        select * into v_lead from leads l where l.id = coalesce(v_by_phone, v_by_email)
           for update;
        v_changes := '[]';
        if v_name is not null then
          if v_lead.name is null or btrim(v_lead.name) = '' then
            v_lead.name := v_name;
            v_changes := v_changes || jsonb_build_object('field', 'name', 'change', 'added',
                                                         'file', v_name);
          elsif lower(regexp_replace(btrim(v_lead.name), '\s+', ' ', 'g'))
                <> lower(regexp_replace(v_name, '\s+', ' ', 'g')) then
            v_attrs := v_attrs - 'first_name';  -- the kept name keeps its own first name
            v_changes := v_changes || jsonb_build_object('field', 'name', 'change', 'kept',
                                                         'kept', v_lead.name, 'file', v_name);
          end if;
        end if;
        if v_phone is not null and v_lead.phone is distinct from v_phone then
          if v_lead.phone is null then
            v_lead.phone := v_phone;
            v_changes := v_changes || jsonb_build_object('field', 'phone', 'change', 'added',
                                                         'file', v_phone);
          else
            v_lead.attributes := jsonb_set(v_lead.attributes, '{other_phones}',
              (select coalesce(jsonb_agg(distinct p), '[]') from jsonb_array_elements_text(
                 coalesce(v_lead.attributes->'other_phones', '[]') || to_jsonb(v_phone)) p));
            v_changes := v_changes || jsonb_build_object('field', 'phone', 'change', 'kept',
              'kept', v_lead.phone, 'file', v_phone, 'saved_as', 'other_phones');
          end if;
        end if;
        if v_email is not null and v_lead.email is distinct from v_email then
          if v_by_email is not null and v_by_email <> v_lead.id then
            v_changes := v_changes || jsonb_build_object('field', 'email', 'change', 'conflict',
              'kept', v_lead.email, 'file', v_email, 'other_lead', v_by_email);
          elsif v_lead.email is null then
            v_lead.email := v_email;
            v_changes := v_changes || jsonb_build_object('field', 'email', 'change', 'added',
                                                         'file', v_email);
          else
            v_lead.attributes := jsonb_set(v_lead.attributes, '{other_emails}',
              (select coalesce(jsonb_agg(distinct e), '[]') from jsonb_array_elements_text(
                 coalesce(v_lead.attributes->'other_emails', '[]') || to_jsonb(v_email)) e));
            v_changes := v_changes || jsonb_build_object('field', 'email', 'change', 'kept',
              'kept', v_lead.email, 'file', v_email, 'saved_as', 'other_emails');
          end if;
        end if;
        foreach v_field in array array['company', 'industry', 'state', 'timezone'] loop
          v_new := nullif(v_item->>v_field, '');
          v_old := to_jsonb(v_lead)->>v_field;
          if v_new is not null and v_old is not null and v_old <> v_new then
            v_changes := v_changes || jsonb_build_object('field', v_field, 'change', 'updated',
                                                         'kept', v_old, 'file', v_new);
          end if;
        end loop;
        update leads set
          name = v_lead.name,
          phone = v_lead.phone,
          email = v_lead.email,
          company = coalesce(v_item->>'company', company),
          industry = coalesce(v_item->>'industry', industry),
          state = coalesce(v_item->>'state', state),
          timezone = coalesce(v_item->>'timezone', timezone),
          source = coalesce(source, v_item->>'source'),
          attributes = v_lead.attributes || v_attrs,
          updated_at = p_now
        where leads.id = v_lead.id;
        v_out := array_append(v_out, jsonb_build_object(
          'idx', v_i, 'action', 'merged', 'lead_id', v_lead.id,
          'matched_on', case when v_by_phone is not null then 'phone' else 'email' end,
          'changes', v_changes));
      end if;
      if v_lead.id is not null and jsonb_typeof(v_item->'consents') = 'array' then
        perform internal.consent_record(v_lead.id, v_item->'consents', p_now);  -- 09_consent.sql
      end if;
      v_i := v_i + 1;
    end loop;
    if p_dry_run then
      raise exception using errcode = 'NSDRY', message = 'dry run: rolled back';
    end if;
  exception when sqlstate 'NSDRY' then
    null;  -- the outcomes stay in v_out; every write above is undone
  end;
  return query
    select (o->>'idx')::integer, o->>'action', (o->>'lead_id')::bigint, o->>'matched_on',
           o->'changes'
      from unnest(v_out) o;
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

