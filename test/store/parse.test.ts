import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { collapseWhitespace } from '../../src/store/parse.js';
import { ParserThread } from '../../src/store/parse-thread.js';
import { GARBAGE, MULTIPART, PDF_BYTES, SIMPLE } from '../helpers/mail.js';

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

describe('ParserThread (MIME parsing for reads, off the calling thread)', () => {
  it('answers concurrent requests, each with its own result, and starts a new thread after close', async () => {
    const parser = new ParserThread();
    try {
      const [simple, pdf, missing, garbage] = await Promise.all([
        parser.message(SIMPLE), parser.attachment(MULTIPART, 0), parser.attachment(MULTIPART, 5), parser.message(GARBAGE),
      ]);
      assert.equal(simple.subject, 'Lunch plans');
      assert.equal(simple.text, 'Shall we meet at noon?\n.leading dot kept\nYour code is 482913.\n');
      assert.deepEqual(pdf?.info, { index: 0, filename: 'report.pdf', contentType: 'application/pdf', size: PDF_BYTES.byteLength, contentId: null, disposition: 'attachment' });
      assert.ok(Buffer.isBuffer(pdf?.content) && pdf.content.equals(PDF_BYTES));
      assert.equal(missing, null);
      assert.equal(garbage.subject, '');
      await parser.close();
      assert.equal((await parser.message(SIMPLE)).from?.address, 'ann@a.test');
    } finally {
      await parser.close();
    }
  });
});
