import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ftsPhrase, parseQuery, type Clause } from '../../src/store/query.js';
import { QueryError } from '../../src/store/errors.js';

const text = (value: string, negate = false): Clause => ({ kind: 'text', value, negate });
const field = (f: 'from' | 'to' | 'subject', value: string, negate = false): Clause => ({ kind: 'field', field: f, value, negate });

describe('parseQuery', () => {
  const cases: readonly (readonly [string, readonly Clause[]])[] = [
    ['', []],
    ['   ', []],
    ['hello world', [text('hello'), text('world')]],
    ['"hello world"', [text('hello world')]],
    ['"say \\"hi\\" \\\\ now"', [text('say "hi" \\ now')]],
    ['from:Ann@A.test', [field('from', 'ann@a.test')]],
    ['FROM:ann', [field('from', 'ann')]],
    ['to:"Bob Smith" subject:"Re: lunch"', [field('to', 'bob smith'), field('subject', 're: lunch')]],
    ['-from:spam@x.test', [field('from', 'spam@x.test', true)]],
    ['-newsletter', [text('newsletter', true)]],
    ['-"weekly digest"', [text('weekly digest', true)]],
    ['a-b c@d.e re: http://x.test/a:b', [text('a-b'), text('c@d.e'), text('re:'), text('http://x.test/a:b')]],
    ['-', [text('-')]],
    ['before:2024-05-01', [{ kind: 'before', at: Date.UTC(2024, 4, 1) }]],
    ['after:2024-05-01T12:30:00Z', [{ kind: 'after', at: Date.UTC(2024, 4, 1, 12, 30) }]],
    ['after:2024-05-01T12:30', [{ kind: 'after', at: Date.UTC(2024, 4, 1, 12, 30) }]],
    ['after:2024-05-01T12:30:00+02:00', [{ kind: 'after', at: Date.UTC(2024, 4, 1, 10, 30) }]],
    ['-before:2024-05-01', [{ kind: 'after', at: Date.UTC(2024, 4, 1) }]],
    ['has:attachment', [{ kind: 'has-attachment', negate: false }]],
    ['-has:attachments', [{ kind: 'has-attachment', negate: true }]],
    ['is:unread', [{ kind: 'read', read: false }]],
    ['is:READ', [{ kind: 'read', read: true }]],
    ['-is:read', [{ kind: 'read', read: false }]],
    ['subject:café\tto:x', [field('subject', 'café'), field('to', 'x')]],
  ];
  for (const [input, want] of cases) {
    it(`parses ${JSON.stringify(input)}`, () => assert.deepEqual(parseQuery(input).clauses, want));
  }

  const bad: readonly (readonly [string, RegExp, number])[] = [
    ['"unterminated', /unterminated quote/, 0],
    ['from:"open', /unterminated quote/, 5],
    ['from:', /from: needs a value/, 0],
    ['ok to:""', /to: needs a value/, 3],
    ['before:yesterday', /before: wants a date/, 0],
    ['after:2024-02-31', /after: wants a date/, 0],
    ['before:2024-13-01', /before: wants a date/, 0],
    ['has:pictures', /has: knows only "attachment"/, 0],
    ['is:starred', /is: knows only "read" and "unread"/, 0],
    ['x'.repeat(1001), /longer than 1000/, 0],
    [Array.from({ length: 33 }, (_, i) => `w${i}`).join(' '), /more than 32 terms/, 118],
  ];
  for (const [input, message, position] of bad) {
    it(`rejects ${JSON.stringify(input.slice(0, 40))} with a QueryError`, () => {
      assert.throws(() => parseQuery(input), (e: unknown) => {
        assert.ok(e instanceof QueryError);
        assert.equal(e.code, 'ERR_BAD_QUERY');
        assert.match(e.message, message);
        assert.equal(e.position, position);
        return true;
      });
    });
  }
});

describe('ftsPhrase', () => {
  it('keeps only letters and digits, so quotes, dashes, colons and operators cannot reach FTS5', () => {
    assert.equal(ftsPhrase('ann@a.test'), '"ann a test"');
    assert.equal(ftsPhrase('"x" OR y* NEAR(z) -w :col'), '"x or y near z w col"');
    assert.equal(ftsPhrase('Ünïcödé'), '"unicode"');
    assert.equal(ftsPhrase('-:@"'), null);
  });
});
