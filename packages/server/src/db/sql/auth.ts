/**
 * Migration SQL: schema `auth` with `auth.uid()`, `auth.role()` and `auth.jwt()`.
 *
 * The bodies are Supabase's own (supabase/postgres `migrations/db/init-scripts`): they read
 * the settings the server sets per check (`request.jwt.claims`, `request.jwt.claim.sub`,
 * `request.jwt.claim.role`), falling back from the single-claim setting to the claim set.
 *
 * Every object is created only when missing: on a real Supabase database (or one whose owner
 * wrote a custom `auth.uid()`) the existing definitions win, and policies keep their meaning.
 */
export const AUTH_SQL = /* sql */ `
do $auth$
begin
  if to_regnamespace('auth') is null then
    create schema auth;
    grant usage on schema auth to anon, authenticated, service_role;
  end if;

  if to_regprocedure('auth.uid()') is null then
    create function auth.uid() returns uuid
      language sql stable
      as $fn$
        select coalesce(
          nullif(current_setting('request.jwt.claim.sub', true), ''),
          (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
        )::uuid
      $fn$;
  end if;

  if to_regprocedure('auth.role()') is null then
    create function auth.role() returns text
      language sql stable
      as $fn$
        select coalesce(
          nullif(current_setting('request.jwt.claim.role', true), ''),
          (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
        )::text
      $fn$;
  end if;

  if to_regprocedure('auth.jwt()') is null then
    create function auth.jwt() returns jsonb
      language sql stable
      as $fn$
        select coalesce(
          nullif(current_setting('request.jwt.claim', true), ''),
          nullif(current_setting('request.jwt.claims', true), '')
        )::jsonb
      $fn$;
  end if;
end
$auth$;
`
