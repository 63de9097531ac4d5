/**
 * Applying postgres changes to cached query data: pure functions, no React, no TanStack.
 *
 * Shapes that can be patched:
 *   - a plain list                      `T[]`
 *   - an infinite query                 `{ pages: P[], pageParams }` where every page is either
 *                                       `T[]` or an object with an `items` or `data` array
 *                                       (`{ items: T[], nextCursor }`); other page fields are kept.
 * Anything else (an object, a single row, a number) is {@link UNPATCHABLE}: the caller
 * invalidates that query instead.
 *
 * Rules, by primary key (compared as strings, so `42` and `'42'` match):
 *   INSERT  replaces the row if present, else adds it: first (newestFirst) or last of a list;
 *           into the first page (newestFirst) or the last page of an infinite query.
 *   UPDATE  merges into the row if present (`{ ...old, ...new }`, so client-side fields survive);
 *           a list that lacks it gains it (the row now matches the filter); an infinite query
 *           that lacks it ignores it (the row lives on a page not loaded yet).
 *   DELETE  removes the row (the key comes from `old`, which always holds the primary key).
 * Unchanged data keeps its identity (structural sharing), so unaffected queries do not render.
 */
import type { Change } from './use-entity-lease.js'

export interface PatchOptions {
  /** Primary key column. Default `id`. */
  primaryKey?: string
  /** New rows go first (a chat, a feed). Default false: new rows go last. */
  newestFirst?: boolean
}

/** Returned for data whose shape cannot be patched. */
export const UNPATCHABLE: unique symbol = Symbol('unpatchable')

type Row = Record<string, unknown>
type Page = Row[] | Record<string, unknown>

const keyOf = (row: Row | undefined, pk: string): string | undefined => {
  const value = row?.[pk]
  return value === undefined || value === null ? undefined : String(value)
}

/** The array inside a page and how to put a new one back, or undefined for an unknown shape. */
function pageItems(page: unknown): { items: Row[]; with: (items: Row[]) => Page } | undefined {
  if (Array.isArray(page)) return { items: page as Row[], with: (items) => items }
  if (page && typeof page === 'object') {
    for (const field of ['items', 'data'] as const) {
      const items = (page as Record<string, unknown>)[field]
      if (Array.isArray(items)) return { items: items as Row[], with: (next) => ({ ...(page as object), [field]: next }) }
    }
  }
  return undefined
}

function isInfinite(data: unknown): data is { pages: unknown[]; pageParams?: unknown[] } {
  return !!data && typeof data === 'object' && Array.isArray((data as { pages?: unknown }).pages)
}

/** Applies `changes` in order; returns the same reference when nothing changed. */
export function applyChanges<T>(data: T, changes: readonly Change[], options: PatchOptions = {}): T | typeof UNPATCHABLE {
  const pk = options.primaryKey ?? 'id'
  const newestFirst = options.newestFirst ?? false
  if (Array.isArray(data)) {
    let list = data as Row[]
    for (const change of changes) list = patchPages([list], change, pk, newestFirst, true)[0] as Row[]
    return list as T
  }
  if (isInfinite(data)) {
    const views = data.pages.map(pageItems)
    if (views.some((v) => v === undefined)) return UNPATCHABLE
    let lists = views.map((v) => v!.items)
    for (const change of changes) lists = patchPages(lists, change, pk, newestFirst, false)
    if (lists.every((items, i) => items === views[i]!.items)) return data
    return { ...data, pages: lists.map((items, i) => (items === views[i]!.items ? data.pages[i] : views[i]!.with(items))) } as T
  }
  return UNPATCHABLE
}

/** One change over the pages of one query (a plain list is a single page). */
function patchPages(pages: Row[][], change: Change, pk: string, newestFirst: boolean, upsertOnUpdate: boolean): Row[][] {
  const isDelete = change.eventType === 'DELETE'
  const row = (isDelete ? change.old : change.new) as Row
  const key = keyOf(row, pk) ?? keyOf(change.old as Row, pk)
  if (key === undefined) return pages
  for (let p = 0; p < pages.length; p++) {
    const items = pages[p]!
    const index = items.findIndex((item) => keyOf(item, pk) === key)
    if (index === -1) continue
    const next = [...items]
    if (isDelete) next.splice(index, 1)
    else next[index] = change.eventType === 'UPDATE' ? { ...items[index], ...row } : row
    const out = [...pages]
    out[p] = next
    return out
  }
  if (isDelete || (change.eventType === 'UPDATE' && !upsertOnUpdate)) return pages
  if (pages.length === 0) return pages // an infinite query with no page loaded: nothing to add to
  const out = [...pages]
  const target = newestFirst ? 0 : pages.length - 1
  out[target] = newestFirst ? [row, ...pages[target]!] : [...pages[target]!, row]
  return out
}
