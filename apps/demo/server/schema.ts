/**
 * The demo's schema, written the way a Supabase user writes it: tables in `public`, RLS
 * policies that read the JWT (`auth.jwt() ->> 'tenant_id'`, `auth.uid()`, the `app_role`
 * claim), explicit grants to `authenticated`, every table in the `supabase_realtime`
 * publication, and policies on `realtime.messages` for the per-tenant private channels
 * (presence, typing, upload progress).
 *
 * Isolation is Postgres's job: a VIEWER only sees the phone numbers assigned to them (and the
 * calls, activity and conversations of those numbers), and nobody sees another tenant's rows.
 * Every statement is idempotent, so `applyDemoSchema` runs on every start.
 */
import { PHONES, TENANTS, USERS } from './ids.js'

/** Tables whose changes the UI listens to (all are published). */
export const DEMO_TABLES = [
  'tenants', 'app_users', 'phone_numbers', 'phone_assignments', 'calls', 'activity', 'conversations',
  'messages', 'assignments', 'campaigns', 'bids', 'locations', 'clients', 'projects', 'assets',
  'maintenance_reports', 'attachments', 'sim_settings',
] as const

const TABLES_SQL = /* sql */ `
create table if not exists tenants (
  id uuid primary key,
  name text not null,
  slug text not null unique
);

create table if not exists app_users (
  id uuid primary key,
  tenant_id uuid not null references tenants(id),
  name text not null,
  email text not null unique,
  role text not null check (role in ('ADMIN', 'VIEWER')),
  title text not null default '',
  color text not null default '#6366f1'
);

create table if not exists phone_numbers (
  id uuid primary key,
  tenant_id uuid not null references tenants(id),
  number text not null,
  label text not null
);

create table if not exists phone_assignments (
  user_id uuid not null references app_users(id),
  phone_number_id uuid not null references phone_numbers(id),
  tenant_id uuid not null references tenants(id),
  primary key (user_id, phone_number_id)
);

create table if not exists calls (
  id uuid primary key default gen_random_uuid(),
  tenant_id uuid not null references tenants(id),
  phone_number_id uuid not null references phone_numbers(id),
  from_number text not null,
  caller_name text not null,
  status text not null default 'ringing' check (status in ('ringing', 'in_progress', 'completed', 'missed')),
  answered_by uuid references app_users(id),
  started_at timestamptz not null default now(),
  answered_at timestamptz,
  ended_at timestamptz
);
create index if not exists calls_tenant_started_idx on calls (tenant_id, started_at desc);

create table if not exists activity (
  id integer generated always as identity primary key,
  tenant_id uuid not null references tenants(id),
  phone_number_id uuid references phone_numbers(id),
  kind text not null,
  message text not null,
  created_at timestamptz not null default now()
);
create index if not exists activity_tenant_created_idx on activity (tenant_id, created_at desc, id desc);

create table if not exists conversations (
  id uuid primary key default gen_random_uuid(),
  tenant_id uuid not null references tenants(id),
  phone_number_id uuid references phone_numbers(id),
  contact_name text not null,
  contact_phone text not null,
  subject text not null,
  status text not null default 'open' check (status in ('open', 'pending', 'closed')),
  assigned_to uuid references app_users(id),
  last_message_at timestamptz not null default now(),
  last_message text not null default ''
);
create index if not exists conversations_tenant_last_idx on conversations (tenant_id, last_message_at desc);

create table if not exists messages (
  id uuid primary key default gen_random_uuid(),
  tenant_id uuid not null references tenants(id),
  conversation_id uuid not null references conversations(id),
  direction text not null check (direction in ('inbound', 'outbound')),
  author_name text not null,
  user_id uuid references app_users(id),
  body text not null,
  created_at timestamptz not null default now()
);
create index if not exists messages_conversation_created_idx on messages (conversation_id, created_at desc, id desc);

create table if not exists assignments (
  id uuid primary key default gen_random_uuid(),
  tenant_id uuid not null references tenants(id),
  conversation_id uuid not null references conversations(id),
  user_id uuid references app_users(id),
  assigned_by uuid references app_users(id),
  created_at timestamptz not null default now()
);

create table if not exists campaigns (
  id uuid primary key,
  tenant_id uuid not null references tenants(id),
  name text not null,
  channel text not null,
  reserve numeric(10, 2) not null default 1,
  ends_at timestamptz not null
);

create table if not exists bids (
  id uuid primary key default gen_random_uuid(),
  tenant_id uuid not null references tenants(id),
  campaign_id uuid not null references campaigns(id),
  bidder text not null,
  amount numeric(10, 2) not null check (amount > 0),
  user_id uuid references app_users(id),
  created_at timestamptz not null default now()
);
create index if not exists bids_campaign_amount_idx on bids (campaign_id, amount desc);

create table if not exists locations (
  id uuid primary key,
  tenant_id uuid not null references tenants(id),
  name text not null,
  city text not null
);
create table if not exists clients (
  id uuid primary key,
  tenant_id uuid not null references tenants(id),
  location_id uuid not null references locations(id),
  name text not null
);
create table if not exists projects (
  id uuid primary key,
  tenant_id uuid not null references tenants(id),
  client_id uuid not null references clients(id),
  name text not null
);
create table if not exists assets (
  id uuid primary key,
  tenant_id uuid not null references tenants(id),
  project_id uuid not null references projects(id),
  name text not null,
  kind text not null
);
create table if not exists maintenance_reports (
  id uuid primary key default gen_random_uuid(),
  tenant_id uuid not null references tenants(id),
  asset_id uuid not null references assets(id),
  title text not null,
  priority text not null default 'normal' check (priority in ('low', 'normal', 'high', 'urgent')),
  status text not null default 'open' check (status in ('open', 'in_progress', 'resolved')),
  reported_at timestamptz not null default now(),
  acknowledged_at timestamptz,
  resolved_at timestamptz,
  updated_at timestamptz not null default now()
);
create table if not exists attachments (
  id uuid primary key default gen_random_uuid(),
  tenant_id uuid not null references tenants(id),
  report_id uuid not null references maintenance_reports(id),
  file_name text not null,
  size_bytes integer not null,
  uploaded_by uuid references app_users(id),
  created_at timestamptz not null default now()
);

-- One row per tenant: whether the simulator writes for it, and how fast.
create table if not exists sim_settings (
  tenant_id uuid primary key references tenants(id),
  enabled boolean not null default false,
  rate_per_minute integer not null default 20 check (rate_per_minute between 1 and 600)
);
`

/** `auth.jwt() ->> 'tenant_id'` as a uuid, the tenant check every policy starts with. */
const TENANT = `(auth.jwt() ->> 'tenant_id')::uuid`
const IS_ADMIN = `(auth.jwt() ->> 'app_role') = 'ADMIN'`
/** A VIEWER sees the rows of the phone numbers assigned to them (RLS on phone_assignments applies inside). */
const ASSIGNED = (column: string) => `${column} in (select pa.phone_number_id from phone_assignments pa where pa.user_id = auth.uid())`

interface Policy {
  table: string
  name: string
  command: 'select' | 'insert' | 'update' | 'delete'
  using?: string
  check?: string
}

const POLICIES: Policy[] = [
  { table: 'tenants', name: 'own tenant', command: 'select', using: `id = ${TENANT}` },
  { table: 'app_users', name: 'same tenant', command: 'select', using: `tenant_id = ${TENANT}` },
  { table: 'phone_numbers', name: 'admins all, viewers assigned', command: 'select', using: `tenant_id = ${TENANT} and (${IS_ADMIN} or ${ASSIGNED('id')})` },
  { table: 'phone_assignments', name: 'admins all, viewers own', command: 'select', using: `tenant_id = ${TENANT} and (${IS_ADMIN} or user_id = auth.uid())` },

  { table: 'calls', name: 'read visible phones', command: 'select', using: `tenant_id = ${TENANT} and (${IS_ADMIN} or ${ASSIGNED('phone_number_id')})` },
  { table: 'calls', name: 'admins create', command: 'insert', check: `tenant_id = ${TENANT} and ${IS_ADMIN}` },
  { table: 'calls', name: 'handle visible calls', command: 'update', using: `tenant_id = ${TENANT} and (${IS_ADMIN} or ${ASSIGNED('phone_number_id')})`, check: `tenant_id = ${TENANT}` },

  { table: 'activity', name: 'read visible activity', command: 'select', using: `tenant_id = ${TENANT} and (phone_number_id is null or ${IS_ADMIN} or ${ASSIGNED('phone_number_id')})` },
  { table: 'activity', name: 'write own tenant', command: 'insert', check: `tenant_id = ${TENANT}` },

  { table: 'conversations', name: 'read visible', command: 'select', using: `tenant_id = ${TENANT} and (phone_number_id is null or ${IS_ADMIN} or ${ASSIGNED('phone_number_id')})` },
  { table: 'conversations', name: 'update visible', command: 'update', using: `tenant_id = ${TENANT} and (phone_number_id is null or ${IS_ADMIN} or ${ASSIGNED('phone_number_id')})`, check: `tenant_id = ${TENANT}` },
  // Messages and assignments follow their conversation: the subquery runs under conversations' RLS.
  { table: 'messages', name: 'read in visible conversations', command: 'select', using: `tenant_id = ${TENANT} and exists (select 1 from conversations c where c.id = conversation_id)` },
  { table: 'messages', name: 'reply in visible conversations', command: 'insert', check: `tenant_id = ${TENANT} and user_id = auth.uid() and exists (select 1 from conversations c where c.id = conversation_id)` },
  { table: 'assignments', name: 'read in visible conversations', command: 'select', using: `tenant_id = ${TENANT} and exists (select 1 from conversations c where c.id = conversation_id)` },
  { table: 'assignments', name: 'admins assign', command: 'insert', check: `tenant_id = ${TENANT} and ${IS_ADMIN}` },

  { table: 'campaigns', name: 'same tenant', command: 'select', using: `tenant_id = ${TENANT}` },
  { table: 'bids', name: 'same tenant', command: 'select', using: `tenant_id = ${TENANT}` },
  { table: 'bids', name: 'bid as yourself', command: 'insert', check: `tenant_id = ${TENANT} and user_id = auth.uid()` },

  { table: 'locations', name: 'same tenant', command: 'select', using: `tenant_id = ${TENANT}` },
  { table: 'clients', name: 'same tenant', command: 'select', using: `tenant_id = ${TENANT}` },
  { table: 'projects', name: 'same tenant', command: 'select', using: `tenant_id = ${TENANT}` },
  { table: 'assets', name: 'same tenant', command: 'select', using: `tenant_id = ${TENANT}` },
  { table: 'maintenance_reports', name: 'same tenant', command: 'select', using: `tenant_id = ${TENANT}` },
  { table: 'maintenance_reports', name: 'same tenant updates', command: 'update', using: `tenant_id = ${TENANT}`, check: `tenant_id = ${TENANT}` },
  { table: 'attachments', name: 'same tenant', command: 'select', using: `tenant_id = ${TENANT}` },
  { table: 'attachments', name: 'upload as yourself', command: 'insert', check: `tenant_id = ${TENANT} and uploaded_by = auth.uid()` },

  { table: 'sim_settings', name: 'same tenant', command: 'select', using: `tenant_id = ${TENANT}` },
  { table: 'sim_settings', name: 'admins toggle', command: 'update', using: `tenant_id = ${TENANT} and ${IS_ADMIN}`, check: `tenant_id = ${TENANT}` },
]

const GRANTS: Record<string, string> = {
  select: 'tenants, app_users, phone_numbers, phone_assignments, calls, activity, conversations, messages, assignments, campaigns, bids, locations, clients, projects, assets, maintenance_reports, attachments, sim_settings',
  insert: 'calls, activity, messages, assignments, bids, attachments',
  update: 'calls, conversations, maintenance_reports, sim_settings',
}

function policiesSql(): string {
  const lines: string[] = []
  for (const table of DEMO_TABLES) {
    lines.push(`alter table ${table} enable row level security;`)
    // The demo writes through RLS as the signed-in user; anon gets nothing at all.
    lines.push(`revoke all on ${table} from anon, authenticated;`)
  }
  for (const [privilege, tables] of Object.entries(GRANTS)) lines.push(`grant ${privilege} on ${tables} to authenticated;`)
  lines.push('grant usage on all sequences in schema public to authenticated;')
  for (const p of POLICIES) {
    const name = `"${p.table}: ${p.name}"`
    lines.push(`drop policy if exists ${name} on ${p.table};`)
    lines.push(
      `create policy ${name} on ${p.table} for ${p.command} to authenticated` +
        (p.using ? ` using (${p.using})` : '') +
        (p.check ? ` with check (${p.check})` : '') +
        ';',
    )
  }
  return lines.join('\n')
}

/**
 * Private channels `tenant:<tenant_id>:…` (presence, typing, upload progress): readable and
 * writable only with a token of that tenant. The topic is `realtime.topic()`, as on Supabase.
 */
const CHANNEL_POLICIES_SQL = /* sql */ `
drop policy if exists "demo: tenant channels read" on realtime.messages;
create policy "demo: tenant channels read" on realtime.messages for select to authenticated
  using (split_part(realtime.topic(), ':', 1) = 'tenant' and split_part(realtime.topic(), ':', 2) = auth.jwt() ->> 'tenant_id');
drop policy if exists "demo: tenant channels write" on realtime.messages;
create policy "demo: tenant channels write" on realtime.messages for insert to authenticated
  with check (split_part(realtime.topic(), ':', 1) = 'tenant' and split_part(realtime.topic(), ':', 2) = auth.jwt() ->> 'tenant_id');
`

function publicationSql(): string {
  return DEMO_TABLES.map(
    (table) => `
do $pub$ begin
  if not exists (select 1 from pg_publication_tables where pubname = 'supabase_realtime' and schemaname = 'public' and tablename = '${table}') then
    alter publication supabase_realtime add table public.${table};
  end if;
end $pub$;
alter table public.${table} replica identity full;`,
  ).join('\n')
}

const q = (value: string) => `'${value.replace(/'/g, "''")}'`

/** Reference data with fixed ids: tenants, users, phone numbers, campaigns, the maintenance tree. */
function referenceSeedSql(): string {
  const lines: string[] = []
  for (const t of Object.values(TENANTS)) {
    lines.push(`insert into tenants (id, name, slug) values (${q(t.id)}, ${q(t.name)}, ${q(t.slug)}) on conflict (id) do nothing;`)
    lines.push(`insert into sim_settings (tenant_id) values (${q(t.id)}) on conflict do nothing;`)
  }
  for (const u of USERS) {
    lines.push(`insert into app_users (id, tenant_id, name, email, role, title, color) values (${q(u.id)}, ${q(u.tenantId)}, ${q(u.name)}, ${q(u.email)}, ${q(u.role)}, ${q(u.title)}, ${q(u.color)}) on conflict (id) do nothing;`)
  }
  for (const p of Object.values(PHONES)) {
    lines.push(`insert into phone_numbers (id, tenant_id, number, label) values (${q(p.id)}, ${q(p.tenantId)}, ${q(p.number)}, ${q(p.label)}) on conflict (id) do nothing;`)
  }
  for (const u of USERS) {
    for (const phone of u.phones) {
      lines.push(`insert into phone_assignments (user_id, phone_number_id, tenant_id) values (${q(u.id)}, ${q(phone)}, ${q(u.tenantId)}) on conflict do nothing;`)
    }
  }
  return lines.join('\n')
}

/**
 * Generated history, once per tenant (when it has no calls yet): a day of calls, thousands of
 * activity rows, conversations with message threads, campaigns with bids, the maintenance tree.
 */
const HISTORY_SQL = /* sql */ `
create or replace function pg_temp.seed_tenant(t uuid, prefix text, phones uuid[], people text[], subjects text[], places text[], customers text[], asset_kinds text[])
returns void language plpgsql as $seed$
declare
  i int;
  conv uuid;
  loc uuid; cli uuid; proj uuid; ast uuid;
  started timestamptz;
  n int;
begin
  if exists (select 1 from calls where tenant_id = t) then return; end if;

  -- A day of completed (and some missed) calls.
  for i in 1..240 loop
    started := now() - make_interval(secs => i * 330 + (i * 37) % 200);
    insert into calls (tenant_id, phone_number_id, from_number, caller_name, status, started_at, answered_at, ended_at)
    values (t, phones[1 + i % array_length(phones, 1)], format('+1 555 %s %s', 100 + i % 900, lpad(((i * 7919) % 10000)::text, 4, '0')),
            people[1 + (i * 3) % array_length(people, 1)],
            case when i % 9 = 0 then 'missed' else 'completed' end,
            started,
            case when i % 9 = 0 then null else started + make_interval(secs => 5 + i % 40) end,
            started + make_interval(secs => 40 + (i * 53) % 600));
  end loop;

  -- Thousands of activity rows for the virtualized feed.
  insert into activity (tenant_id, phone_number_id, kind, message, created_at)
  select t, case when g % 4 = 0 then null else phones[1 + g % array_length(phones, 1)] end,
         (array['call', 'message', 'assignment', 'report', 'bid', 'system'])[1 + g % 6],
         case g % 6
           when 0 then format('Call from %s completed (%s min)', people[1 + g % array_length(people, 1)], 1 + g % 9)
           when 1 then format('New message from %s', people[1 + (g * 5) % array_length(people, 1)])
           when 2 then format('Conversation with %s assigned', people[1 + (g * 7) % array_length(people, 1)])
           when 3 then format('Maintenance report #%s updated', 1000 + g % 400)
           when 4 then format('New bid of $%s on campaign', 2 + g % 30)
           else 'Nightly backup completed'
         end,
         now() - make_interval(secs => g * 29)
  from generate_series(1, 3000) g;

  -- Conversations with message threads (long enough to page).
  for i in 1..14 loop
    insert into conversations (tenant_id, phone_number_id, contact_name, contact_phone, subject, status, last_message_at)
    values (t, phones[1 + i % array_length(phones, 1)], people[1 + i % array_length(people, 1)],
            format('+1 555 %s %s', 200 + i, lpad((i * 313)::text, 4, '0')), subjects[1 + i % array_length(subjects, 1)],
            (array['open', 'open', 'pending', 'closed'])[1 + i % 4], now() - make_interval(mins => i * 47))
    returning id into conv;
    n := case when i <= 2 then 80 else 6 + i % 9 end;
    insert into messages (tenant_id, conversation_id, direction, author_name, body, created_at)
    select t, conv, case when g % 2 = 0 then 'inbound' else 'outbound' end,
           case when g % 2 = 0 then people[1 + i % array_length(people, 1)] else prefix || ' team' end,
           (array['Hi, just checking on this.', 'Thanks, that works for us.', 'Could you confirm the time?', 'We will send someone over.',
                  'Is there any update?', 'Sure, I have noted that down.', 'Can we move it to Thursday?', 'Perfect, see you then.'])[1 + (g * 3 + i) % 8],
           now() - make_interval(mins => i * 47 + (n - g) * 6)
    from generate_series(1, n) g;
    update conversations c set last_message = m.body, last_message_at = m.created_at
      from (select body, created_at from messages where conversation_id = conv order by created_at desc limit 1) m
      where c.id = conv;
  end loop;

  -- Maintenance: Location → Client → Project → Asset, with reports and attachments.
  for i in 1..array_length(places, 1) loop
    insert into locations (id, tenant_id, name, city) values (gen_random_uuid(), t, places[i], (array['Oakland', 'San Mateo', 'Seattle', 'Tacoma'])[1 + i % 4]) returning id into loc;
    for n in 1..2 loop
      insert into clients (id, tenant_id, location_id, name) values (gen_random_uuid(), t, loc, customers[1 + (i * 2 + n) % array_length(customers, 1)]) returning id into cli;
      insert into projects (id, tenant_id, client_id, name) values (gen_random_uuid(), t, cli, format('%s %s', (array['Renovation', 'Service plan', 'Retrofit'])[1 + (i + n) % 3], 2024 + n)) returning id into proj;
      for g in 1..3 loop
        insert into assets (id, tenant_id, project_id, name, kind) values (gen_random_uuid(), t, proj,
          format('%s %s', asset_kinds[1 + (i + n + g) % array_length(asset_kinds, 1)], g), asset_kinds[1 + (i + n + g) % array_length(asset_kinds, 1)]) returning id into ast;
        insert into maintenance_reports (tenant_id, asset_id, title, priority, status, reported_at, acknowledged_at, resolved_at, updated_at)
        select t, ast, (array['Unusual noise', 'Leak detected', 'Scheduled inspection', 'Pressure drop', 'Calibration due'])[1 + (i + g + k) % 5],
               (array['low', 'normal', 'high', 'urgent'])[1 + (i * g + k) % 4],
               (array['open', 'in_progress', 'resolved'])[1 + (i + g + k) % 3],
               now() - make_interval(hours => (i * 5 + g * 3 + k * 7) % 70),
               now() - make_interval(hours => (i * 5 + g * 3 + k * 7) % 70) + make_interval(mins => 12 + (i * g * k) % 50),
               case when (i + g + k) % 3 = 2 then now() - make_interval(hours => (i + g) % 5) end,
               now() - make_interval(mins => (i * 41 + g * 17 + k * 29) % 600)
        from generate_series(1, 2) k;
      end loop;
    end loop;
  end loop;
  insert into attachments (tenant_id, report_id, file_name, size_bytes, created_at)
  select t, r.id, format('photo-%s.jpg', row_number() over ()), 180000 + (row_number() over ()) * 1234, r.reported_at + interval '5 minutes'
  from maintenance_reports r where r.tenant_id = t and r.priority in ('high', 'urgent');
end
$seed$;

select pg_temp.seed_tenant(
  '${TENANTS.acme.id}', 'Acme Dental',
  array['${PHONES.acmeFront.id}', '${PHONES.acmeBilling.id}', '${PHONES.acmeEmergency.id}']::uuid[],
  array['Maria Lopez', 'James Park', 'Olivia Brown', 'Noah Wilson', 'Emma Davis', 'Liam Garcia', 'Sophia Martin', 'Lucas Lee'],
  array['Appointment reschedule', 'Insurance question', 'Invoice #4821', 'Post-op follow-up', 'New patient intake', 'Whitening quote'],
  array['Mission Street clinic', 'Bayview clinic'],
  array['Smile Labs', 'Pacific Imaging', 'Northgate Orthodontics', 'City Dental Supply'],
  array['Dental chair', 'X-ray unit', 'Autoclave', 'Compressor', 'Suction pump']);

select pg_temp.seed_tenant(
  '${TENANTS.bright.id}', 'Bright Plumbing',
  array['${PHONES.brightDispatch.id}', '${PHONES.brightSales.id}']::uuid[],
  array['Hannah White', 'Ethan Hall', 'Chloe Young', 'Mason King', 'Ava Scott', 'Logan Green'],
  array['Burst pipe', 'Water heater quote', 'Drain cleaning', 'Invoice #9912', 'Annual inspection'],
  array['Capitol Hill depot', 'Ballard depot'],
  array['Harbor Apartments', 'Greenlake Condos', 'Pike Bakery', 'Fremont Brewing'],
  array['Water heater', 'Boiler', 'Sump pump', 'Backflow valve', 'Pressure tank']);
`

const CAMPAIGNS_SQL = /* sql */ `
insert into campaigns (id, tenant_id, name, channel, reserve, ends_at) values
  ('a3000000-0000-4000-8000-000000000001', '${TENANTS.acme.id}', 'Invisalign spring push', 'Google Ads', 2.50, now() + interval '6 hours'),
  ('a3000000-0000-4000-8000-000000000002', '${TENANTS.acme.id}', 'Emergency dentist near me', 'Local Services', 5.00, now() + interval '2 hours'),
  ('a3000000-0000-4000-8000-000000000003', '${TENANTS.acme.id}', 'Teeth whitening promo', 'Meta', 1.20, now() + interval '1 day'),
  ('b3000000-0000-4000-8000-000000000001', '${TENANTS.bright.id}', '24/7 burst pipe', 'Google Ads', 6.00, now() + interval '3 hours'),
  ('b3000000-0000-4000-8000-000000000002', '${TENANTS.bright.id}', 'Water heater install', 'Local Services', 3.00, now() + interval '1 day')
on conflict (id) do nothing;

insert into bids (tenant_id, campaign_id, bidder, amount, created_at)
select c.tenant_id, c.id, (array['Northwind Media', 'Blue Harbor Leads', 'Peak Digital', 'Crescent Ads', 'Summit Growth'])[1 + g % 5],
       c.reserve + round(((g * 37) % 400) / 100.0, 2), now() - make_interval(mins => g * 3)
from campaigns c cross join generate_series(1, 6) g
where not exists (select 1 from bids b where b.campaign_id = c.id);
`

/** Applies the demo schema, policies, publication membership and seed data (idempotent). */
export function demoSchemaSql(options: { seed: boolean }): string {
  return [
    'select pg_advisory_xact_lock(727274);',
    TABLES_SQL,
    policiesSql(),
    CHANNEL_POLICIES_SQL,
    publicationSql(),
    referenceSeedSql(),
    options.seed ? HISTORY_SQL : '',
    options.seed ? CAMPAIGNS_SQL : '',
  ].join('\n')
}
