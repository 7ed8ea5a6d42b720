import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LineSplitter, type Line, type OverlongMode } from '../../../src/smtp/core/line-splitter.js';

/** Splits `bytes` fed in pieces of `chunk` bytes, pulling lines after each push as the server does. */
function split(bytes: string, chunk: number, max = 100, mode: OverlongMode = 'truncate'): Line[] {
  const s = new LineSplitter();
  const out: Line[] = [];
  const buf = Buffer.from(bytes, 'latin1');
  for (let i = 0; i < buf.length; i += chunk) {
    s.push(buf.subarray(i, i + chunk));
    for (let l = s.next(max, mode); l; l = s.next(max, mode)) out.push(l);
  }
  return out;
}

const line = (text: string, ending: Line['ending'], overflow = false): Line => ({ text, ending, overflow });

describe('LineSplitter', () => {
  const cases: [string, string, Line[]][] = [
    ['CRLF lines', 'HELO a\r\nQUIT\r\n', [line('HELO a', 'crlf'), line('QUIT', 'crlf')]],
    ['bare LF lines', 'HELO a\nQUIT\n', [line('HELO a', 'lf'), line('QUIT', 'lf')]],
    ['an empty line', '\r\n\n', [line('', 'crlf'), line('', 'lf')]],
    ['a bare CR inside a line stays text', 'a\rb\r\n', [line('a\rb', 'crlf')]],
    ['an unfinished line waits', 'HELO a\r\nMAIL', [line('HELO a', 'crlf')]],
    ['8-bit bytes map 1:1', '\xc3\xa9\xff\r\n', [line('\xc3\xa9\xff', 'crlf')]],
  ];
  for (const [name, bytes, want] of cases) {
    it(`${name}: the same lines whatever the packet boundaries`, () => {
      for (let chunk = 1; chunk <= bytes.length; chunk++) assert.deepEqual(split(bytes, chunk), want, `chunk size ${chunk}`);
    });
  }

  it('truncates an over-long command line to the limit and reports it once, at its end', () => {
    const bytes = `${'a'.repeat(30)}\r\nok\r\n`;
    for (let chunk = 1; chunk <= bytes.length; chunk++) {
      assert.deepEqual(split(bytes, chunk, 10), [line('a'.repeat(10), 'crlf', true), line('ok', 'crlf')], `chunk size ${chunk}`);
    }
  });

  it('accepts a line of exactly the limit, its CRLF not counted', () => {
    assert.deepEqual(split(`${'a'.repeat(10)}\r\n`, 3, 10), [line('a'.repeat(10), 'crlf')]);
  });

  it('in split mode streams a long text line in pieces that join back to the line, the CRLF kept together', () => {
    const text = 'b'.repeat(25);
    for (let chunk = 1; chunk <= 30; chunk++) {
      const pieces = split(`${text}\r\nnext\r\n`, chunk, 10, 'split');
      assert.equal(pieces.map((p) => p.text).join(''), `${text}next`, `chunk size ${chunk}`);
      assert.ok(pieces.every((p) => p.text.length <= 10 && !p.overflow));
      assert.deepEqual(pieces.filter((p) => p.ending !== 'none').map((p) => p.ending), ['crlf', 'crlf']);
      assert.equal(pieces.at(-1)?.text, 'next');
    }
  });

  it('never holds more than the limit of an unterminated line in truncate mode', () => {
    const s = new LineSplitter();
    for (let i = 0; i < 100; i++) {
      s.push(Buffer.alloc(1000, 0x41));
      assert.equal(s.next(512, 'truncate'), null);
      assert.ok(s.pendingBytes <= 1000);
    }
  });
});

describe('LineSplitter.nextText (message text in runs)', () => {
  /** Pulls message text as the server does in DATA, fed in chunks of `chunk` bytes. */
  function runs(bytes: string, chunk: number, maxLine = 50): Line[] {
    const s = new LineSplitter();
    const out: Line[] = [];
    const buf = Buffer.from(bytes, 'latin1');
    for (let i = 0; i < buf.length; i += chunk) {
      s.push(buf.subarray(i, i + chunk));
      for (let l = s.nextText(maxLine); l; l = s.nextText(maxLine)) out.push(l);
    }
    return out;
  }
  const ENDINGS = { crlf: '\r\n', lf: '\n', none: '' } as const;
  const rejoin = (lines: Line[]): string => lines.map((l) => l.text + ENDINGS[l.ending]).join('');

  const text = 'Subject: x\r\n\r\nplain\r\n..stuffed\r\nbare lf\n.\nmid.dot\r\n' + 'w'.repeat(120) + '\r\n.\r\n';
  it('gives back every byte, whatever the packet boundaries', () => {
    for (let chunk = 1; chunk <= text.length; chunk += 1) assert.equal(rejoin(runs(text, chunk)), text, `chunk size ${chunk}`);
  });

  it('returns every line that starts with a dot alone, so the session sees stuffing and the end of data', () => {
    for (let chunk = 1; chunk <= text.length; chunk += 1) {
      const dotted = runs(text, chunk).filter((l) => l.text.startsWith('.') || l.text.includes('\n.'));
      assert.deepEqual(dotted.map((l) => [l.text, l.ending]), [['..stuffed', 'crlf'], ['.', 'lf'], ['.', 'crlf']], `chunk size ${chunk}`);
    }
  });

  it('joins plain lines into one run when they arrive together', () => {
    assert.deepEqual(runs('a\r\nb\nc\r\n.\r\n', 100), [line('a\r\nb\nc', 'crlf'), line('.', 'crlf')]);
  });
});
