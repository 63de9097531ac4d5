#!/usr/bin/env node
/**
 * The functions with the most self time in a `--cpu-prof` profile, as a share of the time the
 * process ran (idle excluded), with their script and line: the first thing to read in a profile.
 *
 * Usage: node bench/lib/profile-top.js FILE.cpuprofile [--top 30]
 */
import { readFileSync } from 'node:fs'
import { argv, option } from './cli.js'

const file = argv.find((a) => a.endsWith('.cpuprofile'))
if (!file) throw new Error('usage: node bench/lib/profile-top.js FILE.cpuprofile [--top 30]')
const top = Number(option('top', 30))
const profile = JSON.parse(readFileSync(file, 'utf8'))
const byId = new Map(profile.nodes.map((node) => [node.id, node]))
const self = new Map()
let running = 0
profile.samples.forEach((id, i) => {
  const { functionName, url, lineNumber } = byId.get(id).callFrame
  if (functionName === '(idle)' || functionName === '(program)') return
  const time = profile.timeDeltas[i] ?? 0
  running += time
  const key = `${functionName || '(anonymous)'}  ${url.replace(/^.*\/(node_modules|packages)\//, '$1/')}:${lineNumber + 1}`
  self.set(key, (self.get(key) ?? 0) + time)
})
console.log(`${file}: ${Math.round(running / 1000)} ms running`)
for (const [key, time] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  console.log(`${((100 * time) / running).toFixed(1).padStart(5)} %  ${key}`)
}
