import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { collapseWhitespace, indexEntry, parseForIndex, parseMessage, parseWithPostalMime, plainTextParse, withoutAttachmentBodies } from '../../src/store/parse.js';
import { ENCODED_SUBJECT, GARBAGE, MULTIPART, PNG_BYTES, SIMPLE, UTF8_TEXT, crlf } from '../helpers/mail.js';

describe('collapseWhitespace (list snippets)', () => {
  const cases: [input: string, max: number, expected: string][] = [
    ['  Hello,\r\n\r\n  world  ', 200, 'Hello, world'],
    ['a\tb\vc\fd\re\nf', 200, 'a b c d e f'],
    ['no\u00a0break\u2003em\u3000ideographic\ufeffbom', 200, 'no break em ideographic bom'],
    ['', 200, ''],
    [' \r\n\t ', 200, ''],
    ['one two three', 7, 'one two'],
    ['one two three', 4, 'one'], // cut on the space: no trailing blank
    ['abcdefgh', 3, 'abc'],
    [`${' '.repeat(5000)}late start`, 200, 'late start'], // whitespace runs longer than the snippet do not hide the text
  ];
  for (const [input, max, expected] of cases) {
    it(`${JSON.stringify(input.length > 40 ? `${input.slice(0, 20)}…` : input)} (max ${max}) → ${JSON.stringify(expected)}`, () => {
      assert.equal(collapseWhitespace(input, max), expected);
    });
  }
});

describe('the index parse (headers and text parts; attachment bodies left out)', () => {
  const env = { helo: 'client.test', from: 'ann@a.test', to: ['bob@b.test'] };
  const BIG = crlf([
    'From: Gina <gina@g.test>', 'To: hank@h.test', 'Subject: With a big one', 'MIME-Version: 1.0',
    'Content-Type: multipart/mixed;', ' boundary="outer"', '', 'preamble', '--outer',
    'Content-Type: multipart/alternative; boundary=inner', '', '--inner', 'Content-Type: text/plain; charset=utf-8', '',
    'Plain words here.', '--inner', 'Content-Type: text/html; charset=utf-8', '', '<p>Plain <b>words</b> here.</p>', '--inner--',
    '--outer', 'Content-Type: application/octet-stream; name="big.bin"', 'Content-Transfer-Encoding: base64', '',
    ...(Buffer.alloc(300_000, 7).toString('base64').match(/.{1,76}/g) ?? []),
    '--outer', 'Content-Type: image/png', 'Content-Disposition: inline', 'Content-ID: <x@g.test>', 'Content-Transfer-Encoding: base64', '',
    PNG_BYTES.toString('base64'), '--outer--', 'epilogue',
  ]);

  for (const [name, raw] of [['SIMPLE', SIMPLE], ['MULTIPART', MULTIPART], ['UTF8_TEXT', UTF8_TEXT], ['ENCODED_SUBJECT', ENCODED_SUBJECT], ['GARBAGE', GARBAGE], ['BIG', BIG]] as const) {
    it(`gives ${name} the same summary and search fields as a full parse`, async () => {
      assert.deepEqual(indexEntry(await parseForIndex(raw), env), indexEntry(await parseWithPostalMime(raw), env));
    });
  }

  it('leaves out the bodies of non-text leaves only, keeping every part and its headers', () => {
    const out = Buffer.from(withoutAttachmentBodies(BIG)).toString('latin1');
    const want = BIG.toString('latin1')
      .replace(/(name="big.bin"\r\nContent-Transfer-Encoding: base64\r\n\r\n)[A-Za-z0-9+/=\r\n]*?(\r\n--outer)/, '$1$2')
      .replace(/(Content-ID: <x@g.test>\r\nContent-Transfer-Encoding: base64\r\n\r\n)[A-Za-z0-9+/=]*(\r\n--outer--)/, '$1$2');
    assert.ok(want.length < 2000, 'the expected text lost the attachment bodies');
    assert.equal(out, want);
    assert.equal(withoutAttachmentBodies(SIMPLE), SIMPLE); // nothing to leave out: the same bytes, not a copy
  });

  it('counts the attachments of a message whose attachment bodies it never decoded', async () => {
    const entry = indexEntry(await parseForIndex(BIG), env);
    assert.equal(entry.summary.attachmentCount, 2);
    assert.equal(entry.summary.snippet, 'Plain words here.');
    assert.equal(entry.search.hasAttachment, true);
  });
});

describe('the index parse of a single plain text part (its body decoded without postal-mime)', () => {
  const bytes = (...pieces: (string | number[])[]): Buffer =>
    Buffer.concat(pieces.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p))));

  // Each piece is one the body or headers may hold: line ends of every kind, CR runs, bytes that are not UTF-8, a BOM.
  const bodyPiece = fc.constantFrom<string | number[]>('a', 'Zz 9', ' ', '\t', 'é', '日本', '\u{1F600}', '\ufeff', '\r', '\n', '\r\n',
    '\r\r\n', '\n\r', '=41=', '--b', '.', [0xff], [0xc3], [0xe2, 0x82], [0x80], [0xe9], [0x00]);
  const contentType = fc.constantFrom(null, 'text/plain', 'TEXT/Plain', 'text/plain; charset=utf-8', 'text/plain; charset="UTF-8"',
    'text/plain;charset=us-ascii', 'text/plain; charset=iso-8859-1', 'text/plain; charset=utf-8; format=flowed',
    'text/plain; format=flowed', 'text/plain (note)', 'text/html', 'text/plain;\r\n charset=utf-8', 'text/plain; charset=', 'multipart/mixed; boundary=b');
  const encoding = fc.constantFrom(null, '7bit', '8BIT', ' binary', 'quoted-printable', 'base64', '7bit (plain)');
  const disposition = fc.constantFrom(null, null, 'inline', 'attachment; filename=a.txt');
  const separator = fc.constantFrom('\r\n', '\n', '\r\r\n');
  const message = fc.record({
    types: fc.array(contentType, { maxLength: 2 }), encoding, disposition, separator,
    subject: fc.constantFrom('Hi', '=?UTF-8?B?w6k=?=', 'a\r\n b', ''),
    body: fc.array(bodyPiece, { maxLength: 40 }),
  }).map((m) => bytes(
    'From: Ann <ann@a.test>\r\n', 'To: bob@b.test\r\n', `Subject: ${m.subject}\r\n`,
    ...m.types.flatMap((t) => (t === null ? [] : [`Content-Type: ${t}\r\n`])),
    m.encoding === null ? '' : `Content-Transfer-Encoding: ${m.encoding}\r\n`,
    m.disposition === null ? '' : `Content-Disposition: ${m.disposition}\r\n`,
    m.separator, ...m.body,
  ));

  it('gives every message it takes exactly the parse postal-mime gives, for reads and for the index (property, 3,000 messages)', async () => {
    let taken = 0;
    await fc.assert(fc.asyncProperty(message, async (raw) => {
      const fast = await plainTextParse(raw);
      if (fast === null) {
        assert.deepEqual(await parseMessage(raw), await parseWithPostalMime(raw)); // any other message: postal-mime's parse
        return;
      }
      taken++;
      assert.deepEqual(fast, await parseWithPostalMime(raw));
      assert.deepEqual(await parseMessage(raw), fast);
      assert.deepEqual(await parseForIndex(raw), fast);
    }), { numRuns: 3000 });
    assert.ok(taken > 300, `only ${taken} of 3,000 messages took the plain text path`);
  });

  const plainCases: [name: string, raw: Buffer, text: string][] = [
    ['CRLF lines (smtp-source\'s shape)', bytes('From: <foo@vm>\r\nTo: <foo@vm>\r\n\r\n1XXX\r\n2XXX\r\n'), '1XXX\n2XXX\n'],
    ['no line end at the end', bytes('Subject: x\n\nlast'), 'last\n'],
    ['CRs before a LF and at the end', bytes('Subject: x\r\n\r\na\r\r\nb\rc\n\r\r'), 'a\nb\rc\n\n'],
    ['a blank line of CRs ends the headers', bytes('Subject: x\r\n\r\r\nbody\r\n'), 'body\n'],
    ['a BOM and bytes that are not UTF-8', bytes('Content-Type: text/plain; charset=utf-8\r\n\r\n', [0xef, 0xbb, 0xbf, 0x61, 0xff, 0x0d, 0x0a]), 'a\ufffd\n'],
    ['us-ascii is read as postal-mime reads it (windows-1252)', bytes('Content-Type: text/plain; charset=us-ascii\r\n\r\n', [0xe9, 0x0a]), 'é\n'],
    ['an empty body', bytes('Subject: x\r\n\r\n'), ''],
  ];
  for (const [name, raw, text] of plainCases) {
    it(`takes ${name}, with the text postal-mime gives`, async () => {
      const fast = await plainTextParse(raw);
      assert.notEqual(fast, null);
      assert.equal(fast?.text, text);
      assert.deepEqual(fast, await parseWithPostalMime(raw));
    });
  }

  const otherCases: [name: string, raw: Buffer][] = [
    ['quoted-printable', bytes('Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\na=3Db\r\n')],
    ['format=flowed', bytes('Content-Type: text/plain; format=flowed\r\n\r\na \r\nb\r\n')],
    ['another charset', bytes('Content-Type: text/plain; charset=iso-8859-1\r\n\r\n', [0xe9, 0x0d, 0x0a])],
    ['an attachment', bytes('Content-Type: text/plain\r\nContent-Disposition: attachment; filename=a.txt\r\n\r\nhi\r\n')],
    ['multipart', MULTIPART], ['headers with no body', bytes('Subject: x\r\nFrom: a@b.test')],
  ];
  for (const [name, raw] of otherCases) {
    it(`leaves ${name} to postal-mime`, async () => {
      assert.equal(await plainTextParse(raw), null);
    });
  }
});
