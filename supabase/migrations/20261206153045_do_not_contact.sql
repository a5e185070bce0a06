-- do_not_contact: written by `nightshift db diff do_not_contact` from supabase/schemas/
-- at 2026-12-06 15:30:45 UTC. Functions as the schema files define
-- them, executable by service_role only. Review it, then record its sha256
-- (supabase/migrations.sha256).
--
-- The dnc_numbers table is written by hand, above the functions that read it.

-- An imported do-not-call list (the national registry, an internal list): every call claim
-- scrubs against it (internal.outbox_is_suppressed, below).
create table dnc_numbers (
  phone     text primary key,        -- E.164
  source    text not null,           -- what list it came from (e.g. "FTC registry, area 212")
  list_date date,                    -- the list's own date (the registry: re-scrub every 31 d)
  added_at  timestamptz not null default now()
);
alter table dnc_numbers enable row level security;
revoke all on dnc_numbers from public, anon, authenticated;
grant all on dnc_numbers to service_role;

-- internal.outbox_is_suppressed(text,bigint,text)  (03_outbox.sql:155)
CREATE OR REPLACE FUNCTION internal.outbox_is_suppressed(p_channel text, p_lead_id bigint, p_address text)
 RETURNS boolean
 LANGUAGE sql
 STABLE
AS $function$
  select exists (
           select from suppressions s
            where s.address = case when p_channel = 'email' then lower(p_address) else p_address end
              and s.channel in (p_channel, 'all'))
      or exists (
           select from leads l
            where l.id = p_lead_id
              and (l.status = 'do_not_contact'
                   or (p_channel = 'email' and l.email_opted_out_at is not null)
                   or (p_channel = 'sms' and l.sms_opted_out_at is not null)
                   or (p_channel = 'call' and l.calls_opted_out_at is not null)))
      or (p_channel = 'call' and exists (select from dnc_numbers d where d.phone = p_address));
$function$;
revoke all on function internal.outbox_is_suppressed(text,bigint,text) from public, anon, authenticated;
grant execute on function internal.outbox_is_suppressed(text,bigint,text) to service_role;

-- public.do_not_contact(jsonb,text,timestamp with time zone)  (03_outbox.sql:482)
CREATE OR REPLACE FUNCTION public.do_not_contact(p_items jsonb, p_source text, p_now timestamp with time zone DEFAULT now())
 RETURNS TABLE(address text, leads integer)
 LANGUAGE plpgsql
 SET search_path TO 'public'
AS $function$
#variable_conflict use_column
declare
  v jsonb;
  v_channels text[];
  v_n integer;
begin
  for v in select * from jsonb_array_elements(p_items) loop
    v_channels := array(select jsonb_array_elements_text(v->'channels'));
    if not v_channels <@ array['email', 'sms', 'call'] then
      raise exception 'unknown channel in %', v_channels using errcode = '22023';
    end if;
    update leads l set
      email_opted_out_at = case when 'email' = any (v_channels)
                                then coalesce(l.email_opted_out_at, p_now) else l.email_opted_out_at end,
      sms_opted_out_at = case when 'sms' = any (v_channels)
                              then coalesce(l.sms_opted_out_at, p_now) else l.sms_opted_out_at end,
      calls_opted_out_at = case when 'call' = any (v_channels)
                                then coalesce(l.calls_opted_out_at, p_now) else l.calls_opted_out_at end,
      updated_at = p_now
     where l.phone = v->>'address' or lower(l.email) = v->>'address';
    get diagnostics v_n = row_count;
    insert into suppressions (channel, address, reason, source, created_at)
    select c, v->>'address', 'manual', p_source, p_now from unnest(v_channels) c
     where (c = 'email') = (position('@' in v->>'address') > 0)
    on conflict (channel, address) do nothing;
    address := v->>'address';
    leads := v_n;
    return next;
  end loop;
end
$function$;
revoke all on function public.do_not_contact(jsonb,text,timestamp with time zone) from public, anon, authenticated;
grant execute on function public.do_not_contact(jsonb,text,timestamp with time zone) to service_role;

-- public.dnc_import(text[],text,date,timestamp with time zone)  (03_outbox.sql:519)
CREATE OR REPLACE FUNCTION public.dnc_import(p_phones text[], p_source text, p_list_date date DEFAULT NULL::date, p_now timestamp with time zone DEFAULT now())
 RETURNS integer
 LANGUAGE sql
 SET search_path TO 'public'
AS $function$
  with upserted as (
    insert into dnc_numbers (phone, source, list_date, added_at)
    select distinct p, p_source, p_list_date, p_now from unnest(p_phones) p
    on conflict (phone) do update
       set source = excluded.source, list_date = excluded.list_date, added_at = excluded.added_at
    returning 1
  )
  select count(*)::integer from upserted;
$function$;
revoke all on function public.dnc_import(text[],text,date,timestamp with time zone) from public, anon, authenticated;
grant execute on function public.dnc_import(text[],text,date,timestamp with time zone) to service_role;
