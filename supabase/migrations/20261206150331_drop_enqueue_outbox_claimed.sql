-- drop_enqueue_outbox_claimed: written by `nightshift db diff drop_enqueue_outbox_claimed` from supabase/schemas/
-- at 2026-12-06 15:03:31 UTC. Functions as the schema files define
-- them, executable by service_role only. Review it, then record its sha256
-- (supabase/migrations.sha256).
--
-- Why: one drip path (issue 13). The dry-run-only write+claim in one call is gone; every
-- provider writes its rows (enqueue_outbox) and claims them per limiter chunk (claim_messages).

drop function if exists public.enqueue_outbox_claimed(jsonb,integer,timestamp with time zone);
