import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCommand, type Command } from '../../../src/smtp/core/command.js';

describe('parseCommand', () => {
  const cases: [string, Command][] = [
    ['HELO xyz.com', { verb: 'HELO', domain: 'xyz.com' }],
    ['helo   xyz.com  ', { verb: 'HELO', domain: 'xyz.com' }],
    ['HELO', { verb: 'HELO', domain: '' }],
    ['EHLO [127.0.0.1]', { verb: 'EHLO', domain: '[127.0.0.1]' }],
    ['MAIL FROM:<a@b.c>', { verb: 'MAIL', path: 'a@b.c', bracketed: true, params: '' }],
    ['mail from: <a@b.c> SIZE=10 BODY=8BITMIME', { verb: 'MAIL', path: 'a@b.c', bracketed: true, params: 'SIZE=10 BODY=8BITMIME' }],
    ['MAIL FROM: a@b.c', { verb: 'MAIL', path: 'a@b.c', bracketed: false, params: '' }],
    ['MAIL FROM:<>', { verb: 'MAIL', path: '', bracketed: true, params: '' }],
    ['MAIL FROM:<"a>b"@c.d>', { verb: 'MAIL', path: '"a>b"@c.d', bracketed: true, params: '' }],
    ['MAIL FROM:', { verb: 'INVALID', why: 'mail-syntax', said: 'MAIL FROM:' }],
    ['MAIL <a@b.c>', { verb: 'INVALID', why: 'mail-syntax', said: 'MAIL <a@b.c>' }],
    ['MAIL FROM:<a@b.c', { verb: 'INVALID', why: 'mail-syntax', said: 'MAIL FROM:<a@b.c' }],
    ['RCPT TO:<postmaster>', { verb: 'RCPT', path: 'postmaster', bracketed: true, params: '' }],
    ['RCPT FROM:<a@b.c>', { verb: 'INVALID', why: 'rcpt-syntax', said: 'RCPT FROM:<a@b.c>' }],
    ['data', { verb: 'DATA', arg: '' }],
    ['QUIT', { verb: 'QUIT', arg: '' }],
    ['VRFY root', { verb: 'VRFY', arg: 'root' }],
    ['HELOX foo', { verb: 'UNKNOWN', said: 'HELOX foo' }],
    ['GET / HTTP/1.1', { verb: 'UNKNOWN', said: 'GET / HTTP/1.1' }],
    ['', { verb: 'INVALID', why: 'empty', said: '' }],
    ['HELO a\0b', { verb: 'INVALID', why: 'nul-byte', said: 'HELO a\\0b' }],
    ['HELO \xff\xfe', { verb: 'INVALID', why: 'bad-utf8', said: 'HELO \xff\xfe' }],
    ['MAIL FROM:<j\xc3\xb6rg@b\xc3\xbccher.de>', { verb: 'MAIL', path: 'jörg@bücher.de', bracketed: true, params: '' }],
  ];
  for (const [line, want] of cases) it(`${JSON.stringify(line)} → ${want.verb}`, () => assert.deepEqual(parseCommand(line), want));
});
