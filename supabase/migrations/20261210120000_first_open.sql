-- Issue 19, stop 27 (the lead features' growth with the history): each feature read parsed
-- every read email's status_history for its first open (a snapshot fill: every email of the
-- month, a call of the hourly pass: every email of its leads). The first open is now kept on
-- the message (messages.first_open_at, by a trigger when status_history is written, backfilled
-- here) and the features read it: the same values (bench/first_open_ab.py prints the reads'
-- ms before/after and whether their rows are identical). And a snapshot fill no longer checks
-- a foreign key to leads per row stored (below).

-- A message's first open: the first 'opened' or 'clicked' of its status_history, by receipt
-- (`at`), kept on the row by the trigger below whenever status_history is written (every
-- writer appends to it: the webhooks, the outbox, cancellations), so the features read one
-- column instead of parsing every message's history at every read (a snapshot fill parsed
-- all ~15,000 emails of a 10,000-lead month's day 28; bench/first_open_ab.py). A column of
-- `messages` (03_outbox.sql) declared here, beside its one reader. Not indexed: an update
-- that sets it stays a HOT update when its others do.
alter table messages add column first_open_at timestamptz;

-- The rows written before the trigger: the same expression as the trigger's.
update messages m set first_open_at = (select min((h->>'at')::timestamptz)
                                          from jsonb_array_elements(m.status_history) h
                                         where h->>'status' in ('opened', 'clicked'))
 where m.status_history @? '$[*] ? (@.status == "opened" || @.status == "clicked")';

-- Sets first_open_at from the row's status_history (null: no open yet).
create or replace function internal.messages_first_open()
returns trigger
language plpgsql set search_path = public as $$
begin
  new.first_open_at := (select min((h->>'at')::timestamptz)
                          from jsonb_array_elements(new.status_history) h
                         where h->>'status' in ('opened', 'clicked'));
  return new;
end
$$;
-- Only a history that holds an open (checked in C, no function call), or a row that held
-- one (a rewritten history, or first_open_at written directly), runs the function: the
-- other writes (sends, deliveries, cancellations: nearly all) keep it null as it is.
create trigger messages_first_open before insert or update of status_history, first_open_at
  on messages for each row
  when (new.first_open_at is not null
        or new.status_history @? '$[*] ? (@.status == "opened" || @.status == "clicked")')
  execute function internal.messages_first_open();

create or replace function internal.scoring_feature_rows(
  p_now timestamptz, p_by_list boolean, p_lead_ids bigint[], p_cutoffs timestamptz[],
  p_times timestamptz[], p_at_risk boolean, p_horizon_days integer
) returns table (
  lead_id bigint, cutoff_at timestamptz, label boolean, first_contact_at timestamptz,
  industry text, source text, state text, lead_age_days real, days_since_enquiry real,
  email_ok real, sms_ok real, call_ok real,
  emails_sent integer, emails_opened integer, clicks integer, sms_sent integer,
  sms_replies integer, calls_answered integer, calls_unanswered integer,
  calls_voicemail integer, days_since_engagement real,
  last_click_at timestamptz, last_click_campaign text, last_reply_at timestamptz,
  last_answered_at timestamptz, booked boolean, call_in_flight boolean
)
language sql stable as $$
  with want as (
    select u.id, least(coalesce(u.cutoff, p_now), p_now) cutoff
      from unnest(p_lead_ids, p_cutoffs) u(id, cutoff)
     where p_by_list
    union all
    select l.id, t.at from leads l cross join unnest(p_times) t(at)
     where not p_by_list and p_times is not null and l.created_at <= t.at and t.at <= p_now
    union all
    select l.id, p_now from leads l where not p_by_list and p_times is null
  ), pop as (
    select w.cutoff, l.id, l.industry, l.source, l.state, l.phone, l.email, l.created_at,
           l.email_opted_out_at, l.sms_opted_out_at, l.calls_opted_out_at
      from want w join leads l on l.id = w.id
  ), sent as materialized (
    -- each message of the wanted leads once, with its first open (messages.first_open_at:
    -- the first 'opened' or 'clicked' of its status_history, by receipt, kept by a trigger):
    -- an open by cutoff t is a first open <= t.
    -- Without p_lead_ids the wanted leads are (nearly) every lead: every message is read
    -- in one pass and `msg` keeps those of `pop` (a semi-join with `pop`, estimated at 200
    -- leads, probed messages_lead_idx once per lead: 9,711 probes, issue 19)
    select m.lead_id, m.sent_at, m.channel,
           case when m.channel = 'email' then m.first_open_at end first_open
      from messages m
     where m.kind in ('marketing', 'rescue') and m.lead_id is not null
       and (not p_by_list or m.lead_id = any(p_lead_ids))
  ), msg as (
    select p.id, p.cutoff, min(m.sent_at) first_at,
           count(*) filter (where m.channel = 'email') emails_sent,
           count(*) filter (where m.first_open <= p.cutoff) opened,
           count(*) filter (where m.channel = 'sms') sms_sent,
           max(m.first_open) filter (where m.first_open <= p.cutoff) last_open
      from pop p join sent m on m.lead_id = p.id
     where m.sent_at <= p.cutoff
     group by p.id, p.cutoff
  ), clk as (
    select p.id, p.cutoff, count(*) n, max(e.clicked_at) last_at,
           (array_agg(c.slug order by e.clicked_at desc))[1] last_campaign
      from pop p join click_events e on e.lead_id = p.id
      left join messages m on m.id = e.message_id
      left join campaigns c on c.id = m.campaign_id
     where e.clicked_at <= p.cutoff
     group by p.id, p.cutoff
  ), rep as (
    select p.id, p.cutoff, count(*) n, max(w.received_at) last_at
      from pop p join webhook_events w on w.payload->>'From' = p.phone
     where w.provider = 'twilio' and w.event_type = 'sms.reply' and w.received_at <= p.cutoff
     group by p.id, p.cutoff
  ), cal as (
    select p.id, p.cutoff, min(coalesce(k.placed_at, k.claimed_at, case when k.vapi_call_id is not null then k.created_at end)) first_at,
           count(*) filter (where r.known and k.outcome in ('answered', 'booked')) answered,
           count(*) filter (where r.known and k.outcome in ('no_answer', 'busy')) unanswered,
           count(*) filter (where r.known and k.outcome = 'voicemail') voicemail,
           max(k.report_received_at) filter (where r.known and k.outcome in ('answered', 'booked'))
             last_answered,
           bool_or(r.known and k.outcome = 'booked') booked,
           bool_or(not r.known and k.status not in ('failed', 'cancelled')
                   and coalesce(k.placed_at, k.claimed_at, case when k.vapi_call_id is not null then k.created_at end) > p.cutoff - interval '2 hours')
             in_flight
      -- a call counts from when it was placed (claimed, or first heard of for a call we did
      -- not place): one still waiting in our queue is no contact yet
      from pop p join calls k on k.lead_id = p.id
      cross join lateral (select coalesce(k.report_received_at <= p.cutoff, false) known) r
     where coalesce(k.placed_at, k.claimed_at, case when k.vapi_call_id is not null then k.created_at end) <= p.cutoff
     group by p.id, p.cutoff
  ), appt as (
    select p.id, p.cutoff from pop p join appointments a on a.lead_id = p.id
     where a.created_at <= p.cutoff group by p.id, p.cutoff
  ), rows as (
    select p.*, least(m.first_at, k.first_at) first_at,
           (p.email is not null and (p.email_opted_out_at is null or p.email_opted_out_at > p.cutoff))::integer::real email_ok,
           (p.phone is not null and (p.sms_opted_out_at is null or p.sms_opted_out_at > p.cutoff))::integer::real sms_ok,
           (p.phone is not null and (p.calls_opted_out_at is null or p.calls_opted_out_at > p.cutoff))::integer::real call_ok,
           m.emails_sent, m.opened, m.sms_sent, m.last_open, c.n clicks, c.last_at click_at,
           c.last_campaign, r.n replies, r.last_at reply_at, k.answered, k.unanswered,
           k.voicemail, k.last_answered,
           coalesce(k.booked, false) or a.id is not null booked,
           coalesce(k.in_flight, false) in_flight
      from pop p
      left join msg m on m.id = p.id and m.cutoff = p.cutoff
      left join clk c on c.id = p.id and c.cutoff = p.cutoff
      left join rep r on r.id = p.id and r.cutoff = p.cutoff
      left join cal k on k.id = p.id and k.cutoff = p.cutoff
      left join appt a on a.id = p.id and a.cutoff = p.cutoff
  )
  select x.id, x.cutoff,
         case when p_horizon_days is null
                or x.cutoff + make_interval(days => p_horizon_days) > p_now then null
              else exists (select from appointments a where a.lead_id = x.id
                              and a.created_at > x.cutoff
                              and a.created_at <= x.cutoff + make_interval(days => p_horizon_days))
                or exists (select from calls k where k.lead_id = x.id and k.outcome = 'booked'
                              and k.report_received_at > x.cutoff
                              and k.report_received_at
                                  <= x.cutoff + make_interval(days => p_horizon_days)) end,
         x.first_at, x.industry, x.source, x.state,
         -- age when first contacted (an attribute of the lead, not of the cutoff's clock)
         (extract(epoch from (coalesce(least(x.first_at, x.cutoff), x.cutoff) - x.created_at)) / 86400.0)::real,
         (extract(epoch from (x.cutoff - x.created_at)) / 86400.0)::real,
         x.email_ok, x.sms_ok, x.call_ok,
         coalesce(x.emails_sent, 0)::integer, coalesce(x.opened, 0)::integer,
         coalesce(x.clicks, 0)::integer, coalesce(x.sms_sent, 0)::integer,
         coalesce(x.replies, 0)::integer, coalesce(x.answered, 0)::integer,
         coalesce(x.unanswered, 0)::integer, coalesce(x.voicemail, 0)::integer,
         (extract(epoch from (x.cutoff - greatest(x.click_at, x.reply_at, x.last_answered,
                                                  x.last_open))) / 86400.0)::real,
         x.click_at, x.last_campaign, x.reply_at, x.last_answered, x.booked, x.in_flight
    from rows x
   where not p_at_risk
      or (x.first_at is not null and not x.booked and not x.in_flight
          and x.email_ok + x.sms_ok + x.call_ok > 0)
   order by x.cutoff, x.id
$$;

-- The snapshot store's rows and their lead without a foreign key (its check was a query per
-- row a fill stored: bench/first_open_ab.py --fill): an erased lead's rows deleted by a
-- statement trigger on leads instead, and the fill locks the leads it may store rows of in
-- one statement first.
alter table scoring_snapshots drop constraint scoring_snapshots_lead_id_fkey;

-- A deleted lead (an erased person) takes its snapshot rows with it: what `on delete
-- cascade` did, once per statement (their renderings are then forgotten by the trigger on
-- scoring_snapshots below).
create or replace function internal.scoring_snapshots_erase()
returns trigger
language plpgsql set search_path = public as $$
begin
  delete from scoring_snapshots s where s.lead_id in (select o.id from old_rows o);
  return null;
end
$$;
create trigger leads_scoring_snapshots_erase after delete on leads
  referencing old table as old_rows
  for each statement execute function internal.scoring_snapshots_erase();
-- (`truncate leads ... cascade` emptied them too: it still does.)
create or replace function internal.scoring_snapshots_truncate()
returns trigger
language plpgsql set search_path = public as $$
begin
  truncate scoring_snapshots;
  return null;
end
$$;
create trigger leads_scoring_snapshots_truncate after truncate on leads
  for each statement execute function internal.scoring_snapshots_truncate();

-- Computes and stores the snapshots p_times (those not held yet): every lead at risk at t,
-- its features as of t (scoring_features, the one definition). Returns each stored
-- snapshot's row count. A snapshot computed by a concurrent run is kept as it is.
create or replace function scoring_snapshots_fill(p_now timestamptz, p_times timestamptz[])
returns table (cutoff_at timestamptz, n integer)
language plpgsql set search_path = public as $$
#variable_conflict use_column
declare
  v_new timestamptz[];
begin
  with added as (
    insert into scoring_snapshot_times (cutoff_at, computed_at)
    select distinct t.at, p_now from unnest(p_times) t(at) where t.at <= p_now
    on conflict (cutoff_at) do nothing
    returning cutoff_at
  )
  select coalesce(array_agg(a.cutoff_at), '{}') into v_new from added a;
  if cardinality(v_new) > 0 then
    -- every lead a new snapshot may hold (created by its time), locked against deletion
    -- until this transaction ends (what the foreign key's check did, row by row): a lead
    -- being erased is waited for and then not read (the insert's snapshot is taken after),
    -- and an erasure that comes later deletes the rows stored here.
    perform from leads l
      where l.created_at <= (select max(t.at) from unnest(v_new) t(at))
      for key share;
    insert into scoring_snapshots (cutoff_at, lead_id, industry, source, state, lead_age_days,
      days_since_enquiry, email_ok, sms_ok, call_ok, emails_sent, emails_opened, clicks,
      sms_sent, sms_replies, calls_answered, calls_unanswered, calls_voicemail,
      days_since_engagement)
    select f.cutoff_at, f.lead_id, f.industry, f.source, f.state, f.lead_age_days,
           f.days_since_enquiry, f.email_ok, f.sms_ok, f.call_ok, f.emails_sent,
           f.emails_opened, f.clicks, f.sms_sent, f.sms_replies, f.calls_answered,
           f.calls_unanswered, f.calls_voicemail, f.days_since_engagement
      from scoring_features(p_now, p_times => v_new, p_at_risk => true) f;
    update scoring_snapshot_times t set (columns, n) = (
             select c::json, (c->>'n')::integer
               from internal.scoring_snapshot_columns(t.cutoff_at) c)
     where t.cutoff_at = any(v_new);
  end if;
  return query
  select h.cutoff_at, coalesce(h.n, (select count(*) from scoring_snapshots s
                                      where s.cutoff_at = h.cutoff_at)::integer)
    from scoring_snapshot_times h
   where h.cutoff_at = any(p_times)
   order by h.cutoff_at;
end
$$;

-- Executable by service_role only (99_grants: internal.secure_functions).
select internal.secure_functions();
