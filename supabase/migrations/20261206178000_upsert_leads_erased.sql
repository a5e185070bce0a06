-- upsert_leads: an erased person refused by the console's erasure trigger (09_console.sql)
-- left v_id null; recording the row's consents then failed the whole batch (NOT NULL on
-- consents.lead_id) and the refused row was counted as inserted. Both now skip that row.
create or replace function upsert_leads(p_leads jsonb, p_now timestamptz default now())
returns table (inserted integer, updated integer)
language plpgsql set search_path = public as $$
declare
  v_item jsonb;
  v_id bigint;
  v_ins integer := 0;
  v_upd integer := 0;
begin
  for v_item in select * from jsonb_array_elements(coalesce(p_leads, '[]')) loop
    select id into v_id from leads
     where (v_item->>'phone' is not null and phone = v_item->>'phone')
        or (v_item->>'email' is not null and email = lower(v_item->>'email'))
     order by (phone = v_item->>'phone') desc nulls last
     limit 1
     for update;
    if v_id is null then
      insert into leads (name, phone, email, company, industry, state, timezone, source,
                         attributes, created_at, updated_at)
      values (v_item->>'name', v_item->>'phone', lower(v_item->>'email'), v_item->>'company',
              v_item->>'industry', v_item->>'state', v_item->>'timezone', v_item->>'source',
              coalesce(v_item->'attributes', '{}'), p_now, p_now)
      returning id into v_id;
      -- null when the console's erasure trigger refused an erased person (09_console.sql)
      v_ins := v_ins + (v_id is not null)::int;
    else
      update leads set
        name = coalesce(v_item->>'name', name),
        phone = coalesce(phone, v_item->>'phone'),
        email = coalesce(email, lower(v_item->>'email')),
        company = coalesce(v_item->>'company', company),
        industry = coalesce(v_item->>'industry', industry),
        state = coalesce(v_item->>'state', state),
        timezone = coalesce(v_item->>'timezone', timezone),
        source = coalesce(source, v_item->>'source'),
        attributes = attributes || coalesce(v_item->'attributes', '{}'),
        updated_at = p_now
      where id = v_id;
      v_upd := v_upd + 1;
    end if;
    if v_id is not null and jsonb_typeof(v_item->'consents') = 'array' then  -- 13_consent.sql
      perform internal.consent_record(v_id, v_item->'consents', p_now);
    end if;
  end loop;
  return query select v_ins, v_upd;
end
$$;
