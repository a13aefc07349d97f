// Calls: the live list (filters, polling) and one call's page with its timeline, tags and
// webhook deliveries (with a resend button).
import { useEffect, useState } from 'preact/hooks';
import { api, listAll } from './api';
import { CallDetails, Delivery, buildTimeline } from './lib/timeline';
import { Field, FormError, Link, Named, RowButton, useAsync, when } from './ui';

const POLL_MS = 2000;

function usePoll(reload: () => void, on: boolean) {
  useEffect(() => {
    if (!on) return;
    const t = setInterval(reload, POLL_MS);
    return () => clearInterval(t);
  }, [on]);
}

/** datetime-local text ("2026-11-28T15:00") as RFC 3339 in UTC, or "" */
function toRfc3339(local: string): string {
  if (!local) return '';
  const d = new Date(local);
  return isNaN(d.getTime()) ? '' : d.toISOString();
}

function ConversionBadge(props: { c: CallDetails['conversion'] }) {
  const c = props.c;
  const text = c.state === 'converted' ? `converted ${c.revenue} → ${c.payout}${c.late ? ' (late)' : ''}` : c.state.replace('_', ' ');
  return <span class={`badge ${c.state}`}>{text}</span>;
}

export function Calls() {
  const campaigns = useAsync(() => listAll<Named>('/api/v1/campaigns'), []);
  const [f, setF] = useState({ campaign_id: '', status: '', converted: '', since: '', until: '' });
  const [live, setLive] = useState(true);
  const query = new URLSearchParams({ limit: '100' });
  if (f.campaign_id) query.set('campaign_id', f.campaign_id);
  if (f.status) query.set('status', f.status);
  if (f.converted) query.set('converted', f.converted);
  if (toRfc3339(f.since)) query.set('since', toRfc3339(f.since));
  if (toRfc3339(f.until)) query.set('until', toRfc3339(f.until));
  const calls = useAsync(() => api('GET', `/api/v1/calls?${query}`), [query.toString()]);
  usePoll(calls.reload, live);
  const name = (id: number) => campaigns.data?.find((c) => c.id === id)?.name ?? String(id);
  return (
    <>
      <h1>Calls</h1>
      <section class="card">
        <div class="row wrap filters" data-testid="call-filters">
          <Field label="Campaign" name="campaign_id" err={calls.err}>
            <select value={f.campaign_id} onChange={(e) => setF({ ...f, campaign_id: e.currentTarget.value })}>
              <option value="">all</option>
              {(campaigns.data ?? []).map((c) => (
                <option value={String(c.id)}>{c.name}</option>
              ))}
            </select>
          </Field>
          <Field label="State" name="status" err={calls.err}>
            <select value={f.status} onChange={(e) => setF({ ...f, status: e.currentTarget.value })}>
              <option value="">any</option>
              {['started', 'routed', 'answered', 'ended', 'completed'].map((s) => (
                <option value={s}>{s}</option>
              ))}
            </select>
          </Field>
          <Field label="Converted" name="converted" err={calls.err}>
            <select value={f.converted} onChange={(e) => setF({ ...f, converted: e.currentTarget.value })}>
              <option value="">either</option>
              <option value="true">converted</option>
              <option value="false">not (yet) converted</option>
            </select>
          </Field>
          <Field label="Started since" name="since" err={calls.err}>
            <input type="datetime-local" value={f.since} onInput={(e) => setF({ ...f, since: e.currentTarget.value })} />
          </Field>
          <Field label="Started before" name="until" err={calls.err}>
            <input type="datetime-local" value={f.until} onInput={(e) => setF({ ...f, until: e.currentTarget.value })} />
          </Field>
          <label class="live">
            <input type="checkbox" checked={live} onChange={(e) => setLive(e.currentTarget.checked)} /> live (every {POLL_MS / 1000} s)
          </label>
        </div>
        <FormError err={calls.err} fields={['campaign_id', 'status', 'converted', 'since', 'until']} />
        <table data-testid="calls-table">
          <thead>
            <tr>
              <th>started</th>
              <th>call</th>
              <th>campaign</th>
              <th>caller</th>
              <th>state</th>
              <th>duration</th>
              <th>conversion</th>
            </tr>
          </thead>
          <tbody>
            {(calls.data?.data ?? []).map((c: any) => (
              <tr data-uuid={c.uuid}>
                <td class="nowrap">{when(c.started_at)}</td>
                <td class="mono">
                  <Link href={`/calls/${c.uuid}`}>{c.uuid.slice(0, 8)}…</Link>
                </td>
                <td>{name(c.campaign_id)}</td>
                <td class="mono">{c.caller_number || '—'}</td>
                <td>{c.status}</td>
                <td>{c.duration_seconds ?? '—'}</td>
                <td>
                  <ConversionBadge c={c.conversion} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {calls.data && calls.data.data.length === 0 && <p class="hint">No calls match.</p>}
      </section>
    </>
  );
}

export function CallPage(props: { uuid: string }) {
  const call = useAsync<CallDetails & Record<string, any>>(() => api('GET', `/api/v1/calls/${encodeURIComponent(props.uuid)}`), [props.uuid]);
  const c = call.data;
  const settled = !!c && c.status === 'completed' && (c.webhooks ?? []).every((d) => d.state === 'delivered' || d.state === 'failed');
  usePoll(call.reload, !settled);
  if (!c) return <FormError err={call.err} fields={[]} />;
  const timeline = buildTimeline(c);
  return (
    <>
      <p class="crumbs">
        <Link href="/calls">Calls</Link> / {c.uuid}
      </p>
      <h1>
        Call <span class="mono">{c.uuid}</span>
      </h1>
      <section class="card" data-testid="call-summary">
        <dl class="summary">
          <dt>state</dt>
          <dd data-testid="call-status">{c.status}</dd>
          <dt>conversion</dt>
          <dd data-testid="call-conversion">
            <ConversionBadge c={c.conversion} />
          </dd>
          <dt>campaign</dt>
          <dd>
            <Link href={`/campaigns/${c.campaign_id}`}>{c.campaign_id}</Link>
          </dd>
          <dt>buyer</dt>
          <dd>{c.buyer_id ?? '—'}</dd>
          <dt>publisher</dt>
          <dd>{c.publisher_id ?? '—'}</dd>
          <dt>caller</dt>
          <dd class="mono">{c.caller_number || '—'}</dd>
          <dt>number</dt>
          <dd class="mono">{c.number || '—'}</dd>
          <dt>repeat caller</dt>
          <dd>{c.repeat ? 'yes' : 'no'}</dd>
        </dl>
      </section>
      <section class="card" data-testid="call-timeline">
        <h2>Timeline</h2>
        <ol class="timeline">
          {timeline.map((e) => (
            <li class={`t-${e.kind} ${e.ok === true ? 'ok' : e.ok === false ? 'bad' : ''}`}>
              <span class="at">{when(e.at)}</span> <b>{e.title}</b> <span>{e.detail}</span>
            </li>
          ))}
        </ol>
      </section>
      <section class="card" data-testid="call-webhooks">
        <h2>Webhook deliveries</h2>
        {(c.webhooks ?? []).length === 0 && <p class="hint">No webhook was planned for this call.</p>}
        {(c.webhooks ?? []).map((d) => (
          <DeliveryCard d={d} onResent={call.reload} />
        ))}
      </section>
      <section class="card">
        <h2>Tags</h2>
        <table>
          <thead>
            <tr>
              <th>key</th>
              <th>value</th>
              <th>source</th>
              <th>at</th>
            </tr>
          </thead>
          <tbody>
            {(c.tag_history ?? []).map((t: any) => (
              <tr>
                <td class="mono">{t.key}</td>
                <td class="mono">{t.value}</td>
                <td>
                  {t.source}
                  {t.carried ? ' (carried)' : ''}
                </td>
                <td>{when(t.at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </>
  );
}

function DeliveryCard(props: { d: Delivery; onResent: () => void }) {
  const d = props.d;
  const [err, setErr] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const resend = async () => {
    setBusy(true);
    try {
      await api('POST', `/api/v1/webhook_deliveries/${d.id}/resend`);
      setErr(null);
      props.onResent();
    } catch (e) {
      setErr(e);
    }
    setBusy(false);
  };
  return (
    <div class={`delivery ${d.state}`} data-testid={`delivery-${d.id}`} data-state={d.state}>
      <div class="row">
        <b>#{d.id}</b> <span class="badge">{d.trigger}</span> <span class={`badge ${d.state}`}>{d.state}</span>
        <span class="mono url">{d.url}</span>
        {(d.state === 'failed' || d.state === 'retrying') && (
          <RowButton disabled={busy} onClick={resend} testid={`resend-${d.id}`}>
            Resend now
          </RowButton>
        )}
      </div>
      {d.next_attempt_at && <div class="hint">next attempt {when(d.next_attempt_at)}</div>}
      <table class="attempts">
        <thead>
          <tr>
            <th>attempt</th>
            <th>at</th>
            <th>status</th>
            <th>latency</th>
            <th>response</th>
          </tr>
        </thead>
        <tbody>
          {d.attempts.map((a, i) => (
            <tr>
              <td>{i + 1}</td>
              <td class="nowrap">{when(a.at)}</td>
              <td>{a.http_status ?? a.error}</td>
              <td>{a.latency_ms !== null ? `${a.latency_ms} ms` : '—'}</td>
              <td class="mono excerpt">{a.response_excerpt ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <FormError err={err} fields={[]} />
    </div>
  );
}
