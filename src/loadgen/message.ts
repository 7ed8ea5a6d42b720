/** The load generator's test message (pure): a plain RFC 5322 message of exactly `size` octets, built once. */

const LINE = 'The quick brown fox jumps over the lazy dog; mailwire bench filler text 0123456789'.slice(0, 76);

/**
 * Headers, a blank line, then 76-character lines (RFC 5322 §2.1.1 keeps lines under 78) up to `size` octets with
 * CRLF line ends. Below the header's own size the message is just the header, so it may be longer than asked.
 */
export function benchMessage(size: number, from: string, to: readonly string[]): Buffer {
  const head = [
    `From: <${from}>`,
    `To: ${to.map((a) => `<${a}>`).join(', ')}`,
    'Subject: mailwire bench',
    'Date: Wed, 01 May 2024 10:00:00 +0000',
    'Message-ID: <bench@mailwire.test>',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    '',
  ].join('\r\n');
  let body = '';
  let left = size - head.length;
  while (left > 0) {
    // A line is its text plus CRLF; the last one is cut so that the total is exact (at least one character + CRLF).
    const text = left >= LINE.length + 2 ? LINE : left >= 3 ? LINE.slice(0, left - 2) : 'x'.repeat(Math.max(1, left - 2));
    body += `${text}\r\n`;
    left -= text.length + 2;
  }
  return Buffer.from(head + body, 'latin1');
}
