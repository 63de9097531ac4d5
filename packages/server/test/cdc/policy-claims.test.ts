import { describe, expect, test } from 'vitest'
import { claimPathsOfExpression, claimPathsOfPolicies, claimValuesKey } from '../../src/cdc/policy-claims.js'

// Expressions exactly as Postgres 18 deparses them into pg_policies.qual.
describe('claimPathsOfExpression', () => {
  test.each([
    ["(tenant_id = (auth.jwt() ->> 'tenant_id'::text))", [['tenant_id']]],
    ["(org = ((auth.jwt() -> 'app_metadata'::text) ->> 'org'::text))", [['app_metadata', 'org']]],
    ['(owner = ( SELECT auth.uid() AS uid))', [['sub']]],
    ["((auth.uid() = ANY (members)) AND (phone = ANY (ARRAY['1'::text, '2'::text])))", [['sub']]],
    ["((tenant_id = (( SELECT auth.jwt() AS jwt) ->> 'tenant_id'::text)) AND (lower(phone) ~~ '%x%'::text))", [['tenant_id']]],
    ["(auth.role() = 'authenticated'::text)", [['role']]],
    ['(is_public = true)', []],
  ])('%s reads %j', (qual, paths) => {
    expect(claimPathsOfExpression(qual)).toEqual(paths)
  })

  test.each([
    ['a subquery applies other tables\' policies', '(EXISTS ( SELECT 1\n   FROM members m\n  WHERE (m.user_id = auth.uid())))'],
    ['a user function may read any claim', '(is_admin() OR (owner = auth.uid()))'],
    ['the claims used whole', "((auth.jwt() -> 'roles'::text) ? 'admin'::text)"],
    ['current_setting read directly', "(tenant_id = current_setting('request.jwt.claims'::text, true))"],
    ['another auth function', '(owner = auth.email())'],
  ])('%s: unknown', (_why, qual) => {
    expect(claimPathsOfExpression(qual)).toBeNull()
  })

  test('a quoted string that looks like a call or keyword is not one', () => {
    expect(claimPathsOfExpression("(label = 'select is_admin() from x'::text)")).toEqual([])
  })
})

describe('claimPathsOfPolicies', () => {
  test('unions the paths of all policies; any unknown (or missing) expression makes the whole unknown', () => {
    expect(claimPathsOfPolicies(["(a = (auth.jwt() ->> 'tenant_id'::text))", '(b = auth.uid())'])).toEqual([['sub'], ['tenant_id']])
    expect(claimPathsOfPolicies(["(a = (auth.jwt() ->> 'tenant_id'::text))", '(f(a))'])).toBeNull()
    expect(claimPathsOfPolicies([null])).toBeNull()
    expect(claimPathsOfPolicies([])).toEqual([])
  })
})

describe('claimValuesKey', () => {
  test('users of one tenant share a key; other tenants and missing claims do not', () => {
    const paths = [['app_metadata', 'org'], ['tenant_id']]
    const a = claimValuesKey({ sub: 'u1', tenant_id: 't1', app_metadata: { org: 'o' } }, paths)
    const b = claimValuesKey({ sub: 'u2', tenant_id: 't1', app_metadata: { org: 'o' }, exp: 5 }, paths)
    const c = claimValuesKey({ sub: 'u3', tenant_id: 't2', app_metadata: { org: 'o' } }, paths)
    const d = claimValuesKey({ sub: 'u4', app_metadata: { org: 'o' } }, paths)
    expect(a).toBe(b)
    expect(a).not.toBe(c)
    expect(d).not.toBe(a)
  })
})
