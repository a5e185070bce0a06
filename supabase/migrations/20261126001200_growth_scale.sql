-- nightshift schema, part 12: the hourly `growth` run and the status cache at scale.
--
-- Measured in a 10,000-lead simulation (docs/simulation.md): scoring_apply rewrote every
-- lead each hour (382 ms) although most scores do not move from one hour to the next, and
-- variant_stats looked up each message's clicks and replies without an index (each lookup
-- a scan of click_events / webhook_events, so its cost grew with their product).

-- Writes a lead only when its score, reasons or hot flag change: an unchanged lead costs
-- no new row version and no index entry (leads_score_idx).
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
    select u.id, greatest(0, least(100, u.score))::real score,
           coalesce(p_reasons->(u.ord::integer - 1), '[]') reasons, u.score >= p_hot_threshold hot
      from unnest(p_ids, p_scores) with ordinality u(id, score, ord)
  ), changed as (
    update leads l set
      score = i.score, score_reasons = i.reasons,
      hot_at = case when i.hot then coalesce(l.hot_at, p_now) end
      from input i
     where l.id = i.id
       and (l.score is distinct from i.score or l.score_reasons is distinct from i.reasons
            or (l.hot_at is not null) <> i.hot)
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

-- variant_stats: a message's clicks, and the SMS replies from its address.
create index if not exists click_events_message_idx on click_events (message_id);
create index if not exists webhook_events_sms_reply_idx
  on webhook_events ((payload->>'From'), received_at)
  where provider = 'twilio' and event_type = 'sms.reply';

select secure_functions();
