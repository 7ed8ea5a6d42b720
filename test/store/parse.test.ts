import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { collapseWhitespace } from '../../src/store/parse.js';

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
