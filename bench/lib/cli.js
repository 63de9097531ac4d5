/** Command-line options of the benchmark scripts: `--name value` and bare `--flag`. */
export const argv = process.argv.slice(2)

/** The value after `--name`, or `fallback` when the option is absent. */
export const option = (name, fallback) => {
  const i = argv.indexOf(`--${name}`)
  return i >= 0 ? argv[i + 1] : fallback
}

/** Whether `--name` is present. */
export const flag = (name) => argv.includes(`--${name}`)

/**
 * `--help` / `-h`: prints the calling script's header comment (its usage and method) and exits,
 * so asking for help never starts a multi-minute run.
 */
export async function helpFromHeader(scriptUrl) {
  if (!flag('help') && !argv.includes('-h')) return
  const { readFileSync } = await import('node:fs')
  const source = readFileSync(new URL(scriptUrl), 'utf8')
  const header = /\/\*\*([\s\S]*?)\*\//.exec(source)?.[1] ?? ''
  console.log(header.split('\n').map((line) => line.replace(/^ \* ?/, '')).join('\n').trim())
  process.exit(0)
}
