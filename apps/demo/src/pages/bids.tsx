/**
 * Campaign bids: a live board per campaign, bids ranked by amount as they are placed
 * (`useRealtimeQuery` patch mode on `bids`); a fresh bid flashes, the leader is marked.
 */
import { useMemo, useState } from 'react'
import { useQuery } from '@tanstack/react-query'
import { useRealtimeQuery } from '@switchboard/react'
import { api } from '../api'
import { tenantFilter, useSession } from '../app'
import type { Bid, Campaign } from '../types'
import { Badge, Card, Empty, money, timeAgo, ts, useNow, useToasts } from '../ui'

function CampaignBoard({ campaign, bids, now }: { campaign: Campaign; bids: Bid[]; now: number }) {
  const { user } = useSession()
  const toasts = useToasts()
  const ranked = useMemo(() => [...bids].sort((a, b) => b.amount - a.amount || ts(a.created_at) - ts(b.created_at)), [bids])
  const top = ranked[0]
  const [amount, setAmount] = useState('')
  const suggested = top ? (Number(top.amount) + 0.25).toFixed(2) : campaign.reserve.toFixed(2)
  const place = () => {
    const value = Number(amount || suggested)
    api.placeBid(campaign.id, value, user.name).then(() => setAmount(''), (e: Error) => toasts.push({ kind: 'error', title: 'Bid rejected', body: e.message }))
  }
  const left = ts(campaign.ends_at) - now
  return (
    <Card
      className="board"
      testId="campaign"
      title={<span>{campaign.name} <span className="muted small">· {campaign.channel}</span></span>}
      actions={<Badge tone={left > 3_600_000 ? 'slate' : 'amber'}>{left > 0 ? `ends in ${Math.floor(left / 3_600_000)}h ${Math.floor((left % 3_600_000) / 60_000)}m` : 'ended'}</Badge>}
    >
      <div className="board-top">
        <div>
          <div className="muted small">Leading bid</div>
          <div className="board-amount" data-testid="leading-bid" data-campaign-id={campaign.id}>{top ? money(top.amount) : '—'}</div>
          <div className="muted small">{top ? `${top.bidder} · ${timeAgo(top.created_at, now)}` : `reserve ${money(campaign.reserve)}`}</div>
        </div>
        <form className="bid-form" data-testid="bid-form" data-campaign-id={campaign.id} onSubmit={(e) => { e.preventDefault(); place() }}>
          <input type="number" step="0.01" min="0.01" placeholder={suggested} value={amount} onChange={(e) => setAmount(e.target.value)} aria-label="Bid amount" />
          <button className="btn btn-primary btn-sm">Bid</button>
        </form>
      </div>
      <ol className="ranking" data-testid="ranking" data-campaign-id={campaign.id}>
        {ranked.slice(0, 6).map((bid, i) => (
          <li key={bid.id} className={`${now - ts(bid.created_at) < 4000 ? 'flash' : ''}${i === 0 ? ' leader' : ''}`} data-testid="bid-row" data-bid-id={bid.id} data-rank={i + 1}>
            <span className="rank">{i + 1}</span>
            <span className="bidder" data-testid="bid-bidder">{bid.bidder}{bid.user_id === user.id ? ' (you)' : ''}</span>
            <span className="mono" data-testid="bid-amount">{money(bid.amount)}</span>
          </li>
        ))}
        {ranked.length === 0 && <Empty>No bids yet</Empty>}
      </ol>
      <div className="muted small" data-testid="bid-count" data-campaign-id={campaign.id}>{bids.length} bids</div>
    </Card>
  )
}

export function BidsPage() {
  const { tenantId } = useSession()
  const campaigns = useQuery({ queryKey: ['campaigns', tenantId], queryFn: api.campaigns })
  const bids = useRealtimeQuery<Bid[]>({
    queryKey: ['bids', tenantId],
    queryFn: api.bids,
    realtime: { table: 'bids', event: 'INSERT', filter: tenantFilter(tenantId), tenantId },
    mode: 'patch',
    newestFirst: true,
  })
  const now = useNow(1000)
  return (
    <div className="page">
      <div className="toolbar"><span className="muted">Bids arrive over Postgres Changes and re-rank instantly. Place one, or switch the simulator on.</span></div>
      <div className="boards">
        {(campaigns.data ?? []).map((c) => <CampaignBoard key={c.id} campaign={c} bids={(bids.data ?? []).filter((b) => b.campaign_id === c.id)} now={now} />)}
      </div>
    </div>
  )
}
