/**
 * Live events across instances on PostgreSQL (issue 12): two `mailwire server --store postgres` processes on one
 * database; mail goes to A over SMTP at a fixed rate, and a listener on B's /api/v1/events times each message from
 * A's 250 (as the client saw it) to B's `message-stored` event. Prints the rate reached and p50/p99/max.
 *
 *   npm run build && node dist/bench/postgres-events.js [--rate 1000] [--seconds 10]
 *
 * The database is made and dropped here (psql on MAILWIRE_BENCH_PG_URL, default postgres://postgres@127.0.0.1/test);
 * both servers are child processes ended by their PIDs.
 */
import { execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { SmtpClient } from '../src/smtp/client/index.js';
import { startMailwire, type MailwireProcess } from '../test/helpers/mailwire-process.js';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
};
const RATE = arg('rate', 1000);
const SECONDS = arg('seconds', 10);
const CONNECTIONS = 10;
const ADMIN = process.env.MAILWIRE_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const DB = `mailwire_events_${process.pid}`;
const psql = (sql: string): void => void execFileSync('psql', [ADMIN, '-qc', sql], { stdio: 'pipe' });

const acked = new Map<string, number>();
const seen = new Map<string, number>();

async function listen(api: string, signal: AbortSignal): Promise<void> {
  const r = await fetch(`${api}/api/v1/events`, { signal });
  const decoder = new TextDecoder();
  let buffered = '';
  for await (const chunk of r.body as unknown as AsyncIterable<Uint8Array>) {
    const now = performance.now();
    buffered += decoder.decode(chunk, { stream: true });
    for (let end = buffered.indexOf('\n\n'); end !== -1; end = buffered.indexOf('\n\n')) {
      const data = /^event: message-stored\ndata: (.*)$/m.exec(buffered.slice(0, end))?.[1];
      buffered = buffered.slice(end + 2);
      if (data !== undefined) seen.set((JSON.parse(data) as { id: string }).id, now);
    }
  }
}

async function sender(port: number, perConnection: number, intervalMs: number, startAt: number): Promise<number> {
  const client = await SmtpClient.open({ host: '127.0.0.1', port, timeoutMs: 10_000 });
  let failed = 0;
  try {
    for (let i = 0; i < perConnection; i++) {
      const due = startAt + i * intervalMs;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      try {
        const r = await client.send({ from: 'a@x.test', to: ['b@y.test'], raw: Buffer.from(`Subject: event ${i}\r\n\r\n${'x'.repeat(900)}\r\n`) });
        const id = /queued as (\S+)/.exec(r.reply.lines.join(' '))?.[1];
        if (id !== undefined) acked.set(id, performance.now());
      } catch {
        failed++;
      }
    }
    await client.quit();
  } finally {
    client.destroy();
  }
  return failed;
}

const pct = (xs: number[], p: number): number => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? Number.NaN;

async function main(): Promise<void> {
  psql(`CREATE DATABASE ${DB}`);
  const url = ADMIN.replace(/\/[^/]*$/, `/${DB}`);
  const args = ['--quiet', '--dialect', 'smtp', '--store', 'postgres', '--database-url', url, '--max-messages', '0', '--port', '0', '--http-port', '0'];
  let a: MailwireProcess | undefined;
  let b: MailwireProcess | undefined;
  const abort = new AbortController();
  try {
    [a, b] = await Promise.all([startMailwire(args), startMailwire(args)]);
    if (b.api === null) throw new Error('no API on B');
    void listen(b.api, abort.signal).catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 300)); // the listener's request reaches B
    const perConnection = Math.round((RATE * SECONDS) / CONNECTIONS);
    const intervalMs = (1000 * CONNECTIONS) / RATE;
    const t0 = performance.now();
    const port = a.smtpPort;
    const failed = (await Promise.all(Array.from({ length: CONNECTIONS }, (_, c) =>
      sender(port, perConnection, intervalMs, t0 + (c * intervalMs) / CONNECTIONS)))).reduce((x, y) => x + y, 0);
    const sendS = (performance.now() - t0) / 1000;
    const deadline = performance.now() + 30_000;
    while (seen.size < acked.size && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    const lat = [...acked].flatMap(([id, t]) => { const s = seen.get(id); return s === undefined ? [] : [s - t]; }).sort((x, y) => x - y);
    console.log(`asked ${RATE} msg/s for ${SECONDS} s over ${CONNECTIONS} connections to A: ${acked.size} acknowledged in ${sendS.toFixed(1)} s ` +
      `(${Math.round(acked.size / sendS)} msg/s), ${failed} refused`);
    console.log(`announced on B: ${lat.length} of ${acked.size}; from A's 250 to B's event: p50 ${pct(lat, 50).toFixed(1)} ms, ` +
      `p99 ${pct(lat, 99).toFixed(1)} ms, max ${(lat.at(-1) ?? Number.NaN).toFixed(1)} ms (goal: p99 < 100 ms)`);
  } finally {
    abort.abort();
    await Promise.all([a?.stop(), b?.stop()]);
    psql(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
  }
}

await main();
