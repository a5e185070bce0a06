-- Issue 19 (growth's hourly scoring pass; SCORE, stop 25), the same scores, reasons and hot
-- flags written:
-- - the pass reads its feature matrix as columns (scoring_feature_columns: scoring_features'
--   rows rendered as comma-separated numbers and JSON arrays, parsed by numpy) instead of
--   one dict per row, then columns made of them; the retrain's per-call rows too;
-- - scoring_apply takes the ids and scores as comma-separated texts instead of arrays
--   (a client dumps an array value by value).
-- On a kept 10,000-lead x 5-day simulation database (seed 7) an hour after its last growth
-- run, HEAD's pass and this one's alternating, 12 rounds (bench/scoring_hourly.py; medians;
-- bench/RESULTS.md "Simulator"), every result identical: the client's CPU for an hourly
-- pass (1,975 leads) 26.5 -> 11.7 ms, for a full pass (9,994 leads) 120.2 -> 35.2 ms; the
-- server's CPU about the same (80 / 80, 260 / 280 ms): most of a pass is the server's now.

drop function if exists scoring_apply(bigint[], double precision[], jsonb, double precision,
                                      timestamptz);

-- The scoring pass's read (score_all): scoring_features at p_now of p_lead_ids (every lead
-- when null; with p_cutoffs, each lead as of its cutoff: the per-call model's rows) as one
-- value of columns, every column in one shared row order (one aggregate pass; the caller
-- sorts by `cutoff_at`, `lead_id`): a numeric column is one comma-separated text that numpy parses
-- (reals as float4 text, 'nan' for null; counts and the 0/1 reachability as integers,
-- never null there), a categorical or quoted one a JSON array, a timestamp as epoch
-- microseconds (exact). Rows as dicts, then columns made of them, were most of a pass's
-- Python (with the texts of scoring_apply: a 10,000-lead pass's client CPU 120 -> 35 ms,
-- an hourly one's of 1,975 leads 27 -> 12 ms; bench/scoring_hourly.py).
create or replace function scoring_feature_columns(
  p_now timestamptz, p_lead_ids bigint[] default null, p_cutoffs timestamptz[] default null
) returns jsonb
language sql stable set search_path = public as $$
  select jsonb_build_object(
    'n', count(*),
    'lead_id', coalesce(string_agg(f.lead_id::text, ','), ''),
    'cutoff_at',
      coalesce(string_agg(((extract(epoch from f.cutoff_at) * 1000000)::bigint)::text, ','), ''),
    'industry', coalesce(jsonb_agg(f.industry), '[]'),
    'source', coalesce(jsonb_agg(f.source), '[]'),
    'state', coalesce(jsonb_agg(f.state), '[]'),
    'lead_age_days', coalesce(string_agg(coalesce(f.lead_age_days::text, 'nan'), ','), ''),
    'days_since_enquiry',
      coalesce(string_agg(coalesce(f.days_since_enquiry::text, 'nan'), ','), ''),
    'email_ok', coalesce(string_agg(f.email_ok::integer::text, ','), ''),
    'sms_ok', coalesce(string_agg(f.sms_ok::integer::text, ','), ''),
    'call_ok', coalesce(string_agg(f.call_ok::integer::text, ','), ''),
    'emails_sent', coalesce(string_agg(f.emails_sent::text, ','), ''),
    'emails_opened', coalesce(string_agg(f.emails_opened::text, ','), ''),
    'clicks', coalesce(string_agg(f.clicks::text, ','), ''),
    'sms_sent', coalesce(string_agg(f.sms_sent::text, ','), ''),
    'sms_replies', coalesce(string_agg(f.sms_replies::text, ','), ''),
    'calls_answered', coalesce(string_agg(f.calls_answered::text, ','), ''),
    'calls_unanswered', coalesce(string_agg(f.calls_unanswered::text, ','), ''),
    'calls_voicemail', coalesce(string_agg(f.calls_voicemail::text, ','), ''),
    'days_since_engagement',
      coalesce(string_agg(coalesce(f.days_since_engagement::text, 'nan'), ','), ''),
    'last_click_at',
      coalesce(jsonb_agg((extract(epoch from f.last_click_at) * 1000000)::bigint), '[]'),
    'last_click_campaign', coalesce(jsonb_agg(f.last_click_campaign), '[]'),
    'last_reply_at',
      coalesce(jsonb_agg((extract(epoch from f.last_reply_at) * 1000000)::bigint), '[]'),
    'last_answered_at',
      coalesce(jsonb_agg((extract(epoch from f.last_answered_at) * 1000000)::bigint), '[]'))
    from scoring_features(p_now, p_lead_ids, p_cutoffs) f;
$$;

-- Writes a batch of scores in one call: the i-th lead of p_ids gets the i-th score of
-- p_scores and the reasons p_reasons->(i-1). A lead reaching p_hot_threshold gets hot_at
-- (kept while it stays hot); one falling below loses it. Returns how many leads were
-- updated and the newly hot ones. Writes a lead only when its score, reasons or hot flag
-- change: an unchanged lead costs no new row version and no index entry (leads_score_idx);
-- rewriting every lead each hour took 382 ms in a 10,000-lead simulation.
-- p_ids and p_scores are comma-separated texts (the scores as Python's repr prints them,
-- which float8 reads back exactly), not arrays: a client dumps an array value by value
-- (psycopg, in Python; see scoring_feature_columns for the pass's figures). Lists of
-- different lengths are refused.
create or replace function scoring_apply(
  p_ids text, p_scores text, p_reasons jsonb, p_hot_threshold double precision,
  p_now timestamptz
) returns table (updated integer, newly_hot jsonb)
language plpgsql set search_path = public as $$
#variable_conflict use_column
declare
  v_ids bigint[] := string_to_array(p_ids, ',')::bigint[];
  v_scores double precision[] := string_to_array(p_scores, ',')::double precision[];
  v_updated integer;
  v_hot jsonb;
begin
  if cardinality(v_ids) <> cardinality(v_scores) then
    raise exception 'scoring_apply: % ids, % scores', cardinality(v_ids), cardinality(v_scores);
  end if;
  with input as (
    select u.id, greatest(0, least(100, u.score))::real score,
           coalesce(p_reasons->(u.ord::integer - 1), '[]') reasons, u.score >= p_hot_threshold hot
      from unnest(v_ids, v_scores) with ordinality u(id, score, ord)
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
