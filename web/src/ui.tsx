// Shared pieces: links, fields with their errors, the copy button, and the aids that keep
// operators from making mistakes (filter builder, token picker, payout-modifier preview).
import type { ComponentChildren, JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from './api';
import { errorFor, formError } from './lib/errors';
import { Condition, OPS, Op, conditionError, describeFilter, formatCondition, parseFilter } from './lib/filter';
import { BUILTIN_TOKENS, insertToken } from './lib/tokens';
import { BASE, navigate } from './router';

export function Link(props: { href: string; children: ComponentChildren; class?: string }) {
  return (
    <a
      href={BASE + props.href}
      class={props.class}
      onClick={(e) => {
        if (e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
        e.preventDefault();
        navigate(props.href);
      }}
    >
      {props.children}
    </a>
  );
}

/** A labelled field; `err` is the form's last API error, shown here when it names `name`. */
export function Field(props: { label: string; name: string; err?: unknown; hint?: ComponentChildren; children: ComponentChildren }) {
  // An error stays until the field is edited (then until the next answer).
  const [editedAfter, setEditedAfter] = useState<unknown>(null);
  const message = editedAfter === props.err ? null : errorFor(props.err, props.name);
  const edited = () => message && setEditedAfter(props.err);
  return (
    <div class={'field' + (message ? ' has-error' : '')} data-field={props.name} onInput={edited} onChange={edited}>
      <label>
        <span class="label">{props.label}</span>
        {props.children}
      </label>
      {props.hint && <div class="hint">{props.hint}</div>}
      {message && (
        <div class="field-error" role="alert" data-error-for={props.name}>
          {message}
        </div>
      )}
    </div>
  );
}

/** The error that no field of the form shows. */
export function FormError(props: { err: unknown; fields: string[] }) {
  const message = formError(props.err, props.fields);
  return message ? (
    <div class="form-error" role="alert">
      {message}
    </div>
  ) : null;
}

export function Notice(props: { children: ComponentChildren }) {
  return <div class="notice">{props.children}</div>;
}

/** A small button of a table row; `danger` for the ones that delete or revoke. */
export function RowButton(props: { onClick: () => void; danger?: boolean; disabled?: boolean; title?: string; testid?: string; children: ComponentChildren }) {
  return (
    <button type="button" class={props.danger ? 'small danger' : 'small'} disabled={props.disabled} title={props.title} data-testid={props.testid} onClick={props.onClick}>
      {props.children}
    </button>
  );
}

export function CopyButton(props: { text: string; label?: string; testid?: string }) {
  const [done, setDone] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(props.text);
    } catch {
      const area = document.createElement('textarea');
      area.value = props.text;
      document.body.appendChild(area);
      area.select();
      document.execCommand('copy');
      area.remove();
    }
    setDone(true);
    setTimeout(() => setDone(false), 1500);
  };
  return (
    <button type="button" class="copy" data-copy={props.text} data-testid={props.testid} onClick={copy}>
      {done ? 'Copied' : props.label ?? 'Copy'}
    </button>
  );
}

/** Runs `fn` `ms` after the last change of `deps`. */
export function useDebounced(fn: () => void | (() => void), deps: unknown[], ms = 300) {
  useEffect(() => {
    let cleanup: void | (() => void);
    const t = setTimeout(() => {
      cleanup = fn();
    }, ms);
    return () => {
      clearTimeout(t);
      if (cleanup) cleanup();
    };
  }, deps);
}

export function useAsync<T>(load: () => Promise<T>, deps: unknown[]): { data: T | undefined; err: unknown; reload: () => void } {
  const [data, setData] = useState<T>();
  const [err, setErr] = useState<unknown>(null);
  const [n, setN] = useState(0);
  useEffect(() => {
    let live = true;
    load().then(
      (d) => live && (setData(d), setErr(null)),
      (e) => live && setErr(e),
    );
    return () => {
      live = false;
    };
  }, [...deps, n]);
  return { data, err, reload: () => setN((x) => x + 1) };
}

export interface Named {
  id: number;
  name: string;
}

/**
 * The "matches" filter: the text itself (editable), a builder row (tag key, operator, value)
 * that appends a condition, a plain-language reading, and the server's verdict.
 */
export function FilterBuilder(props: { value: string; onChange: (v: string) => void; name?: string; err?: unknown; buyers?: Named[]; publishers?: Named[] }) {
  const name = props.name ?? 'matches';
  const [row, setRow] = useState<Condition>({ key: 'system_buyer_id', op: '==', value: '' });
  const [rowError, setRowError] = useState<string | null>(null);
  const [server, setServer] = useState<{ ok: boolean; text: string } | null>(null);
  const conditions = parseFilter(props.value);

  useDebounced(() => {
    let live = true;
    api('POST', '/api/v1/preview/matches', { matches: props.value }).then(
      (r) => live && setServer({ ok: true, text: r.canonical === '' ? 'valid: matches every call' : `valid: ${r.canonical}` }),
      (e) => live && setServer({ ok: false, text: e.message }),
    );
    return () => {
      live = false;
    };
  }, [props.value]);

  const add = () => {
    const c = { ...row, key: row.key.trim() };
    const problem = conditionError(c);
    setRowError(problem);
    if (problem) return;
    const text = props.value.trim();
    props.onChange(text === '' ? formatCondition(c) : `${text}, ${formatCondition(c)}`);
    setRow({ ...row, value: '' });
  };
  const choices = row.key === 'system_buyer_id' ? props.buyers : row.key === 'system_publisher_id' ? props.publishers : undefined;

  return (
    <Field label="Matches (tag filter)" name={name} err={props.err}>
      <input class="mono" data-testid={`${name}-text`} value={props.value} placeholder="empty: every call" onInput={(e) => props.onChange(e.currentTarget.value)} />
      <div class="builder" data-testid={`${name}-builder`}>
        <input list="tag-keys" class="mono key" aria-label="tag key" value={row.key} onInput={(e) => setRow({ ...row, key: e.currentTarget.value })} />
        <select aria-label="operator" value={row.op} onChange={(e) => setRow({ ...row, op: e.currentTarget.value as Op })}>
          {OPS.map((o) => (
            <option value={o.op}>{o.label}</option>
          ))}
        </select>
        {choices ? (
          <select aria-label="value" value={row.value} onChange={(e) => setRow({ ...row, value: e.currentTarget.value })}>
            <option value="">choose…</option>
            {choices.map((c) => (
              <option value={String(c.id)}>
                {c.name} ({c.id})
              </option>
            ))}
          </select>
        ) : (
          <input aria-label="value" class="mono" value={row.value} onInput={(e) => setRow({ ...row, value: e.currentTarget.value })} />
        )}
        <button type="button" onClick={add}>
          Add condition
        </button>
      </div>
      {rowError && <div class="field-error">{rowError}</div>}
      <div class="hint">
        {conditions ? <>Reads: {describeFilter(conditions)}. </> : null}
        Conditions on one key are OR-ed, on different keys AND-ed.
      </div>
      {server && (
        <div class={server.ok ? 'verdict ok' : 'verdict bad'} data-testid={`${name}-verdict`}>
          {server.text}
        </div>
      )}
    </Field>
  );
}

export function TagKeyList() {
  return (
    <datalist id="tag-keys">
      {['system_buyer_id', 'system_publisher_id', 'system_campaign_id', 'system_number_id', 'caller_number'].map((k) => (
        <option value={k} />
      ))}
    </datalist>
  );
}

/** A template input (URL, header value or body) with a token picker that inserts at the caret. */
export function TokenInput(props: { value: string; onChange: (v: string) => void; multiline?: boolean; label: string; name: string; err?: unknown; testid?: string }) {
  const ref = useRef<HTMLInputElement & HTMLTextAreaElement>(null);
  const [open, setOpen] = useState(false);
  const pick = (token: string) => {
    const el = ref.current;
    const start = el?.selectionStart ?? props.value.length;
    const end = el?.selectionEnd ?? start;
    const r = insertToken(props.value, start, end, token);
    props.onChange(r.text);
    setOpen(false);
    requestAnimationFrame(() => {
      if (el) {
        el.focus();
        el.setSelectionRange(r.caret, r.caret);
      }
    });
  };
  const input = (e: JSX.TargetedEvent<HTMLInputElement | HTMLTextAreaElement>) => props.onChange(e.currentTarget.value);
  return (
    <Field label={props.label} name={props.name} err={props.err}>
      <div class="token-input">
        {props.multiline ? (
          <textarea ref={ref} class="mono" rows={4} data-testid={props.testid} value={props.value} onInput={input} />
        ) : (
          <input ref={ref} class="mono" data-testid={props.testid} value={props.value} onInput={input} />
        )}
        <button type="button" class="small" onClick={() => setOpen(!open)} aria-expanded={open}>
          [token]
        </button>
      </div>
      {open && (
        <div class="token-menu" role="menu">
          {BUILTIN_TOKENS.map((t) => (
            <button type="button" role="menuitem" class="token" onClick={() => pick(t.name)} title={t.about}>
              <code>[{t.name}]</code> <span>{t.about}</span>
            </button>
          ))}
          <div class="hint">Any other [name] is the value of that tag of the call.</div>
        </div>
      )}
    </Field>
  );
}

/** The payout modifier with the server's exact result for a sample revenue, as you type. */
export function PayoutModifierField(props: { value: string; onChange: (v: string) => void; err?: unknown }) {
  const [revenue, setRevenue] = useState('10.00');
  const [preview, setPreview] = useState<{ ok: boolean; text: string } | null>(null);
  useDebounced(
    () => {
      let live = true;
      api('POST', '/api/v1/preview/payout_modifier', { payout_modifier: props.value, revenue }).then(
        (r) => live && setPreview({ ok: true, text: `revenue ${r.revenue} → payout ${r.payout}` }),
        (e) => live && setPreview({ ok: false, text: e.message }),
      );
      return () => {
        live = false;
      };
    },
    [props.value, revenue],
    150,
  );
  return (
    <Field
      label="Payout modifier"
      name="payout_modifier"
      err={props.err}
      hint="Applied left to right, no precedence: -5*0.5 on 100.00 is (100.00 - 5.00) × 0.5. Empty: payout = revenue; *0: no payout."
    >
      <div class="row">
        <input class="mono" data-testid="payout-modifier" value={props.value} placeholder="*0.8" onInput={(e) => props.onChange(e.currentTarget.value)} />
        <span class="hint">try with revenue</span>
        <input class="mono narrow" aria-label="sample revenue" value={revenue} onInput={(e) => setRevenue(e.currentTarget.value)} />
      </div>
      {preview && (
        <div class={preview.ok ? 'verdict ok' : 'verdict bad'} data-testid="payout-preview">
          {preview.text}
        </div>
      )}
    </Field>
  );
}

export function when(t: string | null | undefined): string {
  if (!t) return '—';
  const d = new Date(t);
  return isNaN(d.getTime()) ? t : d.toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' });
}
