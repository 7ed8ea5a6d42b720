/**
 * A real load balancer in front of mailwire: HAProxy in TCP mode with send-proxy-v2 and SMTP health checks (sent
 * with a PROXY v2 LOCAL header), and in HTTP mode with option forwardfor. The client connects from 127.0.0.5, HAProxy
 * from 127.0.0.1 (the trusted proxy): what mailwire records must be 127.0.0.5.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect } from 'node:net';
import { after, before, describe, it, mock } from 'node:test';
import nodemailer from 'nodemailer';
import { parseAddressList } from '../../src/net/ip-address.js';
import type { MessageStore } from '../../src/store/types.js';
import { createEvents } from '../../src/events.js';
import { createWebApp } from '../../src/web/app.js';
import { startHttpServer } from '../../src/web/server.js';
import { requireHaproxy, startHaproxy, type RunningHaproxy } from '../helpers/haproxy.js';
import { startMailwire, type MailwireProcess } from '../helpers/mailwire-process.js';
import { SocketLines } from '../helpers/socket-driver.js';

const CLIENT = '127.0.0.5';

type Detail = { id: string; subject: string; connection: { clientAddress: string; clientPort: number; serverAddress: string } };
type Session = { connection: { clientAddress: string }; end: string };

async function getJson<T>(url: string): Promise<T> {
  const r = await fetch(url);
  assert.equal(r.status, 200, `${url}: ${r.status}`);
  return (await r.json()) as T;
}

/** One SMTP session from 127.0.0.5 through the balancer, each reply checked; returns the replies. */
async function sendFrom(port: number, helo: string, subject: string, dialect: 'smtp' | 'simplified'): Promise<string[]> {
  const socket = connect({ host: '127.0.0.1', port, localAddress: CLIENT });
  const conn = SocketLines.wrap(socket);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const replies: string[] = [];
  const next = async (): Promise<string> => {
    const line = await conn.next();
    assert.ok(line !== null, `the server closed the connection after ${JSON.stringify(replies)}`);
    replies.push(line);
    return line;
  };
  await next();
  conn.write(`${dialect === 'smtp' ? 'EHLO' : 'HELO'} ${helo}\r\n`);
  while (!(await next()).startsWith('250 ')); // the last line of a multi-line EHLO reply
  for (const command of ['MAIL FROM: <a@x.test>', 'RCPT TO: <b@y.test>', 'DATA']) {
    conn.write(`${command}\r\n`);
    await next();
  }
  conn.write(`Subject: ${subject}\r\n\r\nthrough the balancer\r\n.\r\n`);
  await next();
  conn.write('QUIT\r\n');
  await next();
  assert.equal(await conn.closedByServer(), true);
  return replies;
}

describe('mailwire behind HAProxy in TCP mode with send-proxy-v2', () => {
  before(requireHaproxy);
  let mw: MailwireProcess;
  let lb: RunningHaproxy;
  before(async () => {
    mw = await startMailwire(['--dialect', 'smtp', '--store', 'memory', '--port', '0', '--http-port', '0', '--proxy-protocol', '--trusted-proxies', '127.0.0.1']);
    lb = await startHaproxy({ mode: 'tcp', servers: [{ port: mw.smtpPort }], proxyProtocol: 'v2', check: 'smtp' });
  });
  after(async () => {
    await lb?.stop();
    await mw?.stop();
  });

  it('passes HAProxy\'s SMTP health check, which comes with a PROXY v2 LOCAL header', async () => {
    const [server] = await lb.waitForServersUp();
    assert.equal(server?.checkStatus, 'L7OK');
    assert.match(mw.output(), /\[127\.0\.0\.1:\d+\] PROXY v2 LOCAL header \(the proxy itself\) from 127\.0\.0\.1:\d+/);
  });

  it('records the client\'s address, not HAProxy\'s, in the Hello reply, the Received: header, the message, the session and the log', async () => {
    const replies = await sendFrom(lb.port, 'client.test', 'raw socket', 'smtp');
    assert.deepEqual(replies.slice(0, 2), ['220 127.0.0.1 ESMTP mailwire ready', `250-127.0.0.1 Hello ${CLIENT}`]);
    assert.match(replies.at(-2) ?? '', /^250 2\.0\.0 OK: queued as \S+$/);

    const transport = nodemailer.createTransport({ host: '127.0.0.1', port: lb.port, secure: false, ignoreTLS: true, localAddress: CLIENT, name: 'nodemailer.test' });
    const info = await transport.sendMail({ from: 'a@x.test', to: 'b@y.test', subject: 'nodemailer', text: 'through the balancer' });
    assert.match(info.response, /^250 /);
    transport.close();

    const { messages } = await getJson<{ messages: { id: string; subject: string }[] }>(`${mw.api}/api/v1/messages`);
    assert.deepEqual(messages.map((m) => m.subject).sort(), ['nodemailer', 'raw socket']);
    for (const m of messages) {
      const detail = await getJson<Detail>(`${mw.api}/api/v1/messages/${m.id}`);
      assert.equal(detail.connection.clientAddress, CLIENT);
      assert.ok(detail.connection.clientPort > 0);
      const raw = await (await fetch(`${mw.api}/api/v1/messages/${m.id}/raw`)).text();
      const helo = m.subject === 'nodemailer' ? 'nodemailer\\.test' : 'client\\.test';
      assert.match(raw, new RegExp(`^Received: from ${helo} \\(\\[127\\.0\\.0\\.5\\]\\)\\r\\n\\tby \\[127\\.0\\.0\\.1\\] with ESMTP id `));
    }
    const { sessions } = await getJson<{ sessions: Session[] }>(`${mw.api}/api/v1/sessions?limit=200`);
    assert.equal(sessions.filter((s) => s.connection.clientAddress === CLIENT).length, 2);
    assert.match(mw.output(), /\[127\.0\.0\.5:\d+\] PROXY v2 header from 127\.0\.0\.1:\d+/);
    assert.match(mw.output(), /\[127\.0\.0\.5:\d+\] helo=client\.test <a@x\.test> → <b@y\.test> \d+ B: stored as /); // the session summary line
  });
});

describe('mailwire --workers 2 behind HAProxy with send-proxy (v1)', () => {
  before(requireHaproxy);
  it('reads the header in each worker: every message recorded with the client\'s address', async () => {
    const mw = await startMailwire(['--workers', '2', '--store', 'memory', '--port', '0', '--http-port', '0', '--proxy-protocol', '--trusted-proxies', '127.0.0.1']);
    let lb: RunningHaproxy | undefined;
    try {
      lb = await startHaproxy({ mode: 'tcp', servers: [{ port: mw.smtpPort }], proxyProtocol: 'v1' });
      const port = lb.port;
      const replies = await Promise.all(Array.from({ length: 6 }, (_, i) => sendFrom(port, 'workers.test', `w${i}`, 'simplified')));
      for (const r of replies) assert.deepEqual([r[0], r[1], r.at(-2)], [
        '220 127.0.0.1 mailwire Simplified SMTP service ready', `250 127.0.0.1 Hello ${CLIENT}`, '250 Message received and to be delivered',
      ]);
      const { messages } = await getJson<{ messages: { id: string }[] }>(`${mw.api}/api/v1/messages`);
      assert.equal(messages.length, 6);
      for (const m of messages) assert.equal((await getJson<Detail>(`${mw.api}/api/v1/messages/${m.id}`)).connection.clientAddress, CLIENT);
      assert.equal(mw.output().match(/\[127\.0\.0\.5:\d+\] PROXY v1 header from 127\.0\.0\.1:\d+/g)?.length, 6, mw.output());
    } finally {
      await lb?.stop();
      assert.equal(await mw.stop(), 0);
    }
  });
});

/** A GET from `localAddress` with extra headers; the status. */
function get(port: number, path: string, localAddress: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, localAddress, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the HTTP side behind HAProxy in mode http with option forwardfor', () => {
  before(requireHaproxy);
  // A store whose every read fails: the API answers 500 and logs the request with its client's address. Its health()
  // (synchronous, for /healthz, which HAProxy's check reads) says it can take mail.
  const healthy = { ok: true, reason: null, indexBacklog: 0, indexLagMs: 0 };
  const failing = new Proxy({}, {
    get: (_target, key) => (key === 'health' ? () => healthy : () => Promise.reject(new Error('store down'))),
  }) as MessageStore;

  it('believes X-Forwarded-For from a trusted proxy only', async () => {
    const logged: string[] = [];
    // src/log.ts prints to stderr: the first line of each report, its stack left out.
    const spy = mock.method(process.stderr, 'write', (text: unknown) => { logged.push(String(text).split('\n')[0] ?? ''); return true; });
    const app = createWebApp({ store: failing, events: createEvents(), uiDir: null, trustedProxies: parseAddressList('127.0.0.1') });
    const http = await startHttpServer({ app, host: '127.0.0.1', port: 0 });
    let lb: RunningHaproxy | undefined;
    try {
      lb = await startHaproxy({ mode: 'http', servers: [{ port: http.port }], check: 'http' });
      await lb.waitForServersUp(); // README's health check: GET /healthz with a Host header
      assert.equal(await get(lb.port, '/api/v1/messages', CLIENT), 500);
      assert.equal(await get(lb.port, '/api/v1/messages', CLIENT, { 'X-Forwarded-For': '203.0.113.9' }), 500);
      assert.equal(await get(http.port, '/api/v1/messages', CLIENT, { 'X-Forwarded-For': '203.0.113.9' }), 500);
      assert.deepEqual(logged, [
        // HAProxy appends the address it saw: the client.
        'mailwire web: GET /api/v1/messages from 127.0.0.5: Error: store down',
        // What the client itself wrote, left of HAProxy's entry, is not believed: 127.0.0.5 is not a trusted proxy.
        'mailwire web: GET /api/v1/messages from 127.0.0.5: Error: store down',
        // Straight from 127.0.0.5, not a trusted proxy: its header is ignored.
        'mailwire web: GET /api/v1/messages from 127.0.0.5: Error: store down',
      ]);
    } finally {
      spy.mock.restore();
      await lb?.stop();
      await http.close();
    }
  });
});
