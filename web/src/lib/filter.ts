// The tag-filter ("matches") language, for the filter builder: conditions "key:op value",
// OR within a key, AND across keys (the server's grammar: src/core/tag_filter.h). The server
// stays the judge (POST /api/v1/preview/matches); these functions build text that parses and
// catch the common mistakes early.

export type Op = '==' | '!=' | '>=' | '<=' | '>' | '<' | '~';

export const OPS: { op: Op; label: string }[] = [
  { op: '==', label: 'is' },
  { op: '!=', label: 'is not' },
  { op: '~', label: 'contains' },
  { op: '>', label: '>' },
  { op: '>=', label: '≥' },
  { op: '<', label: '<' },
  { op: '<=', label: '≤' },
];

export interface Condition {
  key: string;
  op: Op;
  value: string;
}

const KEY = /^[A-Za-z0-9_.-]+$/;
const NUMBER = /^-?[0-9]+(\.[0-9]+)?$/;
const NUMERIC_OPS: Op[] = ['>', '>=', '<', '<='];

/** What is wrong with a condition, or null. */
export function conditionError(c: Condition): string | null {
  if (c.key === '') return 'the tag key is empty';
  if (!KEY.test(c.key)) return 'a tag key has only letters, digits, _ . -';
  if (c.value === '') return 'the value is empty';
  if (NUMERIC_OPS.includes(c.op) && !NUMBER.test(c.value.trim())) {
    return `${c.op} compares numbers: the value must be a number such as 42 or 9.5`;
  }
  return null;
}

/** The value as the grammar needs it: quoted when raw text would be read differently. */
export function quoteValue(value: string): string {
  const raw = value !== '' && !/[,"\\]/.test(value) && value.trim() === value && !/^[=!<>~]/.test(value);
  if (raw) return value;
  return '"' + value.replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"';
}

export function formatCondition(c: Condition): string {
  return `${c.key}:${c.op}${quoteValue(c.value)}`;
}

export function formatFilter(conditions: Condition[]): string {
  return conditions.map(formatCondition).join(', ');
}

/** "system_buyer_id is 2 and (state is CA or state is NY)"; "every call" for no condition. */
export function describeFilter(conditions: Condition[]): string {
  if (conditions.length === 0) return 'every call';
  const byKey = new Map<string, Condition[]>();
  for (const c of conditions) byKey.set(c.key, [...(byKey.get(c.key) ?? []), c]);
  const label = (op: Op) => OPS.find((o) => o.op === op)?.label ?? op;
  const parts = [...byKey.values()].map((group) => {
    const text = group.map((c) => `${c.key} ${label(c.op)} ${c.value}`).join(' or ');
    return group.length > 1 && byKey.size > 1 ? `(${text})` : text;
  });
  return parts.join(' and ');
}

/** Parses filter text into conditions (for editing a saved filter); null when it does not parse. */
export function parseFilter(text: string): Condition[] | null {
  const out: Condition[] = [];
  let i = 0;
  const ws = () => {
    while (i < text.length && /\s/.test(text[i])) i++;
  };
  ws();
  if (i === text.length) return out;
  for (;;) {
    ws();
    const keyStart = i;
    while (i < text.length && /[A-Za-z0-9_.-]/.test(text[i])) i++;
    const key = text.slice(keyStart, i);
    ws();
    if (key === '' || text[i] !== ':') return null;
    i++;
    ws();
    let op: Op = '==';
    for (const candidate of ['==', '!=', '>=', '<=', '>', '<', '~'] as Op[]) {
      if (text.startsWith(candidate, i)) {
        op = candidate;
        i += candidate.length;
        break;
      }
    }
    ws();
    let value = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        if (i >= text.length) return null;
        if (text[i] === '\\' && (text[i + 1] === '"' || text[i + 1] === '\\')) {
          value += text[i + 1];
          i += 2;
        } else if (text[i] === '"') {
          i++;
          break;
        } else {
          value += text[i++];
        }
      }
      ws();
    } else {
      const start = i;
      while (i < text.length && text[i] !== ',') i++;
      value = text.slice(start, i).trim();
      if (value === '' || value === '=' || value === '!') return null;
    }
    const c = { key, op, value };
    if (conditionError(c) !== null) return null;
    out.push(c);
    if (i === text.length) return out;
    if (text[i] !== ',') return null;
    i++;
  }
}
