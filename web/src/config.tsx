// Configuration screens: campaigns (with their buyers, repeat-caller settings, webhook groups
// and conversion groups), buyers, publishers, numbers, account settings and API keys.
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { api, listAll } from './api';
import { moveChanges, sortByPosition } from './lib/order';
import { dataWritingExample, dataWritingUrl, describeSeconds, secretUntil } from './lib/keys';
import { instructionsText } from './lib/postback';
import { navigate } from './router';
import { CopyButton, Field, FilterBuilder, FormError, Link, Named, Notice, PayoutModifierField, RowButton, TokenInput, useAsync, useDebounced, when } from './ui';

const TRIGGERS = ['started', 'routed', 'answered', 'ended', 'completed', 'converted', 'not_converted'];

function Section(props: { title: string; children: ComponentChildren; actions?: ComponentChildren; testid?: string }) {
  return (
    <section class="card" data-testid={props.testid}>
      <div class="card-head">
        <h2>{props.title}</h2>
        {props.actions}
      </div>
      {props.children}
    </section>
  );
}

/** Submits with busy state and keeps the API error for the fields. */
function useSubmit(fn: () => Promise<void>): [(e?: Event) => void, boolean, unknown, (e: unknown) => void] {
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<unknown>(null);
  const submit = (e?: Event) => {
    e?.preventDefault();
    setBusy(true);
    fn().then(
      () => (setErr(null), setBusy(false)),
      (x) => (setErr(x), setBusy(false)),
    );
  };
  return [submit, busy, err, setErr];
}

// ---------------------------------------------------------------- campaigns

export function Campaigns() {
  const list = useAsync(() => listAll('/api/v1/campaigns'), []);
  const [name, setName] = useState('');
  const [submit, busy, err] = useSubmit(async () => {
    const c = await api('POST', '/api/v1/campaigns', { name });
    navigate(`/campaigns/${c.id}`);
  });
  return (
    <>
      <h1>Campaigns</h1>
      <Section title="New campaign">
        <form onSubmit={submit} class="inline">
          <Field label="Name" name="name" err={err}>
            <input data-testid="new-campaign-name" value={name} onInput={(e) => setName(e.currentTarget.value)} />
          </Field>
          <button disabled={busy}>Create campaign</button>
        </form>
        <FormError err={err} fields={['name']} />
      </Section>
      <Section title="All campaigns">
        <FormError err={list.err} fields={[]} />
        <table>
          <thead>
            <tr>
              <th>id</th>
              <th>name</th>
              <th>buyers</th>
              <th>repeat callers</th>
            </tr>
          </thead>
          <tbody>
            {(list.data ?? []).map((c: any) => (
              <tr>
                <td>{c.id}</td>
                <td>
                  <Link href={`/campaigns/${c.id}`}>{c.name}</Link>
                </td>
                <td>{c.buyers.length}</td>
                <td>{c.repeat_callers.enabled ? `${c.repeat_callers.route}, ${c.repeat_callers.window_seconds} s` : 'off'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
    </>
  );
}

export function CampaignPage(props: { id: string }) {
  const campaign = useAsync(() => api('GET', `/api/v1/campaigns/${props.id}`), [props.id]);
  const refs = useAsync(async () => ({ buyers: await listAll<Named>('/api/v1/buyers'), publishers: await listAll<Named>('/api/v1/publishers') }), []);
  if (campaign.err) return <FormError err={campaign.err} fields={[]} />;
  if (!campaign.data || !refs.data) return <p>Loading…</p>;
  const c = campaign.data;
  return (
    <>
      <p class="crumbs">
        <Link href="/campaigns">Campaigns</Link> / {c.name}
      </p>
      <h1>
        {c.name} <span class="muted">campaign {c.id}</span>
      </h1>
      <CampaignSettings campaign={c} buyers={refs.data.buyers} onSaved={campaign.reload} />
      <WebhookGroups campaignId={c.id} buyers={refs.data.buyers} publishers={refs.data.publishers} />
      <ConversionGroups campaignId={c.id} buyers={refs.data.buyers} publishers={refs.data.publishers} />
      <DangerZone label="Delete campaign" onDelete={async () => (await api('DELETE', `/api/v1/campaigns/${c.id}`), navigate('/campaigns'))} />
    </>
  );
}

function CampaignSettings(props: { campaign: any; buyers: Named[]; onSaved: () => void }) {
  const [name, setName] = useState<string>(props.campaign.name);
  const [buyers, setBuyers] = useState<any[]>(props.campaign.buyers);
  const [repeat, setRepeat] = useState<any>(props.campaign.repeat_callers);
  const [saved, setSaved] = useState(false);
  const [submit, busy, err] = useSubmit(async () => {
    setSaved(false);
    await api('PATCH', `/api/v1/campaigns/${props.campaign.id}`, { name, buyers, repeat_callers: repeat });
    setSaved(true);
    props.onSaved();
  });
  const setBuyer = (i: number, patch: any) => setBuyers(buyers.map((b, j) => (i === j ? { ...b, ...patch } : b)));
  const unused = props.buyers.filter((b) => !buyers.some((x) => x.buyer_id === b.id));
  return (
    <Section title="Settings" testid="campaign-settings">
      <form onSubmit={submit}>
        <Field label="Name" name="name" err={err}>
          <input value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </Field>
        <h3>Buyers</h3>
        <p class="hint">Lower priority is tried first; weight shares calls among buyers of equal priority.</p>
        <table>
          <thead>
            <tr>
              <th>buyer</th>
              <th>priority</th>
              <th>weight</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {buyers.map((b, i) => (
              <tr>
                <td>{props.buyers.find((x) => x.id === b.buyer_id)?.name ?? `buyer ${b.buyer_id}`}</td>
                <td>
                  <Field label="" name={`buyers[${i}].priority`} err={err}>
                    <input type="number" class="narrow" value={b.priority} onInput={(e) => setBuyer(i, { priority: Number(e.currentTarget.value) })} />
                  </Field>
                </td>
                <td>
                  <Field label="" name={`buyers[${i}].weight`} err={err}>
                    <input type="number" class="narrow" value={b.weight} onInput={(e) => setBuyer(i, { weight: Number(e.currentTarget.value) })} />
                  </Field>
                </td>
                <td>
                  <RowButton onClick={() => setBuyers(buyers.filter((_, j) => j !== i))}>
                    Remove
                  </RowButton>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {unused.length > 0 && (
          <select
            data-testid="add-buyer"
            value=""
            onChange={(e) => {
              const id = Number(e.currentTarget.value);
              if (id) setBuyers([...buyers, { buyer_id: id, priority: 1, weight: 1 }]);
            }}
          >
            <option value="">Add a buyer…</option>
            {unused.map((b) => (
              <option value={String(b.id)}>{b.name}</option>
            ))}
          </select>
        )}
        {props.buyers.length === 0 && (
          <Notice>
            No buyers yet: <Link href="/buyers">create one</Link>.
          </Notice>
        )}
        <h3>Repeat callers</h3>
        <Field label="Handle repeat callers" name="repeat_callers.enabled" err={err}>
          <input type="checkbox" checked={repeat.enabled} onChange={(e) => setRepeat({ ...repeat, enabled: e.currentTarget.checked })} />
        </Field>
        <div class="row">
          <Field label="Window (seconds)" name="repeat_callers.window_seconds" err={err} hint={`${(repeat.window_seconds / 86400).toFixed(1)} days`}>
            <input type="number" value={repeat.window_seconds} onInput={(e) => setRepeat({ ...repeat, window_seconds: Number(e.currentTarget.value) })} />
          </Field>
          <Field label="Route a repeat caller to" name="repeat_callers.route" err={err}>
            <select value={repeat.route} onChange={(e) => setRepeat({ ...repeat, route: e.currentTarget.value })}>
              <option value="same_buyer">the same buyer</option>
              <option value="new_buyer">a new buyer</option>
              <option value="any">any buyer</option>
            </select>
          </Field>
        </div>
        <FormError err={err} fields={['name', 'buyers', 'repeat_callers']} />
        <button disabled={busy} data-testid="save-campaign">
          Save settings
        </button>
        {saved && <span class="saved">Saved</span>}
      </form>
    </Section>
  );
}

function OrderButtons(props: { list: any[]; index: number; path: (id: number) => string; onDone: () => void }) {
  const move = async (dir: -1 | 1) => {
    for (const ch of moveChanges(props.list, props.index, dir)) await api('PATCH', props.path(ch.id), { position: ch.position });
    props.onDone();
  };
  return (
    <span class="order">
      <RowButton title="earlier" disabled={props.index === 0} onClick={() => move(-1)}>
        ↑
      </RowButton>
      <RowButton title="later" disabled={props.index === props.list.length - 1} onClick={() => move(1)}>
        ↓
      </RowButton>
    </span>
  );
}

// ---------------------------------------------------------------- webhook groups

function headersText(h: Record<string, string>): string {
  return Object.entries(h)
    .map(([k, v]) => `${k}: ${v}`)
    .join('\n');
}
function headersObject(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (line.trim() === '') continue;
    if (i < 0) out[line.trim()] = '';
    else out[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  return out;
}

/**
 * A campaign's groups of one kind (webhook or conversion), in the order they apply: the add
 * button, a table (order buttons, name, the kind's own columns, Edit and the kind's own row
 * buttons), what the kind shows after the table, and the form to add or edit one.
 */
function OrderedGroups(props: {
  campaignId: number;
  kind: 'webhook_groups' | 'conversion_groups';
  title: string;
  addLabel: string;
  hint: string;
  name?: (g: any) => ComponentChildren;
  columns: { label: string; mono?: boolean; cell: (g: any) => ComponentChildren }[];
  rowActions?: (g: any) => ComponentChildren;
  after?: (groups: any[], reload: () => void) => ComponentChildren;
  form: (group: any, done: () => void) => ComponentChildren;
}) {
  const list = useAsync(() => listAll(`/api/v1/campaigns/${props.campaignId}/${props.kind}`), [props.campaignId, props.kind]);
  const [editing, setEditing] = useState<any | null>(null);
  const groups = sortByPosition((list.data ?? []) as any[]);
  const testid = props.kind.replace(/_/g, '-');
  return (
    <Section
      title={props.title}
      testid={testid}
      actions={
        !editing && (
          <button type="button" data-testid={`add-${testid.replace(/s$/, '')}`} onClick={() => setEditing({})}>
            {props.addLabel}
          </button>
        )
      }
    >
      <p class="hint">{props.hint}</p>
      <table>
        <thead>
          <tr>
            <th>order</th>
            <th>name</th>
            {props.columns.map((c) => (
              <th>{c.label}</th>
            ))}
            <th />
          </tr>
        </thead>
        <tbody>
          {groups.map((g, i) => (
            <tr>
              <td>
                <OrderButtons list={groups} index={i} path={(id) => `/api/v1/${props.kind}/${id}`} onDone={list.reload} />
              </td>
              <td>{props.name ? props.name(g) : g.name}</td>
              {props.columns.map((c) => (
                <td class={c.mono ? 'mono' : ''}>{c.cell(g)}</td>
              ))}
              <td>
                <RowButton onClick={() => setEditing(g)}>
                  Edit
                </RowButton>
                {props.rowActions && <> {props.rowActions(g)}</>}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {props.after?.(groups, list.reload)}
      {editing && props.form(editing, () => (setEditing(null), list.reload()))}
    </Section>
  );
}

const matchesColumn = { label: 'matches', mono: true, cell: (g: any) => g.matches || 'every call' };

function WebhookGroups(props: { campaignId: number; buyers: Named[]; publishers: Named[] }) {
  const [rotating, setRotating] = useState<any | null>(null);
  return (
    <OrderedGroups
      campaignId={props.campaignId}
      kind="webhook_groups"
      title="Webhook groups"
      addLabel="Add webhook group"
      hint="Requests sent when a call reaches a trigger and its tags pass the filter; in this order."
      name={(g) => (
        <>
          {g.name} {!g.enabled && <span class="badge">disabled</span>} {g.sign && <span class="badge">signed</span>}
        </>
      )}
      columns={[
        { label: 'trigger', cell: (g) => g.trigger },
        matchesColumn,
        { label: 'requests', mono: true, cell: (g) => g.requests.map((r: any) => `${r.method} ${r.url}`).join('\n') },
      ]}
      rowActions={(g) =>
        g.sign && (
          <RowButton testid={`rotate-secret-${g.id}`} onClick={() => setRotating(g)}>
            Rotate signing secret
          </RowButton>
        )
      }
      after={(_, reload) => rotating && <RotateSecret key={rotating.id} group={rotating} onRotated={reload} onDone={() => setRotating(null)} />}
      form={(group, done) => <WebhookGroupForm campaignId={props.campaignId} group={group} buyers={props.buyers} publishers={props.publishers} onDone={done} />}
    />
  );
}

interface RequestForm {
  method: string;
  url: string;
  headers: string;
  body: string;
}

function WebhookGroupForm(props: { campaignId: number; group: any; buyers: Named[]; publishers: Named[]; onDone: () => void }) {
  const g = props.group;
  const [name, setName] = useState<string>(g.name ?? '');
  const [trigger, setTrigger] = useState<string>(g.trigger ?? 'answered');
  const [matches, setMatches] = useState<string>(g.matches ?? '');
  const [enabled, setEnabled] = useState<boolean>(g.enabled ?? true);
  const [sign, setSign] = useState<boolean>(g.sign ?? false);
  const [requests, setRequests] = useState<RequestForm[]>(
    (g.requests ?? [{ method: 'GET', url: 'https://', headers: {}, body: null }]).map((r: any) => ({
      method: r.method,
      url: r.url,
      headers: headersText(r.headers ?? {}),
      body: r.body ?? '',
    })),
  );
  const payloadRequests = () =>
    requests.map((r) => ({
      method: r.method,
      url: r.url,
      headers: headersObject(r.headers),
      body: r.method === 'GET' || r.method === 'HEAD' || r.body === '' ? null : r.body,
    }));
  const [submit, busy, err] = useSubmit(async () => {
    const body = { name, trigger, matches, enabled, sign, requests: payloadRequests() };
    if (g.id) await api('PATCH', `/api/v1/webhook_groups/${g.id}`, body);
    else await api('POST', `/api/v1/campaigns/${props.campaignId}/webhook_groups`, body);
    props.onDone();
  });
  const previousUntil = secretUntil(g.previous_secret_until);
  const overlapEnd = previousUntil && Date.parse(previousUntil) > Date.now() ? previousUntil : null;
  const setReq = (i: number, patch: Partial<RequestForm>) => setRequests(requests.map((r, j) => (i === j ? { ...r, ...patch } : r)));
  return (
    <form class="subform" onSubmit={submit} data-testid="webhook-group-form">
      <h3>{g.id ? `Edit webhook group ${g.id}` : 'New webhook group'}</h3>
      <div class="row">
        <Field label="Name" name="name" err={err}>
          <input data-testid="wg-name" value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </Field>
        <Field label="Trigger" name="trigger" err={err}>
          <select data-testid="wg-trigger" value={trigger} onChange={(e) => setTrigger(e.currentTarget.value)}>
            {TRIGGERS.map((t) => (
              <option value={t}>{t}</option>
            ))}
          </select>
        </Field>
        <Field label="Enabled" name="enabled" err={err}>
          <input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.currentTarget.checked)} />
        </Field>
        <Field label="Sign (Standard Webhooks)" name="sign" err={err}>
          <input type="checkbox" checked={sign} onChange={(e) => setSign(e.currentTarget.checked)} />
        </Field>
      </div>
      <FilterBuilder value={matches} onChange={setMatches} err={err} buyers={props.buyers} publishers={props.publishers} />
      {requests.map((r, i) => (
        <fieldset class="request">
          <legend>Request {i + 1}</legend>
          <Field label="Method" name={`requests[${i}].method`} err={err}>
            <select data-testid={`req-${i}-method`} value={r.method} onChange={(e) => setReq(i, { method: e.currentTarget.value })}>
              {['GET', 'POST', 'PUT', 'HEAD'].map((m) => (
                <option value={m}>{m}</option>
              ))}
            </select>
          </Field>
          <TokenInput label="URL" name={`requests[${i}].url`} testid={`req-${i}-url`} err={err} value={r.url} onChange={(v) => setReq(i, { url: v })} />
          <TokenInput label="Headers (one Name: value a line)" multiline name={`requests[${i}].headers`} err={err} value={r.headers} onChange={(v) => setReq(i, { headers: v })} />
          {(r.method === 'POST' || r.method === 'PUT') && (
            <TokenInput label="Body" multiline name={`requests[${i}].body`} testid={`req-${i}-body`} err={err} value={r.body} onChange={(v) => setReq(i, { body: v })} />
          )}
          {requests.length > 1 && (
            <RowButton onClick={() => setRequests(requests.filter((_, j) => j !== i))}>
              Remove request
            </RowButton>
          )}
        </fieldset>
      ))}
      {requests.length < 10 && (
        <RowButton onClick={() => setRequests([...requests, { method: 'POST', url: 'https://', headers: '', body: '' }])}>
          Add request
        </RowButton>
      )}
      <WebhookPreview requests={payloadRequests()} />
      <FormError err={err} fields={['name', 'trigger', 'matches', 'enabled', 'sign', 'requests']} />
      <div class="actions">
        <button disabled={busy} data-testid="save-webhook-group">
          {g.id ? 'Save webhook group' : 'Create webhook group'}
        </button>
        <button type="button" class="secondary" onClick={props.onDone}>
          Cancel
        </button>
        {g.id && (
          <button type="button" class="danger" onClick={async () => (await api('DELETE', `/api/v1/webhook_groups/${g.id}`), props.onDone())}>
            Delete
          </button>
        )}
      </div>
      {g.sign && g.signing_secret && (
        <p class="hint">
          Signing secret: <code>{g.signing_secret}</code> <CopyButton text={g.signing_secret} />
          {overlapEnd && <> (the previous secret also verifies until {when(overlapEnd)})</>}
        </p>
      )}
    </form>
  );
}

/**
 * Rotating a signing group's secret: the overlap (how long the old secret still signs), a
 * confirmation, then the new secret shown once with its copy button.
 */
function RotateSecret(props: { group: any; onRotated: () => void; onDone: () => void }) {
  const g = props.group;
  const [overlap, setOverlap] = useState('86400');
  const [rotated, setRotated] = useState<any>(null);
  const [submit, busy, err] = useSubmit(async () => {
    if (!confirm(`Rotate the signing secret of "${g.name}"? Receivers must switch to the new secret before the old one stops verifying.`)) return;
    const body = overlap.trim() === '' ? {} : { overlap_seconds: Number(overlap) };
    setRotated(await api('POST', `/api/v1/webhook_groups/${g.id}/rotate_secret`, body));
    props.onRotated();
  });
  const until = rotated ? secretUntil(rotated.previous_secret_until) : null;
  return (
    <form class="subform" onSubmit={submit} data-testid="rotate-secret-form">
      <h3>Rotate the signing secret of {g.name}</h3>
      {!rotated && (
        <>
          <p class="hint">callpost makes a new secret and signs with it at once; during the overlap every request also carries a signature with the previous secret, so receivers can switch without refusing a webhook.</p>
          <div class="inline">
            <Field label="Overlap (seconds the previous secret still verifies)" name="overlap_seconds" err={err} hint={`${describeSeconds(Number(overlap))}; 0 to 2592000 (30 days)`}>
              <input type="number" data-testid="rotate-overlap" value={overlap} onInput={(e) => setOverlap(e.currentTarget.value)} />
            </Field>
            <button disabled={busy} data-testid="rotate-secret">
              Rotate signing secret
            </button>
            <button type="button" class="secondary" onClick={props.onDone}>
              Cancel
            </button>
          </div>
        </>
      )}
      {rotated && (
        <>
          <Notice>
            The new signing secret (also shown when you edit the group): <code data-testid="new-signing-secret">{rotated.signing_secret}</code> <CopyButton text={rotated.signing_secret} />
            <br />
            <span data-testid="previous-secret-until" data-until={rotated.previous_secret_until ?? ''}>
              {until ? <>The previous secret still verifies until {when(until)} ({until}).</> : <>The previous secret no longer verifies.</>}
            </span>
          </Notice>
          <button type="button" class="secondary" onClick={props.onDone}>
            Done
          </button>
        </>
      )}
      <FormError err={err} fields={['overlap_seconds']} />
    </form>
  );
}

/** The requests as the server would render them now, from the newest call (or an example). */
function WebhookPreview(props: { requests: any[] }) {
  const [out, setOut] = useState<any>(null);
  const [err, setErr] = useState<string | null>(null);
  const key = JSON.stringify(props.requests);
  useDebounced(() => {
    let live = true;
    api('POST', '/api/v1/preview/webhook_requests', { requests: props.requests }).then(
      (r) => live && (setOut(r), setErr(null)),
      (e) => live && setErr(e.message),
    );
    return () => {
      live = false;
    };
  }, [key]);
  return (
    <div class="preview" data-testid="webhook-preview">
      <h4>Preview {out && (out.example_call ? '(an example call: no call yet)' : `(call ${out.call_uuid})`)}</h4>
      {err && <div class="verdict bad">{err}</div>}
      {!err &&
        out?.requests.map((r: any) => (
          <pre class="mono">
            {r.method} {r.url}
            {r.body ? '\n\n' + r.body : ''}
          </pre>
        ))}
      <p class="hint">The call key shows as REDACTED here; the receiver gets the real one.</p>
    </div>
  );
}

// ---------------------------------------------------------------- conversion groups

function ConversionGroups(props: { campaignId: number; buyers: Named[]; publishers: Named[] }) {
  return (
    <OrderedGroups
      campaignId={props.campaignId}
      kind="conversion_groups"
      title="Conversion groups"
      addLabel="Add conversion group"
      hint="When a call ends, the first group (in this order) whose filter the call passes decides its conversion."
      columns={[
        { label: 'type', cell: (g) => g.type },
        matchesColumn,
        {
          label: 'rule',
          mono: true,
          cell: (g) => (
            <>
              {g.type === 'duration' && `${g.seconds} s → ${g.revenue} / ${g.payout}`}
              {g.type === 'postback_value' && `${g.value_param}=… ${g.payout_modifier || '(payout = revenue)'}`}
              {g.type === 'postback_trigger' && `${g.trigger} → ${g.revenue} / ${g.payout}`}
            </>
          ),
        },
      ]}
      after={(groups) => groups.filter((g) => g.postback_instructions).map((g) => <PostbackInstructions group={g} />)}
      form={(group, done) => <ConversionGroupForm campaignId={props.campaignId} group={group} buyers={props.buyers} publishers={props.publishers} onDone={done} />}
    />
  );
}

/** What to hand the buyer for one postback conversion group: the URL and how to fill it in. */
function PostbackInstructions(props: { group: any }) {
  const g = props.group;
  return (
    <div class="instructions" data-testid={`postback-instructions-${g.id}`}>
      <h4>Postback instructions: {g.name}</h4>
      <p>
        The buyer sends <b>{g.postback_instructions.method}</b> to this URL, with <code>[call_uuid]</code> and <code>[call_key]</code> replaced by the values sent with the call
        {g.type === 'postback_value' ? <> and <code>REVENUE</code> by the sale's revenue</> : null}:
      </p>
      <div class="row">
        <code class="url" data-testid="postback-url">
          {g.postback_instructions.url}
        </code>
        <CopyButton text={g.postback_instructions.url} label="Copy URL" testid="copy-postback-url" />
        <CopyButton text={instructionsText(g.name, g.postback_instructions, g.type === 'postback_value' ? g.value_param : undefined)} label="Copy instructions" />
      </div>
    </div>
  );
}

function ConversionGroupForm(props: { campaignId: number; group: any; buyers: Named[]; publishers: Named[]; onDone: () => void }) {
  const g = props.group;
  const [v, setV] = useState<any>({
    name: '',
    type: 'postback_value',
    matches: '',
    seconds: 90,
    revenue: '',
    payout: '',
    value_param: 'value',
    payout_modifier: '',
    trigger: 'sale',
    postback_timeout_seconds: 600,
    ...g,
  });
  const set = (patch: any) => setV({ ...v, ...patch });
  const [submit, busy, err] = useSubmit(async () => {
    const body: any = { name: v.name, type: v.type, matches: v.matches };
    if (v.type === 'duration') Object.assign(body, { seconds: Number(v.seconds), revenue: v.revenue, payout: v.payout });
    if (v.type === 'postback_value') Object.assign(body, { value_param: v.value_param, payout_modifier: v.payout_modifier, postback_timeout_seconds: Number(v.postback_timeout_seconds) });
    if (v.type === 'postback_trigger')
      Object.assign(body, { trigger: v.trigger, revenue: v.revenue, payout: v.payout, postback_timeout_seconds: Number(v.postback_timeout_seconds) });
    if (g.id) await api('PATCH', `/api/v1/conversion_groups/${g.id}`, body);
    else await api('POST', `/api/v1/campaigns/${props.campaignId}/conversion_groups`, body);
    props.onDone();
  });
  return (
    <form class="subform" onSubmit={submit} data-testid="conversion-group-form">
      <h3>{g.id ? `Edit conversion group ${g.id}` : 'New conversion group'}</h3>
      <div class="row">
        <Field label="Name" name="name" err={err}>
          <input data-testid="cg-name" value={v.name} onInput={(e) => set({ name: e.currentTarget.value })} />
        </Field>
        <Field label="Type" name="type" err={err}>
          <select data-testid="cg-type" value={v.type} disabled={!!g.id} onChange={(e) => set({ type: e.currentTarget.value })}>
            <option value="postback_value">postback with a revenue value</option>
            <option value="postback_trigger">postback with a trigger keyword</option>
            <option value="duration">call duration</option>
          </select>
        </Field>
      </div>
      <FilterBuilder value={v.matches} onChange={(m) => set({ matches: m })} err={err} buyers={props.buyers} publishers={props.publishers} />
      {v.type === 'duration' && (
        <Field label="Converts after (seconds answered)" name="seconds" err={err}>
          <input type="number" value={v.seconds} onInput={(e) => set({ seconds: e.currentTarget.value })} />
        </Field>
      )}
      {v.type === 'postback_value' && (
        <>
          <Field label="Revenue parameter" name="value_param" err={err}>
            <input class="mono" value={v.value_param} onInput={(e) => set({ value_param: e.currentTarget.value })} />
          </Field>
          <PayoutModifierField value={v.payout_modifier} onChange={(m) => set({ payout_modifier: m })} err={err} />
        </>
      )}
      {v.type === 'postback_trigger' && (
        <Field label="Trigger keyword" name="trigger" err={err}>
          <input class="mono" value={v.trigger} onInput={(e) => set({ trigger: e.currentTarget.value })} />
        </Field>
      )}
      {v.type !== 'postback_value' && (
        <div class="row">
          <Field label="Revenue" name="revenue" err={err}>
            <input class="mono" value={v.revenue} placeholder="20.00" onInput={(e) => set({ revenue: e.currentTarget.value })} />
          </Field>
          <Field label="Payout" name="payout" err={err}>
            <input class="mono" value={v.payout} placeholder="10.00" onInput={(e) => set({ payout: e.currentTarget.value })} />
          </Field>
        </div>
      )}
      {v.type !== 'duration' && (
        <Field label="Postback timeout (seconds after the call ends)" name="postback_timeout_seconds" err={err}>
          <input type="number" value={v.postback_timeout_seconds} onInput={(e) => set({ postback_timeout_seconds: e.currentTarget.value })} />
        </Field>
      )}
      <FormError err={err} fields={['name', 'type', 'matches', 'seconds', 'revenue', 'payout', 'value_param', 'payout_modifier', 'trigger', 'postback_timeout_seconds']} />
      <div class="actions">
        <button disabled={busy} data-testid="save-conversion-group">
          {g.id ? 'Save conversion group' : 'Create conversion group'}
        </button>
        <button type="button" class="secondary" onClick={props.onDone}>
          Cancel
        </button>
        {g.id && (
          <button type="button" class="danger" onClick={async () => (await api('DELETE', `/api/v1/conversion_groups/${g.id}`), props.onDone())}>
            Delete
          </button>
        )}
      </div>
    </form>
  );
}

function DangerZone(props: { label: string; onDelete: () => Promise<void> }) {
  const [err, setErr] = useState<unknown>(null);
  return (
    <div class="danger-zone">
      <button
        type="button"
        class="danger"
        onClick={() => {
          if (confirm(`${props.label}?`)) props.onDelete().catch(setErr);
        }}
      >
        {props.label}
      </button>
      <FormError err={err} fields={[]} />
    </div>
  );
}

// ---------------------------------------------------------------- simple collections

interface Column {
  name: string;
  label: string;
  kind?: 'text' | 'number' | 'nullable-number' | 'select' | 'tags';
  options?: () => { value: string; label: string }[];
  nullable?: boolean;
  show?: (o: any) => ComponentChildren;
  hint?: string;
}

function toForm(col: Column, value: any): string {
  if (col.kind === 'tags') return Object.entries(value ?? {}).map(([k, v]) => `${k}=${v}`).join('\n');
  return value === null || value === undefined ? '' : String(value);
}
function fromForm(col: Column, text: string): any {
  if (col.kind === 'tags') {
    const out: Record<string, string> = {};
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      const i = line.indexOf('=');
      out[(i < 0 ? line : line.slice(0, i)).trim()] = i < 0 ? '' : line.slice(i + 1).trim();
    }
    return out;
  }
  if (col.kind === 'number' || col.kind === 'nullable-number' || col.kind === 'select') {
    return text === '' ? null : Number(text);
  }
  return text;
}

function Collection(props: {
  title: string;
  path: string;
  columns: Column[];
  deps?: unknown[];
  intro?: ComponentChildren;
  extraColumns?: { label: string; show: (o: any) => ComponentChildren }[];
  rowActions?: (o: any) => ComponentChildren;
  after?: ComponentChildren;
  onChanged?: () => void;
}) {
  const list = useAsync(() => listAll(props.path), [props.path]);
  const blank = () => Object.fromEntries(props.columns.map((c) => [c.name, '']));
  const [editing, setEditing] = useState<any | null>(null);
  const [form, setForm] = useState<Record<string, string>>(blank());
  const [submit, busy, err, setErr] = useSubmit(async () => {
    const body: any = {};
    for (const c of props.columns) {
      const v = fromForm(c, form[c.name]);
      if (v === null && !editing && c.kind !== 'nullable-number' && !c.nullable) continue;
      body[c.name] = v;
    }
    if (editing) await api('PATCH', `${props.path}/${editing.id}`, body);
    else await api('POST', props.path, body);
    setEditing(null);
    setForm(blank());
    list.reload();
  });
  const edit = (o: any) => {
    setEditing(o);
    setErr(null);
    setForm(Object.fromEntries(props.columns.map((c) => [c.name, toForm(c, o[c.name])])));
  };
  const remove = async (o: any) => {
    if (!confirm(`Delete ${o.name ?? o.number ?? o.id}?`)) return;
    try {
      await api('DELETE', `${props.path}/${o.id}`);
      list.reload();
      props.onChanged?.();
    } catch (e) {
      setErr(e);
    }
  };
  return (
    <>
      <h1>{props.title}</h1>
      {props.intro}
      <Section title={editing ? `Edit ${editing.id}` : 'New'}>
        <form onSubmit={submit} data-testid="collection-form">
          <div class="row wrap">
            {props.columns.map((c) => (
              <Field label={c.label} name={c.name} err={err} hint={c.hint}>
                {c.kind === 'select' ? (
                  <select name={c.name} value={form[c.name]} onChange={(e) => setForm({ ...form, [c.name]: e.currentTarget.value })}>
                    <option value="">{c.nullable ? 'none' : 'choose…'}</option>
                    {c.options!().map((o) => (
                      <option value={o.value}>{o.label}</option>
                    ))}
                  </select>
                ) : c.kind === 'tags' ? (
                  <textarea name={c.name} class="mono" rows={3} placeholder="key=value, one a line" value={form[c.name]} onInput={(e) => setForm({ ...form, [c.name]: e.currentTarget.value })} />
                ) : (
                  <input
                    name={c.name}
                    type={c.kind === 'number' || c.kind === 'nullable-number' ? 'number' : 'text'}
                    value={form[c.name]}
                    onInput={(e) => setForm({ ...form, [c.name]: e.currentTarget.value })}
                  />
                )}
              </Field>
            ))}
          </div>
          <FormError err={err} fields={props.columns.map((c) => c.name)} />
          <div class="actions">
            <button disabled={busy}>{editing ? 'Save' : 'Create'}</button>
            {editing && (
              <button type="button" class="secondary" onClick={() => (setEditing(null), setForm(blank()), setErr(null))}>
                Cancel
              </button>
            )}
          </div>
        </form>
      </Section>
      <Section title="All">
        <FormError err={list.err} fields={[]} />
        <table>
          <thead>
            <tr>
              <th>id</th>
              {props.columns.map((c) => (
                <th>{c.label}</th>
              ))}
              {props.extraColumns?.map((c) => (
                <th>{c.label}</th>
              ))}
              <th />
            </tr>
          </thead>
          <tbody>
            {(list.data ?? []).map((o: any) => (
              <tr>
                <td>{o.id}</td>
                {props.columns.map((c) => (
                  <td class={c.kind === 'tags' ? 'mono' : ''}>{c.show ? c.show(o) : toForm(c, o[c.name]) || '—'}</td>
                ))}
                {props.extraColumns?.map((c) => (
                  <td>{c.show(o)}</td>
                ))}
                <td class="nowrap">
                  {props.rowActions?.(o)}
                  <RowButton onClick={() => edit(o)}>
                    Edit
                  </RowButton>{' '}
                  <RowButton danger onClick={() => remove(o)}>
                    Delete
                  </RowButton>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
      {props.after}
    </>
  );
}

export function Buyers() {
  return (
    <Collection
      title="Buyers"
      path="/api/v1/buyers"
      intro={<p class="hint">Who takes calls and pays the revenue. A call routed to a buyer gets the tag system_buyer_id with the buyer's id.</p>}
      columns={[
        { name: 'name', label: 'Name' },
        { name: 'destination', label: 'Destination', hint: 'E.164 number or sip: URI' },
        { name: 'concurrency_cap', label: 'Concurrency cap', kind: 'nullable-number', hint: 'empty: no cap' },
      ]}
    />
  );
}

export function Publishers() {
  // Every publisher's keys (GET /api/v1/postback_keys), for the count in each row.
  const keys = useAsync(() => listAll('/api/v1/postback_keys'), []);
  const [selected, setSelected] = useState<any | null>(null);
  const count = (id: number) => (keys.data ?? []).filter((k: any) => k.publisher_id === id).length;
  return (
    <Collection
      title="Publishers"
      path="/api/v1/publishers"
      intro={<p class="hint">Who sends calls and gets the payout. A publisher's postback keys let it write tags about its callers (data writing).</p>}
      columns={[
        { name: 'name', label: 'Name' },
        { name: 'external_id', label: 'External id' },
      ]}
      extraColumns={[{ label: 'Postback keys', show: (o) => (keys.data ? count(o.id) : '…') }]}
      rowActions={(o) => (
        <>
          <RowButton testid={`postback-keys-${o.id}`} onClick={() => setSelected(o)}>
            Postback keys
          </RowButton>{' '}
        </>
      )}
      onChanged={() => (keys.reload(), setSelected(null))}
      after={selected && <PublisherKeys key={selected.id} publisher={selected} onChanged={keys.reload} onClose={() => setSelected(null)} />}
    />
  );
}

/**
 * One publisher's postback keys: the list (by first characters), a new key shown once with
 * the data-writing URL to hand to the publisher, pause/resume and delete. The key itself lives
 * only in this component's state: never stored, never logged, gone when the screen changes.
 */
function PublisherKeys(props: { publisher: any; onChanged: () => void; onClose: () => void }) {
  const p = props.publisher;
  const path = `/api/v1/publishers/${p.id}/postback_keys`;
  const list = useAsync(() => listAll(path), [path]);
  const [name, setName] = useState('');
  const [storage, setStorage] = useState('');
  const [created, setCreated] = useState<any>(null);
  const [rowErr, setRowErr] = useState<unknown>(null);
  const [submit, busy, err] = useSubmit(async () => {
    const body: any = {};
    if (name.trim() !== '') body.name = name;
    if (storage.trim() !== '') body.storage_seconds = Number(storage);
    setCreated(await api('POST', path, body));
    setName('');
    setStorage('');
    list.reload();
    props.onChanged();
  });
  const change = async (k: any, fn: () => Promise<unknown>) => {
    try {
      setRowErr(null);
      await fn();
      if (created && created.id === k.id) setCreated(null);
      list.reload();
      props.onChanged();
    } catch (e) {
      setRowErr(e);
    }
  };
  const remove = (k: any) => {
    if (!confirm(`Delete the postback key "${k.name}" (${k.prefix}…)? The publisher's requests with it are refused at once.`)) return;
    change(k, () => api('DELETE', `${path}/${k.id}`));
  };
  // The server's own (on --public-url); the console's address for a server that sends none.
  const url = created ? created.data_writing_url ?? dataWritingUrl(location.origin, created.key) : '';
  return (
    <Section
      title={`Postback keys of ${p.name}`}
      testid="publisher-keys"
      actions={
        <button type="button" class="secondary small" onClick={props.onClose}>
          Close
        </button>
      }
    >
      <p class="hint">
        A key lets the publisher write tags about its callers, before or during a call, with <code>GET</code> or <code>POST /data_writing/KEY?caller_number=…&amp;tag=value</code>. Hand it with the
        data-writing guide (docs/data-writing.md). callpost keeps only its first characters: a lost key cannot be shown again.
      </p>
      <form onSubmit={submit} class="inline" data-testid="postback-key-form">
        <Field label="Name" name="name" err={err}>
          <input data-testid="postback-key-name" value={name} placeholder="lead form" onInput={(e) => setName(e.currentTarget.value)} />
        </Field>
        <Field label="Keep tags for a caller with no call (seconds)" name="storage_seconds" err={err} hint={storage === '' ? 'empty: 1 day' : `${describeSeconds(Number(storage))}; 60 to 7776000 (90 days)`}>
          <input type="number" data-testid="postback-key-storage" value={storage} placeholder="86400" onInput={(e) => setStorage(e.currentTarget.value)} />
        </Field>
        <button disabled={busy} data-testid="create-postback-key">
          Create postback key
        </button>
      </form>
      <FormError err={err} fields={['name', 'storage_seconds']} />
      {created && (
        <Notice>
          <div>
            The new key, shown only this once: <code data-testid="new-postback-key">{created.key}</code> <CopyButton text={created.key} testid="copy-postback-key" />
          </div>
          <div>
            The publisher's data-writing URL: <code data-testid="data-writing-url">{url}</code> <CopyButton text={url} label="Copy URL" testid="copy-data-writing-url" />
          </div>
          <div class="hint">
            For example <code>{dataWritingExample(url)}</code> adds the tag lead_id to the caller's current call, or keeps it for the caller's next call ({describeSeconds(created.storage_seconds)}).
          </div>
        </Notice>
      )}
      <FormError err={rowErr ?? list.err} fields={[]} />
      <table>
        <thead>
          <tr>
            <th>id</th>
            <th>name</th>
            <th>starts with</th>
            <th>keeps tags</th>
            <th>state</th>
            <th>created</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {((list.data ?? []) as any[]).map((k) => (
            <tr data-key-id={k.id}>
              <td>{k.id}</td>
              <td>{k.name}</td>
              <td class="mono">{k.prefix}…</td>
              <td>{describeSeconds(k.storage_seconds)}</td>
              <td>{k.paused ? <span class="badge">paused</span> : 'active'}</td>
              <td>{when(k.created_at)}</td>
              <td class="nowrap">
                <RowButton onClick={() => change(k, () => api('PATCH', `${path}/${k.id}`, { paused: !k.paused }))}>
                  {k.paused ? 'Resume' : 'Pause'}
                </RowButton>{' '}
                <RowButton danger testid={`delete-postback-key-${k.id}`} onClick={() => remove(k)}>
                  Delete
                </RowButton>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {list.data && list.data.length === 0 && <p class="hint">No keys yet.</p>}
    </Section>
  );
}

export function Numbers() {
  const refs = useAsync(async () => ({ campaigns: await listAll<Named>('/api/v1/campaigns'), publishers: await listAll<Named>('/api/v1/publishers') }), []);
  if (!refs.data) return <FormError err={refs.err} fields={[]} />;
  const { campaigns, publishers } = refs.data;
  const name = (list: Named[], id: number | null) => (id === null ? '—' : list.find((x) => x.id === id)?.name ?? String(id));
  return (
    <Collection
      title="Numbers"
      path="/api/v1/numbers"
      intro={<p class="hint">Tracking numbers: a call to one belongs to its campaign and publisher, and gets its tags.</p>}
      columns={[
        { name: 'number', label: 'Number', hint: 'stored as E.164' },
        { name: 'campaign_id', label: 'Campaign', kind: 'select', options: () => campaigns.map((c) => ({ value: String(c.id), label: c.name })), show: (o) => name(campaigns, o.campaign_id) },
        {
          name: 'publisher_id',
          label: 'Publisher',
          kind: 'select',
          nullable: true,
          options: () => publishers.map((p) => ({ value: String(p.id), label: p.name })),
          show: (o) => name(publishers, o.publisher_id),
        },
        { name: 'tags', label: 'Tags', kind: 'tags' },
      ]}
    />
  );
}

// ---------------------------------------------------------------- account and API keys

export function Account() {
  const account = useAsync(() => api('GET', '/api/v1/account'), []);
  if (!account.data) return <FormError err={account.err} fields={[]} />;
  return <AccountForm account={account.data} onSaved={account.reload} />;
}

function AccountForm(props: { account: any; onSaved: () => void }) {
  const [name, setName] = useState<string>(props.account.name);
  const [carry, setCarry] = useState<boolean>(props.account.carry_over_postback_tags);
  const [ttl, setTtl] = useState<string>(String(props.account.call_key_ttl_seconds));
  const [saved, setSaved] = useState(false);
  const [submit, busy, err] = useSubmit(async () => {
    setSaved(false);
    await api('PATCH', '/api/v1/account', { name, carry_over_postback_tags: carry, call_key_ttl_seconds: Number(ttl) });
    setSaved(true);
    props.onSaved();
  });
  return (
    <>
      <h1>Account settings</h1>
      <Section title={`Account ${props.account.id}`}>
        <form onSubmit={submit} data-testid="account-form">
          <Field label="Name" name="name" err={err}>
            <input value={name} onInput={(e) => setName(e.currentTarget.value)} />
          </Field>
          <Field
            label="Carry over postback tags to repeat callers"
            name="carry_over_postback_tags"
            err={err}
            hint="Off: tags buyers posted back stay on their call; a repeat caller's next call does not get them (repeat routing still works)."
          >
            <input type="checkbox" checked={carry} onChange={(e) => setCarry(e.currentTarget.checked)} />
          </Field>
          <Field label="Call key lifetime (seconds after the call ends)" name="call_key_ttl_seconds" err={err} hint={`${(Number(ttl) / 86400).toFixed(1)} days; 60 to 316224000`}>
            <input type="number" data-testid="call-key-ttl" value={ttl} onInput={(e) => setTtl(e.currentTarget.value)} />
          </Field>
          <FormError err={err} fields={['name', 'carry_over_postback_tags', 'call_key_ttl_seconds']} />
          <button disabled={busy}>Save</button>
          {saved && <span class="saved">Saved</span>}
        </form>
        <p class="hint">Created {when(props.account.created_at)}.</p>
      </Section>
    </>
  );
}

export function ApiKeys() {
  const keys = useAsync(() => api('GET', '/api/v1/api_keys'), []);
  const [name, setName] = useState('');
  const [created, setCreated] = useState<any>(null);
  const [submit, busy, err, setErr] = useSubmit(async () => {
    setCreated(await api('POST', '/api/v1/api_keys', { name: name || undefined }));
    setName('');
    keys.reload();
  });
  const revoke = async (k: any) => {
    if (!confirm(`Revoke the key "${k.name}" (${k.prefix}…)? It stops working at once.`)) return;
    try {
      await api('DELETE', `/api/v1/api_keys/${k.id}`);
      keys.reload();
    } catch (e) {
      setErr(e);
    }
  };
  return (
    <>
      <h1>API keys</h1>
      <Section title="New key">
        <form onSubmit={submit} class="inline">
          <Field label="Name" name="name" err={err}>
            <input value={name} placeholder="kamailio edge" onInput={(e) => setName(e.currentTarget.value)} />
          </Field>
          <button disabled={busy}>Create key</button>
        </form>
        {created && (
          <Notice>
            The new key, shown only this once: <code data-testid="new-api-key">{created.key}</code> <CopyButton text={created.key} />
          </Notice>
        )}
        <FormError err={err} fields={['name']} />
      </Section>
      <Section title="Keys">
        <table>
          <thead>
            <tr>
              <th>id</th>
              <th>name</th>
              <th>starts with</th>
              <th>created</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {(keys.data?.data ?? []).map((k: any) => (
              <tr>
                <td>{k.id}</td>
                <td>{k.name}</td>
                <td class="mono">{k.prefix}…</td>
                <td>{when(k.created_at)}</td>
                <td>
                  <RowButton danger onClick={() => revoke(k)}>
                    Revoke
                  </RowButton>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
    </>
  );
}
