// Publisher postback keys (docs/data-writing.md) and webhook signing-secret rotation.

/** The data-writing endpoint a publisher calls with its key, on callpost at `base`. */
export function dataWritingUrl(base: string, key: string): string {
  return `${base.replace(/\/+$/, '')}/data_writing/${encodeURIComponent(key)}`;
}

/** An example request to that endpoint: a caller's number (its + as %2B) and one tag. */
export function dataWritingExample(url: string): string {
  return `${url}?caller_number=%2B15551230000&lead_id=L-1001`;
}

/** A storage time in seconds as the operator reads it ("1 day", "90 days", "2 h", "60 s"). */
export function describeSeconds(s: number): string {
  if (!Number.isFinite(s)) return '—';
  if (s >= 86400 && s % 86400 === 0) return s === 86400 ? '1 day' : `${s / 86400} days`;
  if (s >= 3600 && s % 3600 === 0) return `${s / 3600} h`;
  if (s >= 60 && s % 60 === 0) return `${s / 60} min`;
  return `${s} s`;
}

/**
 * `previous_secret_until` as an ISO time, or null without one. The API reference gives it in
 * milliseconds since the epoch; the server answers an RFC 3339 time: both are read.
 */
export function secretUntil(v: unknown): string | null {
  const ms = typeof v === 'number' ? v : typeof v === 'string' && v !== '' ? Date.parse(v) : NaN;
  return Number.isFinite(ms) ? new Date(ms).toISOString() : null;
}
