-- nightshift schema, part 8: scoring and growth (issue 7).
--
-- Lead scoring (features in one pass, models kept as JSON, scores written back in batch),
-- best time to call (answer/booking counts per state and local hour), A/B variant
-- statistics and recorded winners, failure-pattern counts per day, call quality and the
-- training export. Every function takes the caller's clock as p_now.

-- ---------------------------------------------------------------------------------------
-- tables
-- ---------------------------------------------------------------------------------------

-- One row per trained (or prior) scoring model: JSON only, never pickle.
create table if not exists score_models (
  id         bigint generated always as identity primary key,
  version    integer not null unique,
  kind       text not null check (kind in ('logistic', 'prior')),
  features   jsonb not null default '{}',   -- the feature spec the model reads
  model      jsonb not null,
  metrics    jsonb not null default '{}',
  trained_at timestamptz not null
);

-- When a lead crossed the hot threshold (null: not hot). The operator's "call now" list.
alter table leads add column if not exists hot_at timestamptz;

-- A/B: per step, the posterior of each variant and the promoted winner (once decided).
create table if not exists variant_decisions (
  step_id     bigint primary key references campaign_steps (id) on delete cascade,
  campaign_id bigint not null references campaigns (id) on delete cascade,
  goal        text not null check (goal in ('click', 'reply', 'booking')),
  arms        jsonb not null default '{}',   -- variant -> {n, successes}
  p_best      jsonb not null default '{}',   -- variant -> probability of being best
  winner      text,
  promoted_at timestamptz,
  updated_at  timestamptz not null
);

-- Error fingerprints (ids, numbers, URLs masked) counted per UTC day.
create table if not exists failure_patterns (
  fingerprint   text not null,
  day           date not null,
  occurrences   integer not null,
  source        text,
  sample        text,
  first_seen_at timestamptz not null,
  primary key (fingerprint, day)
);

-- One quality score (0-100) per finished call, with the reasons behind it.
create table if not exists call_quality (
  call_id   bigint primary key references calls (id) on delete cascade,
  score     integer not null check (score between 0 and 100),
  reasons   jsonb not null default '[]',
  scored_at timestamptz not null
);
create index if not exists call_quality_low_idx on call_quality (score);

-- ---------------------------------------------------------------------------------------
-- lead scoring
-- ---------------------------------------------------------------------------------------

-- The feature matrix, one row per lead, in one pass over the event tables.
--   p_mode 'score': every lead, events before p_now.
--   p_mode 'train': leads whose label is known and whose first contact is in the window;
--     events before the lead's cutoff, so the booking call itself never leaks in: a booked
--     lead is observed at its booking; a lead that did not book at first contact + a delay
--     taken from the booked leads' delays (picked by lead id), so both classes are observed
--     at comparable moments and "days since" features carry no observation-time artifact
--     (first contact + horizon when nobody booked).
-- label: booked (appointment or a call with outcome booked) within p_horizon_days after the
-- first outbound contact; false once the horizon passed without one; null while open, for a
-- lead never contacted, or one that booked before any contact.
create or replace function scoring_features(
  p_mode text, p_horizon_days integer, p_window_days integer, p_now timestamptz
) returns table (
  lead_id bigint, label boolean, first_contact_at timestamptz, cutoff_at timestamptz,
  industry text, source text, state text, lead_age_days real,
  email_ok real, sms_ok real, call_ok real,
  emails_sent integer, emails_opened integer, clicks integer, sms_sent integer,
  sms_replies integer, calls_answered integer, calls_unanswered integer,
  calls_voicemail integer, days_since_engagement real,
  last_click_at timestamptz, last_click_campaign text, last_reply_at timestamptz,
  last_answered_at timestamptz
)
language sql stable set search_path = public as $$
  with horizon as (select make_interval(days => p_horizon_days) h),
  contact as (
    select x.lead_id, min(x.at) first_at from (
      select m.lead_id, m.sent_at at from messages m
       where m.lead_id is not null and m.sent_at is not null and m.kind in ('marketing', 'rescue')
      union all
      select k.lead_id, coalesce(k.started_at, k.ended_at) from calls k
       where k.lead_id is not null and k.status = 'ended') x
     where x.at <= p_now group by x.lead_id
  ), booked as (
    select x.lead_id, min(x.at) at from (
      select a.lead_id, a.created_at at from appointments a
      union all
      select k.lead_id, k.ended_at from calls k where k.outcome = 'booked' and k.lead_id is not null) x
     where x.at <= p_now group by x.lead_id
  ), labelled as (
    select l.id, l.industry, l.source, l.state, l.phone, l.email, l.created_at,
           l.email_opted_out_at, l.sms_opted_out_at, l.calls_opted_out_at,
           c.first_at, b.at booked_at,
           case when c.first_at is null or b.at < c.first_at then null
                when b.at <= c.first_at + (select h from horizon) then true
                when c.first_at + (select h from horizon) <= p_now then false end label
      from leads l
      left join contact c on c.lead_id = l.id
      left join booked b on b.lead_id = l.id
  ), delays as (
    select coalesce(array_agg(t.booked_at - t.first_at order by t.id), '{}') d
      from labelled t where t.label
  ), pop as (
    select t.*, case when p_mode = 'train'
                     then case when t.label then t.booked_at
                               else t.first_at + coalesce(
                                 (select d[1 + (t.id % cardinality(d))] from delays
                                   where cardinality(d) > 0), (select h from horizon)) end
                     else p_now end cutoff
      from labelled t
     where p_mode = 'score'
        or (t.label is not null and t.first_at >= p_now - make_interval(days => p_window_days))
  ), msg as (
    select m.lead_id,
           count(*) filter (where m.channel = 'email') emails_sent,
           count(*) filter (where m.channel = 'email' and m.status in ('opened', 'clicked')) opened,
           count(*) filter (where m.channel = 'sms') sms_sent,
           max(m.updated_at) filter (where m.status in ('opened', 'clicked')) last_open
      from messages m join pop p on p.id = m.lead_id
     where m.sent_at < p.cutoff and m.kind in ('marketing', 'rescue')
     group by m.lead_id
  ), clk as (
    select e.lead_id, count(*) n, max(e.clicked_at) last_at,
           (array_agg(c.slug order by e.clicked_at desc))[1] last_campaign
      from click_events e join pop p on p.id = e.lead_id
      left join messages m on m.id = e.message_id
      left join campaigns c on c.id = m.campaign_id
     where e.clicked_at < p.cutoff
     group by e.lead_id
  ), rep as (
    select p.id lead_id, count(*) n, max(w.received_at) last_at
      from webhook_events w join pop p on p.phone = w.payload->>'From'
     where w.provider = 'twilio' and w.event_type = 'sms.reply' and w.received_at < p.cutoff
     group by p.id
  ), cal as (
    select k.lead_id,
           count(*) filter (where k.outcome in ('answered', 'booked')) answered,
           count(*) filter (where k.outcome in ('no_answer', 'busy')) unanswered,
           count(*) filter (where k.outcome = 'voicemail') voicemail,
           max(k.ended_at) filter (where k.outcome in ('answered', 'booked')) last_answered
      from calls k join pop p on p.id = k.lead_id
     where k.status = 'ended' and coalesce(k.ended_at, k.updated_at) < p.cutoff
     group by k.lead_id
  )
  select p.id, p.label, p.first_at, p.cutoff, p.industry, p.source, p.state,
         -- age when first contacted (an attribute of the lead, not of the cutoff's clock)
         (extract(epoch from (coalesce(least(p.first_at, p.cutoff), p.cutoff) - p.created_at)) / 86400.0)::real,
         (p.email is not null and (p.email_opted_out_at is null or p.email_opted_out_at >= p.cutoff))::integer::real,
         (p.phone is not null and (p.sms_opted_out_at is null or p.sms_opted_out_at >= p.cutoff))::integer::real,
         (p.phone is not null and (p.calls_opted_out_at is null or p.calls_opted_out_at >= p.cutoff))::integer::real,
         coalesce(m.emails_sent, 0)::integer, coalesce(m.opened, 0)::integer,
         coalesce(c.n, 0)::integer, coalesce(m.sms_sent, 0)::integer, coalesce(r.n, 0)::integer,
         coalesce(k.answered, 0)::integer, coalesce(k.unanswered, 0)::integer,
         coalesce(k.voicemail, 0)::integer,
         (extract(epoch from (p.cutoff - greatest(c.last_at, r.last_at, k.last_answered, m.last_open)))
            / 86400.0)::real,
         c.last_at, c.last_campaign, r.last_at, k.last_answered
    from pop p
    left join msg m on m.lead_id = p.id
    left join clk c on c.lead_id = p.id
    left join rep r on r.lead_id = p.id
    left join cal k on k.lead_id = p.id
   order by p.id;
$$;

-- Stores a model (JSON) as the next version; returns the row.
create or replace function scoring_save_model(
  p_kind text, p_features jsonb, p_model jsonb, p_metrics jsonb, p_now timestamptz
) returns setof score_models
language plpgsql set search_path = public as $$
begin
  perform pg_advisory_xact_lock(hashtext('score_models'));
  return query
  insert into score_models (version, kind, features, model, metrics, trained_at)
  values ((select coalesce(max(version), 0) + 1 from score_models), p_kind,
          coalesce(p_features, '{}'), p_model, coalesce(p_metrics, '{}'), p_now)
  returning *;
end
$$;

-- The newest model trained at or before p_now (nothing when none was ever saved).
create or replace function scoring_latest_model(p_now timestamptz)
returns setof score_models
language sql stable set search_path = public as $$
  select * from score_models where trained_at <= p_now order by version desc limit 1;
$$;

-- Writes a batch of scores in one call: p_ids[i] gets p_scores[i] and the reasons
-- p_reasons->(i-1). A lead reaching p_hot_threshold gets hot_at (kept while it stays hot);
-- one falling below loses it. Returns how many leads were updated and the newly hot ones.
create or replace function scoring_apply(
  p_ids bigint[], p_scores double precision[], p_reasons jsonb, p_hot_threshold double precision,
  p_now timestamptz
) returns table (updated integer, newly_hot jsonb)
language plpgsql set search_path = public as $$
#variable_conflict use_column
declare
  v_updated integer;
  v_hot jsonb;
begin
  with input as (
    select u.id, u.score, coalesce(p_reasons->(u.ord::integer - 1), '[]') reasons
      from unnest(p_ids, p_scores) with ordinality u(id, score, ord)
  ), changed as (
    update leads l set
      score = greatest(0, least(100, i.score)), score_reasons = i.reasons,
      hot_at = case when i.score >= p_hot_threshold then coalesce(l.hot_at, p_now) end
      from input i
     where l.id = i.id
    returning l.id, l.name, l.score, l.score_reasons, l.hot_at
  )
  select count(*)::integer,
         coalesce(jsonb_agg(jsonb_build_object('lead_id', id, 'name', name, 'score', score,
                                               'reasons', score_reasons))
                  filter (where hot_at = p_now), '[]')
    into v_updated, v_hot
    from changed;
  return query select v_updated, v_hot;
end
$$;

-- The highest-scored leads with their reasons (the CLI's view of the call order).
create or replace function scoring_top_leads(p_limit integer, p_now timestamptz)
returns table (lead_id bigint, name text, status text, score real, score_reasons jsonb,
               hot_at timestamptz)
language sql stable set search_path = public as $$
  select l.id, l.name, l.status, l.score, l.score_reasons, l.hot_at
    from leads l
   where l.score is not null and l.created_at <= p_now
   order by l.score desc, l.id
   limit p_limit;
$$;

-- ---------------------------------------------------------------------------------------
-- best time to call
-- ---------------------------------------------------------------------------------------

-- Finished calls of the last p_days per lead state and local hour of the call (the lead's
-- timezone, else p_default_tz; an unknown zone name falls back too): attempts, answered
-- (talked, booked included), booked.
create or replace function timing_call_stats(
  p_days integer, p_default_tz text, p_now timestamptz
) returns table (state text, local_hour integer, attempts integer, answered integer,
                 booked integer)
language sql stable set search_path = public as $$
  with zones as (select name from pg_timezone_names)
  select coalesce(l.state, '??'),
         extract(hour from (coalesce(k.started_at, k.ended_at)
                            at time zone coalesce(z.name, p_default_tz)))::integer h,
         count(*)::integer,
         count(*) filter (where k.outcome in ('answered', 'booked'))::integer,
         count(*) filter (where k.outcome = 'booked')::integer
    from calls k
    join leads l on l.id = k.lead_id
    left join zones z on z.name = l.timezone
   where k.status = 'ended' and k.outcome is not null and k.outcome <> 'failed'
     and coalesce(k.started_at, k.ended_at) > p_now - make_interval(days => p_days)
     and coalesce(k.started_at, k.ended_at) <= p_now
   group by 1, 2
   order by 1, 2;
$$;

-- ---------------------------------------------------------------------------------------
-- A/B variants
-- ---------------------------------------------------------------------------------------

-- Per step and variant, over messages sent in the last p_days: how many were sent and how
-- many reached each goal: clicked (a click on the message), replied (an SMS from the lead
-- within 7 days of the send), booked (an appointment within p_horizon_days of the send).
create or replace function variant_stats(
  p_days integer, p_horizon_days integer, p_now timestamptz
) returns table (campaign_id bigint, step_id bigint, channel text, variant text,
                 sent integer, clicked integer, replied integer, booked integer)
language sql stable set search_path = public as $$
  select m.campaign_id, m.step_id, m.channel, m.payload->>'variant',
         count(*)::integer,
         count(*) filter (where m.status = 'clicked'
                             or exists (select from click_events e where e.message_id = m.id))::integer,
         count(*) filter (where exists (
           select from webhook_events w
            where w.provider = 'twilio' and w.event_type = 'sms.reply'
              and w.payload->>'From' = m.to_address
              and w.received_at > m.sent_at and w.received_at <= m.sent_at + interval '7 days'))::integer,
         count(*) filter (where exists (
           select from appointments a
            where a.lead_id = m.lead_id and a.created_at > m.sent_at
              and a.created_at <= m.sent_at + make_interval(days => p_horizon_days)))::integer
    from messages m
   where m.step_id is not null and m.payload ? 'variant' and m.sent_at is not null
     and m.sent_at > p_now - make_interval(days => p_days) and m.sent_at <= p_now
     and m.status not in ('failed', 'bounced', 'cancelled', 'undelivered')
   group by 1, 2, 3, 4
   order by 2, 4;
$$;

-- Records the bandit's view of each step (p_decisions: [{step_id, campaign_id, goal, arms,
-- p_best, winner}]) and publishes it where the drip's variant choice reads it:
-- campaign_steps.template.ab = {winner, weights}. A winner, once promoted, stays (its
-- promoted_at is kept); reloading a campaign drops template.ab until the next growth run.
create or replace function variant_record(p_decisions jsonb, p_now timestamptz)
returns setof variant_decisions
language plpgsql set search_path = public as $$
begin
  insert into variant_decisions as v (step_id, campaign_id, goal, arms, p_best, winner,
                                      promoted_at, updated_at)
  select (d->>'step_id')::bigint, (d->>'campaign_id')::bigint, d->>'goal',
         coalesce(d->'arms', '{}'), coalesce(d->'p_best', '{}'), d->>'winner',
         case when d->>'winner' is not null then p_now end, p_now
    from jsonb_array_elements(coalesce(p_decisions, '[]')) d
   where exists (select from campaign_steps s where s.id = (d->>'step_id')::bigint)
  on conflict (step_id) do update set
    goal = excluded.goal, arms = excluded.arms, p_best = excluded.p_best,
    winner = coalesce(v.winner, excluded.winner),
    promoted_at = coalesce(v.promoted_at, excluded.promoted_at), updated_at = p_now;

  update campaign_steps s
     set template = s.template || jsonb_build_object('ab', jsonb_strip_nulls(
           jsonb_build_object('winner', v.winner, 'weights', v.p_best)))
    from variant_decisions v
   where v.step_id = s.id
     and v.step_id in (select (d->>'step_id')::bigint
                         from jsonb_array_elements(coalesce(p_decisions, '[]')) d);
  return query
  select * from variant_decisions
   where step_id in (select (d->>'step_id')::bigint
                       from jsonb_array_elements(coalesce(p_decisions, '[]')) d)
   order by step_id;
end
$$;

create or replace function variant_decisions_list()
returns table (campaign text, step_position integer, channel text, goal text, arms jsonb,
               p_best jsonb, winner text, promoted_at timestamptz, updated_at timestamptz)
language sql stable set search_path = public as $$
  select c.slug, s.position, s.channel, v.goal, v.arms, v.p_best, v.winner, v.promoted_at,
         v.updated_at
    from variant_decisions v
    join campaign_steps s on s.id = v.step_id
    join campaigns c on c.id = v.campaign_id
   order by c.slug, s.position;
$$;

-- ---------------------------------------------------------------------------------------
-- failure patterns
-- ---------------------------------------------------------------------------------------

-- The error and critical log lines since p_since (the growth job fingerprints them).
create or replace function failure_log_lines(p_since timestamptz, p_now timestamptz)
returns table (at timestamptz, source text, message text)
language sql stable set search_path = public as $$
  select l.at, l.source, l.message from system_logs l
   where l.level in ('error', 'critical') and l.at >= p_since and l.at <= p_now
   order by l.at, l.id;
$$;

-- Replaces the counts of the given (fingerprint, day) pairs (p_rows: [{fingerprint, day,
-- occurrences, source, sample, first_at}]), so recounting a day is idempotent.
-- first_seen_at is the earliest occurrence of the fingerprint ever recorded.
create or replace function failure_record(p_rows jsonb, p_now timestamptz)
returns integer
language plpgsql set search_path = public as $$
declare
  v_n integer;
begin
  insert into failure_patterns as f (fingerprint, day, occurrences, source, sample, first_seen_at)
  select r->>'fingerprint', (r->>'day')::date, (r->>'occurrences')::integer, r->>'source',
         left(r->>'sample', 500),
         least(coalesce((r->>'first_at')::timestamptz, p_now),
               (select min(o.first_seen_at) from failure_patterns o
                 where o.fingerprint = r->>'fingerprint'))
    from jsonb_array_elements(coalesce(p_rows, '[]')) r
  on conflict (fingerprint, day) do update set
    occurrences = excluded.occurrences, source = excluded.source, sample = excluded.sample,
    first_seen_at = least(f.first_seen_at, excluded.first_seen_at);
  get diagnostics v_n = row_count;
  return v_n;
end
$$;

-- The top patterns of p_now's UTC day, with their average over the p_days before and
-- whether they are new (first seen today).
create or replace function failure_summary(p_days integer, p_limit integer, p_now timestamptz)
returns table (fingerprint text, today integer, previous_daily_avg real, first_seen_at timestamptz,
               is_new boolean, sample text)
language sql stable set search_path = public as $$
  select t.fingerprint, t.occurrences,
         coalesce((select sum(o.occurrences)::real / p_days from failure_patterns o
                    where o.fingerprint = t.fingerprint and o.day < t.day
                      and o.day >= t.day - p_days), 0),
         t.first_seen_at, (t.first_seen_at at time zone 'UTC')::date = t.day, t.sample
    from failure_patterns t
   where t.day = (p_now at time zone 'UTC')::date
   order by t.occurrences desc, t.fingerprint
   limit p_limit;
$$;

-- ---------------------------------------------------------------------------------------
-- learn from calls: quality and the training export
-- ---------------------------------------------------------------------------------------

-- Finished calls not scored yet, with the artifact messages of their end-of-call report.
create or replace function quality_pending(p_limit integer, p_now timestamptz)
returns table (call_id bigint, ended_reason text, outcome text, duration_seconds numeric,
               analysis jsonb, transcript text, messages jsonb)
language sql stable set search_path = public as $$
  select k.id, k.ended_reason, k.outcome, k.duration_seconds, k.analysis, k.transcript,
         coalesce((select w.payload->'message'->'artifact'->'messages' from webhook_events w
                    where w.dedupe_key = 'vapi:' || k.vapi_call_id || ':end-of-call-report'),
                  '[]')
    from calls k
   where k.status = 'ended' and k.ended_at <= p_now
     and not exists (select from call_quality q where q.call_id = k.id)
   order by k.id
   limit p_limit;
$$;

create or replace function quality_record(p_rows jsonb, p_now timestamptz)
returns integer
language plpgsql set search_path = public as $$
declare
  v_n integer;
begin
  insert into call_quality (call_id, score, reasons, scored_at)
  select (r->>'call_id')::bigint, (r->>'score')::integer, coalesce(r->'reasons', '[]'), p_now
    from jsonb_array_elements(coalesce(p_rows, '[]')) r
   where exists (select from calls k where k.id = (r->>'call_id')::bigint)
  on conflict (call_id) do update set score = excluded.score, reasons = excluded.reasons,
                                      scored_at = excluded.scored_at;
  get diagnostics v_n = row_count;
  return v_n;
end
$$;

-- Calls scored below p_below, lowest first, for review.
create or replace function quality_low(p_below integer, p_limit integer)
returns table (call_id bigint, vapi_call_id text, lead_id bigint, score integer, reasons jsonb,
               ended_reason text, ended_at timestamptz)
language sql stable set search_path = public as $$
  select k.id, k.vapi_call_id, k.lead_id, q.score, q.reasons, k.ended_reason, k.ended_at
    from call_quality q join calls k on k.id = q.call_id
   where q.score < p_below
   order by q.score, k.ended_at desc
   limit p_limit;
$$;

-- Booked calls with a transcript, newest first (the training export's input).
create or replace function training_booked_calls(p_limit integer, p_now timestamptz)
returns table (call_id bigint, vapi_call_id text, ended_at timestamptz, transcript text,
               summary text, analysis jsonb)
language sql stable set search_path = public as $$
  select k.id, k.vapi_call_id, k.ended_at, k.transcript, k.summary, k.analysis
    from calls k
   where k.outcome = 'booked' and coalesce(k.transcript, '') <> '' and k.ended_at <= p_now
   order by k.ended_at desc, k.id
   limit p_limit;
$$;

-- ---------------------------------------------------------------------------------------
-- security: RLS on the new tables; functions executable by service_role only
-- ---------------------------------------------------------------------------------------
do $$
declare t text;
begin
  foreach t in array array['score_models', 'variant_decisions', 'failure_patterns',
                           'call_quality'] loop
    execute format('alter table public.%I enable row level security', t);
    execute format('revoke all on public.%I from public, anon, authenticated', t);
    execute format('grant all on public.%I to service_role', t);
  end loop;
end
$$;

select secure_functions();
