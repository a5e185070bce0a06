-- Issue 19 (ROLLUP, stop 25): growth's hourly status and variants steps recomputed their
-- windows from every row at each run (the status page's 7/14/30-day funnel, calls per day
-- and deliverability; the A/B counts of 90 days of sends, a click, reply and booking probe
-- per send), a cost that grew with the window. Both now keep per closed UTC hour what the
-- rows sum to (status_hours and status_hour_leads/calls/sends by the rows' created_at;
-- variant_hours and variant_hour_arms by the sends' sent_at), computed once when the hour
-- closes; a run reads the open hour and the windows' first partial hours from the rows and
-- sums the kept hours. A write that changes a kept hour logs it (status_stale,
-- variant_stale; triggers on leads, calls, messages, click_events, webhook_events,
-- appointments) and the next run sums it again: late callbacks, replies, clicks, bookings,
-- a lead's new status and erasures count where they counted before.
-- internal.status_aggregates and internal.variant_stats_rows (the rows alone) stay the
-- references the sums are tested against (tests/status/test_rollup.py,
-- tests/scoring/test_variant_rollup.py). The first run sums each window once. Figures:
-- bench/RESULTS.md "Simulator" (bench/status_rollup_ab.py).

-- The status page's closed hours (issue 19, stop 25): the windowed sections (funnel, calls
-- per day, deliverability) summed per UTC hour of the rows' created_at, each hour computed
-- once after it closed and kept, so an hourly refresh reads the open hour and the windows'
-- edges from the rows and the rest from here. An hour is in status_hours when its sums are
-- in the three tables below; a write that changes what an hour sums (a late status callback,
-- a lead's new status, an erasure) logs the hour in status_stale (triggers below), and the
-- next refresh recomputes it. Hours older than the 30-day window are dropped.
create table status_hours (
  hour        timestamptz primary key,
  computed_at timestamptz not null
);
create table status_hour_leads (
  hour      timestamptz primary key,
  leads     integer not null,
  contacted integer not null,
  replied   integer not null,
  booked    integer not null
);
create table status_hour_calls (
  hour    timestamptz not null,
  outcome text not null,
  n       integer not null,
  primary key (hour, outcome)
);
create table status_hour_sends (
  hour        timestamptz not null,
  campaign_id bigint,
  sent        integer not null,
  bounced     integer not null,
  complained  integer not null,
  filtered    integer not null
);
create index status_hour_sends_hour_idx on status_hour_sends (hour);
-- Append-only (no key, so concurrent writers never wait on each other); emptied by the
-- refresh.
create table status_stale (
  hour timestamptz not null
);
alter table status_hours enable row level security;
alter table status_hour_leads enable row level security;
alter table status_hour_calls enable row level security;
alter table status_hour_sends enable row level security;
alter table status_stale enable row level security;
revoke all on status_hours, status_hour_leads, status_hour_calls, status_hour_sends,
  status_stale from public, anon, authenticated;
grant all on status_hours, status_hour_leads, status_hour_calls, status_hour_sends,
  status_stale to service_role;


-- The A/B arms' closed hours (issue 19, stop 25): the counts of variant_stats summed per UTC
-- hour of the sends (sent_at) and per step and variant, each hour computed once after it
-- closed and kept for the horizon it was counted with, so the hourly variants step reads
-- the open hour and the window's first partial hour from the rows and the rest from here.
-- A write that changes a send's counts logs the send's hour in variant_stale (triggers
-- below): the send itself (status, variant, address, lead), a click on it, an SMS reply
-- from its number within 7 days, an appointment of its lead, an erasure; the next call
-- recomputes the hour.
create table variant_hours (
  hour         timestamptz primary key,
  horizon_days integer not null,
  computed_at  timestamptz not null
);
create table variant_hour_arms (
  hour        timestamptz not null,
  campaign_id bigint,
  step_id     bigint not null,
  channel     text not null,
  variant     text,
  sent        integer not null,
  clicked     integer not null,
  replied     integer not null,
  booked      integer not null
);
create index variant_hour_arms_hour_idx on variant_hour_arms (hour);
-- Append-only (no key: concurrent writers never wait on each other); emptied by the read.
create table variant_stale (
  hour timestamptz not null
);
-- The sends an SMS reply may count for, by the number they went to (the reply's trigger).
create index messages_step_sms_to_idx on messages (to_address, sent_at)
  where step_id is not null and channel = 'sms';
alter table variant_hours enable row level security;
alter table variant_hour_arms enable row level security;
alter table variant_stale enable row level security;
revoke all on variant_hours, variant_hour_arms, variant_stale from public, anon, authenticated;
grant all on variant_hours, variant_hour_arms, variant_stale to service_role;


-- The arms' counts of the sends in p_sent (per step and variant, and per UTC hour of the
-- send when p_by_hour): how many were sent and how many reached each goal: clicked (a click
-- on the message), replied (an SMS from the lead within 7 days of the send), booked (an
-- appointment within p_horizon_days of the send). Clicks and replies are looked up by index
-- (click_events_message_idx, webhook_events_sms_reply_idx) and the sends' leads'
-- appointments read in one pass: a lookup per message scanned those tables (134 of 182 ms
-- with 5,000 messages). Only an SMS can have a reply probed: an email's to_address is never
-- an SMS sender (From), so its probe always missed (issue 19: over half of the probes with
-- 10,000 leads).
create or replace function internal.variant_arms(
  p_sent tstzmultirange, p_horizon_days integer, p_by_hour boolean
) returns table (hour timestamptz, campaign_id bigint, step_id bigint, channel text,
                 variant text, sent integer, clicked integer, replied integer, booked integer)
language sql stable set search_path = public as $$
  with sent as (
    select m.id, m.campaign_id, m.step_id, m.channel, m.payload->>'variant' variant, m.status,
           m.to_address, m.sent_at, m.lead_id
      from unnest(p_sent) r
      join messages m on m.sent_at >= lower(r) and m.sent_at <= upper(r) and m.sent_at <@ r
     where m.step_id is not null and m.payload ? 'variant'
       and m.status not in ('failed', 'bounced', 'cancelled', 'undelivered')
  ), bookings as (
    select a.lead_id, array_agg(a.created_at) ats from appointments a
     where a.lead_id in (select s.lead_id from sent s)
     group by a.lead_id
  )
  select case when p_by_hour then date_trunc('hour', s.sent_at, 'UTC') end,
         s.campaign_id, s.step_id, s.channel, s.variant,
         count(*)::integer,
         count(*) filter (where s.status = 'clicked'
                             or exists (select from click_events e where e.message_id = s.id))::integer,
         count(*) filter (where s.channel = 'sms' and exists (
           select from webhook_events w
            where w.provider = 'twilio' and w.event_type = 'sms.reply'
              and w.payload->>'From' = s.to_address
              and w.received_at > s.sent_at and w.received_at <= s.sent_at + interval '7 days'))::integer,
         count(*) filter (where exists (
           select from unnest(b.ats) t(at)
            where t.at > s.sent_at and t.at <= s.sent_at + make_interval(days => p_horizon_days)))::integer
    from sent s
    left join bookings b on b.lead_id = s.lead_id
   group by 1, 2, 3, 4, 5;
$$;

-- The same counts from the rows alone over the messages sent in the last p_days: what
-- variant_stats must answer, exactly (tests/scoring/test_variant_rollup.py and
-- bench/status_rollup_ab.py compare them).
create or replace function internal.variant_stats_rows(
  p_days integer, p_horizon_days integer, p_now timestamptz
) returns table (campaign_id bigint, step_id bigint, channel text, variant text,
                 sent integer, clicked integer, replied integer, booked integer)
language sql stable set search_path = public as $$
  select a.campaign_id, a.step_id, a.channel, a.variant, a.sent, a.clicked, a.replied, a.booked
    from internal.variant_arms(
      tstzmultirange(tstzrange(p_now - make_interval(days => p_days), p_now, '(]')),
      p_horizon_days, false) a
   order by 2, 4, 1, 3;
$$;

-- Brings the arms' closed hours [p_first, p_open) up to date: every hour when the horizon
-- changed, else the hours logged stale and the ones not kept yet (the hour that just
-- closed); hours before p_first dropped. Serialized by an advisory lock; the log is consumed
-- by a statement before a later one reads the rows, so a change committed in between is
-- in the counts or still logged. Returns the hours summed.
create or replace function internal.variant_rollup(
  p_first timestamptz, p_open timestamptz, p_horizon_days integer, p_now timestamptz
) returns integer
language plpgsql set search_path = public as $$
declare
  v_missing tstzmultirange;
  v_n integer;
begin
  perform pg_advisory_xact_lock(hashtext('variant_rollup'));
  if exists (select from variant_hours v where v.horizon_days <> p_horizon_days) then
    delete from variant_hours;
    delete from variant_hour_arms;
  end if;
  with stale as (
    delete from variant_stale returning hour
  ), hours as (
    select distinct s.hour from stale s
  ), k as (
    delete from variant_hours v using hours x where v.hour = x.hour
  )
  delete from variant_hour_arms v using hours x where v.hour = x.hour;
  delete from variant_hours v where v.hour < p_first;
  delete from variant_hour_arms v where v.hour < p_first;
  select count(*), range_agg(tstzrange(g.h, g.h + interval '1 hour', '[)'))
    into v_n, v_missing
    from generate_series(p_first, p_open - interval '1 hour', interval '1 hour') g(h)
   where not exists (select from variant_hours v where v.hour = g.h);
  if v_n = 0 then
    return 0;
  end if;
  insert into variant_hours (hour, horizon_days, computed_at)
  select g.h, p_horizon_days, p_now
    from unnest(v_missing) r, generate_series(lower(r), upper(r) - interval '1 hour',
                                              interval '1 hour') g(h);
  insert into variant_hour_arms (hour, campaign_id, step_id, channel, variant, sent, clicked,
                                 replied, booked)
  select a.hour, a.campaign_id, a.step_id, a.channel, a.variant, a.sent, a.clicked, a.replied,
         a.booked
    from internal.variant_arms(v_missing, p_horizon_days, true) a;
  return v_n;
end
$$;

-- Per step and variant, over messages sent in the last p_days: how many were sent and how
-- many reached each goal (internal.variant_arms): the closed hours kept
-- (internal.variant_rollup) summed with the open hour and the window's first partial hour
-- read from the rows.
create or replace function variant_stats(
  p_days integer, p_horizon_days integer, p_now timestamptz
) returns table (campaign_id bigint, step_id bigint, channel text, variant text,
                 sent integer, clicked integer, replied integer, booked integer)
language plpgsql set search_path = public as $$
#variable_conflict use_column
declare
  v_from timestamptz := p_now - make_interval(days => p_days);
  v_open timestamptz := date_trunc('hour', p_now, 'UTC');
  v_first timestamptz := date_trunc('hour', p_now - make_interval(days => p_days), 'UTC')
                         + interval '1 hour';
begin
  perform internal.variant_rollup(v_first, v_open, p_horizon_days, p_now);
  return query
  select a.campaign_id, a.step_id, a.channel, a.variant, sum(a.sent)::integer,
         sum(a.clicked)::integer, sum(a.replied)::integer, sum(a.booked)::integer
    from (select k.campaign_id, k.step_id, k.channel, k.variant, k.sent, k.clicked, k.replied,
                 k.booked
            from variant_hour_arms k where k.hour >= v_first and k.hour < v_open
          union all
          select r.campaign_id, r.step_id, r.channel, r.variant, r.sent, r.clicked, r.replied,
                 r.booked
            from internal.variant_arms(
              tstzmultirange(tstzrange(v_from, v_first, '()'), tstzrange(v_open, p_now, '[]')),
              p_horizon_days, false) r) a
   group by 1, 2, 3, 4
   order by 2, 4, 1, 3;
end
$$;

-- Logs the send hours whose counts a changed row may change (row-level; the triggers'
-- conditions name what the counts read): a send's own hour(s); a click's message's; an SMS
-- reply's sends to its number in the 7 days before it; an appointment's lead's sends before
-- it (any horizon).
create or replace function internal.variant_stale_row()
returns trigger
language plpgsql set search_path = public as $$
begin
  if tg_op <> 'INSERT' then
    perform internal.variant_mark(tg_table_name, to_jsonb(old));
  end if;
  if tg_op <> 'DELETE' then
    perform internal.variant_mark(tg_table_name, to_jsonb(new));
  end if;
  return null;
end
$$;

create or replace function internal.variant_mark(p_table text, p_row jsonb)
returns void
language plpgsql set search_path = public as $$
declare
  v_at timestamptz;
begin
  if p_table = 'messages' then
    if p_row->>'sent_at' is not null and p_row->>'step_id' is not null then
      insert into variant_stale (hour)
      values (date_trunc('hour', (p_row->>'sent_at')::timestamptz, 'UTC'));
    end if;
  elsif p_table = 'click_events' then
    insert into variant_stale (hour)
    select date_trunc('hour', m.sent_at, 'UTC') from messages m
     where m.id = (p_row->>'message_id')::bigint and m.sent_at is not null
       and m.step_id is not null;
  elsif p_table = 'webhook_events' then
    v_at := (p_row->>'received_at')::timestamptz;
    insert into variant_stale (hour)
    select distinct date_trunc('hour', m.sent_at, 'UTC') from messages m
     where m.to_address = p_row->'payload'->>'From' and m.step_id is not null
       and m.channel = 'sms' and m.sent_at >= v_at - interval '7 days' and m.sent_at < v_at;
  elsif p_table = 'appointments' then
    v_at := (p_row->>'created_at')::timestamptz;
    insert into variant_stale (hour)
    select distinct date_trunc('hour', m.sent_at, 'UTC') from messages m
     where m.lead_id = (p_row->>'lead_id')::bigint and m.step_id is not null
       and m.sent_at < v_at;
  end if;
end
$$;

-- The sends inserted already sent, once per statement and hour.
create or replace function internal.variant_stale_new_sends()
returns trigger
language plpgsql set search_path = public as $$
begin
  insert into variant_stale (hour)
  select distinct date_trunc('hour', n.sent_at, 'UTC') from new_rows n
   where n.step_id is not null and n.sent_at is not null;
  return null;
end
$$;

create trigger messages_variant_stale_insert after insert on messages
  referencing new table as new_rows
  for each statement execute function internal.variant_stale_new_sends();
-- (A send's update: internal.messages_rollup_stale, 07_appointments.sql, with the status
-- page's.)
create trigger messages_variant_stale_delete after delete on messages for each row
  when (old.step_id is not null and old.sent_at is not null)
  execute function internal.variant_stale_row();
create trigger click_events_variant_stale_insert after insert on click_events for each row
  when (new.message_id is not null)
  execute function internal.variant_stale_row();
create trigger click_events_variant_stale_update after update on click_events for each row
  when (old.message_id is distinct from new.message_id)
  execute function internal.variant_stale_row();
create trigger click_events_variant_stale_delete after delete on click_events for each row
  when (old.message_id is not null)
  execute function internal.variant_stale_row();
create trigger webhook_events_variant_stale_insert after insert on webhook_events for each row
  when (new.provider = 'twilio' and new.event_type = 'sms.reply')
  execute function internal.variant_stale_row();
create trigger webhook_events_variant_stale_update after update on webhook_events for each row
  when ((old.provider = 'twilio' and old.event_type = 'sms.reply'
         or new.provider = 'twilio' and new.event_type = 'sms.reply')
        and (old.provider is distinct from new.provider
             or old.event_type is distinct from new.event_type
             or old.received_at is distinct from new.received_at
             or (old.payload->>'From') is distinct from (new.payload->>'From')))
  execute function internal.variant_stale_row();
create trigger webhook_events_variant_stale_delete after delete on webhook_events for each row
  when (old.provider = 'twilio' and old.event_type = 'sms.reply')
  execute function internal.variant_stale_row();
-- (The appointments' variant triggers are in 07_appointments.sql, which declares the table.)


-- Logs the hour of a changed row (leads, calls, messages: each row's created_at) as stale
-- for the status page's closed hours: row-level, for updates and deletes (the triggers'
-- conditions name the columns the sums read).
create or replace function internal.status_stale_row()
returns trigger
language plpgsql set search_path = public as $$
begin
  if tg_op = 'UPDATE' then
    insert into status_stale (hour)
    select distinct date_trunc('hour', t, 'UTC') from unnest(array[old.created_at, new.created_at]) t;
  else
    insert into status_stale (hour) values (date_trunc('hour', old.created_at, 'UTC'));
  end if;
  return null;
end
$$;

-- The same for inserted rows, once per statement and hour (a batch of leads, a drip tick's
-- sends); only the sent marketing messages count on the page.
create or replace function internal.status_stale_new_rows()
returns trigger
language plpgsql set search_path = public as $$
begin
  if tg_table_name = 'messages' then
    insert into status_stale (hour)
    select distinct date_trunc('hour', n.created_at, 'UTC') from new_rows n
     where n.kind = 'marketing' and n.sent_at is not null;
  else
    insert into status_stale (hour)
    select distinct date_trunc('hour', n.created_at, 'UTC') from new_rows n;
  end if;
  return null;
end
$$;

-- Brings the closed hours up to date for p_now: the hours logged stale are dropped, every
-- closed hour of the 30-day window not kept (the hour that just closed, the dropped ones)
-- is summed from its rows, hours before the window are dropped. Serialized by an advisory
-- lock (the growth job and a page load may refresh at once). The log is consumed by a
-- statement before the sums are read by a later one, so a change committed in between
-- is either in the sums or still logged: never lost. Returns the hours summed.
create or replace function internal.status_rollup(p_now timestamptz)
returns integer
language plpgsql set search_path = public as $$
declare
  v_open timestamptz := date_trunc('hour', p_now, 'UTC');
  v_first timestamptz := date_trunc('hour', p_now - interval '30 days', 'UTC') + interval '1 hour';
  v_n integer;
begin
  perform pg_advisory_xact_lock(hashtext('status_rollup'));
  with stale as (
    delete from status_stale returning hour
  ), hours as (
    select distinct hour from stale
  ), k as (
    delete from status_hours h using hours x where h.hour = x.hour
  ), l as (
    delete from status_hour_leads h using hours x where h.hour = x.hour
  ), c as (
    delete from status_hour_calls h using hours x where h.hour = x.hour
  )
  delete from status_hour_sends h using hours x where h.hour = x.hour;
  delete from status_hours where hour < v_first;
  delete from status_hour_leads where hour < v_first;
  delete from status_hour_calls where hour < v_first;
  delete from status_hour_sends where hour < v_first;
  with missing as (
    select g.h from generate_series(v_first, v_open - interval '1 hour', interval '1 hour') g(h)
     where not exists (select from status_hours s where s.hour = g.h)
  ), k as (
    insert into status_hours (hour, computed_at) select h, p_now from missing
  ), l as (
    insert into status_hour_leads (hour, leads, contacted, replied, booked)
    select m.h, count(*),
           count(*) filter (where x.status <> 'new' or x.last_contacted_at is not null
                                  or x.last_called_at is not null),
           count(*) filter (where x.status in ('engaged', 'booked', 'customer')),
           count(*) filter (where x.status in ('booked', 'customer'))
      from missing m
      join leads x on x.created_at >= m.h and x.created_at < m.h + interval '1 hour'
     group by m.h
  ), c as (
    insert into status_hour_calls (hour, outcome, n)
    select m.h, coalesce(x.outcome, x.status), count(*)
      from missing m
      join calls x on x.created_at >= m.h and x.created_at < m.h + interval '1 hour'
     group by 1, 2
  ), s as (
    insert into status_hour_sends (hour, campaign_id, sent, bounced, complained, filtered)
    select m.h, x.campaign_id, count(*), count(*) filter (where x.status = 'bounced'),
           count(*) filter (where x.status = 'complained'),
           count(*) filter (where x.error_code = '30007')
      from missing m
      join messages x on x.created_at >= m.h and x.created_at < m.h + interval '1 hour'
     where x.kind = 'marketing' and x.sent_at is not null
     group by 1, 2
  )
  select count(*) into v_n from missing;
  return v_n;
end
$$;

-- The aggregate sections as internal.status_aggregates computes them, from the closed hours
-- (internal.status_rollup, run first) and, read from the rows by index, the open hour up to
-- p_now and the windows' first partial hours. Calls per day are summed by the local day of
-- each hour, exact when p_tz's offset is whole hours at both ends of the 14 days (no zone
-- changes its offset twice in 14 days); otherwise (a :30 or :45 zone) that section is read
-- from the rows as before.
create or replace function internal.status_rolled(p_tz text, p_now timestamptz)
returns jsonb
language plpgsql stable set search_path = public as $$
declare
  v_open timestamptz := date_trunc('hour', p_now, 'UTC');
  v_30 timestamptz := p_now - interval '30 days';
  v_14 timestamptz := p_now - interval '14 days';
  v_7 timestamptz := p_now - interval '7 days';
  v_h30 timestamptz := date_trunc('hour', p_now - interval '30 days', 'UTC') + interval '1 hour';
  v_h14 timestamptz := date_trunc('hour', p_now - interval '14 days', 'UTC') + interval '1 hour';
  v_h7 timestamptz := date_trunc('hour', p_now - interval '7 days', 'UTC') + interval '1 hour';
  v_aligned boolean;
  v_funnel jsonb;
  v_calls jsonb;
  v_sends jsonb;
begin
  v_aligned := (select bool_and(extract(minute from t at time zone p_tz) = 0
                                and extract(second from t at time zone p_tz) = 0)
                  from unnest(array[v_h14, v_open]) t);
  -- kept hours (the 7 days from v_h7), then rows: the 30 days' first partial hour, the
  -- 7 days' (its 30-day part is a kept hour) and the open hour
  select jsonb_build_array(
      jsonb_build_object('days', 7, 'leads', coalesce(sum(f.leads7), 0),
        'contacted', coalesce(sum(f.contacted7), 0), 'replied', coalesce(sum(f.replied7), 0),
        'booked', coalesce(sum(f.booked7), 0)),
      jsonb_build_object('days', 30, 'leads', coalesce(sum(f.leads), 0),
        'contacted', coalesce(sum(f.contacted), 0), 'replied', coalesce(sum(f.replied), 0),
        'booked', coalesce(sum(f.booked), 0)))
    into v_funnel
    from (select r.leads, r.contacted, r.replied, r.booked,
                 case when r.hour >= v_h7 then r.leads else 0 end as leads7,
                 case when r.hour >= v_h7 then r.contacted else 0 end as contacted7,
                 case when r.hour >= v_h7 then r.replied else 0 end as replied7,
                 case when r.hour >= v_h7 then r.booked else 0 end as booked7
            from status_hour_leads r where r.hour >= v_h30 and r.hour < v_open
          union all
          select case when y.w30 then 1 else 0 end, case when y.w30 and y.contacted then 1 else 0 end,
                 case when y.w30 and y.replied then 1 else 0 end,
                 case when y.w30 and y.booked then 1 else 0 end,
                 case when y.w7 then 1 else 0 end, case when y.w7 and y.contacted then 1 else 0 end,
                 case when y.w7 and y.replied then 1 else 0 end,
                 case when y.w7 and y.booked then 1 else 0 end
            from (select x.created_at > v_7 as w7, x.created_at < v_h30 or x.created_at >= v_open
                           as w30,
                         x.status <> 'new' or x.last_contacted_at is not null
                           or x.last_called_at is not null as contacted,
                         x.status in ('engaged', 'booked', 'customer') as replied,
                         x.status in ('booked', 'customer') as booked
                    from leads x
                   where x.created_at > v_30 and x.created_at < v_h30
                  union all
                  select true, false, x.status <> 'new' or x.last_contacted_at is not null
                           or x.last_called_at is not null,
                         x.status in ('engaged', 'booked', 'customer'),
                         x.status in ('booked', 'customer')
                    from leads x
                   where x.created_at > v_7 and x.created_at < v_h7
                  union all
                  select true, true, x.status <> 'new' or x.last_contacted_at is not null
                           or x.last_called_at is not null,
                         x.status in ('engaged', 'booked', 'customer'),
                         x.status in ('booked', 'customer')
                    from leads x
                   where x.created_at >= v_open and x.created_at <= p_now) y) f;
  select coalesce(jsonb_agg(jsonb_build_object(
      'day', to_char(c.day, 'YYYY-MM-DD'), 'outcome', c.outcome, 'n', c.n)
      order by c.day, c.outcome), '[]')
    into v_calls
    from (select d.day, d.outcome, sum(d.n) as n
            from (select (r.hour at time zone p_tz)::date as day, r.outcome, r.n
                    from status_hour_calls r
                   where v_aligned and r.hour >= v_h14 and r.hour < v_open
                  union all
                  select (x.created_at at time zone p_tz)::date, coalesce(x.outcome, x.status), 1
                    from calls x
                   where v_aligned and x.created_at > v_14 and x.created_at < v_h14
                  union all
                  select (x.created_at at time zone p_tz)::date, coalesce(x.outcome, x.status), 1
                    from calls x
                   where v_aligned and x.created_at >= v_open and x.created_at <= p_now
                  union all
                  select (x.created_at at time zone p_tz)::date, coalesce(x.outcome, x.status), 1
                    from calls x
                   where not v_aligned and x.created_at > v_14 and x.created_at <= p_now) d
           group by 1, 2) c;
  select coalesce(jsonb_agg(jsonb_build_object(
      'campaign', coalesce(c.slug, '(none)'), 'sent', s.sent, 'bounced', s.bounced,
      'complained', s.complained, 'filtered', s.filtered) order by c.slug), '[]')
    into v_sends
    from (select d.campaign_id, sum(d.sent) as sent, sum(d.bounced) as bounced,
                 sum(d.complained) as complained, sum(d.filtered) as filtered
            from (select r.campaign_id, r.sent, r.bounced, r.complained, r.filtered
                    from status_hour_sends r where r.hour >= v_h30 and r.hour < v_open
                  union all
                  select m.campaign_id, 1, case when m.status = 'bounced' then 1 else 0 end,
                         case when m.status = 'complained' then 1 else 0 end,
                         case when m.error_code = '30007' then 1 else 0 end
                    from messages m
                   where ((m.created_at > v_30 and m.created_at < v_h30)
                          or (m.created_at >= v_open and m.created_at <= p_now))
                     and m.kind = 'marketing' and m.sent_at is not null) d
           group by 1) s
    left join campaigns c on c.id = s.campaign_id;
  return jsonb_build_object(
    'computed_at', p_now, 'funnel', v_funnel, 'calls_per_day', v_calls,
    'deliverability', v_sends,
    'scores', (select jsonb_build_object('hot_leads', count(*) filter (where l.hot_at is not null),
                                         'scored_leads', count(l.score))
                 from leads l));
end
$$;

-- Recomputes the cached aggregates (the growth job's status step, hourly; a page load when
-- the cache is older than its limit): the closed hours brought up to date, then summed.
create or replace function status_refresh(p_tz text, p_now timestamptz)
returns timestamptz
language plpgsql set search_path = public as $$
begin
  perform internal.status_rollup(p_now);
  insert into status_cache (tz, computed_at, value)
  values (p_tz, p_now, internal.status_rolled(p_tz, p_now))
  on conflict (tz) do update set computed_at = excluded.computed_at, value = excluded.value;
  return p_now;
end
$$;

-- What the closed hours sum: a lead's created_at, status and first contact or call; a
-- call's created_at and outcome (else status); a sent marketing message's created_at,
-- campaign, bounce or complaint and carrier filtering (30007). Any other change (a score,
-- an open, a delivery) leaves every hour as it was.
create trigger leads_status_stale_insert after insert on leads
  referencing new table as new_rows
  for each statement execute function internal.status_stale_new_rows();
create trigger leads_status_stale_update after update on leads for each row
  when (old.created_at is distinct from new.created_at or old.status is distinct from new.status
        or (old.last_contacted_at is null) <> (new.last_contacted_at is null)
        or (old.last_called_at is null) <> (new.last_called_at is null))
  execute function internal.status_stale_row();
create trigger leads_status_stale_delete after delete on leads for each row
  execute function internal.status_stale_row();
create trigger calls_status_stale_insert after insert on calls
  referencing new table as new_rows
  for each statement execute function internal.status_stale_new_rows();
create trigger calls_status_stale_update after update on calls for each row
  when (old.created_at is distinct from new.created_at
        or coalesce(old.outcome, old.status) is distinct from coalesce(new.outcome, new.status))
  execute function internal.status_stale_row();
create trigger calls_status_stale_delete after delete on calls for each row
  execute function internal.status_stale_row();
create trigger messages_status_stale_insert after insert on messages
  referencing new table as new_rows
  for each statement execute function internal.status_stale_new_rows();
create trigger messages_status_stale_delete after delete on messages for each row
  when (old.kind = 'marketing' and old.sent_at is not null)
  execute function internal.status_stale_row();

-- A message's update logs the hours of both rollups (the status page's, by created_at; the
-- A/B counts', by sent_at) in one trigger, its conditions checked in the function, not in
-- a WHEN clause: PostgreSQL prepares a trigger's WHEN again for every UPDATE statement, and
-- two long ones cost each single-row update (a webhook's status callback) several times
-- what these checks do (bench/RESULTS.md, ROLLUP). No SET search_path (a SET clause costs
-- every call): the tables are named with their schema.
create or replace function internal.messages_rollup_stale()
returns trigger
language plpgsql as $$
begin
  if (old.kind = 'marketing' and old.sent_at is not null
      or new.kind = 'marketing' and new.sent_at is not null)
     and (old.created_at is distinct from new.created_at or old.kind is distinct from new.kind
          or old.campaign_id is distinct from new.campaign_id
          or (old.sent_at is null) <> (new.sent_at is null)
          or (old.status is distinct from new.status
              and (old.status in ('bounced', 'complained')
                   or new.status in ('bounced', 'complained')))
          or coalesce(old.error_code = '30007', false)
             <> coalesce(new.error_code = '30007', false)) then
    insert into public.status_stale (hour)
    select distinct date_trunc('hour', t, 'UTC')
      from unnest(array[old.created_at, new.created_at]) t;
  end if;
  if (old.step_id is not null and old.sent_at is not null
      or new.step_id is not null and new.sent_at is not null)
     and (old.sent_at is distinct from new.sent_at or old.step_id is distinct from new.step_id
          or old.campaign_id is distinct from new.campaign_id
          or old.channel is distinct from new.channel
          or old.to_address is distinct from new.to_address
          or old.lead_id is distinct from new.lead_id
          or (old.status is distinct from new.status
              and (old.status in ('failed', 'bounced', 'cancelled', 'undelivered', 'clicked')
                   or new.status in ('failed', 'bounced', 'cancelled', 'undelivered',
                                     'clicked')))
          or (old.payload->'variant') is distinct from (new.payload->'variant')) then
    insert into public.variant_stale (hour)
    select distinct date_trunc('hour', t, 'UTC')
      from unnest(array[old.sent_at, new.sent_at]) t where t is not null;
  end if;
  return null;
end
$$;
create trigger messages_rollup_stale_update
  after update of status, sent_at, error_code, kind, campaign_id, created_at, step_id, channel,
                  to_address, lead_id, payload on messages
  for each row execute function internal.messages_rollup_stale();

-- An appointment changes the A/B bookings of its lead's sends (06_scoring.sql: variant_stats).
create trigger appointments_variant_stale_insert after insert on appointments for each row
  execute function internal.variant_stale_row();
create trigger appointments_variant_stale_update after update on appointments for each row
  when (old.lead_id is distinct from new.lead_id or old.created_at is distinct from new.created_at)
  execute function internal.variant_stale_row();
create trigger appointments_variant_stale_delete after delete on appointments for each row
  execute function internal.variant_stale_row();


-- Executable by service_role only (99_grants: internal.secure_functions).
select internal.secure_functions();
