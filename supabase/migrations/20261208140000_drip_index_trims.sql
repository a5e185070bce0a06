-- Issue 19 (drip against its ceilings): two indexes fewer on the rows every step writes.
-- A claimed step is a new version of its enrollments row at the claim's lease and again at
-- the settle, neither HOT (the lease is in enrollments_leased_idx, next_run_at in
-- enrollments_due_idx), so each writes an entry in every index of the table; a text is a
-- messages row written and then recorded sent (not HOT either: status and sent_at are in
-- partial predicates and keys), an entry in every index each time.
--
-- enrollments: unique (campaign_id, lead_id) and enrollments_lead_idx (lead_id) become one
-- unique (lead_id, campaign_id). It is the same uniqueness; a lead's enrollments (the stop
-- rules, the console, the cascade of a lead's deletion) are read from it, a campaign's (the
-- enrollment cap, list_campaigns, the cascade of a campaign's deletion) from
-- enrollments_campaign_enrolled_idx (campaign_id, enrolled_at), as before: 6 -> 5 entries.
--
-- messages: messages_campaign_day_idx (campaign_id, created_at) is dropped: every reader of a
-- campaign's messages names the channel too (the drip claim's sends today, the
-- deliverability guard) and reads messages_campaign_channel_idx (campaign_id, channel,
-- created_at desc, id desc), which also serves the set-null of a campaign's deletion.
-- Figures: bench/RESULTS.md "Drip dispatch" (stop 25, DRIPQ).

alter table enrollments add constraint enrollments_lead_id_campaign_id_key
  unique (lead_id, campaign_id);
alter table enrollments drop constraint enrollments_campaign_id_lead_id_key;
drop index enrollments_lead_idx;

drop index messages_campaign_day_idx;
