-- Issue 19, stop 27: one index of messages' sends by time instead of two.
-- messages_sent_provider_idx (provider, sent_at) where sent_at is not null (the guardian's
-- callback_gaps) and messages_sent_lead_idx (sent_at) include (lead_id, provider, status)
-- where lead_id is not null (the console's contacted) became messages_sent_idx (sent_at)
-- include (lead_id, provider, status) where sent_at is not null: every message inserted,
-- and every update that is not HOT (a send, a status callback: status is indexed), writes
-- one index entry fewer; each reader of a window of sends (callback_gaps, the console's
-- contacted, the digest, the bandit's arms) reads one range of it. On the kept database of
-- day 28 of a 10,000-lead month, the old pair against the new index, both rebuilt, in
-- alternating rolled-back transactions: `.venv/bin/python bench/webhook_sent_index_ab.py
-- --dsn ...` prints each reader's ms and each write's, before and after (bench/RESULTS.md).
create index messages_sent_idx on messages (sent_at) include (lead_id, provider, status)
  where sent_at is not null;
drop index messages_sent_provider_idx;
drop index messages_sent_lead_idx;
