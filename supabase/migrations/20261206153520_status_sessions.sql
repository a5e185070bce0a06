-- status_sessions: written by `nightshift db diff status_sessions` from supabase/schemas/
-- at 2026-12-06 15:35:20 UTC; the table added by hand. The status page's login opens a
-- server-side session (only the SHA-256 of its id is kept) that logout revokes (issue 15).

create table status_sessions (
  id_hash    text primary key,
  token_tag  text not null,
  created_at timestamptz not null,
  expires_at timestamptz not null,
  revoked_at timestamptz
);
alter table status_sessions enable row level security;
revoke all on status_sessions from public, anon, authenticated;
grant all on status_sessions to service_role;

-- public.status_session_open(text,text,timestamp with time zone,timestamp with time zone)  (07_appointments.sql:664)
CREATE OR REPLACE FUNCTION public.status_session_open(p_id_hash text, p_token_tag text, p_expires_at timestamp with time zone, p_now timestamp with time zone)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'public'
AS $function$
begin
  delete from status_sessions
   where least(expires_at, coalesce(revoked_at, expires_at)) < p_now - interval '1 day';
  insert into status_sessions (id_hash, token_tag, created_at, expires_at)
  values (p_id_hash, p_token_tag, p_now, p_expires_at);
end
$function$;
revoke all on function public.status_session_open(text,text,timestamp with time zone,timestamp with time zone) from public, anon, authenticated;
grant execute on function public.status_session_open(text,text,timestamp with time zone,timestamp with time zone) to service_role;

-- public.status_session_valid(text,text,timestamp with time zone)  (07_appointments.sql:677)
CREATE OR REPLACE FUNCTION public.status_session_valid(p_id_hash text, p_token_tag text, p_now timestamp with time zone)
 RETURNS boolean
 LANGUAGE sql
 STABLE
 SET search_path TO 'public'
AS $function$
  select exists (select from status_sessions s
                  where s.id_hash = p_id_hash and s.token_tag = p_token_tag
                    and s.revoked_at is null and s.expires_at > p_now);
$function$;
revoke all on function public.status_session_valid(text,text,timestamp with time zone) from public, anon, authenticated;
grant execute on function public.status_session_valid(text,text,timestamp with time zone) to service_role;

-- public.status_session_revoke(text,timestamp with time zone)  (07_appointments.sql:687)
CREATE OR REPLACE FUNCTION public.status_session_revoke(p_id_hash text, p_now timestamp with time zone)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'public'
AS $function$
begin
  update status_sessions set revoked_at = p_now
   where id_hash = p_id_hash and revoked_at is null;
end
$function$;
revoke all on function public.status_session_revoke(text,timestamp with time zone) from public, anon, authenticated;
grant execute on function public.status_session_revoke(text,timestamp with time zone) to service_role;
