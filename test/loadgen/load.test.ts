import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { runLoad } from '../../src/loadgen/load.js';
import { benchMessage } from '../../src/loadgen/message.js';
import { PreparedMessage } from '../../src/smtp/client/prepared.js';
import { smtpDialect } from '../../src/smtp/core/dialects/smtp.js';
import { createCaptureSink } from '../helpers/capture-sink.js';
import { script, startScriptedServer } from '../helpers/scripted-server.js';
import { startTestServer } from '../helpers/socket-driver.js';

const FROM = 'bench@mailwire.test';
const TO = 'rcpt1@bench.test';

describe('the load generator against a scripted server', () => {
  it('tallies exactly: every 3rd RCPT refused with 550, the rest accepted, RSET before the message after a refusal', async () => {
    const n = 9;
    const lines = ['S: 220 mx.test ESMTP', 'C: EHLO localhost', 'S: 250 mx.test'];
    for (let i = 1; i <= n; i++) {
      if (i > 1 && (i - 1) % 3 === 0) lines.push('C: RSET', 'S: 250 2.0.0 reset');
      lines.push(`C: MAIL FROM:<${FROM}>`, 'S: 250 2.1.0 ok', `C: RCPT TO:<${TO}>`);
      if (i % 3 === 0) lines.push('S: 550 5.1.1 no such user');
      else lines.push('S: 250 2.1.5 ok', 'C: DATA', 'S: 354 go ahead', 'D:', `S: 250 2.0.0 queued as ${i}`);
    }
    lines.push('C: QUIT', 'S: 221 bye');
    const server = await startScriptedServer(script`${lines.join('\n')}`);
    try {
      const raw = benchMessage(500, FROM, [TO]);
      const { report } = await runLoad({
        client: { host: '127.0.0.1', port: server.port, timeoutMs: 5000 },
        from: FROM, to: [TO], message: PreparedMessage.from(raw), connections: 1, amount: { messages: n },
      });
      const result = await server.done;
      assert.equal(result.error, undefined);
      assert.equal(result.messages.length, 6);
      assert.ok(result.messages.every((m) => m === raw.toString('latin1')));
      assert.deepEqual([report.attempted, report.accepted, report.failed, report.bytes], [9, 6, 3, 3000]);
      assert.deepEqual(report.errors, { '550': 3 });
      assert.equal(report.connectionsOpened, 1);
      const counts = Object.fromEntries(Object.entries(report.latencyMs.commands).map(([k, s]) => [k, s.count]));
      assert.deepEqual(counts, { connect: 1, greeting: 1, EHLO: 1, MAIL: 9, RCPT: 9, DATA: 6, message: 6, RSET: 2, QUIT: 1 });
      assert.equal(report.latencyMs.message.count, 6);
    } finally {
      await server.close();
    }
  });

  it('does not count a refused connection as opened: a 421 greeting, or nothing listening', async () => {
    const server = await startScriptedServer(script`
      S: 421 4.7.0 mx.test Too many connections
      CLOSE
    `);
    try {
      const { report } = await runLoad({
        client: { host: '127.0.0.1', port: server.port, timeoutMs: 5000 },
        from: FROM, to: [TO], message: PreparedMessage.from('Subject: x\r\n\r\nhi\r\n'), connections: 1, amount: { messages: 1 },
      });
      assert.deepEqual([report.accepted, report.failed, report.connectionsOpened, report.errors], [0, 1, 0, { '421': 1 }]);
    } finally {
      await server.close();
    }
    const { report } = await runLoad({
      client: { host: '127.0.0.1', port: server.port, timeoutMs: 5000 }, // closed above: nothing listens there
      from: FROM, to: [TO], message: PreparedMessage.from('Subject: x\r\n\r\nhi\r\n'), connections: 1, amount: { messages: 2 },
    });
    assert.deepEqual([report.accepted, report.failed, report.connectionsOpened], [0, 2, 0]);
  });

  it('counts a connection the server drops as an error by its code, and says QUIT to nobody', async () => {
    const server = await startScriptedServer(script`
      S: 220 mx.test ESMTP
      C: EHLO localhost
      S: 250 mx.test
      C: MAIL FROM:<${FROM}>
      CLOSE
    `);
    try {
      const { report } = await runLoad({
        client: { host: '127.0.0.1', port: server.port, timeoutMs: 5000 },
        from: FROM, to: [TO], message: PreparedMessage.from('Subject: x\r\n\r\nhi\r\n'), connections: 1, amount: { messages: 1 },
      });
      assert.deepEqual([report.accepted, report.failed], [0, 1]);
      assert.deepEqual(report.errors, { ERR_CLOSED: 1 });
    } finally {
      await server.close();
    }
  });
});

type Run = { stdout: string; stderr: string; code: number | null };

function bench(args: string[]): Promise<Run> {
  const child = spawn(process.execPath, ['bin/mailwire.js', 'bench', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  return new Promise((resolve) => child.on('close', (code) => {
    clearTimeout(timer);
    resolve({ stdout, stderr, code });
  }));
}

describe('mailwire bench --json against our own server', () => {
  for (const [name, extra, dialect] of [
    ['simplified dialect, standard mode (EHLO refused, HELO before each message)', [], undefined],
    ['simplified dialect, --simplified', ['--simplified'], undefined],
    ['simplified dialect, a new connection per message', ['--new-connection-per-message'], undefined],
    ['smtp dialect, pipelined, 2 recipients, with warm-up', ['--recipients', '2', '--warmup', '5'], smtpDialect],
  ] as [string, string[], typeof smtpDialect | undefined][]) {
    it(`${name}: the counts match what the server stored`, async () => {
      const sink = createCaptureSink();
      const { server } = await startTestServer({ sink, recordSessions: false, ...(dialect ? { dialect } : {}) });
      try {
        const run = await bench(['--server', `127.0.0.1:${server.port}`, '--connections', '3', '--messages', '30', '--size', '2KB', '--json', '--timeout', '5s', ...extra]);
        assert.equal(run.code, 0, run.stderr);
        assert.equal(run.stderr, '', 'no progress bar when the outputs are not terminals');
        const out = JSON.parse(run.stdout) as Record<string, unknown> & { latencyMs: { message: { count: number }; messageBins: { count: number }[]; commands: Record<string, { count: number }> } };
        const warm = extra.includes('--warmup') ? 5 : 0;
        assert.equal(out['accepted'], 30);
        assert.equal(out['failed'], 0);
        assert.equal(out['bytes'], 30 * 2000);
        assert.equal(typeof out['messagesPerSecond'], 'number');
        assert.ok((out['messagesPerSecond'] as number) > 0);
        assert.equal(out['warmupMessages'], warm);
        assert.equal(sink.messages.length, 30 + warm);
        const recipients = extra.includes('--recipients') ? 2 : 1;
        const sent = benchMessage(2000, 'bench@mailwire.test', Array.from({ length: recipients }, (_, i) => `rcpt${i + 1}@bench.test`));
        for (const m of sink.messages) {
          // The smtp dialect adds its Received: trace field on top (RFC 5321 §4.4); the rest is what was sent.
          assert.ok(m.raw.subarray(m.raw.length - sent.length).equals(sent), 'the stored message ends with the bytes sent');
          assert.ok(dialect !== undefined || m.raw.length === sent.length);
          assert.equal(m.envelope.to.length, recipients);
        }
        assert.equal(out.latencyMs.message.count, 30);
        assert.equal(out.latencyMs.messageBins.reduce((n, b) => n + b.count, 0), 30, 'the histogram holds every accepted message');
        assert.equal(out.latencyMs.commands['MAIL']?.count, 30);
        // Kept connections are opened by the first messages: by the warm-up ones when there is a warm-up.
        assert.equal(out['connectionsOpened'], extra.includes('--new-connection-per-message') ? 30 : warm > 0 ? 0 : 3);
      } finally {
        await server.close(1000);
      }
    });
  }

  it('ends its text report with a histogram of whole-message latency whose bars hold every message', async () => {
    const sink = createCaptureSink();
    const { server } = await startTestServer({ sink, recordSessions: false });
    try {
      const run = await bench(['--server', `127.0.0.1:${server.port}`, '--connections', '2', '--messages', '40', '--size', '1KB', '--timeout', '5s']);
      assert.equal(run.code, 0, run.stderr);
      const lines = run.stdout.trimEnd().split('\n');
      const at = lines.indexOf('Whole-message latency (ms, log scale)');
      assert.ok(at > 0, run.stdout);
      const bars = lines.slice(at + 1);
      assert.ok(bars.length >= 1 && bars.length <= 12, run.stdout);
      for (const bar of bars) assert.match(bar, /^ +\d+\.\d\d – \d+\.\d\d +│[█▏▎▍▌▋▊▉ ]{40} \d+$/);
      assert.equal(bars.reduce((n, bar) => n + Number(/ (\d+)$/.exec(bar)?.[1]), 0), 40);
    } finally {
      await server.close(1000);
    }
  });

  it('refuses a usage error with exit code 2 and sends nothing', async () => {
    const run = await bench(['--server', '127.0.0.1:1', '--simplified', '--recipients', '2', '--json']);
    assert.equal(run.code, 2);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /exactly one recipient/);
  });
});
