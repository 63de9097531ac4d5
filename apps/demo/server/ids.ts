/** Fixed ids of the seeded demo data (the seed is idempotent because they never change). */
export const TENANTS = {
  acme: { id: 'a0000000-0000-4000-8000-000000000001', name: 'Acme Dental', slug: 'acme' },
  bright: { id: 'b0000000-0000-4000-8000-000000000002', name: 'Bright Plumbing', slug: 'bright' },
} as const

export type AppRole = 'ADMIN' | 'VIEWER'

export interface DemoUser {
  id: string
  tenantId: string
  name: string
  email: string
  role: AppRole
  color: string
  /** Phone numbers (ids) a VIEWER is assigned to. */
  phones: string[]
  title: string
}

export const PHONES = {
  acmeFront: { id: 'a2000000-0000-4000-8000-000000000001', tenantId: TENANTS.acme.id, number: '+1 415 555 0101', label: 'Front desk' },
  acmeBilling: { id: 'a2000000-0000-4000-8000-000000000002', tenantId: TENANTS.acme.id, number: '+1 415 555 0102', label: 'Billing' },
  acmeEmergency: { id: 'a2000000-0000-4000-8000-000000000003', tenantId: TENANTS.acme.id, number: '+1 415 555 0103', label: 'After-hours emergencies' },
  brightDispatch: { id: 'b2000000-0000-4000-8000-000000000001', tenantId: TENANTS.bright.id, number: '+1 206 555 0201', label: 'Dispatch' },
  brightSales: { id: 'b2000000-0000-4000-8000-000000000002', tenantId: TENANTS.bright.id, number: '+1 206 555 0202', label: 'Sales' },
} as const

export const USERS: DemoUser[] = [
  { id: 'a1000000-0000-4000-8000-000000000001', tenantId: TENANTS.acme.id, name: 'Alice Moreno', email: 'alice@acme-dental.test', role: 'ADMIN', color: '#6366f1', phones: [], title: 'Practice manager' },
  { id: 'a1000000-0000-4000-8000-000000000002', tenantId: TENANTS.acme.id, name: 'Victor Chen', email: 'victor@acme-dental.test', role: 'VIEWER', color: '#0ea5e9', phones: [PHONES.acmeFront.id], title: 'Front desk' },
  { id: 'a1000000-0000-4000-8000-000000000003', tenantId: TENANTS.acme.id, name: 'Dana Ortiz', email: 'dana@acme-dental.test', role: 'VIEWER', color: '#14b8a6', phones: [PHONES.acmeBilling.id, PHONES.acmeEmergency.id], title: 'Billing' },
  { id: 'b1000000-0000-4000-8000-000000000001', tenantId: TENANTS.bright.id, name: 'Ben Carter', email: 'ben@bright-plumbing.test', role: 'ADMIN', color: '#f59e0b', phones: [], title: 'Owner' },
  { id: 'b1000000-0000-4000-8000-000000000002', tenantId: TENANTS.bright.id, name: 'Priya Shah', email: 'priya@bright-plumbing.test', role: 'VIEWER', color: '#ec4899', phones: [PHONES.brightDispatch.id], title: 'Dispatcher' },
]

export const userById = (id: string): DemoUser | undefined => USERS.find((u) => u.id === id)
