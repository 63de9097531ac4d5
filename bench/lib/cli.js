/** Command-line options of the benchmark scripts: `--name value` and bare `--flag`. */
export const argv = process.argv.slice(2)

/** The value after `--name`, or `fallback` when the option is absent. */
export const option = (name, fallback) => {
  const i = argv.indexOf(`--${name}`)
  return i >= 0 ? argv[i + 1] : fallback
}

/** Whether `--name` is present. */
export const flag = (name) => argv.includes(`--${name}`)
