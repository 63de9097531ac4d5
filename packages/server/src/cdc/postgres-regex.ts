/**
 * Postgres's pattern dialects, translated to RE2 syntax: the regular expressions of `~` / `~*`
 * (Postgres "ARE", Henry Spencer's engine) and `LIKE` / `ILIKE`. Pure; text-pattern.ts runs the
 * result on a linear-time engine.
 *
 * A filter only asks "does the value contain a match" (`~` is an unanchored search), and that
 * answer does not depend on how an engine picks among matches (POSIX leftmost-longest in
 * Postgres, leftmost-first in RE2): for patterns without back references or lookahead it is
 * membership in a regular language, which RE2 decides exactly. So the translation keeps the
 * language and drops everything else (every group becomes non-capturing).
 *
 * Where the dialects differ, the translation follows Postgres (docs: "9.7.3 POSIX Regular
 * Expressions"):
 *
 *   Postgres ARE                 RE2 emitted                  why
 *   `.`, `[^x]`                  `.` with DOTALL, `[^x]`      ARE's `.` matches a newline
 *   `^` `$`                      `^` `$` (not multiline)      both anchor the whole string
 *   `\b` `\B`                    `\x{8}` `\\`                 backspace and backslash in ARE
 *   `\a \e \cX \uXXXX \xhh…`     `\x{…}`                      character-entry escapes
 *   `\Z`                         `\z`                         end of string
 *   `{` not before a digit       `\{`                         literal in ARE
 *   `\w`, `[[:alpha:]]`, …       Unicode categories           see CLASSES
 *   `***=…`, `(?q)`              quoted literal               directors / embedded options
 *   `(?n)` `(?p)` `(?w)`         MULTILINE / no DOTALL        newline-sensitive modes
 *   `(?x)`                       whitespace and #comments dropped
 *   `(?<=…)` `(?<!…)`            same, LOOKBEHINDS flag       re2js runs them in linear time
 *
 * Refused, because no linear-time engine can run them or RE2 has no equivalent: back references
 * (`\1`; also octal escapes, which share their syntax), lookahead (`(?=…)`, `(?!…)`), the
 * word-boundary constraints `\m \M \y \Y [[:<:]] [[:>:]]` (they need lookahead), `\D \S \W`
 * inside brackets, multi-character collating elements, and the `b`/`e` options (BRE/ERE).
 *
 * The input is assumed to be a valid Postgres regex: binding-validator.ts asks Postgres first,
 * so syntax errors carry Postgres's own message. The translator still refuses what it does not
 * understand rather than guessing.
 */

export interface Re2Pattern {
  /** RE2 syntax. */
  source: string
  caseInsensitive: boolean
  /** `.` matches a newline (ARE's default). */
  dotAll: boolean
  /** `^`/`$` also match at line breaks (newline-sensitive modes). */
  multiline: boolean
  /** The pattern has lookbehind constraints (re2js evaluates them only when asked to). */
  lookbehinds: boolean
}

export type TranslateResult = { ok: true; value: Re2Pattern } | { ok: false; error: string }

/**
 * What Postgres's character classes contain, as RE2 class items. Measured against Postgres 18
 * under `C.UTF-8` (Supabase's locale; classes then follow glibc's Unicode tables), code point
 * by code point: digit, space, blank, cntrl, xdigit and ascii are exact; punct, graph and print
 * contain every code point Postgres's do. The letter classes use Unicode general categories,
 * which agree with glibc on ASCII and on the letters of living scripts; they differ on some
 * combining marks (glibc counts e.g. U+05B0 as alpha, so punct has a few extra), on non-ASCII
 * digits (alpha in glibc) and on letters newer than glibc's tables. Postgres under the `C`
 * locale has ASCII-only classes.
 */
const SPACE = '\\t\\n\\x{b}\\f\\r \\x{1680}\\x{2000}-\\x{2006}\\x{2008}-\\x{200a}\\x{2028}\\x{2029}\\x{205f}\\x{3000}'
/** What glibc counts as graphic (so punct, graph, print) beyond letters, marks, numbers, punctuation and symbols. */
const GLIBC_GRAPHIC_OTHERS = '\\p{Cf}\\p{Co}\\x{a0}\\x{2007}\\x{202f}'
const GRAPH = `\\p{L}\\p{M}\\p{N}\\p{P}\\p{S}${GLIBC_GRAPHIC_OTHERS}`
const CLASSES: Readonly<Record<string, string>> = {
  alnum: '\\p{L}\\p{Nl}\\p{Nd}',
  alpha: '\\p{L}\\p{Nl}',
  ascii: '\\x{0}-\\x{7f}',
  blank: ' \\t',
  cntrl: '\\x{0}-\\x{1f}\\x{7f}-\\x{9f}',
  digit: '0-9',
  graph: GRAPH,
  lower: '\\p{Ll}',
  print: `${GRAPH} \\x{1680}\\x{2000}-\\x{2006}\\x{2008}-\\x{200a}\\x{205f}\\x{3000}`,
  punct: `\\p{P}\\p{S}\\p{M}\\p{No}${GLIBC_GRAPHIC_OTHERS}`,
  space: SPACE,
  upper: '\\p{Lu}\\p{Lt}',
  word: '\\p{L}\\p{Nl}\\p{Nd}_',
  xdigit: '0-9A-Fa-f',
}

/** Class-shorthand escapes (`\d` …) by letter. */
const SHORTHANDS: Readonly<Record<string, string>> = { d: 'digit', s: 'space', w: 'word' }

/** Character-entry escapes with a fixed value. */
const ENTRY_ESCAPES: Readonly<Record<string, number>> = { a: 0x07, b: 0x08, B: 0x5c, e: 0x1b, f: 0x0c, n: 0x0a, r: 0x0d, t: 0x09, v: 0x0b }

/** Named collating elements Postgres knows (regc_locale.c) that name one printable character. */
const NAMED_ELEMENTS: Readonly<Record<string, string>> = {
  space: ' ', 'exclamation-mark': '!', 'quotation-mark': '"', 'number-sign': '#', 'dollar-sign': '$',
  'percent-sign': '%', ampersand: '&', apostrophe: "'", 'left-parenthesis': '(', 'right-parenthesis': ')',
  asterisk: '*', 'plus-sign': '+', comma: ',', hyphen: '-', 'hyphen-minus': '-', period: '.', 'full-stop': '.',
  slash: '/', solidus: '/', zero: '0', one: '1', two: '2', three: '3', four: '4', five: '5', six: '6', seven: '7',
  eight: '8', nine: '9', colon: ':', semicolon: ';', 'less-than-sign': '<', 'equals-sign': '=', 'greater-than-sign': '>',
  'question-mark': '?', 'commercial-at': '@', 'left-square-bracket': '[', backslash: '\\', 'reverse-solidus': '\\',
  'right-square-bracket': ']', circumflex: '^', 'circumflex-accent': '^', underscore: '_', 'low-line': '_',
  'grave-accent': '`', 'left-brace': '{', 'left-curly-bracket': '{', 'vertical-line': '|', 'right-brace': '}',
  'right-curly-bracket': '}', tilde: '~', tab: '\t', newline: '\n', 'carriage-return': '\r', NUL: '\0',
}

/** One code point as an RE2 literal, inside or outside brackets. */
function literal(cp: number): string {
  if ((cp >= 0x30 && cp <= 0x39) || (cp >= 0x41 && cp <= 0x5a) || (cp >= 0x61 && cp <= 0x7a) || cp === 0x5f) return String.fromCodePoint(cp)
  // ASCII punctuation may always be escaped in RE2; everything else goes in as a code point.
  if ((cp >= 0x21 && cp <= 0x2f) || (cp >= 0x3a && cp <= 0x40) || (cp >= 0x5b && cp <= 0x60) || (cp >= 0x7b && cp <= 0x7e)) return `\\${String.fromCodePoint(cp)}`
  return `\\x{${cp.toString(16)}}`
}

const quote = (cps: readonly number[]) => cps.map(literal).join('')

class Unsupported extends Error {}

const isDigit = (cp: number | undefined) => cp !== undefined && cp >= 0x30 && cp <= 0x39
const isHex = (cp: number | undefined) => cp !== undefined && /^[0-9A-Fa-f]$/.test(String.fromCodePoint(cp))
const isAlpha = (cp: number | undefined) => cp !== undefined && ((cp >= 0x41 && cp <= 0x5a) || (cp >= 0x61 && cp <= 0x7a))
const isAlnum = (cp: number | undefined) => isDigit(cp) || isAlpha(cp)
/** Postgres's expanded-syntax white space (ASCII isspace). */
const isSpace = (cp: number | undefined) => cp === 0x20 || (cp !== undefined && cp >= 0x09 && cp <= 0x0d)

/** A class item string for `name` (`[:name:]` or a shorthand), honouring case-insensitivity. */
function classItems(name: string, caseInsensitive: boolean): string {
  // Postgres: under case-insensitive matching [:upper:] and [:lower:] are [:alpha:].
  if (caseInsensitive && (name === 'upper' || name === 'lower')) return CLASSES.alpha!
  const items = CLASSES[name]
  if (items === undefined) throw new Unsupported(`character class [:${name}:]`)
  return items
}

/**
 * Translates a Postgres regex (`value ~ pattern`, `~*` when `caseInsensitive`) to RE2 syntax,
 * or says which construct cannot be translated.
 *
 * @example
 *   translatePostgresRegex('^\\w+\\b$', false)
 *   // { ok: true, value: { source: '^[\\p{L}\\p{Nl}\\p{Nd}_]+\\x{8}$', dotAll: true, … } }
 */
export function translatePostgresRegex(pattern: string, caseInsensitive: boolean): TranslateResult {
  try {
    return { ok: true, value: new RegexTranslator(pattern, caseInsensitive).translate() }
  } catch (error) {
    if (error instanceof Unsupported) return { ok: false, error: `unsupported regular expression: ${error.message} has no linear-time evaluation here` }
    throw error
  }
}

class RegexTranslator {
  readonly #cps: number[]
  #i = 0
  #caseInsensitive: boolean
  #dotAll = true
  #multiline = false
  #expanded = false
  #lookbehinds = false

  constructor(pattern: string, caseInsensitive: boolean) {
    this.#cps = Array.from(pattern, (ch) => ch.codePointAt(0)!)
    this.#caseInsensitive = caseInsensitive
  }

  #peek(offset = 0): number | undefined {
    return this.#cps[this.#i + offset]
  }

  #startsWith(text: string): boolean {
    return [...text].every((ch, k) => this.#peek(k) === ch.codePointAt(0))
  }

  #result(source: string): Re2Pattern {
    return { source, caseInsensitive: this.#caseInsensitive, dotAll: this.#dotAll, multiline: this.#multiline, lookbehinds: this.#lookbehinds }
  }

  translate(): Re2Pattern {
    // Directors: `***=` makes the rest a literal, `***:` says "ARE" (which it is anyway).
    if (this.#startsWith('***=')) return this.#result(quote(this.#cps.slice(4)))
    if (this.#startsWith('***:')) this.#i = 4
    if (this.#readEmbeddedOptions()) return this.#result(quote(this.#cps.slice(this.#i)))
    let out = ''
    while (this.#i < this.#cps.length) {
      const cp = this.#cps[this.#i]!
      if (this.#expanded && this.#skipExpandedSpace()) continue
      this.#i++
      const ch = String.fromCodePoint(cp)
      switch (ch) {
        case '\\': out += this.#escape(false); break
        case '[': out += this.#bracket(); break
        case '(': out += this.#groupOpen(); break
        case ')': case '|': case '*': case '+': case '?': case '.': case '^': case '$': out += ch; break
        case '{': out += isDigit(this.#peek()) ? this.#bound() : '\\{'; break
        default: out += literal(cp)
      }
    }
    return this.#result(out)
  }

  /** `(?xyz)` at the start; true when it was `q` (the rest is a literal). */
  #readEmbeddedOptions(): boolean {
    if (!this.#startsWith('(?') || !isAlpha(this.#peek(2))) return false
    this.#i += 2
    let literalRest = false
    while (isAlpha(this.#peek())) {
      const option = String.fromCodePoint(this.#cps[this.#i++]!)
      switch (option) {
        case 'i': this.#caseInsensitive = true; break
        case 'c': this.#caseInsensitive = false; break
        case 'n': case 'm': this.#dotAll = false; this.#multiline = true; break
        case 'p': this.#dotAll = false; this.#multiline = false; break
        case 'w': this.#dotAll = true; this.#multiline = true; break
        case 's': this.#dotAll = true; this.#multiline = false; break
        case 'x': this.#expanded = true; break
        case 't': this.#expanded = false; break
        case 'q': literalRest = true; break
        default: throw new Unsupported(`the embedded option "${option}"`)
      }
    }
    if (this.#peek() !== 0x29) throw new Unsupported('an unterminated embedded option')
    this.#i++
    return literalRest
  }

  /** Expanded syntax (`(?x)`): white space and `#` comments outside brackets are not part of the pattern. */
  #skipExpandedSpace(): boolean {
    const cp = this.#peek()
    if (isSpace(cp)) { this.#i++; return true }
    if (cp === 0x23) {
      while (this.#i < this.#cps.length && this.#cps[this.#i] !== 0x0a) this.#i++
      return true
    }
    return false
  }

  /** `(` already read. Every group becomes non-capturing: only whether something matches counts. */
  #groupOpen(): string {
    if (this.#peek() !== 0x3f) return '(?:'
    if (this.#startsWith('?:')) { this.#i += 2; return '(?:' }
    if (this.#startsWith('?<=') || this.#startsWith('?<!')) {
      const neg = this.#peek(2) === 0x21
      this.#i += 3
      this.#lookbehinds = true
      return neg ? '(?<!' : '(?<='
    }
    if (this.#startsWith('?=') || this.#startsWith('?!')) throw new Unsupported('a lookahead constraint (?= or (?!')
    throw new Unsupported('the group syntax "(?"')
  }

  /** `{` already read, a digit next: `{m}`, `{m,}`, `{m,n}` (Postgres checked the counts). */
  #bound(): string {
    let text = '{'
    while (this.#i < this.#cps.length) {
      const ch = String.fromCodePoint(this.#cps[this.#i++]!)
      if (!/[0-9,}]/.test(ch)) throw new Unsupported(`the bound "${text}${ch}"`)
      text += ch
      if (ch === '}') return text
    }
    throw new Unsupported('an unterminated bound')
  }

  /** `\` already read. Inside brackets only character entries and `\d \s \w` are allowed. */
  #escape(inBracket: boolean): string {
    const cp = this.#peek()
    if (cp === undefined) throw new Unsupported('a trailing backslash')
    this.#i++
    const ch = String.fromCodePoint(cp)
    const shorthand = SHORTHANDS[ch.toLowerCase()]
    if (shorthand !== undefined) {
      const items = classItems(shorthand, false)
      if (ch === ch.toLowerCase()) return inBracket ? items : `[${items}]`
      if (inBracket) throw new Unsupported(`\\${ch} inside brackets`)
      return `[^${items}]`
    }
    if (!inBracket && ch === 'A') return '\\A'
    if (!inBracket && ch === 'Z') return '\\z'
    return literal(this.#escapedChar(ch, cp))
  }

  /** The character an escape that is not a class or a constraint stands for (its letter already read). */
  #escapedChar(ch: string, cp: number): number {
    const entry = this.#entryEscape(ch)
    if (entry !== null) return entry
    if ('mMyY'.includes(ch)) throw new Unsupported(`the word-boundary constraint \\${ch}`)
    if (isDigit(cp)) throw new Unsupported(`the back reference or octal escape \\${ch}`)
    if (isAlnum(cp)) throw new Unsupported(`the escape \\${ch}`)
    return cp
  }

  /** The code point a character-entry escape stands for (the letter already read), or null. */
  #entryEscape(ch: string): number | null {
    const fixed = ENTRY_ESCAPES[ch]
    if (fixed !== undefined) return fixed
    if (ch === 'c') {
      const x = this.#peek()
      if (x === undefined) throw new Unsupported('a trailing \\c')
      this.#i++
      return x & 0x1f
    }
    if (ch === 'u' || ch === 'U' || ch === 'x') {
      const max = ch === 'u' ? 4 : ch === 'U' ? 8 : Infinity
      let hex = ''
      while (hex.length < max && isHex(this.#peek())) hex += String.fromCodePoint(this.#cps[this.#i++]!)
      if (hex === '' || (max !== Infinity && hex.length !== max)) throw new Unsupported(`the escape \\${ch}${hex}`)
      const value = parseInt(hex, 16)
      if (value > 0x10ffff) throw new Unsupported(`the escape \\${ch}${hex}`)
      return value
    }
    return null
  }

  /** `[` already read: a bracket expression, up to its `]`. */
  #bracket(): string {
    let negate = false
    if (this.#peek() === 0x5e) { negate = true; this.#i++ }
    let items = ''
    let first = true
    for (;;) {
      const cp = this.#peek()
      if (cp === undefined) throw new Unsupported('an unterminated bracket expression')
      if (cp === 0x5d && !first) { this.#i++; break }
      first = false
      const start = this.#element()
      if (start.kind === 'items') { items += start.text; continue }
      // A range: `a-z` (a `-` before the closing `]` is a literal).
      if (this.#peek() === 0x2d && this.#peek(1) !== undefined && this.#peek(1) !== 0x5d) {
        this.#i++
        const end = this.#element()
        if (end.kind !== 'char') throw new Unsupported('a range ending in a character class')
        items += `${literal(start.cp)}-${literal(end.cp)}`
      } else {
        items += literal(start.cp)
      }
    }
    // Newline-sensitive modes: a negated bracket never matches a newline.
    if (negate && !this.#dotAll) items += '\\n'
    return `[${negate ? '^' : ''}${items}]`
  }

  /** One element of a bracket expression: a character, or class items. */
  #element(): { kind: 'char'; cp: number } | { kind: 'items'; text: string } {
    const cp = this.#cps[this.#i++]!
    if (cp === 0x5c) {
      const next = this.#peek()
      if (next === undefined) throw new Unsupported('a trailing backslash')
      const letter = String.fromCodePoint(next)
      if (SHORTHANDS[letter.toLowerCase()] !== undefined) return { kind: 'items', text: this.#escape(true) }
      this.#i++
      return { kind: 'char', cp: this.#escapedChar(letter, next) }
    }
    if (cp === 0x5b && (this.#peek() === 0x3a || this.#peek() === 0x2e || this.#peek() === 0x3d)) {
      const delimiter = this.#cps[this.#i++]!
      const nameStart = this.#i
      while (this.#i < this.#cps.length && !(this.#cps[this.#i] === delimiter && this.#cps[this.#i + 1] === 0x5d)) this.#i++
      if (this.#i >= this.#cps.length) throw new Unsupported('an unterminated [: :], [. .] or [= =]')
      const name = String.fromCodePoint(...this.#cps.slice(nameStart, this.#i))
      this.#i += 2
      if (delimiter === 0x3a) {
        if (name === '<' || name === '>') throw new Unsupported(`the word-boundary constraint [[:${name}:]]`)
        return { kind: 'items', text: classItems(name, this.#caseInsensitive) }
      }
      // [.x.] is the character x (Postgres has no multi-character collating elements), and so
      // is [=x=] (no equivalence classes beyond the character itself).
      const chars = Array.from(NAMED_ELEMENTS[name] ?? name)
      if (chars.length !== 1) throw new Unsupported(`the collating element [${String.fromCodePoint(delimiter)}${name}${String.fromCodePoint(delimiter)}]`)
      return { kind: 'char', cp: chars[0]!.codePointAt(0)! }
    }
    return { kind: 'char', cp }
  }

}

/**
 * Translates a LIKE pattern (`ILIKE` when `caseInsensitive`; backslash is the escape, as in
 * Postgres's default) to an anchored RE2 pattern: `%` any run, `_` one character.
 */
export function translateLike(pattern: string, caseInsensitive: boolean): TranslateResult {
  const cps = Array.from(pattern, (ch) => ch.codePointAt(0)!)
  let out = '\\A'
  let anyRun = false // the last item was `%` (a run of them is one `.*`)
  for (let i = 0; i < cps.length; i++) {
    const cp = cps[i]!
    if (cp === 0x25) {
      if (!anyRun) out += '.*'
      anyRun = true
      continue
    }
    anyRun = false
    if (cp === 0x5c) {
      if (i + 1 >= cps.length) return { ok: false, error: 'invalid LIKE pattern: LIKE pattern must not end with escape character' }
      out += literal(cps[++i]!)
    } else {
      out += cp === 0x5f ? '.' : literal(cp)
    }
  }
  return { ok: true, value: { source: `${out}\\z`, caseInsensitive, dotAll: true, multiline: false, lookbehinds: false } }
}
