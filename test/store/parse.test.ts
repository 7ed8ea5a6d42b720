import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { collapseWhitespace, indexEntry, parseForIndex, parseMessage, withoutAttachmentBodies } from '../../src/store/parse.js';
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
      assert.deepEqual(indexEntry(await parseForIndex(raw), env), indexEntry(await parseMessage(raw), env));
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
