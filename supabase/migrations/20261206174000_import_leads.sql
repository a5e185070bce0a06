-- imports: the CSV import's merge, row by row (supabase/schemas/01_core.sql, issue 16).
-- Written by hand from the schema file; executable by service_role only.

-- The CSV import's merge (app/campaigns/leads_import.py), row by row, reporting every row's
-- outcome so no merge is silent. A row matches a lead on phone, else on email. On a match the
-- lead's name, phone and email are KEPT (a later duplicate never renames a person); a
-- different value from the file is reported ('kept'), and a different phone or email is also
-- saved in attributes.other_phones / other_emails (never dropped); an email that belongs to
-- another lead is reported ('conflict') and left where it is; an empty name/phone/email is
-- filled ('added'). company, industry, state and timezone take the file's value ('updated'
-- when one was replaced). 'skipped': an insert trigger refused the row (the console's erased
-- people are never re-created). An item's `consents` are recorded as upsert_leads records them.
-- p_dry_run: the same work, rolled back, so the outcomes say what an import would do (rows of
-- the same call see each other, as in the real run).
create or replace function import_leads(p_leads jsonb, p_now timestamptz default now(),
                                        p_dry_run boolean default false)
returns table (idx integer, action text, lead_id bigint, matched_on text, changes jsonb)
language plpgsql set search_path = public as $$
declare
  v_item jsonb;
  v_i integer := 0;
  v_phone text;
  v_email text;
  v_name text;
  v_by_phone bigint;
  v_by_email bigint;
  v_lead leads%rowtype;
  v_attrs jsonb;
  v_changes jsonb;
  v_field text;
  v_new text;
  v_old text;
  v_out jsonb[] := '{}';  -- array_append on an expanded array: no copy per row
begin
  begin
    for v_item in select * from jsonb_array_elements(coalesce(p_leads, '[]')) loop
      v_phone := nullif(v_item->>'phone', '');
      v_email := lower(nullif(v_item->>'email', ''));
      v_name := nullif(btrim(v_item->>'name'), '');
      v_attrs := coalesce(v_item->'attributes', '{}');
      v_by_phone := null;
      v_by_email := null;
      select l.id into v_by_phone from leads l where v_phone is not null and l.phone = v_phone;
      select l.id into v_by_email from leads l where v_email is not null and l.email = v_email;
      if v_by_phone is null and v_by_email is null then
        insert into leads (name, phone, email, company, industry, state, timezone, source,
                           attributes, created_at, updated_at)
        values (v_name, v_phone, v_email, v_item->>'company', v_item->>'industry',
                v_item->>'state', v_item->>'timezone', v_item->>'source', v_attrs, p_now, p_now)
        returning leads.id into v_lead.id;  -- null: a trigger refused the row (an erased person)
        v_out := array_append(v_out, jsonb_build_object(
          'idx', v_i, 'action', case when v_lead.id is null then 'skipped' else 'created' end,
          'lead_id', v_lead.id, 'changes', '[]'::jsonb));
      else
        select * into v_lead from leads l where l.id = coalesce(v_by_phone, v_by_email)
           for update;
        v_changes := '[]';
        if v_name is not null then
          if v_lead.name is null or btrim(v_lead.name) = '' then
            v_lead.name := v_name;
            v_changes := v_changes || jsonb_build_object('field', 'name', 'change', 'added',
                                                         'file', v_name);
          elsif lower(regexp_replace(btrim(v_lead.name), '\s+', ' ', 'g'))
                <> lower(regexp_replace(v_name, '\s+', ' ', 'g')) then
            v_attrs := v_attrs - 'first_name';  -- the kept name keeps its own first name
            v_changes := v_changes || jsonb_build_object('field', 'name', 'change', 'kept',
                                                         'kept', v_lead.name, 'file', v_name);
          end if;
        end if;
        if v_phone is not null and v_lead.phone is distinct from v_phone then
          if v_lead.phone is null then
            v_lead.phone := v_phone;
            v_changes := v_changes || jsonb_build_object('field', 'phone', 'change', 'added',
                                                         'file', v_phone);
          else
            v_lead.attributes := jsonb_set(v_lead.attributes, '{other_phones}',
              (select coalesce(jsonb_agg(distinct p), '[]') from jsonb_array_elements_text(
                 coalesce(v_lead.attributes->'other_phones', '[]') || to_jsonb(v_phone)) p));
            v_changes := v_changes || jsonb_build_object('field', 'phone', 'change', 'kept',
              'kept', v_lead.phone, 'file', v_phone, 'saved_as', 'other_phones');
          end if;
        end if;
        if v_email is not null and v_lead.email is distinct from v_email then
          if v_by_email is not null and v_by_email <> v_lead.id then
            v_changes := v_changes || jsonb_build_object('field', 'email', 'change', 'conflict',
              'kept', v_lead.email, 'file', v_email, 'other_lead', v_by_email);
          elsif v_lead.email is null then
            v_lead.email := v_email;
            v_changes := v_changes || jsonb_build_object('field', 'email', 'change', 'added',
                                                         'file', v_email);
          else
            v_lead.attributes := jsonb_set(v_lead.attributes, '{other_emails}',
              (select coalesce(jsonb_agg(distinct e), '[]') from jsonb_array_elements_text(
                 coalesce(v_lead.attributes->'other_emails', '[]') || to_jsonb(v_email)) e));
            v_changes := v_changes || jsonb_build_object('field', 'email', 'change', 'kept',
              'kept', v_lead.email, 'file', v_email, 'saved_as', 'other_emails');
          end if;
        end if;
        foreach v_field in array array['company', 'industry', 'state', 'timezone'] loop
          v_new := nullif(v_item->>v_field, '');
          v_old := to_jsonb(v_lead)->>v_field;
          if v_new is not null and v_old is not null and v_old <> v_new then
            v_changes := v_changes || jsonb_build_object('field', v_field, 'change', 'updated',
                                                         'kept', v_old, 'file', v_new);
          end if;
        end loop;
        update leads set
          name = v_lead.name,
          phone = v_lead.phone,
          email = v_lead.email,
          company = coalesce(v_item->>'company', company),
          industry = coalesce(v_item->>'industry', industry),
          state = coalesce(v_item->>'state', state),
          timezone = coalesce(v_item->>'timezone', timezone),
          source = coalesce(source, v_item->>'source'),
          attributes = v_lead.attributes || v_attrs,
          updated_at = p_now
        where leads.id = v_lead.id;
        v_out := array_append(v_out, jsonb_build_object(
          'idx', v_i, 'action', 'merged', 'lead_id', v_lead.id,
          'matched_on', case when v_by_phone is not null then 'phone' else 'email' end,
          'changes', v_changes));
      end if;
      if v_lead.id is not null and jsonb_typeof(v_item->'consents') = 'array' then
        perform internal.consent_record(v_lead.id, v_item->'consents', p_now);  -- 09_consent.sql
      end if;
      v_i := v_i + 1;
    end loop;
    if p_dry_run then
      raise exception using errcode = 'NSDRY', message = 'dry run: rolled back';
    end if;
  exception when sqlstate 'NSDRY' then
    null;  -- the outcomes stay in v_out; every write above is undone
  end;
  return query
    select (o->>'idx')::integer, o->>'action', (o->>'lead_id')::bigint, o->>'matched_on',
           o->'changes'
      from unnest(v_out) o;
end
$$;
revoke all on function public.import_leads(jsonb, timestamp with time zone, boolean) from public, anon, authenticated;
grant execute on function public.import_leads(jsonb, timestamp with time zone, boolean) to service_role;
