/**
 * Migration SQL: the three Supabase API roles and the privileges Supabase gives them.
 *
 * Policies written for Supabase name `anon`, `authenticated` and `service_role`, and the
 * server switches to them (`set_config('role', …)`) to evaluate RLS for a token's `role`
 * claim. The connecting user must therefore be a member of each role.
 *
 * Roles are cluster-wide, while the migration's advisory lock is per database: two servers
 * migrating two databases of one cluster can race on CREATE ROLE / GRANT. The loser gets
 * `duplicate_object` or `unique_violation` (the catalog's unique index), which is swallowed
 * here because the object it wanted now exists.
 */
export const ROLES_SQL = /* sql */ `
do $roles$
declare
  r text;
  -- PostgreSQL 16 split membership into ADMIN / INHERIT / SET options; SET ROLE needs SET.
  -- A CREATEROLE user on 16+ is auto-granted ADMIN (without SET) on roles it creates.
  needed text := case when current_setting('server_version_num')::int >= 160000 then 'SET' else 'MEMBER' end;
begin
  foreach r in array array['anon', 'authenticated', 'service_role'] loop
    if to_regrole(r) is null then
      begin
        if r = 'service_role' then
          begin
            execute format('create role %I nologin noinherit bypassrls', r);
          exception when insufficient_privilege then
            -- Only a BYPASSRLS (or superuser) role may create a BYPASSRLS role. Without it the
            -- role still works for Switchboard (service_role skips channel checks in code),
            -- but table RLS would apply to it, unlike on Supabase: say so once.
            execute format('create role %I nologin noinherit', r);
            raise warning 'switchboard: created role service_role without BYPASSRLS (the migrating user lacks BYPASSRLS)';
          end;
        else
          execute format('create role %I nologin noinherit', r);
        end if;
      exception when duplicate_object or unique_violation then
        null; -- created concurrently by another migration of this cluster
      end;
    end if;
    if not pg_has_role(current_user, r, needed) then
      begin
        execute format('grant %I to %I', r, current_user);
      exception
        when duplicate_object or unique_violation then
          null;
        when insufficient_privilege then
          -- The role exists but was made by someone else, without granting it to us. Starting
          -- anyway keeps public channels working; checks as this role will be denied (42501).
          raise warning 'switchboard: % cannot SET ROLE %; run "grant % to %" as its owner or a superuser',
            current_user, r, r, current_user;
      end;
    end if;
  end loop;
end
$roles$;

-- Like Supabase: the API roles may use schema public, and whatever the migrating user creates
-- there later is granted to them, so RLS (not missing GRANTs) decides what a role can see.
-- Existing tables are deliberately left alone: granting them would widen access on a database
-- that was not designed for these roles.
do $public$
begin
  grant usage on schema public to anon, authenticated, service_role;
  alter default privileges in schema public grant all on tables to anon, authenticated, service_role;
  alter default privileges in schema public grant all on sequences to anon, authenticated, service_role;
  alter default privileges in schema public grant all on functions to anon, authenticated, service_role;
exception when insufficient_privilege then
  raise warning 'switchboard: could not grant schema public to anon/authenticated/service_role: %', sqlerrm;
end
$public$;
`
