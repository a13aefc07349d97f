// Postback instructions: the URL a buyer calls, with [call_uuid], [call_key] and, for a
// posted-back revenue value, REVENUE to fill in (docs/buyer-postbacks.md).

export interface Instructions {
  method: string;
  url: string;
}

/** The instructions' URL filled in for one call (for an example, or a test). */
export function fillPostbackUrl(url: string, uuid: string, key: string, revenue?: string): string {
  let out = url.split('[call_uuid]').join(encodeURIComponent(uuid));
  out = out.split('[call_key]').join(encodeURIComponent(key));
  if (revenue !== undefined) out = out.replace(/=REVENUE(&|$)/, `=${encodeURIComponent(revenue)}$1`);
  return out;
}

/** The plain-text instructions to hand to a buyer. */
export function instructionsText(groupName: string, i: Instructions, valueParam?: string): string {
  const lines = [
    `Postback for "${groupName}": send an HTTP ${i.method} request to`,
    `  ${i.url}`,
    'replacing [call_uuid] and [call_key] with the values sent to you with the call',
  ];
  if (valueParam) lines.push(`and REVENUE with the sale's revenue (e.g. ${valueParam}=12.50).`);
  else lines.push('when the call converted.');
  return lines.join('\n');
}
