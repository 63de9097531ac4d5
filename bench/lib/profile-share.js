/**
 * How much of a process's sampled CPU time (a `--cpu-prof` profile) went to some code: the
 * self time of the functions whose script URL matches, against all samples that ran (idle
 * excluded). A sampling profiler only samples a thread that runs, so the share holds on a busy
 * machine, where throughput does not.
 */
import { readFileSync } from 'node:fs'

/** Shares (0–1) of running time in functions whose URL matches each pattern, and in the garbage collector. */
export function profileShares(file, patterns) {
  const profile = JSON.parse(readFileSync(file, 'utf8'))
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const timeById = new Map()
  profile.samples.forEach((id, i) => timeById.set(id, (timeById.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)))
  let running = 0
  let gc = 0
  const matched = Object.fromEntries(Object.keys(patterns).map((name) => [name, 0]))
  for (const [id, time] of timeById) {
    const { functionName, url } = byId.get(id).callFrame
    if (functionName === '(idle)' || functionName === '(program)') continue
    running += time
    if (functionName === '(garbage collector)') gc += time
    for (const [name, pattern] of Object.entries(patterns)) if (pattern.test(url)) matched[name] += time
  }
  const share = (t) => (running > 0 ? t / running : 0)
  return { ...Object.fromEntries(Object.entries(matched).map(([name, t]) => [name, share(t)])), gc: share(gc), runningMs: Math.round(running / 1000) }
}
