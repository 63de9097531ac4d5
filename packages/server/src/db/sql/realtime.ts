/**
 * Migration SQL: schema `realtime` as Supabase Realtime lays it out for Broadcast
 * (protocol notes §3.4, §3.6): `realtime.messages`, `topic()`, `send()`, `send_binary()`,
 * `broadcast_changes()`, plus the two publications the server reads.
 *
 * Function bodies follow supabase/realtime `priv/repo/tenant_schema/realtime/functions/*.sql`.
 * Like there, `send()` is NOT security definer: it inserts as the calling role, so an INSERT
 * policy on realtime.messages decides whether e.g. a trigger fired by `authenticated` may
 * broadcast. Every object is created only when missing, so a database already prepared by
 * Supabase (partitioned messages table, newer function versions) keeps its own.
 *
 * Differences from Supabase, and why:
 * - messages is a plain table, not partitioned by day: retention is `pruneMessages()`, a
 *   DELETE on the `inserted_at` index, which is simpler than a partition janitor at our sizes.
 * - publication `switchboard_messages` (insert only) replaces Supabase's temporary-slot
 *   publication; `publish_via_partition_root` keeps it working on a partitioned Supabase table.
 */
export const REALTIME_SQL = /* sql */ `
create schema if not exists realtime;

do $realtime$
begin
  -- May fail on a Supabase database whose realtime schema belongs to supabase_admin; the
  -- grants exist there already.
  begin
    grant usage on schema realtime to anon, authenticated, service_role;
  exception when insufficient_privilege then
    raise warning 'switchboard: could not grant usage on schema realtime: %', sqlerrm;
  end;

  if to_regclass('realtime.messages') is null then
    create table realtime.messages (
      id uuid not null default gen_random_uuid() primary key,
      topic text not null,
      extension text not null,
      payload jsonb,
      event text,
      private boolean default false,
      binary_payload bytea,
      inserted_at timestamp without time zone not null default now(),
      updated_at timestamp without time zone not null default now()
    );
    -- Replay reads (topic, newest first); pruning reads inserted_at alone.
    create index messages_topic_inserted_at_idx on realtime.messages (topic, inserted_at desc);
    create index messages_inserted_at_idx on realtime.messages (inserted_at);
    -- Private-channel authorization is RLS on this table; with no policy, nobody but the
    -- owner (the server's connection user) and BYPASSRLS roles sees or writes a row.
    alter table realtime.messages enable row level security;
    grant select, insert, update on realtime.messages to anon, authenticated, service_role;
  end if;

  if to_regprocedure('realtime.topic()') is null then
    create function realtime.topic() returns text
      language sql stable
      as $fn$ select nullif(current_setting('realtime.topic', true), '')::text; $fn$;
  end if;

  if to_regprocedure('realtime.send(jsonb, text, text, boolean)') is null then
    create function realtime.send(payload jsonb, event text, topic text, private boolean default true)
      returns void
      language plpgsql
      as $fn$
      declare
        generated_id uuid;
        final_payload jsonb;
      begin
        begin
          generated_id := gen_random_uuid();
          -- The row id doubles as the payload id clients see (meta.id), unless one was given.
          if payload ? 'id' then
            final_payload := payload;
          else
            final_payload := jsonb_set(payload, '{id}', to_jsonb(generated_id));
          end if;
          -- INSERT policies read the topic through realtime.topic().
          execute format('set local realtime.topic to %L', topic);
          insert into realtime.messages (id, payload, event, topic, private, extension)
          values (generated_id, final_payload, event, topic, private, 'broadcast');
        exception when others then
          -- As Supabase: a failed broadcast never aborts the caller's transaction.
          raise warning 'WarnSendingBroadcastMessage: %', sqlerrm;
        end;
      end;
      $fn$;
  end if;

  if to_regprocedure('realtime.send_binary(bytea, text, text, boolean)') is null then
    create function realtime.send_binary(payload bytea, event text, topic text, private boolean default true)
      returns void
      language plpgsql
      as $fn$
      declare
        generated_id uuid;
      begin
        begin
          generated_id := gen_random_uuid();
          execute format('set local realtime.topic to %L', topic);
          insert into realtime.messages (id, binary_payload, event, topic, private, extension)
          values (generated_id, payload, event, topic, private, 'broadcast');
        exception when others then
          raise warning 'WarnSendingBroadcastMessage: %', sqlerrm;
        end;
      end;
      $fn$;
  end if;

  if to_regprocedure('realtime.broadcast_changes(text, text, text, text, text, record, record, text)') is null then
    create function realtime.broadcast_changes(
      topic_name text, event_name text, operation text, table_name text, table_schema text,
      new record, old record, level text default 'ROW'
    )
      returns void
      language plpgsql
      as $fn$
      declare
        row_data jsonb := '{}'::jsonb;
      begin
        if level = 'STATEMENT' then
          raise exception 'function can only be triggered for each row, not for each statement';
        end if;
        if operation = 'INSERT' or operation = 'UPDATE' or operation = 'DELETE' then
          row_data := jsonb_build_object(
            'old_record', old, 'record', new, 'operation', operation,
            'table', table_name, 'schema', table_schema);
          perform realtime.send(row_data, event_name, topic_name, private := true);
        else
          raise exception 'Unexpected operation type: %', operation;
        end if;
      exception when others then
        raise exception 'Failed to process the row: %', sqlerrm;
      end;
      $fn$;
  end if;

  -- Postgres Changes: the app adds its tables (alter publication supabase_realtime add table …).
  -- Created empty when missing, never altered: its table list belongs to the app.
  if not exists (select 1 from pg_publication where pubname = 'supabase_realtime') then
    create publication supabase_realtime;
  end if;

  -- Database broadcast: the server's replication stream delivers each inserted message.
  if not exists (select 1 from pg_publication where pubname = 'switchboard_messages') then
    create publication switchboard_messages for table realtime.messages
      with (publish = 'insert', publish_via_partition_root = true);
  end if;
end
$realtime$;
`
