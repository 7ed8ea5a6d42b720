/** The pure FETCH rendering and SEARCH matching of the IMAP core: exact bytes, and refusals with the reason. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CommandReader } from '../../src/imap/core/command-reader.js';
import { parseCommand, type Token } from '../../src/imap/core/tokens.js';
import { parseFetchItems, renderFetch } from '../../src/imap/core/fetch.js';
import { matches, parseSearch, type SearchTarget } from '../../src/imap/core/search.js';

const RAW = Buffer.from('From: "A B" <a@x.test>\r\nSubject: hi\r\nX-Long: one\r\n two\r\n\r\nbody text\r\n', 'latin1');
const FACTS = { seq: 3, uid: 42, size: RAW.length, flags: ['\\Seen'], internalDate: new Date('2024-05-01T10:00:00Z') };

function args(line: string): readonly Token[] {
  const [e] = new CommandReader({ maxLineBytes: 8192, maxLiteralBytes: 1000, maxCommandBytes: 10_000 }).push(Buffer.from(`t ${line}\r\n`));
  assert.ok(e?.type === 'command');
  const p = parseCommand(e.command);
  assert.ok(p.ok);
  return p.args;
}

describe('IMAP FETCH rendering', () => {
  const cases: readonly (readonly [string, string])[] = [
    ['(FLAGS UID RFC822.SIZE INTERNALDATE)', `* 3 FETCH (FLAGS (\\Seen) UID 42 RFC822.SIZE ${RAW.length} INTERNALDATE "01-May-2024 10:00:00 +0000")\r\n`],
    ['BODY.PEEK[TEXT]', '* 3 FETCH (BODY[TEXT] {11}\r\nbody text\r\n)\r\n'],
    ['BODY[]<5.4>', '* 3 FETCH (BODY[]<5> {4}\r\n "A )\r\n'],
    ['BODY.PEEK[HEADER.FIELDS (x-long SUBJECT)]', '* 3 FETCH (BODY[HEADER.FIELDS (X-LONG SUBJECT)] {34}\r\nSubject: hi\r\nX-Long: one\r\n two\r\n\r\n)\r\n'],
    ['BODY.PEEK[HEADER.FIELDS.NOT (From X-Long)]', '* 3 FETCH (BODY[HEADER.FIELDS.NOT (FROM X-LONG)] {15}\r\nSubject: hi\r\n\r\n)\r\n'],
    ['ENVELOPE', '* 3 FETCH (ENVELOPE (NIL "hi" (("A B" NIL "a" "x.test")) (("A B" NIL "a" "x.test")) (("A B" NIL "a" "x.test")) NIL NIL NIL NIL NIL))\r\n'],
  ];
  for (const [spec, want] of cases) {
    it(`renders ${spec} exactly`, () => {
      const items = parseFetchItems(args(`FETCH 1 ${spec}`)[1]);
      assert.ok(items.ok, JSON.stringify(items));
      assert.equal(renderFetch(FACTS, RAW, items.items, false).toString('latin1'), want);
    });
  }
  it('renders BODY[] as the stored bytes and adds the UID for UID FETCH', () => {
    const items = parseFetchItems(args('FETCH 1 BODY.PEEK[]')[1]);
    assert.ok(items.ok);
    assert.equal(renderFetch(FACTS, RAW, items.items, true).toString('latin1'), `* 3 FETCH (UID 42 BODY[] {${RAW.length}}\r\n${RAW.toString('latin1')})\r\n`);
  });
  it('refuses what it does not serve, naming it', () => {
    assert.deepEqual(parseFetchItems(args('FETCH 1 BODY[1.2]')[1]), { ok: false, reason: 'section [1.2] is not served (HEADER, TEXT, HEADER.FIELDS (…) and [] are; part numbers are not yet)' });
    assert.deepEqual(parseFetchItems(args('FETCH 1 (FLAGS BOGUS)')[1]), { ok: false, reason: 'unknown fetch attribute "BOGUS" (BODYSTRUCTURE and part numbers are not served yet)' });
  });
});

describe('IMAP SEARCH', () => {
  const target = (over: Partial<SearchTarget> = {}): SearchTarget => ({
    seq: 2, uid: 42, size: 100, flags: new Set(['\\Seen']), internalDate: new Date('2024-05-01T23:59:00Z'),
    from: 'A B <a@x.test>', to: 'qa <qa@x.test>', cc: '', subject: 'Grüße', raw: RAW.toString('latin1'), ...over,
  });
  const table: readonly (readonly [string, boolean])[] = [
    ['ALL', true], ['SEEN', true], ['UNSEEN', false], ['FROM a@X', true], ['TO nobody', false], ['SUBJECT grüSSe', false],
    ['SUBJECT grüße', true], ['TEXT "body TEXT"', true], ['BODY nothere', false], ['HEADER x-long two', true],
    ['SINCE 1-May-2024', true], ['SINCE 2-May-2024', false], ['BEFORE 2-May-2024', true], ['ON 1-May-2024', true],
    ['LARGER 99', true], ['SMALLER 100', false], ['UID 40:45', true], ['2', true], ['3:*', false],
    ['NOT SEEN', false], ['OR UNSEEN FROM a@x', true], ['(SEEN FROM nobody)', false], ['OR (UNSEEN) (NOT FROM zz)', true],
  ];
  for (const [key, want] of table) {
    it(`${key} → ${want}`, () => {
      const p = parseSearch(args(`SEARCH ${key}`));
      assert.ok(p.ok, JSON.stringify(p));
      assert.equal(matches(p.key, target(), 5, 50), want);
    });
  }
  for (const [key, reason] of [
    ['FROM', 'a search key is missing its string argument'],
    ['SINCE yesterday', '"yesterday" is not a date such as 1-Feb-2024'],
    ['WHATEVER', 'unknown search key "WHATEVER"'],
    ['OR SEEN', 'a search key is missing'],
    ['UID 0', 'bad sequence set: sequence numbers start at 1, not 0'],
  ] as const) {
    it(`refuses SEARCH ${key}: ${reason}`, () => assert.deepEqual(parseSearch(args(`SEARCH ${key}`)), { ok: false, reason }));
  }
});
