/**
 * A message's header section read as Go's net/mail does it (Mailpit's /headers answers with Go's mail.Header): keys
 * in canonical form ("content-type" → "Content-Type", "message-id" → "Message-Id"), every occurrence kept in order,
 * folded lines joined with a space. One pass over the header section; the body is not read.
 */
export function headerSection(raw: Buffer): string {
  const crlf = raw.indexOf('\r\n\r\n');
  const lf = raw.indexOf('\n\n');
  const end = crlf === -1 ? lf : lf === -1 ? crlf : Math.min(crlf, lf);
  return raw.subarray(0, end === -1 ? raw.length : end).toString('utf8');
}

/** Go's textproto.CanonicalMIMEHeaderKey. */
export function canonicalKey(key: string): string {
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(key)) return key;
  return key.toLowerCase().replace(/(^|-)([a-z])/g, (_m, dash: string, ch: string) => dash + ch.toUpperCase());
}

/** Headers in order of appearance: [name as written, value unfolded]. */
export function readHeaders(raw: Buffer): [string, string][] {
  const out: [string, string][] = [];
  for (const line of headerSection(raw).split(/\r?\n/)) {
    if ((line.startsWith(' ') || line.startsWith('\t')) && out.length > 0) {
      const last = out[out.length - 1] as [string, string];
      last[1] = `${last[1]} ${line.trim()}`.trim();
      continue;
    }
    const colon = line.indexOf(':');
    if (colon > 0) out.push([line.slice(0, colon).trim(), line.slice(colon + 1).trim()]);
  }
  return out;
}

/** Go's mail.Header as JSON: canonical keys, sorted (Go marshals a map's keys in order), each with all its values. */
export function goHeaderMap(raw: Buffer): Record<string, string[]> {
  const map = new Map<string, string[]>();
  for (const [name, value] of readHeaders(raw)) {
    const key = canonicalKey(name);
    const list = map.get(key);
    if (list === undefined) map.set(key, [value]);
    else list.push(value);
  }
  const out: Record<string, string[]> = {};
  for (const key of [...map.keys()].sort()) Object.defineProperty(out, key, { value: map.get(key), enumerable: true, writable: true, configurable: true });
  return out;
}

/** The first value of a header (case-insensitive name), or ''. */
export function headerValue(raw: Buffer, name: string): string {
  const lc = name.toLowerCase();
  return readHeaders(raw).find(([n]) => n.toLowerCase() === lc)?.[1] ?? '';
}
