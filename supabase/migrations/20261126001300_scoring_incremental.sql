-- nightshift schema, part 13: lead scores kept current by the leads that changed.
--
-- growth scored every lead every hour: one pass over every lead, message, call and click
-- (about 0.5 s per run at 10,000 leads on day 1 of a simulation, growing with the history).
-- Now a lead is marked when something its features read changes, and the hourly run scores
-- only the marked leads; every lead is scored when a new model is stored (each
-- SCORING_RETRAIN_HOURS at the latest, trained or prior), which also moves the
-- time-dependent features (days since engagement) along at least daily.
--
-- The marks: scoring_dirty(lead_id, seq). A sequence, not a clock, orders them (triggers
-- have no caller's p_now): a run takes the marks up to the sequence it read and clears only
-- those, so a lead marked while the run scored stays marked for the next one.

create sequence if not exists scoring_dirty_seq;
create table if not exists scoring_dirty (
  lead_id bigint primary key,  -- no foreign key: its check would lock each lead's row; a
                               -- deleted lead's mark finds no features and is cleared
  seq     bigint not null default nextval('scoring_dirty_seq')
);
alter table scoring_dirty enable row level security;
alter table score_models add column if not exists applied_at timestamptz;

create or replace function scoring_mark(p_lead_ids bigint[])
returns void
language sql set search_path = public as $$
  insert into scoring_dirty (lead_id)
  select distinct u.id from unnest(p_lead_ids) u(id) where u.id is not null
  on conflict (lead_id) do update set seq = nextval('scoring_dirty_seq');
$$;

-- What the features read: a lead's own columns, its messages (written, opened, clicked), its
-- clicks, its calls once ended, and SMS replies from its number.
create or replace function scoring_mark_new_rows()
returns trigger
language plpgsql set search_path = public as $$
begin
  if tg_table_name = 'leads' then
    perform scoring_mark(array(select id from new_rows));
  else
    perform scoring_mark(array(select lead_id from new_rows));
  end if;
  return null;
end
$$;

create or replace function scoring_mark_row()
returns trigger
language plpgsql set search_path = public as $$
begin
  if tg_table_name = 'leads' then
    perform scoring_mark(array[new.id]);
  elsif tg_table_name = 'webhook_events' then
    perform scoring_mark(array(select l.id from leads l where l.phone = new.payload->>'From'));
  else
    perform scoring_mark(array[new.lead_id]);
  end if;
  return null;
end
$$;

drop trigger if exists leads_scoring_insert on leads;
create trigger leads_scoring_insert after insert on leads
  referencing new table as new_rows for each statement execute function scoring_mark_new_rows();
drop trigger if exists leads_scoring_update on leads;
create trigger leads_scoring_update after update on leads for each row
  when (old.status is distinct from new.status
        or old.email_opted_out_at is distinct from new.email_opted_out_at
        or old.sms_opted_out_at is distinct from new.sms_opted_out_at
        or old.calls_opted_out_at is distinct from new.calls_opted_out_at
        or old.industry is distinct from new.industry or old.source is distinct from new.source
        or old.state is distinct from new.state or old.phone is distinct from new.phone
        or old.email is distinct from new.email)
  execute function scoring_mark_row();
drop trigger if exists messages_scoring_insert on messages;
create trigger messages_scoring_insert after insert on messages
  referencing new table as new_rows for each statement execute function scoring_mark_new_rows();
drop trigger if exists messages_scoring_update on messages;
-- (A send is marked when its row is written, ahead of the send in the same drip tick; a
-- row sent hours later, after a retry, is caught by the next full pass at the latest.)
create trigger messages_scoring_update after update of status on messages for each row
  when (new.lead_id is not null and new.status in ('opened', 'clicked')
        and old.status is distinct from new.status)
  execute function scoring_mark_row();
drop trigger if exists calls_scoring_insert on calls;
create trigger calls_scoring_insert after insert on calls
  referencing new table as new_rows for each statement execute function scoring_mark_new_rows();
drop trigger if exists calls_scoring_update on calls;
create trigger calls_scoring_update after update of status on calls for each row
  when (new.lead_id is not null and new.status = 'ended' and old.status is distinct from 'ended')
  execute function scoring_mark_row();
drop trigger if exists click_events_scoring_insert on click_events;
create trigger click_events_scoring_insert after insert on click_events for each row
  when (new.lead_id is not null) execute function scoring_mark_row();
drop trigger if exists webhook_events_scoring_insert on webhook_events;
create trigger webhook_events_scoring_insert after insert on webhook_events for each row
  when (new.provider = 'twilio' and new.event_type = 'sms.reply')
  execute function scoring_mark_row();

-- The marked leads and the highest mark among them (pass it to scoring_clear).
create or replace function scoring_marked()
returns table (lead_ids bigint[], upto bigint)
language sql stable set search_path = public as $$
  select coalesce(array_agg(lead_id order by lead_id), '{}'), coalesce(max(seq), 0)
    from scoring_dirty;
$$;

-- Clears the marks up to p_upto (a lead marked again since keeps its newer mark); with
-- p_version, records that every lead was scored with that model.
create or replace function scoring_clear(p_upto bigint, p_version integer, p_now timestamptz)
returns integer
language plpgsql set search_path = public as $$
declare
  v_n integer;
begin
  delete from scoring_dirty where seq <= p_upto;
  get diagnostics v_n = row_count;
  if p_version is not null then
    update score_models set applied_at = p_now where version = p_version and applied_at is null;
  end if;
  return v_n;
end
$$;

drop function if exists scoring_features(text, integer, integer, timestamptz);
-- As in part 7 (20261126000700_scoring_growth.sql), restricted to p_lead_ids when given. In
-- plpgsql planned for each call's values (plan_cache_mode): a plan made without them
-- (a SQL function's) cannot drop `p_lead_ids is null or ...` and scanned every message,
-- click and call for a handful of leads (100-280 ms per call in a 10,000-lead simulation,
-- 0.8 ms with the values).
create or replace function scoring_features(
  p_mode text, p_horizon_days integer, p_window_days integer, p_now timestamptz,
  p_lead_ids bigint[] default null
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
language plpgsql stable set search_path = public set plan_cache_mode = force_custom_plan as $$
#variable_conflict use_column
begin
  return query
  with horizon as (select make_interval(days => p_horizon_days) h),
  contact as (
    select x.lead_id, min(x.at) first_at from (
      select m.lead_id, m.sent_at at from messages m
       where m.lead_id is not null and m.sent_at is not null and m.kind in ('marketing', 'rescue')
         and (p_lead_ids is null or m.lead_id = any (p_lead_ids))
      union all
      select k.lead_id, coalesce(k.started_at, k.ended_at) from calls k
       where k.lead_id is not null and k.status = 'ended'
         and (p_lead_ids is null or k.lead_id = any (p_lead_ids))) x
     where x.at <= p_now group by x.lead_id
  ), booked as (
    select x.lead_id, min(x.at) at from (
      select a.lead_id, a.created_at at from appointments a
       where p_lead_ids is null or a.lead_id = any (p_lead_ids)
      union all
      select k.lead_id, k.ended_at from calls k where k.outcome = 'booked' and k.lead_id is not null
         and (p_lead_ids is null or k.lead_id = any (p_lead_ids))) x
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
     where p_lead_ids is null or l.id = any (p_lead_ids)
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
end
$$;

select secure_functions();
