/**
 * The benchmark's child processes, child side of the IPC protocol of child.js: answers each
 * `{ id, cmd, …args }` from the parent with `{ id, …(await handlers[cmd](args)) }`, or
 * `{ id, error }` when the handler throws (or there is none), then reports `{ ready: true, …ready }`.
 * After answering a command listed in `exitAfter`, the process exits (its handler cleans up first).
 */
export function serve(handlers, { ready = {}, exitAfter = [] } = {}) {
  process.on('message', async ({ id, cmd, ...args }) => {
    try {
      const handler = handlers[cmd]
      if (!handler) throw new Error(`unknown command ${cmd}`)
      const result = await handler(args)
      if (exitAfter.includes(cmd)) process.send({ id, ...result }, () => process.exit(0))
      else process.send({ id, ...result })
    } catch (error) {
      process.send({ id, error: String(error?.stack ?? error) })
    }
  })
  process.send({ ready: true, ...ready })
}
