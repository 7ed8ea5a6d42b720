/**
 * The library for test suites, through the package's public entry point (`mailwire`) only: startMailwire's whole
 * loop in a child process that must exit by itself, and MailwireClient against a separate `mailwire server`.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { MailwireApiError, MailwireClient, MailwireTimeoutError } from 'mailwire';
import { startProgram } from '../helpers/program.js';

/** Runs the fixture; fails if it has not exited by itself within the deadline (then it is killed). */
async function runUser(args: string[]): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }> {
  const child = spawn(process.execPath, ['dist/test/fixtures/library-user.js', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
  let killed = false;
  const timer = setTimeout(() => {
    killed = true;
    child.kill('SIGKILL');
  }, 60_000);
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  clearTimeout(timer);
  assert.equal(killed, false, `the process did not exit by itself within 60 s (a handle left open?):\n${out}`);
  return { code, signal, out };
}

describe('startMailwire, from a test suite\'s own process', () => {
  for (const store of ['memory', 'sqlite']) {
    it(`start, send with nodemailer, wait, assert, clear, close, and the process exits by itself (${store})`, async () => {
      const r = await runUser([store]);
      assert.deepEqual([r.code, r.signal], [0, null], r.out);
      assert.equal(r.out, `library-user: ${store}: all assertions passed\n`);
    });
  }
});

describe('MailwireClient', () => {
  it('waits for, lists and clears mail on a mailwire server in another process', async () => {
    const server = startProgram(['server', '--dialect', 'smtp', '--port', '0', '--http-port', '0', '--store', 'memory']);
    try {
      const smtpPort = Number((await server.waitFor(/listening on 127\.0\.0\.1:(\d+)/))[1]);
      const url = (await server.waitFor(/web UI on (http:\/\/127\.0\.0\.1:\d+)\//))[1] ?? '';
      const client = new MailwireClient(url);
      const transport = nodemailer.createTransport({ host: '127.0.0.1', port: smtpPort, secure: false });
      const waiting = client.waitForMessage({ to: 'qa+42@x.test', timeout: 10_000 });
      await transport.sendMail({ from: 'a@x.test', to: 'qa+42@x.test', subject: 'Reset "your" password', text: 'Use 90210 or https://x.test/r/1.' });
      transport.close();
      const m = await waiting;
      assert.equal(m.subject, 'Reset "your" password');
      assert.deepEqual([m.links, m.codes], [['https://x.test/r/1'], ['90210']]);
      assert.equal((await client.waitForMessage({ subject: 'Reset "your"', timeout: 0 })).id, m.id, 'quotes in a filter value');
      assert.deepEqual((await client.messages({ from: 'a@x.test' })).map((x) => x.id), [m.id]);
      assert.equal((await client.raw(m.id))?.includes('Use 90210'), true);
      assert.equal(await client.message('no-such-id'), null);
      await assert.rejects(client.messages('before:yesterday'), (e: unknown) =>
        e instanceof MailwireApiError && e.status === 400 && /before:/.test(e.message));
      // clear({ inbox }) takes a message out of that inbox only: sent to two, it stays in the other.
      const second = nodemailer.createTransport({ host: '127.0.0.1', port: smtpPort, secure: false });
      await second.sendMail({ from: 'a@x.test', to: ['qa+7@x.test', 'ops@x.test'], subject: 'Two inboxes', text: 'x' });
      second.close();
      const two = await client.waitForMessage({ inbox: 'ops@x.test', timeout: 10_000 });
      assert.equal(await client.clear({ inbox: 'QA+7@x.test', subject: 'Two' }), 1);
      assert.deepEqual((await client.messages({ inbox: 'qa+7@x.test' })).map((x) => x.id), []);
      assert.deepEqual((await client.messages({ inbox: 'ops@x.test' })).map((x) => x.id), [two.id]);
      assert.equal(await client.clear({ inbox: 'ops@x.test' }), 1);
      assert.equal(await client.message(two.id), null, 'in no inbox any more: deleted');
      assert.equal(await client.clear({ to: 'qa+42@x.test' }), 1);
      await assert.rejects(client.waitForMessage({ to: 'qa+42@x.test', timeout: 200 }), (e: unknown) =>
        e instanceof MailwireTimeoutError && e.message === 'no message matching to:"qa+42@x.test" arrived within 200 ms');
      // close() ends a wait in flight.
      const pending = client.waitForMessage({ timeout: 60_000 });
      await client.close();
      await assert.rejects(pending, { code: 'ERR_CLIENT_CLOSED' });
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });

  it('sends HTTP Basic credentials, and reports a refusal with its status and code', async () => {
    const seen: IncomingHttpHeaders[] = [];
    const api = createServer((req, res) => {
      seen.push(req.headers);
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'unauthorized', message: 'credentials needed' } }));
    });
    await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(api.address() as AddressInfo).port}/`;
      await assert.rejects(new MailwireClient(url, { auth: { user: 'qa', pass: 's3cret:x' } }).messages(), (e: unknown) =>
        e instanceof MailwireApiError && e.status === 401 && e.code === 'unauthorized' && e.message === 'mailwire API: 401 GET /api/v1/messages?query=&limit=1000: credentials needed');
      await assert.rejects(new MailwireClient(url, { auth: 'ops:pw' }).clear(), MailwireApiError);
      await assert.rejects(new MailwireClient(url).clear(), MailwireApiError);
      assert.deepEqual(seen.map((h) => h.authorization), [
        `Basic ${Buffer.from('qa:s3cret:x').toString('base64')}`, `Basic ${Buffer.from('ops:pw').toString('base64')}`, undefined,
      ]);
    } finally {
      api.closeAllConnections();
      await new Promise((resolve) => api.close(resolve));
    }
  });

  it('says which server did not answer', async () => {
    const idle = createServer();
    await new Promise<void>((resolve) => idle.listen(0, '127.0.0.1', resolve));
    const port = (idle.address() as AddressInfo).port;
    await new Promise((resolve) => idle.close(resolve)); // a port nobody listens on now
    await assert.rejects(new MailwireClient(`http://127.0.0.1:${port}`).messages(), (e: unknown) =>
      e instanceof Error && 'code' in e && e.code === 'ERR_API_UNREACHABLE' && e.message.startsWith(`mailwire API at http://127.0.0.1:${port} did not answer: fetch failed`));
  });
});
