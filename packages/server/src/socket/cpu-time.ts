/**
 * The CPU time this process has used so far, in milliseconds (user + system, all threads), for
 * measuring what a piece of work cost rather than how long it took: wall time also counts the
 * moments the process was not running (another process had the core, the VM's host took it).
 * The outbound queue paces its write rounds by it (outbound-queue.ts, "Paced write rounds").
 *
 * @example
 *   const before = cpu()
 *   doWork()
 *   const costMs = cpu() - before
 */
export type CpuTime = () => number

export const processCpuTime: CpuTime = () => {
  const { user, system } = process.cpuUsage()
  return (user + system) / 1000
}
