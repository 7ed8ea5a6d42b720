import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import { createCaptureSink } from '../helpers/capture-sink.js';
import { startTestServer } from '../helpers/socket-driver.js';

/** Runs `mailwire client` with `input` on its standard input (a pipe) and returns what it printed and its exit code. */
async function runClient(args: string[], input: string): Promise<{ out: string; code: number | null }> {
  const child = spawn(process.execPath, ['bin/mailwire.js', 'client', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stdin.end(input);
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  clearTimeout(timer);
  return { out, code };
}

const RTT = /^RTT = \d+\.\d{2} ms$/;

describe('the interactive client, driven through a pipe', () => {
  it('asks for the server, sends two mails with the exact message bytes, prints every reply and five RTTs per mail, then QUITs', async () => {
    const sink = createCaptureSink();
    const { server } = await startTestServer({ sink });
    try {
      const input = [
        '127.0.0.1',
        'not-an-address', 'alice@xyz.com', 'bob@abc.org', 'Greetings', 'Hello Bob,', '.starts with a dot', '', 'Bye.', '.',
        'YES',
        'carol@xyz.com', 'dave@abc.org', 'Second', 'just one line', '.',
        'n',
      ].join('\n');
      const { out, code } = await runClient(['--port', String(server.port)], `${input}\n`);
      assert.equal(code, 0, out);
      const lines = out.split('\n');

      assert.ok(out.startsWith("Enter the SMTP server's host name or IP address: 127.0.0.1\n220 127.0.0.1 mailwire Simplified SMTP service ready\n"), out);
      assert.ok(out.includes('Not a valid email address:'), out);
      assert.ok(out.includes('Email contents (end with "." on a line by itself):'), out);
      const replyLines = lines.filter((l) => /^\d{3} /.test(l));
      assert.deepEqual(replyLines, [
        '220 127.0.0.1 mailwire Simplified SMTP service ready',
        ...Array.from({ length: 2 }, () => [
          '250 127.0.0.1 Hello 127.0.0.1', '250 2.1.0 Sender OK', '250 2.1.5 Recipient OK',
          '354 Start mail input; end with <CRLF>.<CRLF>', '250 Message received and to be delivered',
        ]).flat(),
        '221 127.0.0.1 closing connection',
      ]);
      // Each of the five exchanges is followed by its RTT line.
      for (const [i, line] of lines.entries()) if (/^(250|354) /.test(line)) assert.match(lines[i + 1] ?? '', RTT);
      assert.equal(lines.filter((l) => RTT.test(l)).length, 10);

      assert.equal(sink.messages.length, 2);
      const [first, second] = sink.messages;
      assert.deepEqual(first?.envelope, { helo: 'xyz.com', from: 'alice@xyz.com', to: ['bob@abc.org'] });
      assert.deepEqual(second?.envelope, { helo: 'xyz.com', from: 'carol@xyz.com', to: ['dave@abc.org'] });
      const raw = first?.raw.toString('latin1') ?? '';
      const date = /^Date: (.+)\r$/m.exec(raw)?.[1];
      const messageId = /^Message-ID: (<[^>]+@xyz\.com>)\r$/m.exec(raw)?.[1];
      assert.ok(date !== undefined && !Number.isNaN(Date.parse(date)), raw);
      assert.ok(messageId !== undefined, raw);
      assert.equal(raw, [
        'From: alice@xyz.com', 'To: bob@abc.org', 'Subject: Greetings', `Date: ${date}`, `Message-ID: ${messageId}`,
        'Content-Transfer-Encoding: 7bit', 'MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8',
        '', 'Hello Bob,', '.starts with a dot', '', 'Bye.', '',
      ].join('\r\n'));
      assert.match(second?.raw.toString('latin1') ?? '', /\r\n\r\njust one line\r\n$/);
    } finally {
      await server.close(2000);
    }
  });

  it('takes the host from --host and treats the end of input as "no": QUIT, 221, exit 0', async () => {
    const sink = createCaptureSink();
    const { server } = await startTestServer({ sink });
    try {
      const { out, code } = await runClient(['--host', '127.0.0.1', '--port', String(server.port)], 'a@x.test\nb@y.test\nS\nbody\n.\n');
      assert.equal(code, 0, out);
      assert.ok(!out.includes('host name or IP address'), out);
      assert.ok(out.trimEnd().endsWith('221 127.0.0.1 closing connection'), out);
      assert.equal(sink.messages.length, 1);
    } finally {
      await server.close(2000);
    }
  });

  it('against a closed port prints a clear error on standard output and exits non-zero', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const address = probe.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const { out, code } = await runClient(['--host', '127.0.0.1', '--port', String(port)], '');
    assert.equal(code, 1);
    assert.match(out, new RegExp(`^Error: cannot connect to 127\\.0\\.0\\.1:${port}: connect ECONNREFUSED`, 'm'));
  });
});
