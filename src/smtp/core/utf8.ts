/**
 * Strict UTF-8 (RFC 3629): malformed input is refused, never replaced with U+FFFD, so that a bad byte gets a clear
 * reply instead of silently becoming another character. One decoder for commands, log lines and AUTH answers.
 */
const strict = new TextDecoder('utf-8', { fatal: true });
const NON_ASCII = /[\x80-\xff]/;

/** The text the bytes encode, or null if they are not well-formed UTF-8. */
export function decodeUtf8(bytes: Uint8Array): string | null {
  try {
    return strict.decode(bytes);
  } catch {
    return null;
  }
}

/** A latin1 line (one char per byte, as the LineSplitter returns it) decoded as UTF-8, or null if it is not UTF-8. */
export function decodeUtf8Line(latin1: string): string | null {
  return NON_ASCII.test(latin1) ? decodeUtf8(Buffer.from(latin1, 'latin1')) : latin1;
}
