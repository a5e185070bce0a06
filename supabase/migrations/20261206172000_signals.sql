-- Issue 15 items 2, 3, 5 and 6 (signals): failures in one stable shape in system_logs
-- (code, key, lead_id + record_failure), a short heartbeat-renewed job lease
-- (renew_job_lease; finish_job_run writes the failure's code and key), the reconciler of
-- lost Twilio status callbacks (messages_awaiting_status, message_reconcile_checked), the
-- guardian's silent-callbacks check (callback_gaps), the events `nightshift webhooks replay`
-- re-applies (webhook_events_for_replay), the drip's release of a dead run's claims
-- (release_orphan_claims).

alter table system_logs add column code text;
alter table system_logs add column key text;
alter table system_logs add column lead_id bigint;
-- The latest event of each provider (the guardian's silent-callbacks check, callback_gaps).
create index webhook_events_provider_idx on webhook_events (provider, received_at desc);
-- The claims still leased (release_orphan_claims): almost always none.
create index enrollments_leased_idx on enrollments (lease_expires_at)
  where lease_owner is not null;

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
    insert into system_logs (at, level, source, message, context, run_id, code, key)
    values (p_now, 'error', 'job:' || v_run.job, coalesce(p_error, 'job failed'),
            jsonb_build_object('job', v_run.job, 'counts', coalesce(p_counts, '{}')), p_run_id,
            coalesce(nullif(split_part(p_error, ':', 1), ''), 'job_failed'), p_run_id::text);
  end if;
  return next v_run;
end
$$;

-- Texts whose final status never arrived (issue 15, docs/webhooks.md "Lost status
-- callbacks"): sent through Twilio (a MessageSid is known), still 'sending' or 'sent', sent
-- between p_sent_after and p_sent_before (a day ago), asked about fewer than p_max_checks
-- times (a carrier that never sends a receipt leaves a text 'sent' for good). Least recently
-- checked first.
create or replace function messages_awaiting_status(
  p_sent_before timestamptz, p_sent_after timestamptz, p_limit integer,
  p_max_checks integer default 3
) returns table (id bigint, provider_id text, status text, lead_id bigint,
                 sent_at timestamptz)
language sql stable set search_path = public as $$
  select m.id, m.provider_id, m.status, m.lead_id, coalesce(m.sent_at, m.claimed_at, m.created_at)
    from messages m
   where m.channel = 'sms' and m.provider = 'twilio' and m.provider_id is not null
     and m.status in ('sending', 'sent')
     and coalesce(m.sent_at, m.claimed_at, m.created_at) < p_sent_before
     and coalesce(m.sent_at, m.claimed_at, m.created_at) >= p_sent_after
     and coalesce((m.payload->>'reconcile_checks')::integer, 0) < p_max_checks
   order by (m.payload->>'reconcile_checked_at')::timestamptz nulls first,
            coalesce(m.sent_at, m.claimed_at, m.created_at), m.id
   limit greatest(p_limit, 0)
$$;

-- The reconciler asked Twilio about a text and left it (not final yet, unknown to Twilio,
-- the lookup failed): stamped in payload with a count of checks; updated_at is left alone.
create or replace function message_reconcile_checked(
  p_id bigint, p_reason text, p_now timestamptz
) returns void
language sql set search_path = public as $$
  update messages
     set payload = payload || jsonb_build_object(
           'reconcile_checked_at', p_now, 'reconcile_reason', p_reason,
           'reconcile_checks', coalesce((payload->>'reconcile_checks')::integer, 0) + 1)
   where id = p_id
$$;

-- The guardian's silent-callbacks check (issue 15): per provider, what was sent through it
-- in [p_from, p_to) (texts and emails by sent_at, calls by placed_at; dry runs are their own
-- provider, 'dryrun', and never counted) and when its latest webhook event arrived. Sends
-- with no event since p_from mean callbacks are being lost (a wrong URL, a dead endpoint, a
-- rotated secret). Index lookups: messages_created_idx / calls by placed_at are bounded by
-- the window; webhook_events_provider_idx gives each provider's latest event.
create or replace function callback_gaps(p_from timestamptz, p_to timestamptz)
returns table (provider text, sends bigint, last_event_at timestamptz)
language sql stable set search_path = public as $$
  with sends as (
    select m.provider, count(*) as n from messages m
     where m.provider in ('twilio', 'resend') and m.sent_at >= p_from and m.sent_at < p_to
       and m.created_at >= p_from - interval '7 days'
     group by m.provider
    union all
    select 'vapi', count(*) from calls c
     where c.provider = 'vapi' and c.placed_at >= p_from and c.placed_at < p_to
  )
  select s.provider, sum(s.n)::bigint,
         (select max(w.received_at) from webhook_events w where w.provider = s.provider)
    from sends s
   where s.n > 0
   group by s.provider
   order by s.provider;
$$;

-- The stored events `nightshift webhooks replay` re-applies (app/webhooks/replay.py), by id
-- after p_after_id, at most p_limit: received since p_since, of provider or event type
-- p_kind, the one event p_id; by default only events whose application did not take
-- (ignored, failed, received), every one with p_include_processed. Never the rows a replay
-- stored itself (dedupe keys 'replay:...').
create or replace function webhook_events_for_replay(
  p_since timestamptz default null, p_kind text default null, p_id bigint default null,
  p_include_processed boolean default false, p_after_id bigint default 0,
  p_limit integer default 500
) returns table (id bigint, provider text, dedupe_key text, event_type text, payload jsonb,
                 status text, received_at timestamptz)
language sql stable set search_path = public as $$
  select w.id, w.provider, w.dedupe_key, w.event_type, w.payload, w.status, w.received_at
    from webhook_events w
   where w.id > coalesce(p_after_id, 0)
     and (p_id is null or w.id = p_id)
     and (p_since is null or w.received_at >= p_since)
     and (p_kind is null or w.provider = p_kind or w.event_type = p_kind)
     and (p_include_processed or w.status <> 'processed')
     and w.dedupe_key not like 'replay:%'
   order by w.id
   limit greatest(p_limit, 0)
$$;

-- How many events webhook_events_for_replay selects (the replay's progress bar).
create or replace function webhook_events_replay_count(
  p_since timestamptz default null, p_kind text default null, p_id bigint default null,
  p_include_processed boolean default false
) returns bigint
language sql stable set search_path = public as $$
  select count(*) from webhook_events_for_replay(p_since, p_kind, p_id, p_include_processed,
                                                 0, 2147483647)
$$;

-- Frees the steps a drip run claimed and never settled (issue 15: a run killed mid-batch
-- left its claims leased for DRIP_LEASE_SECONDS, 10 minutes of no sending). Called at the
-- start of a drip run, which holds the job's single-flight lease (app/jobs/runner.py): no
-- other drip run is alive, so every claim still leased belongs to a dead one. The number
-- freed.
create or replace function release_orphan_claims(p_now timestamptz default now())
returns integer
language plpgsql set search_path = public as $$
declare
  v_n integer;
begin
  update enrollments e set lease_owner = null, lease_expires_at = null, updated_at = p_now
   where e.lease_owner is not null and e.lease_expires_at > p_now;
  get diagnostics v_n = row_count;
  return v_n;
end
$$;

select internal.secure_functions();
