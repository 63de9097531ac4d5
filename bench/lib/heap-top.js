#!/usr/bin/env node
/**
 * The allocation sites with the most sampled bytes in a heap profile written by heap-sample.mjs,
 * and the heaviest call paths (5 frames) that led to them.
 *
 * Usage: node bench/lib/heap-top.js FILE.json [--top 25]
 */
import { readFileSync } from 'node:fs'
import { argv, option } from './cli.js'

const file = argv.find((a) => a.endsWith('.json'))
if (!file) throw new Error('usage: node bench/lib/heap-top.js FILE.json [--top 25]')
const top = Number(option('top', 25))
const profile = JSON.parse(readFileSync(file, 'utf8'))
const bySite = new Map()
const byPath = new Map()
const frameName = ({ functionName, url, lineNumber }) => `${functionName || '(anonymous)'} ${url.split('/').slice(-2).join('/')}:${lineNumber + 1}`
const add = (map, key, bytes) => map.set(key, (map.get(key) ?? 0) + bytes)

;(function walk(node, path) {
  const here = [...path, frameName(node.callFrame)]
  if (node.selfSize > 0) {
    add(bySite, here.at(-1), node.selfSize)
    add(byPath, here.slice(-5).reverse().join(' < '), node.selfSize)
  }
  for (const child of node.children) walk(child, here)
})(profile.head, [])

const total = [...bySite.values()].reduce((a, b) => a + b, 0)
const mb = (bytes) => (bytes / 1e6).toFixed(2).padStart(8)
console.log(`${mb(total)} MB sampled in all`)
for (const [site, bytes] of [...bySite].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${mb(bytes)}  ${site}`)
console.log('\nheaviest paths (allocation site first):')
for (const [path, bytes] of [...byPath].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${mb(bytes)}  ${path}`)
