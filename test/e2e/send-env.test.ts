/**
 * `mailwire send` against our own smtp-dialect server (issue 32): MAILWIRE_SEND_SERVER and MAILWIRE_SEND_AUTH,
 * MAILWIRE_AUTH still read with a one-line notice, and --json naming the id the message was queued as.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startService, type RunningService } from '../../src/service.js';
import { smtpDialect } from '../../src/smtp/core/dialects/smtp.js';
import { resolveLimits } from '../../src/smtp/core/limits.js';
import { quietDisplay } from '../../src/smtp/server/display.js';
import { createAuthenticator } from '../../src/smtp/server/auth.js';
import { isMessageStore } from '../../src/store/index.js';
import { runChild } from '../helpers/child.js';

function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('MAILWIRE_')) env[k] = v;
  return { ...env, ...extra };
}

describe('mailwire send with its MAILWIRE_SEND_* variables', () => {
  let service: RunningService;
  before(async () => {
    service = await startService({
      smtp: {
        host: '127.0.0.1', port: 0, dialect: smtpDialect, limits: resolveLimits(), display: quietDisplay,
        auth: createAuthenticator([{ user: 'alice', password: 'pw' }], true),
      },
      store: { kind: 'memory' },
      http: null,
    });
  });
  after(async () => {
    await service.close(1000);
  });

  const send = (env: Record<string, string>) => runChild(process.execPath,
    ['bin/mailwire.js', 'send', '--from', 'a@x.test', '--to', 'b@y.test', '--body', 'hi', '--json'], { env: cleanEnv(env), timeoutMs: 60_000 });

  it('takes the server and the login from MAILWIRE_SEND_SERVER and MAILWIRE_SEND_AUTH, and says the queued id', async () => {
    const r = await send({ MAILWIRE_SEND_SERVER: `127.0.0.1:${service.smtp.port}`, MAILWIRE_SEND_AUTH: 'alice:pw' });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.stderr, '');
    const out = JSON.parse(r.stdout) as { server: string; queuedId: string | null; transcript: { text?: string }[] };
    assert.equal(out.server, `127.0.0.1:${service.smtp.port}`);
    assert.ok(out.transcript.some((e) => e.text === 'AUTH PLAIN ********'), JSON.stringify(out.transcript));
    const store = service.store;
    assert.ok(isMessageStore(store));
    const page = await store.listMessages({ query: '', limit: 10, cursor: null });
    assert.equal(page.items.length, 1);
    assert.equal(out.queuedId, page.items[0]?.id);
  });

  it('still reads MAILWIRE_AUTH for send, with a one-line notice', async () => {
    const r = await send({ MAILWIRE_SEND_SERVER: `127.0.0.1:${service.smtp.port}`, MAILWIRE_AUTH: 'alice:pw' });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.stderr, 'mailwire send: MAILWIRE_AUTH is read for send until the next release; set MAILWIRE_SEND_AUTH instead\n');
  });

  it('names MAILWIRE_SEND_SERVER when its value is no address (exit 2)', async () => {
    const r = await send({ MAILWIRE_SEND_SERVER: '[::1' });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^mailwire send: MAILWIRE_SEND_SERVER: .+\n$/);
  });
});
