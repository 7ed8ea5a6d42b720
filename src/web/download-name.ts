/**
 * The file name a download is offered under (Content-Disposition, RFC 6266), from a name the sender chose. Bidi
 * controls would let "\u202Egnp.exe" show as "exe.png" in the browser's download bar and the file manager, so they
 * go, with the control characters and path separators: each becomes "_", which shows that something was there.
 * Both forms are given: `filename` in ASCII for old clients and `filename*` (RFC 8187) in UTF-8.
 */

/** ALM, LRM, RLM, the embeddings and overrides (LRE…RLO, PDF) and the isolates (LRI…PDI): Unicode's bidi controls. */
export const BIDI_CONTROLS = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
/** C0, DEL, C1, bidi controls, and / \ (a name, not a path). */
const UNSAFE = /[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069/\\]/g;
/** A surrogate half without its other half: encodeURIComponent would throw on it. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** The name with what could disguise it replaced by "_" (and a broken character by U+FFFD). */
export function safeFilename(name: string): string {
  return name.replace(LONE_SURROGATE, '\ufffd').replace(UNSAFE, '_');
}

/** `filename="…"; filename*=UTF-8''…` for a Content-Disposition header. */
export function dispositionFilename(name: string): string {
  const safe = safeFilename(name);
  const ascii = safe.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(safe)}`;
}
