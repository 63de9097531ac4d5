/**
 * The benchmark's child processes, parent side: `node <script>` pinned to one core with
 * `taskset` (where it exists and there are two cores), with an IPC channel. The protocol (the
 * child side is serve() in child-ipc.js):
 *  - the child reports `{ ready: true, … }` once it is set up: `ready` resolves with that message
 *    (and rejects if the child exits first);
 *  - `call(cmd, args)` sends `{ id, cmd, …args }`; the child answers `{ id, … }` (or
 *    `{ id, error }`, which rejects). Calls still waiting when the child exits reject.
 */
import { spawn, spawnSync } from 'node:child_process'
import { availableParallelism } from 'node:os'
import { basename } from 'node:path'

/** Whether children can be pinned to a core (taskset present, at least two cores). */
export const canPin = availableParallelism() >= 2 && spawnSync('taskset', ['-c', '0', 'true']).status === 0

/** Pins the running process `pid` (every thread) to `core`; false where that did not work. */
export function pinRunning(pid, core) {
  return spawnSync('taskset', ['-a', '-p', '-c', core, String(pid)]).status === 0
}

/**
 * Spawns `node [execArgv] <file> [args]` on core `core` (a taskset core list, e.g. '0').
 * `slowWarningMs`: log a line when a call has waited that long for its answer.
 */
export function spawnNode(file, { args = [], core, env = {}, execArgv = [], slowWarningMs = null } = {}) {
  const name = [basename(file), ...args].join(' ')
  const command = canPin ? 'taskset' : process.execPath
  const commandArgs = [...(canPin ? ['-c', core, process.execPath] : []), ...execArgv, file, ...args]
  const child = spawn(command, commandArgs, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: { ...process.env, ...env } })
  let nextId = 1
  const waiting = new Map()
  let onReady
  const ready = new Promise((resolve, reject) => {
    onReady = resolve
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code} before it was ready`)))
  })
  child.on('message', (message) => {
    if (message.ready) return onReady(message)
    const entry = waiting.get(message.id)
    if (!entry) return
    waiting.delete(message.id)
    if (message.error) entry.reject(new Error(message.error))
    else entry.resolve(message)
  })
  child.on('exit', (code) => {
    for (const entry of waiting.values()) entry.reject(new Error(`${name} exited with ${code}`))
    waiting.clear()
  })
  const exited = new Promise((resolve) => child.once('exit', resolve))
  return {
    child,
    ready,
    call(cmd, callArgs = {}) {
      const id = nextId++
      return new Promise((resolve, reject) => {
        if (slowWarningMs === null) {
          waiting.set(id, { resolve, reject })
        } else {
          const slow = setTimeout(() => console.log(`  (still waiting for ${name} to answer ${cmd})`), slowWarningMs)
          waiting.set(id, {
            resolve: (value) => (clearTimeout(slow), resolve(value)),
            reject: (error) => (clearTimeout(slow), reject(error)),
          })
        }
        child.send({ id, cmd, ...callArgs })
      })
    },
    exited,
    kill: () => child.kill('SIGKILL'),
    /** Asks the child to end with `cmd` and waits for it to exit; SIGKILL after `killAfterMs`. */
    async stop(cmd, killAfterMs = 5_000) {
      if (child.exitCode !== null || child.signalCode !== null) return
      const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs)
      await Promise.race([this.call(cmd).catch(() => {}), exited])
      await exited
      clearTimeout(timer)
    },
  }
}
