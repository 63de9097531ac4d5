/**
 * Heap sampling for a benchmark's server process: a preload (`--import`) that samples
 * allocations from start to exit and writes a V8 sampling heap profile.
 *
 * By default the profile keeps the objects that outlived a scavenge (what makes scavenges slow
 * and the old generation grow): those collected by a later mark-compact are kept, those a
 * scavenge collected are dropped. HEAP_SAMPLE_ALL=1 keeps every allocation instead.
 *
 *   BENCH_SERVER_NODE_ARGS='--import /abs/path/bench/lib/heap-sample.mjs' node bench/broadcast/run.js --fixed-only --only switchboard --reps 1
 *   node bench/lib/heap-top.js /tmp/heap-<pid>.json
 *
 * HEAP_SAMPLE_OUT names the file (default /tmp/heap-<pid>.json).
 */
import { Session } from 'node:inspector'
import { writeFileSync } from 'node:fs'

const session = new Session()
session.connect()
session.post('HeapProfiler.enable')
session.post('HeapProfiler.startSampling', {
  samplingInterval: 16_384,
  includeObjectsCollectedByMajorGC: true,
  includeObjectsCollectedByMinorGC: process.env.HEAP_SAMPLE_ALL === '1',
})

let written = false
// In-process inspector calls answer synchronously, so this works in an 'exit' handler.
const write = () => {
  if (written) return
  written = true
  session.post('HeapProfiler.stopSampling', (error, result) => {
    if (!error) writeFileSync(process.env.HEAP_SAMPLE_OUT ?? `/tmp/heap-${process.pid}.json`, JSON.stringify(result.profile))
  })
}
process.on('exit', write)
