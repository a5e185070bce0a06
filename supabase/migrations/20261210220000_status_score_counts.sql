-- Issue 19, stop 27: the status page's lead scores (hot leads, scored leads) kept as changes
-- instead of counted over every lead at each refresh. status_refresh (hourly, the growth
-- job's status step) counted count(hot_at), count(score) over the whole leads table: a
-- sequential scan of every lead, about half of internal.status_rolled's time on the kept
-- database of day 28 of a 10,000-lead month (`.venv/bin/python bench/status_scores_ab.py
-- --dsn ...` prints both sides' ms, bench/RESULTS.md). Now a lead whose score or hot_at turns
-- null or not null adds a +1/-1 row to status_score_counts (row triggers whose WHEN clauses
-- leave every other write of leads untouched), the hourly rollup folds them into one row,
-- and the page reads their sums: the same numbers (tests/appointments/test_status_scores.py
-- against internal.status_aggregates).
lock table leads in share row exclusive mode;

create table status_score_counts (
  hot    bigint not null,
  scored bigint not null
);
alter table status_score_counts enable row level security;
revoke all on status_score_counts from public, anon, authenticated;
grant all on status_score_counts to service_role;

insert into status_score_counts (hot, scored)
select count(hot_at), count(score) from leads;

create or replace function internal.status_scores_row()
returns trigger
language plpgsql as $$
begin
  if tg_op = 'INSERT' then
    insert into public.status_score_counts (hot, scored)
    values ((new.hot_at is not null)::int, (new.score is not null)::int);
  elsif tg_op = 'DELETE' then
    insert into public.status_score_counts (hot, scored)
    values (-(old.hot_at is not null)::int, -(old.score is not null)::int);
  else
    insert into public.status_score_counts (hot, scored)
    values ((new.hot_at is not null)::int - (old.hot_at is not null)::int,
            (new.score is not null)::int - (old.score is not null)::int);
  end if;
  return null;
end
$$;

create or replace function internal.status_scores_truncate()
returns trigger
language plpgsql as $$
begin
  -- after a fold in progress (internal.status_rollup), so its row is deleted too
  perform pg_advisory_xact_lock(hashtext('status_rollup'));
  delete from public.status_score_counts;
  return null;
end
$$;

create trigger leads_status_scores_insert after insert on leads for each row
  when (new.score is not null or new.hot_at is not null)
  execute function internal.status_scores_row();
create trigger leads_status_scores_update after update of score, hot_at on leads for each row
  when ((old.score is null) <> (new.score is null) or (old.hot_at is null) <> (new.hot_at is null))
  execute function internal.status_scores_row();
create trigger leads_status_scores_delete after delete on leads for each row
  when (old.score is not null or old.hot_at is not null)
  execute function internal.status_scores_row();
create trigger leads_status_scores_truncate after truncate on leads
  for each statement execute function internal.status_scores_truncate();

create or replace function internal.status_rollup(p_now timestamptz)
returns integer
language plpgsql set search_path = public as $$
declare
  v_open timestamptz := date_trunc('hour', p_now, 'UTC');
  v_first timestamptz := date_trunc('hour', p_now - interval '30 days', 'UTC') + interval '1 hour';
  v_n integer;
begin
  perform pg_advisory_xact_lock(hashtext('status_rollup'));
  -- the lead scores' change rows folded into one (a row committed meanwhile stays for the
  -- next fold: the delete removes only the rows it sees, and their sum is written back)
  if (select count(*) from status_score_counts) > 1 then
    with d as (
      delete from status_score_counts returning hot, scored
    )
    insert into status_score_counts (hot, scored)
    select coalesce(sum(hot), 0), coalesce(sum(scored), 0) from d;
  end if;
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
    'scores', (select jsonb_build_object('hot_leads', coalesce(sum(n.hot), 0)::bigint,
                                         'scored_leads', coalesce(sum(n.scored), 0)::bigint)
                 from status_score_counts n));
end
$$;

-- Executable by service_role only (99_grants: internal.secure_functions).
select internal.secure_functions();
