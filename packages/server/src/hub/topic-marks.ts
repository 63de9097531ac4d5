/**
 * Which topics had ephemeral broadcasts in which log epoch, kept where a restart cannot lose it.
 *
 * Why: after a restart, a resume from the old epoch gets every change and stored broadcast back
 * from the replication slot, but ephemeral broadcasts died with the process. Saying "broadcasts
 * may have been lost" on every such resume would be a gap signal for channels whose topic never
 * had an ephemeral broadcast (change feeds, persisted-only topics). So the first ephemeral
 * broadcast on a topic in an epoch is held until `(epoch, topic)` is recorded; the resume asks.
 *
 * One write per topic per process life, off the hot path after the first message.
 */
import type { Sql } from 'postgres'

export interface TopicMarks {
  /** Records that `topicKey` has ephemeral broadcasts in `epoch`. */
  mark(epoch: string, topicKey: string): Promise<void>
  /** Whether `topicKey` had ephemeral broadcasts in `epoch`, an epoch that ended (true when unknown: never claim less). */
  marked(epoch: string, topicKey: string): Promise<boolean>
}

/** Without a database nothing survives a restart anyway: every topic counts as marked. */
export const NO_TOPIC_MARKS: TopicMarks = {
  mark: async () => {},
  marked: async () => true,
}

/** Rows older than this are pruned at start: no client resumes from a log that old. */
const KEEP_MS = 24 * 3_600_000

/** Answers remembered, at most (past it the memory starts over). */
const MAX_REMEMBERED = 10_000

export class PostgresTopicMarks implements TopicMarks {
  /**
   * `marked` answers by `epoch\ntopicKey`, settled or in flight. The question is only asked
   * about epochs that ended (a resume across a restart), whose marks are final, so one answer
   * serves every channel of the topic: after a restart a topic's resuming clients all ask at
   * once, and their queries queued behind the replays' RLS checks (0.15–0.5 s each in the chaos
   * bench). Failures are not remembered.
   */
  readonly #answers = new Map<string, Promise<boolean>>()

  constructor(private readonly sql: Sql) {}

  async mark(epoch: string, topicKey: string): Promise<void> {
    await this.sql`insert into realtime.switchboard_broadcast_epochs (epoch, topic_key) values (${epoch}, ${topicKey}) on conflict do nothing`
  }

  marked(epoch: string, topicKey: string): Promise<boolean> {
    const key = `${epoch}\n${topicKey}`
    const known = this.#answers.get(key)
    if (known) return known
    if (this.#answers.size >= MAX_REMEMBERED) this.#answers.clear()
    const answer = this.#query(epoch, topicKey).catch(() => {
      this.#answers.delete(key)
      return true // unknown: never claim less
    })
    this.#answers.set(key, answer)
    return answer
  }

  async #query(epoch: string, topicKey: string): Promise<boolean> {
    const rows = await this.sql`select 1 from realtime.switchboard_broadcast_epochs where epoch = ${epoch} and topic_key = ${topicKey}`
    return rows.length > 0
  }

  async prune(): Promise<void> {
    await this.sql`delete from realtime.switchboard_broadcast_epochs where inserted_at < now() - ${`${KEEP_MS} milliseconds`}::interval`
  }
}
