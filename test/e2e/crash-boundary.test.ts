/**
 * The crash boundary per connection (Connection#guard): a throw from the store or a store callback while a socket
 * event is handled answers that client `421 4.3.0`, logs the error with the session's id, counts it in /metrics, and
 * closes that connection only: the server and every other session go on.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { smtpDialect } from '../../src/smtp/core/dialects/smtp.js';
import { resolveLimits } from '../../src/smtp/core/limits.js';
import { quietDisplay } from '../../src/smtp/server/display.js';
import { startServer } from '../../src/smtp/server/server.js';
import { createMetrics } from '../../src/metrics.js';
import { observerFor } from '../../src/service.js';
import type { MessageSink } from '../../src/store/types.js';
import { createCaptureSink } from '../helpers/capture-sink.js';
import { SocketLines } from '../helpers/socket-driver.js';
import { waitFor } from '../helpers/wait.js';

const INTERNAL = '421 4.3.0 Internal server error; closing the connection';

async function mailTo(c: SocketLines, subject: string): Promise<string | null> {
  c.write('EHLO c.test\r\n');
  for (let line = await c.next(); line !== null && !line.startsWith('250 '); line = await c.next());
  c.write('MAIL FROM:<a@a.test>\r\n');
  assert.match((await c.next()) ?? '', /^250 /);
  c.write('RCPT TO:<b@b.test>\r\n');
  assert.match((await c.next()) ?? '', /^250 /);
  c.write('DATA\r\n');
  assert.match((await c.next()) ?? '', /^354 /);
  c.write(`Subject: ${subject}\r\n\r\nbody\r\n.\r\n`);
  return c.next();
}

describe('the crash boundary per connection', () => {
  for (const where of ['save', 'callback'] as const) {
    it(`answers 421 to the client whose message makes the ${where === 'save' ? 'sink throw' : 'store callback throw'}, logs and counts it, and serves the others`, async () => {
      const capture = createCaptureSink();
      const isBoom = (raw: Buffer): boolean => raw.includes('Subject: boom');
      const sink: Omit<MessageSink, 'close'> = {
        save: (m) => {
          if (where === 'save' && isBoom(m.raw)) throw new Error('a deliberately throwing sink');
          return capture.save(m);
        },
        saveSession: (s) => capture.saveSession(s),
      };
      const metrics = createMetrics({ processMetrics: false });
      const observer = observerFor(metrics, null);
      const errors: string[] = [];
      const server = await startServer({
        host: '127.0.0.1', port: 0, dialect: smtpDialect, limits: resolveLimits(), recordSessions: true, sink,
        display: { ...quietDisplay, error: (_tag, text) => errors.push(text) },
        observer: {
          ...observer,
          messageStored(id, bytes) {
            if (where === 'callback' && capture.messages.at(-1)?.raw.includes('Subject: boom') === true) throw new Error('a deliberately throwing callback');
            observer.messageStored?.(id, bytes);
          },
        },
      });
      const other = await SocketLines.open(server.port);
      const victim = await SocketLines.open(server.port);
      try {
        assert.match((await other.next()) ?? '', /^220 /);
        assert.match((await victim.next()) ?? '', /^220 /);
        assert.equal(await mailTo(victim, 'boom'), INTERNAL);
        assert.ok(await victim.closedByServer());
        // The server goes on: another session, open all along, stores its message.
        assert.match((await mailTo(other, 'fine')) ?? '', /^250 /);
        other.write('QUIT\r\n');
        assert.match((await other.next()) ?? '', /^221 /);

        assert.equal(errors.length, 1);
        const id = /^internal error in session (\S+) \(127\.0\.0\.1:\d+\): Error: a deliberately throwing (sink|callback)/.exec(errors[0] ?? '')?.[1];
        assert.ok(id !== undefined, errors[0]);
        const session = await waitFor('the session to be recorded', () => capture.sessions.find((s) => s.id === id));
        assert.equal(session.end, 'error');
        assert.match(await metrics.text(), /^mailwire_internal_errors_total 1$/m);
      } finally {
        other.socket.destroy();
        victim.socket.destroy();
        await server.close();
      }
    });
  }
});
