-- Issue 19, stop 26 (growth's hourly scoring pass): scoring_features of a lead list is
-- planned once per connection instead of at every call. The rows moved to
-- internal.scoring_feature_rows, a SQL function inlined into scoring_features' two
-- statements with `p_by_list` a constant in each: the lead-list statement (the hourly pass,
-- the per-call rows, the call queue's scores) runs its generic plan (plan_cache_mode =
-- force_generic_plan for it), which reads each table from the listed leads by a lead index;
-- every lead (at now or at the snapshot times) is planned for its values as before. Every
-- feature value is the same (so the snapshot and per-call stores are kept, not emptied).
-- Planning was most of a small list's call: the figures are in scoring_features' comment
-- in supabase/schemas/06_scoring.sql (bench/feature_read_plans.py, day-28 database).

-- scoring_features' rows (see there): `p_by_list` true reads p_lead_ids (with p_cutoffs),
-- false every lead at p_now or at each of p_times. No SET clause, not strict: inlined into
-- its caller's statement (a SET would stop the inlining), under the caller's search_path.
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
    -- each message of the wanted leads once, with its first open (the first 'opened' or
    -- 'clicked' of its status_history, by receipt): an open by cutoff t is a first open
    -- <= t, so status_history is parsed once per message, not once per (message, t).
    -- Without p_lead_ids the wanted leads are (nearly) every lead: every message is read
    -- in one pass and `msg` keeps those of `pop` (a semi-join with `pop`, estimated at 200
    -- leads, probed messages_lead_idx once per lead: 9,711 probes, issue 19)
    select m.lead_id, m.sent_at, m.channel,
           case when m.channel = 'email' then (
             select min((h->>'at')::timestamptz) from jsonb_array_elements(m.status_history) h
              where h->>'status' in ('opened', 'clicked')) end first_open
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

create or replace function scoring_features(
  p_now timestamptz, p_lead_ids bigint[] default null, p_cutoffs timestamptz[] default null,
  p_times timestamptz[] default null, p_at_risk boolean default false,
  p_horizon_days integer default null
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
language plpgsql stable set search_path = public set plan_cache_mode = force_custom_plan
set random_page_cost = 1.1 as $$
begin
  if p_lead_ids is not null then
    perform set_config('plan_cache_mode', 'force_generic_plan', true);
    return query
      select * from internal.scoring_feature_rows(
        p_now, true, p_lead_ids, p_cutoffs, null, p_at_risk, p_horizon_days) f;
  else
    return query
      select * from internal.scoring_feature_rows(
        p_now, false, null, null, p_times, p_at_risk, p_horizon_days) f;
  end if;
end
$$;

-- Executable by service_role only (99_grants: internal.secure_functions).
select internal.secure_functions();
