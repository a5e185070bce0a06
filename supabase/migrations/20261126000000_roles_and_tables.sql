-- nightshift schema, part 1: roles, tables, indexes, row-level security.
--
-- Applies unchanged to Supabase (`supabase db push`) and to a plain Postgres
-- (`nightshift migrate`, the embedded server, the tests): the Supabase roles are
-- created when they are missing. Every table has RLS on and NO policy, so `anon`
-- and `authenticated` (the PostgREST roles a browser could reach) see nothing;
-- nightshift itself reaches the data only through the functions, as `service_role`.

do $$
begin
  if not exists (select from pg_roles where rolname = 'anon') then
    create role anon nologin noinherit;
  end if;
  if not exists (select from pg_roles where rolname = 'authenticated') then
    create role authenticated nologin noinherit;
  end if;
  if not exists (select from pg_roles where rolname = 'service_role') then
    create role service_role nologin noinherit bypassrls;
  end if;
end
$$;

-- Functions created from now on by this role are executable by service_role only.
alter default privileges in schema public revoke execute on functions from public;
alter default privileges in schema public revoke execute on functions from anon, authenticated;
alter default privileges in schema public grant execute on functions to service_role;

-- ---------------------------------------------------------------------------------------
-- leads
-- ---------------------------------------------------------------------------------------
create table if not exists leads (
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
  check (phone is not null or email is not null)
);
create unique index if not exists leads_phone_key on leads (phone) where phone is not null;
create unique index if not exists leads_email_key on leads (email) where email is not null;
create index if not exists leads_status_idx on leads (status);
create index if not exists leads_score_idx on leads (score desc nulls last);

-- ---------------------------------------------------------------------------------------
-- campaigns, steps, enrollments
-- ---------------------------------------------------------------------------------------
create table if not exists campaigns (
  id            bigint generated always as identity primary key,
  slug          text not null unique check (slug ~ '^[a-z0-9][a-z0-9-]*$'),
  name          text not null,
  status        text not null default 'active'
                check (status in ('draft', 'active', 'paused', 'archived')),
  definition    jsonb not null default '{}',   -- audience, window, caps, stop rules
  paused_reason text,
  paused_at     timestamptz,
  resumed_at    timestamptz,
  created_at    timestamptz not null default now(),
  updated_at    timestamptz not null default now()
);

create table if not exists campaign_steps (
  id            bigint generated always as identity primary key,
  campaign_id   bigint not null references campaigns (id) on delete cascade,
  position      integer not null check (position >= 0),
  channel       text not null check (channel in ('email', 'sms', 'call')),
  delay_seconds integer not null default 0 check (delay_seconds >= 0),
  template      jsonb not null default '{}',   -- subject/body or A/B variants
  send_window   jsonb,
  unique (campaign_id, position)
);

create table if not exists enrollments (
  id               bigint generated always as identity primary key,
  campaign_id      bigint not null references campaigns (id) on delete cascade,
  lead_id          bigint not null references leads (id) on delete cascade,
  status           text not null default 'active'
                   check (status in ('active', 'completed', 'stopped', 'paused')),
  current_step     integer not null default 0,
  next_run_at      timestamptz,
  lease_owner      text,
  lease_expires_at timestamptz,
  stopped_reason   text,
  enrolled_at      timestamptz not null default now(),
  updated_at       timestamptz not null default now(),
  unique (campaign_id, lead_id)
);
-- The drip claim's hot path: due active enrollments only.
create index if not exists enrollments_due_idx on enrollments (next_run_at)
  where status = 'active';
create index if not exists enrollments_lead_idx on enrollments (lead_id);

-- ---------------------------------------------------------------------------------------
-- messages: the outbox, one row per intended send, written BEFORE the provider is called
-- ---------------------------------------------------------------------------------------
create table if not exists messages (
  id              bigint generated always as identity primary key,
  idempotency_key text not null unique,
  lead_id         bigint references leads (id) on delete set null,
  enrollment_id   bigint references enrollments (id) on delete set null,
  campaign_id     bigint references campaigns (id) on delete set null,
  step_id         bigint references campaign_steps (id) on delete set null,
  channel         text not null check (channel in ('email', 'sms')),
  kind            text not null default 'marketing',  -- marketing | transactional | alert
  provider        text not null,                      -- resend | twilio | dryrun
  provider_id     text,
  to_address      text not null,
  status          text not null default 'queued'
                  check (status in ('queued', 'sending', 'sent', 'delivered', 'opened',
                                    'clicked', 'failed', 'bounced', 'complained',
                                    'undelivered', 'cancelled')),
  status_history  jsonb not null default '[]',
  attempts        integer not null default 0,
  error_code      text,
  error_message   text,
  payload         jsonb not null default '{}',
  created_at      timestamptz not null default now(),
  claimed_at      timestamptz,
  sent_at         timestamptz,
  updated_at      timestamptz not null default now()
);
create index if not exists messages_provider_id_idx on messages (provider, provider_id)
  where provider_id is not null;
create index if not exists messages_lead_idx on messages (lead_id, created_at desc);
create index if not exists messages_pending_idx on messages (claimed_at)
  where status in ('queued', 'sending');

-- ---------------------------------------------------------------------------------------
-- calls (Vapi), appointments, click tracking
-- ---------------------------------------------------------------------------------------
create table if not exists calls (
  id               bigint generated always as identity primary key,
  idempotency_key  text not null unique,
  vapi_call_id     text unique,
  lead_id          bigint references leads (id) on delete set null,
  enrollment_id    bigint references enrollments (id) on delete set null,
  campaign_id      bigint references campaigns (id) on delete set null,
  provider         text not null default 'vapi',
  to_number        text not null,
  status           text not null default 'queued'
                   check (status in ('queued', 'placing', 'ringing', 'in-progress',
                                     'forwarding', 'ended', 'failed', 'cancelled')),
  ended_reason     text,
  outcome          text,              -- answered | no_answer | voicemail | busy | booked | ...
  started_at       timestamptz,
  ended_at         timestamptz,
  duration_seconds numeric,
  cost             numeric,
  summary          text,
  transcript       text,
  recording_url    text,
  analysis         jsonb not null default '{}',
  created_at       timestamptz not null default now(),
  updated_at       timestamptz not null default now()
);
-- Vapi's concurrency limit is counted over calls still in flight.
create index if not exists calls_in_flight_idx on calls (status)
  where status in ('queued', 'placing', 'ringing', 'in-progress', 'forwarding');
create index if not exists calls_lead_idx on calls (lead_id, created_at desc);

create table if not exists appointments (
  id          bigint generated always as identity primary key,
  lead_id     bigint not null references leads (id) on delete cascade,
  starts_at   timestamptz not null,
  ends_at     timestamptz not null check (ends_at > starts_at),
  timezone    text,
  status      text not null default 'booked'
              check (status in ('booked', 'confirmed', 'rescheduled', 'cancelled',
                                'completed', 'no_show')),
  source      text not null default 'manual',
  external_id text unique,
  notes       text,
  created_at  timestamptz not null default now(),
  updated_at  timestamptz not null default now()
);
create index if not exists appointments_upcoming_idx on appointments (starts_at)
  where status in ('booked', 'confirmed');

create table if not exists click_events (
  id          bigint generated always as identity primary key,
  token       text not null,
  message_id  bigint references messages (id) on delete set null,
  lead_id     bigint references leads (id) on delete set null,
  url         text not null,
  clicked_at  timestamptz not null default now(),
  ip          inet,
  user_agent  text
);
create index if not exists click_events_lead_idx on click_events (lead_id, clicked_at desc);

-- ---------------------------------------------------------------------------------------
-- operations: logs, job runs and leases, alerts, health checks, webhooks, suppressions
-- ---------------------------------------------------------------------------------------
create table if not exists system_logs (
  id       bigint generated always as identity primary key,
  at       timestamptz not null default now(),
  level    text not null check (level in ('debug', 'info', 'warning', 'error', 'critical')),
  source   text not null,
  message  text not null,
  context  jsonb not null default '{}',
  run_id   uuid
);
create index if not exists system_logs_at_idx on system_logs (at desc);

create table if not exists job_runs (
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
create index if not exists job_runs_job_idx on job_runs (job, started_at desc);
create index if not exists job_runs_running_idx on job_runs (job) where status = 'running';

-- At most one row per job: the single-flight lease.
create table if not exists job_leases (
  job         text primary key,
  run_id      uuid not null,
  holder      text not null,
  acquired_at timestamptz not null,
  expires_at  timestamptz not null
);

create table if not exists alerts (
  id               bigint generated always as identity primary key,
  key              text not null,
  severity         text not null check (severity in ('info', 'warning', 'critical')),
  status           text not null default 'firing' check (status in ('firing', 'resolved')),
  code             text not null unique,        -- short code for `ACK <code>`
  title            text not null,
  details          jsonb not null default '{}',
  count            integer not null default 1,
  first_seen_at    timestamptz not null default now(),
  last_seen_at     timestamptz not null default now(),
  last_notified_at timestamptz,
  acknowledged_at  timestamptz,
  acknowledged_by  text,
  escalated_at     timestamptz,
  resolved_at      timestamptz
);
-- Deduplication: one firing alert per key.
create unique index if not exists alerts_firing_key on alerts (key) where status = 'firing';

create table if not exists alert_silences (
  key        text primary key,
  until      timestamptz not null,
  reason     text,
  created_at timestamptz not null default now()
);

create table if not exists health_checks (
  id          bigint generated always as identity primary key,
  target      text not null,
  ok          boolean not null,
  latency_ms  integer,
  status_code integer,
  error       text,
  checked_at  timestamptz not null default now()
);
create index if not exists health_checks_target_idx on health_checks (target, checked_at desc);

create table if not exists webhook_events (
  id           bigint generated always as identity primary key,
  provider     text not null check (provider in ('vapi', 'twilio', 'resend', 'booking')),
  dedupe_key   text not null unique,
  event_type   text not null,
  payload      jsonb not null,
  status       text not null default 'received'
               check (status in ('received', 'processed', 'ignored', 'failed')),
  error        text,
  received_at  timestamptz not null default now(),
  processed_at timestamptz
);
create index if not exists webhook_events_pending_idx on webhook_events (received_at)
  where status = 'received';

create table if not exists suppressions (
  id         bigint generated always as identity primary key,
  channel    text not null check (channel in ('email', 'sms', 'call', 'all')),
  address    text not null,          -- E.164 phone or lower-cased email
  reason     text not null,          -- stop | unsubscribe | complaint | hard_bounce | dnc | manual
  source     text,
  created_at timestamptz not null default now(),
  unique (channel, address)
);
create index if not exists suppressions_address_idx on suppressions (address);

-- ---------------------------------------------------------------------------------------
-- row-level security everywhere, no policies; table access for service_role only
-- ---------------------------------------------------------------------------------------
do $$
declare t record;
begin
  for t in select tablename from pg_tables where schemaname = 'public' loop
    execute format('alter table public.%I enable row level security', t.tablename);
    execute format('revoke all on public.%I from public, anon, authenticated', t.tablename);
    execute format('grant all on public.%I to service_role', t.tablename);
  end loop;
end
$$;
grant usage on schema public to service_role;
