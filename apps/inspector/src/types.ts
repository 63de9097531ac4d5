/**
 * What the inspector API answers: the server's own contract (packages/server/src/inspect/api-types.ts),
 * imported for its types only, under the names the page uses.
 */
import type { ChannelDetail as ServerChannelDetail } from '@switchboard/inspect-api'

export type {
  ChannelSummary,
  History,
  InspectSession as Session,
  MessageSummary,
  PolicyContext,
  Sample,
  SubscriberDetail as Member,
  SubscriberView as Subscriber,
  TenantOverview as Overview,
  TraceReport,
  Verdict,
} from '@switchboard/inspect-api'

/** The stream's `channel` event: the channel, or `{ key, gone: true }` once nobody is subscribed. */
export type ChannelDetail = ServerChannelDetail & { gone?: boolean }
