import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createConsoleDisplay, createVerboseDisplay, formatSessionSummary } from '../../../src/smtp/server/display.js';
import { smtpDialect } from '../../../src/smtp/core/dialects/smtp.js';
import { SocketLines, startTestServer } from '../../helpers/socket-driver.js';

/** No byte a terminal acts on (C0 but TAB, DEL, C1) may reach the operator's screen from a client. */
const TERMINAL_CONTROL = /[\x00-\x08\x0a-\x1f\x7f-\x9f]/;

describe('the console display escapes control bytes from clients', () => {
  const shown: string[] = [];
  let t: Awaited<ReturnType<typeof startTestServer>>;
  before(async () => (t = await startTestServer({ display: createConsoleDisplay((line) => shown.push(line)) })));
  after(() => t.server.close(2000));

  it('shows an ESC sequence or a bare CR in a command or a message line as \\xNN, on the one line it came in', async () => {
    const conn = await SocketLines.open(t.server.port);
    await conn.next();
    conn.write('HELO x\x1b[2K\ry.test\r\nMAIL FROM: <a\x1b[1A@x.test>\r\nRCPT TO: <b@y.test>\r\nDATA\r\n');
    for (let i = 0; i < 4; i++) await conn.next();
    conn.write('Subject: \x1b]0;owned\x07hi\r\n\r\nbody\rhidden \u009b2J\r\n\ttab kept\r\n.\r\n');
    assert.equal(await conn.next(), '250 Message received and to be delivered');
    const tag = `[127.0.0.1:${conn.socket.localPort}]`;
    const mine = shown.filter((l) => l.startsWith(tag));
    for (const want of [
      `${tag} C: HELO x\\x1b[2K\\x0dy.test`,
      `${tag} C: MAIL FROM: <a\\x1b[1A@x.test>`,
      `${tag} M: Subject: \\x1b]0;owned\\x07hi`,
      `${tag} M: body\\x0dhidden \\x9b2J`,
      `${tag} M: \ttab kept`,
    ]) assert.ok(mine.includes(want), `missing ${JSON.stringify(want)} in:\n${mine.join('\n')}`);
    for (const line of shown) assert.doesNotMatch(line, TERMINAL_CONTROL, JSON.stringify(line));
    conn.socket.destroy();
  });
});

describe('the smtp dialect\'s displays', () => {
  it('--verbose shows a command\'s control bytes escaped', async () => {
    const shown: string[] = [];
    const t = await startTestServer({ dialect: smtpDialect, display: createVerboseDisplay((line) => shown.push(line)) });
    try {
      const conn = await SocketLines.open(t.server.port);
      await conn.next();
      conn.write('NOOP \x1b[2J\x1b[H\r\n');
      assert.equal(await conn.next(), '250 2.0.0 OK');
      assert.ok(shown.includes(`[127.0.0.1:${conn.socket.localPort}] C: NOOP \\x1b[2J\\x1b[H`), shown.join('\n'));
      for (const line of shown) assert.doesNotMatch(line, TERMINAL_CONTROL, JSON.stringify(line));
      conn.socket.destroy();
    } finally {
      await t.server.close(2000);
    }
  });

  it('shows bidi controls escaped, so a line cannot read backwards ("gnp.exe" as "exe.png")', () => {
    const shown: string[] = [];
    const d = createConsoleDisplay((line) => shown.push(line));
    d.command('127.0.0.1:5301', 'MAIL FROM:<a\u202Egnp.exe@x.test>');
    d.messageText('127.0.0.1:5301', Buffer.from('Subject: \u2067x\u2069 \u200f\u061c', 'utf8').toString('latin1'));
    assert.deepEqual(shown, [
      '[127.0.0.1:5301] C: MAIL FROM:<a\\u202egnp.exe@x.test>',
      '[127.0.0.1:5301] M: Subject: \\u2067x\\u2069 \\u200f\\u061c',
    ]);
    assert.equal(formatSessionSummary({
      tag: 't', client: '127.0.0.1', helo: 'x\u202e', tls: false, authUser: null, messages: [], end: 'quit', durationMs: 1,
    }), '[t] helo=x\\u202e no mail | quit 1 ms');
  });

  it('the session summary line escapes what the client named', () => {
    const line = formatSessionSummary({
      tag: '127.0.0.1:5301', client: '127.0.0.1', helo: 'x.test', tls: false, authUser: 'eve\x1b[2K',
      messages: [{ from: 'a\u0085@x.test', to: ['b@y.test'], size: 10, result: 'stored as 1' }], end: 'quit', durationMs: 3,
    });
    assert.equal(line, '[127.0.0.1:5301] helo=x.test auth=eve\\x1b[2K <a\\x85@x.test> → <b@y.test> 10 B: stored as 1 | quit 3 ms');
  });
});
