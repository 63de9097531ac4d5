/* eslint-disable no-console -- a CLI script: printing is its job */
/**
 * The property names of @switchboard/client that no one outside the package can see, so the dist
 * could shorten them (measured by `ship-smaller.mjs`, not done: see the README). An app's minifier shortens locals and `#private`
 * names but keeps every other property name as written (`this.leases`, `channel.onConnection()`):
 * a library that shortens its internal ones itself ships less.
 *
 * ┌──────────────────────────────────────────────────────────────────────────────────────────────┐
 * │ A name is internal only if every use of it is provably ours. It is kept as written when:       │
 * │  - any use resolves (TypeScript checker) to a declaration outside `src/` (lib.dom, Node,       │
 * │    realtime-js, protocol), or to none (`any`), or an object literal's key lands in a           │
 * │    contextual type declared outside `src/`;                                                    │
 * │  - it is a member of the public API: reachable from an entry point's exports through          │
 * │    types, unless tagged `@internal`;                                                           │
 * │  - it appears anywhere in realtime-js or @switchboard/protocol (wire keys, Phoenix internals   │
 * │    we reach through casts), or in the sources of packages/react, apps and the tests (so        │
 * │    they can run against the dist).                                                             │
 * │ Also kept: every key of an object read with a computed key (`o[k]`), of a type a foreign    │
 * │ value is cast to, or of a value handed to foreign code (`JSON.stringify`, realtime-js,         │
 * │ `postMessage`); string keys (`o['x']`, `'x' in o`).                                            │
 * └──────────────────────────────────────────────────────────────────────────────────────────────┘
 */
import ts from 'typescript'
import { readFileSync, readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { join, sep } from 'node:path'

const root = fileURLToPath(new URL('../../../../', import.meta.url))
const srcDir = join(root, 'packages/client/src') + sep
export const ENTRIES = ['index.ts', 'tabs/index.ts', 'lifecycle.ts', 'logging.ts']

function files(dir, exts, acc = []) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules' && entry.name !== 'dist') files(path, exts, acc)
    } else if (exts.some((e) => path.endsWith(e))) acc.push(path)
  }
  return acc
}

/** Every identifier, and every identifier-like word of a string literal, of the given files (comments skipped). */
function words(paths) {
  const out = new Set()
  for (const path of paths) {
    const scanner = ts.createScanner(ts.ScriptTarget.Latest, true, path.endsWith('x') ? ts.LanguageVariant.JSX : ts.LanguageVariant.Standard, readFileSync(path, 'utf8'))
    for (let token = scanner.scan(); token !== ts.SyntaxKind.EndOfFileToken; token = scanner.scan()) {
      if (token === ts.SyntaxKind.Identifier || token >= ts.SyntaxKind.FirstKeyword) out.add(scanner.getTokenValue() || scanner.getTokenText())
      else if (token === ts.SyntaxKind.StringLiteral || token === ts.SyntaxKind.NoSubstitutionTemplateLiteral || token === ts.SyntaxKind.TemplateHead) {
        for (const [w] of scanner.getTokenValue().matchAll(/[A-Za-z_$][\w$]*/g)) out.add(w)
      }
    }
  }
  return out
}

const ownDeclaration = (decl) => decl.getSourceFile().fileName.startsWith(srcDir.split(sep).join('/'))
const isInternalTagged = (decl) => ts.getJSDocTags(decl).some((t) => t.tagName.text === 'internal') ||
  // `/** @internal */ readonly x` on a constructor parameter property
  /@internal/.test(decl.getFullText().slice(0, decl.getLeadingTriviaWidth()))

/** @returns {{ internal: string[], kept: Map<string, string> }} */
export function internalNames() {
  const configPath = join(root, 'packages/client/tsconfig.json')
  const config = ts.getParsedCommandLineOfConfigFile(configPath, {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} })
  const program = ts.createProgram({ rootNames: config.fileNames, options: { ...config.options, noEmit: true } })
  const checker = program.getTypeChecker()
  const own = program.getSourceFiles().filter((f) => f.fileName.startsWith(srcDir.split(sep).join('/')))

  const kept = new Map() // name → why it stays
  const keep = (name, why) => { if (!kept.has(name)) kept.set(name, why) }
  const seen = new Set()

  // 1. Every property name in src, and where each use resolves.
  const checkSymbol = (name, symbol, where) => {
    seen.add(name)
    const decls = symbol?.declarations ?? []
    if (decls.length === 0) return keep(name, `unresolved at ${where}`)
    for (const d of decls) if (!ownDeclaration(d)) return keep(name, `declared in ${d.getSourceFile().fileName.replace(root, '')}`)
  }
  // Every property name of `type` (and of the own types it reaches) stays: its objects cross
  // to or from code we do not minify.
  const reservedTypes = new Set()
  const reserveType = (type, why) => {
    const queue = [type]
    while (queue.length > 0) {
      const t = queue.shift()
      if (!t || reservedTypes.has(t)) continue
      reservedTypes.add(t)
      if (t.isUnionOrIntersection()) { queue.push(...t.types); continue }
      if (!(t.flags & ts.TypeFlags.Object)) continue
      queue.push(...(checker.getTypeArguments?.(t) ?? []), ...(t.aliasTypeArguments ?? []))
      const sym = t.getSymbol()
      if (sym?.declarations?.length && !sym.declarations.some(ownDeclaration)) continue
      for (const sig of [...t.getCallSignatures(), ...t.getConstructSignatures()]) {
        for (const p of sig.getParameters()) queue.push(checker.getTypeOfSymbol(p))
        queue.push(sig.getReturnType())
      }
      for (const info of checker.getIndexInfosOfType(t)) queue.push(info.type)
      for (const prop of checker.getPropertiesOfType(t)) {
        if (prop.name.startsWith('#') || prop.name.startsWith('__@')) continue
        keep(prop.name, why)
        queue.push(checker.getTypeOfSymbol(prop))
      }
    }
  }
  // Foreign unless provably ours: any, unknown, globalThis, lib and package types.
  const isForeign = (type) => {
    if (type.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) return true
    if (type.isUnionOrIntersection()) return type.types.some(isForeign)
    if (!(type.flags & ts.TypeFlags.Object)) return false
    const decls = type.getSymbol()?.declarations ?? []
    return decls.length === 0 || !decls.every(ownDeclaration)
  }
  // Lib functions that read an object's keys by name; other lib calls (Set.add, Promise.all)
  // only store or pass values.
  const KEY_READERS = new Set(['stringify', 'keys', 'entries', 'values', 'assign', 'fromEntries', 'structuredClone', 'postMessage', 'getOwnPropertyNames', 'freeze'])
  const isLib = (decl) => /[\\/]typescript[\\/]lib[\\/]/.test(decl.getSourceFile().fileName)
  const visit = (node, sf) => {
    const where = () => `${sf.fileName.replace(root, '')}:${sf.getLineAndCharacterOfPosition(node.getStart()).line + 1}`
    if (ts.isPropertyAccessExpression(node) && ts.isIdentifier(node.name)) {
      checkSymbol(node.name.text, checker.getSymbolAtLocation(node.name), where())
    } else if ((ts.isPropertyAssignment(node) || ts.isShorthandPropertyAssignment(node) || ts.isMethodDeclaration(node) || ts.isGetAccessor(node) || ts.isSetAccessor(node)) &&
      node.name && ts.isIdentifier(node.name) && ts.isObjectLiteralExpression(node.parent)) {
      const name = node.name.text
      seen.add(name)
      // The literal's key must also be ours in the type it is passed as.
      const contextual = checker.getContextualType(node.parent)
      const types = contextual ? (contextual.isUnion() ? contextual.types : [contextual]) : []
      for (const t of types) {
        const prop = checker.getPropertyOfType(checker.getApparentType(t), name)
        for (const d of prop?.declarations ?? []) if (!ownDeclaration(d)) keep(name, `key of a foreign type at ${where()}`)
        if (!prop && (t.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown) || checker.getIndexInfosOfType(t).length > 0)) keep(name, `key of an open type at ${where()}`)
      }
    } else if (ts.isBindingElement(node) && ts.isObjectBindingPattern(node.parent)) {
      const key = node.propertyName ?? node.name
      if (ts.isIdentifier(key)) {
        const type = checker.getTypeAtLocation(node.parent)
        const prop = checker.getPropertyOfType(checker.getApparentType(type), key.text)
        checkSymbol(key.text, prop, where())
      }
    } else if ((ts.isPropertyDeclaration(node) || ts.isPropertySignature(node) || ts.isMethodSignature(node) ||
      (ts.isMethodDeclaration(node) && !ts.isObjectLiteralExpression(node.parent)) || ((ts.isGetAccessor(node) || ts.isSetAccessor(node)) && !ts.isObjectLiteralExpression(node.parent))) &&
      ts.isIdentifier(node.name)) {
      seen.add(node.name.text)
      // A member overriding or implementing a foreign one (e.g. `Error.name`) keeps the foreign name.
      const cls = node.parent
      if (ts.isClassLike(cls)) {
        for (const base of cls.heritageClauses ?? []) for (const t of base.types) {
          const prop = checker.getPropertyOfType(checker.getTypeAtLocation(t), node.name.text)
          for (const d of prop?.declarations ?? []) if (!ownDeclaration(d)) keep(node.name.text, `overrides ${d.getSourceFile().fileName.replace(root, '')}`)
        }
      }
    } else if (ts.isParameter(node) && ts.isIdentifier(node.name) && node.modifiers?.some((m) => m.kind === ts.SyntaxKind.ReadonlyKeyword || m.kind === ts.SyntaxKind.PublicKeyword || m.kind === ts.SyntaxKind.PrivateKeyword || m.kind === ts.SyntaxKind.ProtectedKeyword)) {
      seen.add(node.name.text)
    } else if (ts.isElementAccessExpression(node) && ts.isStringLiteral(node.argumentExpression)) {
      keep(node.argumentExpression.text, `string key at ${where()}`)
    } else if (ts.isElementAccessExpression(node)) {
      // o[key]: every key of o may be looked up by its name.
      const type = checker.getTypeAtLocation(node.expression)
      if (!checker.isArrayLikeType(type)) for (const prop of checker.getPropertiesOfType(checker.getApparentType(type))) keep(prop.name, `dynamic key at ${where()}`)
    } else if ((ts.isAsExpression(node) || ts.isTypeAssertionExpression(node)) && isForeign(checker.getTypeAtLocation(node.expression))) {
      // A foreign or untyped value seen through our own type: its names are not ours.
      reserveType(checker.getTypeFromTypeNode(node.type), `cast of a foreign value at ${where()}`)
    } else if (ts.isForInStatement(node)) {
      reserveType(checker.getTypeAtLocation(node.expression), `for-in at ${where()}`)
    } else if ((ts.isCallExpression(node) || ts.isNewExpression(node)) && node.arguments?.length) {
      // Values handed to foreign code (JSON.stringify, Object.entries, realtime-js, postMessage)
      // and the parameters of callbacks it calls.
      const decl = checker.getResolvedSignature(node)?.declaration
      const name = decl && ts.isFunctionLike(decl) && decl.name && ts.isIdentifier(decl.name) ? decl.name.text : ''
      if (!decl || (!ownDeclaration(decl) && (!isLib(decl) || KEY_READERS.has(name)))) for (const arg of node.arguments) reserveType(checker.getTypeAtLocation(arg), `passed to foreign code at ${where()}`)
    } else if (ts.isBinaryExpression(node) && node.operatorToken.kind === ts.SyntaxKind.InKeyword && ts.isStringLiteral(node.left)) {
      keep(node.left.text, `'in' check at ${where()}`)
    }
    ts.forEachChild(node, (child) => visit(child, sf))
  }
  for (const sf of own) visit(sf, sf)

  // 2. The public API: every member reachable from an entry's exports, unless `@internal`.
  const walked = new Set()
  const queue = []
  const walkType = (type) => { if (type && !walked.has(type)) { walked.add(type); queue.push(type) } }
  const visitType = (type) => {
    if (!(type.flags & ts.TypeFlags.Object) && !type.isUnionOrIntersection()) return
    if (type.isUnionOrIntersection()) return type.types.forEach(walkType)
    for (const arg of checker.getTypeArguments?.(type) ?? []) walkType(arg)
    for (const arg of type.aliasTypeArguments ?? []) walkType(arg)
    // Members of foreign types (Promise, Map, RealtimeClient) are foreign names: only their arguments matter.
    const sym = type.getSymbol()
    if (sym?.declarations?.length && !sym.declarations.some(ownDeclaration)) return
    for (const sig of [...type.getCallSignatures(), ...type.getConstructSignatures()]) {
      if (sig.declaration && ownDeclaration(sig.declaration) && isInternalTagged(sig.declaration)) continue
      for (const p of sig.getParameters()) walkType(checker.getTypeOfSymbol(p))
      walkType(sig.getReturnType())
    }
    for (const info of checker.getIndexInfosOfType(type)) walkType(info.type)
    for (const prop of checker.getPropertiesOfType(type)) {
      const decls = prop.declarations ?? []
      if (prop.name.startsWith('#') || prop.name.startsWith('__@')) continue
      if (decls.length > 0 && decls.every((d) => ownDeclaration(d) && isInternalTagged(d))) continue
      keep(prop.name, `public API (${checker.typeToString(type).slice(0, 60)})`)
      walkType(checker.getTypeOfSymbol(prop))
    }
    for (const base of type.getBaseTypes?.() ?? []) walkType(base)
  }
  for (const entry of ENTRIES) {
    const sf = program.getSourceFile(join(srcDir, entry).split(sep).join('/'))
    for (let sym of checker.getExportsOfModule(checker.getSymbolAtLocation(sf))) {
      if (sym.flags & ts.SymbolFlags.Alias) sym = checker.getAliasedSymbol(sym)
      const decl = sym.declarations?.[0]
      if (!decl) continue
      walkType(checker.getDeclaredTypeOfSymbol(sym)) // classes, interfaces, aliases
      walkType(checker.getTypeOfSymbolAtLocation(sym, decl)) // values: functions, constructors, objects
    }
  }
  while (queue.length > 0) visitType(queue.shift())

  // 3. Words of the code we do not control or that must run against the dist.
  const foreign = words([
    ...files(join(root, 'node_modules/@supabase/realtime-js/dist/module'), ['.d.ts']),
    ...files(join(root, 'node_modules/@supabase/phoenix'), ['.d.ts']),
    ...files(join(root, 'packages/protocol/src'), ['.ts']),
    // The only files that reach into realtime-js internals through casts (see their headers).
    join(srcDir, 'socket-events.ts'),
    join(srcDir, 'raw-messages.ts'),
  ])
  const consumers = words([
    ...files(join(root, 'packages/react/src'), ['.ts', '.tsx']),
    ...files(join(root, 'apps'), ['.ts', '.tsx']),
  ])
  for (const name of seen) {
    if (foreign.has(name)) keep(name, 'used by realtime-js or the protocol')
    else if (consumers.has(name)) keep(name, 'used by packages/react or an app')
  }
  const internal = [...seen].filter((n) => !kept.has(n) && n.length > 1).sort()
  return { internal, kept }
}

//   node packages/client/scripts/feature-cost/internal-names.mjs [--why]
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { internal, kept } = internalNames()
  console.log(`internal (${internal.length}): ${internal.join(' ')}`)
  if (process.argv.includes('--why')) for (const [n, why] of [...kept].sort()) console.log(`kept ${n}: ${why}`)
}
