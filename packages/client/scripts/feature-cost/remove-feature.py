"""Removes client features from a scratch copy of packages/client/src, for the feature-cost table
in packages/client/README.md. Exact text edits against the sources of commit 839c728 (session 2):
after the sources change, an edit that no longer matches stops with an error; update it then.
Run through run.sh, not directly:  scripts/feature-cost/run.sh <letters a-j> [loose]
  a positions/resume  b presence  c payload checks  d rate limiter  e browser signals
  f log calls  g stats/stores/counters  h config merging  i connect timeout  j messages → codes
"""
import sys, re, os
SRC = os.environ['LAB_SRC']  # the scratch copy's src/ (set by run.sh)
misses = []
def R(f, old, new='', strict=True):
    p = os.path.join(SRC, f)
    t = open(p).read()
    n = t.count(old)
    if n != 1:
        if STRICT: raise SystemExit(f'{f}: expected 1 match, got {n}: {old[:80]!r}')
        misses.append((f, n, old[:70])); return
    open(p, 'w').write(t.replace(old, new))
def RX(f, pat, new, flags=0):
    p = os.path.join(SRC, f); t = open(p).read()
    t2, n = re.subn(pat, new, t, flags=flags)
    open(p, 'w').write(t2); return n
def DEL(f):
    os.remove(os.path.join(SRC, f))

MC='managed-channel.ts'; MG='manager.ts'; CN='connection.ts'; IX='index.ts'

def a():
    R(MC, "import { onRawMessage } from './raw-messages.js'\n")
    R(MC, "/** A random id of this channel's stream across reconnects (the server skips its own broadcasts on replay). */\nconst newSession = (): string => globalThis.crypto?.randomUUID?.() ?? `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`\n")
    R(MC, """  readonly #session = newSession()
  #epoch: string | undefined
  #pos = -1
  readonly #posIds = new Set<string>()
  /** The join reply carried `switchboard`: the server speaks positions and will say Fresh/Resumed/Gap. */
  #speaks = false
""")
    R(MC, """  /** The message being dispatched right now is a duplicate: bindings skip it. */
  #drop = false
""")
    R(MC, "const { client, connection, joinTimeoutMs, positions } = this.#ctx", "const { client, connection, joinTimeoutMs } = this.#ctx")
    R(MC, "      this.#speaks = this.#drop = false\n")
    R(MC, "const live = () => raw === this.#raw && !this.#drop", "const live = () => raw === this.#raw")
    R(MC, """      if (positions && onRawMessage(raw, (event, payload) => raw === this.#raw && this.#inspect(event, payload as RawPayload))) {
        // Instances are single-use (a break discards them), so the position read here is the
        // newest one for this join; realtime-js never rejoins this instance with an older one.
        const resume = this.#epoch !== undefined && this.#pos >= 0 ? { epoch: this.#epoch, position: this.#pos } : null
        raw.updateJoinPayload({ switchboard: { session: this.#session, resume } })
      }
""")
    R(MC, "if (this.#owed && !this.#speaks) this.#resync(false)", "if (this.#owed) this.#resync(false)")
    t = open(os.path.join(SRC, MC)).read()
    s = t.index("  // ── positions ──"); e = t.index("  // ── delivery ──")
    open(os.path.join(SRC, MC), 'w').write(t[:s] + t[e:])
    R(MC, """    if (meta?.switchboard !== undefined) {
      const { switchboard: _position, ...rest } = meta
      meta = Object.keys(rest).length > 0 ? rest : undefined
    }
""")
    R(MC, "position: this.#pos,", "position: -1,")
    R(MC, "  positions: boolean\n")
    R(MG, "      positions: config.positions ?? true,\n")
    DEL('raw-messages.ts')

def b():
    R(MC, "import { presencePayload, presenceUsers, type PresenceMetadata, type PresenceUser } from './presence.js'\n")
    R(MC, "  usersStore(name: string): Store<PresenceUser[]>\n")
    R(MC, "type Presences = Array<Record<string, unknown>>\n")
    R(MC, "  readonly users: Store<PresenceUser[]>\n")
    R(MC, "    this.users = ctx.usersStore(name)\n")
    R(MC, "    else if (lease.presence) void this.retrack()\n")
    R(MC, "      this.users.set([])\n")
    R(MC, "          presence: { key: this.config.presenceKey ?? '', enabled: this.kind === 'presence' },\n")
    R(MC, """      if (this.kind === 'presence') {
        for (const event of ['sync', 'join', 'leave'] as const) {
          raw.on('presence', { event: event as 'sync' }, (p?: { newPresences?: Presences; leftPresences?: Presences }) => {
            if (live()) this.#onPresence(raw, event, p?.newPresences ?? p?.leftPresences ?? [])
          })
        }
      }
""")
    R(MC, "      void this.retrack()\n")
    t = open(os.path.join(SRC, MC)).read()
    s = t.index("  #onPresence(raw"); e = t.index("  /** Calls a user handler;")
    t = t[:s] + t[e:]
    s = t.index("  // ── presence ──"); e = t.index("  // ── broadcast ──")
    t = t[:s] + t[e:]
    open(os.path.join(SRC, MC), 'w').write(t)
    # leases.ts
    R('leases.ts', "import type { PresenceMetadata, PresenceUser, PresenceUserInput } from './presence.js'\n")
    R('leases.ts', """  /** @internal the presence this lease tracks */
  readonly presence: { user: PresenceUserInput; metadata: PresenceMetadata } | undefined
""")
    R('leases.ts', "    specKey?: string,\n    presence?: Lease['presence'],\n", "    specKey?: string,\n")
    R('leases.ts', "    this.presence = presence\n")
    t = open(os.path.join(SRC, 'leases.ts')).read()
    s = t.index("/**\n * A lease on a presence channel"); t = t[:s]
    open(os.path.join(SRC, 'leases.ts'), 'w').write(t)
    # presence.ts: keep types only
    t = open(os.path.join(SRC, 'presence.ts')).read()
    s = t.index("const RESERVED"); t = t[:s]
    open(os.path.join(SRC, 'presence.ts'), 'w').write(t)
    # manager.ts
    R(MG, "import { EntityChannel, PresenceLease, type Lease } from './leases.js'", "import { EntityChannel, type Lease } from './leases.js'")
    R(MG, "import type { PresenceMetadata, PresenceUser, PresenceUserInput } from './presence.js'", "import type { PresenceMetadata, PresenceUserInput } from './presence.js'")
    R(MG, "  readonly #userStores = new Map<string, Store<PresenceUser[]>>()\n")
    R(MG, "      usersStore: (name) => this.#usersStore(name),\n")
    t = open(os.path.join(SRC, MG)).read()
    s = t.index("  /** Takes a presence lease synchronously"); e = t.index("  /**\n   * Broadcasts on an entity's channel")
    t = t[:s] + t[e:]
    s = t.index("  /** Users on an entity's presence channel"); e = t.index("  /** Every channel with its status")
    t = t[:s] + t[e:]
    s = t.index("  #usersStore(name"); e = t.index("  #connectionPolicy()")
    t = t[:s] + t[e:]
    open(os.path.join(SRC, MG), 'w').write(t)
    R(MG, "    for (const store of this.#userStores.values()) store.listeners.clear()\n    this.#userStores.clear()\n")
    R(MG, "    const store = this.#userStores.get(channel.name)\n    if (store?.listeners.size === 0) this.#userStores.delete(channel.name)\n")
    # index.ts
    R(IX, "import type { EntityChannel, PresenceLease } from './leases.js'", "import type { EntityChannel } from './leases.js'")
    R(IX, "export { EntityChannel, PresenceLease } from './leases.js'", "export { EntityChannel } from './leases.js'")
    R(IX, """export function joinPresence<M extends PresenceMetadata = PresenceMetadata>(options: JoinPresenceOptions<M>): Promise<PresenceLease<M>> {
  return getChannelManager().joinPresence(options)
}""", """export function joinPresence<M extends PresenceMetadata = PresenceMetadata>(_options: JoinPresenceOptions<M>): Promise<never> {
  return Promise.reject(new Error('presence is not supported'))
}""")
    R(IX, """export function leavePresence(ref: EntityRef): void {
  getChannelManager().leavePresence(ref)
}""", """export function leavePresence(_ref: EntityRef): void {}""")

def c():
    t = open(os.path.join(SRC, 'payload.ts')).read()
    s = t.index("const FORBIDDEN_KEYS")
    t = t[:s] + "export const checkBroadcastPayload = (_payload: unknown, _maxBytes?: number): number => 0\n"
    t = t.replace("import { createError, SwitchboardError } from './errors.js'\n", "")
    open(os.path.join(SRC, 'payload.ts'), 'w').write(t)

def d():
    R(MC, "import { TokenBucket, type RateLimit } from './rate-limiter.js'\n")
    R(MC, "  readonly #bucket: TokenBucket\n")
    R(MC, "    this.#bucket = new TokenBucket(ctx.broadcastRate, ctx.clock)\n")
    R(MC, "  broadcastRate: RateLimit\n")
    R(MC, """    const wait = this.#bucket.take()
    if (wait > 0) throw createError('RATE_LIMITED', `broadcast rate limit exceeded on ${this.name}; retry in ${wait} ms`, { retryAfterMs: wait })
""")
    R(MG, "      broadcastRate: config.broadcastRateLimit ?? DEFAULT_BROADCAST_RATE,\n")
    R(MG, "import { DEFAULT_BROADCAST_RATE, type RateLimit } from './rate-limiter.js'", "import type { RateLimit } from './rate-limiter.js'")

def e():
    t = open(os.path.join(SRC, 'signals.ts')).read()
    s = t.index("export function browserSignals(): SignalSource | undefined {"); e_ = t.index("/** A source the caller fires by hand")
    t = t[:s] + "export function browserSignals(): SignalSource | undefined {\n  return undefined\n}\n\n" + t[e_:]
    open(os.path.join(SRC, 'signals.ts'), 'w').write(t)
    R(CN, "import type { Signal, SignalSource } from './signals.js'\n", "import type { SignalSource } from './signals.js'\n")
    R(CN, "import { onSocketEvent, probe } from './socket-events.js'", "import { onSocketEvent } from './socket-events.js'")
    R(CN, "  signals: SignalSource | undefined\n")
    R(CN, "  #offline: boolean\n")
    R(CN, "const { client, clock, signals } = options", "const { client, clock } = options")
    R(CN, "    this.#offline = signals?.isOnline?.() === false\n")
    R(CN, "    if (signals) this.#offs.push(signals.subscribe((signal) => this.#onSignal(signal)))\n")
    R(CN, "if (this.#destroyed || !isLive(this.status) || this.#offline) return // `online` resumes", "if (this.#destroyed || !isLive(this.status)) return")
    t = open(os.path.join(SRC, CN)).read()
    s = t.index("  #onSignal(signal: Signal): void {"); e_ = t.rindex("}")
    t = t[:s].rstrip() + "\n}\n"
    t = t.replace("import type { SignalSource } from './signals.js'\n", "")
    open(os.path.join(SRC, CN), 'w').write(t)
    R(MG, "      signals: config.signals === false ? undefined : (config.signals ?? browserSignals()),\n")
    R(MG, "import { browserSignals, type SignalSource } from './signals.js'", "import type { SignalSource } from './signals.js'")

def f():
    # managed-channel
    R(MC, "import type { Logger } from './logger.js'\n")
    R(MC, "  logger: Logger\n")
    R(MC, "    this.#ctx.logger.warn('channel broke', { channel: this.name, state, message })\n")
    R(MC, "    this.#ctx.logger.info(resumed ? 'channel resumed' : 'channel back after a gap', { channel: this.name, resume })\n")
    R(MC, "  readonly #thrown = (err: unknown): void => this.#ctx.logger.error('a channel handler threw', { channel: this.name, error: err })",
          "  readonly #thrown = (_err: unknown): void => undefined")
    R(MC, """      (result) => void (result === 'ok' || this.#ctx.logger.warn('presence update not acknowledged', { channel: this.name, result })),
      (err: unknown) => this.#ctx.logger.warn('presence update failed', { channel: this.name, error: err }),""",
      """      () => undefined,
      () => undefined,""")
    # connection
    R(CN, "import type { Logger } from './logger.js'\n")
    R(CN, "  logger: Logger\n")
    R(CN, "    this.#o.logger.info('reconnecting now', { reason })\n")
    R(CN, "const { client, accessToken, logger } = this.#o", "const { client, accessToken } = this.#o")
    R(CN, "      logger.error(error.message, { error: err })\n")
    R(CN, "      this.#o.logger.info('connected', { reopened })\n")
    R(CN, "const { client, logger, notify } = this.#o", "const { client, notify } = this.#o")
    R(CN, "      logger.warn('connection lost', { reason: reason.message })\n")
    R(CN, "    if (exhausted) logger.error(error.message)\n    else this.#schedule(attempt + 1)", "    if (!exhausted) this.#schedule(attempt + 1)")
    # manager
    R(MG, "import { silentLogger, type Logger } from './logger.js'", "import type { Logger } from './logger.js'")
    R(MG, "    const logger = config.logger ?? silentLogger\n")
    R(MG, "        logger: (kind: string, msg: string, data?: unknown) => logger.debug(`realtime-js ${kind}: ${msg}`, { data }),",
          "        logger: () => undefined,")
    R(MG, "      random,\n      logger,\n      policy:", "      random,\n      policy:")
    R(MG, "      random,\n      logger,\n      defaults:", "      random,\n      defaults:")

def g():
    R(MC, "  counters: { messagesIn: number; messagesOut: number; gaps: number; recoveries: number }\n")
    R(MC, "  /** Statuses or leases changed (stats). */\n  changed(): void\n")
    R(MC, "  readonly createdAt: number\n")
    R(MC, "  lastEventAt: number | undefined\n")
    R(MC, "    this.createdAt = ctx.clock.now()\n")
    assert RX(MC, r"\n *this\.#ctx\.changed\(\)", "") >= 2
    R(MC, """  #touch(): void {
    this.lastEventAt = this.#ctx.clock.now()
    this.#ctx.counters.messagesIn++
  }

""")
    RX(MC, r"\n    this\.#touch\(\)", "")
    R(MC, "    this.#ctx.counters.messagesOut++\n    return (payload", "    return (payload")
    R(MC, "    if (result !== 'ok') throw createError('SEND_FAILED', `broadcast on ${this.name} failed: ${result}`)\n    this.#ctx.counters.messagesOut++\n",
          "    if (result !== 'ok') throw createError('SEND_FAILED', `broadcast on ${this.name} failed: ${result}`)\n")
    t = open(os.path.join(SRC, MC)).read()
    s = t.index("  info(): ChannelInfo {"); t = t[:s].rstrip() + "\n}\n"
    t = t.replace("import type { BroadcastMessage, ChannelInfo, GapEvent } from './types.js'", "import type { BroadcastMessage, GapEvent } from './types.js'")
    open(os.path.join(SRC, MC), 'w').write(t)
    # connection reconnects counter
    R(CN, "  /** Successful reopens after a loss (stats). */\n  reconnects = 0\n")
    R(CN, "      if (reopened) this.reconnects++\n")
    # manager
    R(MG, "  /** `getChannelStats()` as a store. */\n  readonly statsStore: ReadableStore<ChannelStats>\n")
    R(MG, "  readonly #stats = new Store<ChannelStats>(channelStats([]), sameJson)\n")
    R(MG, "    this.statsStore = this.#stats\n")
    R(MG, "    const counters = { messagesIn: 0, messagesOut: 0, gaps: 0, recoveries: 0 }\n")
    R(MG, "      counters,\n")
    R(MG, "      changed: () => this.#changed(),\n")
    R(MG, "        counters[event.resumed ? 'recoveries' : 'gaps']++\n")
    t = open(os.path.join(SRC, MG)).read()
    s = t.index("  /** Every channel with its status"); e_ = t.index("  /** Listens to `gap` events")
    t = t[:s] + t[e_:]
    s = t.index("  #changed(): void {"); e_ = t.index("}\n\n/** Resolves with the lease")
    t = t[:s].rstrip() + "\n" + t[e_:]
    s = t.index("function channelStats("); t = t[:s].rstrip() + "\n"
    open(os.path.join(SRC, MG), 'w').write(t)
    RX(MG, r"\n    this\.#changed\(\)", "")
    R(MG, "import type { ChangeHandlers, ChannelInfo, GapEvent,", "import type { ChangeHandlers, GapEvent,")

def h():
    R(MG, """    const held = channel.config
    const conflict =
      held.private !== config.private ? 'private' :
      config.self !== undefined && !!held.self !== config.self ? 'broadcastSelf' :
      held.presenceKey && config.presenceKey && held.presenceKey !== config.presenceKey ? 'presence user' : ''
    if (conflict) throw createError('CHANNEL_CONFIG_CONFLICT', `channel ${name} is already held with a different ${conflict}; use the same settings or another entity`)
    held.presenceKey ??= config.presenceKey
    held.self ??= config.self
""")
    t = open(os.path.join(SRC, MG)).read()
    s = t.index("  #connectionPolicy(): BackoffPolicy {"); e_ = t.index("\n  }\n", s) + 4
    t = t[:s] + "  #connectionPolicy(): BackoffPolicy {\n    return this.#ctx.defaults\n  }\n" + t[e_:]
    open(os.path.join(SRC, MG), 'w').write(t)
    R(MC, """    const d = this.#ctx.defaults
    if (this.leases.size === 0) return { ...d, autoReconnect: false }
    const policy: ChannelPolicy = { autoReconnect: false, baseDelayMs: Infinity, maxDelayMs: d.maxDelayMs, maxAttempts: 0 }
    for (const { options: o } of this.leases) {
      policy.autoReconnect ||= o.autoReconnect ?? true
      policy.baseDelayMs = Math.min(policy.baseDelayMs, o.reconnectDelay ?? d.baseDelayMs)
      policy.maxAttempts = Math.max(policy.maxAttempts, o.maxReconnectAttempts ?? d.maxAttempts)
    }
    return policy
""", "    return { ...this.#ctx.defaults, autoReconnect: this.leases.size > 0 }\n")
    R(MC, """    const key = lease.specKey
    const rebind = spec !== undefined && key !== undefined && !this.specs.has(key) && this.#raw !== undefined
    if (spec && key) this.specs.set(key, spec)
""", """    const key = lease.specKey
    if (spec && key) this.specs.set(key, spec)
""")
    R(MC, """    if (rebind) {
      if (this.#status === 'connected') this.#markBroken('rebind')
      void this.#discard().then(() => this.#joinWhenReady())
    } else {
      this.#joinWhenReady()
    }
""", "    this.#joinWhenReady()\n")

def i():
    R(CN, "  connectTimeoutMs: number\n")
    R(CN, "  readonly #connectTimeout: Timer\n")
    R(CN, "    this.#connectTimeout = new Timer(clock)\n")
    RX(CN, r"\n *this\.#connectTimeout\.cancel\(\)", "")
    R(CN, "const { client, connectTimeoutMs } = this.#o", "const { client } = this.#o")
    R(CN, """    // realtime-js ignores connect() while the old socket closes; look again shortly.
    if (state === 'closing') return this.#retry.start(() => this.#attempt(), 50)
    this.#connectTimeout.start(() => {
      // Closing the half-open socket; the failure is counted here, its late close event is stale.
      void client.disconnect().catch(ignore)
      this.#onClose('connect timeout')
    }, connectTimeoutMs)
""")
    R(MG, "      connectTimeoutMs: config.connectTimeoutMs ?? 10_000,\n")

def j():
    for fn in os.listdir(SRC):
        p = os.path.join(SRC, fn); t = open(p).read()
        out = []; k = 0
        while True:
            m = t.find("createError(", k)
            if m < 0: out.append(t[k:]); break
            # skip definitions / references not calls with string literal
            q = m + len("createError(")
            if t[q] != "'":
                out.append(t[k:q]); k = q; continue
            end = t.index("'", q + 1); code = t[q:end + 1]
            assert t[end + 1] == ','
            # parse message expression
            pos = end + 2
            while t[pos] == ' ': pos += 1
            start = pos; depth = 0
            stack = []
            while True:
                ch = t[pos]
                if stack and stack[-1] == '`':
                    if ch == '\\': pos += 2; continue
                    if ch == '`': stack.pop(); pos += 1; continue
                    if t.startswith('${', pos): stack.append('${'); pos += 2; continue
                    pos += 1; continue
                if ch in "'\"":
                    e2 = pos + 1
                    while t[e2] != ch: e2 += 2 if t[e2] == '\\' else 1
                    pos = e2 + 1; continue
                if ch == '`': stack.append('`'); pos += 1; continue
                if ch in '([{': stack.append(ch); pos += 1; continue
                if ch in ')]}':
                    if not stack: break
                    top = stack.pop(); pos += 1; continue
                if ch == ',' and not stack: break
                pos += 1
            out.append(t[k:q] + code + ", " + code)
            k = pos
        open(p, 'w').write(''.join(out))

STRICT = True
if __name__ == '__main__':
    names = sys.argv[1]
    if len(sys.argv) > 2 and sys.argv[2] == 'loose': STRICT = False
    for n in names: globals()[n]()
    for m in misses: print('MISS', m)
