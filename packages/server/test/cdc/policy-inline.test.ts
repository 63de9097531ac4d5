import { describe, expect, test } from 'vitest'
import { compileInlinePolicy, normalizeBody, prunedClaimsJson, type InlineFacts } from '../../src/cdc/policy-inline.js'

// Node trees as Postgres 18 stores them (pg_policy.polqual), shortened to what is checked.
const OWNER_QUAL = "(owner = (auth.jwt() ->> 'sub'::text))"
const OWNER_TREE = '{OPEXPR :opno 98 :opfuncid 67 :args ({VAR :varno 1 :varattno 2 :varlevelsup 0} {OPEXPR :opno 3477 :opfuncid 3214 :args ({FUNCEXPR :funcid 16405 :args <>} {CONST :consttype 25})})}'
const JWT_SOURCE = `
  select coalesce(
    nullif(current_setting('request.jwt.claim', true), ''),
    nullif(current_setting('request.jwt.claims', true), '')
  )::jsonb`
const facts = (over: Partial<InlineFacts> = {}): InlineFacts => ({
  policies: [{ permissive: true, qual: OWNER_QUAL, tree: OWNER_TREE }],
  functions: [
    { oid: 67, auth: null, inPgCatalog: true, immutable: true, executable: true, source: null },
    { oid: 3214, auth: null, inPgCatalog: true, immutable: true, executable: true, source: null },
    { oid: 16405, auth: 'jwt', inPgCatalog: false, immutable: false, executable: true, source: JWT_SOURCE },
  ],
  schemaUsage: true,
  rlsActiveForChecker: false,
  columns: ['id', 'owner'],
  ...over,
})

describe('compileInlinePolicy', () => {
  test('replaces the auth call by its body over the context row', () => {
    const policy = compileInlinePolicy(facts())
    expect(policy?.expression).toBe("(((owner = ((__sb_c.__sb_jwt) ->> 'sub'::text))))")
    expect(policy?.claimPaths).toEqual([['sub']])
  })

  test('permissive policies are ORed, restrictive ones ANDed', () => {
    const policy = compileInlinePolicy(facts({
      policies: [
        { permissive: true, qual: OWNER_QUAL, tree: OWNER_TREE },
        { permissive: false, qual: '(level > 1)', tree: '{OPEXPR :opno 521 :opfuncid 147 :args ({VAR :varattno 3 :varlevelsup 0} {CONST})}' },
        { permissive: true, qual: 'shared', tree: '{VAR :varno 1 :varattno 4 :varlevelsup 0}' },
      ],
      functions: [...facts().functions, { oid: 147, auth: null, inPgCatalog: true, immutable: true, executable: true, source: null }],
    }))
    expect(policy?.expression).toMatch(/^\(\(\(owner = .*\) OR \(shared\)\) AND \(\(level > 1\)\)$/)
  })

  test.each<[string, Partial<InlineFacts>]>([
    ['a redefined auth.jwt()', { functions: [{ ...facts().functions[2]!, source: "select current_setting('request.jwt.claims', true)::jsonb" }] }],
    ['a function that is not an immutable built-in', { functions: [{ oid: 16500, auth: null, inPgCatalog: false, immutable: true, executable: true, source: null }] }],
    ['a stable built-in (may read the role or settings)', { functions: [{ oid: 2078, auth: null, inPgCatalog: true, immutable: false, executable: true, source: null }] }],
    ['a function the role may not execute', { functions: [{ ...facts().functions[0]!, executable: false }] }],
    ['no USAGE on the schema', { schemaUsage: false }],
    ['RLS applies to the checking user', { rlsActiveForChecker: true }],
    ['a column that clashes with the context row', { columns: ['id', 'owner', '__sb_jwt'] }],
    ['no permissive policy', { policies: [{ permissive: false, qual: OWNER_QUAL, tree: OWNER_TREE }] }],
    ['a policy without USING', { policies: [{ permissive: true, qual: null, tree: null }] }],
    ['CURRENT_USER', { policies: [{ permissive: true, qual: '(owner = CURRENT_USER)', tree: '{OPEXPR :opno 98 :opfuncid 67 :args ({VAR :varattno 2 :varlevelsup 0} {SQLVALUEFUNCTION :op 10})}' }] }],
    ['a system column', { policies: [{ permissive: true, qual: "(xmin <> '0'::xid)", tree: '{OPEXPR :opno 3315 :opfuncid 3308 :args ({VAR :varattno -4 :varlevelsup 0} {CONST})}' }] }],
    ['a subquery that is not an auth-call wrapper', {
      policies: [{ permissive: true, qual: "(owner = ( SELECT (auth.jwt() ->> 'sub'::text)))", tree: '{OPEXPR :opno 98 :opfuncid 67 :args ({VAR :varattno 2 :varlevelsup 0} {SUBLINK :subLinkType 4 :subselect {QUERY}})}' }],
    }],
    ['the claims used whole', { policies: [{ permissive: true, qual: "((auth.jwt() -> 'roles'::text) ? 'admin'::text)", tree: '{OPEXPR :opno 3247 :opfuncid 4 :args ({OPEXPR :opfuncid 3214} {CONST})}' }] }],
  ])('%s: not compiled', (_why, over) => {
    expect(compileInlinePolicy(facts(over))).toBeNull()
  })

  test('the `( SELECT auth.uid() AS uid)` wrapper is replaced; text in literals is left alone', () => {
    const uid = { oid: 16403, auth: 'uid' as const, inPgCatalog: false, immutable: false, executable: true,
      source: "select coalesce(nullif(current_setting('request.jwt.claim.sub', true), ''), (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub'))::uuid" }
    const policy = compileInlinePolicy(facts({
      policies: [{ permissive: true, qual: "((uid = ( SELECT auth.uid() AS uid)) AND (note <> 'auth.uid()'::text))", tree: '{BOOLEXPR :args ({OPEXPR :opfuncid 2956 :args ({VAR :varattno 2 :varlevelsup 0} {SUBLINK {QUERY {TARGETENTRY :expr {FUNCEXPR :funcid 16403}}}})} {OPEXPR :opfuncid 157})}' }],
      functions: [uid, { oid: 2956, auth: null, inPgCatalog: true, immutable: true, executable: true, source: null }, { oid: 157, auth: null, inPgCatalog: true, immutable: true, executable: true, source: null }],
    }))
    expect(policy?.expression).toBe("((((uid = ((__sb_c.__sb_uid::uuid))) AND (note <> 'auth.uid()'::text))))")
  })
})

describe('normalizeBody', () => {
  test('drops whitespace and case outside literals only', () => {
    expect(normalizeBody("SELECT  nullif(x, ' ')\n")).toBe("selectnullif(x,' ')")
  })
})

describe('prunedClaimsJson', () => {
  test('keeps only the paths read; a path through a non-object or a missing key is left out', () => {
    const claims = { sub: 'u1', role: 'authenticated', email: 'a@b', app_metadata: { org: 'o1', plan: 'x' }, tags: ['a'] }
    expect(JSON.parse(prunedClaimsJson(claims, [['sub'], ['app_metadata', 'org'], ['tags', 'x'], ['missing']])!)).toEqual({ sub: 'u1', app_metadata: { org: 'o1' } })
  })

  test('a value read whole and through a longer path is copied whole, and the claims are not changed', () => {
    const claims = { a: { b: 1, c: 2 } }
    expect(JSON.parse(prunedClaimsJson(claims, [['a', 'b'], ['a']])!)).toEqual({ a: { b: 1, c: 2 } })
    expect(JSON.parse(prunedClaimsJson(claims, [['a'], ['a', 'b']])!)).toEqual({ a: { b: 1, c: 2 } })
    expect(claims).toEqual({ a: { b: 1, c: 2 } })
  })

  test('inherited properties are not claims; a NUL that jsonb rejects gives null', () => {
    expect(prunedClaimsJson({ sub: 'x' }, [['toString'], ['__proto__']])).toBe('{}')
    expect(prunedClaimsJson({ sub: 'a\u0000b' }, [['sub']])).toBeNull()
  })
})
