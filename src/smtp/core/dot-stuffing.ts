/** Message text on the wire (RFC 5321 §4.5.2): the sender doubles each line's leading dot and ends with "." alone. */

/** Dot-stuffs a message (latin1 or ASCII text with CRLF line endings) and appends the end-of-data line. */
export function encodeDataSection(message: string): string {
  const stuffed = message.replace(/(^|\n)\./g, '$1..');
  const terminated = stuffed === '' || stuffed.endsWith('\r\n') ? stuffed : `${stuffed}\r\n`;
  return `${terminated}.\r\n`;
}

/** Normalizes every line ending (CRLF, bare LF, bare CR) to CRLF, as a message on the wire needs. */
export const toCrlf = (text: string): string => text.replace(/\r\n|\r|\n/g, '\r\n');
