// Replacement tokens of webhook URLs, headers and bodies ("[call_uuid]"), for the token picker.
// The list mirrors src/webhook/tokens.h; any other token names a tag of the call.

export interface Token {
  name: string;
  about: string;
}

export const BUILTIN_TOKENS: Token[] = [
  { name: 'call_uuid', about: "the call's UUID" },
  { name: 'call_key', about: "the call's key (the buyer posts back with it)" },
  { name: 'caller_number', about: "the caller's number, E.164" },
  { name: 'nanp_caller_number', about: 'the caller\'s number without +1 ("5551230000")' },
  { name: 'dialed_number', about: 'the tracking number dialled' },
  { name: 'campaign_id', about: 'the campaign id' },
  { name: 'publisher_id', about: 'the publisher id' },
  { name: 'buyer_id', about: 'the buyer id' },
  { name: 'call_duration', about: 'seconds, "0" until known' },
  { name: 'revenue', about: 'e.g. "10.00", empty until decided' },
  { name: 'payout', about: 'e.g. "8.00", empty until decided' },
  { name: 'converted', about: '"true" or "false"' },
  { name: 'conversion_state', about: 'pending, awaiting_postback, converted, not_converted' },
  { name: 'started_at', about: 'RFC 3339' },
  { name: 'answered_at', about: 'RFC 3339, empty when not answered' },
  { name: 'ended_at', about: 'RFC 3339, empty until ended' },
];

/** Inserts "[name]" in place of text[start, end); returns the new text and caret position. */
export function insertToken(
  text: string,
  start: number,
  end: number,
  name: string,
): { text: string; caret: number } {
  const token = `[${name}]`;
  const s = Math.max(0, Math.min(start, text.length));
  const e = Math.max(s, Math.min(end, text.length));
  return { text: text.slice(0, s) + token + text.slice(e), caret: s + token.length };
}

/** The token names in a template, in order of first appearance ("[[" and "]]" are literals). */
export function tokensIn(template: string): string[] {
  const names: string[] = [];
  for (let i = 0; i < template.length; i++) {
    if (template.startsWith('[[', i)) {
      i++;
      continue;
    }
    if (template[i] !== '[') continue;
    const m = /^\[([A-Za-z0-9_.-]{1,64})\]/.exec(template.slice(i));
    if (m) {
      if (!names.includes(m[1])) names.push(m[1]);
      i += m[0].length - 1;
    }
  }
  return names;
}
