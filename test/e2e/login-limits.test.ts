/**
 * Logins cost their sender (#25): bcrypt runs off the event loop, so password guessers over HTTP do not slow another
 * client's SMTP; failures count per client address across connections and across SMTP AUTH and HTTP Basic; past
 * the allowance SMTP says 421 and closes, HTTP says 429 with Retry-After; other addresses are served as before.
 * Guessers come from 127.0.0.67-74, honest clients from 127.0.0.1 (all loopback).
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import bcrypt from 'bcryptjs';
import { createPasswordCheck } from '../../src/credentials.js';
import { LoginLimiter } from '../../src/net/login-limiter.js';
import { startService, type RunningService } from '../../src/service.js';
import { smtpDialect } from '../../src/smtp/core/dialects/smtp.js';
import { resolveLimits } from '../../src/smtp/core/limits.js';
import { createAuthenticator } from '../../src/smtp/server/auth.js';
import { quietDisplay } from '../../src/smtp/server/display.js';
import { SocketLines } from '../helpers/socket-driver.js';
import { waitFor } from '../helpers/wait.js';

const plain = (user: string, password: string): string => Buffer.from(`\0${user}\0${password}`, 'utf8').toString('base64');
const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

async function startWith(limiter: LoginLimiter, bcryptCost: number): Promise<RunningService> {
  const hash = bcrypt.hashSync('right horse', bcryptCost);
  return startService({
    smtp: {
      host: '127.0.0.1', port: 0, dialect: smtpDialect, limits: resolveLimits({}), display: quietDisplay,
      auth: createAuthenticator([{ user: 'ops', password: 'right horse' }], true, limiter),
    },
    store: { kind: 'memory', dataDir: '', maxMessages: 0 },
    http: { host: '127.0.0.1', port: 0, users: createPasswordCheck([{ user: 'ops', bcryptHash: hash }]), loginLimiter: limiter },
  });
}

/** Opens an SMTP connection from `localAddress` and reads the greeting. */
async function smtpFrom(port: number, localAddress: string): Promise<SocketLines> {
  const socket = connect({ host: '127.0.0.1', port, localAddress });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const conn = SocketLines.wrap(socket);
  assert.match((await conn.next()) ?? '', /^220 /);
  return conn;
}

async function ehlo(conn: SocketLines): Promise<void> {
  conn.write('EHLO c.test\r\n');
  for (let l = await conn.next(); l !== null && !l.startsWith('250 '); l = await conn.next());
}

type Answer = { status: number; retryAfter: string | undefined; body: string };
function httpFrom(port: number, localAddress: string, authorization: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, localAddress, path: '/api/v1/messages', headers: { authorization }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d)).on('end', () => {
        const ra = res.headers['retry-after'];
        resolve({ status: res.statusCode ?? 0, retryAfter: Array.isArray(ra) ? ra[0] : ra, body });
      });
    });
    req.on('error', reject).end();
  });
}

const percentile = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))] ?? NaN;

describe('HTTP password guessers do not slow another client\'s SMTP', () => {
  let service: RunningService;
  // Every guess is checked (no allowance runs out): what is measured is where bcrypt runs.
  before(async () => (service = await startWith(new LoginLimiter({ freeFailures: 1e9 }), 10)));
  after(() => service.close(2000));

  it('keeps connect + greeting + EHLO from 127.0.0.1 under 20 ms (p50) while four clients guess at bcrypt cost 10', async () => {
    const httpPort = service.http?.port ?? 0;
    let guesses = 0;
    let stop = false;
    const statuses = new Set<number>();
    const guessers = [67, 68, 69, 70].map(async (host) => {
      for (let i = 0; !stop && i < 10_000; i++) {
        const a = await httpFrom(httpPort, `127.0.0.${host}`, basic('ops', `guess ${host}/${i}`));
        statuses.add(a.status);
        guesses++;
      }
    });
    try {
      await waitFor('the guessers to start', () => guesses >= 4);
      const samples: number[] = [];
      const deadline = Date.now() + 60_000;
      const startedAt = guesses;
      // At least 40 samples, over at least 8 checked guesses (each ~85 ms of bcrypt, more on a busy machine), bounded.
      while ((samples.length < 40 || guesses - startedAt < 8) && Date.now() < deadline && samples.length < 5000) {
        const t0 = performance.now();
        const conn = await smtpFrom(service.smtp.port, '127.0.0.1');
        await ehlo(conn);
        samples.push(performance.now() - t0);
        conn.socket.destroy();
      }
      const p50 = percentile(samples, 50);
      const p90 = percentile(samples, 90);
      console.log(`# ${samples.length} connect+EHLO from 127.0.0.1 during ${guesses - startedAt} guesses: p50 ${p50.toFixed(1)} ms, p90 ${p90.toFixed(1)} ms`);
      assert.ok(guesses - startedAt >= 8, `only ${guesses - startedAt} guesses were checked meanwhile`);
      assert.ok(p50 < 20, `connect+EHLO p50 ${p50.toFixed(1)} ms (p90 ${p90.toFixed(1)} ms) while guessers ran`);
      assert.deepEqual([...statuses].filter((s) => s !== 401 && s !== 503), [], 'guesses are refused (401), or put off (503) when the checker is full');
    } finally {
      stop = true;
      await Promise.all(guessers);
    }
  });
});

describe('failed logins count per client address, across connections, SMTP AUTH and HTTP Basic together', () => {
  let service: RunningService;
  before(async () => (service = await startWith(new LoginLimiter({ freeFailures: 20, firstDelayMs: 60_000 }), 4)));
  after(() => service.close(2000));

  it('after 20 wrong AUTHs a new connection from that address gets 421 at its first AUTH, right or wrong; another address logs in', async () => {
    const first = await smtpFrom(service.smtp.port, '127.0.0.71');
    await ehlo(first);
    for (let i = 0; i < 20; i++) {
      first.write(`AUTH PLAIN ${plain('ops', `guess ${i}`)}\r\n`);
      assert.equal(await first.next(), '535 5.7.8 Authentication credentials invalid', `guess ${i}`);
    }
    assert.equal(await first.next(), '421 4.7.0 127.0.0.1 Too many errors, closing connection');
    assert.equal(await first.closedByServer(), true);

    const again = await smtpFrom(service.smtp.port, '127.0.0.71');
    await ehlo(again);
    again.write(`AUTH PLAIN ${plain('ops', 'right horse')}\r\n`);
    assert.equal(await again.next(), '421 4.7.0 127.0.0.1 Too many failed logins from 127.0.0.71, try again in 60 s');
    assert.equal(await again.closedByServer(), true);

    // The same address over HTTP: 429, told when to come back; unchecked, so the right password does not get in.
    const http = await httpFrom(service.http?.port ?? 0, '127.0.0.71', basic('ops', 'right horse'));
    assert.equal(http.status, 429);
    assert.equal(http.retryAfter, '60');

    const other = await smtpFrom(service.smtp.port, '127.0.0.72');
    await ehlo(other);
    other.write(`AUTH PLAIN ${plain('ops', 'right horse')}\r\n`);
    assert.equal(await other.next(), '235 2.7.0 Authentication successful');
    other.socket.destroy();
  });

  it('counts HTTP Basic failures against the same address\'s SMTP AUTH', async () => {
    const httpPort = service.http?.port ?? 0;
    for (let i = 0; i < 20; i++) assert.equal((await httpFrom(httpPort, '127.0.0.73', basic('ops', `guess ${i}`))).status, 401);
    const refused = await httpFrom(httpPort, '127.0.0.73', basic('ops', 'guess 99'));
    assert.deepEqual([refused.status, refused.retryAfter], [429, '60']);
    assert.deepEqual(JSON.parse(refused.body), { error: { code: 'too_many_logins', message: 'too many failed logins from 127.0.0.73; try again in 60 s' } });
    const smtp = await smtpFrom(service.smtp.port, '127.0.0.73');
    await ehlo(smtp);
    smtp.write(`AUTH PLAIN ${plain('ops', 'guess 100')}\r\n`);
    assert.match((await smtp.next()) ?? '', /^421 4\.7\.0 .* Too many failed logins from 127\.0\.0\.73, try again in \d+ s$/);
    assert.equal((await httpFrom(httpPort, '127.0.0.1', basic('ops', 'right horse'))).status, 200);
  });
});
