/**
 * POP3 multi-line responses (RFC 1939 §3): every line of the body that starts with "." gets one more, and the
 * response ends with CRLF "." CRLF. The bytes in between are the stored bytes exactly; a message that does not end
 * with CRLF gets one before the terminator (the only byte added). A dot after a bare LF is stuffed too, so that a
 * client splitting lines on LF alone never sees an early end. One pass, linear in the size.
 */
const LF = 0x0a;
const DOT = 0x2e;
const TERMINATOR = Buffer.from('.\r\n', 'latin1');
const CRLF = Buffer.from('\r\n', 'latin1');
const DOT_BUF = Buffer.from('.', 'latin1');

export function dotStuff(body: Buffer): Buffer {
  const parts: Buffer[] = [];
  let from = 0;
  if (body.length > 0 && body[0] === DOT) parts.push(DOT_BUF);
  for (let lf = body.indexOf(LF); lf !== -1; lf = body.indexOf(LF, lf + 1)) {
    if (body[lf + 1] === DOT) {
      parts.push(body.subarray(from, lf + 1), DOT_BUF);
      from = lf + 1;
    }
  }
  parts.push(body.subarray(from));
  const endsWithCrlf = body.length >= 2 && body[body.length - 2] === 0x0d && body[body.length - 1] === LF;
  if (body.length > 0 && !endsWithCrlf) parts.push(CRLF);
  parts.push(TERMINATOR);
  return Buffer.concat(parts);
}

/**
 * The first part of a message for TOP (RFC 1939 §7): the header, the blank line after it, and `lines` lines of the
 * body. Without a blank line the whole message is header.
 */
export function topOf(raw: Buffer, lines: number): Buffer {
  let end = raw[0] === LF ? 1 : raw[0] === 0x0d && raw[1] === LF ? 2 : -1;
  for (let lf = end === -1 ? raw.indexOf(LF) : -1; lf !== -1; lf = raw.indexOf(LF, lf + 1)) {
    const next = raw[lf + 1];
    if (next === LF || (next === 0x0d && raw[lf + 2] === LF)) {
      end = next === LF ? lf + 2 : lf + 3;
      break;
    }
  }
  if (end === -1) return raw;
  let cut = end;
  for (let n = 0; n < lines && cut < raw.length; n++) {
    const lf = raw.indexOf(LF, cut);
    cut = lf === -1 ? raw.length : lf + 1;
  }
  return raw.subarray(0, cut);
}
