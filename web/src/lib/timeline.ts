// A call's timeline for the call page: what happened to it, in time order.

export interface Attempt {
  at: string;
  http_status: number | null;
  latency_ms: number | null;
  error: string | null;
  response_excerpt: string | null;
}
export interface Delivery {
  id: number;
  group_id: number;
  request_index: number;
  trigger: string;
  url: string;
  state: string;
  attempt_count: number;
  next_attempt_at: string | null;
  created_at: string;
  attempts: Attempt[];
}
export interface Postback {
  at: string;
  method: string;
  params: Record<string, string[]>;
  outcome: string;
  http_status: number;
}
export interface CallDetails {
  uuid: string;
  status: string;
  started_at: string;
  routed_at: string | null;
  answered_at: string | null;
  ended_at: string | null;
  duration_seconds: number | null;
  hung_up_by: string;
  buyer_id: number | null;
  conversion: {
    state: string;
    group_id: number | null;
    revenue: string | null;
    payout: string | null;
    late: boolean;
    deadline_at: string | null;
    decided_at: string | null;
  };
  postbacks?: Postback[];
  postbacks_total?: number; // the call's log holds this many; the view lists the newest 200
  webhooks?: Delivery[];
}

export interface TimelineEntry {
  at: string;
  kind: 'call' | 'postback' | 'conversion' | 'webhook';
  title: string;
  detail: string;
  ok: boolean | null;
  delivery?: Delivery;
}

export function buildTimeline(call: CallDetails): TimelineEntry[] {
  const out: TimelineEntry[] = [];
  const add = (e: TimelineEntry) => out.push(e);
  add({ at: call.started_at, kind: 'call', title: 'started', detail: '', ok: null });
  if (call.routed_at) {
    add({ at: call.routed_at, kind: 'call', title: 'routed', detail: call.buyer_id ? `to buyer ${call.buyer_id}` : '', ok: null });
  }
  if (call.answered_at) add({ at: call.answered_at, kind: 'call', title: 'answered', detail: '', ok: null });
  if (call.ended_at) {
    const parts = [];
    if (call.duration_seconds !== null) parts.push(`${call.duration_seconds} s`);
    if (call.hung_up_by) parts.push(`hung up by ${call.hung_up_by}`);
    add({ at: call.ended_at, kind: 'call', title: 'ended', detail: parts.join(', '), ok: null });
  }
  const shown = call.postbacks ?? [];
  const older = (call.postbacks_total ?? shown.length) - shown.length;
  if (older > 0 && shown.length > 0) {
    add({ at: shown[0].at, kind: 'postback', title: 'older postbacks', detail: `${older} older not shown (the newest ${shown.length} are)`, ok: null });
  }
  for (const p of shown) {
    const params = Object.entries(p.params)
      .filter(([k]) => k !== 'key')
      .map(([k, v]) => (v.length === 1 && v[0] === '' ? k : `${k}=${v.join(',')}`))
      .join(' ');
    add({ at: p.at, kind: 'postback', title: `postback (${p.method})`, detail: `${params} → ${p.outcome}`, ok: p.http_status < 300 });
  }
  const c = call.conversion;
  if (c.decided_at) {
    const converted = c.state === 'converted';
    const money = converted ? `revenue ${c.revenue} → payout ${c.payout}` : '';
    const group = c.group_id !== null ? `group ${c.group_id}` : 'no group';
    add({
      at: c.decided_at,
      kind: 'conversion',
      title: converted ? 'converted' : 'not converted',
      detail: [group, money, c.late ? 'late' : ''].filter(Boolean).join(', '),
      ok: converted,
    });
  } else if (c.state === 'awaiting_postback' && c.deadline_at) {
    add({ at: c.deadline_at, kind: 'conversion', title: 'postback deadline', detail: 'waiting for the buyer', ok: null });
  }
  for (const d of call.webhooks ?? []) {
    if (d.attempts.length === 0) {
      add({ at: d.created_at, kind: 'webhook', title: `webhook ${d.trigger} #${d.id}`, detail: d.state, ok: null, delivery: d });
    }
    d.attempts.forEach((a, i) => {
      const status = a.http_status !== null ? `HTTP ${a.http_status}` : a.error ?? 'no answer';
      const excerpt = (a.response_excerpt ?? '').trim();
      const shown = excerpt.length > 80 ? `${excerpt.slice(0, 80)}…` : excerpt;
      add({
        at: a.at,
        kind: 'webhook',
        title: `webhook ${d.trigger} #${d.id}, attempt ${i + 1}`,
        detail: shown ? `${status}: ${shown}` : status,
        ok: a.http_status !== null && a.http_status >= 200 && a.http_status < 300,
        delivery: d,
      });
    });
  }
  // Stable: equal times keep the order above (call steps, postbacks, decision, webhooks).
  return out
    .map((e, i) => ({ e, i }))
    .sort((a, b) => (a.e.at < b.e.at ? -1 : a.e.at > b.e.at ? 1 : a.i - b.i))
    .map((x) => x.e);
}
