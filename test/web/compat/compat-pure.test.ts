/** The pure parts of the compatible APIs: Mailpit's search translated, MailHog's message split, Chaos and Jim as fault rules. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseFaultDocument } from '../../../src/faults/document.js';
import type { FaultView } from '../../../src/faults/controller.js';
import type { MessageSummary } from '../../../src/store/types.js';
import { parseQuery } from '../../../src/store/query.js';
import { ChaosError, chaosDocument, chaosFromBody, chaosFromView, jimDocument, jimFromBody, jimFromView, JIM_DEFAULTS } from '../../../src/web/compat/chaos.js';
import { contentFromString, mailhogMessage, MAX_MIME_DEPTH } from '../../../src/web/compat/mailhog-message.js';
import { mailpitArgs, parseMailpitDate, SearchTermError, translateMailpitSearch } from '../../../src/web/compat/mailpit-search.js';
import { canonicalKey, goHeaderMap } from '../../../src/web/compat/headers.js';

const summary = (over: Partial<MessageSummary> = {}): MessageSummary => ({
  id: 'm1', receivedAt: '2024-05-31T12:00:00.000Z', size: 2000, read: false,
  from: { name: 'Ann', address: 'ann@a.test' }, to: [{ name: 'Bob', address: 'bob@b.test' }], cc: [{ name: '', address: 'cat@c.test' }],
  subject: 'Welcome aboard', date: null, messageId: '<abc@a.test>', attachmentCount: 1, snippet: 'Hello there', indexLimited: false,
  envelope: { helo: 'h', from: 'ann@a.test', to: ['bob@b.test', 'cat@c.test', 'hidden@h.test'] }, ...over,
});
const view = (rules: Record<string, unknown>[]): FaultView => ({ seed: 0, rules: rules.map((r) => ({ ...r, matched: 0, fired: 0 })) });

describe('Mailpit search, translated', () => {
  it('splits as Mailpit\'s ArgsParser does: quotes group and go', () => {
    assert.deepEqual(mailpitArgs('subject:"a b" -"c d"  e'), ['subject:a b', '-c d', 'e']);
  });

  it('gives a mailwire query the store can parse, and Mailpit\'s meaning on the summary', () => {
    const cases: [string, string, boolean][] = [
      ['to:bob', 'to:"bob"', true],
      ['to:cat@c.test', 'to:"cat@c.test"', false], // To header only: cat is Cc
      ['cc:cat', 'to:"cat"', true],
      ['bcc:hidden', 'to:"hidden"', true],
      ['-from:ann', '', false],
      ['subject:"welcome aboard"', 'subject:"welcome aboard"', true],
      ['message-id:abc@a.test', '', true],
      ['!is:read', 'is:unread', true],
      ['has:attachments', 'has:attachment', true],
      ['larger:1kb smaller:3kb', '', true],
      ['-larger:1kb', '', false],
      ['after:2024-05-31 before:2024-05-31T12:00:00Z', 'after:2024-05-31T00:00:00.000Z', true], // both inclusive
      ['-after:2024-06-01', '', true],
      ['"hello there" -goodbye', '"hello there" -"goodbye"', true],
      ['-hello', '-"hello"', false], // a negated word the summary shows
    ];
    for (const [mailpit, ours, matches] of cases) {
      const s = translateMailpitSearch(mailpit);
      assert.equal(s.query, ours, mailpit);
      parseQuery(s.query);
      assert.equal(s.matches(summary()), matches, mailpit);
    }
  });

  it('refuses, naming the term, what mailwire cannot answer, and dates it cannot read', () => {
    for (const term of ['tag:x', '-tag:x', 'is:tagged', 'has:inline', 'reply-to:desk']) {
      assert.throws(() => translateMailpitSearch(`welcome ${term}`), (e: unknown) => e instanceof SearchTermError && e.message.includes(JSON.stringify(term)), term);
    }
    assert.throws(() => translateMailpitSearch('after:last-week'), /after: wants a date/);
    assert.throws(() => translateMailpitSearch('after:2024-01-01', 'Mars/Olympus'), /unknown time zone/);
  });

  it('reads dates in tz', () => {
    assert.equal(parseMailpitDate('2024-01-15', 'America/Chicago'), Date.parse('2024-01-15T06:00:00Z'));
    assert.equal(parseMailpitDate('2024-07-15 10:30', 'Europe/Paris'), Date.parse('2024-07-15T08:30:00Z'));
    assert.equal(parseMailpitDate('2024/02/30', undefined), null);
  });
});

describe('MailHog\'s message shape', () => {
  it('keeps MailHog\'s header quirks: the last of a repeated header, folded lines joined without CRLF', () => {
    const c = contentFromString('Received: one\r\nReceived: two\r\nSubject: a\r\n b\r\nBad line\r\n\r\nbody');
    assert.deepEqual(c.Headers, { Received: ['two'], Subject: ['a b'] });
    assert.equal(c.Body, 'body');
  });

  it('splits multipart on the boundary, nested too, and stops at MAX_MIME_DEPTH', () => {
    const raw = Buffer.from('From: a@a.test\r\nContent-Type: multipart/mixed; boundary="b1"\r\n\r\npre\r\n--b1\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b1--\r\n');
    const m = mailhogMessage('id1', '2024-05-31T12:00:00.120Z', { helo: 'h', from: 'a@a.test', to: ['x@y.test'] }, raw);
    assert.equal(m.Created, '2024-05-31T12:00:00.12Z');
    assert.equal(m.Raw.Data, raw.toString().slice(0, -2));
    assert.deepEqual(m.MIME?.Parts.map((p) => [p.Headers, p.Body]), [[{}, 'pre'], [{ 'Content-Type': ['text/plain'] }, 'hi'], [{}, '--']]);
    assert.deepEqual(m.Content.Headers['Message-ID'], ['id1@mailwire']);
    let deep = 'x';
    for (let i = 0; i < MAX_MIME_DEPTH + 5; i++) deep = `Content-Type: multipart/mixed; boundary=b${i}\r\n\r\n--b${i}\r\n${deep}\r\n--b${i}--`;
    let part = contentFromString(deep);
    let depth = 0;
    while (part.MIME !== null) {
      part = part.MIME.Parts[0]!;
      depth++;
    }
    assert.equal(depth, MAX_MIME_DEPTH);
  });

  it('Mailpit\'s /headers: Go\'s canonical keys, every value', () => {
    assert.equal(canonicalKey('message-id'), 'Message-Id');
    assert.equal(canonicalKey('X-MAILER'), 'X-Mailer');
    assert.deepEqual(goHeaderMap(Buffer.from('received: a\r\nReceived: b\r\n\tc\r\nsubject: s\r\n\r\nbody: no')), { Received: ['a', 'b c'], Subject: ['s'] });
  });
});

describe('Chaos and Jim as fault rules', () => {
  it('Chaos triggers become rules the fault parser takes, and read back the same', () => {
    const t = chaosFromBody({ Sender: { ErrorCode: 452, Probability: 30 } });
    const doc = chaosDocument(t);
    assert.ok(doc);
    assert.equal(parseFaultDocument(doc, 'smtp').ok, true);
    assert.deepEqual(chaosFromView(view(doc.rules)), t);
    assert.equal(chaosDocument(chaosFromBody({})), null, 'all at 0 % with default codes: no rules');
    assert.throws(() => chaosFromBody({ Recipient: { ErrorCode: 451, Probability: 101 } }), /probability must be between 0 and 100/);
    assert.throws(() => chaosFromView(view([{ on: 'rcpt', every: 2, reply: '451 x' }])), ChaosError);
  });

  it('Jim becomes rules the fault parser takes, read back the same; other rules are not Jim', () => {
    const jim = jimFromBody({ RejectSenderChance: 0.25, AcceptChance: 0.9 });
    const doc = jimDocument(jim);
    assert.equal(parseFaultDocument(doc, 'smtp').ok, true);
    assert.deepEqual(jimFromView(view(doc.rules)), jim);
    assert.deepEqual(jimFromBody(undefined), JIM_DEFAULTS);
    assert.equal(jimFromView(view([])), null);
    assert.equal(jimFromView(view(chaosDocument(chaosFromBody({ Sender: { Probability: 5 } }))?.rules ?? [])), null);
    assert.throws(() => jimFromBody({ LinkSpeedAffect: 0.1 }), /LinkSpeedAffect must be 0/);
    assert.throws(() => jimFromBody({ Nope: 1 }), /unknown Jim field "Nope"/);
    assert.throws(() => jimFromBody({ DisconnectChance: 2 }), /DisconnectChance must be from 0 to 1/);
  });
});
