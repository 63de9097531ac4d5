/**
 * Inbox: conversations (status and assignment change live), messages as an infinite query
 * (newest first, older pages on demand) patched by `useRealtimeSync`, a typing indicator over
 * broadcast, and who is looking at the same conversation (presence).
 */
import { useEffect, useMemo, useRef, useState } from 'react'
import { useInfiniteQuery, useQuery, type InfiniteData } from '@tanstack/react-query'
import { useBroadcast, useBroadcastSender, usePresence, useRealtimeQuery, useRealtimeSync } from '@switchboard/react'
import { api } from '../api'
import { tenantFilter, useSession } from '../app'
import type { Assignment, Conversation, Message } from '../types'
import { Avatar, Badge, Card, Empty, PresenceStack, clock, timeAgo, ts, useNow, useToasts } from '../ui'

const STATUS_TONE: Record<Conversation['status'], string> = { open: 'green', pending: 'amber', closed: 'slate' }
const PAGE = 25

interface TypingPayload {
  userId: string
  userName: string
  typing: boolean
}

function useTyping(conversationId: string, tenantId: string, me: { id: string; name: string }) {
  const entity = { entityType: 'conversation', entityId: conversationId, tenantId, private: true }
  const [typers, setTypers] = useState<Record<string, { name: string; until: number }>>({})
  useBroadcast<TypingPayload>(entity, 'typing', ({ payload }) => {
    if (!payload || payload.userId === me.id) return
    setTypers((current) => {
      const next = { ...current }
      if (payload.typing) next[payload.userId] = { name: payload.userName, until: Date.now() + 4000 }
      else delete next[payload.userId]
      return next
    })
  })
  // Expire typers whose "stop" never came (tab closed mid-sentence).
  const now = useNow(1000, Object.keys(typers).length > 0)
  const active = Object.entries(typers).filter(([, t]) => t.until > now)
  const send = useBroadcastSender<TypingPayload>(entity)
  const lastSent = useRef(0)
  const typing = useRef(false)
  const notify = (isTyping: boolean) => {
    const t = Date.now()
    if (isTyping && typing.current && t - lastSent.current < 1500) return
    if (!isTyping && !typing.current) return
    typing.current = isTyping
    lastSent.current = t
    send('typing', { userId: me.id, userName: me.name, typing: isTyping }).catch(() => undefined)
  }
  useEffect(() => {
    setTypers({})
  }, [conversationId])
  return { typers: active.map(([id, t]) => ({ id, name: t.name })), notify }
}

function Thread({ conversation }: { conversation: Conversation }) {
  const { tenantId, user, isAdmin } = useSession()
  const toasts = useToasts()
  const id = conversation.id
  const messages = useInfiniteQuery({
    queryKey: ['messages', id],
    queryFn: ({ pageParam }) => api.messages(id, pageParam),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last: Message[]) => (last.length < PAGE ? undefined : last[last.length - 1]!.created_at),
  })
  useRealtimeSync(['messages', id], { table: 'messages', filter: `conversation_id=eq.${id}`, tenantId }, { mode: 'patch', newestFirst: true })
  const assignments = useRealtimeQuery<Assignment[]>({
    queryKey: ['assignments', id],
    queryFn: () => api.assignments(id),
    realtime: { table: 'assignments', event: 'INSERT', filter: `conversation_id=eq.${id}`, tenantId },
    mode: 'patch',
    newestFirst: true,
  })
  const team = useQuery({ queryKey: ['users', tenantId], queryFn: api.users })
  const { users: viewers } = usePresence({ entityType: 'conversation', entityId: id, tenantId, private: true }, { id: user.id, name: user.name }, { color: user.color })
  const { typers, notify } = useTyping(id, tenantId, user)
  const [draft, setDraft] = useState('')
  const [sending, setSending] = useState(false)
  const list = useRef<HTMLDivElement>(null)

  // Pages are newest first; the thread reads oldest first.
  const ordered = useMemo(() => {
    const all = (messages.data as InfiniteData<Message[]> | undefined)?.pages.flat() ?? []
    const seen = new Set<string>()
    return all.filter((m) => (seen.has(m.id) ? false : (seen.add(m.id), true))).sort((a, b) => ts(a.created_at) - ts(b.created_at))
  }, [messages.data])
  const newest = ordered[ordered.length - 1]?.id
  useEffect(() => {
    const el = list.current
    if (el) el.scrollTop = el.scrollHeight
  }, [newest, typers.length])

  const send = () => {
    const body = draft.trim()
    if (!body) return
    setSending(true)
    notify(false)
    api.sendMessage(id, body).then(() => setDraft(''), (e: Error) => toasts.push({ kind: 'error', title: 'Message not sent', body: e.message })).finally(() => setSending(false))
  }
  const nameOf = (userId: string | null) => team.data?.find((u) => u.id === userId)?.name ?? 'Unassigned'
  const assigned = team.data?.find((u) => u.id === conversation.assigned_to)

  return (
    <Card
      className="thread"
      testId="thread"
      title={
        <span className="thread-title">
          {conversation.contact_name}
          <span className="muted small"> · {conversation.subject}</span>
        </span>
      }
      actions={<PresenceStack users={viewers} me={user.id} label="In this conversation" />}
    >
      <div className="thread-meta">
        <label>
          Status
          <select data-testid="conversation-status" value={conversation.status} onChange={(e) => api.setConversationStatus(id, e.target.value).catch((err: Error) => toasts.push({ kind: 'error', title: 'Status', body: err.message }))}>
            <option value="open">Open</option>
            <option value="pending">Pending</option>
            <option value="closed">Closed</option>
          </select>
        </label>
        <label>
          Assignee
          <select data-testid="conversation-assignee" disabled={!isAdmin} title={isAdmin ? '' : 'Only admins assign (RLS insert policy)'} value={conversation.assigned_to ?? ''} onChange={(e) => api.assign(id, e.target.value || null).catch((err: Error) => toasts.push({ kind: 'error', title: 'Assignment', body: err.message }))}>
            <option value="">Unassigned</option>
            {(team.data ?? []).map((u) => <option key={u.id} value={u.id}>{u.name}</option>)}
          </select>
        </label>
        {assigned && <span className="assignee"><Avatar name={assigned.name} color={assigned.color} size={22} /> {assigned.name}</span>}
        {assignments.data?.[0] && <span className="muted small">last change by {nameOf(assignments.data[0].assigned_by)} {timeAgo(assignments.data[0].created_at)}</span>}
      </div>
      <div className="messages" ref={list} data-testid="messages">
        {messages.hasNextPage && (
          <button className="btn btn-ghost btn-sm load-older" disabled={messages.isFetchingNextPage} onClick={() => void messages.fetchNextPage()}>
            {messages.isFetchingNextPage ? 'Loading…' : 'Load older messages'}
          </button>
        )}
        {ordered.map((m) => (
          <div key={m.id} className={`bubble bubble-${m.direction}`} data-testid="message">
            <div className="bubble-body">{m.body}</div>
            <div className="bubble-meta">{m.author_name} · {clock(m.created_at)}</div>
          </div>
        ))}
        {messages.isLoading && <Empty>Loading messages…</Empty>}
      </div>
      <div className="typing" data-testid="typing-indicator" data-typing={typers.length > 0 ? 'yes' : 'no'}>
        {typers.length > 0 && (
          <>
            <span className="typing-dots"><i /><i /><i /></span>
            {typers.map((t) => t.name).join(', ')} {typers.length === 1 ? 'is' : 'are'} typing…
          </>
        )}
      </div>
      <form
        className="composer"
        onSubmit={(e) => {
          e.preventDefault()
          send()
        }}
      >
        <input
          data-testid="composer"
          placeholder={`Reply to ${conversation.contact_name}…`}
          value={draft}
          onChange={(e) => {
            setDraft(e.target.value)
            notify(e.target.value.length > 0)
          }}
          onBlur={() => notify(false)}
        />
        <button className="btn btn-primary" data-testid="send" disabled={sending || !draft.trim()}>Send</button>
      </form>
    </Card>
  )
}

export function InboxPage() {
  const { tenantId } = useSession()
  const conversations = useRealtimeQuery<Conversation[]>({
    queryKey: ['conversations', tenantId],
    queryFn: api.conversations,
    realtime: { table: 'conversations', filter: tenantFilter(tenantId), tenantId },
    mode: 'patch',
  })
  const team = useQuery({ queryKey: ['users', tenantId], queryFn: api.users })
  const sorted = useMemo(() => [...(conversations.data ?? [])].sort((a, b) => ts(b.last_message_at) - ts(a.last_message_at)), [conversations.data])
  const [selected, setSelected] = useState<string | null>(null)
  const current = sorted.find((c) => c.id === selected) ?? sorted[0]
  const now = useNow(30_000)

  return (
    <div className="page inbox">
      <Card className="conversations" title={`Conversations (${sorted.length})`}>
        <div className="conversation-list" data-testid="conversation-list">
          {sorted.map((c) => {
            const assignee = team.data?.find((u) => u.id === c.assigned_to)
            return (
              <button key={c.id} data-testid="conversation" data-conversation-id={c.id} className={`conversation${current?.id === c.id ? ' active' : ''}`} onClick={() => setSelected(c.id)}>
                <div className="conversation-top">
                  <strong>{c.contact_name}</strong>
                  <span className="muted small">{timeAgo(c.last_message_at, now)}</span>
                </div>
                <div className="conversation-subject">{c.subject}</div>
                <div className="conversation-bottom">
                  <span className="muted small ellipsis">{c.last_message}</span>
                  <Badge tone={STATUS_TONE[c.status]}>{c.status}</Badge>
                  {assignee && <Avatar name={assignee.name} color={assignee.color} size={20} />}
                </div>
              </button>
            )
          })}
          {conversations.isLoading && <Empty>Loading…</Empty>}
          {!conversations.isLoading && sorted.length === 0 && <Empty>No conversations on your lines</Empty>}
        </div>
      </Card>
      {current ? <Thread key={current.id} conversation={current} /> : <Card className="thread"><Empty>Select a conversation</Empty></Card>}
    </div>
  )
}
